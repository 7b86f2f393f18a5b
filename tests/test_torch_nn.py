"""``neuralab.torch.nn`` against real PyTorch: every layer and loss on the same weights and
inputs (float64) gives PyTorch's outputs, input gradients, weight gradients and running
statistics within 1e-10; ``print(model)`` is PyTorch's text; Module bookkeeping behaves as
``torch.nn.Module``'s."""

from __future__ import annotations

import math

import numpy as np
import pytest

import neuralab.torch as nt
import neuralab.torch.nn as nn
import neuralab.torch.nn.functional as F

from .conftest import require_torch

torch = require_torch()
TOL = 1e-10


pytestmark = pytest.mark.usefixtures("torch_float64")  # float64 in both libraries


def build(name: str, *args, **kwargs):
    """The same layer in both libraries, ours holding PyTorch's initial weights."""
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    ours = getattr(nn, name)(*args, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def max_error(a, b) -> float:
    a = np.asarray(a.detach().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if hasattr(b, "detach") else b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def compare_layer(ours, theirs, x: np.ndarray, steps: int = 1, input_grad: bool = True) -> None:
    """Forward and backward (with a random upstream gradient) ``steps`` times; compare the
    outputs, the input gradients, every parameter gradient and every buffer."""
    rng = np.random.default_rng(7)
    for _ in range(steps):
        x_ours, x_theirs = nt.tensor(x), torch.tensor(x)
        if input_grad:
            x_ours.requires_grad_()
            x_theirs.requires_grad_()
        ours.zero_grad()
        theirs.zero_grad()
        y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
        assert max_error(y_ours, y_theirs) <= TOL
        upstream = rng.normal(size=tuple(y_theirs.shape))
        y_ours.backward(nt.tensor(upstream))
        y_theirs.backward(torch.tensor(upstream))
        if input_grad:
            assert max_error(x_ours.grad, x_theirs.grad) <= TOL
        for (name, p_ours), (name_t, p_theirs) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == name_t
            assert max_error(p_ours.grad, p_theirs.grad) <= TOL, name
        for (name, b_ours), (_, b_theirs) in zip(ours.named_buffers(), theirs.named_buffers()):
            assert max_error(b_ours, b_theirs) <= TOL, name


RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(2, 3, 7, 6))

LAYER_CASES = [
    ("Linear", (5, 3), {}, RNG.normal(size=(4, 5))),
    ("Linear", (5, 3), {"bias": False}, RNG.normal(size=(4, 5))),
    ("Linear", (5, 2), {}, RNG.normal(size=(2, 3, 5))),
    ("Conv2d", (3, 4, 3), {}, IMAGES),
    ("Conv2d", (3, 4, (3, 2)), {"stride": 2, "padding": 1}, IMAGES),
    ("Conv2d", (3, 2, 3), {"dilation": 2, "bias": False}, IMAGES),
    ("Conv2d", (3, 2, 3), {"padding": "same"}, IMAGES),
    ("MaxPool2d", (2,), {}, IMAGES),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}, IMAGES),
    ("MaxPool2d", (2,), {"ceil_mode": True}, IMAGES),
    ("AvgPool2d", (2,), {}, IMAGES),
    ("AvgPool2d", (3, 2, 1), {}, IMAGES),
    ("AvgPool2d", (3, 2, 1), {"count_include_pad": False}, IMAGES),
    ("AvgPool2d", (2,), {"ceil_mode": True}, IMAGES),
    ("AdaptiveAvgPool2d", (1,), {}, IMAGES),
    ("AdaptiveAvgPool2d", ((3, 4),), {}, IMAGES),
    ("Flatten", (), {}, IMAGES),
    ("BatchNorm1d", (5,), {}, RNG.normal(size=(6, 5))),
    ("BatchNorm1d", (3,), {"momentum": None}, RNG.normal(size=(4, 3, 5))),
    ("BatchNorm2d", (3,), {}, IMAGES),
    ("BatchNorm2d", (3,), {"affine": False, "momentum": 0.3}, IMAGES),
    ("ReLU", (), {}, RNG.normal(size=(3, 4))),
    ("LeakyReLU", (0.2,), {}, RNG.normal(size=(3, 4))),
    ("Sigmoid", (), {}, RNG.normal(size=(3, 4))),
    ("Tanh", (), {}, RNG.normal(size=(3, 4))),
    ("ELU", (), {}, RNG.normal(size=(3, 4))),
    ("GELU", (), {}, RNG.normal(size=(3, 4))),
    ("Softplus", (), {}, RNG.normal(size=(3, 4))),
    ("Softmax", (), {"dim": 1}, RNG.normal(size=(3, 4))),
    ("LogSoftmax", (), {"dim": -1}, RNG.normal(size=(2, 3, 4))),
    ("Identity", (), {}, RNG.normal(size=(3, 4))),
    ("Conv2d", (3, 6, 3), {"groups": 3, "padding": 1}, IMAGES),  # depthwise, channel multiplier 2
    ("Conv2d", (3, 3, 3), {"groups": 3, "bias": False, "stride": 2}, IMAGES),  # depthwise
    ("Conv2d", (4, 6, (2, 3)), {"groups": 2, "dilation": (2, 1)}, RNG.normal(size=(2, 4, 7, 6))),
]


