"""``neuralab.torch.Tensor``: PyTorch's tensor API as a thin wrapper around the engine's
:class:`neuralab.tensor.Tensor`.

Why a wrapper and not a subclass: the engine reads ``tensor.data`` as an ndarray in every
op and backward, while PyTorch's ``tensor.data`` is another *tensor* sharing storage
(``torch.max(output.data, 1)``). A wrapper keeps both meanings apart: ``wrapper._t`` is the
engine tensor (its ``.data`` the ndarray), ``wrapper.data`` a detached wrapper of the same
ndarray. Every method calls one engine op on ``_t`` and wraps the result, so the recorded
graph, every backward and ``.grad`` live in the engine, readable in :mod:`neuralab.ops`.

Dtypes follow PyTorch: Python floats make ``get_default_dtype()`` (float32), Python ints
int64, NumPy arrays keep theirs (``from_numpy``); a float32 tensor times ``2.0`` stays
float32.
"""

from __future__ import annotations

import builtins
import warnings
import weakref
from collections import namedtuple

import numpy as np

from neuralab import ops
from neuralab.tensor import Tensor as _EngineTensor
from neuralab.tensor import is_grad_enabled

from ._dtypes import (  # noqa: F401 - re-exported for the package
    _BY_NUMPY,
    Size,
    as_dtype,
    bool,
    device,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    numpy_dtype,
    set_default_dtype,
    short,
    uint8,
)


def _array(value, dtype=None) -> np.ndarray:
    """An ndarray for ``value`` with PyTorch's dtype rules."""
    if isinstance(value, Tensor):
        value = value._t.data
    elif isinstance(value, (list, tuple)) and value and any(isinstance(v, Tensor) for v in value):
        value = [_array(v) for v in value]
    if dtype is not None:
        return np.array(value, dtype=numpy_dtype(dtype))
    if isinstance(value, np.ndarray):
        return value.copy()
    array = np.array(value)
    if array.dtype == np.float64 and not isinstance(value, np.generic):
        array = array.astype(get_default_dtype().numpy)
    elif array.dtype.kind in "iu" and not isinstance(value, np.generic):
        array = array.astype(np.int64)
    return array


def wrap(engine_tensor: _EngineTensor) -> Tensor:
    """The torch view of an engine tensor (no copy)."""
    out = Tensor.__new__(Tensor)
    out._t = engine_tensor
    return out


def unwrap(value):
    """The engine tensor of a torch tensor; other values (numbers, arrays) as they are."""
    return value._t if isinstance(value, Tensor) else value


def unwrap_key(key):
    if isinstance(key, tuple):
        return tuple(unwrap_key(k) for k in key)
    if isinstance(key, Tensor):
        return key._t.data
    if isinstance(key, list) and any(isinstance(k, Tensor) for k in key):
        return [unwrap_key(k) for k in key]
    return key


