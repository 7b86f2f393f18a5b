"""Symbolic tensors: the placeholders Keras' functional API builds graphs from.

``Input(shape=(2,))`` returns a :class:`KerasTensor`: a batch shape, a dtype and the
:class:`Node` that produced it. Calling a layer, a model or an op on symbolic tensors
computes no numbers; it records a node (the operation and its input tensors) and returns
the node's symbolic outputs. ``Model(inputs, outputs)`` later walks these nodes back from
the outputs to the inputs and runs them in order on real arrays.

Output shapes come from ``layer.compute_output_shape`` for layers that define it, and
otherwise from running the operation on small zero arrays twice, with batch sizes 2 and
3: axes whose size follows the batch are reported as ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from . import backend
from .tensor import Tensor, no_grad

Shape = tuple  # (None, d1, ...): batch axis first


class Node:
    """One call of an operation in a graph: ``outputs = operation(*inputs, **kwargs)``.

    Attributes:
        operation: a layer (or model), or an op function.
        inputs: the symbolic tensors it was called on, flattened.
        structure: ``"single"`` for one tensor, ``"list"`` for a list of tensors, or
            ``"args"`` for an op's positional arguments (constants kept in ``constants``).
        outputs: the symbolic tensors it produced.
    """

    __slots__ = ("operation", "inputs", "structure", "constants", "kwargs", "outputs", "name")

    def __init__(self, operation, inputs: Sequence[KerasTensor], structure: str,
                 constants: tuple = (), kwargs: dict | None = None, name: str = ""):
        self.operation = operation
        self.inputs = list(inputs)
        self.structure = structure
        self.constants = constants
        self.kwargs = kwargs or {}
        self.outputs: list[KerasTensor] = []
        self.name = name

    @property
    def is_layer(self) -> bool:
        return not callable(self.operation) or hasattr(self.operation, "get_config")

    def arguments(self, values: list):
        """The operation's argument(s), with ``values`` in place of the symbolic inputs."""
        if self.structure == "single":
            return values[0]
        if self.structure == "list":
            return list(values)
        it = iter(values)
        return [next(it) if c is _SYMBOLIC else c for c in self.constants]

    def __repr__(self) -> str:
        return f"<Node {self.name} inputs={len(self.inputs)}>"


_SYMBOLIC = object()  # marks where a symbolic tensor stood among an op's arguments


class KerasTensor:
    """A symbolic tensor of batch shape ``shape`` (``None`` for unknown sizes).

    Supports the arithmetic operators, ``@``, indexing and the usual methods by recording
    the matching :mod:`neuralab.ops` call, so ``x = x + residual`` builds a graph.
    """

    __array_priority__ = 1001

    def __init__(self, shape, dtype=None, name: str | None = None, node: Node | None = None,
                 index: int = 0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = _dtype_name(dtype)
        self.name = name or ""
        self.node = node
        self.index = index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("A symbolic tensor has no value yet: it cannot be used as a Python bool "
                        "(use ops.where or ops.cond-free arithmetic instead)")


def _dtype_name(dtype) -> str:
    """floatx for None, "float32"/"float64" for floats; integer and bool dtypes (token ids
    for an Embedding, as Keras' ``Input(dtype="int32")``) keep their name: models feed the
    values as floats, which hold such ids exactly."""
    if dtype is not None and np.dtype(dtype).kind in "biu":
        return np.dtype(dtype).name
    return backend.standardize_dtype(dtype) if dtype is not None else backend.floatx()


def Input(shape=None, batch_size=None, name=None, dtype=None, batch_shape=None,
          sparse=None, tensor=None) -> KerasTensor:
    """A model input of per-sample ``shape`` (Keras ``Input``)."""
    if batch_shape is None:
        if shape is None:
            raise ValueError("Input needs shape=(...) (the shape of one sample) or batch_shape")
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        batch_shape = (batch_size,) + shape
    if any(d is not None and (not isinstance(d, (int, np.integer)) or d <= 0)
           for d in batch_shape[1:]):
        raise ValueError(f"Input shape must hold positive integers or None, got "
                         f"{tuple(batch_shape[1:])}")
    name = name or backend.unique_name("input_layer")
    return KerasTensor(batch_shape, dtype=dtype, name=name)


def is_symbolic(value) -> bool:
    """Whether ``value`` is, or is a list/tuple/dict holding, a symbolic tensor."""
    if isinstance(value, KerasTensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, KerasTensor) for v in value)
    if isinstance(value, dict):
        return any(isinstance(v, KerasTensor) for v in value.values())
    return False


def flatten(structure) -> list:
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, (list, tuple)):
        return list(structure)
    return [structure]


# -- shape inference by probing ---------------------------------------------------------------
def _probe(shape: Shape, dtype: str, batch: int) -> np.ndarray:
    dims = [batch if d is None and i == 0 else (1 if d is None else d)
            for i, d in enumerate(shape)]
    return np.zeros(dims, dtype=dtype if np.dtype(dtype).kind == "f" else dtype)


