"""What the keras.io guides needed from neuralab (issue 16), one behaviour per test:
Conv2DTranspose, several positional tensors in a layer call, losses inside ``call``,
compile without a loss, weighted_metrics, integer Inputs, custom layers in configs,
``keras.random``, ``layer.losses``, function activations, ``clone_model``,
``serialize_keras_object``, PyDataset/DataLoader sources and ModelCheckpoint(save_freq=N).
References: Keras 3 itself (JAX backend) where installed, PyTorch, centred differences and
hand-worked values.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import neuralab.keras as nk
from neuralab import gradcheck as gc
from neuralab import ops
from neuralab.layers import Conv2DTranspose, Dense
from neuralab.tensor import Tensor

from .test_batch_sources import Batches as PlainBatches

# -- Conv2DTranspose ----------------------------------------------------------------------
CONV_T = [(3, 1, "valid"), (3, 2, "same"), (4, 2, "same"), (3, 2, "valid"), (2, 3, "same"),
          (5, 2, "same")]


@pytest.mark.parametrize("kernel, stride, padding", CONV_T)
def test_conv2d_transpose_matches_keras(keras, float64, rng, kernel, stride, padding):
    x = rng.standard_normal((2, 5, 4, 3))
    theirs = keras.layers.Conv2DTranspose(6, kernel, strides=stride, padding=padding,
                                          bias_initializer="random_normal")
    expected = np.asarray(theirs(x))
    ours = Conv2DTranspose(6, kernel, strides=stride, padding=padding)
    ours.build(x.shape)
    ours.kernel.assign(np.asarray(theirs.kernel))
    ours.bias.assign(np.asarray(theirs.bias))
    # Keras on JAX computes in float32
    np.testing.assert_allclose(ours(x), expected, rtol=1e-5, atol=1e-5)
    assert ours.compute_output_shape((None, 5, 4, 3)) == (None,) + expected.shape[1:]


@pytest.mark.parametrize("kernel, stride, padding", CONV_T)
def test_conv2d_transpose_gradients_match_centred_differences(float64, rng, kernel, stride,
                                                              padding):
    layer = Conv2DTranspose(3, kernel, strides=stride, padding=padding, activation="tanh",
                            bias_initializer="random_normal")
    errors = gc.check_layer(layer, rng.standard_normal((2, 4, 3, 2)), seed=1)
    assert len(errors) == 3 and max(errors.values()) < 1e-7, errors  # x, kernel, bias


def test_conv2d_transpose_is_the_adjoint_of_conv2d(float64, rng):
    """<conv(y), x> = <y, conv_transpose(x)> with the same kernel, strides and padding."""
    conv = nk.layers.Conv2D(2, 3, strides=2, padding="same", use_bias=False)
    deconv = Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False)
    y = rng.standard_normal((1, 8, 6, 3))
    x = rng.standard_normal((1, 4, 3, 2))
    conv.build(y.shape)
    deconv.build(x.shape)
    deconv.kernel.assign(conv.kernel.data)  # (3, 3, 3, 2): (kh, kw, filters=3, C=2)
    assert np.sum(conv(y) * x) == pytest.approx(np.sum(y * deconv(x)), rel=1e-12)


# -- layers called with several tensors; losses inside call; compile without a loss ------
class LogisticEndpoint(nk.layers.Layer):
    """The training guide's layer: ``layer(targets, logits)`` adds its loss itself."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = nk.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        self.add_loss(self.loss_fn(targets, logits, sample_weights))
        return ops.softmax(logits)


def endpoint_model():
    inputs = nk.Input(shape=(3,), name="inputs")
    targets = nk.Input(shape=(10,), name="targets")
    logits = nk.layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)
    return nk.Model(inputs=[inputs, targets], outputs=predictions)


