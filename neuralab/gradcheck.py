"""Numerical gradient checks (centred differences), as in cs231n's ``gradient_check.py``.

``rel_error(a, b) = max |a - b| / max(1e-8, |a| + |b|)``; in float64 a correct backward
pass typically gives 1e-7 or less.

    errors = check_layer(Dense(3, activation="tanh", dtype="float64"), x)
    # {'x': 3.1e-10, 'dense/kernel': 2.2e-11, 'dense/bias': 1.9e-11}

Stochastic layers are handled by saving and restoring their generators' states around
every evaluation, so Dropout sees the same mask in each one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["rel_error", "numerical_gradient", "numerical_gradient_at", "numerical_gradient_array",
           "check_layer",
           "check_loss", "check_model"]


def rel_error(x, y) -> float:
    """Largest elementwise relative error between two arrays."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f / d x of a scalar function, perturbing ``x`` in place (and restoring it)."""
    return numerical_gradient_at(f, x, range(x.size), h).reshape(x.shape)


def numerical_gradient_at(f: Callable[[], float], x: np.ndarray, flat_indices,
                          h: float = 1e-5) -> np.ndarray:
    """d f / d x at the given flat (row-major) positions only, like cs231n's
    ``grad_check_sparse``: for parameters too large to perturb one by one."""
    out = np.empty(len(flat_indices), dtype=np.float64)
    for k, flat in enumerate(flat_indices):
        i = np.unravel_index(flat, x.shape)
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        out[k] = (plus - minus) / (2 * h)
    return out


def numerical_gradient_array(f: Callable[[], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-5) -> np.ndarray:
    """Gradient of ``sum(f() * dout)`` with respect to ``x`` (an array-valued f)."""
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


def _rng_holders(obj) -> list:
    layers = getattr(obj, "layers", None) or [obj]
    return [layer for layer in layers if isinstance(getattr(layer, "rng", None), np.random.Generator)]


class _FrozenNoise:
    """Restores every generator to one saved state before each evaluation."""

    def __init__(self, obj):
        self.holders = _rng_holders(obj)
        self.states = [h.rng.bit_generator.state for h in self.holders]

    def reset(self) -> None:
        for holder, state in zip(self.holders, self.states):
            holder.rng.bit_generator.state = state


def _require_float64(arrays) -> None:
    for a in arrays:
        if a.dtype != np.float64:
            raise ValueError(f"Gradient checks need float64 arrays (got {a.dtype}); build the "
                             "layer or model with dtype='float64'")


def check_layer(layer, x: np.ndarray, dout: np.ndarray | None = None, training: bool = True,
                h: float = 1e-5, seed: int = 0) -> dict[str, float]:
    """Compare ``layer.backward`` with centred differences of ``sum(forward(x) * dout)``.

    Returns ``{"x": err, "<param name>": err, ...}`` (no ``"x"`` entry for integer inputs).
    """
    x = np.array(x, copy=True)
    if not layer.built:
        layer.build((None,) + x.shape[1:])
    params = layer.parameters()
    _require_float64([p.data for p in params if p.trainable])
    noise = _FrozenNoise(layer)
    y = layer.forward(x, training=training)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(y.shape)

    def run() -> np.ndarray:
        noise.reset()
        return layer.forward(x, training=training).copy()

    noise.reset()
    run()
    layer.zero_grad()
    dx = layer.backward(dout)
    errors = {}
    if np.issubdtype(x.dtype, np.floating):
        _require_float64([x])
        errors["x"] = rel_error(dx, numerical_gradient_array(run, x, dout, h))
    analytic = {p.name: p.grad.copy() for p in params if p.trainable}
    for p in params:
        if p.trainable:
            numeric = numerical_gradient_array(run, p.data, dout, h)
            errors[p.name] = rel_error(analytic[p.name], numeric)
    return errors


def check_loss(loss, y_true, y_pred: np.ndarray, h: float = 1e-5) -> float:
    """Relative error of ``loss.gradient`` against centred differences of ``loss(...)``."""
    y_pred = np.array(y_pred, dtype=np.float64)
    y_true = loss.check_targets(y_true, y_pred)
    analytic = loss.gradient(y_true, y_pred)
    numeric = numerical_gradient(lambda: float(loss.call(y_true, y_pred).mean()), y_pred, h)
    return rel_error(analytic, numeric)


def check_model(model, x, y, training: bool = True, h: float = 1e-5,
                max_entries: int | None = None, seed: int = 0) -> dict[str, float]:
    """Per-weight relative errors of ``model.compute_gradients`` (model must be compiled,
    float64). The loss includes weight and activity penalties.

    ``max_entries``: check at most this many randomly chosen entries of each weight (all
    of them by default), which keeps large layers affordable.
    """
    from .training import prepare_inputs, prepare_targets

    xs = prepare_inputs(model, x)
    ys = prepare_targets(model, y, len(xs[0]))
    model.prepare_training()
    _require_float64([p.data for p in model.trainable_weights])
    noise = _FrozenNoise(model)
    moving = [p for p in model.parameters() if not p.trainable]
    saved = [p.data.copy() for p in moving]

    def loss() -> float:
        noise.reset()
        for p, value in zip(moving, saved):  # BatchNorm moving stats must not drift
            p.data[...] = value
        return model.forward_backward(xs, ys, training=training)

    noise.reset()
    loss()
    analytic = {p.name: p.grad.copy() for p in model.trainable_weights}
    errors = {}
    rng = np.random.default_rng(seed)
    for p in model.trainable_weights:
        if max_entries is None or p.data.size <= max_entries:
            errors[p.name] = rel_error(analytic[p.name], numerical_gradient(loss, p.data, h))
        else:
            picks = rng.choice(p.data.size, size=max_entries, replace=False)
            errors[p.name] = rel_error(analytic[p.name].reshape(-1)[picks],
                                       numerical_gradient_at(loss, p.data, picks, h))
    loss()
    return errors
