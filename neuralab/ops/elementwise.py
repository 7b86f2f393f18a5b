"""Elementwise maths: arithmetic, powers, exponentials, trigonometry, min/max, clip, where.

Every op broadcasts like NumPy; its backward returns the gradient at the broadcast
shape and the engine sums it back to each input's shape (:func:`~neuralab.tensor.unbroadcast`).
Gradients are written with ``x``/``y`` the inputs (``x1``/``x2`` in Keras' signatures),
``out`` the result and ``dout`` dL/d(out).
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .core import TensorLike, constant, operands, result_array, to_array, unary, value_of


def _no_gradient(dout, x, y):
    """The derivative of a piecewise-constant function (sign, floor, round): zero."""
    return np.zeros_like(dout)


# -- arithmetic -----------------------------------------------------------------------------
def add(x1: TensorLike, x2: TensorLike) -> Tensor:
    """``x1 + x2``.  dx = dout, dy = dout."""
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.add(x, y), x, y)
    return Tensor.from_op(out, (a, b), lambda dout: (dout, dout), "add")


def subtract(x1: TensorLike, x2: TensorLike) -> Tensor:
    """``x1 - x2``.  dx = dout, dy = -dout."""
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.subtract(x, y), x, y)
    return Tensor.from_op(out, (a, b), lambda dout: (dout, -dout), "subtract")


def multiply(x1: TensorLike, x2: TensorLike) -> Tensor:
    """``x1 * x2``.  dx = dout * y, dy = dout * x."""
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.multiply(x, y), x, y)
    return Tensor.from_op(out, (a, b), lambda dout: (dout * y, dout * x), "multiply")


def divide(x1: TensorLike, x2: TensorLike) -> Tensor:
    """``x1 / x2`` (true division).  dx = dout / y, dy = -dout * x / y^2 = -dout * out / y."""
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.true_divide(x, y), x, y)

    def backward(dout):
        dx = dout / y
        return dx, (-dx * out if b.requires_grad else None)
    return Tensor.from_op(out, (a, b), backward, "divide")


def power(x1: TensorLike, x2: TensorLike) -> Tensor:
    """``x1 ** x2``.  dx = dout * y * x^(y-1),  dy = dout * out * log(x)
    (0 where x = 0 and y >= 0, as in PyTorch)."""
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.power(x, y), x, y)

    def backward(dout):
        dx = dout * y * np.power(x, y - 1) if a.requires_grad else None
        dy = None
        if b.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                dy = np.where((x == 0) & (y >= 0), 0, dout * out * np.log(x))
        return dx, dy
    return Tensor.from_op(out, (a, b), backward, "power")


def negative(x: TensorLike) -> Tensor:
    """``-x``.  dx = -dout."""
    return unary(x, np.negative, lambda dout, x, y: -dout, "negative")


def square(x: TensorLike) -> Tensor:
    """``x^2``.  dx = 2 x dout."""
    return unary(x, np.square, lambda dout, x, y: 2 * x * dout, "square")


def sqrt(x: TensorLike) -> Tensor:
    """``sqrt(x)``.  dx = dout / (2 y)."""
    return unary(x, np.sqrt, lambda dout, x, y: dout / (2 * y), "sqrt")


def reciprocal(x: TensorLike) -> Tensor:
    """``1 / x``.  dx = -dout y^2."""
    return unary(x, np.reciprocal, lambda dout, x, y: -dout * y * y, "reciprocal")


def abs(x: TensorLike) -> Tensor:  # noqa: A001 (Keras' name)
    """``|x|``.  dx = dout * sign(x) (0 at x = 0)."""
    return unary(x, np.abs, lambda dout, x, y: dout * np.sign(x), "abs")


absolute = abs


# -- exponentials and logarithms ------------------------------------------------------------
def exp(x: TensorLike) -> Tensor:
    """``e^x``.  dx = dout * y."""
    return unary(x, np.exp, lambda dout, x, y: dout * y, "exp")


def expm1(x: TensorLike) -> Tensor:
    """``e^x - 1``, accurate near 0.  dx = dout * (y + 1)."""
    return unary(x, np.expm1, lambda dout, x, y: dout * (y + 1), "expm1")


def log(x: TensorLike) -> Tensor:
    """Natural logarithm.  dx = dout / x."""
    return unary(x, np.log, lambda dout, x, y: dout / x, "log")


def log1p(x: TensorLike) -> Tensor:
    """``log(1 + x)``, accurate near 0.  dx = dout / (1 + x)."""
    return unary(x, np.log1p, lambda dout, x, y: dout / (1 + x), "log1p")


# -- trigonometric and error functions ------------------------------------------------------
def sin(x: TensorLike) -> Tensor:
    """``sin(x)``.  dx = dout cos(x)."""
    return unary(x, np.sin, lambda dout, x, y: dout * np.cos(x), "sin")


def cos(x: TensorLike) -> Tensor:
    """``cos(x)``.  dx = -dout sin(x)."""
    return unary(x, np.cos, lambda dout, x, y: -dout * np.sin(x), "cos")


def tan(x: TensorLike) -> Tensor:
    """``tan(x)``.  dx = dout (1 + y^2)."""
    return unary(x, np.tan, lambda dout, x, y: dout * (1 + y * y), "tan")


def tanh(x: TensorLike) -> Tensor:
    """``tanh(x)``.  dx = dout (1 - y^2)."""
    return unary(x, np.tanh, lambda dout, x, y: dout * (1 - y * y), "tanh")


_math_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf_array(x) -> np.ndarray:
    """The error function on an array, with the C library's ``erf`` (NumPy has none and
    SciPy stays optional): float32 in, float32 out."""
    x = np.asarray(x)
    y = _math_erf(x)
    return y.astype(x.dtype) if x.dtype.kind == "f" else y


TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def erf(x: TensorLike) -> Tensor:
    """``erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt``.  dx = dout * 2/sqrt(pi) e^(-x^2)."""
    return unary(x, erf_array, lambda dout, x, y: dout * TWO_OVER_SQRT_PI * np.exp(-x * x),
                  "erf")


# -- piecewise-constant functions (zero gradient) -------------------------------------------
def sign(x: TensorLike) -> Tensor:
    """-1, 0 or 1 by the sign of ``x``; zero gradient."""
    return unary(x, np.sign, _no_gradient, "sign")


def floor(x: TensorLike) -> Tensor:
    """Round down; zero gradient."""
    return unary(x, np.floor, _no_gradient, "floor")


def ceil(x: TensorLike) -> Tensor:
    """Round up; zero gradient."""
    return unary(x, np.ceil, _no_gradient, "ceil")


def round(x: TensorLike, decimals: int = 0) -> Tensor:  # noqa: A001 (Keras' name)
    """Round half to even at ``decimals``; zero gradient."""
    return unary(x, lambda v: np.round(v, decimals), _no_gradient, "round")


# -- comparisons that pass a gradient: maximum, minimum, clip, where --------------------------
def maximum(x1: TensorLike, x2: TensorLike) -> Tensor:
    """Elementwise larger of ``x1`` and ``x2``.  dout goes to the larger input; on a tie it is
    split in half (PyTorch's convention)."""
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.maximum(x, y), x, y)

    def backward(dout):
        x_share = ((x > y) + 0.5 * (x == y)).astype(dout.dtype, copy=False)
        return dout * x_share, dout * (1 - x_share)
    return Tensor.from_op(out, (a, b), backward, "maximum")


