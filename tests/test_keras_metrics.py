"""Keras 3 metrics, checked against the golden values of Keras' own tests
(keras/src/metrics/confusion_metrics_test.py, f_score_metrics_test.py,
regression_metrics_test.py, reduction_metrics_test.py) and against hand-worked cases."""

import json
import math

import numpy as np
import pytest

import neuralab as nl
from neuralab import metrics

# Keras' shared fixture for the single-threshold confusion counts
Y_TRUE = np.array(((0, 1, 0, 1, 0), (0, 0, 1, 1, 1), (1, 1, 1, 1, 0), (0, 0, 0, 0, 1)))
Y_PRED = np.array(((0, 0, 1, 1, 0), (1, 1, 1, 1, 1), (0, 1, 0, 1, 0), (1, 1, 1, 1, 1)))
# ... and for the three-threshold ones
T_PRED = np.array(((0.9, 0.2, 0.8, 0.1), (0.2, 0.9, 0.7, 0.6), (0.1, 0.2, 0.4, 0.3), (0, 1, 0.7, 0.3)))
T_TRUE = np.array(((0, 1, 1, 0), (1, 0, 0, 0), (0, 0, 0, 0), (1, 1, 1, 1)))
THRESHOLDS = [0.15, 0.5, 0.85]


# -- results ----------------------------------------------------------------------------

def test_result_is_a_numpy_value_with_numpy_method():
    m = metrics.Mean()
    m.update_state([1, 3, 5, 7])
    result = m.result()
    assert isinstance(result, np.ndarray) and result.shape == ()
    assert float(result) == 4.0 and f"{result:.2f}" == "4.00"
    assert result.numpy() == 4.0 and not isinstance(result.numpy(), np.ndarray)
    vector = metrics.TruePositives(thresholds=THRESHOLDS)(T_TRUE, T_PRED)
    assert isinstance(vector.numpy(), np.ndarray) and vector.numpy().tolist() == [6.0, 3.0, 1.0]


def test_calling_a_metric_accumulates_like_keras():
    m = metrics.BinaryAccuracy()
    assert float(m([1, 0], [0.9, 0.1])) == 1.0
    assert float(m([1, 0], [0.1, 0.1])) == 0.75  # 3 right out of 4 so far
    m.reset_state()
    assert float(m.result()) == 0.0


# -- Mean (reduction_metrics_test.py) ------------------------------------------------------

@pytest.mark.parametrize("values, weight, expected", [
    ([1, 3, 5, 7], None, 4.0),
    ([1, 3, 5, 7], [1, 1, 0, 0], 2.0),
    ([1, 3, 5, 7], [-1, -1, 0, 0], 2.0),
    ([[1, 3], [5, 7]], [[1, 1], [1, 0]], 3.0),
    ([[1, 3], [5, 7]], [[1, 0]], 3.0),
])
def test_mean_takes_arrays_and_sample_weight(values, weight, expected):
    m = metrics.Mean(name="mean", dtype="float32")
    m.update_state(values, sample_weight=weight)
    assert float(m.result()) == pytest.approx(expected)
    assert len(m.variables) == 2


def test_mean_of_scalars_weighted_by_batch_size():
    m = metrics.Mean()
    m.update_state(2.0, 3)
    m.update_state(4.0, 1)
    assert float(m.result()) == pytest.approx(10 / 4)
    assert metrics.Mean.from_config(m.get_config()).name == "mean"


# -- regression (regression_metrics_test.py) ----------------------------------------------

def test_mse_and_mae_weighted_golden():
    w = np.array([1.0, 1.5, 2.0, 2.5])
    for cls in (metrics.MeanSquaredError, metrics.MeanAbsoluteError):
        assert float(cls()(Y_TRUE, Y_PRED, sample_weight=w)) == pytest.approx(0.54285, abs=1e-5)
    assert float(metrics.MeanAbsoluteError()(Y_TRUE, Y_PRED)) == pytest.approx(0.5)


