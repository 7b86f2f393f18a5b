"""Metrics: stateful averages over batches (Keras ``update_state``/``result``/``reset_state``).

A metric object can also be called on one batch: ``SparseCategoricalAccuracy()(y, p)``.

``compile(metrics=["accuracy"])`` picks the accuracy that matches the loss, as Keras does:
categorical (argmax vs argmax) after ``categorical_crossentropy``, sparse (argmax vs
label) after ``sparse_categorical_crossentropy``, binary (threshold 0.5, or 0 on logits)
after ``binary_crossentropy`` or for a single output unit.

``classification_error`` is ``1 - accuracy`` and also understands -1/+1 targets with
``tanh`` outputs (the sign decides), as in the cat-vs-car homework.
"""

from __future__ import annotations

import copy

import numpy as np

from . import backend, initializers
from . import losses as losses_module
from .parameter import Parameter
from .registry import Registry

__all__ = [
    "Metric", "Mean", "MeanMetric", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
    "MeanSquaredError", "MeanAbsoluteError", "ClassificationError", "confusion_matrix", "get",
]


class Metric:
    """Base class (Keras ``keras.metrics.Metric``): a state updated batch by batch.

    Subclasses define ``update_state(y_true, y_pred, sample_weight=None)`` and
    ``result()``; their state lives in variables made with :meth:`add_variable` (which
    the default ``reset_state`` sets back to their initial values) or in plain attributes
    set by their own ``reset_state``.
    """

    name = "metric"

    def __init__(self, name: str | None = None, dtype=None):
        if name is not None:
            self.name = name
        elif type(self).name == "metric":
            self.name = "".join("_" + c.lower() if c.isupper() and i else c.lower()
                                for i, c in enumerate(type(self).__name__))
        self.dtype = backend.standardize_dtype(dtype) if dtype is not None else backend.floatx()
        self._variables: list[tuple[Parameter, np.ndarray]] = []

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name: str | None = None) -> Parameter:
        """A state variable (a non-trainable Parameter; change it with ``.assign``)."""
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        value = initializers.get(initializer)(shape, np.dtype(dtype or self.dtype), None)
        variable = Parameter(value, name=f"{self.name}/{name or 'variable'}", trainable=False)
        self._variables.append((variable, value.copy()))
        return variable

    def add_weight(self, name: str | None = None, shape=(), initializer="zeros", dtype=None,
                   aggregation="sum") -> Parameter:
        """Keras 2 name of :meth:`add_variable`."""
        return self.add_variable(shape, initializer, dtype, aggregation, name)

    @property
    def variables(self) -> list[Parameter]:
        return [v for v, _ in self._variables]

    def reset_state(self) -> None:
        for variable, initial in self._variables:
            variable.assign(initial)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result")

    def __call__(self, y_true, y_pred) -> float:
        """The metric on this batch alone (state is left untouched)."""
        saved = dict(self.__dict__)
        values = [v.data.copy() for v in self.variables]
        self.reset_state()
        self.update_state(np.asarray(y_true), np.asarray(y_pred))
        result = float(self.result())
        self.__dict__.update(saved)
        for v, value in zip(self.variables, values):
            v.assign(value)
        return result

    def get_config(self) -> dict:
        return {"name": self.name}

    def __deepcopy__(self, memo):
        clone = copy.copy(self)
        memo[id(self)] = clone
        for key, value in vars(self).items():
            setattr(clone, key, copy.deepcopy(value, memo))
        clone._variables = [(Parameter(v.data.copy(), name=v.name, trainable=False), init)
                            for v, init in self._variables]
        remap = {id(v): new for (v, _), (new, _) in zip(self._variables, clone._variables)}
        for key, value in vars(self).items():
            if id(value) in remap:
                setattr(clone, key, remap[id(value)])
        return clone

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Weighted running mean of scalar values (used for the loss)."""

    name = "mean"

    def __init__(self, name: str | None = None, dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, value, weight: float = 1.0):
        self.total += float(value) * weight
        self.count += weight

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetric(Metric):
    """Mean over samples of ``per_sample(y_true, y_pred)``; subclasses define ``per_sample``."""

    def __init__(self, name: str | None = None, dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0

    def per_sample(self, y_true, y_pred) -> np.ndarray:
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.per_sample(y_true, y_pred)
        if values.dtype == bool:
            self.total += np.count_nonzero(values)
        else:
            self.total += float(np.add.reduce(values, axis=None))
        self.count += values.size

    def result(self):
        return self.total / self.count if self.count else 0.0


def class_ids(y) -> np.ndarray:
    """Class ids (N,) from labels, one-hot rows, probability rows, or one probability column
    (thresholded at 0.5)."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        return y.argmax(axis=-1)
    flat = y.reshape(len(y))
    if flat.dtype.kind == "f" and np.any(flat != np.round(flat)):
        return (flat > 0.5).astype(np.intp)
    return flat.astype(np.intp)


class Accuracy(MeanMetric):
    """Exact equality of predictions and targets (Keras ``Accuracy``)."""

    name = "accuracy"

    def per_sample(self, y_true, y_pred):
        return (np.asarray(y_true).reshape(y_pred.shape) == y_pred).astype(np.float64)


class BinaryAccuracy(MeanMetric):
    name = "binary_accuracy"

    def __init__(self, name=None, threshold: float = 0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def per_sample(self, y_true, y_pred):
        predicted = y_pred > self.threshold
        return predicted == (np.asarray(y_true).reshape(y_pred.shape) > 0.5)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetric):
    name = "categorical_accuracy"

    def per_sample(self, y_true, y_pred):
        return y_pred.argmax(axis=-1) == np.asarray(y_true).argmax(axis=-1)


