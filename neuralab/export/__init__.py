"""Interoperability: ONNX export, PyTorch conversion, Keras weight files.

Each function imports its third-party package only when called:

* :func:`to_onnx` (``onnx``), verified with ``onnx.checker``;
* :func:`to_torch` / :func:`from_torch` (``torch``);
* :func:`load_keras_weights` / :func:`save_keras_weights` (``h5py``).
"""

from .keras import load_keras_weights, save_keras_weights
from .onnx import to_onnx
from .torch import from_torch, to_torch

__all__ = ["to_onnx", "to_torch", "from_torch", "load_keras_weights", "save_keras_weights"]
