"""Initializers, regularizers, the gradient checker itself, seeds and the cs231n net."""

import numpy as np
import pytest

import neuralab as nl
from neuralab import gradcheck as gc
from neuralab import initializers as I
from neuralab import regularizers as R
from neuralab.layers import Dense


# --- initializers ------------------------------------------------------------------------
@pytest.mark.parametrize("name, shape, mean, std", [
    ("glorot_uniform", (400, 600), 0.0, np.sqrt(2 / 1000)),
    ("glorot_normal", (400, 600), 0.0, np.sqrt(2 / 1000)),
    ("he_uniform", (500, 300), 0.0, np.sqrt(2 / 500)),
    ("he_normal", (500, 300), 0.0, np.sqrt(2 / 500)),
    ("lecun_uniform", (500, 300), 0.0, np.sqrt(1 / 500)),
    ("lecun_normal", (500, 300), 0.0, np.sqrt(1 / 500)),
    ("random_normal", (300, 300), 0.0, 0.05),
    ("random_uniform", (300, 300), 0.0, 0.1 / np.sqrt(12)),
])
def test_initializer_statistics(name, shape, mean, std):
    w = I.get(name)(shape, "float64", np.random.default_rng(0))
    assert w.shape == shape and w.dtype == np.float64
    assert abs(w.mean() - mean) < 0.05 * std
    assert w.std() == pytest.approx(std, rel=0.03)


def test_lecture_uniform_init_and_constants():
    w = I.RandomUniform(-0.7, 0.7)((1000,), rng=np.random.default_rng(1))
    assert w.min() >= -0.7 and w.max() <= 0.7 and w.min() < -0.69 and w.max() > 0.69
    np.testing.assert_array_equal(I.get("zeros")((2, 2)), 0)
    np.testing.assert_array_equal(I.get("ones")((2,)), 1)
    np.testing.assert_array_equal(I.Constant(3.5)((2,)), 3.5)


def test_truncated_normal_stays_within_two_stddevs():
    w = I.TruncatedNormal(stddev=1.0)((20000,), rng=np.random.default_rng(2))
    assert np.abs(w).max() <= 2.0


def test_conv_kernel_fans():
    assert I.compute_fans((3, 3, 16, 8)) == (144, 72)
    assert I.compute_fans((120, 256)) == (120, 256)


def test_seeded_initializer_repeats_and_rng_is_explicit():
    a = I.GlorotUniform(seed=5)((3, 4))
    b = I.GlorotUniform(seed=5)((3, 4))
    np.testing.assert_array_equal(a, b)
    c = I.GlorotUniform()((3, 4), rng=np.random.default_rng(9))
    d = I.GlorotUniform()((3, 4), rng=np.random.default_rng(9))
    np.testing.assert_array_equal(c, d)


def test_set_seed_makes_weights_reproducible():
    def build():
        nl.set_seed(42)
        model = nl.Sequential([Dense(5, input_shape=(3,)), nl.layers.Dropout(0.5), Dense(2)])
        return model.get_weights(), model.get_layer(index=1).rng.random(3)

    (w1, r1), (w2, r2) = build(), build()
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r1, r2)


# --- regularizers -------------------------------------------------------------------------
def test_regularizer_penalties_follow_keras():
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    assert R.l2(0.1)(w) == pytest.approx(0.1 * 14)
    assert R.l1(0.1)(w) == pytest.approx(0.1 * 6)
    assert R.l1_l2(0.1, 0.2)(w) == pytest.approx(0.6 + 2.8)
    np.testing.assert_allclose(R.l2(0.1).gradient(w), 0.2 * w)
    np.testing.assert_allclose(R.l1(0.1).gradient(w), 0.1 * np.sign(w))
    with pytest.raises(ValueError, match="regularization factor"):
        R.l2(-1)


# --- the gradient checker catches wrong gradients -------------------------------------------
class WrongDense(Dense):
    """Dense whose kernel gradient is off by 1%: the check must notice."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.kernel.grad *= 1.01
        return dx


def test_gradcheck_detects_a_wrong_backward_pass(float64, rng):
    errors = gc.check_layer(WrongDense(3), rng.standard_normal((4, 5)))
    assert errors["x"] < 1e-7
    assert errors[[k for k in errors if k.endswith("kernel")][0]] > 1e-3


def test_rel_error_definition():
    assert gc.rel_error(np.array([1.0]), np.array([1.0])) == 0
    assert gc.rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)


def test_numerical_gradient_of_known_function():
    x = np.array([1.0, 2.0, -0.5])
    grad = gc.numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)


def test_sparse_numerical_gradient_matches_the_full_one_where_it_looks():
    x = np.arange(12.0).reshape(3, 4) / 7

    def f():
        return float(np.sum(np.sin(x) * x))
    full = gc.numerical_gradient(f, x)
    picks = [0, 5, 11]
    np.testing.assert_array_equal(gc.numerical_gradient_at(f, x, picks), full.reshape(-1)[picks])
    np.testing.assert_allclose(full, np.cos(x) * x + np.sin(x), rtol=1e-7)


def test_check_model_on_a_subset_of_entries_still_catches_a_wrong_gradient(float64, rng):
    model = nl.Sequential([nl.layers.Input(shape=(5,)), WrongDense(30),
                           nl.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = rng.standard_normal((4, 5)), np.array([0, 1, 1, 0])
    errors = gc.check_model(model, x, y, max_entries=10)
    kernel = [k for k in errors if k.startswith("wrong_dense") and k.endswith("kernel")][0]
    assert errors[kernel] > 1e-3
    assert max(v for k, v in errors.items() if k != kernel) < 1e-7


# --- cs231n two-layer net (003_9a89cffcb2cec0be.txt, section 8) -------------------------------
def cs231n_two_layer_net(reg: float):
    """affine - relu - affine - softmax with the notebook's fixed weights; cs231n's
    0.5 * reg * sum(W**2) is Keras' l2(reg / 2) on both kernels."""
    N, D, H, C = 3, 5, 50, 7
    l2 = nl.regularizers.l2(reg / 2) if reg else None
    model = nl.Sequential([
        Dense(H, activation="relu", input_shape=(D,), kernel_regularizer=l2),
        Dense(C, kernel_regularizer=l2),
    ])
    model.set_weights([np.linspace(-0.7, 0.3, num=D * H).reshape(D, H),
                       np.linspace(-0.1, 0.9, num=H),
                       np.linspace(-0.3, 0.4, num=H * C).reshape(H, C),
                       np.linspace(-0.9, 0.1, num=C)])
    model.compile(optimizer="sgd",
                  loss=nl.losses.SparseCategoricalCrossentropy(from_logits=True))
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    return model, X, np.asarray([0, 5, 1])


def test_cs231n_two_layer_net_scores_and_losses(float64):
    model, X, y = cs231n_two_layer_net(reg=0.0)
    correct_scores = np.asarray([
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
    assert np.abs(model.predict(X) - correct_scores).sum() < 1e-6
    loss, _ = model.compute_gradients(X, y)
    assert abs(loss - 3.4702243556) < 1e-10
    model, X, y = cs231n_two_layer_net(reg=1.0)
    loss, _ = model.compute_gradients(X, y)
    assert abs(loss - 26.5948426952) < 1e-10


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_cs231n_two_layer_net_gradients(float64, reg):
    model, X, y = cs231n_two_layer_net(reg)
    errors = gc.check_model(model, X, y)
    assert max(errors.values()) < 1e-6, errors
