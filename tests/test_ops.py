"""neuralab.ops and the tape under it: every differentiable op against centred differences
(float64, rel_error <= 1e-7) and against torch.autograd (values and gradients <= 1e-10),
then the engine's guarantees (order, accumulation, no_grad, dtypes) and Tensor's operators.

``CASES`` is one table of (op, our call, the PyTorch call, inputs); benchmarks/ops_errors.py
prints the measured errors of the same table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import neuralab as nl
from neuralab import ops
from neuralab.gradcheck import numerical_gradient, rel_error
from neuralab.parameter import Parameter
from neuralab.tensor import Tensor, no_grad, topological_order

F = torch.nn.functional
GRADCHECK_TOL = 1e-7
TORCH_TOL = 1e-10


# -- the table ------------------------------------------------------------------------------
def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def normal(*shape, seed=0, gap=0.0):
    """Standard normal values, kept at least ``gap`` away from 0 (kinks of relu, abs)."""
    x = _rng(seed).standard_normal(shape)
    return np.where(np.abs(x) < gap, np.sign(x + 1e-12) * (gap + np.abs(x)), x)


def uniform(low, high, *shape, seed=0):
    return _rng(seed).uniform(low, high, shape)


def distinct(*shape, seed=0):
    """A permutation of well-separated values: no ties for max, min, sort-like ops."""
    return (_rng(seed).permutation(int(np.prod(shape))).reshape(shape) - 5.0) * 0.37


@dataclass
class Case:
    """``fn(*tensors)`` against ``torch_fn(*torch_tensors)`` on ``inputs``; the float
    inputs are differentiated, integer ones (labels, indices) are not."""

    op: str
    fn: Callable
    torch_fn: Callable
    inputs: list[np.ndarray]
    label: str = ""
    differentiable: tuple[int, ...] = field(default=())
    numerical: bool = True  # False where centred differences see through stop_gradient

    def __post_init__(self):
        self.label = self.label or self.op
        if not self.differentiable:
            self.differentiable = tuple(i for i, a in enumerate(self.inputs)
                                        if a.dtype.kind == "f")


LABELS = np.array([2, 0, 1, 2])
PROBS = uniform(0.05, 0.95, 4, 3, seed=7)
SPLIT = [1, 3]  # torch.split wants sizes: 1, 2, rest

CASES = [
    # arithmetic, with broadcasting and one input used twice
    Case("add", ops.add, torch.add, [normal(2, 3), normal(3, seed=1)], "add (2,3)+(3,)"),
    Case("add", lambda x: ops.add(x, x), lambda x: x + x, [normal(2, 3)], "add(x, x)"),
    Case("subtract", ops.subtract, torch.sub, [normal(4, 1), normal(1, 5, seed=1)],
         "subtract (4,1)-(1,5)"),
    Case("multiply", ops.multiply, torch.mul, [normal(4, 1), normal(1, 5, seed=1)],
         "multiply (4,1)*(1,5)"),
    Case("multiply", lambda x: x * x, lambda x: x * x, [normal(2, 3)], "x * x"),
    Case("divide", ops.divide, torch.div, [normal(2, 3), uniform(0.5, 2, 3, seed=1)],
         "divide (2,3)/(3,)"),
    Case("power", ops.power, torch.pow, [uniform(0.5, 2, 2, 3), normal(3, seed=1)],
         "power (2,3)**(3,)"),
    Case("power", lambda x: x ** 3, lambda x: x ** 3, [normal(2, 3)], "x ** 3"),
    Case("power", lambda x: 2.0 ** x, lambda x: 2.0 ** x, [normal(2, 3)], "2 ** x"),
    Case("negative", ops.negative, torch.neg, [normal(2, 3)]),
    Case("square", ops.square, torch.square, [normal(2, 3)]),
    Case("sqrt", ops.sqrt, torch.sqrt, [uniform(0.5, 2, 2, 3)]),
    Case("reciprocal", ops.reciprocal, torch.reciprocal, [uniform(0.5, 2, 2, 3)]),
    Case("abs", ops.abs, torch.abs, [normal(2, 3, gap=0.1)]),
    # exponentials, logarithms, trigonometry
    Case("exp", ops.exp, torch.exp, [normal(2, 3)]),
    Case("expm1", ops.expm1, torch.expm1, [normal(2, 3)]),
    Case("log", ops.log, torch.log, [uniform(0.5, 2, 2, 3)]),
    Case("log1p", ops.log1p, torch.log1p, [uniform(-0.5, 2, 2, 3)]),
    Case("sin", ops.sin, torch.sin, [normal(2, 3)]),
    Case("cos", ops.cos, torch.cos, [normal(2, 3)]),
    Case("tan", ops.tan, torch.tan, [uniform(-1, 1, 2, 3)]),
    Case("tanh", ops.tanh, torch.tanh, [normal(2, 3)]),
    Case("erf", ops.erf, torch.erf, [normal(2, 3)]),
    # piecewise ops that pass a gradient
    Case("maximum", ops.maximum, torch.maximum, [distinct(2, 3), distinct(3, seed=1) + 0.1],
         "maximum (2,3),(3,)"),
    Case("minimum", ops.minimum, torch.minimum, [distinct(2, 3), distinct(3, seed=1) + 0.1],
         "minimum (2,3),(3,)"),
    Case("clip", lambda x: ops.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7),
         [distinct(3, 4) + 0.05]),
    Case("where", lambda x, y: ops.where(np.array([True, False, True]), x, y),
         lambda x, y: torch.where(torch.tensor([True, False, True]), x, y),
         [normal(2, 3), normal(2, 1, seed=1)], "where cond (3,), (2,3), (2,1)"),
    # products
    Case("matmul", ops.matmul, torch.matmul, [normal(3, 4), normal(4, 2, seed=1)]),
    Case("matmul", ops.matmul, torch.matmul, [normal(2, 3, 4), normal(4, 5, seed=1)],
         "matmul (2,3,4)@(4,5)"),
    Case("matmul", ops.matmul, torch.matmul, [normal(2, 1, 3, 4), normal(3, 4, 2, seed=1)],
         "matmul batch broadcast"),
    Case("matmul", ops.matmul, torch.matmul, [normal(4), normal(2, 4, 3, seed=1)],
         "matmul vector @ (2,4,3)"),
    Case("matmul", ops.matmul, torch.matmul, [normal(3, 4), normal(4, seed=1)],
         "matmul matrix @ vector"),
    Case("matmul", lambda x, y: x @ y, lambda x, y: x @ y, [normal(4), normal(4, seed=1)],
         "x @ y vectors"),
    Case("dot", ops.dot, lambda x, y: torch.tensordot(x, y, dims=([-1], [-2])),
         [normal(2, 3), normal(4, 3, 2, seed=1)], "dot (2,3).(4,3,2)"),
    Case("dot", ops.dot, torch.matmul, [normal(2, 3), normal(3, 2, seed=1)], "dot (2,3).(3,2)"),
    Case("dot", lambda x: ops.dot(x, 2.5), lambda x: x * 2.5, [normal(2, 3)], "dot scalar"),
    # reductions
    Case("sum", lambda x: ops.sum(x, axis=1), lambda x: x.sum(1), [normal(2, 3, 4)]),
    Case("sum", lambda x: ops.sum(x, keepdims=True), lambda x: x.sum().reshape(1, 1),
         [normal(2, 3)], "sum all keepdims"),
    Case("mean", lambda x: ops.mean(x, axis=(0, 2)), lambda x: x.mean((0, 2)),
         [normal(2, 3, 4)]),
    Case("max", lambda x: ops.max(x, axis=0), lambda x: torch.amax(x, 0), [distinct(3, 4)]),
    Case("max", ops.max, torch.amax, [distinct(3, 4)], "max all"),
    Case("min", lambda x: ops.min(x, axis=-1, keepdims=True),
         lambda x: torch.amin(x, -1, keepdim=True), [distinct(3, 4)]),
    Case("prod", lambda x: ops.prod(x, axis=1), lambda x: torch.prod(x, 1),
         [normal(3, 4)]),
    Case("prod", ops.prod, torch.prod, [np.array([[0.5, 0.0, 1.5], [2.0, -1.2, 0.7]])],
         "prod with a zero"),
    Case("var", lambda x: ops.var(x, axis=0), lambda x: torch.var(x, 0, unbiased=False),
         [normal(4, 3)]),
    Case("std", lambda x: ops.std(x, axis=1), lambda x: torch.std(x, 1, unbiased=False),
         [normal(3, 4)]),
    Case("logsumexp", lambda x: ops.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1),
         [normal(3, 4) * 2]),
    Case("cumsum", lambda x: ops.cumsum(x, axis=1), lambda x: torch.cumsum(x, 1),
         [normal(3, 4)]),
    Case("cumsum", ops.cumsum, lambda x: torch.cumsum(x.reshape(-1), 0), [normal(3, 4)],
         "cumsum flattened"),
    Case("norm", ops.norm, torch.linalg.vector_norm, [normal(3, 4)], "norm 2 (all)"),
    Case("norm", lambda x: ops.norm(x, ord=1, axis=1),
         lambda x: torch.linalg.vector_norm(x, 1, 1), [normal(3, 4, gap=0.1)], "norm ord=1"),
    Case("norm", lambda x: ops.norm(x, ord=np.inf, axis=0),
         lambda x: torch.linalg.vector_norm(x, float("inf"), 0), [distinct(3, 4) + 0.1],
         "norm ord=inf"),
    Case("norm", lambda x: ops.norm(x, ord=3, axis=-1),
         lambda x: torch.linalg.vector_norm(x, 3, -1), [normal(3, 4, gap=0.1)], "norm ord=3"),
    Case("norm", lambda x: ops.norm(x, ord=1, axis=(0, 1)),
         lambda x: torch.linalg.matrix_norm(x, 1), [distinct(3, 4) + 0.1], "norm matrix ord=1"),
    # shapes
    Case("reshape", lambda x: ops.reshape(x, (4, -1)) * np.arange(6.0),
         lambda x: x.reshape(4, -1) * torch.arange(6.0, dtype=torch.float64), [normal(2, 3, 4)]),
    Case("transpose", lambda x: ops.transpose(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1),
         [normal(2, 3, 4)]),
    Case("transpose", lambda x: x.T, lambda x: x.T, [normal(2, 3)], "x.T"),
    Case("expand_dims", lambda x: ops.expand_dims(x, 1), lambda x: x.unsqueeze(1),
         [normal(2, 3)]),
    Case("squeeze", lambda x: ops.squeeze(x, 1), lambda x: x.squeeze(1), [normal(2, 1, 3)]),
    Case("ravel", ops.ravel, torch.ravel, [normal(2, 3)]),
    Case("broadcast_to", lambda x: ops.broadcast_to(x, (4, 2, 3)),
         lambda x: x.broadcast_to(4, 2, 3), [normal(2, 1)]),
    Case("moveaxis", lambda x: ops.moveaxis(x, 0, -1), lambda x: torch.movedim(x, 0, -1),
         [normal(2, 3, 4)]),
    Case("swapaxes", lambda x: ops.swapaxes(x, 0, 2), lambda x: x.transpose(0, 2),
         [normal(2, 3, 4)]),
    Case("concatenate", lambda x, y: ops.concatenate([x, y, x], axis=1),
         lambda x, y: torch.cat([x, y, x], 1), [normal(2, 3), normal(2, 2, seed=1)],
         "concatenate [x, y, x]"),
    Case("stack", lambda x, y: ops.stack([x, y], axis=1), lambda x, y: torch.stack([x, y], 1),
         [normal(2, 3), normal(2, 3, seed=1)]),
    Case("split", lambda x: ops.concatenate([p * (i + 1) for i, p in
                                             enumerate(ops.split(x, SPLIT, axis=1))][::2], 1),
         lambda x: torch.cat([p * (i + 1) for i, p in
                              enumerate(torch.split(x, [1, 2, 2], 1))][::2], 1),
         [normal(2, 5)], "split, middle piece unused"),
    # gathering and indexing (repeated positions add up)
    Case("take", lambda x: ops.take(x, np.array([[2, 0], [2, 2]]), axis=1),
         lambda x: x[:, torch.tensor([[2, 0], [2, 2]])], [normal(3, 4)], "take repeated"),
    Case("take", lambda x: ops.take(x, np.array([5, 0, 5, -1])),
         lambda x: torch.take(x, torch.tensor([5, 0, 5, 11])), [normal(3, 4)], "take flat"),
    Case("take_along_axis", lambda x: ops.take_along_axis(x, np.array([[0, 0], [3, 1], [2, 2]]),
                                                          axis=1),
         lambda x: torch.take_along_dim(x, torch.tensor([[0, 0], [3, 1], [2, 2]]), 1),
         [normal(3, 4)]),
    Case("get_item", lambda x: x[1:, ::2], lambda x: x[1:, ::2], [normal(3, 4)], "x[1:, ::2]"),
    Case("get_item", lambda x: x[[0, 2, 0]], lambda x: x[[0, 2, 0]], [normal(3, 4)],
         "x[[0, 2, 0]]"),
    Case("get_item", lambda x: x[x > 0], lambda x: x[x > 0], [normal(3, 4)], "x[x > 0]"),
    Case("get_item", lambda x: x[..., np.array([1, 1]), None],
         lambda x: x[..., torch.tensor([1, 1]), None], [normal(2, 3, 4)], "x[..., [1, 1], None]"),
    Case("tile", lambda x: ops.tile(x, (2, 1, 3)), lambda x: torch.tile(x, (2, 1, 3)),
         [normal(2, 3)]),
    Case("repeat", lambda x: ops.repeat(x, 2, axis=1),
         lambda x: torch.repeat_interleave(x, 2, 1), [normal(2, 3)]),
    Case("repeat", lambda x: ops.repeat(x, np.array([1, 0, 3]), axis=0),
         lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 3]), 0), [normal(3, 2)],
         "repeat counts"),
    Case("pad", lambda x: ops.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
         lambda x: F.pad(x, (2, 1, 1, 0), value=0.5), [normal(2, 3)]),
    Case("pad", lambda x: ops.pad(x, ((0, 0), (2, 1)), mode="reflect"),
         lambda x: F.pad(x, (2, 1), mode="reflect"), [normal(2, 4)], "pad reflect"),
    Case("pad", lambda x: ops.pad(x, ((0, 0), (2, 3)), mode="edge"),
         lambda x: F.pad(x, (2, 3), mode="replicate"), [normal(2, 4)], "pad edge"),
    Case("cast", lambda x: ops.cast(x * 3, "float64"), lambda x: (x * 3).double(),
         [normal(2, 3)]),
    Case("stop_gradient", lambda x: x * ops.stop_gradient(x), lambda x: x * x.detach(),
         [normal(2, 3)], numerical=False),
    # activations
    Case("sigmoid", ops.sigmoid, torch.sigmoid, [normal(2, 3) * 4]),
    Case("softplus", ops.softplus, F.softplus, [normal(2, 3) * 4]),
    Case("log_sigmoid", ops.log_sigmoid, F.logsigmoid, [normal(2, 3) * 4]),
    Case("relu", ops.relu, F.relu, [normal(2, 3, gap=0.1)]),
    Case("relu6", ops.relu6, F.relu6, [normal(3, 4, gap=0.1) * 4 + 3]),
    Case("leaky_relu", ops.leaky_relu, lambda x: F.leaky_relu(x, 0.2), [normal(2, 3, gap=0.1)]),
    Case("elu", lambda x: ops.elu(x, 0.7), lambda x: F.elu(x, 0.7), [normal(2, 3, gap=0.1)]),
    Case("selu", ops.selu, F.selu, [normal(2, 3, gap=0.1)]),
    Case("silu", ops.silu, F.silu, [normal(2, 3) * 3]),
    Case("gelu", ops.gelu, lambda x: F.gelu(x, approximate="tanh"), [normal(2, 3) * 2],
         "gelu approximate"),
    Case("gelu", lambda x: ops.gelu(x, approximate=False), F.gelu, [normal(2, 3) * 2],
         "gelu exact"),
    Case("softmax", ops.softmax, lambda x: torch.softmax(x, -1), [normal(3, 4) * 3]),
    Case("softmax", lambda x: ops.softmax(x, axis=0), lambda x: torch.softmax(x, 0),
         [normal(3, 4) * 3], "softmax axis=0"),
    Case("log_softmax", ops.log_softmax, lambda x: torch.log_softmax(x, -1), [normal(3, 4) * 3]),
    # cross-entropies (per sample; gradients to the target too)
    Case("binary_crossentropy", lambda t, z: ops.binary_crossentropy(t, z, from_logits=True),
         lambda t, z: F.binary_cross_entropy_with_logits(z, t, reduction="none"),
         [uniform(0, 1, 3, 2, seed=1), normal(3, 2) * 3], "binary_crossentropy logits"),
    Case("binary_crossentropy", ops.binary_crossentropy,
         lambda t, p: -(t * torch.log(p) + (1 - t) * torch.log(1 - p)),
         [uniform(0, 1, 3, 2, seed=1), uniform(0.05, 0.95, 3, 2)],
         "binary_crossentropy probabilities"),
    Case("categorical_crossentropy",
         lambda t, z: ops.categorical_crossentropy(t, z, from_logits=True),
         lambda t, z: -(t * torch.log_softmax(z, -1)).sum(-1),
         [PROBS / PROBS.sum(1, keepdims=True), normal(4, 3) * 3],
         "categorical_crossentropy logits"),
    Case("categorical_crossentropy", ops.categorical_crossentropy,
         lambda t, o: -(t * torch.log(o / o.sum(-1, keepdim=True))).sum(-1),
         [uniform(0, 1, 4, 3, seed=1), PROBS], "categorical_crossentropy probabilities"),
    Case("sparse_categorical_crossentropy",
         lambda y, z: ops.sparse_categorical_crossentropy(y, z, from_logits=True),
         lambda y, z: F.cross_entropy(z, y, reduction="none"), [LABELS, normal(4, 3) * 3],
         "sparse_categorical_crossentropy logits"),
    Case("sparse_categorical_crossentropy", ops.sparse_categorical_crossentropy,
         lambda y, o: F.nll_loss(torch.log(o / o.sum(-1, keepdim=True)), y, reduction="none"),
         [LABELS, PROBS], "sparse_categorical_crossentropy probabilities"),
    # a small composite: an MLP layer with a loss, through Tensor's operators
    Case("composite", lambda x, w, b: ((x @ w + b).relu() - 1.0).square().mean(axis=0),
         lambda x, w, b: (F.relu(x @ w + b) - 1.0).square().mean(0),
         [normal(4, 3), normal(3, 2, seed=1), normal(2, seed=2) + 1.0], "mlp via operators"),
]

DIFFERENTIABLE_OPS = sorted({case.op for case in CASES})


# -- measurements (shared with benchmarks/ops_errors.py) --------------------------------------
def _dout(case: Case) -> np.ndarray:
    with no_grad():
        shape = case.fn(*[Tensor(a) for a in case.inputs]).shape
    return _rng(99).standard_normal(shape)


def ours(case: Case, dout: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Our value and the gradients of sum(value * dout) for the differentiable inputs."""
    tensors = [Tensor(a.copy(), requires_grad=i in case.differentiable)
               for i, a in enumerate(case.inputs)]
    out = case.fn(*tensors)
    out.backward(dout)
    return out.data, [tensors[i].grad for i in case.differentiable]


