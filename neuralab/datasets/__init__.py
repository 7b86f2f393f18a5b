"""Datasets: loaders for the classic lab files, seeded synthetic generators, preprocessing.

Loaders return NumPy arrays (images uint8, channels last; labels integer classes) as
``(x_train, y_train), (x_test, y_test)``, like ``keras.datasets``:

=====================  ==============================================================
load_mnist             MNIST IDX files (.gz or raw); downloads into the cache on request
load_fashion_mnist     Fashion-MNIST, same layout; class names in FASHION_CLASSES
load_cifar10           CIFAR-10 python batches, read with a restricted unpickler
load_uiowa             the UIowa instrument features (.npy, 120 features, 10 classes)
load_cat_vs_car        EEE443 assign2_data1.h5, images turned upright
load_letters           EEE443 letters, labels 1..26 -> 0..25
load_nextword          EEE443 assign2_data2.h5 trigrams, ids 1-based in the file, 0-based here
load_digits            scikit-learn's 8x8 digits (no download)
=====================  ==============================================================

Heavy optional dependencies (h5py, scikit-learn) are imported only by the functions that
need them, so ``import neuralab.datasets`` stays light.
"""

from .batching import iterate_minibatches
from .cifar import CIFAR10_CLASSES, UnsafePickleError, load_cifar10
from .digits import load_digits
from .download import ChecksumError, DownloadError, data_home, fetch
from .eee443 import (
    CAT_VS_CAR_CLASSES,
    LETTER_CLASSES,
    NextWordData,
    load_cat_vs_car,
    load_letters,
    load_nextword,
    save_nextword,
)
from .idx import DatasetFileError
from .mnist import FASHION_CLASSES, MNIST_CLASSES, load_fashion_mnist, load_mnist
from .preprocessing import minmax_scale, standardize, to_categorical, train_val_split
from .synthetic import make_circles, make_lecture_synthetic, make_moons, make_sine, make_spirals, make_xor
from .text import build_nextword, tokenize
from .uiowa import load_uiowa

__all__ = [
    "load_mnist", "load_fashion_mnist", "load_cifar10", "load_uiowa", "load_cat_vs_car",
    "load_letters", "load_nextword", "save_nextword", "load_digits", "build_nextword",
    "tokenize", "NextWordData", "make_lecture_synthetic", "make_xor", "make_moons",
    "make_circles", "make_spirals", "make_sine", "iterate_minibatches", "standardize",
    "minmax_scale", "to_categorical", "train_val_split", "fetch", "data_home",
    "DatasetFileError", "ChecksumError", "DownloadError", "UnsafePickleError",
    "MNIST_CLASSES", "FASHION_CLASSES", "CIFAR10_CLASSES", "CAT_VS_CAR_CLASSES",
    "LETTER_CLASSES",
]
