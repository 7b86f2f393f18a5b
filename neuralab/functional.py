"""Stable numerical primitives shared by layers and losses.

Convolution helpers work on channels-last images ``(N, H, W, C)``:

* :func:`conv_geometry` — output size and padding of a window sweep, with Keras' rule for
  ``padding="same"`` (output ``ceil(H / stride)``; an odd total padding puts the extra row
  or column at the bottom/right, as TensorFlow does);
* :func:`window_view` — a zero-copy strided view ``(N, Ho, Wo, kh, kw, C)`` of all windows;
* :func:`im2col` / :func:`col2im` — windows flattened to rows ``(N*Ho*Wo, kh*kw*C)`` and
  the adjoint scatter-add that backpropagates through them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``z - logsumexp(z)`` over the last axis, stable for any finite z."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softplus(z: np.ndarray) -> np.ndarray:
    """``log(1 + e^z)`` without overflow."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


@dataclass(frozen=True)
class Geometry:
    """Output size and padding of a 2-D window sweep over an (H, W) input."""

    out_h: int
    out_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int

    @property
    def padded(self) -> bool:
        return any((self.pad_top, self.pad_bottom, self.pad_left, self.pad_right))


def _axis_geometry(size: int, k: int, stride: int, dilation: int, padding: str):
    span = (k - 1) * dilation + 1
    if padding == "valid":
        if size < span:
            raise ValueError(f"Window of extent {span} does not fit an input of size {size} "
                             "with padding='valid'")
        return (size - span) // stride + 1, 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, total // 2, total - total // 2


def conv_geometry(h: int, w: int, kernel: tuple[int, int], strides: tuple[int, int],
                  dilation: tuple[int, int], padding: str) -> Geometry:
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    oh, pt, pb = _axis_geometry(h, kernel[0], strides[0], dilation[0], padding)
    ow, pl, pr = _axis_geometry(w, kernel[1], strides[1], dilation[1], padding)
    return Geometry(oh, ow, pt, pb, pl, pr)


def pad_images(x: np.ndarray, g: Geometry, value: float = 0.0) -> np.ndarray:
    """Pad (N, H, W, C) images on the sides given by ``g`` (a copy only when padding)."""
    if not g.padded:
        return x
    return np.pad(x, ((0, 0), (g.pad_top, g.pad_bottom), (g.pad_left, g.pad_right), (0, 0)),
                  constant_values=value)


def window_view(xp: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int],
                dilation: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """All windows of padded images ``xp`` as a read-only view (N, Ho, Wo, kh, kw, C)."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    shape = (n, out_hw[0], out_hw[1], kernel[0], kernel[1], c)
    strides_ = (s_n, s_h * strides[0], s_w * strides[1], s_h * dilation[0], s_w * dilation[1], s_c)
    return as_strided(xp, shape=shape, strides=strides_, writeable=False)


def im2col(xp: np.ndarray, kernel, strides, dilation, out_hw, out: np.ndarray | None = None):
    """Rows of flattened windows: (N*Ho*Wo, kh*kw*C), in (kh, kw, C) order."""
    view = window_view(xp, kernel, strides, dilation, out_hw)
    n, oh, ow, kh, kw, c = view.shape
    if out is None:
        out = np.empty((n, oh, ow, kh, kw, c), dtype=xp.dtype)
    else:
        out = out.reshape(n, oh, ow, kh, kw, c)
    np.copyto(out, view)
    return out.reshape(n * oh * ow, kh * kw * c)


def col2im(cols: np.ndarray, padded_shape, kernel, strides, dilation, out_hw) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add rows back into padded images."""
    n, hp, wp, c = padded_shape
    oh, ow = out_hw
    kh, kw = kernel
    blocks = cols.reshape(n, oh, ow, kh, kw, c)
    dxp = np.zeros(padded_shape, dtype=cols.dtype)
    for i in range(kh):
        top = i * dilation[0]
        for j in range(kw):
            left = j * dilation[1]
            dxp[:, top:top + strides[0] * (oh - 1) + 1:strides[0],
                left:left + strides[1] * (ow - 1) + 1:strides[1], :] += blocks[:, :, :, i, j, :]
    return dxp


def unpad_images(xp: np.ndarray, g: Geometry) -> np.ndarray:
    if not g.padded:
        return xp
    h = xp.shape[1] - g.pad_top - g.pad_bottom
    w = xp.shape[2] - g.pad_left - g.pad_right
    return xp[:, g.pad_top:g.pad_top + h, g.pad_left:g.pad_left + w, :]