def gradcheck_error(case: Case) -> float:
    """Max rel_error of the backward pass against centred differences (h = 1e-5)."""
    dout = _dout(case)
    _, grads = ours(case, dout)
    arrays = [a.copy() for a in case.inputs]

    def loss() -> float:
        with no_grad():
            return float(np.sum(case.fn(*[Tensor(a) for a in arrays]).data * dout))
    return max(rel_error(g, numerical_gradient(loss, arrays[i]))
               for i, g in zip(case.differentiable, grads))


def torch_errors(case: Case) -> tuple[float, float]:
    """(max absolute, max scaled) difference from torch.autograd over the value and every
    gradient; scaled = |ours - torch| / max(1, |torch|)."""
    dout = _dout(case)
    value, grads = ours(case, dout)
    tensors = [torch.tensor(a, requires_grad=i in case.differentiable)
               for i, a in enumerate(case.inputs)]
    out = case.torch_fn(*tensors)
    out.backward(torch.tensor(dout))
    pairs = [(value, out.detach().numpy())]
    pairs += [(g, tensors[i].grad.numpy()) for i, g in zip(case.differentiable, grads)]
    absolute = max(float(np.max(np.abs(a - b), initial=0)) for a, b in pairs)
    scaled = max(float(np.max(np.abs(a - b) / np.maximum(1, np.abs(b)), initial=0))
                 for a, b in pairs)
    return absolute, scaled


