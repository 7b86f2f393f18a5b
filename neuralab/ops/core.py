"""What every op shares (operand conversion, result dtypes, reduction axes), plus the ops
that convert, create or compare tensors and carry no gradient.

Dtype rule of every op: NumPy's promotion of the input *arrays*, with Python numbers weak
(NumPy 2): a float32 tensor times ``2.0`` stays float32, a float64 tensor stays float64.
A float result computed from integer arrays only (``divide`` of two int tensors,
``sqrt`` of an int tensor, an int tensor times ``0.5``) is ``floatx()``, as in Keras and
PyTorch, not NumPy's float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import backend
from ..tensor import Tensor, as_tensor, to_array

TensorLike = Tensor | np.ndarray | float | int | bool | Sequence
"""What an op accepts as an operand: a Tensor (or Parameter), an ndarray, a number, a list."""


# -- helpers for the ops' implementations ---------------------------------------------------
def is_python_number(value) -> bool:
    """A Python int/float/bool (weak in NumPy's promotion); NumPy scalars are not."""
    return type(value) in (int, float, bool)


def operands(*values: TensorLike) -> tuple[tuple[Tensor, ...], tuple]:
    """The graph inputs (Tensors) and the values to compute with: the arrays, except that
    Python numbers stay Python numbers so that NumPy promotes them weakly."""
    tensors = tuple(as_tensor(v) for v in values)
    arrays = tuple(v if is_python_number(v) else t.data for v, t in zip(values, tensors))
    return tensors, arrays


def value_of(value):
    """A constant argument (a bound, a fill value) to compute with: Python numbers as they
    are (weak, and not rounded to float32), anything else as an array."""
    return value if is_python_number(value) else to_array(value)


def result_array(y, *inputs) -> np.ndarray:
    """``y`` as an ndarray, in ``floatx()`` if it is a float made from integer arrays only."""
    y = np.asarray(y)
    if y.dtype.kind == "f" and not any(
            isinstance(a, np.ndarray) and a.dtype.kind in "fc" for a in inputs):
        return y.astype(backend.floatx(), copy=False)
    return y


def normalize_axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes (``None``: all of them)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of rank {ndim}")
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


def broadcast_back(dout: np.ndarray, shape: tuple[int, ...], axis, keepdims: bool) -> np.ndarray:
    """The gradient (or value) of a reduction over ``axis``, broadcast back over the
    input's ``shape``: (2,) from a sum over axis 1 of (2, 3) becomes (2, 3)."""
    if not keepdims:
        dout = np.expand_dims(dout, normalize_axes(axis, len(shape)))
    return np.broadcast_to(dout, shape)


def unary(x: TensorLike, forward: Callable, derivative: Callable, name: str) -> Tensor:
    """``y = forward(x)`` elementwise, recorded with ``dx = derivative(dout, x, y)``."""
    (t,), (value,) = operands(x)
    y = result_array(forward(value), value)
    data = t.data
    return Tensor.from_op(y, (t,), lambda dout: (derivative(dout, data, y),), name)


def constant(y) -> Tensor:
    """An op output that carries no gradient (comparisons, argmax, integer results)."""
    return Tensor(np.asarray(y))


def key_array(key):
    """An index (for ``x[key]``, ``take``) with Tensors replaced by their arrays."""
    if isinstance(key, tuple):
        return tuple(key_array(k) for k in key)
    return key.data if isinstance(key, Tensor) else key


# -- conversion -----------------------------------------------------------------------------
def convert_to_tensor(x: TensorLike, dtype=None, sparse=None, ragged=None) -> Tensor:
    """``x`` as a Tensor (itself if it already is one and ``dtype`` matches)."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else cast(x, dtype)
    return Tensor(x, dtype=dtype)


def convert_to_numpy(x: TensorLike) -> np.ndarray:
    """The values of ``x`` as an ndarray."""
    return to_array(x)


def cast(x: TensorLike, dtype) -> Tensor:
    """``x`` converted to ``dtype``. Float to float keeps the gradient
    (``dx = dout`` cast back); a cast to an integer or bool type cuts it."""
    x = as_tensor(x)
    dtype = np.dtype(dtype)
    y = x.data.astype(dtype)
    if dtype.kind not in "fc":
        return constant(y)

    def backward(dout):
        return (dout.astype(x.dtype, copy=False),)
    return Tensor.from_op(y, (x,), backward, "cast")


def shape(x: TensorLike) -> tuple[int, ...]:
    """The shape of ``x`` as a tuple of ints."""
    return np.shape(x.data if isinstance(x, Tensor) else x)


def stop_gradient(variable: TensorLike) -> Tensor:
    """The same values, cut from the graph: no gradient flows through it."""
    return constant(to_array(variable))


# -- creation -------------------------------------------------------------------------------
def zeros(shape, dtype=None) -> Tensor:
    """A tensor of zeros (``floatx()`` unless ``dtype``)."""
    return full(shape, 0, dtype)


def ones(shape, dtype=None) -> Tensor:
    """A tensor of ones (``floatx()`` unless ``dtype``)."""
    return full(shape, 1, dtype)


def full(shape, fill_value, dtype=None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (``floatx()`` unless ``dtype``)."""
    return constant(np.full(shape, value_of(fill_value), dtype=dtype or backend.floatx()))


def zeros_like(x: TensorLike, dtype=None) -> Tensor:
    """Zeros of the shape and dtype of ``x``."""
    return constant(np.zeros_like(to_array(x), dtype=dtype))


def ones_like(x: TensorLike, dtype=None) -> Tensor:
    """Ones of the shape and dtype of ``x``."""
    return constant(np.ones_like(to_array(x), dtype=dtype))


def full_like(x: TensorLike, fill_value, dtype=None) -> Tensor:
    """``fill_value`` in the shape and dtype of ``x``."""
    return constant(np.full_like(to_array(x), value_of(fill_value), dtype=dtype))


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    """Evenly spaced values in [start, stop): integers stay integers, floats are ``floatx()``."""
    y = np.arange(start, stop, step, dtype=dtype)
    if dtype is None and y.dtype.kind == "f":
        y = y.astype(backend.floatx())
    return constant(y)


def eye(N: int, M: int | None = None, k: int = 0, dtype=None) -> Tensor:
    """An (N, M) matrix with ones on the ``k``-th diagonal."""
    return constant(np.eye(N, M, k, dtype=dtype or backend.floatx()))


def one_hot(x: TensorLike, num_classes: int, axis: int = -1, dtype=None, sparse: bool = False
            ) -> Tensor:
    """Integer labels (...) to one-hot vectors (..., num_classes) along ``axis``; negative
    labels give rows of zeros. No gradient.

    Example:
        >>> one_hot([0, 2], 3).numpy()
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported (neuralab tensors are dense)")
    labels = to_array(x)
    # float labels holding whole numbers (MNIST's y.astype("float32") in Keras' guides) are
    # class ids too, as in Keras; fractions are not
    if labels.dtype.kind not in "iub" and not (
            labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels))):
        raise TypeError(f"one_hot expects integer labels (or floats holding whole numbers), "
                        f"got dtype {labels.dtype}")
    y = (labels[..., None] == np.arange(num_classes)).astype(dtype or backend.floatx())
    return constant(np.moveaxis(y, -1, axis) if axis != -1 else y)


# -- comparisons and logic (bool results, no gradient) --------------------------------------
def _compare(ufunc):
    def op(x1: TensorLike, x2: TensorLike) -> Tensor:
        _, (a, b) = operands(x1, x2)
        return constant(ufunc(a, b))
    op.__name__ = op.__qualname__ = ufunc.__name__
    op.__doc__ = f"Elementwise ``np.{ufunc.__name__}(x1, x2)``: a bool tensor, no gradient."
    return op


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)
logical_xor = _compare(np.logical_xor)


def logical_not(x: TensorLike) -> Tensor:
    """Elementwise not: a bool tensor, no gradient."""
    return constant(np.logical_not(to_array(x)))


def isnan(x: TensorLike) -> Tensor:
    """Elementwise ``x != x``: a bool tensor, no gradient."""
    return constant(np.isnan(to_array(x)))


def isfinite(x: TensorLike) -> Tensor:
    """Elementwise finiteness: a bool tensor, no gradient."""
    return constant(np.isfinite(to_array(x)))
