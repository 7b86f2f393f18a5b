"""``keras.random``: random tensors drawn from neuralab's seeded generator.

Each function takes Keras' arguments; ``seed`` may be an int (the same numbers on every
call, as in Keras), a :class:`SeedGenerator` (a stream that advances per call) or None (the
session's generator, reproducible under :func:`neuralab.set_seed`). Results are constant
tensors; :func:`dropout` multiplies its input by the mask, so its gradient flows.
"""

from __future__ import annotations

import numpy as np

from .. import backend, ops
from ..tensor import Tensor

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "dropout",
           "shuffle"]


class SeedGenerator:
    """A random stream (Keras ``keras.random.SeedGenerator``): each draw advances it.

    Example:
        >>> gen = SeedGenerator(42)
        >>> bool((normal((2,), seed=gen) != normal((2,), seed=gen)).numpy().any())
        True
    """

    def __init__(self, seed: int | None = None):
        self.rng = backend.spawn_rng(seed)


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, SeedGenerator):
        return seed.rng
    if seed is None:
        return backend.get_rng()
    if isinstance(seed, (int, np.integer)):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int, a keras.random.SeedGenerator or None, got "
                    f"{type(seed).__name__}")


def _shape(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))


def _float(values: np.ndarray, dtype) -> Tensor:
    return Tensor(values.astype(backend.standardize_dtype(dtype)))


def normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=None, seed=None) -> Tensor:
    """Samples of N(mean, stddev**2), of ``shape``."""
    return _float(_rng(seed).normal(mean, stddev, size=_shape(shape)), dtype)


def uniform(shape, minval: float = 0.0, maxval: float = 1.0, dtype=None, seed=None) -> Tensor:
    """Samples of U[minval, maxval), of ``shape``."""
    return _float(_rng(seed).uniform(minval, maxval, size=_shape(shape)), dtype)


def truncated_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=None,
                     seed=None) -> Tensor:
    """N(mean, stddev**2) samples redrawn until within two standard deviations (Keras)."""
    rng = _rng(seed)
    values = rng.normal(size=_shape(shape))
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.normal(size=int(outside.sum()))
        outside = np.abs(values) > 2
    return _float(mean + stddev * values, dtype)


def randint(shape, minval: int, maxval: int, dtype="int32", seed=None) -> Tensor:
    """Integers in [minval, maxval), of ``shape``."""
    return Tensor(_rng(seed).integers(minval, maxval, size=_shape(shape)).astype(dtype))


def dropout(inputs, rate: float, noise_shape=None, seed=None) -> Tensor:
    """``inputs * mask / (1 - rate)`` with each mask entry 0 with probability ``rate``
    (``noise_shape`` broadcasts one mask over axes of size 1). Differentiable in ``inputs``.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
    x = ops.convert_to_tensor(inputs)
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = _rng(seed).random(shape) >= rate
    return ops.multiply(x, (keep / (1.0 - rate)).astype(x.dtype))


def shuffle(x, axis: int = 0, seed=None) -> Tensor:
    """``x`` with its entries along ``axis`` in a random order."""
    values = np.asarray(x.data if isinstance(x, Tensor) else x)
    order = _rng(seed).permutation(values.shape[axis])
    return Tensor(np.take(values, order, axis=axis))
