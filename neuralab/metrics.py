"""Metrics: stateful averages over batches (Keras ``update_state``/``result``/``reset_state``).

A metric object can also be called on one batch: ``SparseCategoricalAccuracy()(y, p)``.

``compile(metrics=["accuracy"])`` picks the accuracy that matches the loss, as Keras does:
categorical (argmax vs argmax) after ``categorical_crossentropy``, sparse (argmax vs
label) after ``sparse_categorical_crossentropy``, binary (threshold 0.5, or 0 on logits)
after ``binary_crossentropy`` or for a single output unit.

``classification_error`` is ``1 - accuracy`` and also understands -1/+1 targets with
``tanh`` outputs (the sign decides), as in the cat-vs-car homework.

As in Keras 3, calling a metric (``metric(y_true, y_pred, sample_weight=None)``) updates
its state and returns ``result()``; a result is a :class:`MetricValue`, a NumPy array
(0-d for one number) with Keras' ``.numpy()``, so ``float(result)`` and ``f"{result:.3f}"``
work. The confusion-matrix family (``Precision``, ``Recall``, ``AUC``,
``TruePositives``, ...), ``F1Score``/``FBetaScore`` and the regression metrics follow
Keras 3's definitions, thresholds and defaults (a prediction counts as positive when it is
strictly above a threshold).
"""

from __future__ import annotations

import copy

import numpy as np

from . import backend, initializers
from . import losses as losses_module
from .parameter import Parameter
from .registry import Registry

__all__ = [
    "Metric", "MetricValue", "Mean", "MeanMetric", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "ClassificationError", "TruePositives", "FalsePositives",
    "TrueNegatives", "FalseNegatives", "Precision", "Recall", "AUC", "FBetaScore", "F1Score",
    "confusion_matrix", "get",
]


class MetricValue(np.ndarray):
    """A metric's result: a NumPy array (0-d for one number) with Keras' ``.numpy()``.

    ``float(v)``, ``f"{v:.4f}"`` and comparisons work as for any 0-d array.
    """

    def numpy(self):
        """A plain NumPy value: a scalar for a 0-d result, else an array (a copy)."""
        plain = self.view(np.ndarray)
        return plain[()] if plain.ndim == 0 else plain.copy()


def _value(x) -> MetricValue:
    return np.array(x, dtype=np.float64).view(MetricValue)


def _divide_no_nan(a, b) -> np.ndarray:
    """``a / b`` with 0 where ``b == 0`` (Keras ``ops.divide_no_nan``)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    out = np.zeros(a.shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _same_rank(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True):
    """Keras' ``squeeze_or_expand_to_same_rank``: fix a rank difference of one trailing 1."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _samplewise(values, sample_weight):
    """Keras' ``reduce_to_samplewise_values``: per-sample values (weighted) and weights.

    Values are averaged down to the rank of the weights, multiplied by them, then
    averaged over everything but the first axis; the weights likewise.
    """
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        weight = np.asarray(sample_weight, dtype=np.float64)
        values, weight = _same_rank(values, weight)
        if values.ndim > weight.ndim:
            values = values.mean(axis=tuple(range(weight.ndim, values.ndim)))
        weight = np.broadcast_to(weight, values.shape)
        values = values * weight
        if weight.ndim > 1:
            weight = weight.mean(axis=tuple(range(1, weight.ndim)))
        sample_weight = weight
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Metric:
    """Base class (Keras ``keras.metrics.Metric``): a state updated batch by batch.

    Subclasses define ``update_state(y_true, y_pred, sample_weight=None)`` and
    ``result()``; their state lives in variables made with :meth:`add_variable` (which
    the default ``reset_state`` sets back to their initial values) or in plain attributes
    set by their own ``reset_state``.
    """

    name = "metric"
    #: set by the trainer once it has prefixed the name with a model output's (declared
    #: only: an unprefixed metric has no such attribute)
    _output_prefixed: bool
    #: set by the trainer: whether compile listed it in ``weighted_metrics`` (it then gets
    #: the sample weights)
    _weighted: bool = False

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

    def reset_states(self) -> None:
        """Keras 2 name of :meth:`reset_state`."""
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result")

    def __call__(self, *args, **kwargs) -> MetricValue:
        """Keras 3: ``update_state(*args, **kwargs)``, then the accumulated ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

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
    """Weighted running mean of values (Keras ``keras.metrics.Mean``; used for the loss).

    ``update_state(values, sample_weight=None)`` takes a number or an array: an array of
    shape (N, ...) counts as N samples, each the mean of its row; ``sample_weight`` weights
    them (broadcast as in Keras). ``result() = sum(w * v) / sum(w)`` (0 before any update).

    Example::

        m = Mean(); m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        float(m.result())   # 2.0
    """

    name = "mean"

    def __init__(self, name: str | None = None, dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", np.float64, name="total")
        self.count = self.add_variable((), "zeros", np.float64, name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = _samplewise(values, sample_weight)
        count = values.shape[0] if values.ndim else 1
        if sample_weight is not None:
            count = np.sum(sample_weight)
        self.total.data[...] += np.sum(values)
        self.count.data[...] += count

    def result(self):
        return _value(_divide_no_nan(self.total.data, self.count.data))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


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
        values = self.per_sample(y_true, np.asarray(y_pred))
        if sample_weight is not None:
            values, weight = _samplewise(values, sample_weight)
            self.total += float(np.sum(values))
            self.count += float(np.sum(weight))
        elif values.dtype == bool:
            self.total += np.count_nonzero(values)
            self.count += values.size
        else:
            self.total += float(np.add.reduce(values, axis=None))
            self.count += values.size

    def result(self):
        return _value(self.total / self.count if self.count else 0.0)


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


class MeanAbsolutePercentageError(MeanMetric):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))`` over the last axis (Keras)."""

    name = "mean_absolute_percentage_error"

    def per_sample(self, y_true, y_pred):
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y_true = np.asarray(y_true, dtype=np.float64).reshape(y_pred.shape)
        ratio = np.abs(y_true - y_pred) / np.maximum(np.abs(y_true), backend.epsilon())
        return 100.0 * ratio.mean(axis=-1)


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


