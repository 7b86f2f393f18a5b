"""The fused operations behind ``nn``'s layers, in PyTorch's layouts (NCHW, weight (out, in)):
each computes with NumPy and records one engine node whose backward is written out.

They take and return engine tensors (:class:`neuralab.tensor.Tensor`); ``nn.functional``
wraps them. Gradients of inputs that need none are not computed.
"""

from __future__ import annotations

import numpy as np

from neuralab.tensor import Tensor


def linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``y = x W^T + b``.  dx = dout W,  dW = dout^T x,  db = sum of dout over the batch.

    Shape: x (*, in), W (out, in), b (out,) -> y (*, out).
    """
    xd, wd = x.data, weight.data
    y = xd @ wd.T
    if bias is not None:
        y += bias.data

    def backward(dout):
        d2, x2 = dout.reshape(-1, dout.shape[-1]), xd.reshape(-1, xd.shape[-1])
        dx = dout @ wd if x.requires_grad else None
        grads = (dx, d2.T @ x2 if weight.requires_grad else None)
        return grads + ((d2.sum(axis=0),) if bias is not None else ())
    return Tensor.from_op(y, (x, weight) + ((bias,) if bias is not None else ()), backward, "linear")


def _windows(kernel, stride, dilation, out_size):
    """For each kernel offset (i, j): the slices of the padded input it sees at every output."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            yield (i * kw + j, (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                                slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)))


def _out_size(size, kernel, stride, padding, dilation, ceil_mode=False):
    out = []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
    if min(out) < 1:
        raise ValueError(f"input of spatial size {tuple(size)} is too small for kernel {kernel} "
                         f"with padding {padding} (output would be {tuple(out)})")
    return tuple(out)


