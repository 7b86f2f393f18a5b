"""Reductions over axes: sum, mean, max, min, prod, var, std, logsumexp, cumsum, argmax.

``axis=None`` reduces over every axis; ``keepdims=True`` keeps reduced axes with size 1.
Each backward broadcasts ``dout`` back over the reduced axes (:func:`broadcast_back`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor
from .core import TensorLike, broadcast_back, constant, normalize_axes, operands, result_array
from .elementwise import sqrt

Axis = int | Sequence[int] | None


def _count(shape: tuple[int, ...], axis: Axis) -> int:
    """How many elements each output of a reduction over ``axis`` summarises."""
    return int(np.prod([shape[a] for a in normalize_axes(axis, len(shape))], dtype=np.int64))


def sum(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis``.  dx = dout broadcast back over the summed axes."""
    (t,), (v,) = operands(x)
    y = result_array(np.sum(v, axis=axis, keepdims=keepdims), v)
    return Tensor.from_op(y, (t,), lambda dout: (broadcast_back(dout, t.shape, axis, keepdims),),
                          "sum")


def mean(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``.  dx = dout / n broadcast back, n = number of elements averaged."""
    (t,), (v,) = operands(x)
    y = result_array(np.mean(v, axis=axis, keepdims=keepdims), v)
    n = _count(t.shape, axis)

    def backward(dout):
        return (broadcast_back(dout / n, t.shape, axis, keepdims),)
    return Tensor.from_op(y, (t,), backward, "mean")


def _extremum(x: TensorLike, axis: Axis, keepdims: bool, initial, reduce, name: str) -> Tensor:
    """max or min: dout goes to the elements equal to the result, split evenly between ties
    (PyTorch's ``amax``/``amin``)."""
    (t,), (v,) = operands(x)
    y = result_array(reduce(v, axis=axis, keepdims=keepdims, initial=initial), v)

    def backward(dout):
        winners = t.data == broadcast_back(y, t.shape, axis, keepdims)
        ties = np.maximum(np.sum(winners, axis=axis, keepdims=True), 1)  # none: initial won
        return (winners * broadcast_back(dout, t.shape, axis, keepdims) / ties,)
    return Tensor.from_op(y, (t,), backward, name)


def max(x: TensorLike, axis: Axis = None, keepdims: bool = False, initial=None) -> Tensor:  # noqa: A001
    """Largest value over ``axis``.  dx = dout at the maxima (ties share it equally), else 0."""
    return _extremum(x, axis, keepdims, initial, np.max, "max")


def min(x: TensorLike, axis: Axis = None, keepdims: bool = False, initial=None) -> Tensor:  # noqa: A001
    """Smallest value over ``axis``.  dx = dout at the minima (ties share it equally), else 0."""
    return _extremum(x, axis, keepdims, initial, np.min, "min")


amax = max
"""``max`` under its PyTorch and Keras name."""
amin = min
"""``min`` under its PyTorch and Keras name."""


def prod(x: TensorLike, axis: Axis = None, keepdims: bool = False, dtype=None) -> Tensor:
    """Product over ``axis``.  dx_i = dout * prod_{j != i} x_j, computed from the products
    to the left and to the right of i, so zeros in ``x`` are handled exactly."""
    (t,), (v,) = operands(x)
    y = result_array(np.prod(v, axis=axis, keepdims=keepdims, dtype=dtype), v)

    def backward(dout):
        axes = normalize_axes(axis, t.ndim)
        rest = [a for a in range(t.ndim) if a not in axes]
        moved = np.transpose(t.data, rest + list(axes))       # reduced axes last ...
        rows = moved.reshape(moved.shape[:len(rest)] + (-1,))  # ... and flattened
        ones = np.ones_like(rows[..., :1])
        left = np.cumprod(np.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, rows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (left * right).reshape(moved.shape).transpose(np.argsort(rest + list(axes)))
        return (others * broadcast_back(dout, t.shape, axis, keepdims),)
    return Tensor.from_op(y, (t,), backward, "prod")


def var(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Population variance ``mean((x - mean(x))^2)`` over ``axis`` (Keras: ddof = 0).
    dx = dout * 2 (x - mean(x)) / n."""
    (t,), (v,) = operands(x)
    centred = result_array(v - np.mean(v, axis=axis, keepdims=True), v)
    y = np.asarray(np.mean(centred * centred, axis=axis, keepdims=keepdims))
    n = _count(t.shape, axis)

    def backward(dout):
        return (broadcast_back(dout, t.shape, axis, keepdims) * (2 / n) * centred,)
    return Tensor.from_op(y, (t,), backward, "var")


def std(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Population standard deviation ``sqrt(var(x))`` over ``axis``."""
    return sqrt(var(x, axis, keepdims))


def logsumexp(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, stable for any finite x (the max is factored out).
    dx = dout * softmax(x) = dout * exp(x - y)."""
    (t,), (v,) = operands(x)
    shift = np.max(v, axis=axis, keepdims=True)
    y_kept = result_array(shift + np.log(np.sum(np.exp(v - shift), axis=axis, keepdims=True)), v)
    y = y_kept if keepdims else np.squeeze(y_kept, axis=normalize_axes(axis, t.ndim))

    def backward(dout):
        return (broadcast_back(dout, t.shape, axis, keepdims) * np.exp(v - y_kept),)
    return Tensor.from_op(y, (t,), backward, "logsumexp")


def cumsum(x: TensorLike, axis: int | None = None, dtype=None) -> Tensor:
    """Running sum along ``axis`` (``None``: over the flattened tensor).
    dx = the running sum of dout taken from the end: dx_i = sum_{j >= i} dout_j."""
    (t,), (v,) = operands(x)
    y = result_array(np.cumsum(v, axis=axis, dtype=dtype), v)

    def backward(dout):
        along = 0 if axis is None else axis
        reverse = [slice(None)] * dout.ndim
        reverse[along] = slice(None, None, -1)
        reverse = tuple(reverse)
        return (np.cumsum(dout[reverse], axis=along)[reverse].reshape(t.shape),)
    return Tensor.from_op(y, (t,), backward, "cumsum")


def argmax(x: TensorLike, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value along ``axis`` (of the flattened tensor if ``None``);
    an integer tensor without gradient."""
    _, (v,) = operands(x)
    return constant(np.argmax(v, axis=axis, keepdims=keepdims))


def argmin(x: TensorLike, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value along ``axis``; an integer tensor without gradient."""
    _, (v,) = operands(x)
    return constant(np.argmin(v, axis=axis, keepdims=keepdims))
