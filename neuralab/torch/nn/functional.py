"""``torch.nn.functional``: the layers' and losses' maths as functions (PyTorch's signatures).

Activations and softmax are the engine's ops; linear, conv2d, pooling, batch_norm, embedding
and binary_cross_entropy are the fused kernels of :mod:`._kernels`; the other losses are
composed from ops, so their backward is the chain of the ops' written derivatives.
"""

from __future__ import annotations

import numpy as np

from neuralab import ops

from .._tensor import Tensor, _array, unwrap, wrap
from .._tensor import _EngineTensor as EngineTensor
from ..random import get_generator
from . import _kernels


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# -- layers ---------------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias``.  Shape: (*, in), (out, in), (out,) -> (*, out)."""
    return wrap(_kernels.linear(input._t, weight._t, None if bias is None else bias._t))


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation), NCHW.  padding: int, pair, "valid" or "same";
    ``groups`` splits the channels (weight (O, C/groups, kh, kw); groups = C: depthwise)."""
    kernel, dilation = weight.shape[2:], _pair(dilation)
    if padding == "valid":
        padding = 0
    elif padding == "same":
        if _pair(stride) != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        padding = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
        if any(d * (k - 1) % 2 for d, k in zip(dilation, kernel)):
            raise NotImplementedError("padding='same' with an even kernel is not supported yet")
    return wrap(_kernels.conv2d(input._t, weight._t, None if bias is None else bias._t,
                                _pair(stride), _pair(padding), dilation, groups))


def _check_4d(name: str, x: Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} expects input of shape (N, C, H, W), got {tuple(x.shape)}")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """The maximum of each window; with ``return_indices`` also where it was, as PyTorch
    gives it: the flat index ``row * W + column`` in the (unpadded) input plane, int64."""
    _check_4d("max_pool2d", input)
    values, indices = _kernels.max_pool2d(input._t, _pair(kernel_size), _pair(stride or kernel_size),
                                          _pair(padding), _pair(dilation), ceil_mode)
    if return_indices:
        return wrap(values), wrap(EngineTensor(indices))
    return wrap(values)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    _check_4d("avg_pool2d", input)
    return wrap(_kernels.avg_pool2d(input._t, _pair(kernel_size), _pair(stride or kernel_size),
                                    _pair(padding), ceil_mode, count_include_pad))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    _check_4d("adaptive_avg_pool2d", input)
    return wrap(_kernels.adaptive_avg_pool2d(input._t, _pair(output_size)))


def batch_norm(input: Tensor, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over axis 1; ``running_*`` (tensors) updated in place when training."""
    rm = None if running_mean is None else running_mean._t.data
    rv = None if running_var is None else running_var._t.data
    return wrap(_kernels.batch_norm(input._t, rm, rv, None if weight is None else weight._t,
                                    None if bias is None else bias._t, training, momentum, eps))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    indices = _array(input)
    if indices.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have an integer scalar type; "
                           f"but got {input.dtype} instead")
    return wrap(_kernels.embedding(indices, weight._t, padding_idx))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1 - p) (training only)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    keep = get_generator().random(input.shape) >= p
    scale = np.where(keep, 1 / (1 - p) if p < 1 else 0.0, 0.0).astype(input._t.data.dtype)
    return wrap(ops.multiply(input._t, scale))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    return input.flatten(start_dim, end_dim)


# -- activations ----------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    return wrap(ops.relu(input._t))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    return wrap(ops.leaky_relu(input._t, negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    return wrap(ops.elu(input._t, alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    return wrap(ops.gelu(input._t, approximate=approximate == "tanh"))


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    return wrap(ops.silu(input._t))


def softplus(input: Tensor) -> Tensor:  # noqa: A002
    return wrap(ops.softplus(input._t))


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return wrap(ops.sigmoid(input._t))


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return wrap(ops.tanh(input._t))


def _softmax_dim(ndim: int) -> int:
    """PyTorch's implicit dim (with its deprecation warning there): 0 for 0-, 1- and 3-D."""
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:  # noqa: A002
    x = input if dtype is None else input.to(dtype)
    return wrap(ops.softmax(x._t, axis=_softmax_dim(x.ndim) if dim is None else dim))


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:  # noqa: A002
    x = input if dtype is None else input.to(dtype)
    return wrap(ops.log_softmax(x._t, axis=_softmax_dim(x.ndim) if dim is None else dim))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    from .._functions import one_hot as _one_hot
    return _one_hot(tensor, num_classes)


