"""``Tensor``: an array that records how it was computed, so gradients flow back through it.

micrograd's idea on arrays. Every operation on tensors builds its output and attaches a
``backward`` closure that maps ``dout`` (dL/d(output)) to the gradients of its inputs,
written out as the maths::

    def tanh(x):
        y = np.tanh(x.data)
        def backward(dout):
            return (dout * (1 - y**2),)          # dx = dout * (1 - y^2)
        return Tensor.from_op(y, (x,), backward, "tanh")

:meth:`Tensor.backward` sorts the recorded graph topologically and walks it in reverse,
handing each node its ``dout`` and adding what it returns into its inputs' gradients.
Gradients of broadcast inputs are summed back to the input's shape in one place
(:func:`unbroadcast`), not in every op. Leaves (inputs created by the user, and
:class:`~neuralab.parameter.Parameter` weights) *accumulate* into ``.grad`` across calls
until zeroed; intermediate tensors keep the gradient of the last backward pass in
``.grad`` too, so a small graph can be printed with every value and gradient.

Inside ``with no_grad():`` nothing is recorded (inference, optimizer updates).

Shape conventions follow NumPy; dtypes too, except that Python numbers and lists become
:func:`neuralab.backend.floatx` (float32 unless changed) when they hold floats.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import numpy as np

from . import backend

Backward = Callable[[np.ndarray], Sequence["np.ndarray | None"]]

_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether operations record the graph (``False`` inside :func:`no_grad`)."""
    return getattr(_state, "enabled", True)


@contextmanager
def no_grad():
    """Record nothing inside the block (PyTorch ``torch.no_grad``)."""
    previous = is_grad_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = previous


@contextmanager
def enable_grad():
    """Record again inside the block, even within :func:`no_grad`."""
    previous = is_grad_enabled()
    _state.enabled = True
    try:
        yield
    finally:
        _state.enabled = previous


def to_array(value, dtype=None) -> np.ndarray:
    """An ndarray for ``value``: Python floats become ``floatx()``, arrays keep their dtype."""
    if isinstance(value, Tensor):
        value = value.data
    if dtype is not None:
        return np.asarray(value, dtype=np.dtype(dtype))
    if isinstance(value, np.ndarray):
        return value
    array = np.asarray(value)
    if array.dtype == np.float64 and not isinstance(value, np.generic):
        array = array.astype(backend.floatx())
    return array


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``.

    ``x`` of shape (3,) added to ``y`` of shape (2, 3) receives ``dout.sum(axis=0)``.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


class Tensor:
    """An ndarray with an optional gradient and the operation that produced it.

    Attributes:
        data: the values (an ndarray).
        grad: dL/d(data) after :meth:`backward`, same shape; ``None`` before.
        requires_grad: whether gradients flow to (and through) this tensor.
        op: name of the operation that produced it (``""`` for a leaf).

    Example:
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        array([2., 4.], dtype=float32)
    """

    #: ``_keras_mask``: the (N, T) steps that count, set by a layer that gives its output a
    #: mask (read with ``getattr(t, "_keras_mask", None)``: unset on most tensors)
    __slots__ = ("data", "grad", "requires_grad", "_prev", "_backward", "op", "_keras_mask",
                 "__weakref__")
    _keras_mask: np.ndarray
    __array_priority__ = 1000  # ndarray + Tensor -> Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._prev: tuple[Tensor, ...] = ()
        self._backward: Backward | None = None
        self.op = ""

    @classmethod
    def from_op(cls, data: np.ndarray, parents: Sequence[Tensor], backward: Backward,
                op: str) -> Tensor:
        """The output of an operation: records ``parents`` and ``backward`` when any parent
        needs a gradient and recording is on; otherwise a plain constant tensor."""
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out.op = op
        if is_grad_enabled() and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._prev = tuple(parents)
            out._backward = backward
        else:
            out.requires_grad = False
            out._prev = ()
            out._backward = None
        return out

    # -- the backward pass ------------------------------------------------------------
    def backward(self, gradient=None) -> None:
        """Backpropagate from this tensor: fill ``.grad`` of everything it depends on.

        ``gradient`` is dL/d(self); it may be omitted for a single-element tensor (a loss).
        """
        if not self.requires_grad:
            raise RuntimeError(f"backward() on a tensor that does not require grad (op "
                               f"{self.op or 'leaf'!r}): no input it depends on has "
                               "requires_grad=True, or it was computed under no_grad()")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() needs a gradient for a non-scalar tensor of "
                                   f"shape {self.data.shape}; pass dL/d(output) of that shape")
            gradient = np.ones_like(self.data)
        else:
            gradient = to_array(gradient)
            if gradient.shape != self.data.shape:
                raise ValueError(f"backward() gradient has shape {gradient.shape}, expected "
                                 f"{self.data.shape}")
        backpropagate([self], [gradient])

    def _accumulate(self, dout: np.ndarray) -> None:
        """Leaves add into ``grad`` (a copy: ``dout`` may be another node's buffer)."""
        self.grad = np.array(dout, dtype=self.data.dtype) if self.grad is None \
            else self.grad + dout

    def zero_grad(self) -> None:
        self.grad = None

    # -- conversions and properties ----------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The values (a view; copy it before changing it in place)."""
        return self.data

    def item(self) -> float | int | bool:
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def detach(self) -> Tensor:
        """The same values, cut from the graph."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        grad = f", op={self.op!r}" if self.op else (", requires_grad=True"
                                                   if self.requires_grad else "")
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{grad})"

    __hash__ = object.__hash__  # tensors are graph nodes: identity, not value, equality


def backpropagate(roots: Sequence[Tensor], grads: Sequence[np.ndarray]) -> None:
    """Backpropagate from several tensors at once: ``grads[i]`` is dL/d(roots[i]).

    Each recorded node is visited once, after every node that uses it, with the sum of
    the gradients flowing into it; leaves accumulate into ``.grad``.
    """
    pending: dict[int, np.ndarray] = {}
    for root, gradient in zip(roots, grads):
        key = id(root)
        pending[key] = gradient if key not in pending else pending[key] + gradient
    for node in reversed(topological_order(*roots)):
        dout = pending.pop(id(node), None)
        if dout is None:
            continue
        if node._backward is None:
            node._accumulate(dout)
            continue
        node.grad = dout
        for parent, dparent in zip(node._prev, node._backward(dout)):
            if dparent is None or not parent.requires_grad:
                continue
            dparent = unbroadcast(np.asarray(dparent), parent.data.shape)
            key = id(parent)
            pending[key] = dparent if key not in pending else pending[key] + dparent


def topological_order(*roots: Tensor) -> list[Tensor]:
    """Every recorded tensor the ``roots`` depend on, inputs before outputs (iterative DFS)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._prev:
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


def as_tensor(value, dtype=None) -> Tensor:
    """``value`` itself if it is a Tensor (or Parameter), else a constant Tensor."""
    if isinstance(value, Tensor) and dtype is None:
        return value
    return Tensor(value, dtype=dtype)