def test_mean_absolute_percentage_error_golden():
    pred = Y_PRED.astype("float32")
    assert float(metrics.MeanAbsolutePercentageError()(Y_TRUE, pred)) == pytest.approx(35e7, rel=1e-6)
    w = np.array([1.0, 1.5, 2.0, 2.5])
    assert float(metrics.MeanAbsolutePercentageError()(Y_TRUE, pred, sample_weight=w)) == \
        pytest.approx(40e7, rel=1e-6)
    mape = metrics.MeanAbsolutePercentageError(name="my_mape")
    assert metrics.MeanAbsolutePercentageError.from_config(mape.get_config()).name == "my_mape"


def test_mape_by_hand():
    # |2-1|/2 = 0.5 and |4-5|/4 = 0.25 -> 37.5 %
    assert float(metrics.get("mape")([[2.0], [4.0]], [[1.0], [5.0]])) == pytest.approx(37.5)


# -- confusion counts (confusion_metrics_test.py) --------------------------------------------

@pytest.mark.parametrize("cls, unweighted, weighted", [
    (metrics.FalsePositives, 7.0, 14.0),
    (metrics.FalseNegatives, 3.0, 5.0),
    (metrics.TrueNegatives, 3.0, 4.0),
    (metrics.TruePositives, 7.0, 12.0),
])
def test_confusion_counts_single_threshold(cls, unweighted, weighted):
    m = cls()
    m.update_state(Y_TRUE, Y_PRED)
    assert float(m.result()) == unweighted
    assert float(cls()(Y_TRUE, Y_PRED, sample_weight=np.array((1.0, 1.5, 2.0, 2.5)))) == weighted


@pytest.mark.parametrize("cls, unweighted, weight, weighted", [
    (metrics.FalsePositives, [7.0, 4.0, 2.0],
     ((1.0, 2.0, 3.0, 5.0), (7.0, 11.0, 13.0, 17.0), (19.0, 23.0, 29.0, 31.0), (5.0, 15.0, 10.0, 0)),
     [125.0, 42.0, 12.0]),
    (metrics.FalseNegatives, [1.0, 4.0, 6.0], ((3.0,), (5.0,), (7.0,), (4.0,)), [4.0, 16.0, 23.0]),
    (metrics.TrueNegatives, [2.0, 5.0, 7.0], ((0.0, 2.0, 3.0, 5.0),), [5.0, 15.0, 23.0]),
    (metrics.TruePositives, [6.0, 3.0, 1.0], 37.0, [222.0, 111.0, 37.0]),
])
def test_confusion_counts_with_thresholds(cls, unweighted, weight, weighted):
    np.testing.assert_allclose(cls(thresholds=THRESHOLDS)(T_TRUE, T_PRED), unweighted)
    np.testing.assert_allclose(cls(thresholds=THRESHOLDS)(T_TRUE, T_PRED, sample_weight=weight), weighted)


def test_thresholds_outside_unit_interval_are_refused():
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]. Received: \[-1, 2\]"):
        metrics.FalsePositives(thresholds=[-1, 0.5, 2])
    with pytest.raises(ValueError, match=r"Received: \[None\]"):
        metrics.TruePositives(thresholds=[None])


def test_confusion_count_config_round_trip():
    fp = metrics.FalsePositives(name="my_fp", thresholds=[0.4, 0.9])
    fp2 = metrics.FalsePositives.from_config(fp.get_config())
    assert (fp2.name, fp2.thresholds, len(fp2.variables)) == ("my_fp", [0.4, 0.9], 1)


# -- precision and recall ---------------------------------------------------------------