# -- every op: gradient check and PyTorch parity --------------------------------------------
NUMERICAL = [c for c in CASES if c.numerical]


@pytest.mark.parametrize("case", NUMERICAL, ids=[c.label for c in NUMERICAL])
def test_backward_matches_centred_differences_in_float64(case):
    assert gradcheck_error(case) <= GRADCHECK_TOL


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_values_and_gradients_match_pytorch_in_float64(case):
    dout = _dout(case)
    value, _ = ours(case, dout)
    with torch.no_grad():
        expected = case.torch_fn(*[torch.tensor(a) for a in case.inputs]).numpy()
    assert value.shape == expected.shape and value.dtype == np.float64
    assert torch_errors(case)[1] <= TORCH_TOL


def test_every_required_op_exists_with_its_operands_first():
    required = [
        "add", "subtract", "multiply", "divide", "negative", "power", "square", "sqrt", "exp",
        "log", "abs", "maximum", "minimum", "clip", "where", "matmul", "dot", "sum", "mean", "max",
        "min", "argmax", "argmin", "reshape", "transpose", "expand_dims", "squeeze", "concatenate",
        "stack", "split", "take", "take_along_axis", "one_hot", "cast", "convert_to_tensor",
        "shape", "sigmoid", "tanh", "relu", "softmax", "log_softmax", "logsumexp", "erf", "gelu",
        "sin", "cos", "log1p", "expm1", "softplus", "leaky_relu", "elu", "silu", "var", "std",
        "prod", "cumsum", "ravel", "tile", "repeat", "pad", "sign", "floor", "round", "equal",
        "not_equal", "less", "greater", "logical_and", "logical_or", "logical_not", "zeros", "ones",
        "zeros_like", "ones_like", "full", "arange", "norm", "stop_gradient",
    ]
    for name in required:
        fn = getattr(ops, name)
        assert name in ops.__all__
        first = next(iter(inspect.signature(fn).parameters.values()))
        assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name


