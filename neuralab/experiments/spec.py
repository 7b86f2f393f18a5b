"""Experiment files: TOML in, a validated :class:`Experiment` out.

An experiment names its data, model, compile and fit settings, and optionally a sweep
(a grid over any field), variants (named sets of overrides) and trials (seeds)::

    name = "lr-sweep"
    seed = 0

    [data]
    loader = "mnist"            # see neuralab.experiments.data for loaders and options
    scale = "unit"

    [model]
    layers = [{type = "Flatten"}, {type = "Dense", units = 100, activation = "sigmoid"},
              {type = "Dense", units = 10, activation = "softmax"}]

    [compile]
    optimizer = {type = "adam", learning_rate = 0.001}
    loss = "sparse_categorical_crossentropy"
    metrics = ["accuracy"]

    [fit]
    epochs = 30
    batch_size = 100

    [sweep]                      # every combination: 3 x 2 points
    "compile.optimizer.learning_rate" = [0.1, 0.01, 0.001]
    "model.layers.1.units" = [50, 100]

    [trials]
    count = 3                    # seeds seed, seed+1, seed+2 for every point

Paths address any field with dots (list items by index). A sweep key may join several
paths with commas to vary them together: ``"a.b,c.d" = [[1, 2], [3, 4]]``. ``[[variants]]``
tables (``name`` plus path = value overrides) are crossed with the grid. ``[quick]``
holds overrides that ``--quick`` applies (``"fit.epochs" = 5``; ``sweep``/``variants``
replace those tables wholesale). Every problem is reported with the key that caused it,
and every sweep point is checked like the base when the file is loaded.

An experiment that computes instead of training has a ``[study]`` table in place of
data, model, compile and fit (see :mod:`.studies`).

``name`` titles the report; made a safe folder name (:func:`~.store.slug`) it also gives
the default results folder, ``results/<name>``, which never leads outside ``results/``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .config import (
    ExperimentError,
    apply_overrides,
    check_keys,
    check_tables,
    fail,
    get_path,
    positive_int,
    set_path,
    split_path,
    table,
)
from .points import Point, resolve_points

SECTIONS = ("name", "description", "seed", "data", "model", "compile", "fit", "analysis",
            "study", "sweep", "variants", "trials", "report", "quick")
WHOLE_TABLES = ("sweep", "variants", "trials", "report")  # overrides replace these whole
TRIALS_KEYS = ("count", "seeds")
REPORT_KEYS = ("select", "headline", "seed_value", "seed_note", "max_points_plotted")

__all__ = ["Experiment", "ExperimentError", "load_experiment", "parse_experiment", "validate",
           "parse_value", "split_path", "get_path", "set_path", "apply_overrides"]


@dataclass
class Experiment:
    """A validated experiment. ``base`` holds the data/model/compile/fit/analysis tables;
    ``points`` every sweep point with its resolved, validated configuration."""

    name: str
    base: dict
    description: str = ""
    seed: int = 0
    sweep: dict = field(default_factory=dict)
    variants: list = field(default_factory=list)
    seeds: list = field(default_factory=lambda: [0])
    report: dict = field(default_factory=dict)
    source: str = "<string>"
    document: dict = field(default_factory=dict)  # the TOML as read (after overrides)
    points: list[Point] = field(default_factory=list)


def parse_value(text: str):
    """A command-line value as TOML (``0.1``, ``[1, 2]``, ``true``), else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# -- loading -----------------------------------------------------------------------------
def load_experiment(path, quick: bool = False, overrides: dict | None = None) -> Experiment:
    """Read and validate an experiment file (``overrides``: ``{"fit.epochs": 3, ...}``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError("no such experiment file", path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ExperimentError(f"cannot read the experiment file ({error})", path,
                              "a UTF-8 TOML file") from None
    return parse_experiment(text, source=str(path), default_name=path.stem, quick=quick,
                            overrides=overrides)


def parse_experiment(text: str, source: str = "<string>", default_name: str = "experiment",
                     quick: bool = False, overrides: dict | None = None) -> Experiment:
    """Validate the TOML ``text`` (named ``source`` in messages); ``quick`` applies its
    ``[quick]`` table, then ``overrides`` apply."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ExperimentError(f"invalid TOML: {error}", source) from None
    if quick:
        doc = apply_overrides(doc, table(source, "quick", doc.get("quick", {})), source,
                              "[quick]", whole=WHOLE_TABLES)
    if overrides:
        doc = apply_overrides(doc, overrides, source, "override", whole=WHOLE_TABLES)
    return validate(doc, source, default_name)


def validate(doc: dict, source: str = "<string>", default_name: str = "experiment") -> Experiment:
    """Check every section (structure and types; names of layers, optimizers, losses,
    loaders and callbacks are resolved too), resolve every sweep point and check it the
    same way, and return the :class:`Experiment`."""
    check_keys(source, "", doc, SECTIONS)
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        fail(source, "name", f"expected a non-empty string, got {name!r}")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        fail(source, "seed", f"expected an integer, got {seed!r}")
    sections = ("data", "model", "compile", "fit", "analysis") + (
        ("study",) if "study" in doc else ())
    base = check_tables({key: doc.get(key, {}) for key in sections}, source)
    seeds = _check_trials(source, table(source, "trials", doc.get("trials", {})), seed)
    report = table(source, "report", doc.get("report", {}))
    check_keys(source, "report", report, REPORT_KEYS)
    sweep = table(source, "sweep", doc.get("sweep", {}))
    variants = doc.get("variants", [])
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        fail(source, "variants", "expected [[variants]] tables")
    points = resolve_points(base, sweep, variants, source)
    return Experiment(name=name, base=base, description=str(doc.get("description", "")),
                      seed=seed, sweep=sweep, variants=variants, seeds=seeds, report=report,
                      source=source, document=doc, points=points)


def _check_trials(source, trials: dict, seed: int) -> list[int]:
    check_keys(source, "trials", trials, TRIALS_KEYS)
    if "seeds" in trials and "count" in trials:
        fail(source, "trials", "give count = N or seeds = [...], not both")
    if "seeds" in trials:
        seeds = trials["seeds"]
        if (not isinstance(seeds, list) or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
            fail(source, "trials.seeds", f"expected a non-empty list of integers, got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            fail(source, "trials.seeds", f"seeds repeat: {seeds}")
        return list(seeds)
    count = positive_int(source, "trials.count", trials.get("count", 1))
    return [seed + i for i in range(count)]
