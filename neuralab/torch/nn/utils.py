"""``torch.nn.utils``: gradient clipping, on the parameters' gradients in place."""

from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor, from_numpy


def _with_grads(parameters) -> list[Tensor]:
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in parameters if p._t.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients by ``max_norm / (total_norm + 1e-6)`` when that is below 1, where
    ``total_norm`` is the ``norm_type``-norm of all gradients together; returns ``total_norm``."""
    grads = [p._t.grad for p in _with_grads(parameters)]
    if not grads:
        return from_numpy(np.array(0.0))
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) for g in grads)
    else:
        norms = np.array([np.linalg.norm(g.ravel(), norm_type) for g in grads])
        total = float(np.linalg.norm(norms, norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped.")
    coefficient = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= coefficient
    return from_numpy(np.array(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value]."""
    for p in _with_grads(parameters):
        np.clip(p._t.grad, -clip_value, clip_value, out=p._t.grad)