def test_every_differentiable_op_in_the_package_has_a_case():
    no_gradient = {"argmax", "argmin", "one_hot", "equal", "not_equal", "less", "less_equal",
                   "greater", "greater_equal", "logical_and", "logical_or", "logical_not",
                   "logical_xor", "isnan", "isfinite", "zeros", "ones", "zeros_like",
                   "ones_like", "full", "full_like", "arange", "eye", "shape",
                   "convert_to_tensor", "convert_to_numpy", "sign", "floor", "ceil", "round",
                   "absolute", "amax", "amin", "swish"}  # aliases are tested by their name
    untested = set(ops.__all__) - no_gradient - set(DIFFERENTIABLE_OPS)
    assert not untested


def test_all_lists_every_op_and_nothing_else():
    public = {name for name, value in vars(ops).items() if not name.startswith("_")
              and callable(value) and not isinstance(value, type)}
    helpers = {"install_tensor_operators", "install_symbolic_operators", "is_symbolic", "record"}
    assert len(ops.__all__) == len(set(ops.__all__))
    assert set(ops.__all__) == public - helpers


# -- the engine -----------------------------------------------------------------------------
def _logged(parents, log: list, name: str) -> Tensor:
    """A node computing the sum of its parents, logging when its backward runs."""
    def backward(dout):
        log.append(name)
        return tuple(dout for _ in parents)
    return Tensor.from_op(np.add.reduce([p.data for p in parents]), parents, backward, name)


