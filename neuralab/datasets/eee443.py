"""The Bilkent EEE443 homework files: cat vs car, handwritten letters, next-word trigrams.

* ``assign2_data1.h5`` (cat vs car): ``trainims`` (1900, 32, 32) and ``testims`` (1000, 32,
  32) uint8, ``trainlbls``/``testlbls`` 0 = cat, 1 = car. The file was written by MATLAB
  (column-major), so every image is stored transposed; :func:`load_cat_vs_car` returns them
  upright.
* the letters set, ``assign1_data1.h5`` or its ``.npy`` copy (``train_images.npy`` of shape
  (28, 28, 5200), Fortran order, upright as ``X[:, :, i]``; labels 1..26): returned as
  (N, 28, 28) uint8 images and labels 0..25.
* ``assign2_data2.h5`` (next word): ``trainx``/``valx``/``testx`` (N, 3) word ids and
  ``traind``/``vald``/``testd`` (N,) the fourth word, all **1-based**, and ``words`` (250,)
  bytes. :func:`load_nextword` returns **0-based** ids (ready for ``Embedding``) and the
  words as ``str``; :func:`save_nextword` writes the 1-based file layout back.

All arrays come out fully validated: a missing key, a wrong shape, a label count that does
not match the image count, or pixels that are not integers in 0..255 (``[0, 1]``-scaled
floats, NaN, negative or wrapped values) raise :class:`DatasetFileError` naming the file,
the key, what was found and what was expected. Nothing is cast silently.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io_utils import atomic_path
from .idx import DatasetFileError
from .uiowa import load_npy

CAT_VS_CAR_CLASSES = ("cat", "car")
LETTER_CLASSES = tuple(chr(ord("a") + i) for i in range(26))


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("Reading .h5 files needs h5py: pip install 'neuralab[data]'") from None
    return h5py


@contextlib.contextmanager
def _open_h5(path):
    """An HDF5 file opened for reading; a missing or unreadable file gets a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HDF5 file not found: {path}")
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            yield f
    except OSError as error:
        raise DatasetFileError(f"{path}: not a readable HDF5 file ({error})") from None


def read_h5(path, keys) -> dict[str, np.ndarray]:
    """Read ``keys`` from an HDF5 file into memory, with clear errors."""
    with _open_h5(path) as f:
        missing = [k for k in keys if k not in f]
        if missing:
            raise DatasetFileError(f"{path}: missing key(s) {missing}; it holds {sorted(f.keys())}")
        return {k: np.asarray(f[k]) for k in keys}


def read_h5_keys(path) -> dict[str, tuple]:
    """``{key: (shape, dtype)}`` of the datasets at the top of an HDF5 file."""
    with _open_h5(path) as f:
        dataset = _h5py().Dataset
        return {k: (f[k].shape, f[k].dtype) for k in f if isinstance(f[k], dataset)}


_PIXELS = "uint8 pixel values: integers in 0..255"


def _range(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    return f"{finite.min():g}..{finite.max():g}" if finite.size else "no finite values"


def _pixels(values, path, key: str) -> np.ndarray:
    """``values`` as uint8 after checking that it holds integers in 0..255 (no silent cast).

    Raises:
        DatasetFileError: non-numeric data, NaN or infinities, values outside 0..255 (they
            would wrap), or fractions (e.g. images scaled to [0, 1], which would become 0/1).
    """
    values = np.asarray(values)
    found = f"dataset {key!r} holds {values.dtype}"
    if values.dtype == np.uint8:
        return values
    if values.dtype.kind not in "iuf":
        raise DatasetFileError(f"{found} data", path, _PIXELS)
    if values.size == 0:
        return values.astype(np.uint8)
    if values.dtype.kind == "f":
        bad = np.count_nonzero(~np.isfinite(values))
        if bad:
            raise DatasetFileError(f"{found} with {bad:,} NaN or infinite values (the others "
                                   f"in {_range(values)})", path, _PIXELS)
    low, high = values.min(), values.max()
    if low < 0 or high > 255:
        raise DatasetFileError(f"{found} values in {low:g}..{high:g}, outside 0..255", path,
                               _PIXELS)
    if values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        hint = "; images scaled to [0, 1] must be multiplied by 255 and rounded" if high <= 1 else ""
        raise DatasetFileError(f"{found} values in {low:g}..{high:g} with fractions (not whole "
                               f"numbers){hint}", path, _PIXELS)
    return values.astype(np.uint8)


def _labels(values: np.ndarray, n: int, what: str, path, low: int, high: int) -> np.ndarray:
    values = np.asarray(values).reshape(-1)
    if len(values) != n:
        raise DatasetFileError(f"{path}: {n} images but {len(values)} {what} labels")
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) \
            or (values.size and (values.min() < low or values.max() > high)):
        raise DatasetFileError(f"{path}: {what} labels must be integers in {low}..{high}, "
                               f"found {values.dtype} values in {_range(values)}")
    return values.astype(np.int64)


