"""``neuralab.torch.optim`` against real PyTorch: every optimiser's 10-step trajectory and
state, every scheduler's learning rates, and 20 training steps of the lecture's MLP and of a
small CNN from PyTorch's own initial weights, all within 1e-10 in float64."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import neuralab.torch as nt
import neuralab.torch.nn as nn
import neuralab.torch.optim as optim

from .conftest import require_torch

torch = require_torch()
TOL = 1e-10


pytestmark = pytest.mark.usefixtures("torch_float64")  # float64 in both libraries


def error(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a.detach().numpy()) - np.asarray(b.detach().numpy()))))


START = [np.random.default_rng(5).normal(size=(3, 4)), np.random.default_rng(6).normal(size=(4,))]


def quartic_loss(lib, params):
    """A loss whose gradient changes with the parameters: sum(p^4 / 4 - p sin(p)) + coupling."""
    a, b = params
    return ((a ** 4) / 4 - a * lib.sin(a)).sum() + (a @ b).pow(2).sum() * 0.1


def run(lib, optim_module, params, make, steps: int = 10, scheduler=None):
    optimizer = make(optim_module, params)
    schedule = scheduler(optim_module, optimizer) if scheduler else None
    lrs = []
    for _ in range(steps):
        optimizer.zero_grad()
        quartic_loss(lib, params).backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return optimizer, lrs


OPTIMIZERS = {
    "sgd": lambda o, p: o.SGD(p, lr=0.05),
    "sgd-momentum-dampening-decay": lambda o, p: o.SGD(p, lr=0.05, momentum=0.9, dampening=0.1,
                                                       weight_decay=0.01),
    "sgd-nesterov": lambda o, p: o.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    "adam": lambda o, p: o.Adam(p, lr=0.03),
    "adam-decay-amsgrad": lambda o, p: o.Adam(p, lr=0.03, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True),
    "adamw": lambda o, p: o.AdamW(p, lr=0.03, weight_decay=0.1),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01),
    "rmsprop-centered-momentum": lambda o, p: o.RMSprop(p, lr=0.01, momentum=0.5, centered=True,
                                                        weight_decay=0.01),
    "adagrad": lambda o, p: o.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                      initial_accumulator_value=0.1),
    "param-groups": lambda o, p: o.SGD([{"params": [p[0]], "lr": 0.01}, {"params": [p[1]]}], lr=0.1,
                                       momentum=0.9),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_trajectory_and_state_match_pytorch(name):
    ours = [nt.tensor(s, requires_grad=True) for s in START]
    theirs = [torch.tensor(s, requires_grad=True) for s in START]
    o_ours, _ = run(nt, optim, ours, OPTIMIZERS[name])
    o_theirs, _ = run(torch, torch.optim, theirs, OPTIMIZERS[name])
    for p, q in zip(ours, theirs):
        assert error(p, q) <= TOL
    s_ours, s_theirs = o_ours.state_dict(), o_theirs.state_dict()
    assert s_ours["param_groups"] == [{k: v for k, v in g.items() if k in s_ours["param_groups"][0]}
                                      for g in s_theirs["param_groups"]]
    for index, state in s_theirs["state"].items():
        assert set(s_ours["state"][index]) == set(state)
        for key, value in state.items():
            assert np.max(np.abs(np.asarray(s_ours["state"][index][key]) - value.numpy())) <= TOL, key


SCHEDULERS = {
    "step": lambda o, opt: o.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    "exponential": lambda o, opt: o.lr_scheduler.ExponentialLR(opt, gamma=0.9),
    "multistep": lambda o, opt: o.lr_scheduler.MultiStepLR(opt, milestones=[2, 5, 5, 9], gamma=0.3),
    "cosine": lambda o, opt: o.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001),
    "lambda": lambda o, opt: o.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (1 + epoch)),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_learning_rates_and_trajectory_match_pytorch(name):
    ours = [nt.tensor(s, requires_grad=True) for s in START]
    theirs = [torch.tensor(s, requires_grad=True) for s in START]
    make = OPTIMIZERS["adam"]
    _, lr_ours = run(nt, optim, ours, make, steps=12, scheduler=SCHEDULERS[name])
    _, lr_theirs = run(torch, torch.optim, theirs, make, steps=12, scheduler=SCHEDULERS[name])
    assert np.max(np.abs(np.subtract(lr_ours, lr_theirs))) <= 1e-15
    for p, q in zip(ours, theirs):
        assert error(p, q) <= TOL


def test_reduce_lr_on_plateau_matches_pytorch():
    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.89, 0.9, 0.91, 0.92, 0.93, 0.5, 0.6, 0.7, 0.8]
    rates = []
    for lib in (optim, torch.optim):
        parameter = (nt if lib is optim else torch).zeros(2, requires_grad=True)
        optimizer = lib.SGD([parameter], lr=1.0)
        scheduler = lib.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1, cooldown=1,
                                                       min_lr=0.1)
        history = []
        for value in metrics:
            scheduler.step(value)
            history.append(optimizer.param_groups[0]["lr"])
        rates.append(history)
    assert rates[0] == rates[1]


def test_learning_rate_changes_through_param_groups():
    p = nt.tensor([1.0], requires_grad=True)
    optimizer = optim.SGD([p], lr=0.1)
    optimizer.param_groups[0]["lr"] = 0.5
    (p * 2).sum().backward()
    optimizer.step()
    assert p.item() == pytest.approx(0.0)


def test_zero_grad_sets_to_none_or_zeroes():
    p = nt.tensor([1.0, 2.0], requires_grad=True)
    optimizer = optim.Adam([p])
    (p * p).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    optimizer.zero_grad()
    assert p.grad is None


def test_hyperparameters_are_validated_as_in_pytorch():
    p = [nt.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.Adam(p, lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)


def test_optimizer_state_dict_round_trip_continues_the_same_trajectory(tmp_path):
    straight = [nt.tensor(s, requires_grad=True) for s in START]
    run(nt, optim, straight, OPTIMIZERS["adam-decay-amsgrad"], steps=10)

    resumed = [nt.tensor(s, requires_grad=True) for s in START]
    first, _ = run(nt, optim, resumed, OPTIMIZERS["adam-decay-amsgrad"], steps=5)
    nt.save(first.state_dict(), tmp_path / "optimizer.pt")
    second = OPTIMIZERS["adam-decay-amsgrad"](optim, resumed)
    second.load_state_dict(nt.load(tmp_path / "optimizer.pt"))
    for _ in range(5):
        second.zero_grad()
        quartic_loss(nt, resumed).backward()
        second.step()
    for p, q in zip(straight, resumed):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())


# -- training: 20 steps from PyTorch's initial weights -------------------------------------
def lecture_net(nn_module):
    class Net(nn_module.Module):
        def __init__(self, input_size, hidden_size):
            super(Net, self).__init__()  # noqa: UP008 - the lecture's spelling
            self.fc1 = nn_module.Linear(input_size, hidden_size)
            self.activation = nn_module.Sigmoid()
            self.fc2 = nn_module.Linear(hidden_size, 1)
            self.sigmoid = nn_module.Sigmoid()

        def forward(self, x):
            x = self.fc1(x)
            x = self.activation(x)
            x = self.fc2(x)
            return self.sigmoid(x)
    return Net(2, 4)


def small_cnn(nn_module):
    return nn_module.Sequential(
        nn_module.Conv2d(1, 4, 3, padding=1), nn_module.BatchNorm2d(4), nn_module.ReLU(),
        nn_module.MaxPool2d(2), nn_module.Conv2d(4, 6, 3, stride=1), nn_module.Tanh(),
        nn_module.AvgPool2d(2), nn_module.Flatten(), nn_module.Linear(6, 3))


def train(lib, nn_module, optim_module, make_model, make_optimizer, loss, data, target, steps=20,
          batch=10, float32=False):
    """The lecture's loop; returns the losses and the final state."""
    torch.manual_seed(0)
    reference = make_model(torch.nn)  # PyTorch's initial weights, for both runs
    model = make_model(nn_module)
    if float32:
        reference.float()
        model.float()
    model.load_state_dict({k: v.detach().numpy().copy() if lib is not torch else v
                           for k, v in reference.state_dict().items()})
    optimizer = make_optimizer(optim_module, model.parameters())
    criterion = loss(nn_module)
    x_all, y_all = lib.tensor(data), lib.tensor(target)
    losses = []
    model.train()
    for step in range(steps):
        rows = slice((step * batch) % len(data), (step * batch) % len(data) + batch)
        optimizer.zero_grad()
        outputs = model(x_all[rows])
        loss_value = criterion(outputs, y_all[rows])
        loss_value.backward()
        optimizer.step()
        losses.append(loss_value.item())
    return np.array(losses), {k: v.detach().numpy() for k, v in model.state_dict().items()}