def test_layer_called_with_two_tensors_gets_them_as_two_arguments(rng):
    model = endpoint_model()
    x, t = rng.random((4, 3)), (rng.random((4, 10)) > 0.5).astype("float32")
    probabilities = model.predict({"inputs": x, "targets": t}, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    # the layer's add_loss is the binary cross-entropy of its logits, by hand
    dense = model.layers[0]  # neuralab lists no InputLayer among a functional model's layers
    z = x @ dense.kernel.data + dense.bias.data
    bce = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    model({"inputs": x, "targets": t})
    assert float(model.losses[0].data) == pytest.approx(bce, rel=1e-5)


def test_compile_without_a_loss_trains_on_the_add_loss_terms(rng):
    model = endpoint_model()
    model.compile(optimizer=nk.optimizers.Adam(0.05))  # no loss argument
    x = rng.standard_normal((64, 3))
    targets = (x @ rng.standard_normal((3, 10)) > 0).astype("float32")  # learnable
    history = model.fit({"inputs": x, "targets": targets}, epochs=15, batch_size=16,
                        verbose=0)  # no y
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0]


def test_a_loss_called_on_tensors_returns_a_differentiable_tensor(float64, rng):
    loss = nk.losses.MeanSquaredError()
    target, pred = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    weight = rng.random(5)
    p = Tensor(pred, requires_grad=True)
    value = loss(Tensor(target), p, weight)
    assert isinstance(value, Tensor)
    # Keras: mean over samples of w * mean over the last axis
    expected = np.mean(weight * np.mean((target - pred) ** 2, axis=1))
    assert float(value.data) == pytest.approx(expected, rel=1e-12)
    value.backward()
    np.testing.assert_allclose(p.grad, 2 * weight[:, None] * (pred - target) / 15, rtol=1e-10)
    assert loss(target, pred, weight) == pytest.approx(expected, rel=1e-12)  # arrays: a float


def test_compile_with_a_loss_for_no_output_is_still_refused():
    model = nk.Sequential([nk.Input((3,)), nk.layers.Dense(2, name="out")])
    with pytest.raises(ValueError, match="no loss to any output"):
        model.compile(loss=[None])