def test_backward_visits_a_diamond_in_reverse_topological_order_once_per_node():
    x = Tensor(np.ones(2), requires_grad=True)
    log: list[str] = []
    a = _logged((x,), log, "a")
    b, c = _logged((a,), log, "b"), _logged((a,), log, "c")
    d = _logged((b, c), log, "d")
    position = {id(node): i for i, node in enumerate(topological_order(d))}
    assert position[id(x)] < position[id(a)] < min(position[id(b)], position[id(c)])
    assert position[id(d)] == len(position) - 1
    d.backward(np.ones(2))
    assert log[0] == "d" and log[-1] == "a" and sorted(log) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])  # both paths add up at a, then x


def test_leaf_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0, -2.0], requires_grad=True, dtype="float64")
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0, -8.0])
    x.zero_grad()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_no_grad_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = ops.exp(x * 2).sum()
    assert not y.requires_grad and y._prev == () and y._backward is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_backward_of_a_non_scalar_needs_its_gradient():
    y = ops.tanh(Tensor(np.ones((2, 3)), requires_grad=True))
    with pytest.raises(RuntimeError, match=r"needs a gradient for a non-scalar tensor of shape"):
        y.backward()
    with pytest.raises(ValueError, match="expected"):
        y.backward(np.ones(3))