# -- the confusion-matrix family (Keras 3 ``confusion_metrics``) ---------------------------

_NEG_INF = -1e10  # Keras' stand-in threshold for "any value in the top k is positive"


def _to_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple, np.ndarray)) else [x]


def _parse_thresholds(thresholds, default: float) -> list:
    """Keras' ``parse_init_thresholds``: a list of thresholds, each in [0, 1]."""
    if thresholds is not None:
        invalid = [t for t in _to_list(thresholds) if t is None or t < 0 or t > 1]
        if invalid:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return _to_list(default if thresholds is None else thresholds)


def _filter_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` largest values of the last axis (first ones on ties), the rest -1e10."""
    top = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(mask, top, True, axis=-1)
    return np.where(mask, x, _NEG_INF)


def confusion_counts(y_true, y_pred, thresholds, sample_weight=None, top_k=None, class_id=None,
                     multi_label=False, label_weights=None, dtype="float32"):
    """Weighted ``(tp, fp, tn, fn)`` at each threshold (Keras'
    ``update_confusion_matrix_variables``): a prediction is positive when it is strictly
    above the threshold, a label when it is nonzero.

    Shape: ``y_true`` and ``y_pred`` (N, ...) alike; ``sample_weight`` broadcastable to them
    (one weight per sample, per row or per value); each count is (T,), or (T, L) with
    ``multi_label`` for predictions (N, L). Without ``multi_label`` every value counts as
    one binary decision.
    """
    y_pred = np.asarray(y_pred, dtype=dtype)
    y_true = np.asarray(y_true, dtype=dtype)
    y_pred, y_true = _same_rank(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)[..., None]
        _, weights = _same_rank(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {y_pred.shape}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and "
                         f"{y_pred.shape}")
    weights = np.ones(y_pred.shape) if weights is None else np.broadcast_to(weights, y_pred.shape)
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(np.asarray(label_weights, np.float64), y_pred.shape)
    if multi_label:
        if y_pred.ndim != 2:
            raise ValueError(f"multi_label expects predictions of shape (N, L), got {y_pred.shape}")
    else:
        y_true, y_pred, weights = (a.reshape(-1, 1) for a in (y_true, y_pred, weights))
    thresholds = np.asarray(thresholds, dtype=dtype)
    order = np.argsort(thresholds, kind="stable")
    # k = how many thresholds lie strictly below each prediction: positive at those
    k = np.searchsorted(thresholds[order], y_pred, side="left")
    k[np.isnan(y_pred)] = 0
    n_thresholds, n_labels = len(thresholds), y_pred.shape[1]
    bins = (k + np.arange(n_labels) * (n_thresholds + 1)).ravel()
    positive = y_true != 0

    def above(w):  # weight of predictions above each sorted threshold, per label
        counts = np.bincount(bins, weights=w.ravel(), minlength=n_labels * (n_thresholds + 1))
        counts = counts.reshape(n_labels, n_thresholds + 1)
        return np.cumsum(counts[:, ::-1], axis=1)[:, ::-1][:, 1:].T, counts.sum(axis=1)

    tp_sorted, pos_total = above(weights * positive)
    fp_sorted, neg_total = above(weights * ~positive)
    tp, fp = np.empty_like(tp_sorted), np.empty_like(fp_sorted)
    tp[order], fp[order] = tp_sorted, fp_sorted
    tn, fn = neg_total - fp, pos_total - tp
    if not multi_label:
        tp, fp, tn, fn = tp[:, 0], fp[:, 0], tn[:, 0], fn[:, 0]
    return tp, fp, tn, fn


class _ConfusionCount(Metric):
    """One confusion-matrix count at each of ``thresholds`` (default 0.5)."""

    _index = 0

    def __init__(self, thresholds=None, name: str | None = None, dtype=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, default=0.5)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = confusion_counts(y_true, y_pred, self.thresholds, sample_weight, dtype=self.dtype)
        self.accumulator.data[...] += counts[self._index]

    def result(self):
        values = self.accumulator.data
        return _value(values[0] if len(self.thresholds) == 1 else values)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """Weighted count of positive labels predicted above each threshold (Keras)."""

    name = "true_positives"
    _index = 0


class FalsePositives(_ConfusionCount):
    """Weighted count of negative labels predicted above each threshold (Keras)."""

    name = "false_positives"
    _index = 1


class TrueNegatives(_ConfusionCount):
    """Weighted count of negative labels predicted at or below each threshold (Keras)."""

    name = "true_negatives"
    _index = 2


class FalseNegatives(_ConfusionCount):
    """Weighted count of positive labels predicted at or below each threshold (Keras)."""

    name = "false_negatives"
    _index = 3


class _PrecisionRecall(Metric):
    """Shared state of Precision and Recall: true positives and one other count."""

    _other = "false_positives"

    def __init__(self, thresholds=None, top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None, dtype=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.top_k, self.class_id = top_k, class_id
        self.thresholds = _parse_thresholds(thresholds, default=0.5 if top_k is None else _NEG_INF)
        self.true_positives = self.add_variable((len(self.thresholds),), name="true_positives")
        setattr(self, self._other, self.add_variable((len(self.thresholds),), name=self._other))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = confusion_counts(y_true, y_pred, self.thresholds, sample_weight,
                                         self.top_k, self.class_id, dtype=self.dtype)
        self.true_positives.data[...] += tp
        getattr(self, self._other).data[...] += fp if self._other == "false_positives" else fn

    def result(self):
        tp = self.true_positives.data
        values = _divide_no_nan(tp, tp + getattr(self, self._other).data)
        return _value(values[0] if len(self.thresholds) == 1 else values)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` at each threshold (Keras ``Precision``; 0 when nothing is predicted).

    ``top_k`` counts only the k highest predictions of each row as positive; ``class_id``
    looks at one column of (N, C) predictions.
    """

    name = "precision"
    _other = "false_positives"


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` at each threshold (Keras ``Recall``; 0 when no label is positive)."""

    name = "recall"
    _other = "false_negatives"


