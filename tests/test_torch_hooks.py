"""Module hooks and non-leaf gradients as in PyTorch: forward pre-hooks and forward hooks can
replace inputs and outputs, full backward hooks see (and may replace) the gradients of a
module's inputs and outputs, handles remove hooks; ``.grad`` of a non-leaf tensor is ``None``
with PyTorch's warning unless ``retain_grad()`` was called. Compared with torch (float64)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neuralab.torch as nt
import neuralab.torch.nn as nn

from .conftest import require_torch

torch = require_torch()
pytestmark = pytest.mark.usefixtures("torch_float64")


def twin_nets():
    """The same Linear-Sigmoid-Linear network in both libraries (PyTorch's weights)."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2))
    ours = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


X = np.random.default_rng(3).normal(size=(5, 3))


def close(a, b) -> bool:
    return a is None and b is None or np.allclose(np.asarray(a.detach().numpy()),
                                                  b.detach().numpy(), rtol=0, atol=1e-12)


def test_non_leaf_grad_is_none_with_pytorchs_warning_unless_retained():
    ours, theirs = nt.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    y_ours, y_theirs = ours * 3, theirs * 3
    z_ours, z_theirs = y_ours * y_ours, y_theirs * y_theirs
    y_ours.retain_grad()
    y_theirs.retain_grad()
    z_ours.sum().backward()
    z_theirs.sum().backward()
    assert (ours.is_leaf, y_ours.is_leaf, z_ours.is_leaf) == (theirs.is_leaf, y_theirs.is_leaf,
                                                              z_theirs.is_leaf) == (True, False, False)
    assert (ours.retains_grad, y_ours.retains_grad, z_ours.retains_grad) == \
        (theirs.retains_grad, y_theirs.retains_grad, z_theirs.retains_grad) == (False, True, False)
    assert close(y_ours.grad, y_theirs.grad) and close(ours.grad, theirs.grad)
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        assert z_ours.grad is None
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        assert z_theirs.grad is None
    assert ours_warned[0].category is theirs_warned[0].category is UserWarning
    assert str(theirs_warned[0].message).startswith(str(ours_warned[0].message))
    assert nt.tensor([1.0]).is_leaf and nt.tensor([1.0]).grad is None  # no requires_grad: a leaf



def _retained_grads(lib):
    """A retained non-leaf's .grad after two backward passes through it, after retain_grad()
    called once a backward already ran, and for a retained tensor the next pass misses."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    first = y.grad.tolist()
    z.backward()
    late = x * 3
    (late * late).sum().backward(retain_graph=True)  # before retain_grad: not kept
    late.retain_grad()
    before_next = late.grad
    (late * late).sum().backward()
    return first, y.grad.tolist(), before_next, late.grad.tolist(), x.grad.tolist()


def test_a_retained_non_leaf_grad_accumulates_across_backward_passes_as_in_pytorch():
    ours, theirs = _retained_grads(nt), _retained_grads(torch)
    assert ours == theirs == ([4.0, 8.0], [8.0, 16.0], None, [6.0, 12.0],
                              [16.0 + 36.0, 32.0 + 72.0])

def test_retain_grad_on_a_tensor_without_grad_is_an_error_as_in_pytorch():
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        nt.tensor([1.0]).retain_grad()
    leaf = nt.tensor([1.0], requires_grad=True)
    leaf.retain_grad()  # a no-op on leaves
    assert not leaf.retains_grad


def test_forward_pre_hook_and_forward_hook_replace_inputs_and_outputs_like_pytorch():
    results = []
    for lib, net in zip(("ours", "theirs"), twin_nets()):
        seen = []
        pre = net[0].register_forward_pre_hook(lambda module, args: (args[0] * 2,))
        post = net[2].register_forward_hook(
            lambda module, args, output, seen=seen: seen.append(tuple(args[0].shape)) or output + 1)
        x = nt.tensor(X) if lib == "ours" else torch.tensor(X)
        with_hooks = net(x)
        pre.remove()
        post.remove()
        results.append((with_hooks, net(x), seen))
    (ours, ours_plain, ours_seen), (theirs, theirs_plain, theirs_seen) = results
    assert close(ours, theirs) and close(ours_plain, theirs_plain)
    assert ours_seen == theirs_seen == [(5, 4)]
    assert not np.allclose(ours.detach().numpy(), ours_plain.detach().numpy())


def test_hooks_with_kwargs_prepend_and_handle_as_context_manager():
    layer, calls = nn.Linear(3, 2), []
    layer.register_forward_pre_hook(lambda m, args: calls.append("second"))
    layer.register_forward_pre_hook(lambda m, args: calls.append("first"), prepend=True)
    with layer.register_forward_hook(lambda m, args, kwargs, out: calls.append(sorted(kwargs)) or out * 0,
                                     with_kwargs=True):
        assert np.all(layer(nt.tensor(X)).detach().numpy() == 0)
    assert calls == ["first", "second", []]
    assert np.any(layer(nt.tensor(X)).detach().numpy() != 0)  # the forward hook was removed


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # PyTorch, data-input case
@pytest.mark.parametrize("input_grad", [True, False], ids=["input-requires-grad", "data-input"])
def test_full_backward_hook_sees_pytorchs_gradients(input_grad):
    records = []
    for lib, net in zip(("ours", "theirs"), twin_nets()):
        seen = []
        for index in (0, 2):
            net[index].register_full_backward_hook(
                lambda m, grad_in, grad_out, seen=seen, index=index: seen.append((index, grad_in, grad_out)))
        x = (nt if lib == "ours" else torch).tensor(X, requires_grad=input_grad)
        (net(x) ** 2).sum().backward()
        records.append(seen)
    ours, theirs = records
    assert [r[0] for r in ours] == [r[0] for r in theirs] == [2, 0]  # outputs first, as backward runs
    for (_, in_ours, out_ours), (_, in_theirs, out_theirs) in zip(ours, theirs):
        assert len(in_ours) == len(in_theirs) == 1 and len(out_ours) == len(out_theirs) == 1
        assert all(close(a, b) for a, b in zip(in_ours + out_ours, in_theirs + out_theirs))


def test_full_backward_hook_can_replace_grad_input_like_pytorch():
    grads = []
    for lib, net in zip(("ours", "theirs"), twin_nets()):
        handle = net[2].register_full_backward_hook(lambda m, grad_in, grad_out: (grad_in[0] * -3,))
        x = (nt if lib == "ours" else torch).tensor(X, requires_grad=True)
        net(x).sum().backward()
        grads.append((x.grad, net[0].weight.grad, net[2].weight.grad))
        handle.remove()
    assert all(close(a, b) for a, b in zip(*grads))
    net = twin_nets()[0]
    x = nt.tensor(X, requires_grad=True)
    net(x).sum().backward()
    assert close(x.grad, -grads[1][0] / 3)  # without the hook: the plain gradient


def test_backward_hook_is_not_recorded_under_no_grad():
    layer, calls = nn.Linear(3, 2), []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with nt.no_grad():
        out = layer(nt.tensor(X))
    assert out.grad_fn is None and calls == []
