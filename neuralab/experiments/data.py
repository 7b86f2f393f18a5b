"""The ``[data]`` table of an experiment: a loader and the preprocessing applied to it.

Loaders (``loader = "..."``) and their own options:

=================  ===========================================================================
synthetic          ``generator`` (lecture | moons | xor | circles | spirals), ``n_samples``
                   (400), ``n_test`` (400), ``noise``: seeded 2-D points; ``features``
                   (``["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]``, any
                   of them; default the point itself) as the playground's inputs
sine               ``n_samples`` (100), ``n_test`` (200), ``noise`` (0.1): y = sin(2 pi x) + e;
                   ``features`` (of x1 only)
mnist              ``path``, ``download``, ``classes`` (keep these labels, renumbered 0..k-1)
fashion_mnist      same options; ``classes = [0, 1, 2, 3, 4]`` stands in for the EE449 set
cifar10            same options
cat_vs_car         ``path`` (assign2_data1.h5), ``labels`` ("binary" 0/1 or "signed" -1/+1)
letters            ``path`` (folder of the .npy files or assign1_data1.h5)
digits             scikit-learn's 8x8 digits
instruments        ``path`` (folder <class>/<audio files>), ``test_fraction`` (0.25),
                   ``n_mfcc`` (10), ``deltas`` (2), ``stats`` (mean, std, min, max),
                   ``workers``: note features (see neuralab.audio), held-out runs
nextword           ``path`` (assign2_data2.h5) or ``text`` (a plain-text file),
                   ``vocab_size`` (250), ``context`` (3)
npz                ``path``: a .npz with x_train, y_train, x_test, y_test (x_val, y_val optional)
=================  ===========================================================================

Options every loader takes, applied in this order:

- ``seed``: the data seed (generation, subsets, splits); an integer (default 0) or ``"trial"``
  to use each trial's seed (a new split per trial).
- ``limit_train``, ``limit_test``: keep a random subset of this many samples (``--quick``).
- ``validation_split``: move this fraction of the training set (stratified for classes) to a
  validation set; loaders with their own validation set keep it.
- ``scale``: ``none`` (default), ``unit`` (to [0, 1]: /255 for 8-bit images), ``symmetric``
  (the training range onto [-1, 1], as the EE449 homework), ``standard`` (zero mean, unit
  variance per feature), ``global`` (one mean and std over all training values, like
  ``Normalize((0.1307,), (0.3081,))`` for MNIST). Statistics come from the training set.
- ``flatten``: reshape samples to vectors. ``one_hot``: labels as one-hot rows.
- ``fallback``: another loader (``{loader = "fashion_mnist", ...}``) used when the first
  one's files are missing, e.g. CIFAR-10 when present, else Fashion-MNIST.

Local files are looked up at ``path`` or, when it is not given, under the data folder
(``$NEURALAB_DATA``; see ``neuralab data list``).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..registry import Registry

COMMON_OPTIONS = ("loader", "seed", "limit_train", "limit_test", "validation_split", "scale",
                  "flatten", "one_hot", "fallback")
SCALES = ("none", "unit", "symmetric", "standard", "global")


@dataclass
class LabData:
    """Arrays for one experiment; ``x_val``/``x_test`` may be None."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    classes: list[str] | None = None
    info: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def is_classification(self) -> bool:
        return self.classes is not None

    def splits(self):
        """``(name, x, y)`` for the splits present."""
        for name in ("train", "val", "test"):
            x = getattr(self, f"x_{name}")
            if x is not None:
                yield name, x, getattr(self, f"y_{name}")


# -- loaders -------------------------------------------------------------------------------
def _local(path, default: str, what: str, hint: str) -> Path:
    from ..datasets.download import data_home
    candidate = Path(path).expanduser() if path else data_home() / default
    if not candidate.exists():
        where = f"{candidate}" if path else f"{candidate} (the data folder's default place)"
        raise FileNotFoundError(f"{what} not found at {where}: {hint}")
    return candidate


def _pick_classes(train, test, classes, names):
    if classes is None:
        return train, test, list(names)
    classes = [int(c) for c in classes]
    lookup = np.full(max(max(classes), len(names)) + 1, -1)
    lookup[classes] = np.arange(len(classes))

    def pick(x, y):
        keep = np.isin(y, classes)
        return x[keep], lookup[y[keep]]
    return pick(*train), pick(*test), [names[c] for c in classes]


def _images(loader, path, download, classes, names):
    train, test = loader(path, download=download)
    train, test, names = _pick_classes(train, test, classes, names)
    add_channel = (lambda x: x[..., None]) if train[0].ndim == 3 else (lambda x: x)
    return LabData(add_channel(train[0]), train[1], x_test=add_channel(test[0]), y_test=test[1],
                   classes=names, info={"image_shape": add_channel(train[0]).shape[1:]})


