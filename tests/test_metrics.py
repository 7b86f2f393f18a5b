"""Metrics: values by hand, Keras' choice of accuracy, running averages."""

import numpy as np
import pytest

import neuralab as nl
from neuralab import losses as L
from neuralab import metrics as M

PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3], [0.5, 0.1, 0.4]])
LABELS = np.array([0, 1, 1, 2])  # right, wrong, right, wrong


def test_accuracies_by_hand():
    assert M.SparseCategoricalAccuracy()(LABELS, PROBS) == 0.5
    assert M.CategoricalAccuracy()(np.eye(3)[LABELS], PROBS) == 0.5
    assert M.BinaryAccuracy()(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6])) == 0.5
    assert M.BinaryAccuracy(threshold=0.0)(np.array([1, 0]), np.array([0.5, -0.5])) == 1.0


def test_top_k_accuracy():
    # ranks of the true class: 1st, 2nd, 1st, 2nd
    assert M.SparseTopKCategoricalAccuracy(k=1)(LABELS, PROBS) == 0.5
    assert M.SparseTopKCategoricalAccuracy(k=2)(LABELS, PROBS) == 1.0
    assert M.TopKCategoricalAccuracy(k=2)(np.eye(3)[LABELS], PROBS) == 1.0


def test_regression_metrics():
    y, p = np.array([[1.0], [2.0], [4.0]]), np.array([[1.5], [2.0], [2.0]])
    assert M.MeanSquaredError()(y, p) == pytest.approx((0.25 + 0 + 4) / 3)
    assert M.MeanAbsoluteError()(y, p) == pytest.approx((0.5 + 0 + 2) / 3)


def test_classification_error_handles_plus_minus_one_targets():
    # tanh outputs against -1/+1 labels, as in the cat-vs-car homework
    assert M.ClassificationError()(np.array([1, -1, -1, 1]), np.array([0.3, -0.2, 0.1, -0.9])) == 0.5
    assert M.ClassificationError()(np.array([1, 0]), np.array([0.8, 0.7])) == 0.5
    assert M.ClassificationError()(LABELS, PROBS) == 0.5


def test_confusion_matrix():
    cm = M.confusion_matrix(LABELS, PROBS)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 1], [1, 0, 0]])
    assert cm.sum() == 4 and np.trace(cm) == 2
    np.testing.assert_array_equal(M.confusion_matrix([0, 1, 1], [[0.2], [0.9], [0.4]]),
                                  [[1, 0], [1, 1]])


def test_running_average_over_batches():
    metric = M.SparseCategoricalAccuracy()
    metric.update_state(LABELS[:2], PROBS[:2])
    metric.update_state(LABELS[2:], PROBS[2:])
    assert metric.result() == 0.5
    metric.reset_state()
    assert metric.result() == 0.0


@pytest.mark.parametrize("loss, cls", [
    (L.SparseCategoricalCrossentropy(), M.SparseCategoricalAccuracy),
    (L.CategoricalCrossentropy(), M.CategoricalAccuracy),
    (L.BinaryCrossentropy(), M.BinaryAccuracy),
])
def test_accuracy_string_follows_the_loss(loss, cls):
    metric = M.get("accuracy", loss)
    assert type(metric) is cls and metric.name == "accuracy"
    assert M.get("acc", loss).name == "acc"


def test_accuracy_after_mse_uses_output_shape():
    assert type(M.get("accuracy", L.MeanSquaredError(), output_shape=(None, 1))) is M.BinaryAccuracy
    assert type(M.get("accuracy", L.MeanSquaredError(), np.zeros(5),
                      output_shape=(None, 4))) is M.SparseCategoricalAccuracy


def test_metrics_in_compile_produce_history_keys():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    model = nl.Sequential([nl.layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", M.SparseTopKCategoricalAccuracy(k=2), "mce"])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "sparse_top_k_categorical_accuracy",
                                    "mce", "lr"}
    acc, err = history.history["accuracy"][0], history.history["mce"][0]
    assert acc + err == pytest.approx(1.0)
