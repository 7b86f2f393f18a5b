"""scikit-learn's built-in 8x8 digits (1,797 images, shipped with scikit-learn: no download)."""

from __future__ import annotations

import numpy as np


def load_digits(test_size: float = 0.25, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: float32 images (N, 8, 8) in 0..16, labels 0..9,
    split stratified by class."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("load_digits needs scikit-learn: pip install 'neuralab[data]'") from None
    from .preprocessing import train_val_split
    bunch = sk_load_digits()
    x = bunch.images.astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_val_split(x, y, test_size, stratify=True, seed=seed)
    return (x_train, y_train), (x_test, y_test)
