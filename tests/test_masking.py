"""Masks (Keras masking): ``Embedding(mask_zero=True)`` and ``Masking`` start one, the layers
that support masking pass it on, the recurrent layers skip the masked steps, and the loss and
the metrics leave them out. Checked against centred differences (float64) and against Keras 3
itself (its JAX backend) with the same weights: outputs, losses, metrics, one training step,
the masks merging layers compute, and ``.keras`` files both ways."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neuralab
from neuralab import gradcheck as gc
from neuralab.keras import Input, Model, Sequential, layers

from .test_recurrent import numerical_gradient

RNNS = {"SimpleRNN": layers.SimpleRNN, "LSTM": layers.LSTM, "GRU": layers.GRU}
N, T, D, H = 4, 6, 3, 3


def padded_ids(rng, n=N, t=T, vocab=9):
    """Ids in [1, vocab) with zero padding at the end of some rows, one row all padding
    but its first step, one row with a gap (a masked step between kept ones)."""
    ids = rng.integers(1, vocab, (n, t))
    ids[0, t // 2:] = 0
    ids[1, 1:] = 0
    ids[2, 2] = 0
    return ids


def randomized(layer, rng, shape):
    layer.build(shape)
    for p in layer.parameters():
        p.data[...] = 0.5 * rng.standard_normal(p.data.shape)
    return layer


# -- the recurrent layers' masked steps ---------------------------------------------------------
@pytest.mark.parametrize("kind", RNNS)
@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"go_backwards": True},
                                     {"return_sequences": True, "go_backwards": True},
                                     {"return_sequences": True, "zero_output_for_mask": True}])
def test_masked_recurrent_gradients_match_centred_differences(float64, rng, kind, options):
    layer = randomized(RNNS[kind](H, **options), rng, (None, T, D))
    x = rng.standard_normal((N, T, D))
    keep = padded_ids(rng) != 0
    dout = rng.standard_normal(layer.forward(x, mask=keep).shape)

    def loss():
        return float(np.sum(dout * layer.forward(x, mask=keep)))

    loss()
    layer.zero_grad()
    dx = layer.backward(dout)
    assert gc.rel_error(dx, numerical_gradient(loss, x)) < 1e-7
    for p in layer.parameters():
        assert gc.rel_error(p.grad, numerical_gradient(loss, p.data)) < 1e-7
    # a masked step adds nothing: its input gets no gradient
    assert np.all(dx[~keep] == 0)


@pytest.mark.parametrize("kind", RNNS)
def test_a_masked_step_keeps_the_state_and_repeats_the_previous_output(float64, rng, kind):
    layer = randomized(RNNS[kind](H, return_sequences=True), rng, (None, T, D))
    x = rng.standard_normal((N, T, D))
    keep = padded_ids(rng) != 0
    ys = layer.forward(x, mask=keep)
    np.testing.assert_array_equal(ys[2, 2], ys[2, 1])  # the gap repeats the step before
    np.testing.assert_array_equal(ys[1, 1:], np.broadcast_to(ys[1, 0], (T - 1, H)))
    # the kept steps equal the unmasked run on the kept steps alone
    kept = x[0, :T // 2][None]
    np.testing.assert_allclose(ys[0, :T // 2], layer.forward(kept)[0], rtol=1e-12)
    # the last output of a right-padded row is its last kept step's
    last = RNNS[kind](H)
    last.build((None, T, D))
    last.set_weights(layer.get_weights())
    np.testing.assert_array_equal(last.forward(x, mask=keep)[0], ys[0, T // 2 - 1])


def test_a_mask_of_the_wrong_shape_is_refused_with_the_shapes(rng):
    layer = layers.LSTM(H)
    with pytest.raises(ValueError, match=r"mask must have the shape \(N, T\) = \(4, 6\).*\(4, 5\)"):
        layer(rng.standard_normal((N, T, D)), mask=np.ones((N, T - 1), bool))


def test_masking_layer_zeroes_the_masked_steps_and_its_gradient(float64, rng):
    x = rng.standard_normal((N, T, D))
    x[1, 2:] = 0.5
    x[3, 0] = 0.5
    layer = layers.Masking(mask_value=0.5)
    y = layer(x)
    keep = layer.compute_mask(x)
    assert keep.shape == (N, T) and not keep[1, 2:].any() and not keep[3, 0] and keep.sum() == N * T - 5
    np.testing.assert_array_equal(y, np.where(keep[..., None], x, 0))
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dout), np.where(keep[..., None], dout, 0))


def test_masked_global_average_pooling_averages_the_kept_steps(float64, rng):
    x = rng.standard_normal((N, T, D))
    keep = padded_ids(rng) != 0
    layer = layers.GlobalAveragePooling1D()
    y = layer(x, mask=keep)
    for n in range(N):
        np.testing.assert_allclose(y[n], x[n][keep[n]].mean(axis=0), rtol=1e-12)
    dout = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(dout * layer.forward(x, mask=keep)))

    loss()
    assert gc.rel_error(layer.backward(dout), gc.numerical_gradient(loss, x)) < 1e-8


# -- masks through a model ------------------------------------------------------------------------
def test_a_layer_without_masking_drops_the_mask_with_keras_warning(rng):
    ids = padded_ids(rng)
    model = Sequential([Input((T,)), layers.Embedding(9, 4, mask_zero=True), layers.Flatten(),
                        layers.Dense(2)])
    with pytest.warns(UserWarning, match="Flatten.*does not support masking and will therefore "
                                         "destroy the mask"):
        model.predict(ids, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per layer
        model.predict(ids, verbose=0)


def test_models_without_a_mask_source_keep_the_fast_chain():
    plain = Sequential([Input((T,)), layers.Embedding(9, 4), layers.LSTM(3)])
    masked = Sequential([Input((T,)), layers.Embedding(9, 4, mask_zero=True), layers.LSTM(3)])
    assert plain._graph._chain is not None and not plain._graph.masking
    assert masked._graph._chain is None and masked._graph.masking


def test_the_loss_of_a_masked_sequence_leaves_the_masked_steps_out(rng):
    """Hand-worked: Keras' masked mean, sum over kept steps / their number, for the loss
    and the accuracy; a fully masked batch scores 0 with no gradient."""
    ids = padded_ids(rng)
    y = rng.integers(0, 3, (N, T))
    model = Sequential([Input((T,)), layers.Embedding(9, 4, mask_zero=True),
                        layers.LSTM(5, return_sequences=True), layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    p = model.predict(ids, verbose=0)
    keep = ids != 0
    ce = -np.log(np.take_along_axis(p, y[..., None], axis=-1)[..., 0])
    loss, acc = model.evaluate(ids, y, verbose=0)
    np.testing.assert_allclose(loss, ce[keep].mean(), rtol=1e-5)
    np.testing.assert_allclose(acc, (p.argmax(-1) == y)[keep].mean())
    assert not np.isclose(loss, ce.mean(), rtol=1e-5)  # the padding would change it
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(np.zeros((2, T), int), y[:2])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- against Keras 3 itself -----------------------------------------------------------------------
def keras_and_neuralab(keras, build):
    """The same architecture in both libraries (``build(L)`` with ``L`` a layers module and
    ``Input``), neuralab given Keras' initial weights."""
    k_model = build(keras.layers, keras.Input, keras.Model)
    n_model = build(layers, Input, Model)
    n_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    return k_model, n_model


