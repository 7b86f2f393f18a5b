"""Spatial resampling of channels-last images: ZeroPadding2D and UpSampling2D (nearest)."""

from __future__ import annotations

import numpy as np

from .base import Layer, register, to_tuple
from .pooling import _check_data_format, _check_images


def _padding_2d(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras' forms: ``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))``."""
    if isinstance(padding, (int, np.integer)):
        padding = ((padding, padding), (padding, padding))
    elif isinstance(padding, (list, tuple)) and len(padding) == 2:
        padding = tuple((p, p) if isinstance(p, (int, np.integer)) else tuple(p)
                        for p in padding)
    else:
        raise ValueError("`padding` should be either an int, a tuple of 2 ints "
                         "(symmetric_height_crop, symmetric_width_crop), or a tuple of 2 tuples "
                         f"of 2 ints ((top, bottom), (left, right)). Received: padding={padding}")
    if any(len(p) != 2 or any(int(v) < 0 for v in p) for p in padding):
        raise ValueError(f"`padding` entries must be pairs of non-negative ints, got {padding}")
    return tuple((int(a), int(b)) for a, b in padding)


@register
class ZeroPadding2D(Layer):
    """Add rows and columns of zeros around each image (Keras ``ZeroPadding2D``).

    Math: ``y[:, top:top + H, left:left + W] = x``, zeros elsewhere; backward
    ``dx = dy[:, top:top + H, left:left + W]``.

    Shape: (N, H, W, C) -> (N, top + H + bottom, left + W + right, C).
    """

    def __init__(self, padding=(1, 1), data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(data_format)
        self.padding = _padding_2d(padding)

    def build(self, input_shape):
        _check_images(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (top, bottom), (left, right) = self.padding
        return (n, None if h is None else h + top + bottom,
                None if w is None else w + left + right, c)

    def forward(self, x, training=False):
        self._check_input(x)
        n, h, w, c = x.shape
        (top, bottom), (left, right) = self.padding
        # the border is written once, when the buffer is made, and never again
        y = self._buffer("y", (n, h + top + bottom, w + left + right, c), self.dtype, zeros=True)
        y[:, top:top + h, left:left + w] = x
        return y

    def backward(self, dout):
        (top, bottom), (left, right) = self.padding
        _, hp, wp, _ = dout.shape
        return dout[:, top:hp - bottom, left:wp - right]

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


@register
class UpSampling2D(Layer):
    """Repeat each row ``size[0]`` times and each column ``size[1]`` times (nearest
    neighbour, Keras ``UpSampling2D``).

    Math: ``y[n, i, j, c] = x[n, i // sh, j // sw, c]``; backward sums each
    (sh, sw) block of ``dy``: ``dx[n, i, j, c] = sum_{a, b} dy[n, i*sh + a, j*sw + b, c]``.

    Shape: (N, H, W, C) -> (N, H * sh, W * sw, C).
    """

    def __init__(self, size=(2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs):
        super().__init__(**kwargs)
        _check_data_format(data_format)
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D supports interpolation='nearest' only, got "
                             f"{interpolation!r}")
        self.size = to_tuple(size, 2, "size")
        self.interpolation = interpolation

    def build(self, input_shape):
        _check_images(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        sh, sw = self.size
        return (n, None if h is None else h * sh, None if w is None else w * sw, c)

    def forward(self, x, training=False):
        self._check_input(x)
        n, h, w, c = x.shape
        sh, sw = self.size
        y = self._buffer("y", (n, h * sh, w * sw, c), self.dtype)
        y.reshape(n, h, sh, w, sw, c)[...] = x[:, :, None, :, None, :]
        return y

    def backward(self, dout):
        n, hs, ws, c = dout.shape
        sh, sw = self.size
        return dout.reshape(n, hs // sh, sh, ws // sw, sw, c).sum(axis=(2, 4))

    def get_config(self):
        return {**super().get_config(), "size": list(self.size),
                "interpolation": self.interpolation}
