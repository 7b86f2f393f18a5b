"""Preprocessing: standardizing with training statistics, [-1, 1] scaling, one-hot, splits.

Where scikit-learn already does the job (``StandardScaler``, ``train_test_split``) these are
thin wrappers around it, imported only when used.
"""

from __future__ import annotations

import numpy as np

from ..utils import to_categorical

__all__ = ["standardize", "minmax_scale", "to_categorical", "train_val_split"]


def _sklearn(what: str):
    try:
        import sklearn  # noqa: F401
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(f"{what} uses scikit-learn: pip install 'neuralab[data]'") from None


def standardize(x_train, *others):
    """Zero mean, unit variance per feature with the *training* statistics.

    Returns ``(x_train_scaled, *others_scaled, scaler)``; the fitted
    :class:`sklearn.preprocessing.StandardScaler` transforms later data the same way.
    Images are flattened to features for fitting and reshaped back.
    """
    _sklearn("standardize")
    from sklearn.preprocessing import StandardScaler
    x_train = np.asarray(x_train)
    shape = x_train.shape[1:]
    scaler = StandardScaler().fit(x_train.reshape(len(x_train), -1))

    def apply(x):
        x = np.asarray(x)
        if x.shape[1:] != shape:
            raise ValueError(f"standardize: expected samples of shape {shape}, got {x.shape[1:]}")
        return scaler.transform(x.reshape(len(x), -1)).reshape(x.shape).astype(np.float32)

    return (apply(x_train), *[apply(x) for x in others], scaler)


def minmax_scale(x, feature_range=(-1.0, 1.0), data_range=None):
    """Map ``[min, max]`` of ``x`` (over all values, as the EE449 homework does) linearly onto
    ``feature_range``. Pass the training set's ``data_range=(min, max)`` to scale other data
    identically. Returns ``(scaled float32 array, (min, max))``."""
    x = np.asarray(x, dtype=np.float32)
    lo, hi = feature_range
    if not hi > lo:
        raise ValueError(f"feature_range must be increasing, got {feature_range}")
    data_min, data_max = (float(x.min()), float(x.max())) if data_range is None else map(float, data_range)
    span = data_max - data_min
    if span <= 0:
        raise ValueError(f"cannot scale constant data (min = max = {data_min})")
    scaled = (x - data_min) * ((hi - lo) / span) + lo
    return scaled.astype(np.float32), (data_min, data_max)


def train_val_split(x, y, val_fraction: float = 0.1, stratify: bool = False, seed: int = 0):
    """``x_train, x_val, y_train, y_val`` (scikit-learn's ``train_test_split``, shuffled with
    ``seed``; ``stratify=True`` keeps the class proportions in both parts)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    _sklearn("train_val_split")
    from sklearn.model_selection import train_test_split
    return train_test_split(x, y, test_size=val_fraction, random_state=seed,
                            stratify=np.asarray(y) if stratify else None)