# -- losses ---------------------------------------------------------------------------------
def _reduce(loss, reduction: str):
    """``loss`` (an engine tensor of per-element losses) reduced as ``reduction`` says."""
    if reduction == "mean":
        return wrap(ops.mean(loss))
    if reduction == "sum":
        return wrap(ops.sum(loss))
    if reduction == "none":
        return wrap(loss)
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _target(target, like: Tensor) -> np.ndarray:
    values = _array(target)
    if values.shape != tuple(like.shape):
        raise ValueError(f"Using a target size ({tuple(values.shape)}) that is different to the input "
                         f"size ({tuple(like.shape)}) is deprecated. Please ensure they have the same size.")
    return values


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """``(input - target)^2``, reduced."""
    return _reduce(ops.square(ops.subtract(input._t, unwrap(target))), reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """``|input - target|``, reduced (gradient sign(input - target), 0 at 0)."""
    return _reduce(ops.abs(ops.subtract(input._t, unwrap(target))), reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` on probabilities, logs clamped at -100 (PyTorch's)."""
    y = _target(target, input).astype(input._t.data.dtype, copy=False)
    if np.any((input._t.data < 0) | (input._t.data > 1)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = None if weight is None else _array(weight)
    return _reduce(_kernels.binary_cross_entropy(input._t, y, w), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight=None,  # noqa: A002
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """On logits x, stably: ``(1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)``;
    without ``pos_weight`` the gradient is ``sigmoid(x) - y``."""
    x, y = input._t, _target(target, input).astype(input._t.data.dtype, copy=False)
    log_weight = 1 if pos_weight is None else 1 + (_array(pos_weight) - 1) * y
    loss = ops.add(ops.multiply(x, 1 - y), ops.multiply(ops.softplus(ops.negative(x)), log_weight))
    if weight is not None:
        loss = ops.multiply(loss, _array(weight))
    return _reduce(loss, reduction)


def _class_last(x):
    """(N, C, d1, ...) -> (N, d1, ..., C): classes on the last axis for the engine's ops."""
    return x if x.ndim <= 2 else ops.moveaxis(x, 1, -1)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """``-input[n, y_n] w[y_n]``; "mean" divides by the sum of the picked weights (PyTorch's)."""
    logp = _class_last(input._t)
    labels = _array(target)
    if labels.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {target.dtype}")
    keep = labels != ignore_index
    safe = np.where(keep, labels, 0)
    if np.any(safe < 0) or np.any(safe >= logp.shape[-1]):
        raise IndexError(f"Target {int(safe[(safe < 0) | (safe >= logp.shape[-1])][0])} is out of bounds.")
    picked = ops.squeeze(ops.take_along_axis(logp, safe[..., None], axis=-1), -1)
    w = np.ones(logp.shape[-1], logp.dtype) if weight is None else _array(weight)
    sample_weight = (w[safe] * keep).astype(logp.dtype)
    loss = ops.multiply(ops.negative(picked), sample_weight)
    if reduction == "mean":
        return wrap(ops.divide(ops.sum(loss), sample_weight.sum()))
    return _reduce(loss, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``log_softmax`` over dim 1, then NLL for class indices, or ``-sum(t log p)`` for class
    probabilities; ``label_smoothing`` eps mixes in the uniform target eps / C (PyTorch's)."""
    x = input if input.ndim > 1 else input.unsqueeze(0)
    logp = wrap(ops.log_softmax(x._t, axis=1))
    classes = x.shape[1]
    target_array = _array(target)
    w = None if weight is None else _array(weight)
    if target_array.dtype.kind == "f":  # probabilities, shaped like the input
        t = target_array if input.ndim > 1 else target_array[None]
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / classes
        scaled = t if w is None else t * w.reshape((1, -1) + (1,) * (x.ndim - 2))
        loss = ops.negative(ops.sum(ops.multiply(logp._t, scaled.astype(logp._t.dtype)), axis=1))
        if input.ndim == 1:
            loss = ops.squeeze(loss, 0)
        return _reduce(loss, reduction)
    labels = target_array if input.ndim > 1 else target_array[None]
    nll = nll_loss(logp, labels, weight, ignore_index, "none" if label_smoothing else reduction)
    if not label_smoothing:
        return nll if input.ndim > 1 or reduction != "none" else nll.squeeze(0)
    keep = (labels != ignore_index).astype(logp._t.dtype)
    wc = np.ones(classes, logp._t.dtype) if w is None else w.astype(logp._t.dtype)
    smooth = ops.negative(ops.sum(ops.multiply(_class_last(logp._t), wc), axis=-1))
    smooth = ops.multiply(smooth, keep)
    if reduction == "mean":
        safe = np.where(labels != ignore_index, labels, 0)
        denominator = (wc[safe] * keep).sum()
        nll_mean = ops.divide(ops.sum(nll._t), denominator)
        smooth_mean = ops.divide(ops.sum(smooth), denominator)
        return wrap(ops.add(ops.multiply(nll_mean, 1 - label_smoothing),
                            ops.multiply(smooth_mean, label_smoothing / classes)))
    loss = ops.add(ops.multiply(nll._t, 1 - label_smoothing), ops.multiply(smooth, label_smoothing / classes))
    if input.ndim == 1 and reduction == "none":
        loss = ops.squeeze(loss, 0)
    return _reduce(loss, reduction)
