"""Conv2D with Keras semantics (channels-last, kernel (kh, kw, C, F)), computed fast on a CPU.

Layout. Inputs and outputs are (N, H, W, C) arrays, as in Keras. Inside, the layer works
on channels-first memory (C, N, H, W): the array it returns is a *transposed view* of a
contiguous (F, N, Ho, Wo) buffer, so the next convolution or pooling layer reads it
without a copy, and every operation below runs over long contiguous rows.

Stride 1 ("shift" path). With the images flattened to ``X`` of shape (C, M), M = N*H*W,
the window offset (i, j) is a constant shift ``s = i*d*W + j*d`` along M. The output on
the full grid is ``Z[:, q] = sum_{i,j} W_ij^T X[:, q + s_ij]`` (positions whose window
leaves the image are computed and dropped). Two ways to evaluate it, the cheaper chosen
per layer:

* C < F: copy the nine shifted slabs into ``cols`` (kh*kw*C, P) and do one matrix
  product ``W^T @ cols`` (im2col without gather: each slab is a contiguous copy);
* C >= F: the product ``Y = W_cat @ X`` (kh*kw*F, M), then add the nine shifted F-row
  slabs of Y.

Backward: ``dW`` is one product with ``cols`` (C < F), or with the shifted slabs of dZ;
``dx`` is either the transposed product scattered back by the same shifts, or - when
C >= F - a *full* convolution of dZ with the flipped kernel, again as one product over
shifted slabs. No col2im scatter loops over windows.

Cache blocking (C >= F). The (kh*kw*F, M) arrays of that path - ``Y`` in forward, the
shifted dZ copies in backward - are far larger than the L2 cache at training sizes, and
each is read again right after it is written. They are made and used one block of
``CONV_BLOCK`` columns at a time instead (a block of Y reads ``smax`` input columns past
its end; the dW product is summed over the blocks), which made the backward of the cnn5
layers 1.4-1.7x faster (CPU time, float32, one BLAS thread).

Strides > 1, and one-channel inputs at any stride, use im2col over the output positions
only (one strided copy per kernel offset, a row of ones for the bias): the product writes
the compact output, so neither forward nor backward copies between the full grid and the
valid outputs (cnn5's first layer: about 1.5x faster forward and backward, CPU time).
"""

from __future__ import annotations

import numpy as np

from .. import activations, kernels, parallel
from .. import functional as fn
from .base import Layer, register, to_tuple
from .dense import KernelMixin


