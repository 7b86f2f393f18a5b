"""Pooling on channels-last images: MaxPooling2D, AveragePooling2D and the global pools.

Like :class:`~neuralab.layers.Conv2D`, the pools take and return (N, H, W, C) arrays but
work on channels-first memory, so a conv -> pool -> conv chain never transposes.

Ties in max pooling: when several elements of a window share the maximum, the gradient
goes to the *first* of them in row-major order (top row first, left to right), as in
PyTorch's CPU kernel. After a ReLU, windows of zeros are common, so this matters: the
gradient is not counted once per tied element.

``padding="same"`` follows Keras: max pooling ignores the padded positions, average
pooling divides by the number of real (unpadded) elements in each window.
"""

from __future__ import annotations

import numpy as np

from .. import functional as fn
from .. import kernels
from .base import Layer, register, to_tuple
from .conv import channels_first, channels_last_view, pad_channels_first, unpad_channels_first


def _check_images(layer, input_shape):
    if len(input_shape) != 4:
        raise ValueError(f"{type(layer).__name__} expects images of shape (N, H, W, C), got "
                         f"inputs of shape {input_shape}")


def _check_data_format(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"Only data_format='channels_last' is supported, got {data_format!r}")


class _Pooling2D(Layer):
    #: one call's cache: the geometry and the input's shape (subclasses add theirs)
    _cache_attrs = ("_g", "_x_shape", "_xp")

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid",
                 data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(data_format)
        self.pool_size = to_tuple(pool_size, 2, "pool_size")
        self.strides = self.pool_size if strides is None else to_tuple(strides, 2, "strides")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__} padding must be 'valid' or 'same', got "
                             f"{padding!r}")
        self.padding = padding

    def build(self, input_shape):
        _check_images(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        if h is None or w is None:
            return (n, None, None, c)
        g = fn.conv_geometry(h, w, self.pool_size, self.strides, (1, 1), self.padding)
        return (n, g.out_h, g.out_w, c)

    def _windows(self, x, pad_value: float):
        """Channels-first views of the input at each window offset, row-major order."""
        n, h, w, c = x.shape
        g = fn.conv_geometry(h, w, self.pool_size, self.strides, (1, 1), self.padding)
        xp = pad_channels_first(channels_first(x), g, pad_value)
        sh, sw = self.strides
        self._g, self._x_shape, self._xp = g, x.shape, xp
        return [xp[:, :, i:i + sh * (g.out_h - 1) + 1:sh, j:j + sw * (g.out_w - 1) + 1:sw]
                for i in range(self.pool_size[0]) for j in range(self.pool_size[1])]

    def _gradient_slots(self, dtype):
        """A zeroed channels-first dx buffer and its views at each window offset.

        When windows do not overlap (stride >= pool size) each input receives the gradient
        of at most one window, so callers may assign to the views instead of adding."""
        g = self._g
        n, h, w, c = self._x_shape
        sh, sw = self.strides
        hp, wp = h + g.pad_top + g.pad_bottom, w + g.pad_left + g.pad_right
        dxp = self._buffer("dx", (c, n, hp, wp), dtype)
        dxp.fill(0)
        views = [dxp[:, :, i:i + sh * (g.out_h - 1) + 1:sh, j:j + sw * (g.out_w - 1) + 1:sw]
                 for i in range(self.pool_size[0]) for j in range(self.pool_size[1])]
        return dxp, views

    def _overlapping(self) -> bool:
        return self.strides[0] < self.pool_size[0] or self.strides[1] < self.pool_size[1]

    def _dx(self, dxp) -> np.ndarray:
        n, h, w, _ = self._x_shape
        return channels_last_view(np.ascontiguousarray(unpad_channels_first(dxp, self._g, h, w)))

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


@register
class MaxPooling2D(_Pooling2D):
    """Maximum over each ``pool_size`` window (stride defaults to the pool size).

    Shape: (N, H, W, C) -> (N, Ho, Wo, C).
    """

    #: plus the input's channels-first views at each window offset and y (C, N, Ho, Wo)
    _cache_attrs = _Pooling2D._cache_attrs + ("_window_views", "y")

    def forward(self, x, training=False):
        self._check_input(x)
        return self._pool(x)

    def _pool(self, x):
        windows = self._windows(x, -np.inf)
        y = self._buffer("y", windows[0].shape, windows[0].dtype)
        np.copyto(y, windows[0])
        for window in windows[1:]:
            np.maximum(y, window, out=y)
        self._window_views, self.y = windows, y
        return channels_last_view(y)

    def backward(self, dout):
        dout_t = dout.transpose(3, 0, 1, 2)
        if self.pool_size == (2, 2) and self.strides == (2, 2) and self.padding == "valid":
            n, h, w, c = self._x_shape
            dx = self._buffer("dx", (c, n, h, w), dout.dtype)
            if kernels.maxpool2_backward(self._xp, self.y, np.ascontiguousarray(dout_t), dx):
                return channels_last_view(dx)  # one compiled pass, the same gradient
        dxp, slots = self._gradient_slots(dout.dtype)
        overlapping = self._overlapping()
        free = np.ones(self.y.shape, dtype=bool)  # windows whose maximum is still unclaimed
        hit = np.empty(self.y.shape, dtype=bool)
        for window, slot in zip(self._window_views, slots):
            np.equal(window, self.y, out=hit)
            hit &= free  # only the first maximal element of each window
            free &= ~hit
            if overlapping:
                slot += dout_t * hit
            else:
                np.multiply(dout_t, hit, out=slot)
        return self._dx(dxp)


@register
class AveragePooling2D(_Pooling2D):
    """Mean over each window; with ``padding="same"`` over the real elements only.

    Shape: (N, H, W, C) -> (N, Ho, Wo, C).
    """

    #: plus the number of real elements in each window
    _cache_attrs = _Pooling2D._cache_attrs + ("counts",)

    def forward(self, x, training=False):
        self._check_input(x)
        return self._pool(x)

    def _pool(self, x):
        windows = self._windows(x, 0.0)
        y = self._buffer("y", windows[0].shape, windows[0].dtype)
        np.copyto(y, windows[0])
        for window in windows[1:]:
            y += window
        g = self._g
        if g.padded:
            h, w = self._x_shape[1:3]
            ones = pad_channels_first(np.ones((1, 1, h, w), dtype=y.dtype), g)
            sh, sw = self.strides
            counts = sum(ones[:, :, i:i + sh * (g.out_h - 1) + 1:sh, j:j + sw * (g.out_w - 1) + 1:sw]
                         for i in range(self.pool_size[0]) for j in range(self.pool_size[1]))
        else:
            counts = self.pool_size[0] * self.pool_size[1]
        self.counts = counts
        y /= counts
        return channels_last_view(y)

    def backward(self, dout):
        share = dout.transpose(3, 0, 1, 2) / self.counts
        dxp, slots = self._gradient_slots(dout.dtype)
        for slot in slots:
            slot += share
        return self._dx(dxp)


class _GlobalPooling2D(Layer):
    _cache_attrs = ("_x_shape",)

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(data_format)
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        _check_images(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def _out(self, y):
        """(C, N) results -> (N, C) or (N, 1, 1, C)."""
        y = np.ascontiguousarray(y.T)
        return y.reshape(y.shape[0], 1, 1, y.shape[1]) if self.keepdims else y

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


@register
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over all positions of each channel. Shape: (N, H, W, C) -> (N, C)."""

    def forward(self, x, training=False):
        self._check_input(x)
        self._x_shape = x.shape
        n, h, w, c = x.shape
        return self._out(channels_first(x).reshape(c, n, h * w).mean(axis=2))

    def backward(self, dout):
        n, h, w, c = self._x_shape
        share = dout.reshape(n, c).T / (h * w)
        dxt = self._buffer("dx", (c, n, h, w), dout.dtype)
        dxt[...] = share[:, :, None, None]
        return channels_last_view(dxt)


@register
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over all positions of each channel (ties: the first in row-major order).

    Shape: (N, H, W, C) -> (N, C).
    """

    #: plus the position of each maximum, (C, N)
    _cache_attrs = ("_x_shape", "argmax")

    def forward(self, x, training=False):
        self._check_input(x)
        self._x_shape = x.shape
        n, h, w, c = x.shape
        flat = channels_first(x).reshape(c, n, h * w)
        self.argmax = flat.argmax(axis=2)
        return self._out(np.take_along_axis(flat, self.argmax[:, :, None], axis=2)[:, :, 0])

    def backward(self, dout):
        n, h, w, c = self._x_shape
        dxt = self._buffer("dx", (c, n, h * w), dout.dtype)
        dxt.fill(0)
        np.put_along_axis(dxt, self.argmax[:, :, None], dout.reshape(n, c).T[:, :, None], axis=2)
        return channels_last_view(dxt.reshape(c, n, h, w))


# Keras aliases
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
