"""Activations, softmax and cross-entropies, with fused backward passes where composing
primitives would be unstable or slow (sigmoid, softplus, softmax, log_softmax and the
cross-entropies never form ``exp`` of a large number or ``log`` of 0).

Cross-entropies follow ``keras.ops``: ``(target, output)``, elementwise or per-sample
losses without reduction, probabilities clipped to [eps, 1 - eps] (``backend.epsilon()``)
unless ``from_logits=True``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..functional import softplus as softplus_array
from ..tensor import Tensor
from .core import TensorLike, operands, result_array, to_array, unary
from .core import one_hot as one_hot_labels
from .elementwise import TWO_OVER_SQRT_PI, erf_array, multiply, negative


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-x)`` without overflow: with z = e^-|x|, 1/(1+z) for x >= 0, z/(1+z) below."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, z) / (1 + z)


# -- activations ----------------------------------------------------------------------------
def sigmoid(x: TensorLike) -> Tensor:
    """``1 / (1 + e^-x)``.  dx = dout y (1 - y)."""
    return unary(x, sigmoid_array, lambda dout, x, y: dout * y * (1 - y), "sigmoid")


def softplus(x: TensorLike) -> Tensor:
    """``log(1 + e^x)``, stable.  dx = dout sigmoid(x)."""
    return unary(x, softplus_array, lambda dout, x, y: dout * sigmoid_array(x), "softplus")


def log_sigmoid(x: TensorLike) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return negative(softplus(negative(x)))


def relu(x: TensorLike) -> Tensor:
    """``max(x, 0)``.  dx = dout where x > 0, else 0."""
    return unary(x, lambda v: np.maximum(v, 0), lambda dout, x, y: dout * (x > 0), "relu")


def relu6(x: TensorLike) -> Tensor:
    """``min(max(x, 0), 6)``.  dx = dout where 0 < x < 6, else 0."""
    return unary(x, lambda v: np.clip(v, 0, 6), lambda dout, x, y: dout * ((x > 0) & (x < 6)),
                 "relu6")


def leaky_relu(x: TensorLike, negative_slope: float = 0.2) -> Tensor:
    """``x`` for x > 0, ``negative_slope * x`` below.  dx = dout * (1 or negative_slope)."""
    return unary(x, lambda v: np.where(v > 0, v, negative_slope * v),
                 lambda dout, x, y: np.where(x > 0, dout, negative_slope * dout), "leaky_relu")


def elu(x: TensorLike, alpha: float = 1.0) -> Tensor:
    """``x`` for x > 0, ``alpha (e^x - 1)`` below.  dx = dout for x > 0, dout (y + alpha) below."""
    return unary(x, lambda v: np.where(v > 0, v, alpha * np.expm1(np.minimum(v, 0))),
                 lambda dout, x, y: np.where(x > 0, dout, dout * (y + alpha)), "elu")


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: TensorLike) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return multiply(elu(x, SELU_ALPHA), SELU_SCALE)


def silu(x: TensorLike) -> Tensor:
    """``x sigmoid(x)`` (swish).  dx = dout s (1 + x (1 - s)), s = sigmoid(x)."""
    def derivative(dout, x, y):
        s = sigmoid_array(x)
        return dout * s * (1 + x * (1 - s))
    return unary(x, lambda v: v * sigmoid_array(v), derivative, "silu")


swish = silu

GELU_C = math.sqrt(2 / math.pi)  # tanh approximation: 0.5 x (1 + tanh(c (x + 0.044715 x^3)))
GELU_A = 0.044715


def gelu(x: TensorLike, approximate: bool = True) -> Tensor:
    """Gaussian error linear unit ``x Phi(x)``; Keras' default is the tanh approximation.

    exact:        y = x (1 + erf(x / sqrt 2)) / 2,         dx = dout (Phi(x) + x phi(x))
    approximate:  y = x (1 + tanh(u)) / 2, u = c (x + a x^3),
                  dx = dout ((1 + t) / 2 + x (1 - t^2) c (1 + 3 a x^2) / 2), t = tanh(u)
    """
    if approximate:
        def forward(v):
            return 0.5 * v * (1 + np.tanh(GELU_C * (v + GELU_A * v ** 3)))

        def derivative(dout, x, y):
            t = np.tanh(GELU_C * (x + GELU_A * x ** 3))
            return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x))
        return unary(x, forward, derivative, "gelu")

    def exact(v):
        return 0.5 * v * (1 + erf_array(v / math.sqrt(2)))

    def exact_derivative(dout, x, y):
        phi = 0.5 * TWO_OVER_SQRT_PI / math.sqrt(2) * np.exp(-0.5 * x * x)  # standard normal pdf
        return dout * (0.5 * (1 + erf_array(x / math.sqrt(2))) + x * phi)
    return unary(x, exact, exact_derivative, "gelu")


# -- softmax family -------------------------------------------------------------------------
def softmax(x: TensorLike, axis: int = -1) -> Tensor:
    """``e^x / sum(e^x)`` along ``axis``.  dx = y (dout - sum(dout y))."""
    (t,), (v,) = operands(x)
    e = np.exp(v - np.max(v, axis=axis, keepdims=True))
    y = result_array(e / np.sum(e, axis=axis, keepdims=True), v)

    def backward(dout):
        return (y * (dout - np.sum(dout * y, axis=axis, keepdims=True)),)
    return Tensor.from_op(y, (t,), backward, "softmax")


def log_softmax(x: TensorLike, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``.  dx = dout - softmax(x) sum(dout)."""
    (t,), (v,) = operands(x)
    shifted = v - np.max(v, axis=axis, keepdims=True)
    y = result_array(shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True)), v)

    def backward(dout):
        return (dout - np.exp(y) * np.sum(dout, axis=axis, keepdims=True),)
    return Tensor.from_op(y, (t,), backward, "log_softmax")


