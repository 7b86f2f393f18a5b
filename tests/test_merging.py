"""Merge layers: float64 gradient checks, PyTorch parity (values and gradients), Keras shape
rules and error messages, the lowercase functions, configs."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest
import torch

from neuralab import backend
from neuralab import gradcheck as gc
from neuralab.layers import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    get_layer_class,
    maximum,
    minimum,
    multiply,
    subtract,
)

GRAD_TOL = 1e-7
TORCH_TOL = 1e-10


# -- PyTorch references ------------------------------------------------------------------------
def _aligned(ts):
    """Keras' rank alignment: new axes right after the batch axis."""
    rank = max(t.dim() for t in ts)
    out = []
    for t in ts:
        for _ in range(rank - t.dim()):
            t = t.unsqueeze(1)
        out.append(t)
    return out


def _chain(op, ts):
    out = ts[0]
    for t in ts[1:]:
        out = op(out, t)
    return out


def torch_dot(ts, axes, normalize):
    x, y = ts
    a1, a2 = ([axes] * 2 if isinstance(axes, int) else axes)
    a1, a2 = a1 % x.dim(), a2 % y.dim()
    if normalize:
        eps = backend.epsilon()
        x = x / torch.clamp_min(torch.linalg.vector_norm(x, dim=a1, keepdim=True), eps)
        y = y / torch.clamp_min(torch.linalg.vector_norm(y, dim=a2, keepdim=True), eps)
    letters = iter(string.ascii_letters[2:])
    xs = ["a"] + [next(letters) for _ in range(x.dim() - 1)]
    ys = ["a"] + [next(letters) for _ in range(y.dim() - 1)]
    ys[a2] = xs[a1] = "b"
    out = [c for c in xs if c != "b"] + [c for c in ys[1:] if c != "b"]
    z = torch.einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)
    return z.reshape(z.shape[0], 1) if z.dim() == 1 else z


TORCH = {
    "Add": lambda ts, **kw: _chain(torch.add, _aligned(ts)),
    "Subtract": lambda ts, **kw: torch.sub(*_aligned(ts)),
    "Multiply": lambda ts, **kw: _chain(torch.mul, _aligned(ts)),
    "Average": lambda ts, **kw: _chain(torch.add, _aligned(ts)) / len(ts),
    "Maximum": lambda ts, **kw: _chain(torch.maximum, _aligned(ts)),
    "Minimum": lambda ts, **kw: _chain(torch.minimum, _aligned(ts)),
    "Concatenate": lambda ts, axis=-1: torch.cat(ts, dim=axis),
    "Dot": lambda ts, axes, normalize=False: torch_dot(ts, axes, normalize),
}

# (id, class, kwargs, per-sample input shapes)
CASES = [
    ("add_2", Add, {}, [(3, 4), (3, 4)]),
    ("add_3_broadcast", Add, {}, [(3, 4), (4,), (3, 1)]),
    ("subtract", Subtract, {}, [(5,), (5,)]),
    ("subtract_broadcast", Subtract, {}, [(2, 1, 4), (3, 1)]),
    ("multiply_2", Multiply, {}, [(6,), (6,)]),
    ("multiply_4_broadcast", Multiply, {}, [(2, 3), (1, 3), (3,), (2, 1)]),
    ("average_3", Average, {}, [(2, 3), (2, 3), (2, 3)]),
    ("average_broadcast", Average, {}, [(4, 1), (5,)]),
    ("maximum_2", Maximum, {}, [(3, 4), (3, 4)]),
    ("maximum_3_broadcast", Maximum, {}, [(3, 4), (4,), (3, 1)]),
    ("minimum_3", Minimum, {}, [(5,), (5,), (5,)]),
    ("minimum_broadcast", Minimum, {}, [(2, 3), (1, 3)]),
    ("concatenate_last", Concatenate, {}, [(2, 3), (2, 1), (2, 4)]),
    ("concatenate_axis1", Concatenate, {"axis": 1}, [(2, 3), (4, 3)]),
    ("dot_vectors", Dot, {"axes": 1}, [(5,), (5,)]),
    ("dot_matrices", Dot, {"axes": (1, 2)}, [(3, 4), (2, 3)]),
    ("dot_negative_axes", Dot, {"axes": -1}, [(2, 4), (3, 4)]),
    ("dot_rank2_rank3", Dot, {"axes": (1, 2)}, [(4,), (3, 4)]),
    ("dot_rank4", Dot, {"axes": (2, 1)}, [(2, 3, 2), (3, 2)]),
    ("dot_normalize", Dot, {"axes": 1, "normalize": True}, [(6,), (6,)]),
    ("dot_normalize_matrices", Dot, {"axes": (2, 1), "normalize": True}, [(3, 4), (4, 2)]),
]
N = 3