def lstm_tagger(L, Input, Model):
    ids = Input((T,))
    h = L.Embedding(9, 4, mask_zero=True)(ids)
    h = L.LSTM(5, return_sequences=True)(h)
    return Model(ids, L.Dense(3, activation="softmax")(h))


def gru_regressor(L, Input, Model):
    x = Input((T, D))
    h = L.Masking(mask_value=0.0)(x)
    h = L.GRU(4)(h)
    return Model(x, L.Dense(2)(h))


def birnn_pooled(L, Input, Model):
    ids = Input((T,))
    h = L.Embedding(9, 4, mask_zero=True)(ids)
    h = L.Bidirectional(L.SimpleRNN(3, return_sequences=True))(h)
    h = L.Dropout(0.0)(h)
    h = L.GlobalAveragePooling1D()(h)
    return Model(ids, L.Dense(3, activation="softmax")(h))


def birnn_sequences(L, Input, Model):
    """Keras gives a Bidirectional's layers zero_output_for_mask: zeros at masked steps."""
    ids = Input((T,))
    h = L.Embedding(9, 4, mask_zero=True)(ids)
    return Model(ids, L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum")(h))


def merged(L, Input, Model):
    ids = Input((T,))
    e = L.Embedding(9, 3, mask_zero=True)(ids)
    a = L.LSTM(3, return_sequences=True)(e)
    b = L.GRU(3, return_sequences=True, go_backwards=True)(e)
    h = L.Concatenate()([L.Add()([a, e]), b])
    h = L.SimpleRNN(4)(h)
    return Model(ids, L.Dense(3, activation="softmax")(h))


def nested_encoder(L, Input, Model):
    """A model used as a layer hands its output's mask on (its Embedding starts it)."""
    inner_ids = Input((T,))
    encoder = Model(inner_ids, L.Embedding(9, 4, mask_zero=True)(inner_ids))
    ids = Input((T,))
    return Model(ids, L.Dense(3, activation="softmax")(L.LSTM(4)(encoder(ids))))


def nested_recurrent(L, Input, Model):
    """A model used as a layer takes the mask of its input."""
    inner_x = Input((T, 4))
    inner = Model(inner_x, L.GRU(3, return_sequences=True)(inner_x))
    ids = Input((T,))
    h = L.GlobalAveragePooling1D()(inner(L.Embedding(9, 4, mask_zero=True)(ids)))
    return Model(ids, L.Dense(3, activation="softmax")(h))


def zero_masked(x, mask=None):
    """A Lambda function taking the input's mask (Keras passes it to a ``mask`` parameter)."""
    return x if mask is None else x * mask[..., None]


def lambda_masks(L, Input, Model):
    ids = Input((T,))
    h = L.Embedding(9, 4, mask_zero=True)(ids)
    h = L.Lambda(zero_masked, mask=lambda inputs, mask: mask)(h)
    h = L.Lambda(lambda x: x * 2.0)(h)  # no mask argument: drops the mask, as in Keras
    return Model(ids, L.Dense(3, activation="softmax")(L.LSTM(4)(h)))


def data_for(case, rng):
    if case is gru_regressor:
        x = rng.standard_normal((N, T, D)).astype("float32")
        x[padded_ids(rng) == 0] = 0.0
        return x, rng.standard_normal((N, 2)).astype("float32"), "mse", []
    if case is birnn_sequences:
        return padded_ids(rng), rng.standard_normal((N, T, 3)).astype("float32"), "mse", ["mae"]
    ids = padded_ids(rng)
    y = rng.integers(0, 3, (N, T) if case is lstm_tagger else (N,))
    return ids, y, "sparse_categorical_crossentropy", ["accuracy"]


@pytest.mark.parametrize("case", [lstm_tagger, gru_regressor, birnn_pooled, birnn_sequences, merged,
                                  nested_encoder, nested_recurrent, lambda_masks],
                         ids=lambda f: f.__name__)
def test_masked_models_match_keras_outputs_loss_metrics_and_a_training_step(keras, rng, case):
    x, y, loss, metrics = data_for(case, rng)
    k_model, n_model = keras_and_neuralab(keras, case)
    np.testing.assert_allclose(n_model.predict(x, verbose=0), np.asarray(k_model.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    for model, opt in ((k_model, keras.optimizers.SGD(0.5)), (n_model, neuralab.keras.optimizers.SGD(0.5))):
        model.compile(opt, loss, metrics=metrics)
    k_eval = k_model.evaluate(x, y, verbose=0, return_dict=True)
    n_eval = n_model.evaluate(x, y, verbose=0, return_dict=True)
    assert k_eval.keys() == n_eval.keys()
    for key in k_eval:
        np.testing.assert_allclose(n_eval[key], k_eval[key], rtol=1e-5, err_msg=key)
    # one SGD step: the new weights show the masked gradients of every weight
    k_model.train_on_batch(x, y)
    n_model.train_on_batch(x, y)
    for k_w, n_w in zip(k_model.get_weights(), n_model.get_weights()):
        np.testing.assert_allclose(n_w, np.asarray(k_w), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,make", [
    ("Add", lambda L: L.Add()), ("Multiply", lambda L: L.Multiply()),
    ("Concatenate-1", lambda L: L.Concatenate(axis=-1)),
    ("Concatenate1", lambda L: L.Concatenate(axis=1))])
@pytest.mark.parametrize("given", [(True, True), (True, False), (False, True)])
def test_merging_layers_compute_keras_masks(keras, rng, name, make, given):
    xs = [rng.standard_normal((N, T, D)).astype("float32") for _ in range(2)]
    masks = [rng.random((N, T)) > 0.4 if g else None for g in given]
    theirs = make(keras.layers).compute_mask(xs, masks)
    ours = make(layers).compute_mask(xs, masks)
    if theirs is None:
        assert ours is None
    else:
        np.testing.assert_array_equal(ours, np.asarray(theirs))


def pooled(L, Input, Model):
    ids = Input((T,))
    h = L.Embedding(9, 4, mask_zero=True)(ids)
    h = L.GlobalAveragePooling1D()(h)
    return Model(ids, L.Dense(3, activation="softmax")(h))


def masked_pooled(L, Input, Model):
    x = Input((T, D))
    h = L.Masking(mask_value=0.0)(x)
    h = L.GlobalAveragePooling1D()(h)
    return Model(x, L.Dense(2)(h))


def test_keras_files_keep_the_masks_both_ways(keras, tmp_path, rng):
    ids = padded_ids(rng)
    k_model, _ = keras_and_neuralab(keras, pooled)
    k_model.save(tmp_path / "k.keras")
    loaded = neuralab.keras.models.load_model(tmp_path / "k.keras")
    assert loaded.get_layer(k_model.layers[1].name).mask_zero
    np.testing.assert_allclose(loaded.predict(ids, verbose=0),
                               np.asarray(k_model.predict(ids, verbose=0)), rtol=1e-5, atol=1e-6)
    _, n_model = keras_and_neuralab(keras, masked_pooled)
    x, _, _, _ = data_for(gru_regressor, rng)
    n_model.save(tmp_path / "n.keras")
    back = keras.models.load_model(tmp_path / "n.keras")
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), n_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
