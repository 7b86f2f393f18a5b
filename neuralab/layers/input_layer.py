"""InputLayer: the identity, declaring the input shape (Keras ``InputLayer``)."""

from __future__ import annotations

from .base import Layer, register


@register
class InputLayer(Layer):
    """``Sequential([InputLayer(input_shape=(784,)), Dense(64)])`` — passes inputs through.

    Keras 3 also accepts ``shape=``.
    """

    def __init__(self, shape=None, **kwargs):
        if shape is not None:
            kwargs["input_shape"] = shape
        if kwargs.get("input_shape") is None and kwargs.get("batch_input_shape") is None:
            raise ValueError("InputLayer needs input_shape=(...) (the shape of one sample)")
        super().__init__(**kwargs)

    def forward(self, x, training=False):
        self._check_input(x)
        return x

    def backward(self, dout):
        return dout