def _inputs(rng, shapes, n=N):
    return [rng.standard_normal((n,) + s) for s in shapes]


@pytest.mark.parametrize("name, cls, kwargs, shapes", CASES, ids=[c[0] for c in CASES])
def test_merge_gradients_match_centred_differences(float64, rng, name, cls, kwargs, shapes):
    layer = cls(**kwargs)
    xs = _inputs(rng, shapes)
    y = layer.forward(xs)
    assert y.shape == layer.compute_output_shape([x.shape for x in xs])
    w = rng.standard_normal(y.shape)
    dxs = layer.backward(w)
    assert len(dxs) == len(xs)

    def loss():
        return float(np.sum(w * layer.forward(xs)))

    for k, (x, dx) in enumerate(zip(xs, dxs)):
        assert dx.shape == x.shape
        error = gc.rel_error(dx, gc.numerical_gradient(loss, x))
        assert error <= GRAD_TOL, f"input {k}: {error}"


def _torch_parity(cls, kwargs, xs, dout):
    layer = cls(**kwargs)
    y = layer.forward(xs)
    dxs = layer.backward(dout)
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    ty = TORCH[cls.__name__](ts, **kwargs)
    ty.backward(torch.tensor(dout))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=TORCH_TOL, atol=TORCH_TOL)
    for dx, t in zip(dxs, ts):
        np.testing.assert_allclose(dx, t.grad.numpy(), rtol=TORCH_TOL, atol=TORCH_TOL)


@pytest.mark.parametrize("name, cls, kwargs, shapes", CASES, ids=[c[0] for c in CASES])
def test_merge_matches_pytorch(float64, rng, name, cls, kwargs, shapes):
    xs = _inputs(rng, shapes)
    y = cls(**kwargs).forward(xs)
    _torch_parity(cls, kwargs, xs, rng.standard_normal(y.shape))


@pytest.mark.parametrize("cls", [Maximum, Minimum])
def test_ties_split_the_gradient_as_torch_maximum_does(float64, rng, cls):
    """Small integers: most positions tie between two or all three inputs."""
    xs = [rng.integers(0, 2, (4, 3, 5)).astype(np.float64),
          rng.integers(0, 2, (4, 5)).astype(np.float64),
          rng.integers(0, 2, (4, 3, 5)).astype(np.float64)]
    _torch_parity(cls, {}, xs, rng.standard_normal((4, 3, 5)))
    layer = cls()
    layer.forward([np.ones((1, 3))] * 3)
    dxs = layer.backward(np.ones((1, 3)))
    np.testing.assert_array_equal([dx[0, 0] for dx in dxs], [0.25, 0.25, 0.5])


def test_dot_normalize_of_a_clamped_norm_matches_pytorch(float64, rng):
    """A vector with ||x|| < epsilon is divided by epsilon (Keras' normalize)."""
    x = rng.standard_normal((3, 4))
    x[1] *= 1e-9
    y = rng.standard_normal((3, 4))
    _torch_parity(Dot, {"axes": 1, "normalize": True}, [x, y], rng.standard_normal((3, 1)))


def test_multiply_gradient_with_zeros_in_the_inputs(float64, rng):
    xs = _inputs(rng, [(4,), (4,), (4,)])
    xs[0][:, 1] = 0
    xs[1][:, 1] = 0
    xs[2][0] = 0
    _torch_parity(Multiply, {}, xs, rng.standard_normal((N, 4)))


# -- shapes, errors, functions and configs --------------------------------------------------
@pytest.mark.parametrize("layer, shapes, expected", [
    (Add(), [(None, 3, 4), (None, 4)], (None, 3, 4)),
    (Add(), [(None, 3, 1), (None, 1, 5)], (None, 3, 5)),
    (Maximum(), [(None, None, 4), (None, 4)], (None, None, 4)),
    (Subtract(), [(8, 2), (None, 2)], (8, 2)),
    (Concatenate(), [(None, 2, 3), (None, 2, 5)], (None, 2, 8)),
    (Concatenate(axis=1), [(None, 2, 3), (None, None, 3)], (None, None, 3)),
    (Dot(axes=1), [(None, 5), (None, 5)], (None, 1)),
    (Dot(axes=(1, 2)), [(None, 3, 5), (None, 10, 3)], (None, 5, 10)),
    (Dot(axes=-1), [(None, 2, 4), (None, 3, 4)], (None, 2, 3)),
])
def test_output_shapes_follow_keras(layer, shapes, expected):
    assert layer.compute_output_shape(shapes) == expected
    layer.build(shapes)
    assert layer.output_shape == expected