@pytest.mark.parametrize("name, args, kwargs, x", LAYER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYER_CASES)])
def test_layer_matches_pytorch_values_and_gradients(name, args, kwargs, x):
    ours, theirs = build(name, *args, **kwargs)
    compare_layer(ours, theirs, x, steps=2)


def test_batchnorm_eval_uses_running_statistics_like_pytorch():
    ours, theirs = build("BatchNorm2d", 3)
    compare_layer(ours, theirs, IMAGES, steps=3)
    ours.eval()
    theirs.eval()
    compare_layer(ours, theirs, IMAGES[:1] * 2 + 1)
    assert int(ours.num_batches_tracked.item()) == 3


def test_embedding_matches_pytorch_including_padding_idx():
    ours, theirs = build("Embedding", 6, 3, padding_idx=1)
    ids = np.array([[0, 1, 5], [1, 2, 2]])
    y_ours, y_theirs = ours(nt.tensor(ids)), theirs(torch.tensor(ids))
    assert max_error(y_ours, y_theirs) <= TOL
    upstream = RNG.normal(size=(2, 3, 3))
    y_ours.backward(nt.tensor(upstream))
    y_theirs.backward(torch.tensor(upstream))
    assert max_error(ours.weight.grad, theirs.weight.grad) <= TOL


def test_dropout_is_identity_in_eval_and_keeps_the_mean_in_training():
    layer = nn.Dropout(0.25)
    x = nt.ones(200, 500)
    layer.eval()
    assert layer(x) is x
    layer.train()
    y = layer(x).numpy()
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.01


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        up = f(x)
        x[index] = old - eps
        down = f(x)
        x[index] = old
        grad[index] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("layer", [
    lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1),
    lambda: nn.MaxPool2d(2),
    lambda: nn.AvgPool2d(3, 2, 1),
    lambda: nn.BatchNorm2d(2),
], ids=["conv2d", "max_pool2d", "avg_pool2d", "batch_norm2d"])
def test_fused_kernels_match_numerical_gradients(layer):
    module = layer()
    x = np.random.default_rng(3).normal(size=(2, 2, 5, 5))
    weights = np.random.default_rng(4).normal(size=tuple(module(nt.tensor(x)).shape))

    def loss(values):
        return float((module(nt.tensor(values)) * nt.tensor(weights)).sum().item())
    xt = nt.tensor(x.copy(), requires_grad=True)
    (module(xt) * nt.tensor(weights)).sum().backward()
    numeric = numerical_gradient(loss, x.copy())
    assert np.max(np.abs(xt.grad.numpy() - numeric)) < 1e-6


