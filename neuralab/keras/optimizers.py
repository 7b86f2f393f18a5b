"""Optimizers that reproduce Keras 3's numbers: ``keras.optimizers`` under neuralab.

:mod:`neuralab.optimizers` writes the update rules as PyTorch does; these subclasses write
them as Keras 3 does, on the same flat-buffer fast path (``Adam(weight_decay=0.004)`` here
gives what ``keras.optimizers.Adam`` gives). Where the two differ:

* ``weight_decay`` is decoupled for every optimizer, as in Keras 3: before the update each
  weight not excluded (:meth:`~_KerasOptimizer.exclude_from_weight_decay`) shrinks by
  ``w -= w * weight_decay * lr``; neuralab's rules add ``weight_decay * w`` to the gradient;
* ``epsilon`` sits where Keras puts it: Adam adds it to ``sqrt(v)`` without bias correction,
  RMSprop and Adagrad add it *inside* the square root (``g / sqrt(s + eps)``);
* SGD keeps Keras' velocity ``v = momentum * v - lr * g`` and accepts ``nesterov=True``
  with ``momentum=0`` (plain SGD, as Keras does).

Keras 3's common arguments:

* ``clipnorm`` (per weight), ``global_clipnorm``, ``clipvalue``: at most one of them;
* ``use_ema``, ``ema_momentum`` (0.99), ``ema_overwrite_frequency``: keep
  ``average = ema_momentum * average + (1 - ema_momentum) * w`` after every step (the first
  step copies ``w``); every ``ema_overwrite_frequency`` steps the weights are overwritten
  with it, and :meth:`~_KerasOptimizer.finalize_variable_values` does it on request;
* ``learning_rate``: a float, a :mod:`neuralab.schedules` schedule (evaluated at
  ``iterations``) or a callable without arguments; Keras 2's ``lr=`` is accepted;
* ``decay``: Keras 2's inverse-time decay, ``lr / (1 + decay * iterations)`` (Keras 3 warns
  and ignores it; course code written for Keras 2 expects the decay).

``loss_scale_factor`` and ``gradient_accumulation_steps`` are refused unless ``None``.
Example::

    from neuralab.keras import optimizers
    model.compile(optimizer=optimizers.AdamW(1e-3, weight_decay=0.004), loss="mse")
"""

from __future__ import annotations

import math
import re
import sys
import warnings
from collections.abc import Mapping

import numpy as np

from .. import optimizers, saving, schedules
from ..optimizers import Optimizer, _check, serialize

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get", "serialize",
           "deserialize", "schedules"]

# ``import neuralab.keras.optimizers.schedules`` finds Keras' path to the schedules
sys.modules.setdefault(f"{__name__}.schedules", schedules)

_CLIP_ARGS = ("clipnorm", "clipvalue", "global_clipnorm")