def channels_first(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> contiguous (C, N, H, W); free when x is a conv/pool output."""
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2))


def channels_last_view(xt: np.ndarray) -> np.ndarray:
    """(C, N, H, W) memory shown as an (N, H, W, C) array (no copy)."""
    return xt.transpose(1, 2, 3, 0)


def pad_channels_first(xt: np.ndarray, g: fn.Geometry, value: float = 0.0) -> np.ndarray:
    if not g.padded:
        return xt
    return np.pad(xt, ((0, 0), (0, 0), (g.pad_top, g.pad_bottom), (g.pad_left, g.pad_right)),
                  constant_values=value)


def unpad_channels_first(xt: np.ndarray, g: fn.Geometry, h: int, w: int) -> np.ndarray:
    if not g.padded:
        return xt
    return xt[:, :, g.pad_top:g.pad_top + h, g.pad_left:g.pad_left + w]


#: columns per block of the blocked C >= F products: a block of kh*kw*F rows (shifted dZ
#: copies in backward, W_cat @ X in forward) stays in the L2 cache between its uses
CONV_BLOCK = 4096


def matmul_long(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = a @ b`` for products with a long inner dimension and few output rows.

    OpenBLAS runs (a few rows x 40,000) @ (40,000 x a few) products at a fraction of its
    speed; summing products over 4096-long slices of the inner dimension is about 3x faster
    for them (measured). Other shapes go straight to ``np.matmul``."""
    k = a.shape[1]
    if min(out.shape) > 16 or k <= 8192:
        return np.matmul(a, b, out=out)
    # every slice's product kept, then summed in slice order (on any number of threads)
    starts = range(0, k, 4096)
    products = np.empty((len(starts),) + out.shape, out.dtype)
    parallel.run_items(len(starts), parallel.parts_for_items(len(starts)),
                       lambda i, _: np.matmul(a[:, starts[i]:starts[i] + 4096],
                                              b[starts[i]:starts[i] + 4096], out=products[i]))
    return sum_in_order(products, out)


def sum_in_order(terms: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = terms[0] + terms[1] + ...`` added left to right, so the result does not
    depend on how many threads made the terms."""
    np.copyto(out, terms[0])
    for term in terms[1:]:
        out += term
    return out


def image_kernel_args(who: str, filters, data_format, padding) -> tuple[int, str]:
    """``(filters, padding)`` of a 2-D convolution layer ``who`` (Conv2D, Conv2DTranspose),
    checked: a positive integer, channels-last images, "valid" or "same" (any case)."""
    if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
        raise ValueError(f"{who} filters must be a positive integer, got {filters!r}")
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{who} supports data_format='channels_last' only (images as "
                         f"(N, H, W, C)), got {data_format!r}")
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in ("valid", "same"):
        raise ValueError(f"{who} padding must be 'valid' or 'same', got {padding!r}")
    return int(filters), padding


@register
class Conv2D(KernelMixin, Layer):
    """2-D convolution (cross-correlation, as in every framework) plus bias and activation.

    Math: ``z[n, h, w, f] = b[f] + sum_{i, j, c} xp[n, h*s + i*d, w*s + j*d, c] W[i, j, c, f]``
    with ``xp`` the padded input. ``padding="same"`` keeps ``ceil(H / stride)`` rows and
    pads the bottom/right more when the total is odd (TensorFlow's rule).

    Shape:
        x: (N, H, W, C) -> y: (N, Ho, Wo, filters); kernel: (kh, kw, C, filters).

    Example:
        >>> Conv2D(16, 3, activation="relu")(np.zeros((2, 28, 28, 1))).shape
        (2, 26, 26, 16)
    """

    #: one call's cache: y (F, N, Ho, Wo) (and z with keep_logits), the geometry and input
    #: shape, and what the chosen backward reads: cols, or the flat input xf and the shifts
    _cache_attrs = ("y", "logits", "_g", "_x_shape", "_im2col", "_direct", "_cols",
                    "_full_conv_dx", "_p", "_shift_list", "_shift_array", "_xf")

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid",
                 data_format: str | None = None, dilation_rate=(1, 1), activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, padding = image_kernel_args("Conv2D", filters, data_format, padding)
        self.kernel_size = to_tuple(kernel_size, 2, "kernel_size")
        self.strides = to_tuple(strides, 2, "strides")
        self.dilation_rate = to_tuple(dilation_rate, 2, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("Conv2D cannot combine strides > 1 with dilation_rate > 1 (as in "
                             f"Keras), got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}")
        self.padding = padding
        self._set_kernel_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D expects images of shape (N, H, W, C), got inputs of shape "
                             f"{input_shape}; add a channel axis, e.g. x.reshape(-1, 28, 28, 1)")
        super().build(input_shape)
        self._add_kernel_and_bias(self.kernel_size + (int(input_shape[-1]), self.filters),
                                  self.filters)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        if h is None or w is None:
            return (n, None, None, self.filters)
        g = fn.conv_geometry(h, w, self.kernel_size, self.strides, self.dilation_rate,
                             self.padding)
        return (n, g.out_h, g.out_w, self.filters)

    # -- forward ------------------------------------------------------------------------
    def forward(self, x, training=False):
        self._check_input(x)
        return self._forward_images(x)

    def _kernel_4d(self) -> np.ndarray:
        """The kernel as (kh, kw, C, F) (Conv1D keeps Keras' (k, C, F) and views it)."""
        kernel = self.kernel.data
        return kernel if kernel.ndim == 4 else kernel.reshape(self.kernel_size + kernel.shape[-2:])

    def _forward_images(self, x):
        """y (N, Ho, Wo, F) for images x (N, H, W, C), already checked."""
        n, h, w, c = x.shape
        g = fn.conv_geometry(h, w, self.kernel_size, self.strides, self.dilation_rate,
                             self.padding)
        xp = pad_channels_first(channels_first(x), g)  # (C, N, Hp, Wp)
        self._g, self._x_shape = g, x.shape
        self._direct = self.strides == (1, 1) and kernels.has("conv", self.dtype)
        self._im2col = not self._direct and (self.strides != (1, 1) or c == 1)
        if self._im2col:  # the product writes the compact (F, N, Ho, Wo) output itself
            z = self._forward_strided(xp, g)
        else:
            # the valid outputs go to a compact (F, N, Ho, Wo) array and the activation
            # runs there: contiguous (NumPy's loops vectorize; 2-3x slower on the strided
            # valid view) and over fewer values than the full grid
            z = self._buffer("z", (self.filters, n, g.out_h, g.out_w), self.dtype)
            np.copyto(z, self._forward_direct(xp, g) if self._direct
                      else self._forward_shift(xp, g))
            if self._fused_relu():  # the kernel applied it as it stored the sums
                self.y = z
                return channels_last_view(z)
        self.y = self._activate(z)
        return channels_last_view(self.y)

    def _shifts(self, width: int) -> list[int]:
        dh, dw = self.dilation_rate
        kh, kw = self.kernel_size
        return [i * dh * width + j * dw for i in range(kh) for j in range(kw)]

    def _forward_direct(self, xp, g):
        """Pre-activations on the full grid by the compiled direct convolution
        (:func:`neuralab.kernels.conv`, float32, stride 1), their columns shared out over
        the threads; returns the valid view (F, N, Ho, Wo). Keeps the shifts as an int64
        array for the backward's kernels."""
        c, n, hp, wp = xp.shape
        f, m = self.filters, n * hp * wp
        shifts = self._shifts(wp)
        p = m - shifts[-1]
        xf = xp.reshape(c, m)
        shift_array = np.array(shifts, dtype=np.int64)
        kernel = np.ascontiguousarray(self._kernel_4d()).reshape(len(shifts), c, f)
        bias = np.ascontiguousarray(self.bias.data) if self.use_bias else None
        full = self._buffer("full", (f, m), self.dtype)
        relu = self._fused_relu()
        self._run_spans(p, f * c * len(shifts), 64, lambda q0, q1: kernels.conv(
            xf, kernel, shift_array, bias, full, q0, q1, relu))
        self._cols, self._full_conv_dx = None, True
        self._p, self._shift_list, self._shift_array, self._xf = p, shifts, shift_array, xf
        return full.reshape(f, n, hp, wp)[:, :, :g.out_h, :g.out_w]

    def _fused_relu(self) -> bool:
        """The direct convolution applies a ReLU activation itself (unless the
        pre-activations must be kept)."""
        return self._direct and type(self.activation) is activations.ReLU \
            and not self.keeps_preactivation

    @staticmethod
    def _run_spans(size: int, work_per_item: int, align: int, fn) -> None:
        """``fn(start, stop)`` (a kernel call, True when it ran) over consecutive spans of
        ``range(size)`` starting on multiples of ``align``, one per thread (an item's
        result does not depend on the span it falls in): the convolution's columns, or
        the kernel gradient's offsets."""
        spans = parallel.bounds(size, parallel.parts_for_work(size * work_per_item),
                                align=align)
        if not all(parallel.run_parts(lambda i: fn(*spans[i]), len(spans))):
            raise RuntimeError("the compiled convolution refused its arrays (a layout it "
                               "does not take); set NEURALAB_KERNELS=0 and report this")

    def _backward_direct(self, padded, m: int, c: int):
        """dW (one compiled pass over all columns) and, unless ``skip_input_grad``, dx as
        (C, M): the full convolution of the row-padded dZ with the flipped kernel, by the
        same compiled convolution as the forward."""
        shifts, f = self._shift_list, self.filters
        smax, nshift = shifts[-1], len(shifts)
        dzf = padded[:, smax:]
        kernel = self.kernel
        if kernel.trainable:
            # the kernel offsets' rows of dW are independent: threads share them out, in
            # groups of three (the kernel's unit of work)
            dw = self._buffer("dw", (nshift, c, f), self.dtype)
            self._run_spans(nshift, self._p * f * c, 3, lambda b0, b1: kernels.conv_dw(
                self._xf, dzf, self._shift_array[b0:b1], dw[b0:b1], 0, self._p))
            kernel.accumulate(dw.reshape(kernel.shape))
        if self.skip_input_grad:
            return None
        # dx[c, q] = sum_b sum_f W[b, c, f] dz[f, q - s_b] = ... padded[f, q + smax - s_b]
        w_dx = self._buffer("w_dx", (nshift, f, c), self.dtype)
        np.copyto(w_dx, self._kernel_4d().reshape(nshift, c, f).transpose(0, 2, 1))
        flipped = np.array([smax - s for s in shifts], dtype=np.int64)
        dxf = self._buffer("dxf", (c, m), self.dtype)
        self._run_spans(m, f * c * nshift, 64,
                        lambda q0, q1: kernels.conv(padded, w_dx, flipped, None, dxf, q0, q1))
        return dxf

    def _forward_shift(self, xp, g):
        """Pre-activations (bias included) on the full grid; returns their valid view
        (F, N, Ho, Wo). Columns past the last window (the grid's tail) are never written."""
        c, n, hp, wp = xp.shape
        f = self.filters
        m = n * hp * wp
        shifts = self._shifts(wp)
        p = m - shifts[-1]
        xf = xp.reshape(c, m)
        kernel = self._kernel_4d()
        full = self._buffer("full", (f, m), self.dtype, zeros=True)
        rows = len(shifts) * c
        if c < f:
            # cols: the shifted input slabs, plus a row of ones that carries the bias
            cols = self._buffer("cols", (rows + self.use_bias, p), self.dtype)
            for b, s in enumerate(shifts):
                cols[b * c:(b + 1) * c] = xf[:, s:s + p]
            matmul_long(self._weights_with_bias(cols), cols, out=full[:, :p])
            self._cols = cols
        else:
            # one block of output columns at a time, so that the block of W_cat @ X
            # (which reads smax columns past the block) is still in cache for the sums
            # (the blocks are independent: neuralab.parallel's threads share them out)
            w_cat = kernel.transpose(0, 1, 3, 2).reshape(len(shifts) * f, c)
            smax, block = shifts[-1], min(p, CONV_BLOCK)
            starts = range(0, p, block)
            parts = parallel.parts_for_items(len(starts))
            y_blocks = [self._buffer(f"y_all{i}", (len(shifts) * f, block + smax), self.dtype)
                        for i in range(parts)]

            def forward_block(k: int, part: int) -> None:
                start = starts[k]
                stop = min(start + block, p)
                y_all = y_blocks[part][:, :stop - start + smax]
                np.matmul(w_cat, xf[:, start:stop + smax], out=y_all)
                head = full[:, start:stop]
                if self.use_bias:
                    np.add(y_all[:f, :stop - start], self.bias.data[:, None], out=head)
                else:
                    np.copyto(head, y_all[:f, :stop - start])
                for b, s in enumerate(shifts[1:], start=1):
                    head += y_all[b * f:(b + 1) * f, s:s + stop - start]

            parallel.run_items(len(starts), parts, forward_block)
            self._cols = None
        # backward: a full convolution over shifted copies of dZ moves less data than
        # scattering the blocks of W dZ once C >= F (and it needs X, not cols, for dW)
        self._full_conv_dx = c >= f or self._cols is None
        self._p, self._shift_list, self._xf = p, shifts, xf
        return full.reshape(f, n, hp, wp)[:, :, :g.out_h, :g.out_w]

    def _forward_strided(self, xp, g):
        """im2col over the output positions only (one strided copy per kernel offset) and
        one product into the compact (F, N, Ho, Wo) pre-activations. Taken for strides > 1,
        and for one input channel, where the copies are cheap and the shift path's full
        grid would cost a strided copy of the output in forward and in backward."""
        c, n, _, _ = xp.shape
        kh, kw = self.kernel_size
        sh, sw = self.strides
        dh, dw = self.dilation_rate
        cols = self._buffer("cols", (kh * kw * c + self.use_bias, n, g.out_h, g.out_w),
                            self.dtype)
        for i in range(kh):
            for j in range(kw):
                b, top, left = i * kw + j, i * dh, j * dw
                cols[b * c:(b + 1) * c] = xp[:, :, top:top + sh * (g.out_h - 1) + 1:sh,
                                             left:left + sw * (g.out_w - 1) + 1:sw]
        self._cols = cols.reshape(len(cols), -1)
        full = self._buffer("full", (self.filters, self._cols.shape[1]), self.dtype)
        matmul_long(self._weights_with_bias(self._cols), self._cols, out=full)
        return full.reshape(self.filters, n, g.out_h, g.out_w)

    def _weights_with_bias(self, cols: np.ndarray) -> np.ndarray:
        """(F, kh*kw*C [+ 1]): the kernel as rows of ``W^T`` for ``W^T @ cols``; with a
        bias, its last column is the bias and the last row of ``cols`` is set to ones."""
        rows = cols.shape[0] - self.use_bias
        weights = self._buffer("w_ext", (self.filters, len(cols)), self.dtype)
        weights[:, :rows] = self._kernel_4d().reshape(rows, self.filters).T
        if self.use_bias:
            cols[rows] = 1
            weights[:, rows] = self.bias.data
        return weights

    def _cols_gradients(self, dz: np.ndarray) -> None:
        """dW and db from the kept ``cols`` (its row of ones gives db) and dZ (F, P)."""
        kernel, bias = self.kernel, self.bias
        if not (kernel.trainable or (self.use_bias and bias.trainable)):
            return
        rows = len(self._cols) - self.use_bias
        dw = self._buffer("dw", (len(self._cols), self.filters), self.dtype)
        matmul_long(self._cols, dz.T, out=dw)
        if kernel.trainable:
            kernel.accumulate(dw[:rows].reshape(kernel.shape))
        if self.use_bias and bias.trainable:
            bias.accumulate(dw[rows])

    # -- backward -----------------------------------------------------------------------
    def backward(self, dout):
        dout_t = dout.transpose(3, 0, 1, 2)
        if self._im2col:
            dz = self._preactivation_grad(dout_t, self.y)
            return self._finish_backward(self._backward_strided(np.ascontiguousarray(dz)))
        full, valid, padded = self._full_grid_gradient()
        dz = self.activation.backward(dout_t, self._activation_source(self.y), out=valid)
        if dz is not valid:  # the linear activation hands dout back unchanged
            np.copyto(valid, dz)
        return self._finish_backward(self._backward_shift(full, padded))

    def backward_logits(self, dz):
        dz_t = dz.transpose(3, 0, 1, 2)
        if self._im2col:
            return self._finish_backward(self._backward_strided(np.ascontiguousarray(dz_t)))
        full, valid, padded = self._full_grid_gradient()
        np.copyto(valid, dz_t)
        return self._finish_backward(self._backward_shift(full, padded))

    def _full_grid_gradient(self):
        """A (F, N, Hp, Wp) buffer for dL/dz on the full grid, its valid view, and the
        row-padded (F, smax + M) array it is the tail of (None without that padding).

        Positions outside the valid outputs must hold zeros; only the valid view is ever
        written, so zeroing the buffer when it is created is enough. With the
        full-convolution backward the buffer is the tail of a row-padded array (the
        shifts read up to ``smax`` columns to its left), so no copy is needed there."""
        g = self._g
        n, h, w, _ = self._x_shape
        hp, wp = h + g.pad_top + g.pad_bottom, w + g.pad_left + g.pad_right
        f, m = self.filters, n * hp * wp
        if self._full_conv_dx:
            smax = self._shift_list[-1]
            padded = self._buffer("dpad", (f, smax + m), self.dtype, zeros=True)
            full = padded[:, smax:].reshape(f, n, hp, wp)
        else:
            padded = None
            full = self._buffer("dfull", (f, n, hp, wp), self.dtype, zeros=True)
        return full, full[:, :, :g.out_h, :g.out_w], padded

    def _finish_backward(self, dxt):
        return None if dxt is None else channels_last_view(dxt)

    def _backward_shift(self, full, padded):
        """dW, db and dx from dL/dz on the full grid (see the module docstring); ``padded``
        is the row-padded array ``full`` lives in (full-convolution backward only)."""
        g = self._g
        n, h, w, c = self._x_shape
        f = self.filters
        hp, wp = full.shape[2:]
        m, p, shifts = n * hp * wp, self._p, self._shift_list
        rows = len(shifts) * c
        dzf = full.reshape(f, m)
        kernel, bias = self.kernel, self.bias
        if not self._full_conv_dx:
            # forward kept cols (with its row of ones, the bias gradient comes along);
            # dx is the shifted sum of the row blocks of D = W dZ
            self._cols_gradients(dzf[:, :p])
            if self.skip_input_grad:
                return None
            d = self._buffer("dcols", (rows, p), self.dtype)
            np.matmul(kernel.data.reshape(rows, f), dzf[:, :p], out=d)
            dxf = self._buffer("dxf", (c, m), self.dtype)
            np.copyto(dxf[:, :p], d[:c])  # shift 0
            dxf[:, p:] = 0
            for b, s in enumerate(shifts[1:], start=1):
                dxf[:, s:s + p] += d[b * c:(b + 1) * c]
        else:
            if self.use_bias and bias.trainable:
                bias.accumulate_sum(dzf, axis=1)
            backward = self._backward_direct if self._direct else self._full_conv_backward
            dxf = backward(padded, m, c) if kernel.trainable or not self.skip_input_grad \
                else None
            if dxf is None:
                return None
        dxt = dxf.reshape(c, n, hp, wp)
        return np.ascontiguousarray(unpad_channels_first(dxt, g, h, w))

    def _full_conv_backward(self, padded, m: int, c: int):
        """dW, and dx as (C, M) unless ``skip_input_grad``, from the row-padded dZ.

        Shifted copies of dZ serve both products: ``dW^T = dcols @ X^T`` and
        ``dx = W_dx @ dcols`` (a full convolution). They are made and used one block of
        columns at a time, so the block is still in cache for the two products: about
        1.5-2x faster than one pass over all columns, whose (kh*kw*F, M) copy is read back
        from memory (measured on the cnn5 shapes)."""
        shifts, f = self._shift_list, self.filters
        rows, smax = len(shifts) * f, shifts[-1]
        block = min(m, CONV_BLOCK)
        starts = range(0, m, block)
        parts = parallel.parts_for_items(len(starts))  # threads share the blocks out
        dcols = [self._buffer(f"dcols{i}", (rows, block), self.dtype) for i in range(parts)]
        kernel = self.kernel
        dw_t = dw_blocks = None
        if kernel.trainable:
            # dcols @ X^T runs about twice as fast in OpenBLAS as X @ dcols^T; each block's
            # product is kept and they are summed in block order, whatever the threads
            dw_t = self._buffer("dw", (rows, c), self.dtype)
            dw_blocks = self._buffer("dw_blocks", (len(starts), rows, c), self.dtype)
        dxf = w_dx = None
        if not self.skip_input_grad:
            w_dx = self._kernel_4d().transpose(2, 0, 1, 3).reshape(c, rows)
            dxf = self._buffer("dxf", (c, m), self.dtype)

        def backward_block(k: int, part: int) -> None:
            start = starts[k]
            stop = min(start + block, m)
            d = dcols[part][:, :stop - start]
            for b, s in enumerate(shifts):  # padded: (F, smax + M), dZ its last M columns
                d[b * f:(b + 1) * f] = padded[:, smax - s + start:smax - s + stop]
            if dw_blocks is not None:
                np.matmul(d, self._xf[:, start:stop].T, out=dw_blocks[k])
            if dxf is not None:
                np.matmul(w_dx, d, out=dxf[:, start:stop])

        parallel.run_items(len(starts), parts, backward_block)
        if dw_t is not None and dw_blocks is not None:
            sum_in_order(dw_blocks, dw_t)
        if dw_t is not None:
            kernel.accumulate(dw_t.reshape(self.kernel_size[0], self.kernel_size[1], f, c)
                              .transpose(0, 1, 3, 2).reshape(kernel.shape))
        return dxf

    def _backward_strided(self, dz):
        g = self._g
        n, h, w, c = self._x_shape
        f = self.filters
        kh, kw = self.kernel_size
        sh, sw = self.strides
        dh, dw = self.dilation_rate
        dz2 = dz.reshape(f, -1)
        self._cols_gradients(dz2)
        if self.skip_input_grad:
            return None
        d = (self.kernel.data.reshape(-1, f) @ dz2).reshape(kh * kw * c, n, g.out_h, g.out_w)
        hp, wp = h + g.pad_top + g.pad_bottom, w + g.pad_left + g.pad_right
        dxp = np.zeros((c, n, hp, wp), dtype=self.dtype)
        for i in range(kh):
            for j in range(kw):
                b, top, left = i * kw + j, i * dh, j * dw
                dxp[:, :, top:top + sh * (g.out_h - 1) + 1:sh,
                    left:left + sw * (g.out_w - 1) + 1:sw] += d[b * c:(b + 1) * c]
        return np.ascontiguousarray(unpad_channels_first(dxp, g, h, w))

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters,
            "kernel_size": list(self.kernel_size), "strides": list(self.strides),
            "padding": self.padding, "dilation_rate": list(self.dilation_rate),
            **self._kernel_config(),
        }


@register
class Conv1D(Conv2D):
    """1-D convolution over sequences (Keras ``Conv1D``), computed as the 2-D convolution of
    (N, 1, L, C) images with a (1, k) kernel, so it shares Conv2D's fast paths.

    ``padding="causal"`` pads ``dilation_rate * (kernel_size - 1)`` steps on the left only,
    so ``y[t]`` depends on ``x[:t + 1]`` (WaveNet); "valid" and "same" are as in Conv2D.

    Shape:
        x: (N, L, C) -> y: (N, Lo, filters); kernel: (kernel_size, C, filters), as in Keras.

    Example:
        >>> Conv1D(8, 3, padding="causal")(np.zeros((2, 10, 4))).shape
        (2, 10, 8)
    """

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate=1, activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        padding = padding.lower() if isinstance(padding, str) else padding
        self.causal = padding == "causal"
        (k,) = to_tuple(kernel_size, 1, "kernel_size")
        (s,) = to_tuple(strides, 1, "strides")
        (d,) = to_tuple(dilation_rate, 1, "dilation_rate")
        super().__init__(filters, (1, k), strides=(1, s), padding="valid" if self.causal
                         else padding, data_format=data_format, dilation_rate=(1, d),
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         **kwargs)
        self._left_pad = d * (k - 1) if self.causal else 0

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv1D expects sequences of shape (N, L, C), got inputs of shape "
                             f"{input_shape}")
        Layer.build(self, input_shape)
        self._add_kernel_and_bias((self.kernel_size[1], int(input_shape[-1]), self.filters),
                                  self.filters)

    def compute_output_shape(self, input_shape):
        n, length, c = input_shape
        if length is None:
            return (n, None, self.filters)
        _, _, out, f = super().compute_output_shape((n, 1, length + self._left_pad, c))
        return (n, out, f)

    def forward(self, x, training=False):
        self._check_input(x)
        if self._left_pad:
            x = np.pad(x, ((0, 0), (self._left_pad, 0), (0, 0)))
        return self._forward_images(x[:, None])[:, 0]

    def backward(self, dout):
        return self._sequence_dx(super().backward(dout[:, None]))

    def backward_logits(self, dz):
        return self._sequence_dx(super().backward_logits(dz[:, None]))

    def _sequence_dx(self, dx):
        """(N, 1, L + pad, C) -> (N, L, C), dropping the causal padding."""
        return None if dx is None else dx[:, 0, self._left_pad:]

    def get_config(self):
        return {**super().get_config(), "kernel_size": [self.kernel_size[1]],
                "strides": [self.strides[1]], "dilation_rate": [self.dilation_rate[1]],
                "padding": "causal" if self.causal else self.padding}
