"""Optimizers: the cs231n reference values, 20-step PyTorch trajectories, validation."""

import math

import numpy as np
import pytest

from neuralab import optimizers as O
from neuralab import schedules
from neuralab.gradcheck import rel_error
from neuralab.parameter import Parameter

from .conftest import require_torch

# --- 003_9a89cffcb2cec0be.txt, sections 12 and 13 ------------------------------------
N, D = 4, 5
W = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
DW = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)


def _param():
    p = Parameter(W.copy())
    p.grad = DW
    return p


def test_sgd_momentum_reproduces_cs231n_values():
    # cs231n keeps v_cs = mu v - lr g; ours (PyTorch's) keeps v = mu v + g, so v = -v_cs / lr
    p, lr = _param(), 1e-3
    opt = O.SGD(lr, momentum=0.9)
    opt.get_slot(p, "velocity")[...] = -np.linspace(0.6, 0.9, num=N * D).reshape(N, D) / lr
    opt.step([p])
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert rel_error(p.data, expected_next_w) < 1e-8  # "errors less than e-8"
    assert rel_error(-lr * opt.get_slot(p, "velocity"), expected_velocity) < 1e-8


def test_rmsprop_reproduces_cs231n_values():
    p = _param()
    opt = O.RMSprop(1e-2, rho=0.99, epsilon=1e-8)  # cs231n's decay_rate and epsilon
    opt.get_slot(p, "velocity")[...] = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    opt.step([p])
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    assert rel_error(p.data, expected_next_w) < 1e-7  # "around e-7 or less"
    assert rel_error(opt.get_slot(p, "velocity"), expected_cache) < 1e-8


def test_adam_reproduces_cs231n_values():
    p = _param()
    opt = O.Adam(1e-2, epsilon=1e-8)
    opt.get_slot(p, "m")[...] = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    opt.get_slot(p, "v")[...] = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    opt.iterations = 5  # cs231n's config t=5: this update is step t=6
    opt.step([p])
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    assert rel_error(p.data, expected_next_w) < 2e-7  # seed printed 1.14e-07
    assert rel_error(opt.get_slot(p, "v"), expected_v) < 1e-8
    assert rel_error(opt.get_slot(p, "m"), expected_m) < 1e-8


# --- PyTorch trajectories ------------------------------------------------------------------
def _loss_grad(ws):
    """A non-quadratic objective: f = sum(sin(w0) * w0^2) + sum((A w1 - 1)^2)."""
    w0, w1 = ws
    a = np.arange(1, w1.size + 1).reshape(1, -1) / w1.size
    g0 = np.cos(w0) * w0**2 + 2 * w0 * np.sin(w0)
    r = a @ w1.reshape(-1, 1) - 1.0
    g1 = (2 * a.T @ r).reshape(w1.shape)
    return [g0, g1]


def _torch_loss(torch, w0, w1):
    a = torch.arange(1, w1.numel() + 1, dtype=torch.float64).reshape(1, -1) / w1.numel()
    return (torch.sin(w0) * w0**2).sum() + ((a @ w1.reshape(-1, 1) - 1.0) ** 2).sum()


OPTIMIZER_CASES = [
    ("SGD", dict(learning_rate=0.1), dict(lr=0.1)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True),
     dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(learning_rate=0.05, momentum=0.5, weight_decay=0.1),
     dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(learning_rate=0.01), dict(lr=0.01, alpha=0.9, eps=1e-7)),
    ("RMSprop", dict(learning_rate=0.01, rho=0.99, momentum=0.8, centered=True, weight_decay=0.01),
     dict(lr=0.01, alpha=0.99, eps=1e-7, momentum=0.8, centered=True, weight_decay=0.01)),
    ("Adagrad", dict(learning_rate=0.1), dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-7)),
    ("Adagrad", dict(learning_rate=0.1, weight_decay=0.05),
     dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-7, weight_decay=0.05)),
    ("Adam", dict(learning_rate=0.05), dict(lr=0.05, eps=1e-7)),
    ("Adam", dict(learning_rate=0.05, beta_1=0.8, beta_2=0.99, amsgrad=True, weight_decay=0.1),
     dict(lr=0.05, betas=(0.8, 0.99), eps=1e-7, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(learning_rate=0.05, weight_decay=0.1),
     dict(lr=0.05, eps=1e-7, weight_decay=0.1)),
]


@pytest.mark.parametrize("name, ours, theirs", OPTIMIZER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OPTIMIZER_CASES)])
def test_twenty_steps_match_pytorch(name, ours, theirs):
    torch = require_torch()
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(6)]
    params = [Parameter(w.copy()) for w in start]
    opt = getattr(O, name)(**ours)
    tparams = [torch.tensor(w.copy(), requires_grad=True) for w in start]
    topt = getattr(torch.optim, name)(tparams, **theirs)
    for step in range(20):
        for p, g in zip(params, _loss_grad([p.data for p in params])):
            p.grad = g
        opt.step(params)
        topt.zero_grad()
        _torch_loss(torch, *tparams).backward()
        topt.step()
        for p, t in zip(params, tparams):
            assert rel_error(p.data, t.detach().numpy()) < 1e-6, (name, step)
    assert np.abs(params[0].data - start[0]).max() > 1e-3  # the weights really moved


