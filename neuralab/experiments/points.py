"""From an experiment's base configuration to its sweep points: grid x variants.

A *point* is one setting of the swept fields (its name reads like ``learning_rate=0.01``).
Each point is resolved and validated once, when the experiment is loaded: its
configuration goes through the same checks as the base (:mod:`.config`), so a swept path
that names no field, or a value a field does not take, fails with the point and the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field

from .config import ExperimentError, apply_overrides, check_builds, check_tables, split_path


@dataclass(frozen=True)
class Point:
    """One sweep point: ``overrides`` ((path, value), ...) applied to the base give
    ``config``, its validated tables."""

    index: int
    name: str
    overrides: tuple
    config: dict = field(default_factory=dict, compare=False, repr=False)


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


def _axes(sweep: dict, source: str) -> list[list[tuple[str, tuple]]]:
    """Each grid axis as a list of choices; a choice is a label and ((path, value), ...)."""
    all_paths = [p.strip() for key in sweep for p in key.split(",")]
    axes = []
    for key, values in sweep.items():
        paths = [p.strip() for p in key.split(",")]
        if not isinstance(values, list) or not values:
            raise ExperimentError(f"sweep.{key!r}: expected a non-empty list of values", source)
        choices = []
        for value in values:
            if len(paths) > 1:
                if not isinstance(value, list) or len(value) != len(paths):
                    raise ExperimentError(f"sweep.{key!r}: each value must be a list of "
                                          f"{len(paths)} (one per path), got {value!r}", source)
                pairs = tuple(zip(paths, value))
            else:
                pairs = ((paths[0], value),)
            label = ", ".join(f"{_label(p, all_paths)}={_show(v)}" for p, v in pairs)
            choices.append((label, pairs))
        axes.append(choices)
    return axes


def _named_overrides(sweep: dict, variants: list, source: str) -> list[tuple[str, tuple]]:
    """(name, overrides) of every point: variants x grid, in file order (the first axis
    varies slowest)."""
    grid = list(itertools.product(*_axes(sweep, source))) if sweep else [()]
    out = []
    for variant in variants or [{}]:
        variant = dict(variant)
        variant_name = variant.pop("name", None)
        if variants and variant_name is None:
            raise ExperimentError("variants: every [[variants]] table needs a name = \"...\"",
                                  source)
        for combo in grid:
            labels = ([str(variant_name)] if variant_name is not None else []) + \
                [label for label, _ in combo]
            overrides = tuple(variant.items()) + tuple(pair for _, pairs in combo for pair in pairs)
            out.append((", ".join(labels) or "default", overrides))
    names = [name for name, _ in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExperimentError(f"sweep points repeat: {duplicates}", source)
    return out


def resolve_points(base: dict, sweep: dict, variants: list, source: str) -> list[Point]:
    """Every point with its configuration, each checked like the base: tables and keys,
    then a build of its model, optimizer, loss and callbacks (once per distinct setting)."""
    points: list[Point] = []
    built: set[str] = set()
    seen: dict[str, str] = {}
    for index, (name, overrides) in enumerate(_named_overrides(sweep, variants, source)):
        where = source if name == "default" else f"{source}: sweep point {name!r}"
        config = apply_overrides(base, dict(overrides), source, f"sweep point {name!r}, key")
        check_tables(config, where)
        build_key = json.dumps([config["model"], config["compile"], config["fit"]["callbacks"]],
                               sort_keys=True, default=str) if "study" not in config else ""
        if "study" not in config and build_key not in built:
            check_builds(config, where)
            built.add(build_key)
        key = config_key(config)
        if key in seen:
            raise ExperimentError(
                f"the same settings as sweep point {seen[key]!r} (expected every point to "
                "change something: check the swept paths and values)", where)
        seen[key] = name
        points.append(Point(index, name, overrides, config))
    return points


def config_key(config: dict) -> str:
    """A short hash of ``config``: equal settings, equal key."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