def test_parameter_gradients_accumulate_in_place_through_accumulate():
    p = Parameter(np.array([1.0, 2.0, 3.0]), name="w")
    buffer = p.grad
    loss = ops.sum(ops.multiply(p, p))
    loss.backward()
    ops.sum(p * 3.0).backward()
    assert p.grad is buffer  # the parameter's own storage: optimizers read it in place
    np.testing.assert_array_equal(p.grad, [5.0, 7.0, 9.0])
    p.zero_grad()
    ops.sum(p).backward()
    np.testing.assert_array_equal(p.grad, [1.0, 1.0, 1.0])
    frozen = Parameter(np.ones(2), trainable=False)
    assert not (frozen * 2).requires_grad


def test_integer_and_bool_results_carry_no_gradient():
    x = Tensor(np.array([[0.3, -1.0], [2.0, 0.5]]), requires_grad=True)
    results = [ops.argmax(x, axis=1), ops.argmin(x), x > 0, x == x, ops.not_equal(x, 0.5),
               ops.logical_not(x < 0), ops.cast(x, "int32"), ops.one_hot(np.array([1, 0]), 3),
               ops.stop_gradient(x), ops.shape(x)]
    for r in results[:-1]:
        assert not r.requires_grad and r._prev == ()
    assert results[0].dtype.kind == "i" and results[2].dtype == np.bool_
    assert results[6].dtype == np.int32
    assert results[-1] == (2, 2)