def test_precision_golden():
    assert float(metrics.Precision()([0, 1, 1, 0], [1, 0, 1, 0])) == pytest.approx(0.5)
    result = metrics.Precision()(np.array([[0, 1, 1, 0], [1, 0, 0, 1]]),
                                 np.array([[1, 0, 1, 0], [1, 0, 1, 0]]),
                                 sample_weight=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]))
    assert float(result) == pytest.approx((3.0 + 4.0) / ((1.0 + 3.0) + (4.0 + 2.0)))
    assert float(metrics.Precision()([0, 0, 0, 0], [0, 0, 0, 0])) == 0.0
    np.testing.assert_allclose(metrics.Precision(thresholds=[0.5, 0.7])([0, 1, 1, 0], [1, 0, 0.6, 0]),
                               [0.5, 0.0])


def test_precision_multiple_updates_with_thresholds():
    p = metrics.Precision(thresholds=[0.5, 1.0])
    y_true, y_pred = np.array([[0, 1], [1, 0]]), np.array([[1, 0], [0.6, 0]], dtype="float32")
    weights = np.array([[4, 0], [3, 1]], dtype="float32")
    for _ in range(2):
        p.update_state(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(p.result(), [6.0 / 14.0, 0.0], atol=1e-6)


def test_precision_top_k_accumulates_over_calls():
    assert float(metrics.Precision(top_k=3)([0, 1, 1, 0, 0], [0.2, 0.1, 0.5, 0, 0.2])) == pytest.approx(1 / 3)
    p = metrics.Precision(top_k=3)
    p(np.array([[0, 1, 1, 0, 1]]), np.array([[0.2, 0.1, 0.4, 0, 0.2]]),
      sample_weight=np.array([[1, 4, 2, 3, 5]]))
    result = p(np.array([1, 0, 1, 1, 1]), np.array([0.2, 0.6, 0.4, 0.2, 0.2]), sample_weight=np.array(3))
    assert float(result) == pytest.approx(((2 + 5) + (3 + 3)) / ((1 + 2 + 5) + (3 + 3 + 3)))


def test_precision_and_recall_class_id():
    y_pred = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y_true = np.eye(3)[[2, 0, 1, 0, 2]]
    p, r = metrics.Precision(class_id=1), metrics.Recall(class_id=1)
    assert float(p(y_true, y_pred)) == 1.0 and float(r(y_true, y_pred)) == 1.0
    assert p.true_positives.numpy()[0] == 1.0 and p.false_positives.numpy()[0] == 0.0
    with pytest.raises(ValueError, match=r"When class_id is provided, y_pred must be a 2D array"):
        metrics.Precision(class_id=2)([0, 1, 1, 0, 0], [0.2, 0.1, 0.6, 0, 0.2])


def test_top_k_and_threshold_together():
    p = metrics.Precision(thresholds=0.7, top_k=2)
    assert float(p([0, 1, 1, 0, 1], [0.2, 0.8, 0.6, 0, 0.2])) == 1.0
    r = metrics.Recall(thresholds=0.7, top_k=2)
    assert float(r([1, 1, 1, 0, 1], [0.2, 0.8, 0.6, 0, 0.2])) == pytest.approx(0.25)
    assert r.false_negatives.numpy()[0] == 3


def test_recall_golden():
    assert float(metrics.Recall()([0, 1, 1, 0], [1, 0, 1, 0])) == pytest.approx(0.5)
    result = metrics.Recall()(np.array([[0, 1, 1, 0], [1, 0, 0, 1]]), np.array([[1, 0, 1, 0], [0, 1, 0, 1]]),
                              sample_weight=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]))
    assert float(result) == pytest.approx((3.0 + 1.0) / ((2.0 + 3.0) + (4.0 + 1.0)))
    assert float(metrics.Recall(top_k=3)([0, 1, 1, 0, 0], [0.2, 0.1, 0.5, 0, 0.2])) == pytest.approx(0.5)
    r = metrics.Recall(thresholds=[0.5, 1.0])
    np.testing.assert_allclose(r(np.array([[0, 1], [1, 0]]), np.array([[1, 0], [0.6, 0]]),
                                 sample_weight=np.array([[1, 4], [3, 2]])), [3.0 / 7.0, 0.0], atol=1e-6)


