"""Session-wide settings: the default float type, layer naming, and randomness.

Keras users know these as ``keras.backend``::

    import neuralab.backend as K
    K.clear_session()          # fresh layer names: dense, dense_1, ...
    K.set_floatx("float64")    # build new layers in float64

Randomness flows from one :class:`numpy.random.Generator`. ``set_seed(n)`` replaces
it, so that weight initialization, dropout masks and shuffling repeat bit for bit.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_ACCEPTED_FLOATX = ("float32", "float64")
_name_counts: defaultdict[str, int] = defaultdict(int)
_rng = np.random.default_rng()


def floatx() -> str:
    """The default float type of new layers and data (``"float32"`` unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: ``"float32"`` (default) or ``"float64"``.

    Layers built afterwards store parameters in this type; models cast inputs to it.
    Gradient checks build their layers with ``dtype="float64"`` explicitly instead.
    """
    global _FLOATX
    _FLOATX = standardize_dtype(value)


def standardize_dtype(dtype) -> str:
    """Return ``"float32"`` or ``"float64"`` for any spelling of those types."""
    if dtype is None:
        return _FLOATX
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in _ACCEPTED_FLOATX:
        raise ValueError(f"Unsupported dtype {dtype!r}: expected one of {list(_ACCEPTED_FLOATX)}")
    return name


def epsilon() -> float:
    """The fuzz factor used to clip probabilities in losses (Keras: 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def set_seed(seed: int | None) -> None:
    """Make everything reproducible: weight init, dropout masks, shuffling.

    Equivalent to ``keras.utils.set_random_seed``. ``None`` draws fresh entropy.
    """
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The session's generator; layers and trainers draw from it when not given one."""
    return _rng


def spawn_rng(seed: int | np.random.Generator | None = None) -> np.random.Generator:
    """A generator for a new consumer: from ``seed`` if given, else split off the session's.

    Spawning (rather than sharing) keeps each consumer's stream independent of how
    much the others draw, and stays deterministic under :func:`set_seed`.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        return np.random.default_rng(seed)
    return np.random.default_rng(_rng.integers(0, 2**63 - 1))


def to_snake_case(name: str) -> str:
    """Keras' rule: ``Dense`` -> ``dense``, ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` ->
    ``max_pooling2d``, ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2``, ... until :func:`clear_session`."""
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Reset automatic layer and model names (``dense``, ``dense_1``, ... start again)."""
    _name_counts.clear()