# -- losses ---------------------------------------------------------------------------------
PROBS = 1 / (1 + np.exp(-RNG.normal(size=(6, 3))))
BINARY = (RNG.random((6, 3)) > 0.5).astype(np.float64)
LOGITS = RNG.normal(size=(6, 4))
LABELS = np.array([0, 3, 1, 1, 2, 3])
SOFT = np.exp(RNG.normal(size=(6, 4)))
SOFT /= SOFT.sum(axis=1, keepdims=True)
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])

LOSS_CASES = [
    ("MSELoss", {}, RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))),
    ("L1Loss", {}, RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))),
    ("BCELoss", {}, PROBS, BINARY),
    ("BCELoss", {"weight": CLASS_WEIGHT[:3]}, PROBS, BINARY),
    ("BCEWithLogitsLoss", {}, LOGITS[:, :3] * 5, BINARY),
    ("BCEWithLogitsLoss", {"pos_weight": CLASS_WEIGHT[:3]}, LOGITS[:, :3], BINARY),
    ("CrossEntropyLoss", {}, LOGITS, LABELS),
    ("CrossEntropyLoss", {}, LOGITS, SOFT),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, LOGITS, LABELS),
    ("CrossEntropyLoss", {"label_smoothing": 0.2}, LOGITS, SOFT),
    ("CrossEntropyLoss", {"weight": CLASS_WEIGHT}, LOGITS, LABELS),
    ("CrossEntropyLoss", {"weight": CLASS_WEIGHT, "label_smoothing": 0.1}, LOGITS, LABELS),
    ("CrossEntropyLoss", {"weight": CLASS_WEIGHT}, LOGITS, SOFT),
    ("CrossEntropyLoss", {"ignore_index": 1}, LOGITS, LABELS),
    ("CrossEntropyLoss", {}, RNG.normal(size=(2, 4, 3, 2)), RNG.integers(0, 4, (2, 3, 2))),
    ("NLLLoss", {}, LOGITS, LABELS),
    ("NLLLoss", {"weight": CLASS_WEIGHT}, LOGITS, LABELS),
]


def _tensor_kwargs(module, kwargs):
    return {k: module.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, kwargs, x, target", LOSS_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LOSS_CASES)])
def test_loss_matches_pytorch_values_and_gradients(name, kwargs, x, target, reduction):
    ours = getattr(nn, name)(reduction=reduction, **_tensor_kwargs(nt, kwargs))
    theirs = getattr(torch.nn, name)(reduction=reduction, **_tensor_kwargs(torch, kwargs))
    x_ours, x_theirs = nt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    l_ours, l_theirs = ours(x_ours, nt.tensor(target)), theirs(x_theirs, torch.tensor(target))
    assert max_error(l_ours, l_theirs) <= TOL
    upstream = np.random.default_rng(1).normal(size=tuple(l_theirs.shape))
    l_ours.backward(nt.tensor(upstream))
    l_theirs.backward(torch.tensor(upstream))
    assert max_error(x_ours.grad, x_theirs.grad) <= TOL


def test_bce_clamps_log_at_minus_100_like_pytorch():
    p, y = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    assert max_error(F.binary_cross_entropy(nt.tensor(p), nt.tensor(y)),
                     torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y))) <= TOL


def test_functional_versions_match_the_modules():
    x = nt.tensor(LOGITS)
    assert max_error(F.softmax(x, dim=1), nn.Softmax(dim=1)(x)) == 0
    assert max_error(F.cross_entropy(x, nt.tensor(LABELS)), nn.CrossEntropyLoss()(x, nt.tensor(LABELS))) == 0
    assert max_error(F.relu(x), torch.relu(torch.tensor(LOGITS))) == 0


