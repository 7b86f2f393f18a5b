"""Flatten and Reshape: change the view of each sample, keep the batch axis."""

from __future__ import annotations

import math

from .base import Layer, register


@register
class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), in C order (channels-last images flatten
    pixel by pixel, channels fastest, as in Keras)."""

    _cache_attrs = ("_x_shape",)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def forward(self, x, training=False):
        self._check_input(x)
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._x_shape)


@register
class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one entry may be -1).

    Shape: (N, ...) -> (N, *target_shape).
    """

    _cache_attrs = ("_x_shape",)

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(
                d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"Reshape target_shape must be positive ints with at most one -1, "
                             f"got {self.target_shape}")

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0],) + self.target_shape
        size = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"Cannot reshape samples of shape {rest} to {self.target_shape}")
            shape = tuple(size // known if d == -1 else d for d in self.target_shape)
        else:
            shape = self.target_shape
        if math.prod(shape) != size:
            raise ValueError(f"Cannot reshape samples of shape {rest} ({size} values) to "
                             f"{self.target_shape} ({math.prod(shape)} values)")
        return (input_shape[0],) + shape

    def forward(self, x, training=False):
        self._check_input(x)
        self._x_shape = x.shape
        return x.reshape((x.shape[0],) + self.output_shape[1:])

    def backward(self, dout):
        return dout.reshape(self._x_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
