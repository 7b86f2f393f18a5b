"""Interoperability: ONNX export, PyTorch conversion, Keras weight files.

Each function imports its third-party package only when called:

* :func:`to_onnx` (``onnx``), verified with ``onnx.checker``;
* :func:`to_torch` / :func:`from_torch` (``torch``);
* :func:`load_keras_weights` / :func:`save_keras_weights` (``h5py``);
* Keras model files (``h5py``): :func:`save_keras_archive` / :func:`load_keras_archive`
  (Keras 3 ``.keras``), :func:`save_legacy_h5` / :func:`load_legacy_h5` (tf.keras 2
  ``.h5``); ``model.save``/``load_model`` choose them by file extension.
"""

from .keras import load_keras_weights, save_keras_weights
from .keras_format import load_keras_archive, load_legacy_h5, save_keras_archive, save_legacy_h5
from .onnx import to_onnx
from .torch import from_torch, to_torch

__all__ = ["to_onnx", "to_torch", "from_torch", "load_keras_weights", "save_keras_weights",
           "save_keras_archive", "load_keras_archive", "save_legacy_h5", "load_legacy_h5"]
