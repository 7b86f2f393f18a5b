"""Keras' ``keras.datasets.mnist``: 60,000 + 10,000 handwritten digits."""

from __future__ import annotations

from ...datasets import load_mnist
from ._common import is_npz, load_npz


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: images uint8 (N, 28, 28), labels uint8 (N,).

    ``path``: a folder holding the four IDX files, or Keras' ``mnist.npz``; by default the
    files in neuralab's data folder (downloaded there when missing, as Keras does).
    """
    if is_npz(path):
        return load_npz(path)
    return load_mnist(path, download=path is None)