# -- Module bookkeeping and printing --------------------------------------------------------
def lecture_net(nn_module):
    class Net(nn_module.Module):
        def __init__(self, input_size, hidden_size):
            super(Net, self).__init__()  # noqa: UP008 - the lecture's spelling
            self.fc1 = nn_module.Linear(input_size, hidden_size)
            self.activation = nn_module.Sigmoid()
            self.fc2 = nn_module.Linear(hidden_size, 1)
            self.sigmoid = nn_module.Sigmoid()

        def forward(self, x):
            return self.sigmoid(self.fc2(self.activation(self.fc1(x))))
    return Net(2, 4)


def mnist_net(nn_module):
    class Net(nn_module.Module):
        def __init__(self, nin, nh, nout):
            super(Net, self).__init__()  # noqa: UP008 - the lecture's spelling
            self.flatten = nn_module.Flatten()
            self.fc1 = nn_module.Linear(nin, nh)
            self.fc2 = nn_module.Linear(nh, nout)
    return Net(784, 100, 10)


def cnn(nn_module):
    return nn_module.Sequential(
        nn_module.Conv2d(1, 8, 3, padding=1), nn_module.BatchNorm2d(8), nn_module.ReLU(),
        nn_module.MaxPool2d(2), nn_module.Conv2d(8, 4, (3, 2), stride=2, bias=False),
        nn_module.AvgPool2d(2), nn_module.AdaptiveAvgPool2d(1), nn_module.Dropout(0.3),
        nn_module.Flatten(), nn_module.Linear(4, 3), nn_module.LeakyReLU(0.1),
        nn_module.ModuleList([nn_module.Tanh(), nn_module.Tanh(), nn_module.Softmax(dim=1)]),
        nn_module.Embedding(10, 3, padding_idx=0), nn_module.BatchNorm1d(3, momentum=None),
        nn_module.LogSoftmax(dim=1), nn_module.Identity(), nn_module.Conv2d(3, 2, 3, padding="same"),
        nn_module.BatchNorm2d(2, affine=False), nn_module.ELU(), nn_module.GELU(), nn_module.Softplus())


@pytest.mark.parametrize("make", [lecture_net, mnist_net, cnn])
def test_print_model_is_pytorchs_text(make):
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("expression", [
    "nn.Conv2d(3, 2, 3, padding='valid')", "nn.MaxPool2d(2, 1)", "nn.AvgPool2d((2, 3))",
    "nn.Conv2d(3, 2, (3, 5), padding=(1, 2), dilation=2)",
    "nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)", "nn.AdaptiveAvgPool2d((5, 7))",
    "nn.ReLU(inplace=True)", "nn.Softmax()", "nn.BatchNorm1d(4, affine=False, track_running_stats=False)",
    "nn.Dropout()", "nn.CrossEntropyLoss()", "nn.Unflatten(1, (2, 5))",
    "nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])",
    "nn.ModuleDict({'a': nn.Linear(1, 1)})",
    "nn.Sequential()", "nn.ModuleList()", "nn.Conv2d(4, 4, 3, groups=2)",
    "nn.Conv2d(4, 8, 3, groups=4, bias=False)", "nn.MaxPool2d(2, return_indices=True)",
])
def test_printing_each_layer_reads_as_pytorchs(expression):
    assert repr(eval(expression, {"nn": nn})) == repr(eval(expression, {"nn": torch.nn}))


def test_state_dict_keys_and_shapes_are_pytorchs():
    ours, theirs = cnn(nn), cnn(torch.nn)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_default_initialisation_follows_pytorchs_bounds():
    nt.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = layer.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    conv = nn.Conv2d(4, 6, 3)
    assert np.abs(conv.bias.detach().numpy()).max() <= 1 / math.sqrt(36)
    nt.manual_seed(0)
    assert np.array_equal(nn.Linear(400, 300).weight.detach().numpy(), w)


