"""Random tensors from one NumPy generator; ``manual_seed`` reseeds it and neuralab's own.

The streams are NumPy's, not PyTorch's: a seed gives reproducible runs here, not PyTorch's
numbers (copy a PyTorch ``state_dict`` in to start from PyTorch's weights).
"""

from __future__ import annotations

import numpy as np

from neuralab import backend

from ._tensor import Tensor, _array, as_dtype, get_default_dtype, numpy_dtype, wrap
from ._tensor import _EngineTensor as EngineTensor

_generator = np.random.default_rng()


class Generator:
    """``torch.Generator()``: a seeded stream for ``DataLoader(shuffle=True, generator=...)``."""

    def __init__(self, device="cpu"):
        self.rng = np.random.default_rng()

    def manual_seed(self, seed: int) -> Generator:
        self.rng = np.random.default_rng(seed)
        return self


def manual_seed(seed: int) -> Generator:
    """Seed the random streams of ``neuralab.torch`` and of neuralab (dropout, shuffles)."""
    global _generator
    _generator = np.random.default_rng(seed)
    backend.set_seed(seed)
    generator = Generator()
    generator.rng = _generator
    return generator


seed = manual_seed


def get_generator(generator: Generator | None = None) -> np.random.Generator:
    return generator.rng if generator is not None else _generator


def _shape(size) -> tuple:
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _float(values: np.ndarray, dtype, requires_grad: bool) -> Tensor:
    out = wrap(EngineTensor(values.astype(numpy_dtype(dtype) or get_default_dtype().numpy)))
    return out.requires_grad_() if requires_grad else out


def rand(*size, generator=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Uniform on [0, 1)."""
    return _float(get_generator(generator).random(_shape(size)), dtype, requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Standard normal."""
    return _float(get_generator(generator).standard_normal(_shape(size)), dtype, requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` as in PyTorch)."""
    if high is None:
        low, high = 0, low
    values = get_generator(generator).integers(low, high, tuple(size))
    return wrap(EngineTensor(values.astype(numpy_dtype(dtype) or np.int64)))


def randperm(n: int, generator=None, dtype=None, device=None) -> Tensor:
    return wrap(EngineTensor(get_generator(generator).permutation(n).astype(numpy_dtype(dtype) or np.int64)))


def normal(mean, std, size=None, generator=None) -> Tensor:
    mean_array, std_array = np.asarray(_array(mean)), np.asarray(_array(std))
    values = get_generator(generator).normal(mean_array, std_array, size)
    dtype = mean_array.dtype if mean_array.dtype.kind == "f" else get_default_dtype().numpy
    return wrap(EngineTensor(np.asarray(values, dtype=dtype)))


def rand_like(x: Tensor, dtype=None) -> Tensor:
    return rand(*x.shape, dtype=as_dtype(dtype) or x.dtype)


def randn_like(x: Tensor, dtype=None) -> Tensor:
    return randn(*x.shape, dtype=as_dtype(dtype) or x.dtype)


def bernoulli(p: Tensor, generator=None) -> Tensor:
    probabilities = _array(p)
    return wrap(EngineTensor((get_generator(generator).random(probabilities.shape) < probabilities)
                             .astype(probabilities.dtype)))
