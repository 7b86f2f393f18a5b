"""Differentiable operations on :class:`~neuralab.tensor.Tensor`, named as in Keras 3's
``keras.ops``: write the forward maths with these and ``loss.backward()`` gives the gradient.

    from neuralab import ops
    h = ops.relu(ops.matmul(x, w) + b)
    loss = ops.mean(ops.square(h - y))
    loss.backward()            # w.grad, b.grad

Every op takes its tensor operands positionally first (Tensors, Parameters, ndarrays or
Python numbers), computes with NumPy and records one graph node whose backward is its
derivative written out (``dx = dout * (1 - y**2)`` for tanh). Integer and bool results
(comparisons, ``argmax``, casts to int) carry no gradient. Dtypes: see :mod:`.core`.

Modules: :mod:`.core` (conversion, creation, comparisons), :mod:`.elementwise`,
:mod:`.reductions`, :mod:`.linalg`, :mod:`.manipulation` (shapes and indexing) and :mod:`.nn`
(activations, softmax, cross-entropies). Importing this package also gives ``Tensor`` its
operators and methods (:func:`install_tensor_operators`).
"""

import functools as _functools

from ..symbolic import KerasTensor, is_symbolic, record
from ..tensor import Tensor
from .core import (
    arange,
    cast,
    convert_to_numpy,
    convert_to_tensor,
    equal,
    eye,
    full,
    full_like,
    greater,
    greater_equal,
    isfinite,
    isnan,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    not_equal,
    one_hot,
    ones,
    ones_like,
    shape,
    stop_gradient,
    zeros,
    zeros_like,
)
from .elementwise import (
    abs,
    absolute,
    add,
    ceil,
    clip,
    cos,
    divide,
    erf,
    exp,
    expm1,
    floor,
    log,
    log1p,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    reciprocal,
    round,
    sign,
    sin,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    where,
)
from .linalg import dot, matmul, norm
from .manipulation import (
    broadcast_to,
    concatenate,
    expand_dims,
    get_item,
    moveaxis,
    pad,
    ravel,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    take,
    take_along_axis,
    tile,
    transpose,
)
from .nn import (
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    gelu,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    sparse_categorical_crossentropy,
    swish,
)
from .reductions import amax, amin, argmax, argmin, cumsum, logsumexp, max, mean, min, prod, std, sum, var


def _reflected(op):
    """``other <op> tensor``: the op with its operands in the written order."""
    def method(self, other):
        return op(other, self)
    method.__name__ = f"__r{op.__name__}__"
    return method


