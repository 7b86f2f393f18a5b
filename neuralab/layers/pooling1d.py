"""Pooling over sequences (N, L, C): MaxPooling1D, AveragePooling1D and the global pools.

The windowed pools run the 2-D pools on (N, 1, L, C) with a (1, k) window, so they share
their conventions: ties in max pooling send the gradient to the first maximal element,
``padding="same"`` ignores padded positions (max) or divides by the real elements (mean).
"""

from __future__ import annotations

import numpy as np

from .base import Layer, register, to_tuple
from .pooling import AveragePooling2D, MaxPooling2D, _check_data_format


def _check_sequences(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(f"{type(layer).__name__} expects sequences of shape (N, L, C), got "
                         f"inputs of shape {input_shape}")


class _Pooling1D:
    """Mixin in front of a 2-D pool: sequences as one-row images."""

    def __init__(self, pool_size=2, strides=None, padding: str = "valid",
                 data_format: str | None = None, **kwargs):
        (k,) = to_tuple(pool_size, 1, "pool_size")
        (s,) = (k,) if strides is None else to_tuple(strides, 1, "strides")
        super().__init__(pool_size=(1, k), strides=(1, s), padding=padding,
                         data_format=data_format, **kwargs)

    def build(self, input_shape):
        _check_sequences(self, input_shape)
        Layer.build(self, input_shape)

    def compute_output_shape(self, input_shape):
        n, length, c = input_shape
        _, _, out, _ = super().compute_output_shape((n, 1, length, c))
        return (n, out, c)

    def forward(self, x, training=False):
        self._check_input(x)
        return self._pool(x[:, None])[:, 0]

    def backward(self, dout):
        return super().backward(dout[:, None])[:, 0]

    def get_config(self):
        return {**super().get_config(), "pool_size": [self.pool_size[1]],
                "strides": [self.strides[1]]}


@register
class MaxPooling1D(_Pooling1D, MaxPooling2D):
    """Maximum over each window of ``pool_size`` steps (stride defaults to the pool size).

    Shape: (N, L, C) -> (N, Lo, C).
    """


@register
class AveragePooling1D(_Pooling1D, AveragePooling2D):
    """Mean over each window of ``pool_size`` steps. Shape: (N, L, C) -> (N, Lo, C)."""


class _GlobalPooling1D(Layer):
    _cache_attrs = ("_x_shape",)

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(data_format)
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        _check_sequences(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, _, c = input_shape
        return (n, 1, c) if self.keepdims else (n, c)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


@register
class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps of each channel: ``y[n, c] = mean_t x[n, t, c]``;
    backward ``dx[n, t, c] = dy[n, c] / L``. With a mask ``keep`` (N, L) (Keras'), the mean
    of the kept steps only: ``y[n, c] = sum_t keep x / sum_t keep`` and ``dx = dy keep /
    sum_t keep`` (NaN for a sequence with no kept step, as in Keras); the output carries
    no mask.

    Shape: (N, L, C) -> (N, C), or (N, 1, C) with ``keepdims``.
    """

    _cache_attrs = ("_x_shape", "_weights")
    supports_masking = True
    uses_mask = True

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, x, training=False, mask=None):
        self._check_input(x)
        self._x_shape = x.shape
        self._weights = None
        if mask is None:
            return x.mean(axis=1, keepdims=self.keepdims)
        keep = self._checked_mask(mask, x.shape[:2], "(N, L)")[:, :, None]
        count = keep.sum(axis=1, keepdims=True, dtype=x.dtype)  # (N, 1, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            # where, not a product: a NaN or inf at a masked step stays out (Keras)
            y = np.where(keep, x, 0).sum(axis=1, keepdims=True) / count
            self._weights = keep / count  # (N, L, 1)
        return y if self.keepdims else y[:, 0]

    def backward(self, dout):
        n, length, c = self._x_shape
        dx = self._buffer("dx", self._x_shape, dout.dtype)
        if self._weights is not None:
            np.multiply(dout.reshape(n, 1, c), self._weights, out=dx)
            return dx
        np.divide(dout.reshape(n, 1, c), length, out=dx)  # broadcast along the steps
        return dx


@register
class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over the steps of each channel; the gradient goes to the first maximal step.

    Shape: (N, L, C) -> (N, C), or (N, 1, C) with ``keepdims``.
    """

    _cache_attrs = ("_x_shape", "argmax")

    def forward(self, x, training=False):
        self._check_input(x)
        self._x_shape = x.shape
        self.argmax = x.argmax(axis=1)[:, None]  # (N, 1, C)
        y = np.take_along_axis(x, self.argmax, axis=1)
        return y if self.keepdims else y[:, 0]

    def backward(self, dout):
        n, _, c = self._x_shape
        dx = self._buffer("dx", self._x_shape, dout.dtype)
        dx.fill(0)
        np.put_along_axis(dx, self.argmax, dout.reshape(n, 1, c), axis=1)
        return dx


# Keras aliases
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
