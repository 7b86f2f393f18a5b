"""From an :class:`Experiment` to the list of trials to run: sweep points x seeds.

A *point* is one setting of the swept fields (its name reads like ``learning_rate=0.01``);
a *trial* is one point trained with one seed. Each trial carries its fully resolved
configuration and a key (a hash of it): results on disk are reused only for an equal key.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass

from .spec import ExperimentError, apply_overrides, split_path


@dataclass(frozen=True)
class Point:
    index: int
    name: str
    overrides: tuple  # ((path, value), ...), in the order they apply


@dataclass(frozen=True)
class Trial:
    id: str
    point: Point
    seed: int
    config: dict
    key: str


def _label(path: str, paths_in_sweep: list[str]) -> str:
    """The last path component, unless another swept path ends the same way."""
    last = str(split_path(path)[-1])
    clashes = [p for p in paths_in_sweep if str(split_path(p)[-1]) == last]
    return last if len(clashes) == 1 else path


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _axes(experiment) -> list[list[tuple[str, tuple]]]:
    """Each grid axis as a list of choices; a choice is ((path, value), ...) plus a label."""
    source = experiment.source
    all_paths = [p.strip() for key in experiment.sweep for p in key.split(",")]
    axes = []
    for key, values in experiment.sweep.items():
        paths = [p.strip() for p in key.split(",")]
        if not isinstance(values, list) or not values:
            raise ExperimentError(f"{source}: sweep.{key!r}: expected a non-empty list of values")
        choices = []
        for value in values:
            if len(paths) > 1:
                if not isinstance(value, list) or len(value) != len(paths):
                    raise ExperimentError(
                        f"{source}: sweep.{key!r}: each value must be a list of {len(paths)} "
                        f"(one per path), got {value!r}")
                pairs = tuple(zip(paths, value))
            else:
                pairs = ((paths[0], value),)
            label = ", ".join(f"{_label(p, all_paths)}={_show(v)}" for p, v in pairs)
            choices.append((label, pairs))
        axes.append(choices)
    return axes


def expand_points(experiment) -> list[Point]:
    """Variants x grid, in file order (the first axis varies slowest)."""
    variants = experiment.variants or [{}]
    grid = list(itertools.product(*_axes(experiment))) if experiment.sweep else [()]
    points = []
    for variant in variants:
        variant = dict(variant)
        variant_name = variant.pop("name", None)
        if variant and experiment.variants and variant_name is None:
            raise ExperimentError(f"{experiment.source}: variants: every [[variants]] table "
                                  "needs a name = \"...\"")
        for combo in grid:
            labels = ([str(variant_name)] if variant_name is not None else []) + \
                [label for label, _ in combo]
            overrides = tuple(variant.items()) + tuple(pair for _, pairs in combo for pair in pairs)
            points.append(Point(len(points), ", ".join(labels) or "default", overrides))
    names = [p.name for p in points]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExperimentError(f"{experiment.source}: sweep points repeat: {duplicates}")
    return points


def point_config(experiment, point: Point) -> dict:
    return apply_overrides(experiment.base, dict(point.overrides), experiment.source,
                           f"sweep point {point.name!r}, key")


def config_key(config: dict) -> str:
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _slug(text: str, limit: int = 48) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_")
    return slug[:limit] or "point"


def expand_trials(experiment) -> list[Trial]:
    """Every (point, seed) pair with its resolved config (``config["seed"]`` set)."""
    trials = []
    for point in expand_points(experiment):
        base = point_config(experiment, point)
        for seed in experiment.seeds:
            config = copy.deepcopy(base)
            config["seed"] = seed
            trial_id = f"p{point.index:02d}-{_slug(point.name)}-s{seed}"
            trials.append(Trial(trial_id, point, seed, config, config_key(config)))
    return trials


def check_sweep(experiment) -> None:
    """Resolve every point and check that its model, compile and fit settings build."""
    from .build import check_config
    for point in expand_points(experiment):
        config = point_config(experiment, point)
        try:
            check_config(config)
        except (ValueError, TypeError, KeyError) as error:
            where = "" if point.name == "default" else f" (sweep point {point.name!r})"
            raise ExperimentError(f"{experiment.source}{where}: {error}") from None
