"""Layers: float64 gradient checks, shape inference, configs and bad input."""

import numpy as np
import pytest

import neuralab as nl
from neuralab import gradcheck as gc
from neuralab.layers import (
    ELU,
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    LeakyReLU,
    ReLU,
    Reshape,
    Softmax,
    SpatialDropout2D,
)

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus",
               "softmax"]
TOL = 1e-6


def away_from_kinks(rng, shape, scale=1.0):
    """Inputs whose pre-activations stay clear of ReLU-type kinks at 0."""
    x = rng.standard_normal(shape) * scale
    return np.where(np.abs(x) < 0.05, 0.3, x)


def assert_small(errors: dict, tol=TOL):
    assert errors, "no gradients were checked"
    worst = max(errors.values())
    assert worst < tol, f"gradient check failed: {errors}"


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradients_match_centred_differences(float64, rng, activation):
    layer = Dense(4, activation=activation, bias_initializer=nl.initializers.RandomNormal(0, 0.3))
    x = rng.standard_normal((6, 5))
    errors = gc.check_layer(layer, x, seed=7)
    assert set(errors) == {"x", layer.kernel.name, layer.bias.name}
    assert_small(errors)


def test_dense_without_bias_and_with_nd_inputs(float64, rng):
    layer = Dense(3, use_bias=False, activation="tanh")
    x = rng.standard_normal((2, 4, 5))  # applied to the last axis, as in Keras
    y = layer(x)
    assert y.shape == (2, 4, 3)
    np.testing.assert_allclose(y, np.tanh(x @ layer.kernel.data))
    assert_small(gc.check_layer(layer, x, seed=3))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer_gradients(float64, rng, activation):
    errors = gc.check_layer(Activation(activation), away_from_kinks(rng, (5, 6)), seed=11)
    assert_small(errors)


