"""Keras' ``keras.datasets``: ``mnist``, ``fashion_mnist`` and ``cifar10``, each with
``load_data()`` returning ``(x_train, y_train), (x_test, y_test)`` in Keras' shapes and
dtypes, read by :mod:`neuralab.datasets`.

Files come from neuralab's data folder (``$NEURALAB_DATA``, see
:func:`neuralab.datasets.data_home`) and are downloaded into it when missing, as Keras
does; ``load_data(path=...)`` reads a folder of the original files or Keras' own ``.npz``.
"""

from . import cifar10, fashion_mnist, mnist

__all__ = ["mnist", "fashion_mnist", "cifar10"]