def _with_features(x: np.ndarray, features) -> np.ndarray:
    """``x`` as float32, expanded into ``features`` (names of datasets.synthetic.FEATURES)."""
    from ..datasets.synthetic import expand_features
    return (x if features is None else expand_features(x, features)).astype(np.float32)


def load_synthetic(seed: int, generator: str = "lecture", n_samples: int = 400,
                   n_test: int = 400, noise: float | None = None, features=None) -> LabData:
    from ..datasets import synthetic
    makers = {"lecture": synthetic.make_lecture_synthetic, "moons": synthetic.make_moons,
              "xor": synthetic.make_xor, "circles": synthetic.make_circles,
              "spirals": synthetic.make_spirals}
    if generator not in makers:
        raise ValueError(f"generator must be one of {sorted(makers)}, got {generator!r}")
    kwargs = {} if noise is None else {"noise": noise}
    rng = np.random.default_rng(seed)
    x, y = makers[generator](n_samples + n_test, seed=rng, **kwargs)
    classes = [str(c) for c in range(int(y.max()) + 1)]
    x = _with_features(x, features)
    return LabData(x[:n_samples], y[:n_samples], x_test=x[n_samples:], y_test=y[n_samples:],
                   classes=classes, info={"generator": generator})


def load_sine(seed: int, n_samples: int = 100, n_test: int = 200, noise: float = 0.1,
              features=None) -> LabData:
    from ..datasets.synthetic import make_sine
    x, y = make_sine(n_samples + n_test, noise=noise, seed=np.random.default_rng(seed))
    x = _with_features(x, features)
    return LabData(x[:n_samples], y[:n_samples].astype(np.float32),
                   x_test=x[n_samples:], y_test=y[n_samples:].astype(np.float32),
                   info={"true_function": "sin(2 pi x)", "noise": noise})


def load_mnist(seed: int, path=None, download: bool = False, classes=None) -> LabData:
    from ..datasets.mnist import MNIST_CLASSES
    from ..datasets.mnist import load_mnist as load
    return _images(load, path, download, classes, MNIST_CLASSES)


def load_fashion_mnist(seed: int, path=None, download: bool = False, classes=None) -> LabData:
    from ..datasets.mnist import FASHION_CLASSES
    from ..datasets.mnist import load_fashion_mnist as load
    return _images(load, path, download, classes, FASHION_CLASSES)


def load_cifar10(seed: int, path=None, download: bool = False, classes=None) -> LabData:
    from ..datasets.cifar import CIFAR10_CLASSES
    from ..datasets.cifar import load_cifar10 as load
    return _images(load, path, download, classes, CIFAR10_CLASSES)


def load_cat_vs_car(seed: int, path=None, labels: str = "binary") -> LabData:
    from ..datasets.eee443 import CAT_VS_CAR_CLASSES
    from ..datasets.eee443 import load_cat_vs_car as load
    if labels not in ("binary", "signed"):
        raise ValueError(f"labels must be 'binary' (0/1) or 'signed' (-1/+1), got {labels!r}")
    file = _local(path, "eee443_assign2/assign2_data1.h5", "assign2_data1.h5",
                  "set data.path to the EEE443 cat-vs-car file")
    (x_train, y_train), (x_test, y_test) = load(file)
    if labels == "signed":  # tanh outputs with squared error, as the homework
        y_train, y_test = (2.0 * y_train - 1).astype(np.float32), (2.0 * y_test - 1).astype(np.float32)
    return LabData(x_train[..., None], y_train, x_test=x_test[..., None], y_test=y_test,
                   classes=list(CAT_VS_CAR_CLASSES), info={"image_shape": (32, 32, 1),
                                                           "labels": labels})


def load_letters(seed: int, path=None) -> LabData:
    from ..datasets.eee443 import LETTER_CLASSES
    from ..datasets.eee443 import load_letters as load
    folder = _local(path, "eee443_assign1_letters", "EEE443 letters",
                    "set data.path to the letters .npy folder or assign1_data1.h5")
    (x_train, y_train), (x_test, y_test) = load(folder)
    return LabData(x_train[..., None], y_train, x_test=x_test[..., None], y_test=y_test,
                   classes=list(LETTER_CLASSES), info={"image_shape": (28, 28, 1)})


def load_digits(seed: int) -> LabData:
    from ..datasets.digits import load_digits as load
    (x_train, y_train), (x_test, y_test) = load(seed=seed)
    return LabData(x_train[..., None], y_train, x_test=x_test[..., None], y_test=y_test,
                   classes=[str(d) for d in range(10)], info={"image_shape": (8, 8, 1)})


