"""Keras' ``keras.datasets.fashion_mnist``: 60,000 + 10,000 clothing images, 10 classes."""

from __future__ import annotations

from ...datasets import load_fashion_mnist


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: images uint8 (N, 28, 28), labels uint8 (N,).

    ``path``: a folder holding the four IDX files; by default the files in neuralab's data
    folder (downloaded there when missing, as Keras does).
    """
    return load_fashion_mnist(path, download=path is None)