def minimum(x1: TensorLike, x2: TensorLike) -> Tensor:
    """Elementwise smaller of ``x1`` and ``x2``.  dout goes to the smaller input; on a tie it
    is split in half (PyTorch's convention)."""
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.minimum(x, y), x, y)

    def backward(dout):
        x_share = ((x < y) + 0.5 * (x == y)).astype(dout.dtype, copy=False)
        return dout * x_share, dout * (1 - x_share)
    return Tensor.from_op(out, (a, b), backward, "minimum")


def clip(x: TensorLike, x_min, x_max) -> Tensor:
    """``x`` limited to [x_min, x_max] (the bounds are constants).
    dx = dout where x_min <= x <= x_max, else 0 (PyTorch's ``clamp``)."""
    low, high = value_of(x_min), value_of(x_max)
    return unary(x, lambda v: np.clip(v, low, high),
                  lambda dout, x, y: dout * ((x >= low) & (x <= high)), "clip")


def where(condition: TensorLike, x1: TensorLike | None = None, x2: TensorLike | None = None):
    """``x1`` where ``condition`` holds, else ``x2``.
    dx1 = dout where condition, dx2 = dout elsewhere; the condition gets no gradient.
    With only ``condition``: the indices of its nonzero elements (a tuple of tensors)."""
    mask = to_array(condition).astype(bool, copy=False)
    if x1 is None and x2 is None:
        return tuple(constant(i) for i in np.nonzero(mask))
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither")
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.where(mask, x, y), x, y)

    def backward(dout):
        return np.where(mask, dout, 0), np.where(mask, 0, dout)
    return Tensor.from_op(out, (a, b), backward, "where")
