"""Conv1D, 1-D pooling, ZeroPadding2D, UpSampling2D, Rescaling, LayerNormalization and Lambda:
float64 gradient checks, PyTorch parity of values and gradients, shapes and configs."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuralab import gradcheck as gc
from neuralab.layers import (
    AveragePooling1D,
    Conv1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Lambda,
    LayerNormalization,
    MaxPooling1D,
    Rescaling,
    UpSampling2D,
    ZeroPadding2D,
    get_layer_class,
)

GRAD_TOL = 1e-7
TORCH_TOL = 1e-10


def _same_pad(length, k, s, d=1):
    """TensorFlow's 'same' padding (extra on the right) as (left, right)."""
    out = math.ceil(length / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - length, 0)
    return total // 2, total - total // 2


def torch_conv1d(layer, x):
    k = layer.kernel_size[1]
    s, d = layer.strides[1], layer.dilation_rate[1]
    x = x.transpose(1, 2)  # (N, C, L)
    if layer.causal:
        x = F.pad(x, (d * (k - 1), 0))
    elif layer.padding == "same":
        x = F.pad(x, _same_pad(x.shape[2], k, s, d))
    w = torch.tensor(layer.kernel.data).permute(2, 1, 0)
    w.requires_grad_(True)
    b = torch.tensor(layer.bias.data, requires_grad=True)
    z = F.conv1d(x, w, b, stride=s, dilation=d).transpose(1, 2)
    assert layer.activation.name in ("linear", "tanh")
    return (torch.tanh(z) if layer.activation.name == "tanh" else z), [w, b]


def torch_max_pool1d(layer, x):
    k, s = layer.pool_size[1], layer.strides[1]
    x = x.transpose(1, 2)
    if layer.padding == "same":
        x = F.pad(x, _same_pad(x.shape[2], k, s), value=-math.inf)
    return F.max_pool1d(x, k, s).transpose(1, 2), []


def torch_layer_norm(layer, x):
    gamma = torch.tensor(layer.gamma.data, requires_grad=True)
    beta = torch.tensor(layer.beta.data, requires_grad=True)
    dims = layer._axes
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
    shape = layer._broadcast
    y = (x - mean) / torch.sqrt(var + layer.epsilon) * gamma.reshape(shape) + beta.reshape(shape)
    return y, [gamma, beta]


# (id, layer factory, per-sample input shape, PyTorch reference (layer, x) -> (y, params))
CASES = [
    ("conv1d_valid", lambda: Conv1D(4, 3, bias_initializer="random_normal"), (9, 3),
     torch_conv1d),
    ("conv1d_same_strided", lambda: Conv1D(3, 4, strides=2, padding="same"), (9, 2),
     torch_conv1d),
    ("conv1d_causal_dilated_tanh", lambda: Conv1D(2, 3, padding="causal", dilation_rate=2,
                                                  activation="tanh"), (10, 5), torch_conv1d),
    ("conv1d_c_ge_f", lambda: Conv1D(2, 2, padding="same"), (6, 6), torch_conv1d),
    ("max_pool_1d", lambda: MaxPooling1D(2), (8, 3), torch_max_pool1d),
    ("max_pool_1d_same_overlap", lambda: MaxPooling1D(3, strides=2, padding="same"), (8, 2),
     torch_max_pool1d),
    ("avg_pool_1d", lambda: AveragePooling1D(3, strides=1), (7, 2),
     lambda layer, x: (F.avg_pool1d(x.transpose(1, 2), 3, 1).transpose(1, 2), [])),
    ("global_max_pool_1d", GlobalMaxPooling1D, (6, 4), lambda layer, x: (x.amax(dim=1), [])),
    ("global_avg_pool_1d", lambda: GlobalAveragePooling1D(keepdims=True), (6, 4),
     lambda layer, x: (x.mean(dim=1, keepdim=True), [])),
    ("zero_padding_2d", lambda: ZeroPadding2D(((1, 2), (0, 3))), (3, 4, 2),
     lambda layer, x: (F.pad(x.permute(0, 3, 1, 2), (0, 3, 1, 2)).permute(0, 2, 3, 1), [])),
    ("zero_padding_2d_int", lambda: ZeroPadding2D(1), (2, 2, 3),
     lambda layer, x: (F.pad(x.permute(0, 3, 1, 2), (1, 1, 1, 1)).permute(0, 2, 3, 1), [])),
    ("upsampling_2d", lambda: UpSampling2D((2, 3)), (3, 2, 2),
     lambda layer, x: (F.interpolate(x.permute(0, 3, 1, 2), scale_factor=(2, 3),
                                     mode="nearest").permute(0, 2, 3, 1), [])),
    ("rescaling", lambda: Rescaling(1 / 255, offset=-0.5), (5,),
     lambda layer, x: (x / 255 - 0.5, [])),
    ("layer_norm", lambda: LayerNormalization(gamma_initializer="random_normal",
                                              beta_initializer="random_normal"), (6,),
     torch_layer_norm),
    ("layer_norm_images", lambda: LayerNormalization(axis=[1, 2],
                                                     gamma_initializer="random_normal"),
     (3, 2, 4), torch_layer_norm),
    ("layer_norm_last_two", lambda: LayerNormalization(axis=(-2, -1)), (3, 4), torch_layer_norm),
]