def test_flat_buffer_steps_equal_per_parameter_steps():
    """A model's parameters share one buffer; the fused update must equal separate ones."""
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((2, 4))]
    flat_w = np.concatenate([a.ravel() for a in arrays])
    flat_g = np.zeros_like(flat_w)
    shared, separate, offset = [], [], 0
    for a in arrays:
        p = Parameter(a.copy())
        p.rebind(flat_w[offset:offset + a.size].reshape(a.shape),
                 flat_g[offset:offset + a.size].reshape(a.shape))
        shared.append(p)
        separate.append(Parameter(a.copy()))
        offset += a.size
    opt_shared, opt_separate = O.Adam(0.1), O.Adam(0.1)
    for _ in range(5):
        for ps in (shared, separate):
            for p in ps:
                p.grad = np.sin(p.data) + 0.5
        opt_shared.step(shared)
        opt_separate.step(separate)
    assert len(opt_shared._runs(shared)) == 1  # one whole-buffer update
    for a, b in zip(shared, separate):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-14)
    np.testing.assert_allclose(opt_shared.get_slot(shared[2], "v"),
                               opt_separate.get_slot(separate[2], "v"))


def test_frozen_parameters_are_not_updated():
    p, q = Parameter(np.ones(3)), Parameter(np.ones(3))
    q.trainable = False
    for x in (p, q):
        x.grad = np.ones(3)
    O.SGD(0.5).step([p, q])
    np.testing.assert_allclose(p.data, 0.5)
    np.testing.assert_allclose(q.data, 1.0)


def test_schedule_drives_the_learning_rate():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
    opt = O.SGD(schedule)
    p = Parameter(np.zeros(1))
    seen = []
    for _ in range(5):
        seen.append(opt.learning_rate)
        p.grad = np.ones(1)
        opt.step([p])
    assert seen == [0.1, 0.1, 0.05, 0.05, 0.025]
    np.testing.assert_allclose(p.data, -sum(seen))


def test_clipping_rules():
    p = Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    O.SGD(1.0, clipnorm=1.0).step([p])
    np.testing.assert_allclose(p.data, [-0.6, -0.8])
    p = Parameter(np.zeros(2))
    p.grad = np.array([3.0, -4.0])
    O.SGD(1.0, clipvalue=2.0).step([p])
    np.testing.assert_allclose(p.data, [-2.0, 2.0])
    a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    a.grad, b.grad = np.array([3.0]), np.array([4.0])
    O.SGD(1.0, global_clipnorm=2.5).step([a, b])
    np.testing.assert_allclose([a.data[0], b.data[0]], [-1.5, -2.0])


@pytest.mark.parametrize("make, message", [
    (lambda: O.SGD(learning_rate=-0.1), "Invalid learning rate: -0.1"),
    (lambda: O.SGD(momentum=1.5), "Invalid momentum: 1.5"),
    (lambda: O.SGD(nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda: O.Adam(beta_1=1.0), "Invalid beta_1: 1.0"),
    (lambda: O.Adam(epsilon=-1e-8), "Invalid epsilon"),
    (lambda: O.RMSprop(rho=-0.5), "Invalid rho"),
    (lambda: O.Adam(learning_rate=float("nan")), "Invalid learning rate: nan"),
    (lambda: O.get("adamm"), "accepted: .*adam"),
])
def test_bad_hyperparameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_keras_aliases_and_config_round_trip():
    opt = O.Adam(lr=0.002)  # Keras 2 spelling used in the course material
    assert opt.learning_rate == 0.002 and opt.lr == 0.002
    clone = O.deserialize(O.serialize(O.SGD(0.3, momentum=0.9, nesterov=True, clipnorm=1.0)))
    assert (clone.learning_rate, clone.momentum, clone.nesterov, clone.clipnorm) == (
        0.3, 0.9, True, 1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        O.Adam(betas=(0.9, 0.99))


def test_schedules_match_their_formulas():
    assert schedules.StepDecay(1.0, step_size=10, drop=0.5)(25) == 0.25
    assert schedules.ExponentialDecay(1.0, 10, 0.5)(5) == pytest.approx(0.5**0.5)
    cosine = schedules.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert cosine(0) == 1.0 and cosine(100) == pytest.approx(0.1) and cosine(500) == pytest.approx(0.1)
    assert cosine(50) == pytest.approx(0.1 + 0.9 * 0.5)
    piecewise = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [piecewise(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    assert schedules.Constant(0.3)(1000) == 0.3
    with pytest.raises(ValueError, match="len\\(values\\)"):
        schedules.PiecewiseConstantDecay([10], [1.0])
    assert math.isclose(schedules.deserialize(schedules.serialize(cosine))(50), cosine(50))
