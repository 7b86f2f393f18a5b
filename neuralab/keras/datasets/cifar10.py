"""Keras' ``keras.datasets.cifar10``: 50,000 + 10,000 colour images 32x32, 10 classes."""

from __future__ import annotations

from ...datasets import load_cifar10


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: images uint8 (N, 32, 32, 3) (channels
    last), labels uint8 of shape (N, 1) as in Keras.

    ``path``: a folder holding the python batches (``data_batch_1`` ... ``test_batch``, or
    ``cifar-10-batches-py/`` inside it); by default neuralab's data folder (downloaded
    there when missing, as Keras does).
    """
    (x_train, y_train), (x_test, y_test) = load_cifar10(path, download=path is None)
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))
