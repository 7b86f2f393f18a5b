"""Losses: ``loss(y_true, y_pred) -> float`` (mean over the batch) and its gradient.

Each loss gives ``value = loss(y_true, y_pred)`` and ``gradient(y_true, y_pred) = dL/dy_pred``.
Reduction is the mean over samples, as in Keras and PyTorch (per sample, MSE and binary
cross-entropy average over the last axis first, as Keras does).

Fused, stable paths. Softmax followed by categorical cross-entropy, and sigmoid followed
by binary cross-entropy, have the simple gradient ``dL/dz = (p - t) / N`` with respect
to the logits z. A model whose last layer ends in that activation calls
:meth:`Loss.from_logits_grad` with the logits, so even logits of 1e4 give finite
losses and gradients. ``from_logits=True`` losses take that path directly.

String names (Keras): ``mean_squared_error`` (``mse``), ``mean_absolute_error`` (``mae``),
``binary_crossentropy``, ``categorical_crossentropy``, ``sparse_categorical_crossentropy``,
``multiclass_hinge`` (cs231n's SVM loss, alias ``svm``), ``categorical_hinge``, ``hinge``.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from . import activations, backend, ops
from .functional import log_softmax, softplus
from .registry import Registry
from .tensor import Tensor, as_tensor, enable_grad, no_grad

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "MulticlassHinge",
    "CategoricalHinge", "Hinge", "get", "serialize", "deserialize",
]


def _as_float(a, like: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a if a.dtype == like.dtype else a.astype(like.dtype)


class Loss:
    """Base class (Keras ``keras.losses.Loss``).

    Two ways to write a loss:

    * the Keras way: ``call(y_true, y_pred)`` with :mod:`neuralab.ops` returns the
      per-sample losses (any shape: the loss is their mean); the gradient comes from the
      ops it used;
    * the fast way (the built-ins): ``call`` on arrays and a hand-written
      ``gradient(y_true, y_pred) = dL/dy_pred`` of the batch mean.
    """

    name = "loss"
    #: the output activation this loss fuses with (``"softmax"``/``"sigmoid"``), if any
    fused_activation: str | None = None

    def __init__(self, from_logits: bool = False, name: str | None = None, reduction=None,
                 dtype=None):
        self.from_logits = bool(from_logits)
        if reduction not in (None, "sum_over_batch_size", "mean", "auto"):
            raise ValueError(f"{type(self).__name__}: reduction {reduction!r} is not supported; "
                             "the loss is the mean over the batch ('sum_over_batch_size')")
        if name is not None:
            self.name = name
        elif type(self).name == "loss" and type(self) is not Loss:
            self.name = _snake_case(type(self).__name__)

    #: the loss scores rows of class scores (N, classes): predictions (N, T, ..., classes)
    #: are scored step by step as rows (N * T * ..., classes), as Keras does
    per_row = False

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The batch loss (Keras ``loss(y_true, y_pred, sample_weight=None)``): a float for
        arrays; a Tensor with the gradient to ``y_pred`` when ``y_pred`` is one (inside a
        layer's ``call``, e.g. a loss handed to ``self.add_loss``)."""
        if isinstance(y_pred, Tensor):
            pred = y_pred.data
            target = y_true.data if isinstance(y_true, Tensor) else y_true
            weight = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
            if self.per_row and pred.ndim > 2:
                target, pred, weight = self.as_rows(target, pred, weight)
            target = self.check_targets(target, pred)
            value, grad = self.value_and_gradient(target, pred, weight)
            grad = grad.reshape(y_pred.data.shape)
            return Tensor.from_op(np.asarray(value, dtype=pred.dtype), [y_pred],
                                  lambda d: [d * grad], self.name)
        y_pred = np.asarray(y_pred, dtype=float) if not isinstance(y_pred, np.ndarray) else y_pred
        if self.per_row and y_pred.ndim > 2:
            y_true, y_pred, sample_weight = self.as_rows(y_true, y_pred, sample_weight)
        y_true = self.check_targets(y_true, y_pred)
        return self.value(y_true, y_pred, sample_weight)

    def as_rows(self, y_true, y_pred: np.ndarray, sample_weight=None):
        """Predictions (N, T, ..., classes) as rows (M, classes), the targets' matching
        rows and the weights (N,) or (N, T, ...) repeated to one per row."""
        lead = y_pred.shape[:-1]
        y_true = np.asarray(y_true)
        if y_true.shape[:len(lead)] != lead:
            raise ValueError(f"{self.name}: predictions of shape {y_pred.shape} need targets "
                             f"of shape {lead} (labels) or {y_pred.shape}, got {y_true.shape}")
        rows = int(np.prod(lead))
        if sample_weight is not None:
            sample_weight = np.broadcast_to(per_sample(np.asarray(sample_weight), len(lead)),
                                            lead).reshape(rows)
        return (y_true.reshape((rows,) + y_true.shape[len(lead):]),
                y_pred.reshape(rows, y_pred.shape[-1]), sample_weight)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample losses, shape (N,): ndarrays in and out for a loss with its own
        ``gradient``, Tensors (through :mod:`neuralab.ops`) for one differentiated by autodiff."""
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred)")

    @property
    def has_own_gradient(self) -> bool:
        return type(self).gradient is not Loss.gradient

    def value(self, y_true, y_pred, sample_weight=None) -> float:
        """The batch loss: the mean of ``call`` (each sample's losses times its weight
        when ``sample_weight`` (N,) is given: Keras' ``sum(w * loss) / N``)."""
        if self.has_own_gradient:
            per = self.call(y_true, y_pred)
        else:
            with no_grad():
                per = np.asarray(self.call(Tensor(y_true), Tensor(y_pred)))
        return float(np.mean(per if sample_weight is None
                             else per * per_sample(sample_weight, per.ndim)))

    def gradient(self, y_true, y_pred) -> np.ndarray:
        """dL/dy_pred for the batch mean L; same shape as ``y_pred``. By default found by
        backpropagating through the ops ``call`` used."""
        return self.value_and_gradient(y_true, y_pred)[1]

    def value_and_gradient(self, y_true, y_pred, sample_weight=None
                           ) -> tuple[float, np.ndarray]:
        """:meth:`value` and dL/dy_pred; with ``sample_weight`` each sample's row of the
        gradient is scaled by its weight."""
        if self.has_own_gradient:
            grad = self.gradient(y_true, y_pred)
            if sample_weight is not None:
                grad = grad * per_sample(sample_weight, grad.ndim, grad.dtype)
            return self.value(y_true, y_pred, sample_weight), grad
        p = Tensor(y_pred, requires_grad=True)
        with enable_grad():
            per = as_tensor(self.call(Tensor(y_true), p))
            if sample_weight is not None:
                per = ops.multiply(per, per_sample(sample_weight, per.ndim, per.dtype))
            loss = ops.mean(per) if per.requires_grad else None
        if loss is None:
            raise ValueError(f"{self.name}: call(y_true, y_pred) returned a value that does not "
                             "depend on y_pred through neuralab.ops, so it has no gradient")
        loss.backward()
        return float(loss.data), cast(np.ndarray, p.grad)  # set by backward


    def from_logits_grad(self, y_true, z: np.ndarray, p: np.ndarray | None = None):
        """(loss, dL/dz) from logits ``z`` (``p = activation(z)`` may be passed to reuse)."""
        raise NotImplementedError(f"{type(self).__name__} has no logits path")

    def check_targets(self, y_true, y_pred: np.ndarray) -> np.ndarray:
        """Validate and convert ``y_true``; raise ValueError saying what was expected."""
        y_true = np.asarray(y_true)
        if not np.issubdtype(y_true.dtype, np.number) and y_true.dtype != bool:
            raise TypeError(f"{self.name}: targets must be numeric, got dtype {y_true.dtype}")
        if y_true.shape != y_pred.shape:
            if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1 \
                    and y_true.shape == y_pred.shape[:-1]:
                y_true = y_true.reshape(y_pred.shape)
            elif self.has_own_gradient:
                raise ValueError(f"{self.name}: targets of shape {y_true.shape} do not match "
                                 f"predictions of shape {y_pred.shape}")
            # your own call(y_true, y_pred) decides which target shapes it takes (Keras)
        return _as_float(y_true, y_pred)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits} if self.fused_activation else {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def per_sample(sample_weight: np.ndarray, ndim: int, dtype=None) -> np.ndarray:
    """Weights (N,), or per step (N, T, ...), shaped to broadcast over a rank-``ndim``
    array (N, ...)."""
    w = sample_weight.reshape(sample_weight.shape + (1,) * (ndim - sample_weight.ndim))
    return w if dtype is None else w.astype(dtype, copy=False)


class LossFunctionWrapper(Loss):
    """A plain function ``fn(y_true, y_pred)`` (written with :mod:`neuralab.ops`) as a loss."""

    def __init__(self, fn, name: str | None = None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        return {"name": self.name}


def _snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)**2)`` over the last axis, then over the batch."""

    name = "mean_squared_error"

    def call(self, y_true, y_pred):
        diff = y_pred - y_true
        return (diff * diff).reshape(len(diff), -1).mean(axis=1)

    def gradient(self, y_true, y_pred):
        return (2.0 / y_pred.size) * (y_pred - y_true)


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        return np.abs(y_pred - y_true).reshape(len(y_pred), -1).mean(axis=1)

    def gradient(self, y_true, y_pred):
        return np.sign(y_pred - y_true) / y_pred.size


class BinaryCrossentropy(Loss):
    """``-[t log p + (1 - t) log(1 - p)]``, averaged over the last axis then the batch.

    On probabilities, ``p`` is clipped to ``[eps, 1 - eps]`` (eps = 1e-7) as in Keras;
    with logits (``from_logits=True`` or fused after a sigmoid) it is computed as
    ``softplus(z) - t z``, exact for any z.
    """

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def check_targets(self, y_true, y_pred):
        y_true = super().check_targets(y_true, y_pred)
        if y_true.size and (y_true.min() < 0 or y_true.max() > 1):
            raise ValueError(f"{self.name}: targets must lie in [0, 1], got values in "
                             f"[{y_true.min()}, {y_true.max()}] (for labels -1/+1 use hinge or "
                             "map them to 0/1)")
        return y_true

    def call(self, y_true, y_pred):
        n = len(y_pred)
        if self.from_logits:
            per = softplus(y_pred) - y_true * y_pred
        else:
            eps = backend.epsilon()
            p = np.clip(y_pred, eps, 1 - eps)
            per = -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))
        return per.reshape(n, -1).mean(axis=1)

    def gradient(self, y_true, y_pred):
        if self.from_logits:
            return (activations.sigmoid.forward(y_pred) - y_true) / y_pred.size
        eps = backend.epsilon()
        p = np.clip(y_pred, eps, 1 - eps)
        grad = (p - y_true) / (p * (1 - p)) / y_pred.size
        # the clip is flat outside [eps, 1 - eps]: no gradient flows there (as in Keras)
        grad[(y_pred < eps) | (y_pred > 1 - eps)] = 0
        return grad

    def from_logits_grad(self, y_true, z, p=None):
        if p is None:
            p = activations.sigmoid.forward(z)
        per_element = np.logaddexp(0, z)  # softplus, exact for any z
        per_element -= y_true * z
        value = float(np.add.reduce(per_element, axis=None)) / z.size
        return value, (p - y_true) * (1.0 / z.size)


class CategoricalCrossentropy(Loss):
    """``-sum_k t_k log p_k`` with one-hot (or soft) targets of shape (N, K)."""

    per_row = True

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name=None):
        super().__init__(from_logits, name)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def check_targets(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] > 1:
            raise ValueError(
                f"{self.name}: expected one-hot targets of shape {y_pred.shape}, got integer "
                f"labels of shape {y_true.shape}; use 'sparse_categorical_crossentropy' or "
                "neuralab.utils.to_categorical(labels)")
        y_true = super().check_targets(y_true, y_pred)
        if y_true.size and (y_true.min() < 0 or y_true.max() > 1):
            raise ValueError(f"{self.name}: one-hot targets must lie in [0, 1], got values in "
                             f"[{y_true.min()}, {y_true.max()}]")
        return y_true

    def _smooth(self, y_true):
        if not self.label_smoothing:
            return y_true
        k = y_true.shape[-1]
        return y_true * (1 - self.label_smoothing) + self.label_smoothing / k

    def call(self, y_true, y_pred):
        t = self._smooth(y_true)
        if self.from_logits:
            logp = log_softmax(y_pred)
        else:
            p = y_pred / y_pred.sum(axis=-1, keepdims=True)
            logp = np.log(np.clip(p, backend.epsilon(), 1 - backend.epsilon()))
        return -(t * logp).sum(axis=-1).reshape(len(y_pred), -1).mean(axis=1)

    def gradient(self, y_true, y_pred):
        t = self._smooth(y_true)
        n = y_pred.size // y_pred.shape[-1]
        if self.from_logits:
            return (np.exp(log_softmax(y_pred)) * t.sum(axis=-1, keepdims=True) - t) / n
        eps = backend.epsilon()
        s = y_pred.sum(axis=-1, keepdims=True)
        p = y_pred / s
        clipped = np.clip(p, eps, 1 - eps)
        dp = np.where((p < eps) | (p > 1 - eps), 0.0, -t / clipped)
        # through the normalization p = y / sum(y): dL/dy_j = (dp_j - sum_k dp_k p_k) / s
        return ((dp - (dp * p).sum(axis=-1, keepdims=True)) / s / n).astype(y_pred.dtype)

    def from_logits_grad(self, y_true, z, p=None):
        t = self._smooth(y_true)
        n = z.size // z.shape[-1]
        logp = log_softmax(z)
        value = float(-(t * logp).sum() / n)
        if p is None:
            p = np.exp(logp)
        return value, (p - t) * (1.0 / n)

    def get_config(self):
        config = super().get_config()
        if self.label_smoothing:
            config["label_smoothing"] = self.label_smoothing
        return config


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer labels of shape (N,) (or (N, 1))."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False, name=None):
        super().__init__(from_logits=from_logits, name=name)

    def check_targets(self, y_true, y_pred):
        return check_labels(y_true, y_pred, self.name)

    def call(self, y_true, y_pred):
        rows = np.arange(len(y_pred))
        if self.from_logits:
            logp = log_softmax(y_pred)[rows, y_true]
        else:
            p = y_pred[rows, y_true] / y_pred.sum(axis=-1)
            logp = np.log(np.clip(p, backend.epsilon(), 1 - backend.epsilon()))
        return -logp

    def gradient(self, y_true, y_pred):
        return super().gradient(one_hot(y_true, y_pred.shape[-1], y_pred.dtype), y_pred)

    def from_logits_grad(self, y_true, z, p=None):
        n = len(z)
        rows = np.arange(n)
        zmax = np.maximum.reduce(z, axis=-1)
        shifted = z - zmax[:, None]
        lse = np.log(np.add.reduce(np.exp(shifted), axis=-1))  # logsumexp(z) - zmax
        value = float(np.add.reduce(lse - shifted[rows, y_true])) / n
        if p is None:
            p = np.exp(shifted - lse[:, None])
        grad = p * (1.0 / n)
        grad[rows, y_true] -= 1.0 / n
        return value, grad

    def get_config(self):
        return {"from_logits": self.from_logits}


def one_hot(labels: np.ndarray, num_classes: int, dtype=np.float64) -> np.ndarray:
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def check_labels(y_true, y_pred: np.ndarray, who: str) -> np.ndarray:
    """Integer class labels (N,) in [0, K) for predictions (N, K); returns intp labels."""
    y_true = np.asarray(y_true)
    k = y_pred.shape[-1]
    if y_pred.ndim != 2:
        raise ValueError(f"{who}: expected predictions of shape (N, classes), got {y_pred.shape}")
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_true.ndim != 1 or len(y_true) != len(y_pred):
        hint = " (these look one-hot: use 'categorical_crossentropy')" if y_true.shape == y_pred.shape else ""
        raise ValueError(f"{who}: expected integer labels of shape ({len(y_pred)},), got shape "
                         f"{y_true.shape}{hint}")
    if y_true.dtype == bool:
        y_true = y_true.astype(np.intp)
    if not np.issubdtype(y_true.dtype, np.integer) and (
            not np.issubdtype(y_true.dtype, np.number) or not np.all(np.isfinite(y_true))
            or np.any(y_true != np.round(y_true))):
        raise ValueError(f"{who}: labels must be integers in [0, {k}), got dtype {y_true.dtype} "
                         "with non-integer values")
    if y_true.size and (y_true.min() < 0 or y_true.max() >= k):
        raise ValueError(f"{who}: labels must be integers in [0, {k}) for {k} outputs, got values "
                         f"in [{y_true.min():g}, {y_true.max():g}]")
    return y_true.astype(np.intp, copy=False)


class MulticlassHinge(Loss):
    """cs231n's multiclass SVM loss: ``sum_{j != y} max(0, s_j - s_y + margin)``.

    Takes integer labels (N,) (or one-hot, converted). Subgradient: +1 on each violating
    class, minus their count on the true class.
    """

    per_row = True

    name = "multiclass_hinge"

    def __init__(self, margin: float = 1.0, name=None):
        super().__init__(name=name)
        self.margin = float(margin)

    def check_targets(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_true.shape == y_pred.shape and y_pred.shape[-1] > 1:
            y_true = y_true.argmax(axis=-1)
        return check_labels(y_true, y_pred, self.name)

    def _margins(self, y_true, s):
        rows = np.arange(len(s))
        margins = np.maximum(0, s - s[rows, y_true][:, None] + self.margin)
        margins[rows, y_true] = 0
        return margins

    def call(self, y_true, y_pred):
        return self._margins(y_true, y_pred).sum(axis=1)

    def gradient(self, y_true, y_pred):
        rows = np.arange(len(y_pred))
        grad = (self._margins(y_true, y_pred) > 0).astype(y_pred.dtype)
        grad[rows, y_true] = -grad.sum(axis=1)
        return grad / len(y_pred)

    def get_config(self):
        return {"margin": self.margin}


class CategoricalHinge(Loss):
    """Keras ``categorical_hinge``: ``max(0, 1 + max_{j != y} s_j - s_y)`` (one-hot targets)."""

    per_row = True

    name = "categorical_hinge"

    def call(self, y_true, y_pred):
        pos = (y_true * y_pred).sum(axis=-1)
        neg = ((1 - y_true) * y_pred).max(axis=-1)
        return np.maximum(0, neg - pos + 1)

    def gradient(self, y_true, y_pred):
        pos = (y_true * y_pred).sum(axis=-1)
        masked = (1 - y_true) * y_pred
        neg_idx = masked.argmax(axis=-1)
        active = (masked[np.arange(len(y_pred)), neg_idx] - pos + 1) > 0
        grad = np.zeros_like(y_pred)
        grad[np.arange(len(y_pred)), neg_idx] = active * (1 - y_true[np.arange(len(y_pred)), neg_idx])
        grad -= active[:, None] * y_true
        return grad / len(y_pred)


class Hinge(Loss):
    """Keras ``hinge``: ``mean(max(0, 1 - t y))`` with targets in {-1, +1} (0 maps to -1)."""

    name = "hinge"

    def check_targets(self, y_true, y_pred):
        y_true = super().check_targets(y_true, y_pred)
        return np.where(y_true == 0, -1, y_true).astype(y_pred.dtype)

    def call(self, y_true, y_pred):
        return np.maximum(0, 1 - y_true * y_pred).reshape(len(y_pred), -1).mean(axis=1)

    def gradient(self, y_true, y_pred):
        return np.where(1 - y_true * y_pred > 0, -y_true, 0).astype(y_pred.dtype) / y_pred.size


_REGISTRY = Registry(
    "loss", Loss,
    {cls.name: cls for cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                               CategoricalCrossentropy, SparseCategoricalCrossentropy,
                               MulticlassHinge, CategoricalHinge, Hinge)},
    aliases={"mse": "mean_squared_error", "mae": "mean_absolute_error", "svm": "multiclass_hinge",
             "bce": "binary_crossentropy", "crossentropy": "categorical_crossentropy"})


def get(identifier) -> Loss:
    """Resolve a loss name (``"categorical_crossentropy"``, ``"mse"``), a class name, a
    config dict, a Loss class or instance, or any function ``fn(y_true, y_pred)``."""
    if callable(identifier) and not isinstance(identifier, (Loss, type)):
        return LossFunctionWrapper(identifier)
    return _REGISTRY.get(identifier)


def names() -> list[str]:
    """The loss names ``compile(loss=...)`` accepts."""
    return list(_REGISTRY.names)


def serialize(loss: Loss) -> dict:
    return _REGISTRY.serialize(loss)


def deserialize(config, custom_objects: dict | None = None) -> Loss:
    """Inverse of :func:`serialize`; ``custom_objects`` maps names to your own classes."""
    return _REGISTRY.deserialize(config, custom_objects)


# Keras-style function aliases
mean_squared_error = mse = MeanSquaredError()
mean_absolute_error = mae = MeanAbsoluteError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()