@pytest.mark.parametrize("call, error, message", [
    (lambda: Add().build([(None, 3), (None, 4)]), ValueError,
     "Inputs have incompatible shapes. Received shapes (3,) and (4,)"),
    (lambda: Add().forward([np.ones((2, 3)), np.ones((3, 3))]), ValueError,
     ("Cannot merge tensors with different batch sizes. Received tensors with shapes "
      "[(2, 3), (3, 3)]")),
    (lambda: Multiply().forward([np.ones((2, 3, 4)), np.ones((2, 2, 4))]), ValueError,
     "Inputs have incompatible shapes. Received shapes (3, 4) and (2, 4)"),
    (lambda: Add().forward(np.ones((2, 3))), ValueError,
     "A merge layer should be called on a list of inputs. Received: inputs="),
    (lambda: Add().build((None, 3)), ValueError,
     ("A merge layer should be called on a list of inputs. Received: input_shape=(None, 3) "
      "(not a list of shapes)")),
    (lambda: Subtract().forward([np.ones((2, 3))] * 3), ValueError,
     "A `Subtract` layer should be called on exactly 2 inputs. Received: input_shape="),
    (lambda: Concatenate().build([(None, 2, 3), (None, 3, 3)]), ValueError,
     ("A `Concatenate` layer requires inputs with matching shapes except for the "
      "concatenation axis. Received: input_shape=[(None, 2, 3), (None, 3, 3)]")),
    (lambda: Concatenate().build([(None, 2, 3), (None, 3)]), ValueError,
     ("A `Concatenate` layer requires inputs with matching shapes except for the "
      "concatenation axis.")),
    (lambda: Dot(axes=1).build([(None, 3), (None, 4)]), ValueError,
     ("Incompatible input shapes: axis values 3 (at axis 1) != 4 (at axis 1). "
      "Full input shapes: (None, 3), (None, 4)")),
    (lambda: Dot(axes=1).build([(None, 3)] * 3), ValueError,
     "A `Dot` layer should be called on a list of 2 inputs. Received: input_shape="),
    (lambda: Dot(axes=0).build([(None, 3), (None, 3)]), ValueError,
     "Cannot perform batch_dot over axis 0."),
    (lambda: Dot(axes="1"), TypeError,
     "Invalid type for argument `axes`: it should be a list or an int. Received: axes=1"),
    (lambda: Dot(axes=(1, 2, 3)), ValueError,
     "Invalid format for argument `axes`: it should contain two elements."),
    (lambda: Dot(axes=(1, 2.0)), ValueError,
     "Invalid format for argument `axes`: list elements should be integers."),
])
def test_keras_error_messages(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


@pytest.mark.parametrize("function, cls, kwargs", [
    (add, Add, {}), (subtract, Subtract, {}), (multiply, Multiply, {}),
    (average, Average, {}), (maximum, Maximum, {}), (minimum, Minimum, {}),
    (concatenate, Concatenate, {"axis": 1}), (dot, Dot, {"axes": -1}),
])
def test_lowercase_functions_equal_the_layers(float64, rng, function, cls, kwargs):
    xs = _inputs(rng, [(4,), (4,)])
    np.testing.assert_array_equal(function(xs, **kwargs), cls(**kwargs).forward(xs))


def test_dot_function_defaults_to_the_last_axis(float64, rng):
    xs = _inputs(rng, [(2, 4), (3, 4)])
    np.testing.assert_array_equal(dot(xs), Dot(axes=-1).forward(xs))


@pytest.mark.parametrize("layer", [Add(), Subtract(), Multiply(), Average(), Maximum(),
                                   Minimum(), Concatenate(axis=1), Dot(axes=(1, 2)),
                                   Dot(axes=-1, normalize=True)])
def test_config_round_trip(layer):
    assert layer.multi_input
    config = layer.get_config()
    clone = get_layer_class(type(layer).__name__).from_config(config)
    assert clone.get_config() == config


def test_backward_leaves_dout_alone_and_skips_dx_when_nobody_needs_it(float64, rng):
    xs = _inputs(rng, [(3,), (1,)])
    for layer in (Add(), Multiply(), Maximum(), Concatenate(axis=1), Dot(axes=1)):
        ys = layer.forward(xs if layer.__class__ is not Dot else [xs[0], xs[0]])
        dout = rng.standard_normal(ys.shape)
        before = dout.copy()
        layer.backward(dout)
        np.testing.assert_array_equal(dout, before)
        layer.skip_input_grad = True
        assert layer.backward(dout) == [None, None]