@pytest.mark.parametrize("layer_cls, reference", [
    (ReLU, lambda x: np.maximum(x, 0)),
    (lambda: LeakyReLU(0.3), lambda x: np.where(x > 0, x, 0.3 * x)),
    (lambda: LeakyReLU(alpha=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (ELU, lambda x: np.where(x > 0, x, np.expm1(x))),
    (Softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
])
def test_activation_layers_compute_their_formula(float64, rng, layer_cls, reference):
    x = away_from_kinks(rng, (4, 5))
    layer = layer_cls()
    np.testing.assert_allclose(layer(x), reference(x), rtol=1e-12, atol=1e-12)
    assert_small(gc.check_layer(layer, x, seed=5))


def test_sigmoid_is_finite_and_accurate_everywhere():
    act = nl.activations.get("sigmoid")
    x = np.array([-1e4, -50.0, -5.0, 0.0, 5.0, 50.0, 1e4], dtype=np.float32)
    with np.errstate(all="raise"):  # no overflow anywhere
        y = act(x)
    exact = 1 / (1 + np.exp(-x.astype(np.float64).clip(-700, 700)))
    # computed as 0.5 tanh(x/2) + 0.5: absolute error within float32 rounding of 0.5
    np.testing.assert_allclose(y, exact, rtol=0, atol=6e-8)
    np.testing.assert_allclose(y[2:5], exact[2:5], rtol=1e-5)


def test_dropout_gradient_with_a_fixed_mask(float64, rng):
    layer = Dropout(0.4, seed=3)
    x = rng.standard_normal((8, 6))
    assert_small(gc.check_layer(layer, x, seed=1))
    # the mask zeroes about rate of the units and scales the rest by 1 / (1 - rate)
    layer.forward(np.ones((200, 50)), training=True)
    kept = layer.mask != 0
    assert 0.55 < kept.mean() < 0.65
    np.testing.assert_allclose(layer.mask[kept], 1 / 0.6)


def test_dropout_is_identity_at_inference(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layer = Dropout(0.5)
    assert layer.forward(x, training=False) is x
    assert layer.backward(x) is x


def test_dropout_keeps_expected_value(rng):
    layer = Dropout(0.3, seed=0)
    y = layer.forward(np.ones((1000, 100), dtype=np.float32), training=True)
    assert abs(y.mean() - 1.0) < 0.01


def test_spatial_dropout_drops_whole_feature_maps(float64, rng):
    layer = SpatialDropout2D(0.5, seed=2)
    y = layer.forward(np.ones((3, 4, 4, 6)), training=True)
    per_map = y.reshape(3, 16, 6)
    assert np.all(per_map.min(axis=1) == per_map.max(axis=1))  # constant over each map
    assert_small(gc.check_layer(SpatialDropout2D(0.5, seed=2), rng.standard_normal((3, 4, 4, 6))))


def test_dropout_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate must be in"):
        Dropout(1.0)


def _random_bn(rng):
    return BatchNormalization(gamma_initializer=nl.initializers.RandomNormal(1.0, 0.3, seed=1),
                              beta_initializer=nl.initializers.RandomNormal(0.0, 0.3, seed=2))


def test_batchnorm_training_gradient(float64):
    x = np.random.default_rng(10).standard_normal((8, 5)) * 3 + 2
    assert_small(gc.check_layer(_random_bn(None), x, seed=99))


def test_batchnorm_inference_gradient(float64):
    layer = _random_bn(None)
    layer.build((None, 4))
    layer.moving_mean.data[:] = [0.1, -0.2, 0.3, 0.0]
    layer.moving_variance.data[:] = [0.5, 2.0, 1.5, 1.0]
    x = np.random.default_rng(11).standard_normal((6, 4))
    assert_small(gc.check_layer(layer, x, training=False, seed=12))


def test_batchnorm_normalizes_and_tracks_moving_statistics(float64, rng):
    layer = BatchNormalization(momentum=0.9)
    x = rng.standard_normal((500, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(0), x.var(0) / (x.var(0) + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(layer.moving_mean.data, 0.1 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.data, 0.9 + 0.1 * x.var(0), rtol=1e-12)
    # inference uses the moving statistics
    y_inf = layer.forward(x, training=False)
    expected = (x - layer.moving_mean.data) / np.sqrt(layer.moving_variance.data + 1e-3)
    np.testing.assert_allclose(y_inf, expected, rtol=1e-12)


def test_batchnorm_weights_in_keras_order_and_frozen_stats():
    layer = BatchNormalization()
    layer.build((None, 3))
    assert [p.name.split("/")[1] for p in layer.weights] == ["gamma", "beta", "moving_mean",
                                                            "moving_variance"]
    assert [p.trainable for p in layer.weights] == [True, True, False, False]
    layer.trainable = False
    layer.trainable = True
    assert [p.trainable for p in layer.weights] == [True, True, False, False]


def test_frozen_batchnorm_runs_in_inference_mode(rng):
    layer = BatchNormalization()
    x = rng.standard_normal((10, 2)).astype(np.float32) + 3
    layer.build((None, 2))
    layer.trainable = False
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.data, 0)


def test_embedding_gradient_with_repeated_ids(float64):
    layer = Embedding(7, 3)
    ids = np.array([[1, 2, 1], [1, 6, 0], [2, 2, 2]])
    errors = gc.check_layer(layer, ids, seed=4)
    assert set(errors) == {layer.embeddings.name}  # no gradient with respect to ids
    assert_small(errors)
    # id 1 appears three times: its row gets the sum of the three upstream gradients
    layer.zero_grad()
    dout = np.random.default_rng(0).standard_normal((3, 3, 3))
    layer.forward(ids)
    layer.backward(dout)
    np.testing.assert_allclose(layer.embeddings.grad[1], dout[0, 0] + dout[0, 2] + dout[1, 0])
    np.testing.assert_allclose(layer.embeddings.grad[2], dout[0, 1] + dout[2].sum(0))
    np.testing.assert_array_equal(layer.embeddings.grad[[3, 4, 5]], 0)


def test_embedding_lookup_and_bad_ids():
    layer = Embedding(5, 2, input_length=3)
    out = layer(np.array([[0, 4, 4]]))
    assert layer.output_shape == (None, 3, 2)
    np.testing.assert_array_equal(out[0, 1], layer.embeddings.data[4])
    with pytest.raises(ValueError, match=r"ids in \[0, 5\)"):
        layer(np.array([[0, 5, 1]]))
    with pytest.raises(ValueError, match="integer ids"):
        layer(np.array([[0.5, 1, 2]]))


def test_flatten_and_reshape(float64, rng):
    x = rng.standard_normal((3, 2, 4))
    flat = Flatten()
    assert flat(x).shape == (3, 8)
    assert flat.output_shape == (None, 8)
    assert_small(gc.check_layer(flat, x))
    reshape = Reshape((4, -1))
    assert reshape(x).shape == (3, 4, 2)
    assert reshape.output_shape == (None, 4, 2)
    assert_small(gc.check_layer(reshape, x))
    with pytest.raises(ValueError, match="Cannot reshape"):
        Reshape((3, 3)).build((None, 8))


def test_wrong_input_width_names_expected_shape():
    layer = Dense(3)
    layer.build((None, 120))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 120\), got \(N, 121\)"):
        layer.forward(np.zeros((2, 121), dtype=np.float32))


def test_unknown_activation_lists_accepted_names():
    with pytest.raises(ValueError, match="sigmoidd") as info:
        Dense(3, activation="sigmoidd")
    assert "sigmoid" in str(info.value) and "relu" in str(info.value)


def test_unknown_initializer_and_regularizer_are_refused():
    with pytest.raises(ValueError, match="glorot_uniform"):
        Dense(3, kernel_initializer="glorot_uniformm")
    with pytest.raises(ValueError, match="regularizer"):
        Dense(3, kernel_regularizer="l3")


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="positive integer"):
        Dense(0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        Dense(3, activaton="relu")


def test_gradients_accumulate_until_zeroed(float64, rng):
    layer = Dense(2)
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 2))
    layer.forward(x)
    layer.backward(dout)
    first = layer.kernel.grad.copy()
    layer.forward(x)
    layer.backward(dout)
    np.testing.assert_allclose(layer.kernel.grad, 2 * first)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.kernel.grad, 0)
    layer.forward(x)
    layer.backward(dout)
    np.testing.assert_allclose(layer.kernel.grad, first)


def test_backward_never_writes_into_dout(rng):
    for layer in [Dense(3, activation="sigmoid"), Activation("tanh"), Dropout(0.5),
                  BatchNormalization()]:
        x = rng.standard_normal((4, 3)).astype(np.float32)
        y = layer.forward(x, training=True)
        dout = rng.standard_normal(y.shape).astype(np.float32)
        saved = dout.copy()
        layer.backward(dout)
        np.testing.assert_array_equal(dout, saved)


@pytest.mark.parametrize("layer", [
    Dense(3, activation="relu", kernel_regularizer=nl.regularizers.l2(0.1)),
    Dropout(0.2, seed=4), BatchNormalization(momentum=0.9), Embedding(10, 4), Flatten(),
    Reshape((2, 3)), Activation("softmax"), LeakyReLU(0.2),
])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_float32_by_default_and_float64_on_request():
    layer = Dense(2)
    layer.build((None, 3))
    assert layer.kernel.dtype == np.float32
    nl.set_floatx("float64")
    layer = Dense(2)
    layer.build((None, 3))
    assert layer.kernel.dtype == np.float64
    layer = Dense(2, dtype="float32")
    layer.build((None, 3))
    assert layer.kernel.dtype == np.float32
    with pytest.raises(ValueError, match="float32"):
        nl.set_floatx("float16")


@pytest.mark.parametrize("shape", [(7,), (100, 100), (4096 * 4 + 3,), (16, 50, 26, 26)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_relu_equals_maximum_for_every_size_and_layout(shape, dtype, rng):
    from neuralab.activations import relu_into
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:3] = [np.nan, -0.0, np.inf]
    out = np.empty_like(x)
    np.testing.assert_array_equal(relu_into(x, out), np.maximum(x, 0))
    strided = x[..., ::2]
    np.testing.assert_array_equal(relu_into(strided, np.empty_like(strided)), np.maximum(strided, 0))
    np.testing.assert_array_equal(relu_into(x, x), np.maximum(out, 0))  # in place
