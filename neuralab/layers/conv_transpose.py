"""Conv2DTranspose: the adjoint of a strided Conv2D (Keras ``Conv2DTranspose``)."""

from __future__ import annotations

import numpy as np

from .. import functional as fn
from .base import Layer, register, to_tuple
from .conv import image_kernel_args
from .dense import KernelMixin


@register
class Conv2DTranspose(KernelMixin, Layer):
    """Transposed 2-D convolution ("deconvolution"), channels-last, as in Keras.

    Math: the layer is the adjoint of ``Conv2D`` mapping ``filters`` channels at the output
    size back to ``C`` channels at the input size, with the same kernel, strides and
    padding. With ``cols = x W_mat^T`` (``W_mat``: the kernel as (kh*kw*filters, C)), every
    input pixel scatters its (kh, kw, filters) block into the output at stride ``s``
    (col2im), then the padding is cropped: ``z = crop(col2im(cols)) + b``, ``y = f(z)``.
    Backward is the convolution itself: ``dcols = im2col(pad(dz))``, ``dx = dcols W_mat``,
    ``dW = x^T dcols``, ``db = sum dz``.

    Output size: "valid" ``(H - 1) * s + k``, "same" ``H * s`` (TensorFlow's rule: the
    ``max(k - s, 0)`` cropped rows split top/bottom with the extra one at the bottom).

    Shape:
        x: (N, H, W, C) -> y: (N, Ho, Wo, filters); kernel: (kh, kw, filters, C), as in Keras.

    Example:
        >>> Conv2DTranspose(16, 3)(np.zeros((2, 4, 4, 1))).shape
        (2, 6, 6, 16)
    """

    _cache_attrs = ("x", "_x_shape", "_g", "y", "logits")

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid",
                 data_format: str | None = None, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.padding = image_kernel_args("Conv2DTranspose", filters, data_format,
                                                       padding)
        self.kernel_size = to_tuple(kernel_size, 2, "kernel_size")
        self.strides = to_tuple(strides, 2, "strides")
        self._set_kernel_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2DTranspose expects images of shape (N, H, W, C), got "
                             f"inputs of shape {input_shape}")
        super().build(input_shape)
        self._add_kernel_and_bias(self.kernel_size + (self.filters, int(input_shape[-1])),
                                  self.filters)

    def _output_size(self, size: int, axis: int) -> int:
        k, s = self.kernel_size[axis], self.strides[axis]
        return size * s if self.padding == "same" else (size - 1) * s + k

    def _geometry(self, h: int, w: int) -> fn.Geometry:
        """The geometry of the adjoint Conv2D, run from the output size back to (h, w)."""
        g = fn.conv_geometry(self._output_size(h, 0), self._output_size(w, 1),
                             self.kernel_size, self.strides, (1, 1), self.padding)
        assert (g.out_h, g.out_w) == (h, w), (g, h, w)
        return g

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, None if h is None else self._output_size(h, 0),
                None if w is None else self._output_size(w, 1), self.filters)

    def _kernel_matrix(self) -> np.ndarray:
        """The kernel as (kh*kw*filters, C), rows in im2col's (kh, kw, filters) order."""
        return self.kernel.data.reshape(-1, self.kernel.data.shape[-1])

    def forward(self, x, training=False):
        self._check_input(x)
        n, h, w, c = x.shape
        g = self._geometry(h, w)
        x2 = x.reshape(-1, c)
        cols = x2 @ self._kernel_matrix().T                      # (N*H*W, kh*kw*F)
        hp = self._output_size(h, 0) + g.pad_top + g.pad_bottom
        wp = self._output_size(w, 1) + g.pad_left + g.pad_right
        zp = fn.col2im(cols, (n, hp, wp, self.filters), self.kernel_size, self.strides,
                       (1, 1), (h, w))
        z = np.ascontiguousarray(fn.unpad_images(zp, g))
        if self.use_bias:
            z += self.bias.data
        self.x, self._x_shape, self._g = x2, x.shape, g
        self.y = self._activate(z)
        return self.y

    def backward(self, dout):
        return self._backward_preactivation(self._preactivation_grad(dout, self.y))

    def backward_logits(self, dz):
        return self._backward_preactivation(dz)

    def _backward_preactivation(self, dz):
        n, h, w, c = self._x_shape
        dcols = fn.im2col(fn.pad_images(dz, self._g), self.kernel_size, self.strides, (1, 1),
                          (h, w))                                 # (N*H*W, kh*kw*F)
        if self.kernel.trainable:
            self.kernel.accumulate((self.x.T @ dcols).T.reshape(self.kernel.data.shape))
        if self.use_bias and self.bias.trainable:
            self.bias.accumulate_sum(dz.reshape(-1, self.filters), axis=0)
        if self.skip_input_grad:
            return None
        return (dcols @ self._kernel_matrix()).reshape(self._x_shape)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters,
            "kernel_size": list(self.kernel_size), "strides": list(self.strides),
            "padding": self.padding, **self._kernel_config(),
        }