class _KerasOptimizer(Optimizer):
    """Keras 3's step around a subclass's ``_update``: clip, decay the weights, update, EMA."""

    _EXTRA_KWARGS = Optimizer._EXTRA_KWARGS + (  # type: ignore[assignment]  # a longer tuple
        "use_ema", "ema_momentum", "ema_overwrite_frequency", "decay")

    def __init__(self, *args, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: int | None = None, decay: float | None = None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, **kwargs):
        given = {k: kwargs.get(k) for k in _CLIP_ARGS}
        if sum(v is not None for v in given.values()) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={given['clipnorm']}, clipvalue="
                             f"{given['clipvalue']}, global_clipnorm={given['global_clipnorm']}")
        for name, value in (("loss_scale_factor", loss_scale_factor),
                            ("gradient_accumulation_steps", gradient_accumulation_steps)):
            if value is not None:
                raise ValueError(f"{type(self).__name__}: `{name}` is not supported by neuralab "
                                 f"(the trainer neither scales losses nor accumulates "
                                 f"gradients); received {name}={value!r}")
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. "
                                 f"Received: ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                 f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        super().__init__(*args, **kwargs)
        self.use_ema = bool(use_ema)
        self.ema_momentum = float(ema_momentum)
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.decay = _check("decay", decay)
        if self.use_ema:
            self.slot_names = (*self.slot_names, "average")
        self.exclude_from_weight_decay()

    # -- learning rate ----------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The rate the next step uses before ``decay`` (a schedule is evaluated at
        ``iterations``; a callable is called without arguments, as in Keras)."""
        lr = self._learning_rate
        if callable(lr) and not isinstance(lr, schedules.LearningRateSchedule):
            return float(lr())
        return super().learning_rate  # what neuralab's optimizers return

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if callable(value):
            self._learning_rate = value
        elif isinstance(getattr(self, "_learning_rate", None), schedules.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not "
                            "settable. If you need the learning rate to be settable, you should "
                            "instantiate the optimizer with a float `learning_rate` argument.")
        else:
            self._learning_rate = _check("learning rate", value)

    lr = learning_rate  # Keras 2 name

    def _step_learning_rate(self) -> float:
        lr = float(self.learning_rate)
        return lr / (1.0 + self.decay * self.iterations) if self.decay else lr

    # -- stepping ---------------------------------------------------------------------
    def step(self, params=None) -> None:
        """Keras 3's order: clip the gradients, decay the weights, update, then the EMA."""
        params = self.params if params is None else params
        if params is None:
            raise ValueError(f"{type(self).__name__}.step needs parameters: pass them to step() "
                             "or to the constructor (params=...)")
        runs = self._runs([p for p in params if p.trainable])
        lr = self._step_learning_rate()
        self._clip(runs)
        if self.weight_decay:
            self._apply_weight_decay(runs, lr)
        t = self.iterations + 1
        for run in runs:
            self._update_run(run, lr, t)
        if self.use_ema:
            self._update_average(runs)
        self.iterations = t

    def apply_gradients(self, grads_and_vars) -> int:  # type: ignore[override]  # Keras returns it
        """``apply_gradients(zip(grads, params))``; pairs whose gradient is ``None`` are
        skipped with a warning (Keras). Returns ``iterations``."""
        pairs = list(grads_and_vars)
        kept = [(g, p) for g, p in pairs if g is not None]
        if not kept:
            raise ValueError("No gradients provided for any variable.")
        missing = [p.name for g, p in pairs if g is None]
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a `loss` "
                          "argument?", stacklevel=2)
        super().apply_gradients(kept)
        return self.iterations

    # -- weight decay -----------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Leave out of weight decay the parameters in ``var_list`` and those whose name
        contains one of ``var_names`` (a regular expression each, as in Keras). Call it
        before the first step."""
        if getattr(self, "_runs_cache", None):
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the "
                             "optimizer is built.")
        self._excluded_ids = {id(p) for p in var_list or ()}
        self._excluded_pattern = re.compile("|".join(set(var_names))) if var_names else None
        self._decay_cache: dict[int, bool] = {}

    def _use_weight_decay(self, param) -> bool:
        use = self._decay_cache.get(id(param))
        if use is None:
            use = id(param) not in self._excluded_ids and not (
                self._excluded_pattern is not None and self._excluded_pattern.search(param.name))
            self._decay_cache[id(param)] = use
        return use

    def _apply_weight_decay(self, runs, lr: float) -> None:
        factor = self.weight_decay * lr
        for run in runs:
            if all(self._use_weight_decay(p) for p in run.params):
                np.multiply(run.w, factor, out=run.tmp)
                run.w -= run.tmp
            else:
                for p in run.params:
                    if self._use_weight_decay(p):
                        p.data -= p.data * factor

    # -- exponential moving average of the weights --------------------------------------
    def _initial_slot(self, name, size, dtype):
        if name == "average":
            return np.zeros(size, dtype=dtype)
        return super()._initial_slot(name, size, dtype)

    def _update_average(self, runs) -> None:
        momentum = self.ema_momentum if self.iterations else 0.0  # the first step copies w
        frequency = self.ema_overwrite_frequency
        overwrite = frequency is not None and frequency > 0 and (self.iterations + 1) % frequency == 0
        for run in runs:
            average = run.slots["average"]
            average *= momentum
            np.multiply(run.w, 1.0 - momentum, out=run.tmp)
            average += run.tmp
            if overwrite:
                np.copyto(run.w, average)

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, overwrite the parameters in ``var_list`` with their moving
        average (Keras' ``fit`` calls this after the last epoch)."""
        if self.use_ema and self.iterations:
            for p in var_list:
                if p.trainable:
                    p.data[...] = self.get_slot(p, "average")

    # -- config -----------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, **{k: None for k in ("weight_decay", *_CLIP_ARGS)},
                  **super().get_config(), "use_ema": self.use_ema,
                  "ema_momentum": self.ema_momentum,
                  "ema_overwrite_frequency": self.ema_overwrite_frequency,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None}
        if self.decay is not None:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        config = dict(config)
        schedule = config.get("learning_rate")
        if isinstance(schedule, dict) and isinstance(schedule.get("config"), dict):
            # Keras' schedules name themselves; neuralab's take no name
            config["learning_rate"] = {**schedule, "config": {
                k: v for k, v in schedule["config"].items() if k != "name"}}
        return super().from_config(config)


