"""MNIST and Fashion-MNIST from IDX files, in the layout of ``keras.datasets``.

``load_mnist(path)`` returns ``(x_train, y_train), (x_test, y_test)`` with images
uint8 of shape (N, 28, 28) and labels uint8 of shape (N,). ``path`` is a folder holding
the four files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``); without a path the
files come from the cache (see :mod:`neuralab.datasets.download`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .idx import DatasetFileError, read_idx

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")

_PARTS = {"train_images": "train-images", "train_labels": "train-labels",
          "test_images": "t10k-images", "test_labels": "t10k-labels"}


def find_idx_file(folder: Path, stem: str) -> Path:
    """``train-images-idx3-ubyte.gz`` or the raw/dotted variants of it in ``folder``."""
    dims = "idx3" if "images" in stem else "idx1"
    for name in (f"{stem}-{dims}-ubyte.gz", f"{stem}-{dims}-ubyte", f"{stem}.{dims}-ubyte",
                 f"{stem}.{dims}-ubyte.gz"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"No {stem}-{dims}-ubyte[.gz] in {folder}")


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if len(images) != len(labels):
        raise DatasetFileError(f"{images_path.name} has {len(images)} images but "
                               f"{labels_path.name} has {len(labels)} labels")
    return images, labels


def load_idx_folder(folder) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: {folder}")
    files = {key: find_idx_file(folder, stem) for key, stem in _PARTS.items()}
    train = read_idx_pair(files["train_images"], files["train_labels"])
    test = read_idx_pair(files["test_images"], files["test_labels"])
    return train, test


def load_mnist(path=None, download: bool = False):
    """MNIST digits: ``(x_train, y_train), (x_test, y_test)``, 60,000 + 10,000 images."""
    from .download import resolve_dataset_folder
    return load_idx_folder(resolve_dataset_folder("mnist", path, download))


def load_fashion_mnist(path=None, download: bool = False):
    """Fashion-MNIST: like :func:`load_mnist`; class names in :data:`FASHION_CLASSES`."""
    from .download import resolve_dataset_folder
    return load_idx_folder(resolve_dataset_folder("fashion_mnist", path, download))