def test_cast_between_floats_keeps_the_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)  # float32
    y = ops.cast(x, "float64")
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_piecewise_constant_ops_pass_a_zero_gradient():
    x = Tensor([-1.4, 0.6, 2.5], requires_grad=True, dtype="float64")
    (ops.floor(x) + ops.round(x) + ops.sign(x) + ops.ceil(x)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(3))


def test_ties_share_the_gradient_as_in_pytorch():
    x = Tensor([1.0, 3.0, 3.0], requires_grad=True, dtype="float64")
    ops.max(x).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])
    a, b = Tensor([2.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    ops.maximum(a, b).sum().backward()
    assert a.grad[0] == b.grad[0] == 0.5


def test_norm_and_prod_at_zero_have_finite_gradients():
    x = Tensor(np.zeros(3), requires_grad=True, dtype="float64")
    ops.norm(x).backward()
    np.testing.assert_array_equal(x.grad, np.zeros(3))
    y = Tensor([0.0, 2.0, 3.0], requires_grad=True, dtype="float64")
    ops.prod(y).backward()
    np.testing.assert_array_equal(y.grad, [6.0, 0.0, 0.0])


# -- dtypes ---------------------------------------------------------------------------------
def test_float32_by_default_and_python_numbers_do_not_promote():
    x = Tensor([1.0, 2.0])
    assert x.dtype == np.float32
    for y in (x + 2.0, 2.5 * x, x / 3, x ** 2, ops.exp(x), ops.mean(x), ops.softmax(x),
              ops.ones((2,)), ops.one_hot(np.array([0]), 2)):
        assert y.dtype == np.float32
    assert (x + np.float64(1.0)).dtype == np.float64  # a NumPy scalar is not weak


def test_float64_inputs_give_float64_results(float64):
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert (ops.sigmoid(x) * 0.5 + ops.zeros(2)).dtype == np.float64
    f32 = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    assert (f32 + x).dtype == np.float64


def test_integer_tensors_stay_integer_and_their_float_results_are_floatx():
    i = Tensor(np.array([1, 2, 3]))
    assert (i + 1).dtype.kind == "i" and (i * i).dtype.kind == "i" and ops.sum(i).dtype.kind == "i"
    assert (i / 2).dtype == np.float32 and ops.sqrt(i).dtype == np.float32
    assert (i * 0.5).dtype == np.float32 and ops.mean(i).dtype == np.float32
    assert ops.arange(3).dtype.kind == "i" and ops.arange(0.0, 1.0, 0.5).dtype == np.float32


# -- Tensor's operators and methods ---------------------------------------------------------
def test_operators_reflected_and_with_ndarrays_return_tensors():
    x = Tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True, dtype="float64")
    y = np.array([1.0, 1.0, 1.0]) + x
    assert isinstance(y, Tensor) and y.requires_grad
    z = (2 - x) * (1 / x) + np.ones(3) @ x + abs(-x) + 2 ** x
    z.sum().backward()
    expected = -1 / x.data - (2 - x.data) / x.data ** 2 + 3 + 1 + np.log(2) * 2 ** x.data
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_comparisons_compare_values_but_hashing_stays_by_identity():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 3.0])
    np.testing.assert_array_equal((a == b).data, [True, False])
    np.testing.assert_array_equal((a != b).data, [False, True])
    np.testing.assert_array_equal((a <= b).data, [True, True])
    assert {a: 1, b: 2}[a] == 1 and len({a, b}) == 2


