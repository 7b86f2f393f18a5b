"""``neuralab.torch``'s tensor API against real PyTorch: creation and dtypes, shapes,
indexing, reductions and elementwise maths (values and gradients, float64 within 1e-10),
``.data``/``.grad``/``grad_fn``, ``no_grad``, ``draw_dot`` and the lecture's idioms."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import neuralab.torch as nt

from .conftest import require_torch

torch = require_torch()
TOL = 1e-10


def values(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1, 2, 3]),
    lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]]),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor(np.array([1.5, 2.5])),
    lambda lib: lib.tensor([1, 2], dtype=lib.float32),
    lambda lib: lib.zeros(2, 3),
    lambda lib: lib.ones((2, 3), dtype=lib.int64),
    lambda lib: lib.full((2,), 7),
    lambda lib: lib.full((2,), 0.5),
    lambda lib: lib.arange(12).reshape(4, 3),
    lambda lib: lib.arange(0, 1, 0.25),
    lambda lib: lib.linspace(-1, 1, 5),
    lambda lib: lib.zeros_like(lib.tensor([1, 2])),
    lambda lib: lib.ones_like(lib.tensor([1.0, 2.0])),
    lambda lib: lib.full_like(lib.tensor([1.0, 2.0]), 3),
    lambda lib: lib.eye(3),
    lambda lib: lib.tensor([1, 2, 3]) / lib.tensor([2, 2, 2]),
    lambda lib: lib.tensor([1.0, 2.0]) * 2,
    lambda lib: lib.arange(6).sum(),
    lambda lib: (lib.tensor([0.2, 0.7]) > 0.5).sum(),
], ids=lambda make: "")
def test_creation_values_and_dtypes_are_pytorchs(make):
    ours, theirs = make(nt), make(torch)
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert np.array_equal(ours.numpy(), theirs.numpy())


def test_from_numpy_and_data_share_storage():
    array = np.zeros(3)
    t = nt.from_numpy(array)
    array[0] = 5
    assert t[0].item() == 5 and t.dtype == nt.float64
    w = nt.tensor([1.0, 2.0], requires_grad=True)
    w.data[0] = 9
    assert w.tolist() == [9.0, 2.0]
    assert not w.data.requires_grad and w.requires_grad


def composite(lib, a, b, c):
    """Touches views, permutes, indexing, reductions with dims, elementwise maths, joins."""
    x = a.view(2, 3, 4).permute(2, 0, 1).reshape(4, 6)
    y = (x @ b.t()).unsqueeze(0).squeeze(0)
    z = lib.cat([y, y * 2], dim=1)[:, 1:] + lib.stack([c, c], dim=0).sum(0)[1:] * 0.5 + c[:1]
    values, indices = lib.max(z, 1)
    m = z.mean(dim=0, keepdim=True) + z.max() - z.min(dim=1, keepdim=True).values
    w = lib.where(z > 0, lib.exp(-z.abs()), lib.sigmoid(z) * lib.tanh(z))
    s = lib.softmax(z, dim=1) + lib.log(lib.clamp(z.pow(2), min=0.1, max=5.0)) + z.relu() + z.clamp(min=-0.5)
    return (values * 3).sum() + m.sum() + (w * s).sum() / z.shape[0] + z[indices > 1].sum() + \
        lib.matmul(z, z.t()).flatten()[::3].mean() + (z.T ** 2).var() - z.std(dim=0).sum()


def test_composite_expression_values_and_gradients_match_pytorch():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=24), rng.normal(size=(5, 6)), rng.normal(size=(5, 9))
    ours = [nt.tensor(v, requires_grad=True) for v in (a, b, c)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (a, b, c)]
    out_ours, out_theirs = composite(nt, *ours), composite(torch, *theirs)
    assert abs(out_ours.item() - out_theirs.item()) <= TOL
    out_ours.backward()
    out_theirs.backward()
    for p, q in zip(ours, theirs):
        assert np.max(np.abs(values(p.grad) - values(q.grad))) <= TOL


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_with_dim_return_values_and_indices(name):
    x = np.random.default_rng(1).normal(size=(3, 5))
    for keepdim in (False, True):
        ours = getattr(nt, name)(nt.tensor(x), 1, keepdim=keepdim)
        theirs = getattr(torch, name)(torch.tensor(x), 1, keepdim=keepdim)
        assert np.array_equal(ours.values.numpy(), theirs.values.numpy())
        assert np.array_equal(ours.indices.numpy(), theirs.indices.numpy())
        assert ours.indices.dtype == nt.int64
    assert nt.argmax(nt.tensor(x)).item() == torch.argmax(torch.tensor(x)).item()
    assert nt.tensor(x).argmax(dim=0, keepdim=True).tolist() == torch.tensor(x).argmax(0, True).tolist()


def test_lecture_accuracy_idioms():
    output = nt.softmax(nt.tensor([[0.1, 2.0, 0.3], [3.0, 0.2, 0.1]], requires_grad=True), dim=1)
    _, predicted = nt.max(output.data, 1)
    target = nt.tensor([1, 2])
    assert (predicted == target).sum().item() == 1
    assert target.size(0) == 2 and output.size() == (2, 3) and output.dim() == 2
    y_int = nt.tensor([1, 0, 1])
    predicted = nt.tensor([[0.7], [0.2], [0.4]]) > 0.5
    accuracy = nt.sum(predicted.squeeze() == y_int).item() / y_int.size(0)
    assert accuracy == pytest.approx(2 / 3)


def test_tensor_methods_behave_as_pytorchs():
    t = nt.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert t.float().dtype == nt.float32 and t.double().dtype == nt.float64 and t.long().dtype == nt.int64
    assert t.to(nt.float64).dtype == nt.float64 and t.to("cpu") is t
    assert t.eq(t).all().item() and t.ne(t).sum().item() == 0
    assert t.shape == (2, 2) and t.numel() == 4 and t.ndim == 2
    assert str(t.shape) == str(torch.zeros(2, 2).shape)
    t.zero_()
    assert t.sum().item() == 0
    with pytest.raises(RuntimeError, match="requires grad"):
        nt.ones(2, requires_grad=True).numpy()
    assert nt.ones(2, requires_grad=True).detach().numpy().tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="cannot be converted"):
        nt.ones(2).item()
    with pytest.raises(RuntimeError, match="floating point"):
        nt.tensor([1, 2]).requires_grad_()


def test_grad_fn_names_the_op_and_links_its_inputs():
    w = nt.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 3).sigmoid().sum()
    assert w.grad_fn is None and w.is_leaf
    assert loss.grad_fn.name() == "SumBackward0"
    (previous, _), = loss.grad_fn.next_functions
    assert previous.name() == "SigmoidBackward0"
    assert repr(loss).startswith("tensor(") and "grad_fn=<SumBackward0>" in repr(loss)
    leaf = previous.next_functions[0][0].next_functions[0][0]
    assert leaf.name() == "AccumulateGrad" and leaf.variable._t is w._t


def test_no_grad_records_nothing():
    w = nt.tensor([1.0], requires_grad=True)
    with nt.no_grad():
        y = w * 2
    assert not y.requires_grad and y.grad_fn is None
    with nt.set_grad_enabled(False):
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad

    @nt.no_grad()
    def predict(x):
        return x * 2
    assert not predict(w).requires_grad


def test_draw_dot_shows_every_node_with_op_shape_value_and_gradient():
    import neuralab.torch.nn as nn
    nt.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    loss = ((model(nt.ones(4, 2)) - 1) ** 2).mean()
    loss.backward()
    dot = nt.draw_dot(loss, names=model)
    assert dot.startswith("digraph G {") and dot.endswith("}")
    for text in ("linear", "tanh", "mean", "0.weight", "2.bias", "shape (4, 3)", "grad mean"):
        assert text in dot, text
    assert dot.count("->") >= 8
    text = nt.graph_text(loss, names=model).splitlines()
    assert text[0].startswith("#0 mean  shape ()") and "grad [1.]" in text[0]
    assert any(line.strip().startswith("#") and "0.weight  shape (3, 2)" in line for line in text)


def test_graph_text_expands_a_shared_tensor_once():
    w = nt.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    loss = (h * h).sum()
    loss.backward()
    lines = nt.graph_text(loss).splitlines()
    assert [line.split()[1] for line in lines] == ["sum", "multiply", "multiply", "parameter", "input",
                                                   "multiply"]
    assert lines[-1].strip() == "#2 multiply (above)"  # h, used twice by h * h


def test_manual_seed_makes_random_tensors_reproducible():
    nt.manual_seed(3)
    a = (nt.rand(3), nt.randn(2, 2), nt.randint(0, 10, (4,)), nt.randperm(5))
    nt.manual_seed(3)
    b = (nt.rand(3), nt.randn(2, 2), nt.randint(0, 10, (4,)), nt.randperm(5))
    for x, y in zip(a, b):
        assert np.array_equal(x.numpy(), y.numpy())
    assert a[0].dtype == nt.float32 and a[2].dtype == nt.int64
    assert sorted(a[3].tolist()) == [0, 1, 2, 3, 4]


def test_importing_neuralab_does_not_import_the_torch_front_end():
    code = "import sys, neuralab; print('neuralab.torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_in_place_updates_under_no_grad_write_into_the_parameters_like_pytorch():
    results = []
    for lib in (nt, torch):
        w = lib.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=lib.float64, requires_grad=True)
        for _ in range(3):
            loss = ((w @ w) ** 2).sum()
            loss.backward()
            with lib.no_grad():
                w -= 0.01 * w.grad
            w.data *= 0.99
            w.grad.zero_()
        results.append(w.detach().numpy().copy())
    assert np.max(np.abs(results[0] - results[1])) <= TOL
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w = nt.ones(2, requires_grad=True)
        w += 1
    counts = nt.zeros(3, dtype=nt.int64)
    counts += nt.tensor([1, 2, 3])
    assert counts.tolist() == [1, 2, 3] and counts.dtype == nt.int64


@pytest.mark.parametrize("expression", [
    "lib.tensor([1.0, 2.5])", "lib.tensor([[1, 2], [3, 4]])", "lib.tensor(0.5)",
    "lib.tensor([1.0, 2.0], requires_grad=True)", "lib.tensor([1.0, 2.0], dtype=lib.float64)",
    "lib.tensor([True, False])", "lib.zeros(2, 3)", "lib.tensor([0.1234567, 100.0])",
    "lib.arange(12).reshape(4, 3)[1:3, 1:]", "lib.tensor([1e-8, 1.0])",
])
def test_printing_a_tensor_reads_as_pytorchs(expression):
    assert repr(eval(expression, {"lib": nt})) == repr(eval(expression, {"lib": torch}))


SHAPES_AND_REDUCTIONS = [
    "x.squeeze(0)", "x.squeeze(1)", "x.squeeze()", "x.unsqueeze(-1)", "x.flatten(1)", "x.permute(2, 0, 1)",
    "x.expand(2, 4, 3)", "x.repeat(1, 2, 1)", "lib.topk(x.flatten(), 2).values", "x.transpose(0, 2)",
    "x.view(-1, 3)", "x.sum((0, 2))", "x.mean(-1, keepdim=True)", "x.max(dim=-1).indices", "x.argmin()",
    "x.clamp(min=0)", "x.clamp(max=0.2)", "lib.cat((x, x), 1)", "lib.stack((x, x), -1)", "x[0, :, 1:]",
    "x[..., 0]", "x[x > 0]", "lib.where(x > 0, x, 0.0)", "x.var(dim=2, unbiased=False)", "x[0].t()",
    "x.log_softmax(dim=2)", "lib.nn.functional.one_hot(lib.tensor([0, 2]), 3)", "x.norm()", "2 ** x",
    "1 - x", "x.type(lib.float32)", "lib.maximum(x, x * 2)", "lib.logsumexp(x, dim=2)",
    "x.masked_fill(x > 0, -1.0)", "x.prod()", "(x > 0).any()",
]


@pytest.mark.parametrize("expression", SHAPES_AND_REDUCTIONS)
def test_shape_and_reduction_methods_give_pytorchs_values_shapes_and_dtypes(expression):
    x = np.random.default_rng(0).normal(size=(2, 1, 3))
    ours = eval(expression, {"lib": nt, "x": nt.tensor(x)})
    theirs = eval(expression, {"lib": torch, "x": torch.tensor(x)})
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
    difference = ours.numpy().astype(np.float64) - theirs.numpy().astype(np.float64)
    assert np.max(np.abs(difference), initial=0) <= TOL


def custom_functions(lib):
    class ScaledExp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale, w):
            y = (x * scale).exp() * w
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            return y

        @staticmethod
        def backward(ctx, grad_output):
            x, w = ctx.saved_tensors
            e = (x * ctx.scale).exp()
            return grad_output * e * w * ctx.scale, None, grad_output * e
    return ScaledExp


def test_custom_autograd_function_gives_pytorchs_gradients():
    x0, w0 = np.array([0.1, -0.4, 0.7]), np.array([1.5, 2.0, -1.0])
    grads = []
    for lib in (nt, torch):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        y = custom_functions(lib).apply(x, 0.5, w)
        (y * y).sum().backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    assert np.max(np.abs(grads[0][0] - grads[1][0])) <= TOL
    assert np.max(np.abs(grads[0][1] - grads[1][1])) <= TOL
    y = custom_functions(nt).apply(nt.tensor(x0, requires_grad=True), 0.5, nt.tensor(w0))
    assert y.grad_fn.name() == "ScaledExpBackward0"


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_set_num_threads_sets_neuralabs_threads_and_blas_and_rejects_what_pytorch_rejects():
    from threadpoolctl import threadpool_limits

    from neuralab import parallel
    before, blas = parallel.get_num_threads(), threadpool_limits(limits=None)
    try:
        for n in (1, 3):
            nt.set_num_threads(n)
            assert nt.get_num_threads() == n == parallel.get_num_threads()
            assert _blas_threads() and all(k <= n for k in _blas_threads())
        for bad in (0, -2, 1.5, True):
            with pytest.raises(RuntimeError) as ours:
                nt.set_num_threads(bad)
            with pytest.raises(RuntimeError) as theirs:
                torch.set_num_threads(bad)
            assert str(ours.value) == str(theirs.value)
        assert nt.get_num_threads() == 3  # a refused call changes nothing
    finally:
        parallel.set_num_threads(before)
        blas.restore_original_limits()
