"""Session-wide settings: the default float type, layer naming, and randomness.

Keras users know these as ``keras.backend``::

    import neuralab.backend as K
    K.clear_session()          # fresh layer names: dense, dense_1, ...
    K.set_floatx("float64")    # build new layers in float64

Randomness flows from one :class:`numpy.random.Generator`. ``set_seed(n)`` replaces
it, so that weight initialization, dropout masks and shuffling repeat bit for bit.

``get_value(x)``/``set_value(x, value)`` read and write variables as in Keras: a
Parameter, an array, or ``optimizer.learning_rate`` (a :class:`ScalarVariable`), so the
Keras guide's scheduler ``set_value(model.optimizer.learning_rate, new_lr)`` works.
"""

from __future__ import annotations

import re
import weakref
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


def image_data_format() -> str:
    """Where images keep their channels: always ``"channels_last"`` (N, H, W, C) here."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    """Accepts ``"channels_last"`` only: neuralab's image layers read (N, H, W, C)."""
    if data_format != "channels_last":
        raise ValueError(f"neuralab supports data_format='channels_last' only, got {data_format!r}")


class ScalarVariable(float):
    """A number read from an object's attribute that can be written back, like a Keras
    variable: ``assign(value)`` (and :func:`set_value`) set the attribute again.

    ``optimizer.learning_rate`` returns one. It is a float everywhere else; in NumPy
    arithmetic it acts as a plain Python float (so float32 arrays stay float32), and
    copies and pickles are plain floats. The number itself does not change after
    ``assign``: read the attribute again for the new value.
    """

    def __new__(cls, value: float, owner, attribute: str):
        self = super().__new__(cls, value)
        self._owner = weakref.ref(owner)
        self._attribute = attribute
        return self

    def assign(self, value) -> None:
        owner = self._owner()
        if owner is None:
            raise ReferenceError(f"the object whose {self._attribute} this was no longer exists")
        setattr(owner, self._attribute, float(value))

    def numpy(self) -> np.float64:
        return np.float64(self)

    @property
    def value(self) -> float:
        """The number as a plain float (Keras ``variable.value``)."""
        return float(self)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(float(x) if isinstance(x, ScalarVariable) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __reduce__(self):
        return float, (float(self),)


def get_value(x):
    """The value of a variable (Keras ``backend.get_value``): a NumPy array or scalar."""
    numpy = getattr(x, "numpy", None)
    if callable(numpy):
        return numpy()
    return np.array(x) if isinstance(x, np.ndarray) else x


def set_value(x, value) -> None:
    """Set a variable in place (Keras ``backend.set_value``): a Parameter, an array, or
    ``optimizer.learning_rate``.

    Raises:
        TypeError: for a plain number, which cannot change in place.
    """
    assign = getattr(x, "assign", None)
    if callable(assign):
        assign(value)
    elif isinstance(x, np.ndarray):
        x[...] = value
    else:
        raise TypeError(f"set_value needs a variable (a Parameter, an array or "
                        f"optimizer.learning_rate), got {type(x).__name__} {x!r}, which cannot "
                        "change in place")


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