def _shape_args(args) -> tuple:
    """``t.reshape(2, 3)`` and ``t.reshape((2, 3))`` alike."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def install_tensor_operators() -> None:
    """Give :class:`Tensor` (and so :class:`~neuralab.parameter.Parameter`) its Python
    operators and NumPy-style methods, each a call of the op of the same meaning:

    ``+ - * / ** @``, their reflected forms (``2 * x``, ``ndarray + x``), unary ``-``,
    ``abs(x)``, comparisons ``< <= > >= == !=`` (bool tensors without gradient), indexing
    ``x[key]``, and ``.sum .mean .max .min .prod .var .std .argmax .argmin .reshape
    .transpose .T .flatten .squeeze .astype .exp .log .sqrt .square .tanh .relu .sigmoid .abs
    .clip .matmul .dot``.

    They are installed here, not defined in ``tensor.py``, so that the tape does not import
    the ops (no import cycle). ``==`` compares values, as in NumPy and PyTorch, while
    hashing stays by identity, so tensors still work as dict keys; to find a tensor in a
    list compare identities (``any(t is u for u in tensors)``), not ``in``.
    """
    operators = {
        "__add__": add, "__radd__": _reflected(add),
        "__sub__": subtract, "__rsub__": _reflected(subtract),
        "__mul__": multiply, "__rmul__": _reflected(multiply),
        "__truediv__": divide, "__rtruediv__": _reflected(divide),
        "__pow__": power, "__rpow__": _reflected(power),
        "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
        "__neg__": negative, "__abs__": abs,
        "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
        "__eq__": equal, "__ne__": not_equal,
        "__getitem__": get_item,
    }
    methods = {
        "sum": sum, "mean": mean, "max": max, "min": min, "prod": prod, "var": var, "std": std,
        "argmax": argmax, "argmin": argmin, "cumsum": cumsum,
        "exp": exp, "log": log, "sqrt": sqrt, "square": square, "abs": abs, "tanh": tanh,
        "relu": relu, "sigmoid": sigmoid, "matmul": matmul, "dot": dot, "astype": cast,
        "squeeze": squeeze, "flatten": ravel, "ravel": ravel,
        "clip": lambda self, min=None, max=None: clip(self, min, max),
        "reshape": lambda self, *new_shape: reshape(self, _shape_args(new_shape)),
        "transpose": lambda self, *axes: transpose(self, _shape_args(axes) or None),
        "T": property(lambda self: transpose(self)),
    }
    for name, function in {**operators, **methods}.items():
        setattr(Tensor, name, function)
    # defining __eq__ must not make tensors unhashable (set like the operators above: mypy
    # refuses assigning to a method)
    setattr(Tensor, "__hash__", object.__hash__)  # noqa: B010


def _symbolic_aware(op):
    """``op`` that records a graph node when called on symbolic tensors (``Input``s)."""
    @_functools.wraps(op)
    def dispatch(*args, **kwargs):
        if any(isinstance(a, KerasTensor) or (isinstance(a, (list, tuple)) and is_symbolic(a))
               for a in args):
            return record(op, args, kwargs)
        return op(*args, **kwargs)
    dispatch.raw = op
    return dispatch


def install_symbolic_operators() -> None:
    """Give :class:`~neuralab.symbolic.KerasTensor` the same operators and methods as
    :class:`Tensor`, each recording the op on the graph: ``x = x + residual``."""
    for name, value in list(vars(Tensor).items()):
        function = value.fget if isinstance(value, property) else value
        if getattr(function, "__module__", "").startswith(__name__):
            wrapped = _symbolic_aware(function)
            setattr(KerasTensor, name, property(wrapped) if isinstance(value, property)
                    else wrapped)


install_tensor_operators()
install_symbolic_operators()
for _name, _value in list(globals().items()):
    if not _name.startswith("_") and callable(_value) and not isinstance(_value, type) \
            and getattr(_value, "__module__", "").startswith(__name__ + "."):
        globals()[_name] = _symbolic_aware(_value)
del _name, _value

# Every op, and nothing else (not the installers, the classes or the symbolic helpers); kept
# written out so that linters see the re-exports (tests/test_ops.py checks it is complete).
__all__ = [
    "arange", "cast", "convert_to_numpy", "convert_to_tensor", "equal", "eye", "full", "full_like",
    "greater", "greater_equal", "isfinite", "isnan", "less", "less_equal", "logical_and",
    "logical_not", "logical_or", "logical_xor", "not_equal", "one_hot", "ones", "ones_like",
    "shape", "stop_gradient", "zeros", "zeros_like", "abs", "absolute", "add", "ceil", "clip",
    "cos", "divide", "erf", "exp", "expm1", "floor", "log", "log1p", "maximum", "minimum",
    "multiply", "negative", "power", "reciprocal", "round", "sign", "sin", "sqrt", "square",
    "subtract", "tan", "tanh", "where", "dot", "matmul", "norm", "binary_crossentropy",
    "categorical_crossentropy", "elu", "gelu", "leaky_relu", "log_sigmoid", "log_softmax", "relu",
    "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "sparse_categorical_crossentropy",
    "swish", "amax", "amin", "argmax", "argmin", "cumsum", "logsumexp", "max", "mean", "min",
    "prod", "std", "sum", "var", "broadcast_to", "concatenate", "expand_dims", "get_item",
    "moveaxis", "pad", "ravel", "repeat", "reshape", "split", "squeeze", "stack", "swapaxes",
    "take", "take_along_axis", "tile", "transpose",
]
