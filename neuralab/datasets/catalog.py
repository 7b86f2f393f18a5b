"""What datasets neuralab knows, where they live, and a description of any data file.

Used by the ``neuralab data list|get|info`` commands.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import download, idx, npzfile


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    size: str
    source: str  # "download", "local" (a file you have), or "built-in"


CATALOG = (
    Entry("mnist", "MNIST digits, 60,000 + 10,000 28x28 images, 10 classes", "11 MB", "download"),
    Entry("fashion_mnist", "Fashion-MNIST, 60,000 + 10,000 28x28 images, 10 classes", "30 MB",
          "download"),
    Entry("cifar10", "CIFAR-10 python batches, 50,000 + 10,000 32x32x3 images", "163 MB",
          "download"),
    Entry("digits", "scikit-learn's 8x8 digits, 1,797 images, 10 classes", "0 (in scikit-learn)",
          "built-in"),
    Entry("uiowa", "UIowa instrument MFCC features, uiowa_{train,test}_{data,labels}.npy",
          "42 MB", "local"),
    Entry("cat_vs_car", "EEE443 assign2_data1.h5, 1,900 + 1,000 32x32 images, 2 classes",
          "3 MB", "local"),
    Entry("letters", "EEE443 letters (assign1_data1.h5 or its .npy copy), 26 classes", "5 MB",
          "local"),
    Entry("nextword", "EEE443 assign2_data2.h5 trigrams (or build_nextword on your text)",
          "9 MB", "local"),
    Entry("instruments_audio", "instrument recordings, <class>/<files> (see neuralab.audio)",
          "24 MB", "local"),
)


def status(entry: Entry) -> tuple[str, str]:
    """(where it is, whether present) for ``data list``."""
    if entry.source == "download":
        folder = download.dataset_dir(entry.name)
        return str(folder), "yes" if download.is_present(entry.name) else "no"
    if entry.source == "built-in":
        try:
            import sklearn  # noqa: F401
            return "scikit-learn", "yes"
        except ImportError:
            return "scikit-learn (not installed)", "no"
    return "your local path", "-"


def _class_counts(labels: np.ndarray, names=None) -> str:
    values, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)
    parts = []
    for v, c in zip(values, counts):
        label = names[int(v)] if names is not None and 0 <= int(v) < len(names) else str(v)
        parts.append(f"{label}: {c}")
    return ", ".join(parts)


def _split_lines(kind: str, splits, class_names=None) -> list[str]:
    lines = [f"format: {kind}"]
    for split, (x, y) in splits:
        lines.append(f"{split}: x {x.shape} {x.dtype}, y {y.shape} {y.dtype}")
        lines.append(f"  {len(np.unique(y))} classes; counts {_class_counts(y, class_names)}")
    return lines


def describe(path) -> str:
    """A text description (format, shapes, dtypes, classes and counts) of a data path or of a
    cached dataset name."""
    from . import cifar, eee443, mnist, uiowa
    path = Path(path)
    if not path.exists() and str(path) in {e.name for e in CATALOG if e.source == "download"}:
        name = str(path)
        if not download.is_present(name):
            raise FileNotFoundError(f"{name} is not in the cache ({download.dataset_dir(name)}): "
                                    f"run `neuralab data get {name}`")
        path = download.dataset_dir(name)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(path))
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if any(n.startswith("train-images") for n in names):
            classes = mnist.FASHION_CLASSES if "fashion" in str(path).lower() else None
            train, test = mnist.load_idx_folder(path)
            return "\n".join(_split_lines("IDX (MNIST layout)", [("train", train), ("test", test)],
                                          classes))
        if "cifar-10-batches-py" in names or "data_batch_1" in names:
            train, test = cifar.load_cifar10(path)
            return "\n".join(_split_lines("CIFAR-10 python batches",
                                          [("train", train), ("test", test)], cifar.CIFAR10_CLASSES))
        if "uiowa_train_data.npy" in names:
            train, test = uiowa.load_uiowa(path)
            return "\n".join(_split_lines("UIowa features", [("train", train), ("test", test)]))
        if "train_images.npy" in names:
            train, test = eee443.load_letters(path)
            return "\n".join(_split_lines("EEE443 letters (.npy)", [("train", train), ("test", test)],
                                          eee443.LETTER_CLASSES))
        audio = sorted(p for p in path.rglob("*") if p.suffix.lower() in
                       (".wav", ".flac", ".aiff", ".aif", ".ogg", ".mp3"))
        if audio:
            per_class: dict[str, int] = {}
            for p in audio:
                per_class[p.parent.name] = per_class.get(p.parent.name, 0) + 1
            return "\n".join([f"format: audio folder, {len(audio)} files",
                              "files per class: " + ", ".join(f"{k}: {v}" for k, v in
                                                              sorted(per_class.items()))])
        raise InputError("no known dataset layout", path, "IDX files, CIFAR-10 batches, UIowa "
                         ".npy files, EEE443 letters, or audio folders")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        keys = eee443.read_h5_keys(path)
        if {"trainims", "testims"} <= set(keys):
            if 32 in keys["trainims"][0]:
                train, test = eee443.load_cat_vs_car(path)
                kind, classes = "EEE443 cat vs car", eee443.CAT_VS_CAR_CLASSES
            else:  # the letters file uses the same keys for 28x28 images
                train, test = eee443.load_letters(path)
                kind, classes = "EEE443 letters", eee443.LETTER_CLASSES
            return "\n".join(_split_lines(kind, [("train", train), ("test", test)], classes))
        if {"trainx", "words"} <= set(keys):
            d = eee443.load_nextword(path)
            return "\n".join([f"format: EEE443 next-word trigrams, vocabulary {d.vocab_size}"] + [
                f"{s}: x {x.shape} {x.dtype}, y {y.shape}" for s, x, y in
                (("train", d.x_train, d.y_train), ("validation", d.x_val, d.y_val),
                 ("test", d.x_test, d.y_test))] + ["first words: " + ", ".join(d.words[:10])])
        return "\n".join(["format: HDF5"] + [f"{k}: {shape} {dtype}" for k, (shape, dtype)
                                            in sorted(keys.items())])
    if suffix == ".npy":
        array = uiowa.load_npy(path)
        lines = ["format: NumPy array", f"shape {array.shape}, dtype {array.dtype}"]
        if array.ndim <= 2 and np.issubdtype(array.dtype, np.integer) \
                and array.size == max(array.shape, default=0):
            lines.append(f"{len(np.unique(array))} distinct values; counts {_class_counts(array)}")
        return "\n".join(lines)
    if suffix == ".npz":
        return "\n".join(["format: NumPy archive"] + [f"{k}: {shape} {dtype}" for k, (shape, dtype)
                                                     in npzfile.npz_headers(path).items()])
    if cifar.TEST_BATCH in path.name or path.name.startswith("data_batch"):
        x, y = cifar.read_batch(path)
        return "\n".join(_split_lines("CIFAR-10 batch", [(path.name, (x, y))], cifar.CIFAR10_CLASSES))
    if _looks_like_idx(path):
        return _describe_idx(path)
    raise InputError("unknown format", path, "a dataset folder, .h5, .npy, .npz, an IDX file "
                     "(train-images-idx3-ubyte[.gz], ...) or a CIFAR-10 batch")


def _looks_like_idx(path: Path) -> bool:
    """An IDX file by its name (``*-idx3-ubyte``, ``*.idx1-ubyte.gz``, ``*.idx``)."""
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(("ubyte", ".idx")) or "-idx" in name or ".idx" in name


def _describe_idx(path: Path) -> str:
    array = idx.read_idx(path)
    compressed = " (gzip)" if path.name.lower().endswith(".gz") else ""
    lines = [f"format: IDX{compressed}", f"shape {array.shape}, dtype {array.dtype}"]
    if array.size:
        lines.append(f"values {array.min()}..{array.max()}, mean {array.mean():.4g}")
        if array.ndim == 1 and np.issubdtype(array.dtype, np.integer):
            lines.append(f"{len(np.unique(array))} classes; counts {_class_counts(array)}")
    return "\n".join(lines)