# -- cross-entropies ------------------------------------------------------------------------
def binary_crossentropy(target: TensorLike, output: TensorLike, from_logits: bool = False
                        ) -> Tensor:
    """Elementwise ``-(t log p + (1 - t) log(1 - p))``.

    from logits z (p = sigmoid(z)):  loss = softplus(z) - t z,  dz = dout (p - t),  dt = -dout z.
    from probabilities p (clipped):  dp = dout (p - t) / (p (1 - p)) inside [eps, 1 - eps]
    (0 outside), dt = -dout log(p / (1 - p)).
    """
    (tt, to), (t, z) = operands(target, output)
    if from_logits:
        loss = result_array(softplus_array(z) - t * z, t, z)

        def backward(dout):
            return -dout * z, dout * (sigmoid_array(z) - t)
        return Tensor.from_op(loss, (tt, to), backward, "binary_crossentropy")
    eps = backend.epsilon()
    p = np.clip(z, eps, 1 - eps)
    loss = result_array(-(t * np.log(p) + (1 - t) * np.log1p(-p)), t, z)

    def backward_probabilities(dout):
        inside = (z >= eps) & (z <= 1 - eps)
        return (-dout * (np.log(p) - np.log1p(-p)),
                dout * inside * (p - t) / (p * (1 - p)))
    return Tensor.from_op(loss, (tt, to), backward_probabilities, "binary_crossentropy")


def categorical_crossentropy(target: TensorLike, output: TensorLike, from_logits: bool = False,
                             axis: int = -1) -> Tensor:
    """Per-sample ``-sum(t log p)`` along ``axis`` (one axis fewer than the inputs).

    from logits z (p = softmax(z)):  dz = dout (p sum(t) - t),  dt = -dout log p.
    from probabilities o:  p = o / sum(o) clipped to [eps, 1 - eps];  with dp = -dout t / p
    inside the clip range (0 outside),  do = (dp - sum(dp p)) / sum(o),  dt = -dout log p.
    """
    (tt, to), (t, z) = operands(target, output)
    if from_logits:
        shifted = z - np.max(z, axis=axis, keepdims=True)
        log_p = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        p = np.exp(log_p)
    else:
        eps = backend.epsilon()
        total = np.sum(z, axis=axis, keepdims=True)
        p_raw = z / total
        p = np.clip(p_raw, eps, 1 - eps)
        log_p = np.log(p)
    loss = result_array(-np.sum(t * log_p, axis=axis), t, z)

    def backward(dout):
        dout = np.expand_dims(dout, axis)
        dt = -dout * log_p
        if from_logits:
            return dt, dout * (p * np.sum(t, axis=axis, keepdims=True) - t)
        dp = -dout * t / p * ((p_raw >= eps) & (p_raw <= 1 - eps))
        return dt, (dp - np.sum(dp * p_raw, axis=axis, keepdims=True)) / total
    return Tensor.from_op(loss, (tt, to), backward, "categorical_crossentropy")


def sparse_categorical_crossentropy(target: TensorLike, output: TensorLike,
                                    from_logits: bool = False, axis: int = -1) -> Tensor:
    """:func:`categorical_crossentropy` with integer class labels (..., ) or (..., 1) as the
    target (no gradient for the labels)."""
    labels = to_array(target)
    scores = to_array(output)
    if labels.ndim == scores.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    onehot = one_hot_labels(labels.astype(np.int64, copy=False), scores.shape[axis], axis=axis,
                            dtype=scores.dtype if scores.dtype.kind == "f" else None)
    return categorical_crossentropy(onehot, output, from_logits=from_logits, axis=axis)
