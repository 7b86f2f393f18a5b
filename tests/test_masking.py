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


def normalized_tagger(L, Input, Model):
    """BatchNormalization takes its training statistics over the kept steps only."""
    ids = Input((T,))
    h = L.BatchNormalization()(L.Embedding(9, 4, mask_zero=True)(ids))
    h = L.LSTM(5, return_sequences=True)(h)
    return Model(ids, L.Dense(3, activation="softmax")(h))


def data_for(case, rng):
    if case is gru_regressor:
        x = rng.standard_normal((N, T, D)).astype("float32")
        x[padded_ids(rng) == 0] = 0.0
        return x, rng.standard_normal((N, 2)).astype("float32"), "mse", []
    if case is birnn_sequences:
        return padded_ids(rng), rng.standard_normal((N, T, 3)).astype("float32"), "mse", ["mae"]
    ids = padded_ids(rng)
    y = rng.integers(0, 3, (N, T) if case in (lstm_tagger, normalized_tagger) else (N,))
    return ids, y, "sparse_categorical_crossentropy", ["accuracy"]


@pytest.mark.parametrize("case", [lstm_tagger, gru_regressor, birnn_pooled, birnn_sequences, merged,
                                  nested_encoder, nested_recurrent, lambda_masks,
                                  normalized_tagger],
                         ids=lambda f: f.__name__)
def test_masked_models_match_keras_outputs_loss_metrics_and_a_training_step(keras, rng, case):
    x, y, loss, metrics = data_for(case, rng)
    k_model, n_model = keras_and_neuralab(keras, case)
    assert_trains_like_keras(keras, k_model, n_model, x, y, loss, metrics)


def assert_trains_like_keras(keras, k_model, n_model, x, y, loss, metrics):
    """The same predictions, ``evaluate`` (loss and metrics), and weights after one SGD
    step (which show the masked gradients of every weight)."""
    np.testing.assert_allclose(n_model.predict(x, verbose=0), np.asarray(k_model.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    for model, opt in ((k_model, keras.optimizers.SGD(0.5)), (n_model, neuralab.keras.optimizers.SGD(0.5))):
        model.compile(opt, loss, metrics=metrics)
    k_eval = k_model.evaluate(x, y, verbose=0, return_dict=True)
    n_eval = n_model.evaluate(x, y, verbose=0, return_dict=True)
    assert k_eval.keys() == n_eval.keys()
    for key in k_eval:
        np.testing.assert_allclose(n_eval[key], k_eval[key], rtol=1e-5, err_msg=key)
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


def test_a_mask_with_initial_states_skips_the_masked_steps(keras, rng):
    """With initial states the sequence's mask still applies: called on arrays as Keras
    does with an explicit mask, and in a model (the mask of ``[x, h0, c0]`` is x's). In a
    Keras 3 functional model the layer is then called without the mask (Keras fills in
    ``mask`` only for a call on one tensor); right-padded rows give the same numbers either
    way, and a row with a gap is checked against the same row with the gap cut out."""
    gru = layers.GRU(3, return_sequences=True)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, 3))
    keep = padded_ids(rng) != 0
    ours = gru([x, h0], mask=keep)
    k_gru = keras.layers.GRU(3, return_sequences=True)
    k_gru(x, initial_state=[h0])
    k_gru.set_weights(gru.get_weights())
    theirs = np.asarray(k_gru(x, initial_state=[h0], mask=keep))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)

    def build(L, Input, Model):
        ids, h0, c0 = Input((T,)), Input((4,)), Input((4,))
        h = L.LSTM(4, return_sequences=True)(L.Embedding(9, 3, mask_zero=True)(ids),
                                            initial_state=[h0, c0])
        return Model([ids, h0, c0], L.GlobalAveragePooling1D()(h))

    k_model, n_model = keras_and_neuralab(keras, build)
    ids = padded_ids(rng)
    xs = [ids, rng.standard_normal((N, 4)).astype("float32"),
          rng.standard_normal((N, 4)).astype("float32")]
    right_padded = [0, 1, 3]
    np.testing.assert_allclose(n_model.predict(xs, verbose=0)[right_padded],
                               np.asarray(k_model.predict(xs, verbose=0))[right_padded],
                               rtol=1e-5, atol=1e-6)
    lstm, = [layer for layer in n_model.layers if isinstance(layer, layers.LSTM)]
    embedding, = [layer for layer in n_model.layers if isinstance(layer, layers.Embedding)]
    e = embedding(ids[2:3])
    gap = ids[2] == 0
    with_gap = lstm.forward([e, xs[1][2:3], xs[2][2:3]], mask=~gap[None])
    cut = lstm.forward([e[:, ~gap], xs[1][2:3], xs[2][2:3]])
    np.testing.assert_allclose(with_gap[:, ~gap], cut, rtol=1e-6)


