"""CIFAR-10 from its python batches, read without ever executing code from the files.

The batches (``data_batch_1`` .. ``data_batch_5``, ``test_batch``) are Python pickles of a
dict with ``data`` (10000 x 3072 uint8, each row R then G then B planes of 32x32) and
``labels`` (list of ints). Unpickling runs code named in the file, so we use a restricted
unpickler that accepts only the NumPy array machinery those files contain; anything else
(``os.system``, ``builtins.eval``, ...) is refused with :class:`UnsafePickleError`.

``load_cifar10(path)`` returns ``(x_train, y_train), (x_test, y_test)`` with images uint8
of shape (N, 32, 32, 3) (channels last, like Keras) and labels uint8 of shape (N,).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ..errors import InputError
from .idx import DatasetFileError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

# The only globals a CIFAR-10 batch (or a NumPy array pickle) refers to.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes the bytes of an array in protocol 2
}


class UnsafePickleError(pickle.UnpicklingError, InputError):
    """A pickle asked for something a dataset file never needs (it is not loaded).

    Also an :class:`~neuralab.errors.InputError`: the command line reports it as bad input.
    """

    def __init__(self, what: str, source=None, expected: str | None = None):
        InputError.__init__(self, what, source, expected)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            if module == "numpy.core.multiarray" and hasattr(np, "_core"):
                module = "numpy._core.multiarray"  # NumPy 2's name, without its deprecation
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refusing to load {module}.{name}: not a genuine CIFAR-10 batch (it may run code)",
            expected="a CIFAR-10 batch, which holds only NumPy arrays, lists and strings")


def safe_unpickle(data: bytes):
    """Unpickle ``data`` allowing only NumPy arrays, dicts, lists, numbers and strings."""
    return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()


def _field(batch: dict, name: str):
    for key in (name, name.encode()):
        if key in batch:
            return batch[key]
    raise KeyError(name)


def read_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (images (N, 32, 32, 3) uint8, labels (N,) uint8)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch not found: {path}")
    try:
        batch = safe_unpickle(path.read_bytes())
    except UnsafePickleError as error:
        raise UnsafePickleError(error.what, path, error.expected) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError) as error:
        raise DatasetFileError(f"{path}: not a readable CIFAR-10 batch ({error}); the file is "
                               "damaged or truncated") from None
    if not isinstance(batch, dict):
        raise DatasetFileError(f"{path}: expected a dict with 'data' and 'labels', got "
                               f"{type(batch).__name__}")
    try:
        data, labels = _field(batch, "data"), _field(batch, "labels")
    except KeyError as missing:
        raise DatasetFileError(f"{path}: missing the {missing} entry of a CIFAR-10 batch") from None
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetFileError(f"{path}: 'data' should be uint8 of shape (N, 3072), got "
                               f"{data.dtype} {data.shape}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(data):
        raise DatasetFileError(f"{path}: {len(data)} images but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetFileError(f"{path}: labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.uint8)


def load_cifar10(path=None, download: bool = False):
    """CIFAR-10: ``(x_train, y_train), (x_test, y_test)``, 50,000 + 10,000 images."""
    from .download import resolve_dataset_folder
    folder = resolve_dataset_folder("cifar10", path, download)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    parts = [read_batch(folder / name) for name in TRAIN_BATCHES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_batch(folder / TEST_BATCH)
    return (x_train, y_train), (x_test, y_test)


def write_batch(path, images: np.ndarray, labels, batch_label: str = "fixture") -> None:
    """Write a batch in the CIFAR-10 python layout (for fixtures and converted data)."""
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(f"images must have shape (N, 32, 32, 3), got {images.shape}")
    batch = {b"batch_label": batch_label.encode(), b"labels": [int(v) for v in labels],
             b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), 3072),
             b"filenames": [f"img_{i}.png".encode() for i in range(len(images))]}
    from ..io_utils import atomic_write_bytes
    atomic_write_bytes(path, pickle.dumps(batch, protocol=2))
