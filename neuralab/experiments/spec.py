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
replace those tables wholesale). Every problem is reported with the key that caused it.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

SECTIONS = ("name", "description", "seed", "data", "model", "compile", "fit", "analysis",
            "sweep", "variants", "trials", "report", "quick")
MODEL_KEYS = ("layers", "architecture", "options", "layer_defaults", "dtype")
COMPILE_KEYS = ("optimizer", "loss", "metrics")
FIT_KEYS = ("epochs", "batch_size", "shuffle", "callbacks", "validation", "validation_batch_size")
ANALYSIS_KEYS = ("per_trial", "gradient_norm_every")
TRIALS_KEYS = ("count", "seeds")
REPORT_KEYS = ("select", "headline", "seed_value", "seed_note", "max_points_plotted")
VALIDATION_CHOICES = ("auto", "val", "test", "none")


class ExperimentError(ValueError):
    """An experiment file is invalid; the message names the file and the key."""


@dataclass
class Experiment:
    """A validated experiment. ``base`` holds the data/model/compile/fit/analysis tables."""

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


def _fail(source: str, where: str, problem: str):
    raise ExperimentError(f"{source}: {where}: {problem}")


def _suggest(key: str, accepted) -> str:
    close = difflib.get_close_matches(key, list(accepted), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; accepted: {', '.join(accepted)}"


def _check_keys(source: str, where: str, table: dict, accepted) -> None:
    for key in table:
        if key not in accepted:
            _fail(source, f"{where}.{key}" if where else key,
                  "unknown key" + _suggest(key, accepted))


def _positive_int(source, where, value, allow_zero=False):
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(source, where, f"expected a {'non-negative' if allow_zero else 'positive'} "
                             f"integer, got {value!r}")
    return value


def _table(source, where, value) -> dict:
    if not isinstance(value, dict):
        _fail(source, where, f"expected a table, got {type(value).__name__} {value!r}")
    return value


def _typed(source, where, value, what: str):
    """A name or a ``{type = ...}`` table (optimizer, loss, layer, callback, ...)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if not isinstance(value.get("type"), str):
            _fail(source, where, f"a {what} table needs type = \"...\", got {value!r}")
        return value
    _fail(source, where, f"expected a {what} name or a table with type = ..., got {value!r}")


# -- paths -------------------------------------------------------------------------------
def split_path(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def get_path(doc, path: str):
    node = doc
    for part in split_path(path):
        node = node[part]
    return node


def set_path(doc: dict, path: str, value) -> None:
    """Set ``doc[a][b][0]...`` for ``"a.b.0..."``; missing tables are created, and a name
    (``optimizer = "adam"``) becomes ``{type = "adam"}`` when a field below it is set."""
    parts = split_path(path)
    node = doc
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not isinstance(part, int) or not -len(node) <= part < len(node):
                raise KeyError(f"index {part!r} is outside a list of {len(node)}")
        elif part not in node:
            node[part] = {}
        child = node[part]
        if isinstance(child, str):
            child = node[part] = {"type": child}
        elif not isinstance(child, (dict, list)):
            raise KeyError(f"{'.'.join(map(str, parts[:i + 1]))} is a value, not a table")
        node = child
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last < len(node):
            raise KeyError(f"index {last!r} is outside a list of {len(node)}")
    node[last] = copy.deepcopy(value)


def apply_overrides(doc: dict, overrides: dict, source: str, what: str) -> dict:
    """A copy of ``doc`` with ``path = value`` overrides (``sweep``/``variants``/``trials``
    given whole replace those tables)."""
    doc = copy.deepcopy(doc)
    for path, value in overrides.items():
        if path in ("sweep", "variants", "trials", "report"):
            doc[path] = copy.deepcopy(value)
            continue
        try:
            set_path(doc, path, value)
        except (KeyError, IndexError, TypeError) as error:
            reason = error.args[0] if error.args else type(error).__name__
            _fail(source, f"{what} {path!r}", f"cannot set this path: {reason}")
    return doc


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
        raise ExperimentError(f"{path}: no such experiment file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ExperimentError(f"{path}: cannot read the experiment file ({error})") from None
    return parse_experiment(text, source=str(path), default_name=path.stem, quick=quick,
                            overrides=overrides)


def parse_experiment(text: str, source: str = "<string>", default_name: str = "experiment",
                     quick: bool = False, overrides: dict | None = None) -> Experiment:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ExperimentError(f"{source}: invalid TOML: {error}") from None
    if quick:
        doc = apply_overrides(doc, _table(source, "quick", doc.get("quick", {})), source, "[quick]")
    if overrides:
        doc = apply_overrides(doc, overrides, source, "override")
    return validate(doc, source, default_name)


def validate(doc: dict, source: str = "<string>", default_name: str = "experiment") -> Experiment:
    """Check every section (structure and types; names of layers, optimizers, losses,
    loaders and callbacks are resolved too) and return the :class:`Experiment`."""
    from .sweep import check_sweep  # the sweep module validates paths against the base

    _check_keys(source, "", doc, SECTIONS)
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        _fail(source, "name", f"expected a non-empty string, got {name!r}")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        _fail(source, "seed", f"expected an integer, got {seed!r}")
    base = {}
    base["data"] = _check_data(source, _table(source, "data", doc.get("data", {})))
    base["model"] = _check_model(source, _table(source, "model", doc.get("model", {})))
    base["compile"] = _check_compile(source, _table(source, "compile", doc.get("compile", {})))
    base["fit"] = _check_fit(source, _table(source, "fit", doc.get("fit", {})))
    base["analysis"] = _check_analysis(source, _table(source, "analysis", doc.get("analysis", {})))
    seeds = _check_trials(source, _table(source, "trials", doc.get("trials", {})), seed)
    report = _table(source, "report", doc.get("report", {}))
    _check_keys(source, "report", report, REPORT_KEYS)
    sweep = _table(source, "sweep", doc.get("sweep", {}))
    variants = doc.get("variants", [])
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        _fail(source, "variants", "expected [[variants]] tables")
    experiment = Experiment(name=name, base=base, description=str(doc.get("description", "")),
                            seed=seed, sweep=sweep, variants=variants, seeds=seeds, report=report,
                            source=source, document=doc)
    check_sweep(experiment)
    return experiment


def _check_data(source, data: dict) -> dict:
    from .data import check_data_options
    if "loader" not in data:
        _fail(source, "data.loader", "missing: name the data loader, e.g. loader = \"mnist\"")
    try:
        check_data_options(data)
    except (ValueError, TypeError) as error:
        _fail(source, "data", str(error))
    return data


def _check_model(source, model: dict) -> dict:
    _check_keys(source, "model", model, MODEL_KEYS)
    has_layers, has_arch = "layers" in model, "architecture" in model
    if has_layers == has_arch:
        _fail(source, "model", "give either layers = [...] or architecture = \"...\" (exactly one)")
    if has_layers:
        layers = model["layers"]
        if not isinstance(layers, list) or not layers:
            _fail(source, "model.layers", "expected a non-empty list of {type = ...} tables")
        for i, layer in enumerate(layers):
            _typed(source, f"model.layers.{i}", layer, "layer")
        _table(source, "model.layer_defaults", model.get("layer_defaults", {}))
    else:
        if not isinstance(model["architecture"], str):
            _fail(source, "model.architecture", f"expected a name, got {model['architecture']!r}")
        _table(source, "model.options", model.get("options", {}))
        if "layer_defaults" in model:
            _fail(source, "model.layer_defaults", "applies to layers = [...], not to a named "
                                                  "architecture")
    return model


def _check_compile(source, table: dict) -> dict:
    _check_keys(source, "compile", table, COMPILE_KEYS)
    if "loss" not in table:
        _fail(source, "compile.loss", "missing: e.g. loss = \"sparse_categorical_crossentropy\"")
    _typed(source, "compile.loss", table["loss"], "loss")
    _typed(source, "compile.optimizer", table.setdefault("optimizer", "adam"), "optimizer")
    metrics = table.setdefault("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        _fail(source, "compile.metrics", f"expected a list of metric names, got {metrics!r}")
    return table


def _check_fit(source, table: dict) -> dict:
    _check_keys(source, "fit", table, FIT_KEYS)
    _positive_int(source, "fit.epochs", table.setdefault("epochs", 1))
    _positive_int(source, "fit.batch_size", table.setdefault("batch_size", 32))
    if "validation_batch_size" in table:
        _positive_int(source, "fit.validation_batch_size", table["validation_batch_size"])
    if not isinstance(table.setdefault("shuffle", True), bool):
        _fail(source, "fit.shuffle", f"expected true or false, got {table['shuffle']!r}")
    if table.setdefault("validation", "auto") not in VALIDATION_CHOICES:
        _fail(source, "fit.validation", f"expected one of {VALIDATION_CHOICES}, got "
                                        f"{table['validation']!r}")
    callbacks = table.setdefault("callbacks", [])
    if not isinstance(callbacks, list):
        _fail(source, "fit.callbacks", "expected a list of {type = ...} tables")
    for i, cb in enumerate(callbacks):
        _typed(source, f"fit.callbacks.{i}", cb, "callback")
    return table


def _check_analysis(source, table: dict) -> dict:
    from .analyses import ANALYSES
    _check_keys(source, "analysis", table, ANALYSIS_KEYS)
    per_trial = table.setdefault("per_trial", [])
    if not isinstance(per_trial, list):
        _fail(source, "analysis.per_trial", f"expected a list of names, got {per_trial!r}")
    for i, name in enumerate(per_trial):
        if name not in ANALYSES:
            _fail(source, f"analysis.per_trial.{i}", f"unknown analysis {name!r}"
                  + _suggest(str(name), sorted(ANALYSES)))
    if "gradient_norm_every" in table:
        _positive_int(source, "analysis.gradient_norm_every", table["gradient_norm_every"])
    return table


def _check_trials(source, table: dict, seed: int) -> list[int]:
    _check_keys(source, "trials", table, TRIALS_KEYS)
    if "seeds" in table and "count" in table:
        _fail(source, "trials", "give count = N or seeds = [...], not both")
    if "seeds" in table:
        seeds = table["seeds"]
        if (not isinstance(seeds, list) or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
            _fail(source, "trials.seeds", f"expected a non-empty list of integers, got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            _fail(source, "trials.seeds", f"seeds repeat: {seeds}")
        return list(seeds)
    count = _positive_int(source, "trials.count", table.get("count", 1))
    return [seed + i for i in range(count)]