def load_cat_vs_car(path):
    """``(x_train, y_train), (x_test, y_test)``: upright (N, 32, 32) uint8 images, labels
    0 = cat, 1 = car (int64)."""
    data = read_h5(path, ["trainims", "trainlbls", "testims", "testlbls"])
    out = []
    for ims, lbls in (("trainims", "trainlbls"), ("testims", "testlbls")):
        images = data[ims]
        if images.ndim != 3 or images.shape[1:] != (32, 32):
            raise DatasetFileError(f"{path}: {ims} should have shape (N, 32, 32), got {images.shape}")
        upright = np.ascontiguousarray(_pixels(images, path, ims).transpose(0, 2, 1))
        out.append((upright, _labels(data[lbls], len(images), lbls, path, 0, 1)))
    return tuple(out)


def load_letters(path):
    """The EEE443 letters: ``(x_train, y_train), (x_test, y_test)``, images (N, 28, 28) uint8,
    labels 0..25 (the files' 1..26 minus one).

    ``path`` is the ``.h5`` file or a folder with ``train_images.npy``, ``train_labels.npy``,
    ``test_images.npy``, ``test_labels.npy``.
    """
    path = Path(path)
    if path.is_dir():
        arrays = {}
        for name in ("train_images", "train_labels", "test_images", "test_labels"):
            file = path / f"{name}.npy"
            if not file.is_file():
                raise FileNotFoundError(f"{file} not found (expected the letters .npy files)")
            arrays[name] = load_npy(file)
        pairs = [("train_images", "train_labels"), ("test_images", "test_labels")]
    else:
        data = read_h5(path, ["trainims", "trainlbls", "testims", "testlbls"])
        arrays = {"train_images": data["trainims"], "train_labels": data["trainlbls"],
                  "test_images": data["testims"], "test_labels": data["testlbls"]}
        pairs = [("train_images", "train_labels"), ("test_images", "test_labels")]
    out = []
    for ims, lbls in pairs:
        images = np.asarray(arrays[ims])
        if images.ndim == 3 and images.shape[:2] == (28, 28):
            images = images.transpose(2, 0, 1)  # (28, 28, N) as stored: image i is X[:, :, i]
        elif images.ndim == 3 and images.shape[1:] == (28, 28) and path.suffix == ".h5":
            images = images.transpose(0, 2, 1)  # MATLAB column-major, as assign2_data1.h5
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DatasetFileError(f"{path}: {ims} should hold 28x28 images, got shape "
                                   f"{np.asarray(arrays[ims]).shape}")
        labels = _labels(arrays[lbls], len(images), lbls, path, 1, 26) - 1
        source = path / f"{ims}.npy" if path.is_dir() else path
        out.append((np.ascontiguousarray(_pixels(images, source, ims)), labels))
    return tuple(out)


@dataclass
class NextWordData:
    """Next-word samples with 0-based ids: ``x_*`` (N, 3) context, ``y_*`` (N,) fourth word."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    words: list[str]

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def decode(self, ids) -> list[str]:
        return [self.words[int(i)] for i in np.asarray(ids).reshape(-1)]


_NEXTWORD_KEYS = ("trainx", "traind", "valx", "vald", "testx", "testd", "words")


def load_nextword(path) -> NextWordData:
    """Read ``assign2_data2.h5`` (or a file written by :func:`save_nextword`)."""
    data = read_h5(path, _NEXTWORD_KEYS)
    words = [w.decode("utf-8") if isinstance(w, bytes) else str(w)
             for w in np.asarray(data["words"]).reshape(-1)]
    k = len(words)
    parts = []
    for xs, ds in (("trainx", "traind"), ("valx", "vald"), ("testx", "testd")):
        x = np.asarray(data[xs])
        if x.ndim == 2 and x.shape[0] == 3 and x.shape[1] != 3:
            x = x.T  # MATLAB layout (3, N)
        if x.ndim != 2 or x.shape[1] != 3:
            raise DatasetFileError(f"{path}: {xs} should have shape (N, 3), got {x.shape}")
        ids = _labels(x.reshape(-1), x.size, xs, path, 1, k).reshape(x.shape) - 1
        targets = _labels(data[ds], len(x), ds, path, 1, k) - 1
        parts += [ids, targets]
    return NextWordData(*parts, words=words)


def save_nextword(path, data: NextWordData) -> None:
    """Write ``data`` in the EEE443 layout (1-based ids, words as bytes), atomically."""
    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for key, array in (("trainx", data.x_train), ("traind", data.y_train),
                           ("valx", data.x_val), ("vald", data.y_val),
                           ("testx", data.x_test), ("testd", data.y_test)):
            f.create_dataset(key, data=np.asarray(array, dtype=np.int64) + 1)
        f.create_dataset("words", data=np.array([w.encode("utf-8") for w in data.words]))
