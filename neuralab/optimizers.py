"""Optimizers: update rules as in PyTorch, names and defaults as in Keras.

An optimizer is given parameters and keeps its state (``m``, ``v``, velocity, ...) per
parameter, created lazily on the first step::

    opt = Adam(learning_rate=1e-3)
    loss, grads = model.compute_gradients(x, y)   # fills p.grad
    opt.step(model.trainable_weights)

Parameters whose arrays are consecutive views of one flat buffer (a built model's
weights are) are updated together, so a step is a handful of whole-buffer operations.

Hyperparameters are validated: ``SGD(learning_rate=-1)`` raises ``ValueError``.
``learning_rate`` takes a float or a :mod:`neuralab.schedules` schedule; Keras 2's
``lr=`` is accepted. Common arguments:

* ``clipvalue``: clip each gradient element to [-clipvalue, clipvalue];
* ``clipnorm``: rescale each parameter's gradient to norm <= clipnorm (Keras);
* ``global_clipnorm``: rescale all gradients together to total norm <= global_clipnorm;
* ``weight_decay``: L2 term ``weight_decay * w`` added to the gradient (PyTorch's
  coupled decay; :class:`AdamW` decays decoupled, ``w -= lr * weight_decay * w``).

Clipping is applied to ``p.grad`` in place before the update.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from . import backend, kernels, parallel, schedules
from .parameter import Parameter
from .registry import Registry

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "get", "serialize",
           "deserialize"]


def _check(name: str, value, low: float = 0.0, high: float = math.inf, high_open=False):
    if value is None:
        return None
    value = float(value)
    ok = math.isfinite(value) and value >= low and (value < high if high_open else value <= high)
    if not ok:
        upper = ")" if high_open else "]"
        raise ValueError(f"Invalid {name}: {value!r} (expected a value in [{low}, {high}{upper})")
    return value


class _Run:
    """Consecutive parameters sharing storage: updated as one 1-D slice.

    ``slots`` holds the optimizer state views; ``tmp`` is scratch space of the same size, so
    an update allocates nothing (temporaries of a million floats cost page faults)."""

    __slots__ = ("params", "w", "g", "slots", "tmp", "_pieces")

    def __init__(self, params, w, g, slots, tmp):
        self.params, self.w, self.g, self.slots, self.tmp = params, w, g, slots, tmp
        self._pieces: dict[int, list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray],
                                            np.ndarray]]] = {}

    def pieces(self, parts: int) -> list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray],
                                               np.ndarray]]:
        """``(w, g, slots, tmp)`` of each of ``parts`` consecutive slices of the run."""
        pieces = self._pieces.get(parts)
        if pieces is None:
            pieces = self._pieces[parts] = [
                (self.w[a:b], self.g[a:b], {k: v[a:b] for k, v in self.slots.items()},
                 self.tmp[a:b]) for a, b in parallel.bounds(self.w.size, parts)]
        return pieces


class Optimizer:
    """Base class. Subclasses list their state in ``slot_names`` and implement ``_update``.

    A subclass whose ``_update`` is elementwise (each weight's new value depends only on
    its own gradient and state, no sums over the run) sets ``elementwise = True``: its
    large runs are then updated in slices on :mod:`neuralab.parallel`'s threads, with the
    same result as in one piece."""

    slot_names: tuple[str, ...] = ()
    elementwise = False
    _EXTRA_KWARGS = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "name", "params")

    def __init__(self, learning_rate=0.001, *, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 weight_decay=None, name: str | None = None, params=None, **kwargs):
        if "lr" in kwargs:  # Keras 2 spelling, used by the course material
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) "
                            f"{sorted(kwargs)}; accepted: learning_rate (or lr), "
                            f"{', '.join(self._EXTRA_KWARGS)} and its own hyperparameters")
        self.learning_rate = learning_rate
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError("Set at most one of clipnorm and global_clipnorm")
        self.clipnorm = _check("clipnorm", clipnorm, low=1e-300)
        self.clipvalue = _check("clipvalue", clipvalue, low=1e-300)
        self.global_clipnorm = _check("global_clipnorm", global_clipnorm, low=1e-300)
        self.weight_decay = _check("weight_decay", weight_decay)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.params = None if params is None else list(params)
        self._storage: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        self._scratch: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._runs_cache: dict[tuple, list[_Run]] = {}

    # -- learning rate ----------------------------------------------------------------
    def _current_learning_rate(self) -> float:
        """The rate of the next step as a plain float (what ``step`` uses)."""
        lr = self._learning_rate
        return float(lr(self.iterations)) if isinstance(lr, schedules.LearningRateSchedule) else lr

    @property
    def learning_rate(self) -> float:
        """The rate the next step uses (a schedule is evaluated at ``iterations``), as a
        float that Keras' ``backend.set_value`` can set (:class:`~neuralab.backend.ScalarVariable`)."""
        value = self._current_learning_rate()
        return value if value is None else backend.ScalarVariable(value, self, "learning_rate")

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
        elif callable(value) and not isinstance(value, (int, float)):
            raise ValueError("learning_rate must be a float or a neuralab.schedules schedule, got "
                             f"{value!r}")
        else:
            self._learning_rate = _check("learning rate", value)

    lr = learning_rate  # Keras 2 name

    @property
    def schedule(self) -> schedules.LearningRateSchedule | None:
        lr = self._learning_rate
        return lr if isinstance(lr, schedules.LearningRateSchedule) else None

    # -- stepping ---------------------------------------------------------------------
    def step(self, params=None) -> None:
        """Update trainable ``params`` (default: those given at construction) from ``p.grad``."""
        params = self.params if params is None else params
        if params is None:
            raise ValueError(f"{type(self).__name__}.step needs parameters: pass them to step() "
                             "or to the constructor (params=...)")
        params = [p for p in params if p.trainable]
        runs = self._runs(params)
        lr = self._current_learning_rate()
        self._clip(runs)
        t = self.iterations + 1
        for run in runs:
            self._update_run(run, lr, t)
        self.iterations = t

    def _update_run(self, run: _Run, lr: float, t: int) -> None:
        """``_update`` on a run: in slices on several threads where it is elementwise and
        large (:func:`neuralab.parallel.parts_for`), else in one piece."""
        parts = parallel.parts_for(run.w.size) if self.elementwise else 1
        if parts == 1:
            self._update(run.w, run.g, run.slots, run.tmp, lr, t)
            return
        pieces = run.pieces(parts)

        def piece(i: int) -> None:
            w, g, slots, tmp = pieces[i]
            self._update(w, g, slots, tmp, lr, t)

        parallel.run_parts(piece, parts)

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras style: ``apply_gradients(zip(grads, params))``."""
        pairs = list(grads_and_vars)
        for g, p in pairs:
            p.grad = g
        self.step([p for _, p in pairs])

    def zero_grad(self, params=None) -> None:
        for p in (self.params if params is None else params) or ():
            p.zero_grad()

    def _update(self, w, g, s, tmp, lr: float, t: int) -> None:
        """Update ``w`` in place from ``g``; ``s``: state views; ``tmp``: scratch of w's size."""
        raise NotImplementedError

    def _decayed(self, w, g):
        """PyTorch's coupled weight decay: the gradient plus ``weight_decay * w`` (a new array,
        so ``p.grad`` keeps the plain gradient)."""
        return g + self.weight_decay * w if self.weight_decay else g

    # -- gradient clipping --------------------------------------------------------------
    def _clip(self, runs: list[_Run]) -> None:
        if self.clipvalue is not None:
            for run in runs:
                np.clip(run.g, -self.clipvalue, self.clipvalue, out=run.g)
        if self.clipnorm is not None:
            for run in runs:
                for p in run.params:
                    _scale_to_norm(p.grad, self.clipnorm, float(np.vdot(p.grad, p.grad)))
        if self.global_clipnorm is not None:
            total = math.sqrt(sum(float(np.vdot(run.g, run.g)) for run in runs))
            if total > self.global_clipnorm:
                for run in runs:
                    run.g *= self.global_clipnorm / total

    # -- state storage ------------------------------------------------------------------
    def _runs(self, params: list[Parameter]) -> list[_Run]:
        # a parameter moved to new storage (a model re-flattened) is a different key
        key = (tuple(map(id, params)), tuple(id(p.data) for p in params))
        runs = self._runs_cache.get(key)
        if runs is None:
            runs = self._runs_cache[key] = self._build_runs(params)
        for run in runs:
            for p in run.params:
                p.materialize_grad()  # zeros where backward never wrote since zero_grad
        return runs

    def _build_runs(self, params: list[Parameter]) -> list[_Run]:
        groups: dict[int, list[tuple[int, Parameter]]] = {}
        standalone = []
        for p in params:
            where = _shared_offset(p)
            if where is None:
                standalone.append(p)
            else:
                base, offset = where
                groups.setdefault(id(base), []).append((offset, p))
        runs = []
        for members in groups.values():
            members.sort(key=lambda item: item[0])
            # grouped by _shared_offset: data and grad are views of 1-D bases (not None)
            base_w = cast(np.ndarray, members[0][1].data.base)
            base_g = cast(np.ndarray, members[0][1]._grad.base)
            slots = self._slots_for(base_w, base_w.size)
            scratch = self._scratch_for(base_w)
            start, end = members[0][0], members[0][0]
            chunk: list[Parameter] = []
            last: list[tuple[int | None, Parameter | None]] = [(None, None)]  # ends the last run
            for offset, member in members + last:
                if member is None or offset != end:
                    runs.append(_Run(chunk, base_w[start:end], base_g[start:end],
                                     {k: v[start:end] for k, v in slots.items()},
                                     scratch[start:end]))
                    if member is None:
                        break
                    start, end, chunk = cast(int, offset), cast(int, offset), []
                chunk.append(member)
                end = cast(int, offset) + member.size  # an int for every member
        for p in standalone:
            slots = self._slots_for(p.data, p.size)
            runs.append(_Run([p], p.data.reshape(-1), p._grad.reshape(-1), slots,
                             self._scratch_for(p.data)))
        return [r for r in runs if r.params]

    def _scratch_for(self, owner: np.ndarray) -> np.ndarray:
        scratch = self._scratch.get(id(owner))
        if scratch is None or scratch[0] is not owner:
            scratch = self._scratch[id(owner)] = (owner, np.empty(owner.size, owner.dtype))
        return scratch[1]

    def _slots_for(self, owner: np.ndarray, size: int) -> dict[str, np.ndarray]:
        entry = self._storage.get(id(owner))
        if entry is None or entry[0] is not owner:
            slots = {name: self._initial_slot(name, size, owner.dtype) for name in self.slot_names}
            entry = self._storage[id(owner)] = (owner, slots)
        return entry[1]

    def _initial_slot(self, name: str, size: int, dtype) -> np.ndarray:
        return np.zeros(size, dtype=dtype)

    def get_slot(self, param: Parameter, name: str) -> np.ndarray:
        """The state ``name`` (e.g. ``"m"``) of ``param``, as a view shaped like it."""
        if name not in self.slot_names:
            raise ValueError(f"{type(self).__name__} has no state {name!r}; it keeps "
                             f"{list(self.slot_names)}")
        where = _shared_offset(param)
        if where is None:
            return self._slots_for(param.data, param.size)[name].reshape(param.shape)
        base, offset = where
        return self._slots_for(base, base.size)[name][offset:offset + param.size].reshape(param.shape)

    def get_state(self, params) -> dict:
        """Everything needed to resume: the step count and each parameter's state arrays."""
        return {"iterations": self.iterations,
                "slots": {name: [self.get_slot(p, name).copy() for p in params]
                          for name in self.slot_names}}

    def set_state(self, state: dict, params) -> None:
        params = list(params)
        self.iterations = int(state["iterations"])
        for name in self.slot_names:
            values = state["slots"][name]
            if len(values) != len(params):
                raise ValueError(f"Optimizer state {name!r} has {len(values)} arrays for "
                                 f"{len(params)} parameters")
            for p, v in zip(params, values):
                self.get_slot(p, name)[...] = v

    # -- config -----------------------------------------------------------------------
    def get_config(self) -> dict:
        lr = self._learning_rate
        config = {"learning_rate": schedules.serialize(lr) if self.schedule else lr}
        for key in ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _scale_to_norm(g: np.ndarray, max_norm: float, squared_norm: float) -> None:
    """Keras ``clip_by_norm``: ``g * max_norm / max(norm, max_norm)``."""
    norm = math.sqrt(squared_norm)
    if norm > max_norm:
        g *= max_norm / norm


