"""NumPy label helpers (Keras 2's ``keras.utils.np_utils``): ``to_categorical``, ``normalize``."""

from __future__ import annotations

import numpy as np

__all__ = ["to_categorical", "normalize"]


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


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale rows to unit ``order``-norm along ``axis`` (Keras ``utils.normalize``)."""
    x = np.asarray(x, dtype=float)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)