def load_instruments(seed: int, path=None, test_fraction: float = 0.25, n_mfcc: int = 10,
                     deltas: int = 2, stats=("mean", "std", "min", "max"),
                     workers: int | None = None) -> LabData:
    from ..audio import FeatureParams, build_feature_dataset, grouped_split
    folder = _local(path, "instruments_audio", "the instrument recordings",
                    "set data.path to a folder of <instrument>/<audio files>")
    params = FeatureParams(n_mfcc=n_mfcc, deltas=deltas, stats=tuple(stats))
    features = build_feature_dataset(folder, params, workers=workers)
    train, test = grouped_split(features, test_fraction=test_fraction, seed=seed)
    return LabData(features.X[train], features.y[train], x_test=features.X[test],
                   y_test=features.y[test], classes=list(features.classes),
                   info={"feature_names": features.params["feature_names"],
                         "runs_test": sorted(set(features.runs[test])),
                         "problems": features.problems})


def load_nextword(seed: int, path=None, text=None, vocab_size: int = 250,
                  context: int = 3) -> LabData:
    from ..datasets.eee443 import load_nextword as load
    from ..datasets.text import build_nextword
    if path and text:
        raise ValueError("give data.path (an assign2_data2.h5 file) or data.text (a text "
                         "file), not both")
    if text:
        source = _local(text, "", "text file", "set data.text to a plain-text file")
        data = build_nextword(source.read_text(encoding="utf-8", errors="replace"),
                              vocab_size=vocab_size, context=context, seed=seed)
    else:
        source = _local(path, "eee443_assign2/assign2_data2.h5", "assign2_data2.h5",
                        "set data.path to the EEE443 next-word file, or data.text to a "
                        "plain-text file to build trigrams from")
        data = load(source)
    return LabData(data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test,
                   classes=list(data.words), info={"words": list(data.words), "source": str(source)})


def load_npz(seed: int, path=None) -> LabData:
    from ..datasets.npzfile import load_npz as load
    if not path:
        raise ValueError("the npz loader needs path = \"file.npz\"")
    arrays = load(_local(path, "", "npz file", "check data.path"))
    if not {"x_train", "y_train"} <= set(arrays):
        from ..errors import InputError
        raise InputError(f"missing arrays {sorted({'x_train', 'y_train'} - set(arrays))}; "
                         f"has {sorted(arrays)}", path, "x_train and y_train at least")
    y = arrays["y_train"]
    classes = None
    if np.issubdtype(y.dtype, np.integer):
        classes = [str(c) for c in range(int(y.max()) + 1)]
    return LabData(arrays["x_train"], y, arrays.get("x_val"), arrays.get("y_val"),
                   arrays.get("x_test"), arrays.get("y_test"), classes=classes)


# One registry of loaders (a name -> a function ``f(seed, **options) -> LabData``); its
# unknown-name message suggests the closest loader.
LOADERS = Registry("data loader", LabData, {
    "synthetic": load_synthetic, "sine": load_sine, "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist, "cifar10": load_cifar10, "cat_vs_car": load_cat_vs_car,
    "letters": load_letters, "digits": load_digits, "instruments": load_instruments,
    "nextword": load_nextword, "npz": load_npz}, case_sensitive=True)


def loader(name: str) -> Callable[..., LabData]:
    """The loader function called ``name``; ValueError suggesting the closest if unknown."""
    if not isinstance(name, str):
        raise ValueError(f"loader: expected a loader name, got {name!r}")
    try:
        return LOADERS.lookup(name)
    except ValueError as error:
        raise ValueError(f"loader: {error}") from None


def _loader_options(name: str) -> list[str]:
    return [p for p in inspect.signature(loader(name)).parameters if p != "seed"]


def check_data_options(data: dict) -> None:
    """Raise ValueError naming the first bad key of a ``[data]`` table."""
    if "fallback" in data:
        fallback = data["fallback"]
        if not isinstance(fallback, dict) or "loader" not in fallback:
            raise ValueError("fallback: expected a table with loader = \"...\" and its options")
        own = {k: v for k, v in fallback.items() if k not in COMMON_OPTIONS or k == "loader"}
        if own != fallback:
            raise ValueError(f"fallback: only the loader and its own options go here; common "
                             f"options ({', '.join(sorted(set(fallback) - set(own)))}) belong "
                             "to [data]")
        try:
            check_data_options(fallback)
        except ValueError as error:
            raise ValueError(f"fallback.{error}") from None
    name = data.get("loader")
    accepted = list(COMMON_OPTIONS) + _loader_options(name)
    for key in data:
        if key not in accepted:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            raise ValueError(f"{key}: not an option of the {name!r} loader"
                             + (f"; did you mean {close[0]!r}? " if close else "; ")
                             + f"accepted: {', '.join(accepted)}")
    if data.get("scale", "none") not in SCALES:
        raise ValueError(f"scale: expected one of {SCALES}, got {data['scale']!r}")
    seed = data.get("seed", 0)
    if seed != "trial" and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed: expected an integer or \"trial\", got {seed!r}")
    split = data.get("validation_split", 0.0)
    if not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise ValueError(f"validation_split: expected a fraction in [0, 1), got {split!r}")
    for key in ("limit_train", "limit_test"):
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key}: expected a non-negative integer (0 = all), got {value!r}")