def infer_output_shapes(run: Callable[[int], Any], ndim_hint: int | None = None) -> list[Shape]:
    """Output batch shapes of ``run(batch)`` (returning an array or a list of arrays),
    with the axes that follow the batch size as ``None``."""
    with no_grad():
        a = [np.shape(_data(v)) for v in flatten(run(2))]
        b = [np.shape(_data(v)) for v in flatten(run(3))]
    shapes = []
    for sa, sb in zip(a, b):
        if len(sa) != len(sb):
            raise ValueError("The operation's output rank depends on the batch size")
        shapes.append(tuple(None if x != y else x for x, y in zip(sa, sb)))
    return shapes


def _data(value):
    return value.data if isinstance(value, Tensor) else value


def probe_inputs(tensors: Sequence[KerasTensor], batch: int) -> list[np.ndarray]:
    return [_probe(t.shape, t.dtype, batch) for t in tensors]


def record(operation, args, kwargs: dict | None = None, name: str | None = None
           ) -> KerasTensor | list[KerasTensor]:
    """Record ``operation(*args, **kwargs)`` on symbolic ``args`` (an op function) and
    return its symbolic output(s); the shapes come from probing with zero arrays."""
    kwargs = kwargs or {}
    inputs, constants = [], []
    for arg in args:
        if isinstance(arg, KerasTensor):
            inputs.append(arg)
            constants.append(_SYMBOLIC)
        elif isinstance(arg, (list, tuple)) and any(isinstance(a, KerasTensor) for a in arg):
            # ops.concatenate([a, b]): record the list as one argument
            return _record_list_arg(operation, arg, args, kwargs, name)
        else:
            constants.append(arg)
    label = name or cast(str, getattr(operation, "__name__", "op"))
    node = Node(operation, inputs, "args", tuple(constants), kwargs,
                name=backend.unique_name(label))

    def run(batch):
        values = [Tensor(v) for v in probe_inputs(inputs, batch)]
        return operation(*node.arguments(values), **kwargs)

    return _attach_outputs(node, infer_output_shapes(run), _dtype_of(inputs))


def _record_list_arg(operation, tensors, args, kwargs, name):
    position = next(i for i, a in enumerate(args) if a is tensors)
    rest = tuple(args[position + 1:])

    def listed(*values, **kw):
        return operation(list(values), *rest, **kw)

    listed.__name__ = getattr(operation, "__name__", "op")
    listed.list_op, listed.rest = operation, rest  # for saving the node
    if any(not isinstance(t, KerasTensor) for t in tensors):
        raise TypeError(f"{listed.__name__}: mix of symbolic and concrete tensors in a list")
    return record(listed, tuple(tensors), kwargs, name)


def _dtype_of(inputs: Sequence[KerasTensor]) -> str:
    for t in inputs:
        if np.dtype(t.dtype).kind == "f":
            return t.dtype
    return backend.floatx()


def _attach_outputs(node: Node, shapes: list[Shape], dtype: str):
    node.outputs = [KerasTensor(shape, dtype=dtype if _is_float(dtype) else None,
                                name=f"{node.name}" if len(shapes) == 1 else f"{node.name}_{i}",
                                node=node, index=i)
                    for i, shape in enumerate(shapes)]
    return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)


def _is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def record_layer_call(layer, inputs, kwargs: dict | None = None):
    """Record ``layer(inputs)`` on symbolic ``inputs`` (a tensor or a list of tensors)."""
    if isinstance(inputs, KerasTensor):
        flat, structure = [inputs], "single"
    else:
        flat, structure = flatten(inputs), "list"
        if not all(isinstance(t, KerasTensor) for t in flat):
            raise TypeError(f"Layer {layer.name!r} was called on a list mixing symbolic "
                            "tensors and other values")
    node = Node(layer, flat, structure, kwargs=kwargs, name=layer.name)
    shapes = layer.symbolic_output_shapes(node)
    dtype = getattr(layer, "dtype", None) or _dtype_of(flat)
    return _attach_outputs(node, shapes, dtype)


def graph_nodes(outputs: Sequence[KerasTensor], inputs: Sequence[KerasTensor]) -> list[Node]:
    """The nodes between ``inputs`` and ``outputs``, each after the nodes producing its
    inputs (iterative depth-first search). Raises if an output needs a tensor that is
    neither produced by a node nor one of ``inputs``."""
    input_ids = {id(t) for t in inputs}
    order: list[Node] = []
    state: dict[int, bool] = {}  # id(node) -> finished?

    def parents(node_or_tensor) -> list[Node]:
        tensors = node_or_tensor.inputs if isinstance(node_or_tensor, Node) else [node_or_tensor]
        found = []
        for t in tensors:
            if id(t) in input_ids:
                continue
            if t.node is None:
                raise ValueError(f"Graph disconnected: cannot obtain the value of tensor "
                                 f"{t.name!r} (shape {t.shape}): it is an Input that is not "
                                 "among the model's inputs")
            found.append(t.node)
        return found

    stack: list[tuple[Node, bool]] = []
    for t in reversed(list(outputs)):
        stack.extend((n, False) for n in parents(t))
    while stack:
        node, finish = stack.pop()
        if finish:
            if not state[id(node)]:
                state[id(node)] = True
                order.append(node)
            continue
        if id(node) in state:
            continue
        state[id(node)] = False
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(parents(node)) if id(p) not in state)
    return order
