"""``torch.*`` functions: creation, joining, reductions and elementwise maths, each one call
of the engine op of the same meaning (:mod:`neuralab.ops`)."""

from __future__ import annotations

import builtins

import numpy as np

from neuralab import ops

from ._tensor import Tensor, _array, get_default_dtype, numpy_dtype, unwrap, wrap
from ._tensor import _EngineTensor as EngineTensor


def _shape(size) -> tuple:
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _new(values: np.ndarray, requires_grad: bool = False) -> Tensor:
    out = wrap(EngineTensor(values))
    return out.requires_grad_() if requires_grad else out


def _float_dtype(dtype):
    return numpy_dtype(dtype) or get_default_dtype().numpy


def zeros(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(np.zeros(_shape(size), _float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(np.ones(_shape(size), _float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    if dtype is None:
        dtype = _array(fill_value).dtype
    return _new(np.full(tuple(size), fill_value, numpy_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def zeros_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return _new(np.zeros(x.shape, numpy_dtype(dtype) or x._t.data.dtype), requires_grad)


def ones_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return _new(np.ones(x.shape, numpy_dtype(dtype) or x._t.data.dtype), requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return _new(np.full(x.shape, fill_value, numpy_dtype(dtype) or x._t.data.dtype), requires_grad)


empty_like = zeros_like


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None) -> Tensor:
    """[start, end) by ``step``: int64 for integer arguments, else the default float dtype."""
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = np.int64 if values.dtype.kind in "iu" else get_default_dtype().numpy
    return _new(values.astype(numpy_dtype(dtype)), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad)


# -- joining and reshaping ------------------------------------------------------------------
def cat(tensors, dim: int = 0) -> Tensor:
    return wrap(ops.concatenate([unwrap(t) for t in tensors], axis=dim))


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    return wrap(ops.stack([unwrap(t) for t in tensors], axis=dim))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return x.flatten(start_dim, end_dim)


def reshape(x: Tensor, shape) -> Tensor:
    return x.reshape(shape)


def squeeze(x: Tensor, dim=None) -> Tensor:
    return x.squeeze(dim)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    return x.unsqueeze(dim)


def permute(x: Tensor, dims) -> Tensor:
    return x.permute(dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    return x.transpose(dim0, dim1)


def t(x: Tensor) -> Tensor:
    return x.t()


# -- reductions -----------------------------------------------------------------------------
def sum(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:  # noqa: A001
    return x.sum(dim, keepdim, dtype)


def mean(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    return x.mean(dim, keepdim, dtype)


def max(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices); ``max(x, y)``: elementwise."""
    return x.max(dim, keepdim)


def min(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    return x.min(dim, keepdim)


def maximum(x: Tensor, y: Tensor) -> Tensor:
    return wrap(ops.maximum(unwrap(x), unwrap(y)))


def minimum(x: Tensor, y: Tensor) -> Tensor:
    return wrap(ops.minimum(unwrap(x), unwrap(y)))


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return x.argmax(dim, keepdim)


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return x.argmin(dim, keepdim)


def var(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False) -> Tensor:
    return x.var(dim, unbiased, keepdim)


def std(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False) -> Tensor:
    return x.std(dim, unbiased, keepdim)


def numel(x: Tensor) -> int:
    return x.numel()


def all(x: Tensor, dim=None) -> Tensor:  # noqa: A001
    return x.all(dim)


def any(x: Tensor, dim=None) -> Tensor:  # noqa: A001
    return x.any(dim)


# -- elementwise ----------------------------------------------------------------------------
def _unary(name: str):
    op = getattr(ops, name)

    def function(x: Tensor, *, out=None) -> Tensor:
        return wrap(op(unwrap(x)))
    function.__name__ = name
    function.__doc__ = f"Elementwise ``{name}`` (the engine's ``ops.{name}``, with its backward)."
    return function


# one assignment per name: documentation tools (griffe) do not read tuple unpacking
exp = _unary("exp")
log = _unary("log")
sqrt = _unary("sqrt")
sigmoid = _unary("sigmoid")
tanh = _unary("tanh")
relu = _unary("relu")
sin = _unary("sin")
cos = _unary("cos")
sign = _unary("sign")
square = _unary("square")
log1p = _unary("log1p")
expm1 = _unary("expm1")
floor = _unary("floor")
ceil = _unary("ceil")
abs = _unary("abs")  # noqa: A001


def pow(x, exponent) -> Tensor:  # noqa: A001
    return wrap(ops.power(unwrap(x), unwrap(exponent)))


def add(x, y, alpha=1) -> Tensor:
    return wrap(ops.add(unwrap(x), unwrap(y) if alpha == 1 else ops.multiply(unwrap(y), alpha)))


def sub(x, y) -> Tensor:
    return wrap(ops.subtract(unwrap(x), unwrap(y)))


def mul(x, y) -> Tensor:
    return wrap(ops.multiply(unwrap(x), unwrap(y)))


def div(x, y) -> Tensor:
    return wrap(ops.divide(unwrap(x), unwrap(y)))


def softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    return wrap(ops.softmax(unwrap(x if dtype is None else x.to(dtype)), axis=dim))


def log_softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    return wrap(ops.log_softmax(unwrap(x if dtype is None else x.to(dtype)), axis=dim))


def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    return wrap(ops.logsumexp(unwrap(x), axis=dim, keepdims=keepdim))


def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    return x.clamp(min, max)


clip = clamp


def where(condition: Tensor, x=None, y=None):
    """``where(c, x, y)``: x where c, else y (gradients to both); ``where(c)``: the indices."""
    if x is None and y is None:
        return tuple(_new(i.astype(np.int64)) for i in np.nonzero(unwrap(condition).data))
    return wrap(ops.where(unwrap(condition), unwrap(x), unwrap(y)))


def matmul(x: Tensor, y: Tensor) -> Tensor:
    return wrap(ops.matmul(unwrap(x), unwrap(y)))


mm = bmm = matmul


def dot(x: Tensor, y: Tensor) -> Tensor:
    return wrap(ops.sum(ops.multiply(unwrap(x), unwrap(y))))


def eq(x, y) -> Tensor:
    return wrap(ops.equal(unwrap(x), unwrap(y)))


def equal(x: Tensor, y: Tensor) -> bool:
    return x.shape == y.shape and builtins.bool(np.array_equal(_array(x), _array(y)))


def allclose(x: Tensor, y: Tensor, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    return builtins.bool(np.allclose(_array(x), _array(y), rtol=rtol, atol=atol))


def isnan(x: Tensor) -> Tensor:
    return wrap(ops.isnan(unwrap(x)))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True):
    from ._tensor import max_result
    order = np.argsort(-x._t.data if largest else x._t.data, axis=dim, kind="stable")
    indices = np.take(order, np.arange(k), axis=dim)
    values = ops.take_along_axis(x._t, indices, axis=dim)
    return max_result(wrap(values), _new(indices.astype(np.int64)))


def one_hot(x: Tensor, num_classes: int = -1) -> Tensor:
    labels = _array(x)
    if num_classes < 0:
        num_classes = int(labels.max()) + 1
    return _new((labels[..., None] == np.arange(num_classes)).astype(np.int64))