class AUC(Metric):
    """Area under the ROC or precision-recall curve, as Keras 3 computes it.

    The curve is sampled at ``num_thresholds`` thresholds evenly spaced over [0, 1] (the
    ends moved out by epsilon), or at ``thresholds`` plus 0 and 1. ``summation_method``:
    ``"interpolation"`` (trapezoids for ROC; for PR, Davis & Goadrich's interpolation of
    the counts), ``"minoring"`` or ``"majoring"`` (lower or upper rectangles).
    ``multi_label`` gives one curve per column of (N, L) predictions, averaged (with
    ``label_weights`` if given); otherwise all values are pooled. ``from_logits`` applies a
    sigmoid first.
    """

    name = "auc"
    _CURVES = {"roc": "ROC", "pr": "PR"}
    _SUMMATIONS = ("interpolation", "majoring", "minoring")
    # the confusion counts per threshold, added by _build on the first update
    true_positives: Parameter
    false_positives: Parameter
    true_negatives: Parameter
    false_negatives: Parameter

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None, dtype=None,
                 thresholds=None, multi_label: bool = False, num_labels: int | None = None,
                 label_weights=None, from_logits: bool = False):
        super().__init__(name, dtype)
        if curve not in ("ROC", "roc", "PR", "pr"):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC"]')
        if summation_method not in self._SUMMATIONS + tuple(m.capitalize() for m in self._SUMMATIONS):
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected '
                             'values are ["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_parse_thresholds(thresholds, default=0.5))
            self.num_thresholds = len(inner) + 2
        else:
            if not isinstance(num_thresholds, (int, np.integer)) or num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        eps = backend.epsilon()
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        self.curve = self._CURVES[curve.lower()]
        self.summation_method = summation_method.lower()
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float64)
        self._from_logits = bool(from_logits)
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self) -> list:
        return list(self._thresholds)

    def _build(self, shape) -> None:
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                                 f"{len(shape)}. Full shape received for `y_pred`: {shape}")
            variable_shape: tuple[int, ...] = (self.num_thresholds, int(shape[1]))
        else:
            variable_shape = (self.num_thresholds,)
        for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, name, self.add_variable(variable_shape, name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, dtype=np.float64)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = 0.5 * (1.0 + np.tanh(0.5 * y_pred))  # sigmoid without overflow
        tp, fp, tn, fn = confusion_counts(
            y_true, y_pred, self._thresholds, sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights, dtype=self.dtype)
        for variable, value in zip((self.true_positives, self.false_positives,
                                    self.true_negatives, self.false_negatives), (tp, fp, tn, fn)):
            variable.data[...] += value

    def _average(self, by_label: np.ndarray) -> np.ndarray:
        if not self.multi_label:
            return by_label.sum()
        by_label = by_label.sum(axis=0)
        if self.label_weights is None:
            return by_label.mean()
        return _divide_no_nan((by_label * self.label_weights).sum(), self.label_weights.sum())

    def _interpolate_pr_auc(self) -> np.ndarray:
        """Davis & Goadrich (2006): precision interpolated between thresholds through the
        counts, integrated in closed form."""
        tp = self.true_positives.data.astype(np.float64)
        fn = self.false_negatives.data.astype(np.float64)
        p = tp + self.false_positives.data
        dtp, dp = tp[:-1] - tp[1:], p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(slope * (dtp + intercept * np.log(ratio)),
                                    np.maximum(tp[1:] + fn[1:], 0))
        return self._average(increments)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return _value(self._interpolate_pr_auc())
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return _value(self._average((x[:-1] - x[1:]) * heights))

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config