def test_precision_config_round_trip():
    p = metrics.Precision(name="my_precision", thresholds=[0.4, 0.9], top_k=15, class_id=12)
    assert [v.name.rsplit("/", 1)[-1] for v in p.variables] == ["true_positives", "false_positives"]
    p2 = metrics.Precision.from_config(p.get_config())
    assert (p2.name, p2.thresholds, p2.top_k, p2.class_id) == ("my_precision", [0.4, 0.9], 15, 12)


# -- AUC ------------------------------------------------------------------------------------

AUC_PRED = np.array([0, 0.5, 0.3, 0.9], dtype="float32")
AUC_TRUE = np.array([0, 0, 1, 1])
AUC_WEIGHT = [1, 2, 3, 4]


def test_auc_roc_by_hand_three_thresholds():
    # tp = [2, 1, 0], fp = [2, 0, 0]: recall [1, .5, 0], fpr [1, 0, 0] -> 0.75
    assert float(metrics.AUC(num_thresholds=3)(AUC_TRUE, AUC_PRED)) == pytest.approx(0.75, abs=1e-3)
    logits = -np.log(1.0 / (AUC_PRED + 1e-12) - 1.0)
    from_logits = metrics.AUC(num_thresholds=3, from_logits=True)
    assert float(from_logits(AUC_TRUE, logits)) == pytest.approx(0.75, abs=1e-3)
    assert float(metrics.AUC()(AUC_TRUE, AUC_TRUE)) == 1.0


@pytest.mark.parametrize("kwargs, expected", [
    ({}, 0.7855),
    ({"summation_method": "majoring"}, 1.0),
    ({"summation_method": "minoring"}, 0.571),
    ({"curve": "PR", "summation_method": "majoring"}, 1 * 0.429 + 1 * 0.571),
    ({"curve": "PR", "summation_method": "minoring"}, 0.7 * 0.429),
    ({"curve": "PR"}, 2.416 / 7 + 4 / 7),
])
def test_auc_weighted_golden(kwargs, expected):
    auc = metrics.AUC(num_thresholds=3, **kwargs)
    assert float(auc(AUC_TRUE, AUC_PRED, sample_weight=AUC_WEIGHT)) == pytest.approx(expected, abs=1e-3)


def test_auc_pr_interpolation_with_negative_weights_is_zero():
    auc = metrics.AUC(num_thresholds=3, curve="PR")
    assert float(auc(AUC_TRUE, AUC_PRED, sample_weight=[-1, -2, -3, -4])) == pytest.approx(0.0)


def test_auc_manual_thresholds():
    auc = metrics.AUC(num_thresholds=2, thresholds=[0.5])
    assert auc.num_thresholds == 3
    np.testing.assert_allclose(auc.thresholds, [0.0, 0.5, 1.0], atol=1e-6)
    assert float(auc(AUC_TRUE, AUC_PRED)) == pytest.approx(0.75, abs=1e-3)


def test_auc_default_200_thresholds_matches_exact_roc_area():
    # predictions on the 1/199 grid: the trapezoid over 200 thresholds is the exact area,
    # the Mann-Whitney probability that a positive outscores a negative (ties count half)
    rng = np.random.default_rng(0)
    y_pred = rng.integers(0, 200, 300) / 199
    y_true = (rng.random(300) < y_pred).astype(int)
    pos, neg = y_pred[y_true == 1], y_pred[y_true == 0]
    wins = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert float(metrics.AUC()(y_true, y_pred)) == pytest.approx(wins, abs=1e-9)