# -- preprocessing ---------------------------------------------------------------------------
def _subset(x, y, limit: int, rng):
    if not limit or limit >= len(x):
        return x, y
    keep = np.sort(rng.permutation(len(x))[:limit])
    return x[keep], y[keep]


def _scale(data: LabData, how: str) -> dict:
    """Scale every split with statistics of the training set; returns what was used."""
    if how == "none":
        return {}
    x = data.x_train
    if how in ("unit", "symmetric"):
        from ..datasets.preprocessing import minmax_scale
        data_range = ((0.0, 255.0) if how == "unit" and x.dtype == np.uint8
                      else (float(x.min()), float(x.max())))  # the training range
        feature_range = (0.0, 1.0) if how == "unit" else (-1.0, 1.0)
        transform = lambda v: minmax_scale(v, feature_range, data_range)[0]  # noqa: E731
        stats = {"min": data_range[0], "max": data_range[1], "range": list(feature_range)}
    elif how == "global":
        mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
        transform = lambda v: ((v.astype(np.float32) - mean) / std).astype(np.float32)  # noqa: E731
        stats = {"mean": mean, "std": std}
    else:  # standard: per feature
        flat = x.reshape(len(x), -1).astype(np.float64)
        mean, std = flat.mean(axis=0), flat.std(axis=0)
        std[std == 0] = 1.0
        transform = lambda v: ((v.reshape(len(v), -1) - mean) / std).reshape(v.shape).astype(np.float32)  # noqa: E731
        stats = {"features": int(flat.shape[1])}
    for name, xs, _ in list(data.splits()):
        setattr(data, f"x_{name}", transform(xs))
    return stats


def prepare(data: LabData, options: dict, seed: int) -> LabData:
    """Apply the common options (see the module docstring) in place; returns ``data``."""
    rng = np.random.default_rng(seed + 1)
    data.x_train, data.y_train = _subset(data.x_train, data.y_train,
                                         options.get("limit_train", 0), rng)
    if data.x_test is not None:
        data.x_test, data.y_test = _subset(data.x_test, data.y_test,
                                           options.get("limit_test", 0), rng)
    split = options.get("validation_split", 0.0)
    if split and data.x_val is None:
        from ..datasets.preprocessing import train_val_split
        classes = data.classes is not None and np.issubdtype(data.y_train.dtype, np.integer)
        data.x_train, data.x_val, data.y_train, data.y_val = train_val_split(
            data.x_train, data.y_train, split, stratify=classes, seed=seed)
    data.info["scale"] = {"how": options.get("scale", "none"),
                          **_scale(data, options.get("scale", "none"))}
    if options.get("flatten"):
        for name, x, _ in list(data.splits()):
            setattr(data, f"x_{name}", x.reshape(len(x), -1))
    if options.get("one_hot"):
        from ..utils import to_categorical
        k = len(data.classes)
        for name, _, y in list(data.splits()):
            setattr(data, f"y_{name}", to_categorical(y, k).astype(np.float32))
    for _, x, y in data.splits():
        for array in (x, y):
            array.setflags(write=False)  # shared by the trials of a process: never modified
    return data


def data_seed(options: dict, trial_seed: int) -> int:
    seed = options.get("seed", 0)
    return trial_seed if seed == "trial" else seed


def load_data(options: dict, trial_seed: int = 0) -> LabData:
    """The prepared data of a ``[data]`` table (cached per process: the trials of a sweep
    that share the table and data seed load it once)."""
    seed = data_seed(options, trial_seed)
    return _load_cached(json.dumps(options, sort_keys=True), seed)


def clear_cache() -> None:
    """Free the data this process keeps for the next trials (see :func:`load_data`)."""
    _load_cached.cache_clear()


@functools.lru_cache(maxsize=4)
def _load_cached(options_json: str, seed: int) -> LabData:
    options = json.loads(options_json)
    check_data_options(options)
    own = {k: v for k, v in options.items() if k not in COMMON_OPTIONS}
    try:
        data = loader(options["loader"])(seed=seed, **own)
        data.info["loader"] = options["loader"]
    except FileNotFoundError as error:
        if "fallback" not in options:
            raise
        fallback = dict(options["fallback"])
        name = fallback.pop("loader")
        data = loader(name)(seed=seed, **fallback)
        data.info["loader"] = name
        data.info["fallback_reason"] = str(error)
    return prepare(data, options, seed)
