"""Small Keras-compatible helpers: ``to_categorical``, ``set_random_seed``, ``normalize``, and
(as in ``keras.utils``) the custom-object functions of :mod:`neuralab.saving`."""

from __future__ import annotations

import numpy as np

from .backend import set_seed
from .saving import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

__all__ = ["to_categorical", "set_random_seed", "normalize", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope"]


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot encode integer labels: (N,) -> (N, num_classes) (Keras ``to_categorical``)."""
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if not np.issubdtype(y.dtype, np.integer) and (not np.all(np.isfinite(y))
                                                   or np.any(y != np.round(y))):
        raise ValueError(f"to_categorical expects integer labels, got dtype {y.dtype} with "
                         "non-integer values")
    y = y.astype(np.intp)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical expects labels >= 0, got {y.min()}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {y.max()} does not fit num_classes={num_classes}")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def set_random_seed(seed: int) -> None:
    """Keras ``keras.utils.set_random_seed``: same as :func:`neuralab.set_seed`."""
    set_seed(seed)


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale rows to unit ``order``-norm along ``axis`` (Keras ``utils.normalize``)."""
    x = np.asarray(x, dtype=float)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


class _NpUtils:
    """``keras.utils.np_utils`` compatibility: ``np_utils.to_categorical(...)``."""

    to_categorical = staticmethod(to_categorical)


np_utils = _NpUtils()


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool = True, **options):
    """A tqdm bar over ``total`` items, or a do-nothing bar when disabled, when there is
    nothing to count, or when tqdm is missing. Both have ``update(n)`` and ``close()``."""
    if not enabled or total <= 0:
        return _NullBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NullBar()
    return tqdm(total=total, **options)
