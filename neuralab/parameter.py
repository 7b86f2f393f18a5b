"""``Parameter``: an array a layer learns, with its gradient beside it.

Gradients accumulate (``+=``) across backward passes until :meth:`Parameter.zero_grad`.
Zeroing is lazy: it marks the gradient stale, and the next backward pass *writes*
instead of adding, so a training step never spends a pass over memory on ``fill(0)``.
Reading :attr:`Parameter.grad` while it is stale returns zeros, as expected.
"""

from __future__ import annotations

import numpy as np

from . import parallel
from .tensor import Tensor


class Parameter(Tensor):
    """A learnable array: a leaf :class:`~neuralab.tensor.Tensor` that ops can use
    directly (``ops.matmul(x, self.kernel)``) and whose gradient accumulates in place.

    Attributes:
        data: the values, e.g. a Dense kernel of shape (in_features, units).
        grad: dL/d(data), same shape and dtype; accumulates until zeroed.
        name: e.g. ``"dense/kernel"``.
        trainable: whether optimizers update it (and backward computes its gradient).
        regularizer: optional penalty added to the loss and to ``grad``.
    """

    __slots__ = ("_grad", "_stale", "name", "trainable", "regularizer")

    def __init__(self, data: np.ndarray, name: str = "", trainable: bool = True, regularizer=None):
        self.data = data
        self._prev = ()
        self._backward = None
        self.op = ""
        self._grad = np.zeros(data.shape, data.dtype)  # calloc: untouched pages until used
        self._stale = False
        self.name = name
        self.trainable = trainable
        self.regularizer = regularizer

    # -- gradient access ------------------------------------------------------------
    @property
    def grad(self) -> np.ndarray:
        self.materialize_grad()
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        np.copyto(self._grad, value)
        self._stale = False

    @property
    def requires_grad(self) -> bool:  # type: ignore[override]
        return self.trainable

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.trainable = bool(value)

    def _accumulate(self, dout: np.ndarray) -> None:
        self.accumulate(dout)

    def materialize_grad(self) -> None:
        """Write the zeros a lazy :meth:`zero_grad` promised, if nothing wrote since."""
        if self._stale:
            self._grad.fill(0)
            self._stale = False

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (lazily: the next write overwrites)."""
        self._stale = True

    def accumulate(self, value: np.ndarray) -> None:
        """``grad += value`` (or ``grad = value`` right after ``zero_grad``)."""
        if self._stale:
            np.copyto(self._grad, value)
            self._stale = False
        else:
            self._grad += value

    def accumulate_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """``grad += a @ b`` (the product reshaped to the gradient's shape, e.g. a conv
        kernel's (kh, kw, C, F) from (kh*kw*C, F)), without a temporary right after
        ``zero_grad``."""
        target = self._grad.reshape(a.shape[0], b.shape[1])  # a view: the gradient is contiguous
        if self._stale:
            parallel.matmul(a, b, out=target)
            self._stale = False
        else:
            target += parallel.matmul(a, b, out=np.empty_like(target))

    def accumulate_sum(self, x: np.ndarray, axis) -> None:
        """``grad += x.sum(axis)``, e.g. a bias gradient from (N, units) upstream grads."""
        if self._stale:
            np.add.reduce(x, axis=axis, out=self._grad)
            self._stale = False
        else:
            self._grad += np.add.reduce(x, axis=axis)

    # -- convenience ------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A copy of the values (Keras ``variable.numpy()``)."""
        return self.data.copy()

    def assign(self, value) -> None:
        """Overwrite the values in place, keeping shape and dtype."""
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(
                f"Cannot assign to {self.name or 'parameter'}: expected shape {self.data.shape}, "
                f"got {value.shape}"
            )
        np.copyto(self.data, value, casting="same_kind")

    def assign_add(self, delta) -> None:
        """``self += delta`` in place (Keras ``variable.assign_add``: a metric's counters);
        ``delta`` has the variable's shape or is a scalar."""
        self.assign(self.data + self._delta(delta))

    def assign_sub(self, delta) -> None:
        """``self -= delta`` in place (Keras ``variable.assign_sub``)."""
        self.assign(self.data - self._delta(delta))

    def _delta(self, delta) -> np.ndarray:
        delta = np.asarray(delta)
        if delta.shape not in ((), self.data.shape):
            raise ValueError(f"Cannot add to {self.name or 'parameter'}: expected shape "
                             f"{self.data.shape} or a scalar, got {delta.shape}")
        return delta

    def rebind(self, data: np.ndarray, grad: np.ndarray) -> None:
        """Move values and gradient into new storage (views of a model's flat buffers)."""
        np.copyto(data, self.data)
        np.copyto(grad, self.grad)
        self.data = data
        self._grad = grad
        self._stale = False

    def penalty(self) -> float:
        return 0.0 if self.regularizer is None else float(self.regularizer(self.data))

    def __repr__(self) -> str:
        flag = "" if self.trainable else ", trainable=False"
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, dtype={self.data.dtype}{flag})"