def test_custom_layers_defining_compute_mask_start_and_pass_masks_as_in_keras(keras, rng):
    """Keras' rule: a layer whose class defines ``compute_mask`` supports masking, and is
    asked for its mask even when none comes in (so it can start one)."""
    ops = keras.ops

    class KStarts(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

        def compute_mask(self, inputs, mask=None):
            return ops.any(ops.not_equal(inputs, 0.0), axis=-1)

    class KPasses(keras.layers.Layer):
        def call(self, x):
            return x + 1.0

        def compute_mask(self, inputs, mask=None):
            return mask

    class Starts(layers.Layer):
        def call(self, x):
            return x * 2.0

        def compute_mask(self, inputs, mask=None):
            return np.any(np.asarray(inputs) != 0.0, axis=-1)

    class Passes(layers.Layer):
        def call(self, x):
            return x + 1.0

        def compute_mask(self, inputs, mask=None):
            return mask

    def build(L, Input, Model):
        starts, passes = (KStarts, KPasses) if L is keras.layers else (Starts, Passes)
        x = Input((T, D))
        h = L.LSTM(3)(passes()(starts()(x)))
        return Model(x, L.Dense(2)(h))

    x = rng.standard_normal((N, T, D)).astype("float32")
    x[padded_ids(rng) == 0] = 0.0
    k_model, n_model = keras_and_neuralab(keras, build)
    assert n_model._graph.masking
    np.testing.assert_allclose(n_model.predict(x, verbose=0), np.asarray(k_model.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)


def test_per_step_sample_weights_and_sequence_hinge_match_keras(keras, rng):
    """Per-step sample weights (N, T) weight each step's loss as Keras does (with the mask
    on top); an unmasked sequence output with a hinge loss is scored step by step."""
    ids, y, _, _ = data_for(lstm_tagger, rng)
    sw = rng.random((N, T)).astype("float32")
    k_model, n_model = keras_and_neuralab(keras, lstm_tagger)
    for model in (k_model, n_model):
        model.compile("sgd", "sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    k_eval = k_model.evaluate(ids, y, sample_weight=sw, verbose=0, return_dict=True)
    n_eval = n_model.evaluate(ids, y, sample_weight=sw, verbose=0, return_dict=True)
    for key in k_eval:
        np.testing.assert_allclose(n_eval[key], k_eval[key], rtol=1e-5, err_msg=key)
    with pytest.raises(ValueError, match=r"sample_weight .* must have shape \(4,\) or per step "
                                         r"\(4, 6\), got \(4, 5\)"):
        n_model.evaluate(ids, y, sample_weight=sw[:, :-1], verbose=0)

    def tagger(L, Input, Model):
        x = Input((T, D))
        return Model(x, L.Dense(3)(L.GRU(4, return_sequences=True)(x)))

    x = rng.standard_normal((N, T, D)).astype("float32")
    onehot = np.eye(3, dtype="float32")[rng.integers(0, 3, (N, T))]
    k_model, n_model = keras_and_neuralab(keras, tagger)
    for model in (k_model, n_model):
        model.compile("sgd", "categorical_hinge")
    np.testing.assert_allclose(n_model.evaluate(x, onehot, verbose=0),
                               k_model.evaluate(x, onehot, verbose=0), rtol=1e-5)


def test_sequence_cross_entropy_on_tensors_scores_every_step(float64, rng):
    """A loss called on a Tensor (add_loss, custom loops) scores (N, T, classes) as rows:
    the value and the gradient of the array path, reshaped."""
    from neuralab.losses import SparseCategoricalCrossentropy
    from neuralab.tensor import Tensor
    p = rng.random((N, T, 3)) + 0.1
    p /= p.sum(axis=-1, keepdims=True)
    y = rng.integers(0, 3, (N, T))
    loss = SparseCategoricalCrossentropy()
    t = Tensor(p, requires_grad=True)
    value = loss(y, t)
    value.backward()
    np.testing.assert_allclose(float(value.data), loss(y, p), rtol=1e-12)
    rows = loss.value_and_gradient(y.reshape(-1), p.reshape(-1, 3))[1]
    np.testing.assert_allclose(t.grad, rows.reshape(p.shape), rtol=1e-12)


def test_masked_average_pooling_keeps_nan_at_masked_steps_out(rng):
    x = rng.standard_normal((N, T, D))
    keep = padded_ids(rng) != 0
    x[~keep] = np.nan
    assert np.isfinite(layers.GlobalAveragePooling1D()(x, mask=keep)).all()


def test_a_keras_file_with_an_explicit_mask_argument_is_refused_by_name(keras, tmp_path, rng):
    ids = keras.Input((T,))
    keep = keras.ops.not_equal(ids, 0)
    h = keras.layers.LSTM(3)(keras.layers.Embedding(9, 4)(ids), mask=keep)
    keras.Model(ids, h).save(tmp_path / "explicit.keras")
    with pytest.raises(neuralab.errors.InputError, match="'lstm.*' is called with an explicit "
                                                         "mask= argument"):
        neuralab.load_model(tmp_path / "explicit.keras")


def test_masked_batch_normalization_gradients_match_centred_differences(float64, rng):
    layer = layers.BatchNormalization()
    x = rng.standard_normal((N, T, D)) * 2 + 1
    keep = padded_ids(rng) != 0
    layer.build((None, T, D))
    layer.gamma.data[...] = rng.standard_normal(D)
    dout = rng.standard_normal(x.shape)

    def loss():
        return float(np.sum(dout * layer.forward(x, training=True, mask=keep)))

    y = layer.forward(x, training=True, mask=keep)
    kept = (x[keep] - x[keep].mean(axis=0)) / np.sqrt(x[keep].var(axis=0) + layer.epsilon)
    np.testing.assert_allclose((y[keep] - layer.beta.data) / layer.gamma.data, kept, rtol=1e-5)
    layer.zero_grad()
    dx = layer.backward(dout)
    assert gc.rel_error(dx, numerical_gradient(loss, x)) < 1e-7


def test_subclassed_models_carry_masks_on_their_tensors_as_keras_does(keras, rng):
    """In a subclassed model the mask rides on the tensors a layer returns, as Keras' does:
    the LSTM skips padded steps and the loss and metric leave them out."""
    def tagger_class(base, L):
        class Tagger(base):
            def __init__(self):
                super().__init__()
                self.embed = L.Embedding(9, 4, mask_zero=True)
                self.rnn = L.GRU(5, return_sequences=True)
                self.head = L.Dense(3, activation="softmax")

            def call(self, x):
                return self.head(self.rnn(self.embed(x)))
        return Tagger()

    ids, y, loss, metrics = data_for(lstm_tagger, rng)
    k_model, n_model = tagger_class(keras.Model, keras.layers), tagger_class(Model, layers)
    k_model(ids)
    n_model(ids)
    n_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    assert_trains_like_keras(keras, k_model, n_model, ids, y, loss, metrics)