_register = saving.register_keras_serializable(package="keras")


@_register
class SGD(_KerasOptimizer, optimizers.SGD):
    """Gradient descent with optional (Nesterov) momentum, as Keras 3 writes it::

        v = momentum * v - lr * g
        w += momentum * v - lr * g   if nesterov   else   w += v

    With ``momentum=0``: ``w -= lr * g`` (``nesterov`` then changes nothing).

    Example::

        SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
    """

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs):
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        super().__init__(learning_rate, momentum, False, **kwargs)
        self.nesterov = bool(nesterov)

    def _update(self, w, g, s, tmp, lr, t):
        np.multiply(g, lr, out=tmp)
        if not self.momentum:
            w -= tmp
            return
        v = s["velocity"]
        v *= self.momentum
        v -= tmp
        if self.nesterov:
            step = v * self.momentum
            step -= tmp
            w += step
        else:
            w += v


@_register
class Adam(_KerasOptimizer, optimizers.Adam):
    """Adam as Keras 3 writes it (``epsilon`` added to ``sqrt(v)``, not bias-corrected)::

        m += (1 - b1) (g - m)           v += (1 - b2) (g^2 - v)
        w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    ``amsgrad`` divides by the running maximum of ``v``.

    Example::

        Adam(learning_rate=1e-3, amsgrad=True, weight_decay=1e-4)
    """

    def _update(self, w, g, s, tmp, lr, t):
        m = s["m"]
        alpha = lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        v = self._moments(g, s, tmp)
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= alpha
        w -= tmp


@_register
class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3: Adam whose ``weight_decay`` defaults to
    0.004 and may not be ``None``).

    Example::

        AdamW(learning_rate=1e-3, weight_decay=0.004)
    """

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay,
                         **kwargs)


@_register
class RMSprop(_KerasOptimizer, optimizers.RMSprop):
    """RMSprop as Keras 3 writes it (``epsilon`` inside the root)::

        s = rho s + (1 - rho) g^2
        step = lr g / sqrt(s + eps)      centered: lr g / sqrt(s - a^2 + eps),
                                          a = rho a + (1 - rho) g
        w -= step                         momentum: u = momentum u + step; w -= u

    Example::

        RMSprop(learning_rate=1e-3, rho=0.9, momentum=0.9, centered=True)
    """

    def _update(self, w, g, s, tmp, lr, t):
        rho = self.rho
        velocity = s["velocity"]
        velocity *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        velocity += tmp
        if self.centered:
            average = s["average_gradient"]
            average *= rho
            np.multiply(g, 1 - rho, out=tmp)
            average += tmp
            np.multiply(average, average, out=tmp)
            np.subtract(velocity, tmp, out=tmp)
            tmp += self.epsilon
        else:
            np.add(velocity, self.epsilon, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        if self.momentum > 0:
            buf = s["momentum"]
            buf *= self.momentum
            buf += tmp
            w -= buf
        else:
            w -= tmp


@_register
class Adagrad(_KerasOptimizer, optimizers.Adagrad):
    """Adagrad as Keras 3 writes it: ``s += g^2``; ``w -= lr g / sqrt(s + eps)``, ``s``
    starting at ``initial_accumulator_value`` (0.1).

    Example::

        Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6)
    """

    def _update(self, w, g, s, tmp, lr, t):
        accumulator = s["accumulator"]
        np.multiply(g, g, out=tmp)
        accumulator += tmp
        np.add(accumulator, self.epsilon, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        w -= tmp


_CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}
_NAMES = {name.lower(): cls for name, cls in _CLASSES.items()}


def get(identifier) -> Optimizer | None:
    """Keras' ``optimizers.get``: ``"adam"`` and the other names give *these* classes, an
    Optimizer instance passes through, a config dict is deserialized, ``None`` gives ``None``."""
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    if isinstance(identifier, Mapping) and "class_name" in identifier:
        return deserialize(identifier)
    return optimizers.get(identifier)


def deserialize(config, custom_objects: dict | None = None) -> Optimizer:
    """Inverse of :func:`serialize`; a config naming ``"Adam"`` (no registered name, as
    Keras writes it) gives this module's Adam, not neuralab's."""
    return optimizers.deserialize(config, {**_CLASSES, **(custom_objects or {})})
