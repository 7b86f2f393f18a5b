"""Learning-rate schedules: ``schedule(step) -> learning rate``.

``step`` counts optimizer updates from 0 (the first update uses ``schedule(0)``), as in
Keras. Pass a schedule wherever a learning rate is accepted::

    Adam(learning_rate=ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.5))
"""

from __future__ import annotations

import bisect
import math

from .registry import Registry


class LearningRateSchedule:
    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _positive(name: str, value, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number {bound})")
    return value


class Constant(LearningRateSchedule):
    def __init__(self, learning_rate: float):
        self.learning_rate = _positive("learning_rate", learning_rate, allow_zero=True)

    def __call__(self, step):
        return self.learning_rate

    def get_config(self):
        return {"learning_rate": self.learning_rate}


class StepDecay(LearningRateSchedule):
    """``lr0 * drop ** floor(step / step_size)`` (PyTorch ``StepLR`` counted in updates)."""

    def __init__(self, initial_learning_rate: float, step_size: int, drop: float = 0.5):
        self.initial_learning_rate = _positive("initial_learning_rate", initial_learning_rate)
        self.step_size = int(_positive("step_size", step_size))
        self.drop = _positive("drop", drop)

    def __call__(self, step):
        return self.initial_learning_rate * self.drop ** (step // self.step_size)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "step_size": self.step_size, "drop": self.drop}


class ExponentialDecay(LearningRateSchedule):
    """``lr0 * decay_rate ** (step / decay_steps)``; integer exponent with ``staircase``."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False):
        self.initial_learning_rate = _positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _positive("decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase}


class CosineDecay(LearningRateSchedule):
    """Cosine from ``lr0`` down to ``alpha * lr0`` over ``decay_steps``, then flat (Keras)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0):
        self.initial_learning_rate = _positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.alpha = _positive("alpha", alpha, allow_zero=True)

    def __call__(self, step):
        progress = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]`` (Keras semantics)."""

    def __init__(self, boundaries, values):
        boundaries, values = [int(b) for b in boundaries], [float(v) for v in values]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay needs len(values) == len(boundaries) + 1, "
                             f"got {len(values)} values for {len(boundaries)} boundaries")
        if boundaries != sorted(boundaries):
            raise ValueError(f"PiecewiseConstantDecay boundaries must increase, got {boundaries}")
        for v in values:
            _positive("learning rate value", v, allow_zero=True)
        self.boundaries, self.values = boundaries, values

    def __call__(self, step):
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values}


_REGISTRY = Registry("schedule", LearningRateSchedule, case_sensitive=True,
                     classes=(Constant, StepDecay, ExponentialDecay, CosineDecay,
                              PiecewiseConstantDecay))


def get(identifier) -> LearningRateSchedule:
    """Resolve a class name, a config dict, or a LearningRateSchedule."""
    return _REGISTRY.get(identifier)


def serialize(schedule: LearningRateSchedule) -> dict:
    return _REGISTRY.serialize(schedule)


def deserialize(config, custom_objects: dict | None = None) -> LearningRateSchedule:
    """Inverse of :func:`serialize`; ``custom_objects`` maps names to your own classes."""
    return _REGISTRY.deserialize(config, custom_objects)