def _pad(x: np.ndarray, padding, value=0.0, extra=(0, 0)):
    (ph, pw), (eh, ew) = padding, extra
    if not (ph or pw or eh or ew):
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)), constant_values=value)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation by im2col: one matrix product per group for the whole batch.

    cols (C kh kw, N OH OW) holds every receptive field as a column; with G groups its rows
    split into G blocks of C/G channels, and W (O, C/G, kh, kw) into G blocks of O/G filters,
    so y_g = W_g cols_g (G = C = O is a depthwise convolution). Backward: dW_g = dout_g
    cols_g^T, dcols_g = W_g^T dout_g, and dx adds each column back where it came from (col2im).

    Shape: x (N, C, H, W), weight (O, C/G, kh, kw), bias (O,) -> y (N, O, OH, OW).
    """
    xd, wd = x.data, weight.data
    n, c, h, w = xd.shape
    o, c_w, kh, kw = wd.shape
    if groups < 1 or c % groups or o % groups:
        raise ValueError(f"conv2d: groups={groups} must divide both the {c} input channels and "
                         f"the {o} output channels")
    if c != c_w * groups:
        raise ValueError(f"conv2d expected input with {c_w * groups} channels ({c_w} per group x "
                         f"{groups} groups), got {c} (input shape {xd.shape})")
    out = _out_size((h, w), (kh, kw), stride, padding, dilation)
    xp = _pad(xd, padding).transpose(1, 0, 2, 3)  # (C, N, Hp, Wp): columns come out batch-major
    cols = np.empty((c, kh * kw, n) + out, dtype=np.result_type(xd, wd))
    windows = list(_windows((kh, kw), stride, dilation, out))
    for k, (rows, columns) in windows:
        cols[:, k] = xp[:, :, rows, columns]
    cols = cols.reshape(groups, c_w * kh * kw, -1)
    w2 = wd.reshape(groups, o // groups, -1)
    y = np.ascontiguousarray((w2 @ cols).reshape(o, n, *out).transpose(1, 0, 2, 3))
    if bias is not None:
        y += bias.data[:, None, None]

    def backward(dout):
        d2 = dout.transpose(1, 0, 2, 3).reshape(groups, o // groups, -1)
        dw = (d2 @ cols.transpose(0, 2, 1)).reshape(wd.shape) if weight.requires_grad else None
        dx = None
        if x.requires_grad:
            dcols = (w2.transpose(0, 2, 1) @ d2).reshape(c, kh * kw, n, *out)
            dxp = np.zeros(xp.shape, dtype=dout.dtype)
            for k, (rows, columns) in windows:
                dxp[:, :, rows, columns] += dcols[:, k]
            dx = np.ascontiguousarray(
                dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w].transpose(1, 0, 2, 3))
        return (dx, dw) + ((dout.sum(axis=(0, 2, 3)),) if bias is not None else ())
    return Tensor.from_op(y, (x, weight) + ((bias,) if bias is not None else ()), backward, "conv2d")


def _pool_input(xd, kernel, stride, padding, dilation, ceil_mode, fill):
    h, w = xd.shape[2:]
    out = _out_size((h, w), kernel, stride, padding, dilation, ceil_mode)
    needed = [(o - 1) * s + d * (k - 1) + 1 - (n + 2 * p)
              for o, s, d, k, n, p in zip(out, stride, dilation, kernel, (h, w), padding)]
    xp = _pad(xd, padding, fill, tuple(max(e, 0) for e in needed))
    return xp, out, list(_windows(kernel, stride, dilation, out))


def _flat_indices(arg: np.ndarray, kernel, stride, padding, dilation, width: int) -> np.ndarray:
    """PyTorch's pooling indices: the input position (row * W + column) of each window's
    maximum, from ``arg``, the maximum's offset i kw + j inside its window."""
    oh, ow = arg.shape[-2:]
    rows = (np.arange(oh)[:, None] * stride[0] - padding[0] + (arg // kernel[1]) * dilation[0])
    columns = (np.arange(ow)[None, :] * stride[1] - padding[1] + (arg % kernel[1]) * dilation[1])
    return (rows * width + columns).astype(np.int64)


def max_pool2d(x: Tensor, kernel, stride, padding, dilation, ceil_mode) -> tuple[Tensor, np.ndarray]:
    """The largest value of each window, and its flat input index (PyTorch's
    ``return_indices``); the gradient goes to the first largest (PyTorch's).

    Shape: (N, C, H, W) -> (N, C, OH, OW) values and int64 indices.
    """
    xd = x.data
    if tuple(stride) == tuple(kernel) and not any(padding) and tuple(dilation) == (1, 1) and not ceil_mode:
        y, arg = _tiled_max_pool2d(x, kernel)
        return y, _flat_indices(arg, kernel, stride, padding, dilation, xd.shape[3])
    xp, out, windows = _pool_input(xd, kernel, stride, padding, dilation, ceil_mode, -np.inf)
    y = np.full(xd.shape[:2] + out, -np.inf, dtype=xd.dtype)
    arg = np.zeros(y.shape, dtype=np.int64)
    for k, (rows, columns) in windows:
        values = xp[:, :, rows, columns]
        better = values > y
        y = np.where(better, values, y)
        arg[better] = k

    def backward(dout):
        dxp = np.zeros(xp.shape, dtype=dout.dtype)
        for k, (rows, columns) in windows:
            dxp[:, :, rows, columns] += np.where(arg == k, dout, 0)
        h, w = xd.shape[2:]
        return (dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w],)
    return (Tensor.from_op(y, (x,), backward, "max_pool2d"),
            _flat_indices(arg, kernel, stride, padding, dilation, xd.shape[3]))


def _tiled_max_pool2d(x: Tensor, kernel) -> tuple[Tensor, np.ndarray]:
    """Max pooling over non-overlapping windows (stride = kernel, the common case): the
    windows are a reshape of the input, so one argmax finds every maximum."""
    xd = x.data
    (n, c, h, w), (kh, kw) = xd.shape, kernel
    oh, ow = _out_size((h, w), kernel, kernel, (0, 0), (1, 1))
    tiles = xd[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5)
    tiles = tiles.reshape(n, c, oh, ow, kh * kw)
    arg = tiles.argmax(axis=-1)[..., None]  # the first maximum, as PyTorch
    y = np.take_along_axis(tiles, arg, axis=-1)[..., 0]

    def backward(dout):
        dtiles = np.zeros(tiles.shape, dtype=dout.dtype)
        np.put_along_axis(dtiles, arg, dout[..., None], axis=-1)
        dx = np.zeros(xd.shape, dtype=dout.dtype)
        dx[:, :, :oh * kh, :ow * kw] = dtiles.reshape(n, c, oh, ow, kh, kw).transpose(
            0, 1, 2, 4, 3, 5).reshape(n, c, oh * kh, ow * kw)
        return (dx,)
    return Tensor.from_op(y, (x,), backward, "max_pool2d"), arg[..., 0]


def avg_pool2d(x: Tensor, kernel, stride, padding, ceil_mode, count_include_pad) -> Tensor:
    """The mean of each window (padding counted when ``count_include_pad``, as PyTorch).

    Shape: (N, C, H, W) -> (N, C, OH, OW).
    """
    xd = x.data
    h, w = xd.shape[2:]
    xp, out, windows = _pool_input(xd, kernel, stride, padding, (1, 1), ceil_mode, 0.0)
    # divisor per output: the window clipped to the padded input (or to the input itself)
    ones = np.zeros((1, 1) + xp.shape[2:])
    ones[..., :h + 2 * padding[0], :w + 2 * padding[1]] = 1 if count_include_pad else 0
    if not count_include_pad:
        ones[..., padding[0]:padding[0] + h, padding[1]:padding[1] + w] = 1
    total = np.zeros(xd.shape[:2] + out, dtype=xd.dtype)
    count = np.zeros((1, 1) + out)
    for _, (rows, columns) in windows:
        total += xp[:, :, rows, columns]
        count += ones[:, :, rows, columns]
    y = total / count.astype(xd.dtype)

    def backward(dout):
        dxp = np.zeros(xp.shape, dtype=dout.dtype)
        share = dout / count
        for _, (rows, columns) in windows:
            dxp[:, :, rows, columns] += share
        return (dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w],)
    return Tensor.from_op(y, (x,), backward, "avg_pool2d")


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Averages over PyTorch's adaptive windows: rows floor(i H / OH) to ceil((i + 1) H / OH)."""
    xd = x.data
    h, w = xd.shape[2:]
    oh = h if output_size[0] is None else output_size[0]
    ow = w if output_size[1] is None else output_size[1]
    bounds = [((i * h) // oh, -(-((i + 1) * h) // oh), (j * w) // ow, -(-((j + 1) * w) // ow))
              for i in range(oh) for j in range(ow)]
    y = np.empty(xd.shape[:2] + (oh, ow), dtype=xd.dtype)
    for index, (h0, h1, w0, w1) in enumerate(bounds):
        y[:, :, index // ow, index % ow] = xd[:, :, h0:h1, w0:w1].mean(axis=(2, 3))

    def backward(dout):
        dx = np.zeros(xd.shape, dtype=dout.dtype)
        for index, (h0, h1, w0, w1) in enumerate(bounds):
            share = dout[:, :, index // ow, index % ow] / ((h1 - h0) * (w1 - w0))
            dx[:, :, h0:h1, w0:w1] += share[:, :, None, None]
        return (dx,)
    return Tensor.from_op(y, (x,), backward, "adaptive_avg_pool2d")


def batch_norm(x: Tensor, running_mean, running_var, weight: Tensor | None, bias: Tensor | None,
               training: bool, momentum: float, eps: float) -> Tensor:
    """Normalise each channel (axis 1) by the batch statistics (training) or the running ones.

    Training also updates ``running_mean``/``running_var`` (ndarrays) in place, PyTorch's
    way: ``running = (1 - momentum) running + momentum batch``, with the *unbiased* batch
    variance. Backward in training (xhat the normalised input, g = dout * gamma)::

        dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(var + eps)
    """
    xd = x.data
    axes = (0,) + tuple(range(2, xd.ndim))
    shape = (1, -1) + (1,) * (xd.ndim - 2)
    if training:
        count = xd.size // xd.shape[1]
        if count < 2:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{tuple(xd.shape)}")
        mean = xd.mean(axis=axes)
        var = xd.var(axis=axes)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * count / (count - 1)
    else:
        mean, var = running_mean, running_var
    inv_std = (1.0 / np.sqrt(var + eps)).astype(xd.dtype)
    xhat = (xd - mean.reshape(shape)) * inv_std.reshape(shape)
    gamma = weight.data.reshape(shape) if weight is not None else 1.0
    y = xhat * gamma + (bias.data.reshape(shape) if bias is not None else 0.0)

    def backward(dout):
        g = dout * gamma
        if training:
            dx = (g - g.mean(axis=axes, keepdims=True)
                  - xhat * (g * xhat).mean(axis=axes, keepdims=True)) * inv_std.reshape(shape)
        else:
            dx = g * inv_std.reshape(shape)
        grads = (dx,)
        if weight is not None:
            grads += ((dout * xhat).sum(axis=axes),)
        if bias is not None:
            grads += (dout.sum(axis=axes),)
        return grads
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    return Tensor.from_op(y.astype(xd.dtype, copy=False), parents, backward, "batch_norm")


def embedding(indices: np.ndarray, weight: Tensor, padding_idx: int | None) -> Tensor:
    """Rows of ``weight`` picked by ``indices``; dW adds each dout row at its index
    (none at ``padding_idx``).  Shape: indices (*), weight (V, D) -> (*, D)."""
    wd = weight.data

    def backward(dout):
        dw = np.zeros_like(wd)
        np.add.at(dw, indices, dout)
        if padding_idx is not None:
            dw[padding_idx] = 0
        return (dw,)
    return Tensor.from_op(wd[indices], (weight,), backward, "embedding")


def binary_cross_entropy(p: Tensor, target: np.ndarray, weight: np.ndarray | None) -> Tensor:
    """Elementwise ``-(y log p + (1 - y) log(1 - p))``, each log clamped at -100 as PyTorch.
    dp = dout (p - y) / max(p (1 - p), 1e-12)."""
    pd = p.data
    with np.errstate(divide="ignore"):
        loss = -(target * np.maximum(np.log(pd), -100) + (1 - target) * np.maximum(np.log1p(-pd), -100))
    if weight is not None:
        loss = loss * weight

    def backward(dout):
        dp = dout * (pd - target) / np.maximum(pd * (1 - pd), 1e-12)
        return (dp * weight if weight is not None else dp,)
    return Tensor.from_op(loss.astype(pd.dtype, copy=False), (p,), backward, "binary_cross_entropy")
