"""Symbolic tensors for Keras' functional style, limited to chains of layers.

``Input(shape=(2,))`` returns a :class:`SymbolicTensor`; calling a layer on it records the
layer. ``Model(inputs, outputs)`` turns the recorded chain into a model. The most common
use in the course material is a *sub-model view* that shares layers and weights with a
trained model and returns an intermediate layer's output::

    hidden = Model(inputs=model.input, outputs=model.get_layer("hidden").output)
    activations = hidden.predict(grid)

Only chains are supported (every layer takes the previous layer's output); branching or
merging graphs raise ``ValueError``.
"""

from __future__ import annotations

import numpy as np

from .. import backend


class SymbolicTensor:
    """A placeholder: the batch shape and the chain of layers that produce it."""

    def __init__(self, shape, layers=(), root=None, dtype=None, name=None):
        self.shape = tuple(shape)
        self.layers = tuple(layers)
        self.root = root if root is not None else self
        self.dtype = dtype or backend.floatx()
        self.name = name

    def apply(self, layer) -> "SymbolicTensor":
        if not layer.built:
            layer.build(self.shape)
        elif tuple(layer.input_shape[1:]) != tuple(self.shape[1:]):
            raise ValueError(f"Layer {layer.name!r} was built for inputs {layer.input_shape}, "
                             f"cannot apply it to a tensor of shape {self.shape}")
        return SymbolicTensor(layer.output_shape, self.layers + (layer,), self.root, self.dtype)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} after {len(self.layers)} layer(s)>"


def Input(shape=None, batch_size=None, name=None, dtype=None, batch_shape=None) -> SymbolicTensor:
    """A model input of per-sample ``shape`` (Keras ``Input``)."""
    if batch_shape is None:
        if shape is None:
            raise ValueError("Input needs shape=(...) (the shape of one sample) or batch_shape")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        batch_shape = (batch_size,) + shape
    if any(d is not None and (not isinstance(d, (int, np.integer)) or d <= 0)
           for d in batch_shape[1:]):
        raise ValueError(f"Input shape must hold positive integers, got {batch_shape[1:]}")
    return SymbolicTensor(batch_shape, dtype=backend.standardize_dtype(dtype) if dtype else None,
                          name=name)


def chain_between(inputs, outputs) -> tuple[tuple, SymbolicTensor]:
    """The layers leading from ``inputs`` to ``outputs`` (both SymbolicTensors)."""
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != 1:
            raise ValueError(f"Only single-input models are supported, got {len(inputs)} inputs")
        inputs = inputs[0]
    if isinstance(outputs, (list, tuple)):
        if len(outputs) != 1:
            raise ValueError(f"Only single-output models are supported, got {len(outputs)} outputs")
        outputs = outputs[0]
    for label, t in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"Model {label} must be a symbolic tensor (from Input(), a layer "
                            f"call, model.input or layer.output), got {type(t).__name__}")
    if outputs.root is not inputs.root:
        raise ValueError("Model outputs are not computed from the given inputs")
    n = len(inputs.layers)
    if outputs.layers[:n] != inputs.layers:
        raise ValueError("Model inputs must lie on the path that produces the outputs")
    return outputs.layers[n:], inputs
