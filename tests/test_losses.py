"""Losses: gradient checks, the seed's reference values, stability, and bad targets."""

import numpy as np
import pytest

from neuralab import gradcheck as gc
from neuralab import losses as L


def _cases(rng):
    probs = rng.random((6, 4)) * 0.8 + 0.1
    logits = rng.standard_normal((6, 4)) * 2
    onehot = np.eye(4)[rng.integers(0, 4, 6)]
    labels = onehot.argmax(1)
    bits = (rng.random((6, 4)) > 0.5) * 1.0
    return [
        (L.MeanSquaredError(), rng.standard_normal((6, 4)), logits),
        (L.MeanAbsoluteError(), rng.standard_normal((6, 4)), logits),
        (L.BinaryCrossentropy(), bits, probs),
        (L.BinaryCrossentropy(from_logits=True), bits, logits),
        (L.CategoricalCrossentropy(), onehot, probs),
        (L.CategoricalCrossentropy(from_logits=True), onehot, logits),
        (L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), onehot, logits),
        (L.SparseCategoricalCrossentropy(), labels, probs),
        (L.SparseCategoricalCrossentropy(from_logits=True), labels, logits),
        (L.MulticlassHinge(), labels, logits),
        (L.CategoricalHinge(), onehot, logits),
        (L.Hinge(), bits * 2 - 1, logits),
    ]


@pytest.mark.parametrize("index", range(12))
def test_loss_gradients_match_centred_differences(index):
    loss, y_true, y_pred = _cases(np.random.default_rng(index))[index]
    assert gc.check_loss(loss, y_true, y_pred) < 1e-7, loss


def test_seed_reference_values_for_svm_and_softmax_losses():
    # 003_9a89cffcb2cec0be.txt, section 7: "Loss should be around 9" / "close to 2.3";
    # the notebook printed loss: 8.999602749096233 and 2.302545844500738 for this data.
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    assert L.MulticlassHinge()(y, x) == pytest.approx(8.999602749096233, abs=1e-12)
    assert L.SparseCategoricalCrossentropy(from_logits=True)(y, x) == pytest.approx(
        2.302545844500738, abs=1e-12)
    assert gc.check_loss(L.MulticlassHinge(), y, x) < 1e-8
    assert gc.check_loss(L.SparseCategoricalCrossentropy(from_logits=True), y, x) < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_losses_are_finite_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype=dtype)
    labels = np.array([1, 1])
    value, grad = L.SparseCategoricalCrossentropy().from_logits_grad(labels, z)
    assert value == pytest.approx(1e4, rel=1e-6)  # first row: logit 1e4 above the true one
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-7)
    onehot = np.eye(3, dtype=dtype)[labels]
    value2, grad2 = L.CategoricalCrossentropy().from_logits_grad(onehot, z)
    assert value2 == pytest.approx(value) and np.allclose(grad2, grad)
    bits = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=dtype)
    value3, grad3 = L.BinaryCrossentropy().from_logits_grad(bits, z)
    # per element softplus(z) - t z: only z=0 (log 2) and z=5e3 with t=0 (5e3) cost anything
    assert value3 == pytest.approx((np.log(2) + 5e3) / 6, rel=1e-6)
    assert np.all(np.isfinite(grad3))
    for loss, y in [(L.SparseCategoricalCrossentropy(from_logits=True), labels),
                    (L.BinaryCrossentropy(from_logits=True), bits)]:
        assert np.isfinite(loss(y, z)) and np.all(np.isfinite(loss.gradient(
            loss.check_targets(y, z), z)))


def test_probability_losses_clip_like_keras():
    # p = 0 for the true class: Keras clips to 1e-7, giving -log(1e-7)
    assert L.CategoricalCrossentropy()([[0, 1]], np.array([[1.0, 0.0]])) == pytest.approx(
        -np.log(1e-7), rel=1e-6)
    assert L.BinaryCrossentropy()([[1.0]], np.array([[0.0]])) == pytest.approx(-np.log(1e-7),
                                                                               rel=1e-6)


def test_mse_matches_hand_computation():
    y_true = np.array([[1.0, 2.0], [3.0, 4.0]])
    y_pred = np.array([[1.5, 2.0], [2.0, 5.0]])
    assert L.MeanSquaredError()(y_true, y_pred) == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    np.testing.assert_allclose(L.MeanSquaredError().gradient(y_true, y_pred),
                               2 * (y_pred - y_true) / 4)


def test_labels_out_of_range_are_refused():
    with pytest.raises(ValueError, match=r"integers in \[0, 3\).*\[0, 3\]"):
        L.SparseCategoricalCrossentropy()(np.array([0, 3]), np.full((2, 3), 1 / 3))


def test_non_integer_labels_are_refused():
    with pytest.raises(ValueError, match="non-integer"):
        L.SparseCategoricalCrossentropy()(np.array([0.5, 1.0]), np.full((2, 3), 1 / 3))


def test_integer_labels_for_categorical_crossentropy_get_a_hint():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        L.CategoricalCrossentropy()(np.array([0, 2]), np.full((2, 3), 1 / 3))


def test_one_hot_targets_for_sparse_loss_get_a_hint():
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        L.SparseCategoricalCrossentropy()(np.eye(3)[[0, 2]], np.full((2, 3), 1 / 3))


def test_binary_targets_outside_unit_interval_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        L.BinaryCrossentropy()(np.array([[-1.0], [1.0]]), np.full((2, 1), 0.5))


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="do not match"):
        L.MeanSquaredError()(np.zeros((3, 2)), np.zeros((3, 4)))


def test_unknown_loss_name_lists_accepted():
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        L.get("categorical_crossentropyy")


def test_string_names_resolve_like_keras():
    assert isinstance(L.get("mse"), L.MeanSquaredError)
    assert isinstance(L.get("categorical_crossentropy"), L.CategoricalCrossentropy)
    assert isinstance(L.get("sparse_categorical_crossentropy"), L.SparseCategoricalCrossentropy)
    assert isinstance(L.get("svm"), L.MulticlassHinge)
    assert L.deserialize(L.serialize(L.BinaryCrossentropy(from_logits=True))).from_logits