class SparseCategoricalAccuracy(MeanMetric):
    name = "sparse_categorical_accuracy"

    def per_sample(self, y_true, y_pred):
        labels = np.asarray(y_true).reshape(y_pred.shape[:-1])
        return y_pred.argmax(axis=-1) == labels


class TopKCategoricalAccuracy(MeanMetric):
    """Whether the true class is among the ``k`` highest scores (one-hot targets)."""

    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name=None):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        self.k = int(k)
        super().__init__(name)

    def _targets(self, y_true, y_pred):
        return np.asarray(y_true).argmax(axis=-1)

    def per_sample(self, y_true, y_pred):
        targets = self._targets(y_true, y_pred).reshape(-1)
        scores = y_pred.reshape(-1, y_pred.shape[-1])
        k = min(self.k, scores.shape[-1])
        target_scores = scores[np.arange(len(scores)), targets]
        # rank = how many classes score strictly higher than the true one
        return (scores > target_scores[:, None]).sum(axis=-1) < k

    def get_config(self):
        return {"name": self.name, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    name = "sparse_top_k_categorical_accuracy"

    def _targets(self, y_true, y_pred):
        return np.asarray(y_true).astype(np.intp)


class MeanSquaredError(MeanMetric):
    name = "mean_squared_error"

    def per_sample(self, y_true, y_pred):
        diff = y_pred - np.asarray(y_true).reshape(y_pred.shape)
        return (diff * diff).reshape(len(diff), -1).mean(axis=1)


class MeanAbsoluteError(MeanMetric):
    name = "mean_absolute_error"

    def per_sample(self, y_true, y_pred):
        return np.abs(y_pred - np.asarray(y_true).reshape(y_pred.shape)).reshape(
            len(y_pred), -1).mean(axis=1)


class ClassificationError(MeanMetric):
    """Fraction misclassified: argmax for several outputs; for one output, the sign when
    targets are -1/+1 (tanh networks) and a 0.5 threshold when they are 0/1."""

    name = "classification_error"

    def per_sample(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
            truth = y_true.argmax(axis=-1) if y_true.shape == y_pred.shape else \
                y_true.reshape(y_pred.shape[:-1])
            return y_pred.argmax(axis=-1) != truth
        y_true = y_true.reshape(y_pred.shape)
        if (y_true < 0).any():
            return np.where(y_pred >= 0, 1, -1) != np.where(y_true >= 0, 1, -1)
        return (y_pred > 0.5) != (y_true > 0.5)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of class i predicted as j.

    Either argument may hold labels, one-hot rows or probability rows (see :func:`class_ids`).
    """
    t, p = class_ids(y_true), class_ids(y_pred)
    if len(t) != len(p):
        raise ValueError(f"confusion_matrix: {len(t)} targets but {len(p)} predictions")
    k = num_classes or int(max(t.max(initial=0), p.max(initial=0)) + 1)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


_REGISTRY = Registry(
    "metric", Metric,
    {cls.name: cls for cls in (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                               SparseCategoricalAccuracy, TopKCategoricalAccuracy,
                               SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
                               ClassificationError)},
    aliases={"acc": "accuracy", "mse": "mean_squared_error", "mae": "mean_absolute_error",
             "error": "classification_error", "mce": "classification_error",
             "top_k_accuracy": "top_k_categorical_accuracy"})


class MeanMetricWrapper(MeanMetric):
    """A function ``fn(y_true, y_pred)`` of per-sample values (ops or NumPy) as a metric."""

    def __init__(self, fn, name: str | None = None):
        super().__init__(name or getattr(fn, "__name__", "metric"))
        self.fn = fn

    def per_sample(self, y_true, y_pred):
        return np.asarray(self.fn(y_true, y_pred))


def get(identifier, loss=None, y_true: np.ndarray | None = None,
        output_shape: tuple | None = None) -> Metric:
    """Resolve a metric name, class name, config dict, Metric class or instance, or a
    function ``fn(y_true, y_pred)``.

    ``"accuracy"``/``"acc"`` is chosen from the loss and shapes (binary, categorical or
    sparse categorical); a built-in metric made from a name is called by that name.
    """
    if callable(identifier) and not isinstance(identifier, (Metric, type)):
        return MeanMetricWrapper(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _accuracy_for(loss, y_true, output_shape, name=identifier)
        named = _REGISTRY.named(identifier)
        if named is not None:
            return named(name=identifier)
    return _REGISTRY.get(identifier)


def _accuracy_for(loss, y_true, output_shape, name: str) -> Metric:
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy(name=name)
    if isinstance(loss, losses_module.CategoricalCrossentropy):
        return CategoricalAccuracy(name=name)
    if isinstance(loss, losses_module.BinaryCrossentropy):
        return BinaryAccuracy(name=name, threshold=0.0 if loss.from_logits else 0.5)
    if output_shape is not None and output_shape[-1] == 1:
        return BinaryAccuracy(name=name)
    if y_true is not None and output_shape is not None and y_true.ndim < len(output_shape):
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


def serialize(metric) -> dict | str:
    """A name (``"accuracy"``) stays a name; a Metric gives its class config."""
    return metric if isinstance(metric, str) else _REGISTRY.serialize(metric)


def deserialize(config, custom_objects: dict | None = None):
    """Inverse of :func:`serialize`: names stay names (resolved at compile time)."""
    return config if isinstance(config, str) else _REGISTRY.deserialize(config, custom_objects)
