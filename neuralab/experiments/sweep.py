"""From an experiment's points to its trials: points x seeds.

A *trial* is one point (:mod:`.points`) trained with one seed. Each trial carries its
resolved configuration and a key (a hash of it): results on disk are reused only for an
equal key. Imports go one way: ``config`` <- ``points`` <- ``spec`` <- ``sweep``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .points import Point, config_key
from .spec import Experiment
from .store import slug

__all__ = ["Point", "Trial", "config_key", "expand_points", "expand_trials", "point_config"]


@dataclass(frozen=True)
class Trial:
    """One point trained with one seed: ``config`` is the point's with ``seed`` set, ``key``
    a hash of it, and ``id`` the trial's folder name (``p03-units=4-s1``)."""

    id: str
    point: Point
    seed: int
    config: dict
    key: str


def expand_points(experiment: Experiment) -> list[Point]:
    """The experiment's points, resolved when it was loaded."""
    return list(experiment.points)


def point_config(experiment: Experiment, point: Point) -> dict:
    """A copy of ``point``'s resolved configuration."""
    return copy.deepcopy(point.config)


def expand_trials(experiment: Experiment) -> list[Trial]:
    """Every (point, seed) pair with its resolved config (``config["seed"]`` set)."""
    trials = []
    for point in experiment.points:
        for seed in experiment.seeds:
            config = copy.deepcopy(point.config)
            config["seed"] = seed
            trial_id = f"p{point.index:02d}-{slug(point.name, fallback='point')}-s{seed}"
            trials.append(Trial(trial_id, point, seed, config, config_key(config)))
    return trials