def _shared_offset(p: Parameter):
    """(base, offset) when ``p`` and its gradient are views at one offset of 1-D buffers."""
    d, g = p.data, p._grad
    db, gb = d.base, g.base
    if db is None or gb is None or db.ndim != 1 or gb.ndim != 1 or db.size != gb.size \
            or not d.flags.c_contiguous or not g.flags.c_contiguous or db.dtype != d.dtype:
        return None
    item = d.itemsize
    offset = (d.__array_interface__["data"][0] - db.__array_interface__["data"][0]) // item
    g_offset = (g.__array_interface__["data"][0] - gb.__array_interface__["data"][0]) // item
    return (db, offset) if offset == g_offset else None


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``v = momentum * v + g``; ``w -= lr * (g + momentum * v if nesterov else v)``
    (PyTorch's form; with a constant rate it equals Keras' ``v = momentum v - lr g``).
    """

    elementwise = True

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kw):
        super().__init__(learning_rate, **kw)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.slot_names = ("velocity",) if self.momentum else ()

    def _update(self, w, g, s, tmp, lr, t):
        g = self._decayed(w, g)
        if self.momentum:
            v = s["velocity"]
            v *= self.momentum
            v += g
            if self.nesterov:
                np.multiply(v, self.momentum, out=tmp)
                tmp += g
            else:
                np.copyto(tmp, v)
        else:
            np.copyto(tmp, g)
        tmp *= lr
        w -= tmp

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """``s = rho s + (1 - rho) g^2``; ``w -= lr g / (sqrt(s) + eps)`` (eps outside the root,
    as in PyTorch). ``centered`` subtracts the squared running mean of g; ``momentum``
    accumulates the scaled step."""

    elementwise = True

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kw):
        super().__init__(learning_rate, **kw)
        self.rho = _check("rho", rho, 0.0, 1.0, high_open=True)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)
        self.epsilon = _check("epsilon", epsilon)
        self.centered = bool(centered)
        self.slot_names = ("velocity",) + (("average_gradient",) if centered else ()) \
            + (("momentum",) if self.momentum else ())

    def _update(self, w, g, s, tmp, lr, t):
        g = self._decayed(w, g)
        sq = s["velocity"]
        np.multiply(g, g, out=tmp)
        tmp -= sq
        tmp *= 1 - self.rho
        sq += tmp  # sq = rho sq + (1 - rho) g^2
        if self.centered:
            ga = s["average_gradient"]
            np.subtract(g, ga, out=tmp)
            tmp *= 1 - self.rho
            ga += tmp
            np.multiply(ga, ga, out=tmp)
            np.subtract(sq, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(sq, out=tmp)
        tmp += self.epsilon
        np.divide(g, tmp, out=tmp)
        if self.momentum:
            buf = s["momentum"]
            buf *= self.momentum
            buf += tmp
            np.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        w -= tmp

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """``s += g^2``; ``w -= lr g / (sqrt(s) + eps)``; ``s`` starts at
    ``initial_accumulator_value`` (Keras default 0.1)."""

    elementwise = True

    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kw):
        super().__init__(learning_rate, **kw)
        self.initial_accumulator_value = _check("initial_accumulator_value",
                                                initial_accumulator_value)
        self.epsilon = _check("epsilon", epsilon)

    def _initial_slot(self, name, size, dtype):
        return np.full(size, self.initial_accumulator_value, dtype=dtype)

    def _update(self, w, g, s, tmp, lr, t):
        g = self._decayed(w, g)
        acc = s["accumulator"]
        np.multiply(g, g, out=tmp)
        acc += tmp
        np.sqrt(acc, out=tmp)
        tmp += self.epsilon
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        w -= tmp

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015), written as in PyTorch::

        m = b1 m + (1 - b1) g          v = b2 v + (1 - b2) g^2
        w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    ``amsgrad`` uses the running maximum of v. Keras default ``epsilon=1e-7``.
    """

    elementwise = True

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kw):
        super().__init__(learning_rate, **kw)
        self.beta_1 = _check("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _check("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = _check("epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("m", "v") + (("v_hat",) if self.amsgrad else ())

    def _moments(self, g, s, tmp):
        """Update ``m`` and ``v`` in place and return the ``v`` to divide by (its running
        maximum with ``amsgrad``): m = b1 m + (1 - b1) g and v = b2 v + (1 - b2) g^2, as
        PyTorch's lerp/addcmul (Keras writes the same update)."""
        m, v = s["m"], s["v"]
        np.subtract(g, m, out=tmp)
        tmp *= 1 - self.beta_1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1 - self.beta_2
        v += tmp
        if self.amsgrad:
            np.maximum(s["v_hat"], v, out=s["v_hat"])
            return s["v_hat"]
        return v

    def _update(self, w, g, s, tmp, lr, t):
        g = self._gradient_for_moments(w, g, lr)
        m = s["m"]
        # lr/b1c * m / (sqrt(v)/sqrt(b2c) + eps) == step * m / (sqrt(v) + eps*sqrt(b2c))
        root_bias2 = math.sqrt(1 - self.beta_2 ** t)
        step = lr * root_bias2 / (1 - self.beta_1 ** t)
        if not self.amsgrad and kernels.adam(w, g, m, s["v"], 1 - self.beta_1, 1 - self.beta_2,
                                             self.epsilon * root_bias2, step):
            return  # the passes below, fused in one compiled loop (same result, bit for bit)
        v = self._moments(g, s, tmp)
        np.sqrt(v, out=tmp)
        tmp += self.epsilon * root_bias2
        np.divide(m, tmp, out=tmp)
        tmp *= step
        w -= tmp

    def _gradient_for_moments(self, w, g, lr):
        return self._decayed(w, g)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= lr * weight_decay * w`` before the Adam step
    (Loshchilov & Hutter; PyTorch ``AdamW``). Keras default ``weight_decay=0.004``."""

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, **kw):
        super().__init__(learning_rate, weight_decay=weight_decay, **kw)

    def _gradient_for_moments(self, w, g, lr):
        w *= 1 - lr * self.weight_decay
        return g


_REGISTRY = Registry("optimizer", Optimizer,
                     {cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adagrad, Adam, AdamW)})


def get(identifier) -> Optimizer:
    """Resolve ``"adam"``, a class, a config dict, or an Optimizer instance."""
    return _REGISTRY.get(identifier)


def serialize(optimizer: Optimizer) -> dict:
    return _REGISTRY.serialize(optimizer)


def deserialize(config, custom_objects: dict | None = None) -> Optimizer:
    """Inverse of :func:`serialize` (through ``from_config``); ``custom_objects`` maps names
    to your own classes."""
    return _REGISTRY.deserialize(config, custom_objects)
