"""PyTorch's API on neuralab's engine: change ``import torch`` to ``import neuralab.torch as torch``.

    import neuralab.torch as torch
    import neuralab.torch.nn as nn
    import neuralab.torch.nn.functional as F
    import neuralab.torch.optim as optim
    from neuralab.torch.utils.data import DataLoader, TensorDataset
    from neuralab.torch.vision import datasets, transforms      # torchvision

Tensors (:mod:`._tensor`) wrap the engine's :class:`neuralab.tensor.Tensor`, so every
operation records one node whose backward is written out in :mod:`neuralab.ops` (or in
:mod:`.nn._kernels` for the fused layers); ``loss.grad_fn`` names the last one and
:func:`draw_dot` prints the whole graph with values and gradients. Layers use PyTorch's
layouts (NCHW, weight (out, in)), default initialisations and ``state_dict`` keys; the
optimisers and schedulers PyTorch's update rules. Runs on the CPU; random streams are
NumPy's (seeded by :func:`manual_seed`), not PyTorch's.

``import neuralab`` does not import this package; import it explicitly.
"""

import builtins as _builtins
from types import SimpleNamespace as _Namespace

from neuralab import parallel as _parallel
from neuralab.tensor import enable_grad, is_grad_enabled, no_grad

from ._functions import (
    abs,
    add,
    all,
    allclose,
    any,
    arange,
    argmax,
    argmin,
    bmm,
    cat,
    ceil,
    clamp,
    clip,
    concat,
    concatenate,
    cos,
    div,
    dot,
    empty,
    empty_like,
    eq,
    equal,
    exp,
    expm1,
    eye,
    flatten,
    floor,
    full,
    full_like,
    isnan,
    linspace,
    log,
    log1p,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    numel,
    ones,
    ones_like,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    sum,
    t,
    tanh,
    topk,
    transpose,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)
from ._tensor import (
    GradFn,
    Size,
    Tensor,
    as_tensor,
    bool,
    device,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    from_numpy,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    is_tensor,
    long,
    set_default_dtype,
    short,
    tensor,
    uint8,
)
from .graph import draw_dot, graph_text
from .random import (
    Generator,
    bernoulli,
    manual_seed,
    normal,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    seed,
)
from .serialization import load, save


class _SetGradEnabled:
    """``torch.set_grad_enabled(False)`` as a call or a ``with`` block."""

    def __init__(self, mode):
        from neuralab import tensor as _engine
        self._engine, self._previous = _engine, is_grad_enabled()
        _engine._state.enabled = _builtins.bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._engine._state.enabled = self._previous


def set_num_threads(n: int) -> None:
    """``torch.set_num_threads(n)``: neuralab's own parallel work (:mod:`neuralab.parallel`)
    runs on ``n`` threads and BLAS's products on at most ``n`` (through threadpoolctl), as
    PyTorch's intra-op threads and its BLAS do. Raises PyTorch's ``RuntimeError`` for
    anything but a positive ``int``."""
    if isinstance(n, _builtins.bool) or not isinstance(n, _builtins.int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    from threadpoolctl import threadpool_limits
    _parallel.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")


def get_num_threads() -> int:
    """``torch.get_num_threads()``: the threads neuralab's parallel work runs on (one on a
    machine of two cores or fewer unless :func:`set_num_threads` says otherwise)."""
    return _parallel.get_num_threads()


set_grad_enabled = _SetGradEnabled
inference_mode = no_grad
cuda = _Namespace(is_available=lambda: False, device_count=lambda: 0, manual_seed=lambda value: None,
                  manual_seed_all=lambda value: None)
backends = _Namespace(mps=_Namespace(is_available=lambda: False))
__version__ = "2.0.0+neuralab"

from . import autograd, nn, optim  # noqa: E402  (nn and optim use the tensor defined above)

__all__ = [
    "autograd", "nn", "optim",
    "Generator", "GradFn", "Size", "Tensor", "abs", "add", "all", "allclose", "any", "arange",
    "argmax", "argmin", "as_tensor", "backends", "bernoulli", "bmm", "bool", "cat", "ceil",
    "clamp", "clip", "concat", "concatenate", "cos", "cuda", "device", "div", "dot", "double",
    "draw_dot", "graph_text", "dtype", "empty", "empty_like", "enable_grad", "eq", "equal", "exp", "expm1",
    "eye", "flatten", "float", "float16", "float32", "float64", "floor", "from_numpy", "full",
    "full_like", "get_default_dtype", "get_num_threads", "half", "inference_mode", "int",
    "int16", "int32", "int64",
    "int8", "is_grad_enabled", "is_tensor", "isnan", "linspace", "load", "log", "log1p",
    "log_softmax", "logsumexp", "long", "manual_seed", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mm", "mul", "no_grad", "normal", "numel", "ones", "ones_like", "permute", "pow",
    "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "relu", "reshape", "save",
    "seed", "set_default_dtype", "set_grad_enabled", "set_num_threads", "short", "sigmoid",
    "sign", "sin", "softmax",
    "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "t", "tanh", "tensor", "topk",
    "transpose", "uint8", "unsqueeze", "var", "where", "zeros", "zeros_like",
]