def compare_training(make_model, make_optimizer, loss, data, target, tol=TOL):
    float32 = data.dtype == np.float32
    losses_t, state_t = train(torch, torch.nn, torch.optim, make_model, make_optimizer, loss, data, target,
                              float32=float32)
    losses_o, state_o = train(nt, nn, optim, make_model, make_optimizer, loss, data, target, float32=float32)
    assert np.max(np.abs(losses_o - losses_t)) <= tol
    assert list(state_o) == list(state_t)
    for key in state_t:
        assert state_o[key].dtype == state_t[key].dtype, key
        assert np.max(np.abs(state_o[key] - state_t[key])) <= tol, key
    return np.max(np.abs(losses_o - losses_t))


def test_lecture_mlp_trains_like_pytorch_for_20_steps():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(100, 2))
    y = (np.sum(x ** 2, axis=1) < 1.2).astype(np.float64)[:, None]
    compare_training(lecture_net, lambda o, p: o.Adam(p, lr=0.03), lambda n: n.BCELoss(), x, y)


def test_lecture_mlp_and_small_cnn_in_float32_stay_within_1e_5_of_pytorch():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(100, 2)).astype(np.float32)
    y = (np.sum(x ** 2, axis=1) < 1.2).astype(np.float32)[:, None]
    compare_training(lecture_net, lambda o, p: o.Adam(p, lr=0.03), lambda n: n.BCELoss(), x, y, tol=1e-5)
    images = rng.normal(size=(60, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 60)
    compare_training(small_cnn, lambda o, p: o.SGD(p, lr=0.05, momentum=0.9), lambda n: n.CrossEntropyLoss(),
                     images, labels, tol=1e-5)


def test_small_cnn_trains_like_pytorch_for_20_steps():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(60, 1, 8, 8))
    y = rng.integers(0, 3, 60)
    compare_training(small_cnn, lambda o, p: o.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
                     lambda n: n.CrossEntropyLoss(label_smoothing=0.05), x, y)


