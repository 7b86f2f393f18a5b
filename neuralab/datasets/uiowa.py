"""The UIowa musical-instrument MFCC features of the instrument lab.

Four NumPy files: ``uiowa_train_data.npy`` (66,247 x 120 float), ``uiowa_train_labels.npy``
(66,247 ints, 10 classes), ``uiowa_test_data.npy`` (14,904 x 120) and
``uiowa_test_labels.npy``. They are distributed only from a password-protected download
(see the lab), so this loader reads a local folder; the audio pipeline in
:mod:`neuralab.audio` builds features of the same shape from real recordings.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .idx import DatasetFileError

FILES = ("uiowa_train_data.npy", "uiowa_train_labels.npy", "uiowa_test_data.npy",
         "uiowa_test_labels.npy")


def load_npy(file: Path) -> np.ndarray:
    """``np.load`` with ``allow_pickle=False`` and an error that names the file."""
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found")
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as error:  # object arrays, truncation
        raise DatasetFileError(f"not a readable .npy array ({error})", file,
                               "a .npy of numbers, as numpy.save writes") from None
    if not isinstance(array, np.ndarray):
        raise DatasetFileError(f"holds a .npz archive of {len(array.files)} arrays", file,
                               "a single .npy array") from None
    return array


def load_uiowa(path, features: int = 120):
    """``(x_train, y_train), (x_test, y_test)``: float32 features (N, 120), int64 labels."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"UIowa feature folder not found: {folder}")
    arrays = [load_npy(folder / name) for name in FILES]
    out = []
    for (x, y), names in zip(((arrays[0], arrays[1]), (arrays[2], arrays[3])),
                             (FILES[:2], FILES[2:])):
        if x.ndim != 2 or x.shape[1] != features:
            raise DatasetFileError(f"{folder / names[0]}: expected features of shape "
                                   f"(N, {features}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
            raise DatasetFileError(f"{folder / names[0]}: features must be finite numbers")
        y = y.reshape(-1)
        if len(y) != len(x):
            raise DatasetFileError(f"{folder / names[1]}: {len(y)} labels for {len(x)} samples")
        if not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y)) or \
                (y.size and y.min() < 0):
            raise DatasetFileError(f"{folder / names[1]}: labels must be integers >= 0")
        out.append((x.astype(np.float32), y.astype(np.int64)))
    return tuple(out)