def test_auc_argument_errors():
    with pytest.raises(ValueError, match="Argument `num_thresholds` must be an integer > 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match='Invalid AUC curve value: "Invalid".'):
        metrics.AUC(curve="Invalid")
    with pytest.raises(ValueError, match='Invalid AUC summation method value: "Invalid".'):
        metrics.AUC(summation_method="Invalid")


def test_auc_extra_dims_are_pooled():
    logits = 1 / (1 + np.exp(np.array([[[-10.0, 10.0, -10.0], [10.0, -10.0, 10.0]],
                                         [[-12.0, 12.0, -12.0], [12.0, -12.0, 12.0]]])))
    labels = np.array([[[1, 0, 0], [1, 0, 0]], [[0, 1, 1], [0, 1, 1]]])
    assert float(metrics.AUC()(labels, logits)) == 0.5


def test_auc_config_round_trip_is_json():
    auc = metrics.AUC(num_thresholds=100, curve="PR", summation_method="majoring", name="auc_1",
                      dtype="float64", multi_label=True, num_labels=2, from_logits=True)
    config = auc.get_config()
    assert "thresholds" not in config and config == json.loads(json.dumps(config))
    auc2 = metrics.AUC.from_config(config)
    assert (auc2.curve, auc2.summation_method, auc2.num_labels, len(auc2.variables)) == \
        ("PR", "majoring", 2, 4)
    manual = metrics.AUC(num_thresholds=None, curve="PR", thresholds=[0.3, 0.5])
    assert manual.num_thresholds == 4 and manual.get_config()["thresholds"] == pytest.approx([0.3, 0.5])


MULTI_PRED = np.array([[0, 0.5, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4]], dtype="float32").T
MULTI_GOOD = np.array([[0, 0, 1, 1], [0, 0, 1, 1]]).T
MULTI_BAD = np.array([[0, 0, 1, 1], [1, 1, 0, 0]]).T


@pytest.mark.parametrize("kwargs, y_true, weight, expected, tol", [
    ({"multi_label": True}, MULTI_GOOD, None, (0.875 + 1.0) / 2.0, 1e-3),
    ({"multi_label": False}, MULTI_GOOD, [1, 2, 3, 4], 1.0 - (0.3333 * (1.0 - 0.2857) / 2.0), 1e-3),
    ({"multi_label": False}, MULTI_GOOD, np.arange(8).reshape(4, 2),
     1.0 - (0.3333 * (1.0 - 0.2727) / 2.0), 1e-3),
    ({"multi_label": True, "label_weights": [0.75, 0.25]}, MULTI_GOOD, None, 0.875 * 0.75 + 0.25, 1e-3),
    ({"multi_label": False, "label_weights": [0.75, 0.25]}, MULTI_GOOD, None,
     1.0 - (0.625 * 0.375 / 2.0), 1e-2),
    ({"multi_label": False}, MULTI_GOOD, None, 1.0 - 3.0 / 32.0, 1e-3),
    ({"multi_label": True}, MULTI_GOOD, [1, 2, 3, 4], 1.0 - 0.5 * 0.43 * 0.67, 1e-1),
    ({"multi_label": True, "curve": "PR"}, MULTI_GOOD, None, (0.91667 + 1.0) / 2.0, 1e-1),
    ({"multi_label": True, "curve": "PR"}, MULTI_GOOD, [1, 2, 3, 4], (0.939 + 1.0) / 2.0, 1e-1),
])
def test_multi_label_auc_golden(kwargs, y_true, weight, expected, tol):
    auc = metrics.AUC(num_thresholds=5, **kwargs)
    assert float(auc(y_true, MULTI_PRED, sample_weight=weight)) == pytest.approx(expected, abs=tol)


def test_multi_label_pr_auc_accumulates_good_then_bad_like_keras():
    # Keras' test calls one object twice: the second result covers both batches
    auc = metrics.AUC(num_thresholds=5, curve="PR", multi_label=True)
    assert float(auc(MULTI_GOOD, MULTI_PRED)) == pytest.approx((0.91667 + 1.0) / 2.0, abs=1e-1)
    assert float(auc(MULTI_BAD, MULTI_PRED)) == pytest.approx((0.91667 + 0.5) / 2.0, abs=1e-1)


def test_multi_label_auc_manual_thresholds_and_reset():
    auc = metrics.AUC(num_thresholds=2, thresholds=[0.5], multi_label=True)
    assert float(auc(MULTI_GOOD, MULTI_PRED)) == pytest.approx((0.75 + 0.5) / 2.0, abs=1e-3)
    auc.reset_state()
    np.testing.assert_array_equal(auc.true_positives.numpy(), np.zeros((3, 2)))


# -- F-scores (f_score_metrics_test.py) ---------------------------------------------------------

F_TRUE = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 0, 1]]
F_PRED = [[0.9, 0.1, 0], [0.2, 0.6, 0.2], [0, 0, 1], [0.4, 0.3, 0.3], [0, 0.9, 0.1], [0, 0, 1]]
R_PRED = [[0.7, 0.7, 0.7], [1, 0, 0], [0.9, 0.8, 0]]
R_TRUE = [[0, 0, 1], [1, 1, 0], [1, 1, 1]]


