"""Products and norms: matmul, dot, norm."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor
from .core import TensorLike, as_tensor, broadcast_back, constant, operands, result_array, to_array
from .elementwise import abs as absolute
from .elementwise import multiply, power
from .manipulation import squeeze
from .reductions import max as reduce_max
from .reductions import min as reduce_min
from .reductions import sum as reduce_sum


def matmul(x1: TensorLike, x2: TensorLike) -> Tensor:
    """Matrix product with NumPy's rules: (..., n, k) @ (..., k, m) -> (..., n, m), batch
    axes broadcast, a 1-D operand is a vector.  dx = dout @ y^T,  dy = x^T @ dout.

    Example:
        >>> matmul(ones((2, 3)), ones((3, 4))).shape
        (2, 4)
    """
    (a, b), (x, y) = operands(x1, x2)
    out = result_array(np.matmul(x, y), x, y)

    def backward(dout):
        # a vector is a (1, k) row on the left or a (k, 1) column on the right, then dropped
        g = dout[..., None] if y.ndim == 1 else dout
        g = g[..., None, :] if x.ndim == 1 else g
        x_mat = x[None, :] if x.ndim == 1 else x
        y_mat = y[:, None] if y.ndim == 1 else y
        dx = dy = None
        if a.requires_grad:
            dx = g @ np.swapaxes(y_mat, -1, -2)
            dx = dx[..., 0, :] if x.ndim == 1 else dx
        if b.requires_grad:
            if y_mat.ndim == 2 and x_mat.ndim > 2:  # one weight matrix for a batch of inputs
                k = x_mat.shape[-1]
                dy = x_mat.reshape(-1, k).T @ g.reshape(-1, g.shape[-1])
            else:
                dy = np.swapaxes(x_mat, -1, -2) @ g
            dy = dy[..., 0] if y.ndim == 1 else dy
        return dx, dy
    return Tensor.from_op(out, (a, b), backward, "matmul")


def dot(x1: TensorLike, x2: TensorLike) -> Tensor:
    """``np.dot``: a product for scalars, the inner product of vectors, ``matmul`` when x2
    has rank <= 2, and otherwise a sum over the last axis of x1 and the second-to-last of x2:
    (..., k) . (B..., k, m) -> (..., B..., m)."""
    (a, b), (x, y) = operands(x1, x2)
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return multiply(x1, x2)
    if y.ndim <= 2:
        return matmul(x1, x2)
    # letters: x is "abc" + "z", y is "ABC" + "z" + "Z", the result "abc" + "ABC" + "Z"
    x_sub = "abcdefghijklmnopqrstuvw"[:x.ndim - 1] + "z"
    y_sub = "ABCDEFGHIJKLMNOPQRSTUVW"[:y.ndim - 2] + "zZ"
    out_sub = x_sub[:-1] + y_sub[:-2] + "Z"
    out = result_array(np.dot(x, y), x, y)

    def backward(dout):
        dx = np.einsum(f"{out_sub},{y_sub}->{x_sub}", dout, y) if a.requires_grad else None
        dy = np.einsum(f"{x_sub},{out_sub}->{y_sub}", x, dout) if b.requires_grad else None
        return dx, dy
    return Tensor.from_op(out, (a, b), backward, "dot")


def _euclidean_norm(x: TensorLike, axis, keepdims: bool) -> Tensor:
    """``sqrt(sum(x^2))``.  dx = dout * x / y (0 where y = 0, as in PyTorch)."""
    (t,), (v,) = operands(x)
    y = result_array(np.sqrt(np.sum(v * v, axis=axis, keepdims=keepdims)), v)

    def backward(dout):
        y_full = broadcast_back(y, t.shape, axis, keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = np.where(y_full == 0, 0, broadcast_back(dout, t.shape, axis, keepdims)
                          * t.data / y_full)
        return (dx,)
    return Tensor.from_op(y, (t,), backward, "norm")


def norm(x: TensorLike, ord=None, axis: int | Sequence[int] | None = None,
         keepdims: bool = False) -> Tensor:
    """Vector or matrix norm, as ``np.linalg.norm``.

    Vector norms (``axis`` an int, or ``x`` 1-D): ``ord`` None/2 (Euclidean), 1, inf, -inf,
    0 (count of nonzeros, no gradient) or any p: ``sum(|x|^p)^(1/p)``. Matrix norms
    (``axis`` a pair, or ``x`` 2-D with ``axis=None``): ``ord`` None/"fro", 1, -1, inf, -inf.
    With ``ord=None`` and ``axis=None`` any tensor gives the 2-norm of its flattened values.
    """
    t = as_tensor(x)
    if axis is None and (ord is None or ord == "fro"):
        return _euclidean_norm(t, None, keepdims)
    if axis is None:
        axis = tuple(range(t.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) == 1:
        return _vector_norm(t, ord, axes[0], keepdims)
    if len(axes) != 2:
        raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
    row, col = axes
    if ord is None or ord == "fro":
        return _euclidean_norm(t, axes, keepdims)
    if ord in (1, -1):  # largest (smallest) absolute column sum
        pick = reduce_max if ord == 1 else reduce_min
        sums = reduce_sum(absolute(t), axis=row, keepdims=True)
        result = pick(sums, axis=col, keepdims=True)
    elif ord in (np.inf, -np.inf):  # largest (smallest) absolute row sum
        pick = reduce_max if ord == np.inf else reduce_min
        sums = reduce_sum(absolute(t), axis=col, keepdims=True)
        result = pick(sums, axis=row, keepdims=True)
    else:
        raise NotImplementedError(f"norm: matrix ord={ord!r} (singular values) is not "
                                  "supported; use 'fro', 1, -1, inf or -inf")
    return result if keepdims else squeeze(result, axis=axes)


def _vector_norm(t: Tensor, ord, axis: int, keepdims: bool) -> Tensor:
    if ord is None or ord == 2:
        return _euclidean_norm(t, axis, keepdims)
    if ord == 1:
        return reduce_sum(absolute(t), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return reduce_max(absolute(t), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return reduce_min(absolute(t), axis=axis, keepdims=keepdims)
    if ord == 0:
        counts = np.sum(to_array(t) != 0, axis=axis, keepdims=keepdims)
        return constant(counts.astype(t.dtype if t.dtype.kind == "f" else np.float64))
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; give a pair of axes")
    return power(reduce_sum(power(absolute(t), ord), axis=axis, keepdims=keepdims), 1 / ord)