def test_indexing_adds_up_repeated_positions():
    x = Tensor(np.arange(4.0), requires_grad=True)
    (x[[0, 0, 3]] * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 0.0, 3.0])
    m = Tensor(np.ones((2, 3)), requires_grad=True)
    m[Tensor(np.array([1, 1])), 1:].sum().backward()
    np.testing.assert_array_equal(m.grad, [[0, 0, 0], [0, 2, 2]])


def test_tensor_methods_mirror_numpy():
    x = Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.T.shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert x.sum(axis=0, keepdims=True).shape == (1, 3) and x.mean().item() == 3.5
    assert x.max(axis=1).data.tolist() == [3.0, 6.0] and x.argmax(axis=1).data.tolist() == [2, 2]
    assert x.astype("float64").dtype == np.float64 and x.clip(2, 4).data.max() == 4
    y = (x.exp().log() + x.sqrt().square() + x.tanh() * 0 + x.sigmoid() * 0).relu()
    y.matmul(np.ones((3, 1))).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.ones((2, 3)), rtol=1e-5)


def test_parameters_work_with_operators_and_ops():
    w = Parameter(np.eye(2), name="w")
    x = Tensor(np.array([[1.0, 2.0]]))
    loss = ((x @ w - np.array([[0.0, 1.0]])) ** 2).mean()
    loss.backward()
    np.testing.assert_allclose(w.grad, [[1.0, 1.0], [2.0, 2.0]])


def test_split_returns_one_tensor_per_piece_and_where_without_values_gives_indices():
    pieces = ops.split(Tensor(np.arange(6.0)), 3)
    assert [p.data.tolist() for p in pieces] == [[0, 1], [2, 3], [4, 5]]
    rows, cols = ops.where(np.array([[True, False], [False, True]]))
    assert rows.data.tolist() == [0, 1] and cols.data.tolist() == [0, 1]


def test_crossentropies_clip_probabilities_like_keras():
    loss = ops.binary_crossentropy(np.array([1.0]), np.array([0.0]))
    assert np.isclose(loss.item(), -np.log(nl.backend.epsilon()), rtol=1e-5)
    loss = ops.categorical_crossentropy(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert np.isfinite(loss.item())


def test_reductions_over_all_axes_keep_float64():
    """A full reduction is a 0-d array of the input's dtype, not a NumPy scalar that the
    next op would round to float32."""
    from neuralab.tensor import Tensor
    x = Tensor(np.random.default_rng(0).random((3, 4)))
    for op in (ops.var, ops.std, ops.mean, ops.sum, ops.max, ops.logsumexp):
        out = op(x)
        assert isinstance(out.data, np.ndarray) and out.data.dtype == np.float64, op.__name__