def _fbeta(y_true, y_pred, weight, average, beta, threshold):
    m = metrics.FBetaScore(average, beta, threshold, dtype="float32")
    m.update_state(y_true, y_pred, weight)
    return m.result()


@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_fbeta_perfect_and_worst(average, beta):
    perfect = _fbeta([[1, 1, 1], [1, 0, 0], [1, 1, 0]], R_PRED, None, average, beta, 0.66)
    worst = _fbeta([[0, 0, 0], [0, 1, 0], [0, 0, 1]], R_PRED, None, average, beta, 0.66)
    assert float(perfect) == pytest.approx(1.0, abs=1e-6) and float(worst) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("average, beta, expected", [
    (None, 0.5, [0.71428573, 0.5, 0.833334]), (None, 1.0, [0.8, 0.5, 0.6666667]),
    (None, 2.0, [0.9090904, 0.5, 0.555556]), ("micro", 0.5, 0.6666667), ("micro", 2.0, 0.6666667),
    ("macro", 0.5, 0.6825397), ("macro", 1.0, 0.6555555), ("macro", 2.0, 0.6548822),
    ("weighted", 0.5, 0.6825397), ("weighted", 1.0, 0.6555555), ("weighted", 2.0, 0.6548822),
])
def test_fbeta_with_threshold_golden(average, beta, expected):
    np.testing.assert_allclose(_fbeta(R_TRUE, R_PRED, None, average, beta, 0.66), expected, atol=1e-6)


@pytest.mark.parametrize("average, beta, weight, expected", [
    (None, 0.5, None, [0.9090904, 0.555556, 1.0]), (None, 1.0, None, [0.8, 0.6666667, 1.0]),
    (None, 2.0, None, [0.71428573, 0.833334, 1.0]), ("micro", 1.0, None, 0.833334),
    ("macro", 0.5, None, 0.821549), ("macro", 1.0, None, 0.822222), ("macro", 2.0, None, 0.849206),
    ("weighted", 0.5, None, 0.880471), ("weighted", 1.0, None, 0.844445), ("weighted", 2.0, None, 0.829365),
    (None, 0.5, [1.0, 0.0, 1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0]),
    (None, 0.5, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], [0.9375, 0.714286, 1.0]),
    (None, 1.0, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], [0.857143, 0.8, 1.0]),
    (None, 2.0, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], [0.789474, 0.909091, 1.0]),
    ("micro", 0.5, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], 0.9),
    ("macro", 0.5, [1.0, 0.0, 1.0, 1.0, 0.0, 1.0], 0.666667),
    ("macro", 0.5, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], 0.883929),
    ("macro", 1.0, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], 0.885714),
    ("macro", 2.0, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], 0.899522),
    ("weighted", 0.5, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], 0.917857),
    ("weighted", 1.0, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], 0.902857),
    ("weighted", 2.0, [0.5, 1.0, 1.0, 1.0, 0.5, 1.0], 0.897608),
    ("weighted", 2.0, [1.0, 0.0, 1.0, 1.0, 0.0, 1.0], 1.0),
])
def test_fbeta_row_maximum_golden(average, beta, weight, expected):
    np.testing.assert_allclose(_fbeta(F_TRUE, F_PRED, weight, average, beta, None), expected, atol=1e-5)


