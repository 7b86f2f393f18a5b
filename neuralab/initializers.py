"""Weight initializers (Keras names and defaults), all drawing from an explicit Generator.

An initializer is called as ``init(shape, dtype, rng)`` inside neuralab. With ``seed=`` it
ignores ``rng`` and returns the same values every call, as Keras does for seeded initializers.
Keras 3's call ``init(shape, dtype=None)`` (no ``rng``) draws from the session generator and
returns a :class:`KerasValue`, an array that also converts with ``float()`` when it holds one
value and has ``.numpy()``: ``float(RandomNormal()(shape=(1, 1)))``.

Fans of a kernel: Dense (in, out) has fan_in = in, fan_out = out; a Conv2D kernel
(kh, kw, in, out) has fan_in = kh*kw*in and fan_out = kh*kw*out.

=====================  =======================================================
name                   distribution
=====================  =======================================================
zeros, ones            constant 0 / 1
constant(value)        constant ``value``
random_normal          N(mean=0, stddev=0.05)
random_uniform         U(minval=-0.05, maxval=0.05); the lecture's U(-0.7, 0.7)
                       is ``RandomUniform(-0.7, 0.7)``
truncated_normal       N(0, 0.05) redrawn beyond 2 stddev
glorot_uniform         U(-l, l), l = sqrt(6 / (fan_in + fan_out))  (Xavier)
glorot_normal          truncated N(0, sqrt(2 / (fan_in + fan_out)) / .8796)
he_uniform / he_normal   as Glorot with scale 2 / fan_in
lecun_uniform / lecun_normal  as Glorot with scale 1 / fan_in
orthogonal(gain)       gain * Q of the QR decomposition of a normal matrix
=====================  =======================================================
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager

import numpy as np

from . import backend, saving
from .registry import Registry

# stddev of a standard normal truncated to [-2, 2]; dividing by it restores the variance.
_TRUNCATION_STD = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``; the last axis is the output axis."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class KerasValue(np.ndarray):
    """What a Keras-style call ``init(shape, dtype=None)`` returns: an ndarray that, like a
    Keras tensor, converts with ``float()``/``int()`` when it holds a single value and has
    ``.numpy()``."""

    def __float__(self) -> float:
        if self.size != 1:
            raise TypeError(f"only arrays of one value convert to float, got shape {self.shape}")
        return float(self.view(np.ndarray).reshape(-1)[0])

    def __int__(self) -> int:
        return int(float(self))

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray).copy()


_KERAS_CALL = object()  # rng left out: the Keras 3 signature init(shape, dtype=None)


class Initializer:
    """Base class: ``__call__(shape, dtype=None, rng=None) -> ndarray``.

    Without ``rng`` (Keras 3's ``init(shape, dtype=None)``) the result is a
    :class:`KerasValue`; neuralab's layers pass their generator and get a plain array.
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def _rng(self, rng: np.random.Generator | None) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        return rng if rng is not None else backend.get_rng()

    def __call__(self, shape, dtype=None, rng=_KERAS_CALL) -> np.ndarray:
        keras_call = rng is _KERAS_CALL
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        dtype = backend.standardize_dtype(dtype)
        value = np.asarray(self.sample(shape, self._rng(None if keras_call else rng)), dtype=dtype)
        return value.view(KerasValue) if keras_call else value

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed} if self.seed is not None else {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        super().__init__()
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        if stddev < 0:
            raise ValueError(f"RandomNormal needs stddev >= 0, got {stddev!r}")
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        if maxval < minval:
            raise ValueError(f"RandomUniform needs minval <= maxval, got {minval!r} > {maxval!r}")
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def _truncated_normal(rng: np.random.Generator, stddev: float, shape) -> np.ndarray:
    """N(0, stddev) with values beyond 2 stddev redrawn."""
    x = rng.standard_normal(size=shape)
    outside = np.abs(x) > 2
    while outside.any():
        x[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(x) > 2
    return x * stddev


class TruncatedNormal(RandomNormal):
    def sample(self, shape, rng):
        return self.mean + _truncated_normal(rng, self.stddev, shape)


class VarianceScaling(Initializer):
    """Variance ``scale / n`` with n = fan_in, fan_out or their average (Keras semantics)."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling needs scale > 0, got {scale!r}")
        if mode not in self._MODES:
            raise ValueError(f"Unknown mode {mode!r}; accepted: {list(self._MODES)}")
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Unknown distribution {distribution!r}; accepted: {list(self._DISTRIBUTIONS)}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def sample(self, shape, rng):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        return _truncated_normal(rng, math.sqrt(variance) / _TRUNCATION_STD, shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


def _preset(name: str, scale: float, mode: str, distribution: str):
    class Preset(VarianceScaling):
        def __init__(self, seed: int | None = None):
            super().__init__(scale, mode, distribution, seed)

        def get_config(self):
            return {"seed": self.seed} if self.seed is not None else {}

    Preset.__name__ = Preset.__qualname__ = name
    return Preset


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")

class Orthogonal(Initializer):
    """Keras' ``Orthogonal(gain=1.0, seed=None)``: a random matrix with orthonormal columns
    (or rows, when it is wider than tall), times ``gain``.

    The shape is flattened to (prod(shape[:-1]), shape[-1]) (a conv kernel's last axis is
    its output); ``q`` of the QR decomposition of a standard normal (max, min) matrix, with
    the signs of ``diag(r)`` folded in so the draw is uniform over orthogonal matrices, then
    transposed when there are fewer rows than columns.
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = float(gain)

    def sample(self, shape, rng):
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


OrthogonalInitializer = Orthogonal  # Keras 3's other name for it


class _Callable(Initializer):
    """Wraps ``f(shape, dtype)`` functions, as Keras accepts them."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __call__(self, shape, dtype=None, rng=None):
        return np.asarray(self.fn(tuple(shape), backend.standardize_dtype(dtype)),
                          dtype=backend.standardize_dtype(dtype))


_REGISTRY = Registry("initializer", Initializer, {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
}, aliases={"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
            "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal", "zero": "zeros",
            "normal": "random_normal", "uniform": "random_uniform",
            "OrthogonalInitializer": "orthogonal"},
    wrap_function=_Callable)


_local = threading.local()


@contextmanager
def deferred():
    """Inside the block, new weights are allocated but not initialized (``np.empty``):
    a model being loaded gets its stored values copied in, and a file that declares huge
    layers costs no memory before its stored shapes are compared (untouched pages)."""
    previous = getattr(_local, "deferred", False)
    _local.deferred = True
    try:
        yield
    finally:
        _local.deferred = previous


def is_deferred() -> bool:
    return getattr(_local, "deferred", False)


def get(identifier) -> Initializer:
    """Resolve a name (``"glorot_uniform"``), a class name, a config dict, an Initializer
    (class or instance) or a function ``f(shape, dtype)``."""
    return _REGISTRY.get(identifier)


def serialize(initializer: Initializer) -> dict | str:
    """``{"class_name": ..., "config": ...}``; a function registered with
    ``register_keras_serializable`` is saved as its registered name."""
    if isinstance(initializer, _Callable):
        if saving.is_registered(initializer.fn):
            return saving.get_registered_name(initializer.fn)
        raise ValueError("A plain function initializer cannot be saved; use an Initializer class "
                         "or decorate the function with @register_keras_serializable()")
    return _REGISTRY.serialize(initializer)


def deserialize(config, custom_objects: dict | None = None) -> Initializer:
    """Inverse of :func:`serialize`; ``custom_objects`` maps names to your own classes."""
    return _REGISTRY.deserialize(config, custom_objects)