def test_submodule_sharing_counts_parameters_once():
    net = lecture_net(nn)

    class ModelAct(nn.Module):
        def __init__(self, original_model):
            super(ModelAct, self).__init__()  # noqa: UP008 - the lecture's spelling
            self.fc1 = original_model.fc1
            self.activation = original_model.activation

        def forward(self, x):
            return self.activation(self.fc1(x))
    act = ModelAct(net)
    assert act.fc1.weight is net.fc1.weight
    assert [n for n, _ in act.named_parameters()] == ["fc1.weight", "fc1.bias"]
    assert act(nt.zeros(3, 2)).shape == (3, 4)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = self.a
    assert len(list(Twice().parameters())) == 2
    assert len(list(Twice().modules())) == 2


def test_train_eval_zero_grad_apply_and_children():
    model = cnn(nn)
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen.count("Tanh") == 2
    assert len(list(model.children())) == 21
    net = lecture_net(nn)
    net(nt.ones(2, 2)).sum().backward()
    assert net.fc1.weight.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_load_state_dict_reports_missing_unexpected_and_mismatched_keys():
    net = lecture_net(nn)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    with pytest.raises(RuntimeError, match='Missing key.*"fc2.bias"'):
        net.load_state_dict({k: v for k, v in state.items() if k != "fc2.bias"})
    with pytest.raises(RuntimeError, match='Unexpected key.*"extra"'):
        net.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        net.load_state_dict({**state, "fc1.weight": np.zeros((2, 2))})
    result = net.load_state_dict({"fc1.bias": np.ones(4)}, strict=False)
    assert "fc2.weight" in result.missing_keys
    assert np.array_equal(net.fc1.bias.detach().numpy(), np.ones(4))


def test_state_dict_shares_storage_and_parameters_can_be_replaced_by_assignment():
    net = lecture_net(nn)
    net.state_dict()["fc1.bias"].zero_()
    assert not net.fc1.bias.detach().numpy().any()
    net.fc1.bias = nn.Parameter(nt.ones(4))
    assert net.state_dict()["fc1.bias"].sum().item() == 4


def test_module_without_super_init_names_the_mistake():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_layers_name_wrong_input_shapes():
    with pytest.raises(RuntimeError, match="last dimension 3"):
        nn.Linear(3, 2)(nt.zeros(4, 5))
    with pytest.raises(RuntimeError, match=r"\(N, 3, H, W\)"):
        nn.Conv2d(3, 2, 3)(nt.zeros(1, 2, 5, 5))
    with pytest.raises(ValueError, match="too small"):
        nn.MaxPool2d(4)(nt.zeros(1, 1, 3, 3))


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
                                    {"kernel_size": 2, "ceil_mode": True},
                                    {"kernel_size": (3, 2), "stride": 1, "dilation": (1, 2)}],
                         ids=["tiled", "padded", "ceil", "dilated"])
def test_max_pool_return_indices_are_pytorchs(kwargs):
    x = np.round(RNG.normal(size=(2, 3, 7, 6)), 1)  # rounded: ties, where the first maximum wins
    ours = nn.MaxPool2d(**kwargs, return_indices=True)
    theirs = torch.nn.MaxPool2d(**kwargs, return_indices=True)
    x_ours, x_theirs = nt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (v_ours, i_ours), (v_theirs, i_theirs) = ours(x_ours), theirs(x_theirs)
    assert max_error(v_ours, v_theirs) == 0
    assert i_ours.dtype == nt.int64 and np.array_equal(i_ours.numpy(), i_theirs.numpy())
    v_ours.sum().backward()
    v_theirs.sum().backward()
    assert max_error(x_ours.grad, x_theirs.grad) == 0
    values, indices = F.max_pool2d(nt.tensor(x), return_indices=True, **kwargs)
    assert np.array_equal(indices.numpy(), i_theirs.numpy())


def test_grouped_conv_names_channels_that_do_not_divide():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="8 channels"):
        F.conv2d(nt.zeros(1, 4, 5, 5), nt.zeros(8, 2, 3, 3), groups=4)
    with pytest.raises(ValueError, match="must divide"):
        F.conv2d(nt.zeros(1, 4, 5, 5), nt.zeros(6, 2, 3, 3), groups=4)