class FBetaScore(Metric):
    """F-beta per class from one-hot (or multi-hot) targets (Keras 3 ``FBetaScore``).

    ``F = (1 + beta^2) * P * R / (beta^2 * P + R)``, with precision and recall per class.
    Without ``threshold`` a row's largest prediction(s) count as positive; with it, values
    above it. ``average``: ``None`` (one score per class), ``"micro"`` (counts pooled),
    ``"macro"`` (mean of the class scores) or ``"weighted"`` (weighted by class support).

    Shape: ``y_true`` and ``y_pred`` (N, C); ``sample_weight`` (N,).
    """

    name = "fbeta_score"

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str | None = None, dtype=None):
        super().__init__(name, dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', "
                             f"'macro', 'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError("Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python float. "
                                 f"Received: threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify "
                                 f"0 < threshold <= 1. Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={tuple(y_pred_shape)} and "
                             f"y_true.shape={tuple(y_true_shape)}.")
        if y_pred_shape[-1] is None or y_true_shape[-1] is None:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim), "
                             "with output_dim fully defined (not None). Received input shapes: "
                             f"y_pred.shape={tuple(y_pred_shape)} and y_true.shape={tuple(y_true_shape)}.")
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            setattr(self, name, self.add_variable(shape, name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, dtype=self.dtype)
        y_pred = np.asarray(y_pred, dtype=self.dtype)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if self.threshold is None:
            # the row's maximum; a row of zeros stays all negative
            y_pred = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            y_pred = y_pred > self.threshold
        y_pred = y_pred.astype(np.float64)
        weight = None if sample_weight is None else np.asarray(sample_weight, np.float64)[:, None]

        def weighted_sum(values):
            return (values if weight is None else values * weight).sum(axis=self.axis)

        self.true_positives.data[...] += weighted_sum(y_pred * y_true)
        self.false_positives.data[...] += weighted_sum(y_pred * (1 - y_true))
        self.false_negatives.data[...] += weighted_sum((1 - y_pred) * y_true)
        self.intermediate_weights.data[...] += weighted_sum(y_true)

    def result(self):
        if not self._built:
            return _value(0.0)
        eps = backend.epsilon()
        tp = self.true_positives.data.astype(np.float64)
        precision = tp / (tp + self.false_positives.data + eps)
        recall = tp / (tp + self.false_negatives.data + eps)
        beta2 = self.beta ** 2
        score = (1 + beta2) * precision * recall / (beta2 * precision + recall + eps)
        if self.average == "weighted":
            support = self.intermediate_weights.data.astype(np.float64)
            score = np.sum(score * support / (support.sum() + eps))
        elif self.average is not None:
            score = np.mean(score)
        return _value(score)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """:class:`FBetaScore` with ``beta = 1``: the harmonic mean of precision and recall."""

    name = "f1_score"

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str | None = None, dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


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
                               MeanAbsolutePercentageError, ClassificationError, Mean,
                               TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
                               Precision, Recall, AUC, FBetaScore, F1Score)},
    aliases={"acc": "accuracy", "mse": "mean_squared_error", "mae": "mean_absolute_error",
             "mape": "mean_absolute_percentage_error", "error": "classification_error",
             "mce": "classification_error", "top_k_accuracy": "top_k_categorical_accuracy",
             "f_beta_score": "fbeta_score"})


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