# -- weighted_metrics ------------------------------------------------------------------------
def test_weighted_metrics_use_the_sample_weights_and_plain_metrics_do_not(rng):
    model = nk.Sequential([nk.Input((4,)), nk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mae"])
    x, y = rng.standard_normal((10, 4)), rng.standard_normal((10, 1))
    w = rng.random(10)
    logs = model.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)
    error = np.abs(model.predict(x, verbose=0) - y)[:, 0]
    # Keras' weighted mean: sum(w * e) / sum(w); the plain metric: mean(e)
    assert logs["mae"] == pytest.approx(error.mean(), rel=1e-5)
    assert logs["weighted_mae"] == pytest.approx(np.sum(w * error) / np.sum(w), rel=1e-5)
    assert model.metrics_names == ["loss", "mae", "weighted_mae"]


def test_weighted_metrics_match_keras(keras, rng):
    x = rng.standard_normal((12, 4)).astype("float32")
    y = rng.integers(0, 3, 12)
    w = rng.random(12).astype("float32")
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    weighted = ["accuracy", "sparse_top_k_categorical_accuracy"]
    theirs.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"], weighted_metrics=weighted)
    expected = theirs.evaluate(x, y, sample_weight=w, batch_size=5, verbose=0, return_dict=True)
    ours = nk.Sequential([nk.Input((4,)), nk.layers.Dense(3, activation="softmax")])
    ours.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"], weighted_metrics=weighted)
    ours.set_weights([np.asarray(v) for v in theirs.get_weights()])
    logs = ours.evaluate(x, y, sample_weight=w, batch_size=5, verbose=0, return_dict=True)
    assert set(logs) == set(expected)
    for name, value in expected.items():
        assert logs[name] == pytest.approx(float(value), rel=1e-5), name


def test_class_weights_reach_weighted_metrics(rng):
    model = nk.Sequential([nk.Input((2,)), nk.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=nk.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy",
                  weighted_metrics=["accuracy"])
    x, y = rng.standard_normal((8, 2)), np.array([0, 1] * 4)
    history = model.fit(x, y, class_weight={0: 3.0, 1: 1.0}, batch_size=8, epochs=1, verbose=0)
    right = (model.predict(x, verbose=0).argmax(axis=1) == y).astype(float)
    weights = np.where(y == 0, 3.0, 1.0)
    assert history.history["accuracy"][0] == pytest.approx(np.sum(weights * right) / 16)


# -- smaller pieces the guides reach for ------------------------------------------------------
def test_input_keeps_an_integer_dtype():
    tokens = nk.Input(shape=(None,), dtype="int32")
    assert tokens.dtype == "int32"
    embedded = nk.layers.Embedding(50, 4)(tokens)
    model = nk.Model(tokens, embedded)
    assert model.predict(np.array([[1, 2, 3]]), verbose=0).shape == (1, 3, 4)


def test_custom_layer_whose_config_omits_its_name_rebuilds_in_a_functional_model(rng):
    class Scale(nk.layers.Layer):
        def __init__(self, factor=2.0):
            super().__init__()
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {"factor": self.factor}

    inputs = nk.Input((3,))
    model = nk.Model(inputs, Scale(3.0)(inputs))
    clone = nk.Model.from_config(model.get_config(), custom_objects={"Scale": Scale})
    x = rng.standard_normal((2, 3))
    np.testing.assert_allclose(clone.predict(x, verbose=0), 3 * x, rtol=1e-6)


def test_one_hot_takes_whole_number_floats_and_refuses_fractions():
    np.testing.assert_array_equal(ops.one_hot(np.array([2.0, 0.0]), 3).numpy(),
                                  [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(TypeError, match="whole numbers"):
        ops.one_hot(np.array([0.5]), 3)


def test_variables_assign_add_and_assign_sub():
    layer = nk.layers.Layer()
    total = layer.add_weight(shape=(2,), initializer="zeros", trainable=False)
    total.assign_add(np.array([1.0, 2.0]))
    total.assign_add(ops.sum(ops.ones((3, 2)), axis=0))
    total.assign_sub(np.array([0.5, 0.5]))
    np.testing.assert_array_equal(total.numpy(), [3.5, 4.5])
    with pytest.raises(ValueError, match="shape"):
        total.assign_add(np.ones(3))


def test_keras_random_seeds_streams_and_dropout(rng):
    a = nk.random.normal((3, 4), seed=7).numpy()
    np.testing.assert_array_equal(a, nk.random.normal((3, 4), seed=7).numpy())  # int seed
    gen = nk.random.SeedGenerator(7)
    assert not np.array_equal(nk.random.normal((3,), seed=gen).numpy(),
                              nk.random.normal((3,), seed=gen).numpy())
    big = nk.random.uniform((20000,), minval=2.0, maxval=4.0, seed=1).numpy()
    assert big.min() >= 2.0 and big.max() < 4.0 and big.mean() == pytest.approx(3.0, abs=0.02)
    assert np.abs(nk.random.truncated_normal((5000,), seed=2).numpy()).max() <= 2.0
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    y = nk.random.dropout(x, rate=0.25, seed=3)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75)
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    ops.sum(y).backward()
    np.testing.assert_allclose(x.grad, kept / 0.75)


def test_layer_losses_include_weight_penalties_without_training_twice_on_them(rng):
    class Outer(nk.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = nk.layers.Dense(4, kernel_regularizer=nk.regularizers.l2(1e-3))

        def call(self, x):
            return self.dense(x)

    layer = Outer()
    layer(np.zeros((1, 3)))
    (penalty,) = layer.losses
    kernel = layer.dense.kernel.data
    assert float(penalty.data) == pytest.approx(1e-3 * np.sum(kernel ** 2), rel=1e-6)
    model = nk.Sequential([nk.Input((3,)), nk.layers.Dense(2, kernel_regularizer="l2")])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    mse = np.mean((model.predict(x, verbose=0) - y) ** 2)
    l2 = 0.01 * np.sum(model.layers[0].kernel.data ** 2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(mse + l2, rel=1e-5)


def test_function_activation_gradients_and_saving(float64, rng, tmp_path):
    @nk.saving.register_keras_serializable(package="guide_tests", name="square")
    def square(x):
        return x ** 2

    layer = Dense(3, activation=square, bias_initializer="random_normal")
    errors = gc.check_layer(layer, rng.standard_normal((4, 2)), seed=3)
    assert max(errors.values()) < 1e-7, errors
    inputs = nk.Input((2,))
    model = nk.Model(inputs, Dense(1, activation=square)(inputs))
    x = rng.standard_normal((5, 2))
    z = x @ model.layers[0].kernel.data + model.layers[0].bias.data
    np.testing.assert_allclose(model.predict(x, verbose=0), z ** 2, rtol=1e-10)
    model.save(tmp_path / "square.keras")
    np.testing.assert_allclose(nk.models.load_model(tmp_path / "square.keras").predict(
        x, verbose=0), z ** 2, rtol=1e-10)


@pytest.mark.parametrize("make, shape", [
    (lambda f: nk.layers.Conv2D(2, 3, activation=f), (2, 5, 5, 4)),        # shift path
    (lambda f: nk.layers.Conv2D(3, 3, strides=2, padding="same", activation=f), (2, 5, 5, 2)),
    (lambda f: nk.layers.Activation(f), (3, 4)),
], ids=["conv_shift", "conv_strided", "activation_layer"])
def test_function_activation_in_other_layers(float64, rng, make, shape):
    errors = gc.check_layer(make(lambda x: x ** 3), rng.standard_normal(shape), seed=1)
    assert max(errors.values()) < 1e-7, errors


def test_clone_model_copies_the_architecture_with_fresh_weights(rng):
    model = nk.Sequential([nk.Input((4,)), nk.layers.Dense(3, activation="relu"),
                           nk.layers.Dense(1)])
    clone = nk.models.clone_model(model)
    assert clone is not model and clone.count_params() == model.count_params() == 19
    assert [type(a) for a in clone.layers] == [type(b) for b in model.layers]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="clone_function"):
        nk.models.clone_model(model, clone_function=lambda layer: layer)


@pytest.mark.parametrize("make", [lambda k: k.regularizers.L1(0.005),
                                  lambda k: k.regularizers.L1L2(l1=1e-5, l2=1e-4),
                                  lambda k: k.initializers.Ones()],
                         ids=["L1", "L1L2", "Ones"])
def test_serialize_keras_object_gives_keras_dicts(keras, make):
    ours = nk.saving.serialize_keras_object(make(nk))
    theirs = keras.saving.serialize_keras_object(make(keras))
    assert {k: v for k, v in ours.items() if k != "config"} == \
        {k: v for k, v in theirs.items() if k != "config"}
    # Keras keeps the factors in float32 (0.005 -> 0.004999999888241291)
    assert ours["config"] == pytest.approx(theirs["config"], rel=1e-7)
    rebuilt = nk.saving.deserialize_keras_object(ours)
    assert type(rebuilt) is type(make(nk)) and rebuilt.get_config() == make(nk).get_config()


def test_layers_serialize_nested_objects_into_plain_data():
    inner = nk.layers.Dense(2, kernel_regularizer=nk.regularizers.L1(0.01))

    class Holder(nk.layers.Layer):
        def __init__(self, sublayer=None, regularizer=None, **kwargs):
            super().__init__(**kwargs)
            self.sublayer, self.regularizer = sublayer, regularizer

        def get_config(self):
            return {**super().get_config(), "sublayer": self.sublayer,
                    "regularizer": self.regularizer}

    config = nk.layers.serialize(Holder(inner, nk.regularizers.L2(0.5)))
    assert config["config"]["sublayer"]["class_name"] == "Dense"
    assert config["config"]["regularizer"] == {"class_name": "L2", "config": {"l2": 0.5}}
    json.dumps(config)  # plain data all the way down


def test_sequential_of_layers_from_a_functional_model_is_built():
    inputs = nk.Input((784,))
    x = nk.layers.Dense(64, name="dense_1")(inputs)
    functional = nk.Model(inputs, nk.layers.Dense(10, name="out")(x))
    model = nk.Sequential(functional.layers[:-1] + [nk.layers.Dense(5, name="dense_3")])
    assert model.built and model.count_params() == 784 * 64 + 64 + 64 * 5 + 5


# -- batch sources and checkpoints ---------------------------------------------------------
class Batches(PlainBatches, nk.utils.PyDataset):
    """test_batch_sources' sequence of batches, as a keras.utils.PyDataset subclass."""

    def __init__(self, x, y, batch_size, **kwargs):
        nk.utils.PyDataset.__init__(self, **kwargs)
        PlainBatches.__init__(self, x, y, batch_size)


def test_py_dataset_feeds_fit_and_evaluate_like_the_arrays_it_holds(rng):
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 1))
    data = Batches(x, y, batch_size=8, workers=4)
    assert data.workers == 4 and data.num_batches == 5
    model = nk.Sequential([nk.Input((3,)), nk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, epochs=2, verbose=0)
    assert data.epochs_ended == 2
    assert model.evaluate(data, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0),
                                                            rel=1e-5)
    with pytest.raises(ValueError, match="workers"):
        Batches(x, y, 8, workers=0)


def test_pytorch_dataloader_is_a_batch_source(rng):
    torch = pytest.importorskip("torch", reason="the DataLoader path needs PyTorch")
    x = rng.standard_normal((30, 3)).astype("float32")
    y = rng.integers(0, 2, 30).astype("float32")
    loader = torch.utils.data.DataLoader(list(zip(x, y)), batch_size=8, shuffle=True)
    model = nk.Sequential([nk.Input((3,)), nk.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    history = model.fit(loader, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.evaluate(loader, verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-5)


def test_model_checkpoint_saves_every_n_batches(rng, tmp_path):
    model = nk.Sequential([nk.Input((3,)), nk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    path = str(tmp_path / "m-{epoch}-{batch}.keras")
    checkpoint = nk.callbacks.ModelCheckpoint(path, save_freq=2)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[checkpoint])
    # 5 batches an epoch; the count runs on across epochs, as in Keras
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["m-1-2.keras", "m-1-4.keras", "m-2-1.keras", "m-2-3.keras", "m-2-5.keras"]
    with pytest.raises(ValueError, match="positive integer"):
        nk.callbacks.ModelCheckpoint(path, save_freq=0)


# -- Normalization ---------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1], ids=["last", "none", "both", "first"])
def test_normalization_adapt_matches_keras(keras, rng, axis):
    x = rng.normal(3.0, 2.0, size=(50, 4, 3)).astype("float32")
    theirs = keras.layers.Normalization(axis=axis)
    theirs.adapt(x)
    ours = nk.layers.Normalization(axis=axis)
    ours.adapt(x)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(keras_weight), rtol=1e-5)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), atol=2e-6)


def test_normalization_adapt_on_batches_equals_one_pass(float64, rng):
    x = rng.normal(-1.0, 5.0, size=(37, 6))
    whole = nk.layers.Normalization()
    whole.adapt(x)
    np.testing.assert_allclose(whole.adapt_mean.data, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(whole.adapt_variance.data, x.var(axis=0), rtol=1e-12)
    batched = nk.layers.Normalization()
    batched.adapt(iter([(x[:5], None), (x[5:20], None), (x[20:], None)]))  # (x, y) batches
    np.testing.assert_allclose(batched.get_weights()[:2], whole.get_weights()[:2], rtol=1e-12)


def test_normalization_with_given_statistics_and_invert_match_keras(keras, rng):
    x = rng.standard_normal((5, 3)).astype("float32")
    for kwargs in ({"mean": [1.0, 2.0, 3.0], "variance": [4.0, 1.0, 9.0]},
                   {"mean": 2.0, "variance": 4.0, "invert": True}):
        theirs = keras.layers.Normalization(**kwargs)
        ours = nk.layers.Normalization(**kwargs)
        np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), atol=1e-6)
        assert ours.weights == []
        clone = nk.layers.Normalization.from_config(ours.get_config())
        np.testing.assert_allclose(clone(x), ours(x))


def test_normalization_gradient_and_frozen_statistics_in_fit(float64, rng):
    layer = nk.layers.Normalization()
    layer.adapt(rng.normal(2.0, 3.0, size=(20, 4)))
    errors = gc.check_layer(layer, rng.standard_normal((3, 4)))
    assert errors["x"] < 1e-8, errors
    model = nk.Sequential([nk.Input((4,)), layer, nk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in layer.get_weights()]
    model.fit(rng.standard_normal((16, 4)), rng.standard_normal((16, 1)), epochs=2, verbose=0)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)  # adapt() sets them; training never does


def test_normalization_refuses_bad_arguments(rng):
    with pytest.raises(ValueError, match="both mean and variance"):
        nk.layers.Normalization(mean=1.0)
    layer = nk.layers.Normalization(mean=0.0, variance=1.0)
    with pytest.raises(ValueError, match="overwrite"):
        layer.adapt(rng.standard_normal((4, 2)))
    adapted = nk.layers.Normalization()
    adapted.adapt(rng.standard_normal((4, 2)))
    with pytest.raises(ValueError, match="adapt"):
        adapted.adapt(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="no data"):
        nk.layers.Normalization().adapt([])


class RecordingBatches(Batches):
    def __getitem__(self, i):
        self.requested.append(i)
        return super().__getitem__(i)


def test_fit_shuffles_a_py_datasets_batches_unless_told_not_to(rng):
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 1))
    model = nk.Sequential([nk.Input((3,)), nk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    for shuffle in (True, False):
        data = RecordingBatches(x, y, batch_size=4)
        data.requested = []
        model.fit(data, epochs=3, shuffle=shuffle, verbose=0)
        epochs = [data.requested[i:i + 10] for i in range(0, 30, 10)]
        assert all(sorted(e) == list(range(10)) for e in epochs)  # each batch once an epoch
        assert (epochs[0] != list(range(10)) or epochs[1] != list(range(10))) == shuffle
    data = RecordingBatches(x, y, batch_size=4)
    data.requested = []
    model.evaluate(data, verbose=0)  # evaluation keeps the order
    assert data.requested == list(range(10))


def test_class_weight_applies_to_batches_from_a_generator(rng):
    x, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24).astype("float32")
    table = {0: 0.5, 1: 2.0}

    def trained(source_of_batches: bool):
        nk.utils.set_random_seed(3)
        model = nk.Sequential([nk.Input((3,)), nk.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=nk.optimizers.SGD(0.5), loss="binary_crossentropy")
        if source_of_batches:
            history = model.fit(Batches(x, y, 6), epochs=3, shuffle=False, verbose=0,
                                class_weight=table)
        else:
            history = model.fit(x, y, batch_size=6, epochs=3, shuffle=False, verbose=0,
                                class_weight=table)
        return history.history["loss"], model.get_weights()

    (losses_a, weights_a), (losses_b, weights_b) = trained(True), trained(False)
    np.testing.assert_allclose(losses_a, losses_b, rtol=1e-6)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _add_loss_model(lib, weights=None):
    """Dense(2) then a layer whose add_loss is mean(output ** 2), compiled without a loss and
    with metrics=["mae"], in Keras or neuralab."""
    class Penalty(lib.layers.Layer):
        def call(self, inputs):
            self.add_loss(lib.ops.mean(inputs ** 2))
            return inputs

    inputs = lib.Input((3,))
    model = lib.Model(inputs, Penalty()(lib.layers.Dense(2)(inputs)))
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(0.1), metrics=["mae"])
    return model


def test_compile_without_a_loss_still_measures_metrics_on_the_y_given(keras, rng):
    x = rng.standard_normal((16, 3)).astype("float32")
    y = rng.standard_normal((16, 2)).astype("float32")
    theirs = _add_loss_model(keras)
    ours = _add_loss_model(nk, theirs.get_weights())
    expected = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    got = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    for name in ("loss", "mae"):  # mae was measured against None and raised before
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5)


def test_metrics_without_a_loss_and_without_y_name_the_metric(rng):
    model = _add_loss_model(nk)
    with pytest.raises(ValueError, match="metric 'mae'.*needs targets"):
        model.fit(rng.standard_normal((8, 3)), epochs=1, verbose=0)