def test_f1_is_fbeta_with_beta_one_and_hides_beta():
    f1, fbeta = metrics.F1Score(), metrics.FBetaScore(beta=1.0)
    f1.update_state(F_TRUE, F_PRED)
    fbeta.update_state(F_TRUE, F_PRED)
    np.testing.assert_allclose(f1.result(), fbeta.result(), atol=1e-6)
    config = metrics.F1Score(dtype="float32").get_config()
    assert "beta" not in config and metrics.F1Score.from_config(config).average is None
    fb = metrics.FBetaScore(beta=0.5, threshold=0.3)
    assert metrics.FBetaScore.from_config(fb.get_config()).beta == 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"average": "invalid_average"}, r"Expected one of: \{None, 'micro', 'macro', 'weighted'\}. "
                                     "Received: average=invalid_average"),
    ({"beta": 1}, "Invalid `beta` argument value. It should be a Python float."),
    ({"beta": 0.0}, r"It should be > 0. Received: beta=0.0"),
    ({"threshold": 1}, r"Received: threshold=1 of type '<class 'int'>'"),
    ({"threshold": 1.1}, r"It should verify 0 < threshold <= 1. Received: threshold=1.1"),
])
def test_fbeta_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.FBetaScore(**kwargs)


def test_fbeta_needs_2d_inputs():
    with pytest.raises(ValueError, match=r"expects 2D inputs with shape \(batch_size, output_dim\)"):
        metrics.FBetaScore()._build((2, 3, 4), (2, 3, 4))


# -- names and training -------------------------------------------------------------------------

@pytest.mark.parametrize("name, cls", [
    ("precision", metrics.Precision), ("recall", metrics.Recall), ("auc", metrics.AUC),
    ("AUC", metrics.AUC), ("true_positives", metrics.TruePositives),
    ("false_negatives", metrics.FalseNegatives), ("f1_score", metrics.F1Score),
    ("fbeta_score", metrics.FBetaScore), ("mape", metrics.MeanAbsolutePercentageError),
    ("mean_absolute_percentage_error", metrics.MeanAbsolutePercentageError),
])
def test_metric_strings_resolve_like_keras(name, cls):
    metric = metrics.get(name)
    assert type(metric) is cls and metric.name == name


def test_fit_logs_precision_recall_auc_by_their_strings():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")[:, None]
    model = nl.Sequential([nl.layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["precision", "recall", "auc"])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    for key in ("precision", "recall", "auc", "val_precision", "val_auc"):
        assert len(history.history[key]) == 2 and all(0.0 <= v <= 1.0 for v in history.history[key])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = metrics.AUC()(y, model.predict(x, verbose=0))
    assert logs["auc"] == pytest.approx(float(expected), abs=1e-6)
    assert not math.isnan(logs["precision"])


def test_a_vector_result_is_logged_per_class_by_fit_and_evaluate():
    """F1Score(average=None) gives one score per class: evaluate logs that vector, equal
    to the metric computed on the predictions directly."""
    import neuralab as nl
    from neuralab.layers import Dense
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    model = nl.Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=[nl.metrics.F1Score()])
    history = model.fit(x, y, epochs=2, verbose=0)
    assert np.shape(history.history["f1_score"][-1]) == (3,)
    logged = model.evaluate(x, y, batch_size=40, verbose=0, return_dict=True)["f1_score"]
    expected = nl.metrics.F1Score()(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(logged, np.asarray(expected), rtol=1e-6)
