"""Weight and activity penalties with Keras semantics.

``l2(0.01)`` adds ``0.01 * sum(w**2)`` to the loss (no factor 1/2, as in Keras; cs231n's
``0.5 * reg * sum(w**2)`` is ``l2(reg / 2)``). Its gradient ``2 * 0.01 * w`` is added to
``w.grad``. ``l1(a)`` adds ``a * sum(|w|)`` with subgradient ``a * sign(w)`` (0 at 0).

An activity regularizer on a layer penalizes the layer's output ``y`` and, as in tf.keras,
is divided by the batch size so its strength does not depend on it.
"""

from __future__ import annotations

import numpy as np

from .registry import Registry


class Regularizer:
    """``penalty = reg(w)``; ``reg.gradient(w)`` is d(penalty)/dw."""

    def __call__(self, w: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add_gradient(self, w: np.ndarray, grad: np.ndarray) -> None:
        """``grad += gradient(w)``; subclasses may do it without temporaries."""
        grad += self.gradient(w)

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_factor(name: str, value) -> float:
    value = float(value)
    if not (value >= 0 and np.isfinite(value)):
        raise ValueError(f"Invalid {name} regularization factor: {value!r} (expected a finite float >= 0)")
    return value


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _check_factor("l1", l1)
        self.l2 = _check_factor("l2", l2)

    def __call__(self, w):
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float(np.vdot(w, w))
        return total

    def gradient(self, w):
        g = np.zeros_like(w)
        if self.l1:
            g += self.l1 * np.sign(w)
        if self.l2:
            g += (2.0 * self.l2) * w
        return g

    def add_gradient(self, w: np.ndarray, grad: np.ndarray) -> None:
        """``grad += gradient(w)`` without temporaries for the common L2 case."""
        if self.l2:
            grad += (2.0 * self.l2) * w
        if self.l1:
            grad += self.l1 * np.sign(w)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1: float = 0.01) -> L1:
    return L1(l1)


def l2(l2: float = 0.01) -> L2:
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    return L1L2(l1, l2)


_REGISTRY = Registry("regularizer", Regularizer, {"l1": L1, "l2": L2, "l1_l2": L1L2},
                     allow_none=True)


def get(identifier) -> Regularizer | None:
    """Resolve ``None``, a name (``"l2"``), a config dict, or a Regularizer."""
    return _REGISTRY.get(identifier)


def serialize(regularizer: Regularizer | None) -> dict | None:
    return None if regularizer is None else _REGISTRY.serialize(regularizer)


def deserialize(config, custom_objects: dict | None = None) -> Regularizer | None:
    """Inverse of :func:`serialize`; ``custom_objects`` maps names to your own classes."""
    return _REGISTRY.deserialize(config, custom_objects)