def test_mnist_style_network_with_softmax_output_trains_like_pytorch():
    def Net(nn_module):  # noqa: N802 - the lecture's class, built for either library
        lib = torch if nn_module is torch.nn else nt

        class Model(nn_module.Module):
            def __init__(self):
                super().__init__()
                self.flatten = nn_module.Flatten()
                self.fc1 = nn_module.Linear(16, 8)
                self.fc2 = nn_module.Linear(8, 4)

            def forward(self, x):
                x = lib.sigmoid(self.fc1(self.flatten(x)))
                return nn_module.functional.softmax(self.fc2(x), dim=1)
        return Model()
    rng = np.random.default_rng(13)
    x = rng.normal(size=(50, 1, 4, 4))
    y = rng.integers(0, 4, 50)
    compare_training(Net, lambda o, p: o.Adam(p, lr=0.01), lambda n: n.CrossEntropyLoss(), x, y)


def test_saved_state_dict_is_a_pickle_free_npz_zip():
    model = lecture_net(nn)
    buffer = io.BytesIO()
    nt.save(model.state_dict(), buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        assert "__structure__" in archive.files
    buffer.seek(0)
    restored = lecture_net(nn)
    restored.load_state_dict(nt.load(buffer))
    for (k, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), k
    with pytest.raises(TypeError, match="state_dict"):
        nt.save(model, io.BytesIO())
    assert math.isfinite(float(model(nt.zeros(1, 2)).item()))


@pytest.mark.parametrize("max_norm, norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, math.inf)])
def test_clip_grad_norm_matches_pytorch(max_norm, norm_type):
    results = []
    for lib, nn_module in ((nt, nn), (torch, torch.nn)):
        params = [lib.tensor(s, requires_grad=True) for s in START]
        quartic_loss(lib, params).backward()
        total = nn_module.utils.clip_grad_norm_(params, max_norm, norm_type)
        results.append([float(total)] + [p.grad.numpy().copy() for p in params])
    assert abs(results[0][0] - results[1][0]) <= TOL
    for g, h in zip(results[0][1:], results[1][1:]):
        assert np.max(np.abs(g - h)) <= TOL


def test_clip_grad_value_clamps_every_element():
    p = nt.tensor([1.0, -1.0, 0.1], requires_grad=True)
    (p * nt.tensor([3.0, -4.0, 0.05])).sum().backward()
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [1.0, -1.0, 0.05]
