"""Stand-alone activation layers: ``Activation("relu")``, ``ReLU()``, ``Softmax()``, ..."""

from __future__ import annotations

import numpy as np

from .. import activations
from .base import Layer, register
from .dense import ActivationMixin


@register
class Activation(ActivationMixin, Layer):
    """Applies an activation function elementwise (softmax: over the last axis).

    Shape: any (N, ...) -> same shape.
    """

    supports_masking = True  # a mask passes on unchanged (Keras)

    accepts_any_shape = True
    _cache_attrs = ("y", "logits")

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        self._check_input(x)
        z = self._buffer("z", x.shape, self.dtype)
        if self.keeps_preactivation:
            np.copyto(z, x)
            self.y = self._activate(z)
        else:  # never in place: x may be the previous layer's saved output
            self.y = self.activation.forward(x, out=z)
        return self.y

    def backward(self, dout):
        return self._preactivation_grad(dout, self.y)

    def backward_logits(self, dz):
        return dz

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class _FixedActivation(Activation):
    """Base of ReLU/LeakyReLU/ELU/Softmax layers, whose config is their arguments."""

    def get_config(self):
        config = Layer.get_config(self)
        config.update(self.activation.get_config())
        return config


@register
class ReLU(_FixedActivation):
    def __init__(self, **kwargs):
        super().__init__(activations.ReLU(), **kwargs)


@register
class LeakyReLU(_FixedActivation):
    """Keras 3 default ``negative_slope=0.3``; ``alpha`` is accepted as the Keras 2 name."""

    def __init__(self, negative_slope: float = 0.3, alpha: float | None = None, **kwargs):
        super().__init__(activations.LeakyReLU(alpha if alpha is not None else negative_slope),
                         **kwargs)


@register
class ELU(_FixedActivation):
    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(activations.ELU(alpha), **kwargs)


@register
class Softmax(_FixedActivation):
    """Softmax over the last axis (``axis=-1`` is the only supported value)."""

    def __init__(self, axis: int = -1, **kwargs):
        if axis != -1:
            raise ValueError(f"Softmax supports axis=-1 only, got {axis!r}")
        super().__init__(activations.Softmax(), **kwargs)
