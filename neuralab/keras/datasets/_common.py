"""What the ``load_data`` functions share: reading Keras' own ``.npz`` files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_KEYS = ("x_train", "y_train", "x_test", "y_test")


def is_npz(path) -> bool:
    return path is not None and Path(path).suffix == ".npz"


def load_npz(path):
    """``(x_train, y_train), (x_test, y_test)`` from a Keras dataset ``.npz`` (no pickles)."""
    with np.load(Path(path), allow_pickle=False) as data:
        missing = [key for key in _KEYS if key not in data]
        if missing:
            raise ValueError(f"{path}: not a Keras dataset file, missing {missing}")
        x_train, y_train, x_test, y_test = (data[key] for key in _KEYS)
    return (x_train, y_train), (x_test, y_test)