def _dims(args) -> tuple:
    """``view(2, 3)`` and ``view((2, 3))`` alike."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list, Size)) else args


def _camel(op: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in op.split("_"))


class GradFn:
    """``tensor.grad_fn``: the recorded operation that made a tensor (``<MatmulBackward0>``).

    ``next_functions`` lists the nodes of its inputs (``AccumulateGrad`` for a leaf that
    requires grad, ``None`` for a constant), as in PyTorch, so the graph can be walked.
    """

    def __init__(self, node: _EngineTensor):
        self._node = node

    def name(self) -> str:
        if self._node._backward is None:
            return "AccumulateGrad"
        return f"{_camel(self._node.op or 'op')}Backward0"

    @property
    def next_functions(self) -> tuple:
        return tuple(((GradFn(p) if p.requires_grad else None), 0) for p in self._node._prev)

    @property
    def variable(self) -> Tensor:
        return wrap(self._node)

    def __repr__(self) -> str:
        return f"<{self.name()} object>"


max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


def _extremum(x: Tensor, dim, keepdim: builtins.bool, pick, result, reduce):
    if dim is None:
        return wrap(reduce(x._t))
    indices = np.expand_dims(pick(x._t.data, axis=dim), dim)
    values = ops.take_along_axis(x._t, indices, axis=dim)
    if not keepdim:
        values, indices = ops.squeeze(values, dim), np.squeeze(indices, dim)
    return result(wrap(values), wrap(_EngineTensor(indices.astype(np.int64))))


NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information.")
# id(engine tensor) -> weak reference, for the non-leaf tensors whose .grad is shown
# (keyed by id: engine tensors compare element-wise, so they cannot be set members)
_RETAINED: dict[builtins.int, weakref.ref] = {}


def _is_retained(t: _EngineTensor) -> builtins.bool:
    ref = _RETAINED.get(builtins.id(t))
    return ref is not None and ref() is t


class Tensor:
    """A PyTorch-style tensor on neuralab's engine (see the module docstring).

    Example:
        >>> import neuralab.torch as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    __slots__ = ("_t", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, *args):
        if len(args) == 1 and not isinstance(args[0], builtins.int):
            self._t = _EngineTensor(_array(args[0], get_default_dtype()))
        else:  # torch.Tensor(2, 3): uninitialised memory in PyTorch, zeros here
            self._t = _EngineTensor(np.zeros(_dims(args), get_default_dtype().numpy))

    # -- data, gradient, graph --------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """The same storage, cut from the graph (PyTorch's ``.data``)."""
        return wrap(_EngineTensor(self._t.data))

    @data.setter
    def data(self, value) -> None:
        self._t.data = _array(value) if not isinstance(value, Tensor) else value._t.data

    @property
    def grad(self) -> Tensor | None:
        """dL/d(self) after ``backward()``: leaves only, or a non-leaf after ``retain_grad()``
        (otherwise ``None`` with PyTorch's warning; the engine keeps it in ``self._t.grad``)."""
        t = self._t
        if t._backward is not None and not _is_retained(t):
            warnings.warn(NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
            return None
        g = t.grad
        return None if g is None else wrap(_EngineTensor(g))

    @grad.setter
    def grad(self, value) -> None:
        self._t.grad = None if value is None else _array(value, self.dtype)

    @property
    def requires_grad(self) -> builtins.bool:
        return self._t.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: builtins.bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        if requires_grad and self._t.data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        self._t.requires_grad = builtins.bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> builtins.bool:
        return self._t._backward is None

    @property
    def grad_fn(self) -> GradFn | None:
        return GradFn(self._t) if self._t._backward is not None else None

    def backward(self, gradient=None, retain_graph=None, create_graph=False) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on (the engine's backward); the
        ``.grad`` of a non-leaf after ``retain_grad()`` accumulates across calls, as a leaf's."""
        retained = [(t, t.grad) for t in (ref() for ref in list(_RETAINED.values()))
                    if t is not None and t.grad is not None]
        self._t.backward(None if gradient is None else _array(gradient))
        for t, before in retained:
            if t.grad is not before:  # reached again: the engine set this pass's gradient
                t.grad = t.grad + before

    def detach(self) -> Tensor:
        return self.data

    def detach_(self) -> Tensor:
        self._t._backward, self._t._prev, self._t.requires_grad = None, (), False
        return self

    def clone(self) -> Tensor:
        return wrap(ops.multiply(self._t, 1))

    def retain_grad(self) -> None:
        """Let ``.grad`` of this non-leaf tensor return its gradient after ``backward()``
        (summed over the backward passes from now on, as PyTorch; a no-op on leaves)."""
        t = self._t
        if not t.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if t._backward is not None and not _is_retained(t):
            t.grad = None  # an earlier backward's gradient was not retained
            key = builtins.id(t)
            _RETAINED[key] = weakref.ref(t, lambda _, key=key: _RETAINED.pop(key, None))

    @property
    def retains_grad(self) -> builtins.bool:
        """True for a non-leaf tensor after ``retain_grad()``."""
        return self._t._backward is not None and _is_retained(self._t)

    # -- conversions ------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._t.data

    def item(self):
        if self._t.data.size != 1:
            raise RuntimeError(f"a Tensor with {self._t.data.size} elements cannot be converted "
                               "to Scalar")
        return self._t.data.item()

    def tolist(self):
        return self._t.data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._t.data if dtype is None else self._t.data.astype(dtype)

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        return builtins.int(self.item())

    def __bool__(self):
        return builtins.bool(self.item())

    def __len__(self):
        return len(self._t.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def dtype(self) -> dtype:
        return _BY_NUMPY[self._t.data.dtype]

    @property
    def device(self) -> device:
        return device("cpu")

    @property
    def shape(self) -> Size:
        return Size(self._t.data.shape)

    def size(self, dim=None):
        return Size(self._t.data.shape) if dim is None else self._t.data.shape[dim]

    def dim(self) -> builtins.int:
        return self._t.data.ndim

    @property
    def ndim(self) -> builtins.int:
        return self._t.data.ndim

    def numel(self) -> builtins.int:
        return self._t.data.size

    nelement = numel

    def is_floating_point(self) -> builtins.bool:
        return self._t.data.dtype.kind == "f"

    def type(self, dtype=None):
        """``type()``: the legacy name (``torch.FloatTensor``); ``type(dtype)``: ``to(dtype)``."""
        if dtype is None:
            names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                     "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
            return f"torch.{names[self.dtype.name]}Tensor"
        return self.to(dtype)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(other)``: devices other than the CPU are refused."""
        target = kwargs.get("dtype")
        for arg in args + tuple(v for k, v in kwargs.items() if k == "device"):
            if isinstance(arg, Tensor):
                target = arg.dtype
            elif isinstance(arg, (str, device)):
                if str(arg).split(":")[0] not in ("cpu",):
                    raise RuntimeError(f"neuralab.torch runs on the CPU only, not {arg}")
            elif arg is not None:
                target = arg
        if target is None or np.dtype(numpy_dtype(target)) == self._t.data.dtype:
            return self
        return wrap(ops.cast(self._t, numpy_dtype(target)))

    def cpu(self) -> Tensor:
        return self

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool)

    def half(self) -> Tensor:
        return self.to(float16)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def contiguous(self) -> Tensor:
        return self

    # -- shapes -----------------------------------------------------------------------------
    def view(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], dtype):
            raise NotImplementedError("view(dtype) is not supported")
        return wrap(ops.reshape(self._t, _dims(shape)))

    reshape = view

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    reshape_as = view_as

    def permute(self, *dims) -> Tensor:
        return wrap(ops.transpose(self._t, _dims(dims)))

    def transpose(self, dim0: builtins.int, dim1: builtins.int) -> Tensor:
        return wrap(ops.swapaxes(self._t, dim0, dim1))

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return wrap(ops.transpose(self._t))

    @property
    def T(self) -> Tensor:  # noqa: N802
        return wrap(ops.transpose(self._t))

    def squeeze(self, dim=None) -> Tensor:
        if dim is not None:
            dims = (dim,) if isinstance(dim, builtins.int) else tuple(dim)
            dims = tuple(d for d in dims if self._t.data.shape[d] == 1)
            return wrap(ops.squeeze(self._t, dims)) if dims else self
        return wrap(ops.squeeze(self._t))

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        return wrap(ops.expand_dims(self._t, dim if dim >= 0 else dim + self.ndim + 1))

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        shape = self._t.data.shape
        if not shape:
            return self.view(1)
        start, end = start_dim % len(shape), end_dim % len(shape)
        return self.view(shape[:start] + (-1,) + shape[end + 1:])

    def expand(self, *sizes) -> Tensor:
        sizes = tuple(s if s != -1 else n for s, n in
                      zip(_dims(sizes), (1,) * (len(_dims(sizes)) - self.ndim) + self._t.data.shape))
        return wrap(ops.broadcast_to(self._t, sizes))

    def repeat(self, *sizes) -> Tensor:
        return wrap(ops.tile(self._t, _dims(sizes)))

    # -- indexing ---------------------------------------------------------------------------
    def __getitem__(self, key) -> Tensor:
        return wrap(ops.get_item(self._t, unwrap_key(key)))

    def __setitem__(self, key, value) -> None:
        """In-place write of values (not recorded on the graph)."""
        self._t.data[unwrap_key(key)] = _array(value) if isinstance(value, Tensor) else value

    # -- in place (no recording: initialisation and optimiser updates) ----------------------
    def zero_(self) -> Tensor:
        self._t.data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        self._t.data[...] = value
        return self

    def copy_(self, source) -> Tensor:
        self._t.data[...] = _array(source)
        return self

    def add_(self, other, alpha=1) -> Tensor:
        self._t.data[...] += alpha * np.asarray(_array(other) if isinstance(other, Tensor) else other)
        return self

    def sub_(self, other, alpha=1) -> Tensor:
        return self.add_(other, alpha=-alpha)

    def mul_(self, other) -> Tensor:
        self._t.data[...] *= _array(other) if isinstance(other, Tensor) else other
        return self

    def div_(self, other) -> Tensor:
        self._t.data[...] /= _array(other) if isinstance(other, Tensor) else other
        return self

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002
        np.clip(self._t.data, min, max, out=self._t.data)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None) -> Tensor:
        from .random import get_generator
        self._t.data[...] = (generator or get_generator()).uniform(a, b, self._t.data.shape)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None) -> Tensor:
        from .random import get_generator
        self._t.data[...] = (generator or get_generator()).normal(mean, std, self._t.data.shape)
        return self

    # -- reductions -------------------------------------------------------------------------
    def sum(self, dim=None, keepdim: builtins.bool = False, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if x._t.data.dtype.kind == "b":
            x = x.long()
        return wrap(ops.sum(x._t, axis=dim, keepdims=keepdim))

    def mean(self, dim=None, keepdim: builtins.bool = False, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if not x.is_floating_point():
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                               f"floating point or complex dtype. Got: {x.dtype.name.capitalize()}")
        return wrap(ops.mean(x._t, axis=dim, keepdims=keepdim))

    def var(self, dim=None, unbiased: builtins.bool = True, keepdim: builtins.bool = False,
            correction=None) -> Tensor:
        correction = (1 if unbiased else 0) if correction is None else correction
        dims = None if dim is None else (dim,) if isinstance(dim, builtins.int) else tuple(dim)
        n = self._t.data.size if dims is None else builtins.int(np.prod([self.shape[d] for d in dims]))
        # composed from mean (not ops.var, whose full reduction returns a NumPy scalar that
        # the next op would round to float32)
        centred = ops.subtract(self._t, ops.mean(self._t, axis=dims, keepdims=True))
        variance = ops.mean(ops.square(centred), axis=dims, keepdims=keepdim)
        return wrap(ops.multiply(variance, n / (n - correction)))

    def std(self, dim=None, unbiased: builtins.bool = True, keepdim: builtins.bool = False) -> Tensor:
        return self.var(dim, unbiased, keepdim).sqrt()

    def max(self, dim=None, keepdim: builtins.bool = False):
        if isinstance(dim, Tensor):
            return wrap(ops.maximum(self._t, dim._t))
        return _extremum(self, dim, keepdim, np.argmax, max_result, ops.max)

    def min(self, dim=None, keepdim: builtins.bool = False):
        if isinstance(dim, Tensor):
            return wrap(ops.minimum(self._t, dim._t))
        return _extremum(self, dim, keepdim, np.argmin, min_result, ops.min)

    def argmax(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _arg(self, dim, keepdim, np.argmax)

    def argmin(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _arg(self, dim, keepdim, np.argmin)

    def prod(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return wrap(ops.prod(self._t, axis=dim, keepdims=keepdim))

    def all(self, dim=None) -> Tensor:
        return wrap(_EngineTensor(np.all(self._t.data, axis=dim)))

    def any(self, dim=None) -> Tensor:
        return wrap(_EngineTensor(np.any(self._t.data, axis=dim)))

    def norm(self, p=2, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return wrap(ops.norm(self._t, ord=p if dim is not None else None, axis=dim, keepdims=keepdim))

    # -- elementwise ------------------------------------------------------------------------
    def exp(self):
        return wrap(ops.exp(self._t))

    def log(self):
        return wrap(ops.log(self._t))

    def sqrt(self):
        return wrap(ops.sqrt(self._t))

    def abs(self):
        return wrap(ops.abs(self._t))

    def sigmoid(self):
        return wrap(ops.sigmoid(self._t))

    def tanh(self):
        return wrap(ops.tanh(self._t))

    def relu(self):
        return wrap(ops.relu(self._t))

    def sign(self):
        return wrap(ops.sign(self._t))

    def pow(self, exponent):
        return self ** exponent

    def square(self):
        return wrap(ops.square(self._t))

    def clamp(self, min=None, max=None):  # noqa: A002
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        low = -np.inf if min is None else unwrap(min)
        return wrap(ops.clip(self._t, low, np.inf if max is None else unwrap(max)))

    clip = clamp

    def softmax(self, dim):
        return wrap(ops.softmax(self._t, axis=dim))

    def log_softmax(self, dim):
        return wrap(ops.log_softmax(self._t, axis=dim))

    def matmul(self, other):
        return self @ other

    mm = matmul

    def masked_fill(self, mask, value):
        return wrap(ops.where(unwrap(mask), value, self._t))

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def gt(self, other):
        return self > other

    def lt(self, other):
        return self < other

    def ge(self, other):
        return self >= other

    def le(self, other):
        return self <= other

    def __repr__(self) -> str:
        data = self._t.data
        kind = data.dtype.kind
        text = np.array2string(data, precision=4, separator=", ", prefix="tensor(",
                               floatmode="fixed" if kind == "f" and data.size and
                               np.any(data != np.round(data)) else "maxprec",
                               threshold=1000, edgeitems=3)
        extras = []
        usual = (get_default_dtype().numpy, np.int64, np.bool_)
        if data.dtype not in usual or (kind != "f" and not data.size):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([text] + extras) + ")"

    __hash__ = object.__hash__


def _arg(x: Tensor, dim, keepdim, pick) -> Tensor:
    data = x._t.data
    if dim is None:
        return wrap(_EngineTensor(np.asarray(pick(data), dtype=np.int64)))
    result = pick(data, axis=dim)
    if keepdim:
        result = np.expand_dims(result, dim)
    return wrap(_EngineTensor(result.astype(np.int64)))


def _binary(op, reflected: builtins.bool = False):
    if reflected:
        def method(self, other):
            return wrap(op(unwrap(other), self._t))
    else:
        def method(self, other):
            return wrap(op(self._t, unwrap(other)))
    return method


for _name, _op in {"add": ops.add, "sub": ops.subtract, "mul": ops.multiply, "truediv": ops.divide,
                   "pow": ops.power, "matmul": ops.matmul}.items():
    setattr(Tensor, f"__{_name}__", _binary(_op))
    setattr(Tensor, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _op in {"lt": ops.less, "le": ops.less_equal, "gt": ops.greater, "ge": ops.greater_equal,
                   "eq": ops.equal, "ne": ops.not_equal, "and": ops.logical_and,
                   "or": ops.logical_or, "xor": ops.logical_xor}.items():
    setattr(Tensor, f"__{_name}__", _binary(_op))


def _in_place(ufunc, name: str):
    """``x += y`` and friends: write into x's storage (x keeps its dtype), as PyTorch does.

    Allowed where PyTorch allows it without recording: under ``no_grad()`` or on a tensor
    that does not require grad (``with torch.no_grad(): p -= lr * p.grad``, ``p.data -= ...``).
    """
    def method(self, other):
        if self._t.requires_grad and is_grad_enabled():
            if self.is_leaf:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                                   "operation.")
            return getattr(Tensor, f"__{name}__")(self, other)  # a new node, rebound by Python
        data = self._t.data
        ufunc(data, _array(other) if isinstance(other, Tensor) else other, out=data, casting="unsafe")
        return self
    return method


for _name, _ufunc in {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
                      "pow": np.power}.items():
    setattr(Tensor, f"__i{_name}__", _in_place(_ufunc, _name))
Tensor.add, Tensor.sub, Tensor.mul = Tensor.__add__, Tensor.__sub__, Tensor.__mul__
Tensor.div = Tensor.__truediv__
Tensor.__neg__ = lambda self: wrap(ops.negative(self._t))
Tensor.__abs__ = Tensor.abs
Tensor.__invert__ = lambda self: wrap(ops.logical_not(self._t))
Tensor.__floordiv__ = lambda self, other: wrap(_EngineTensor(self._t.data // _array(other)))
Tensor.__mod__ = lambda self, other: wrap(_EngineTensor(self._t.data % _array(other)))
Tensor.__hash__ = object.__hash__
del _name, _op, _ufunc


def tensor(data, dtype=None, device=None, requires_grad: builtins.bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (floats: the default dtype, ints: int64)."""
    out = wrap(_EngineTensor(_array(data, dtype)))
    return out.requires_grad_(True) if requires_grad else out


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor):
        return data.to(dtype) if dtype is not None else data
    if isinstance(data, np.ndarray) and dtype is None:
        return from_numpy(data)
    return tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return wrap(_EngineTensor(array))


def is_tensor(obj) -> builtins.bool:
    return isinstance(obj, Tensor)