@pytest.mark.parametrize("name, make, shape, reference", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_centred_differences(float64, rng, name, make, shape, reference):
    layer = make()
    x = rng.standard_normal((3,) + shape)
    errors = gc.check_layer(layer, x, seed=5)
    assert errors and max(errors.values()) <= GRAD_TOL, errors


@pytest.mark.parametrize("name, make, shape, reference", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_pytorch(float64, rng, name, make, shape, reference):
    layer = make()
    x = rng.standard_normal((3,) + shape)
    y = layer.forward(x, training=True)
    assert y.shape[1:] == layer.compute_output_shape((None,) + shape)[1:]
    dout = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx = layer.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    ty, tparams = reference(layer, tx)
    ty.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=TORCH_TOL, atol=TORCH_TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=TORCH_TOL, atol=TORCH_TOL)
    params = [p for p in layer.parameters() if p.trainable]
    assert len(params) == len(tparams)
    for p, t in zip(params, tparams):
        grad = t.grad.numpy()
        if isinstance(layer, Conv1D) and p is layer.kernel:  # torch's weight is (F, C, k)
            grad = grad.transpose(2, 1, 0)
        np.testing.assert_allclose(p.grad, grad, rtol=TORCH_TOL, atol=TORCH_TOL)


@pytest.mark.parametrize("layer, shape, expected", [
    (Conv1D(8, 3), (None, 10, 4), (None, 8, 8)),
    (Conv1D(8, 3, padding="causal", dilation_rate=4), (None, 10, 4), (None, 10, 8)),
    (Conv1D(8, 3, strides=2, padding="same"), (None, 11, 4), (None, 6, 8)),
    (MaxPooling1D(2), (None, 9, 3), (None, 4, 3)),
    (AveragePooling1D(2, padding="same"), (None, 9, 3), (None, 5, 3)),
    (GlobalMaxPooling1D(), (None, 9, 3), (None, 3)),
    (ZeroPadding2D((1, 2)), (None, 4, 5, 3), (None, 6, 9, 3)),
    (UpSampling2D(2), (None, 4, 5, 3), (None, 8, 10, 3)),
    (LayerNormalization(), (None, 7), (None, 7)),
])
def test_output_shapes_follow_keras(layer, shape, expected):
    assert layer.compute_output_shape(shape) == expected


def test_conv1d_keeps_the_keras_kernel_shape_and_config():
    layer = Conv1D(8, 3, strides=1, padding="causal", dilation_rate=2)
    layer.build((None, 10, 4))
    assert layer.kernel.shape == (3, 4, 8)
    config = layer.get_config()
    assert (config["kernel_size"], config["padding"], config["dilation_rate"]) == \
        ([3], "causal", [2])
    clone = get_layer_class("Conv1D").from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("layer", [MaxPooling1D(3, strides=2), AveragePooling1D(2),
                                   GlobalAveragePooling1D(keepdims=True), ZeroPadding2D((1, 2)),
                                   UpSampling2D((2, 3)), Rescaling(0.5, offset=1.0),
                                   LayerNormalization(axis=[1, 2], epsilon=1e-5)])
def test_config_round_trip(layer):
    config = layer.get_config()
    assert get_layer_class(type(layer).__name__).from_config(config).get_config() == config


def test_rescaling_turns_bytes_into_floats():
    x = np.array([[0, 128, 255]], dtype=np.uint8)
    y = Rescaling(1 / 255)(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [[0, 128 / 255, 1]], rtol=1e-6)


def test_lambda_computes_on_arrays_and_has_no_hand_written_backward(float64, rng):
    layer = Lambda(lambda x, power: x ** power, arguments={"power": 2})
    x = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(layer.forward(x), x ** 2)
    np.testing.assert_array_equal(layer(x), x ** 2)
    assert not layer.has_own_backward
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    with pytest.raises(NotImplementedError, match="no hand-written backward"):
        layer.backward(np.ones((2, 3)))


def test_lambda_output_shape_and_saving():
    def pairs(x):
        return x.reshape(x.shape[0], -1, 2)
    assert Lambda(pairs).compute_output_shape((None, 6)) == (None, 3, 2)
    assert Lambda(pairs, output_shape=(3, 2)).compute_output_shape((4, 6)) == (4, 3, 2)
    config = Lambda(pairs, output_shape=(3, 2)).get_config()
    assert config["function"] == "pairs"
    with pytest.raises(ValueError, match="passing its function back in"):
        Lambda.from_config(config)
    assert Lambda.from_config({**config, "function": pairs}).get_config() == config


@pytest.mark.parametrize("make, message", [
    (lambda: ZeroPadding2D((1, 2, 3)), "`padding` should be either an int"),
    (lambda: UpSampling2D(interpolation="bilinear"), "interpolation='nearest' only"),
    (lambda: LayerNormalization(rms_scaling=True), "rms_scaling"),
    (lambda: Conv1D(4, 3).build((None, 5, 5, 2)), "sequences of shape (N, L, C)"),
    (lambda: LayerNormalization(axis=0).build((None, 4)), "batch axis"),
])
def test_bad_arguments_are_explained(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()
