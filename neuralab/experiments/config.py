"""One trial's configuration: the ``data``, ``model``, ``compile``, ``fit`` and ``analysis``
tables (or, for a study that computes instead of training, the ``study`` table alone; see
:mod:`.studies`), dotted paths into them, and their validation.

The experiment file (:mod:`.spec`) and every sweep point (:mod:`.points`) are checked by
the same :func:`check_tables`, so a sweep over a field that does not exist
(``"fit.epochz" = [1, 2]``) or a value that is not allowed (``"fit.epochs" = [2, -1]``)
fails when the file is loaded, with the key that caused it. This module imports neither
of them: the path is one-directional, ``config`` <- ``points`` <- ``spec`` <- ``sweep``.
"""

from __future__ import annotations

import copy
import difflib

from ..errors import InputError

TRAINING_SECTIONS = ("data", "model", "compile", "fit", "analysis")
CONFIG_SECTIONS = TRAINING_SECTIONS + ("study",)
MODEL_KEYS = ("layers", "architecture", "options", "layer_defaults", "dtype")
COMPILE_KEYS = ("optimizer", "loss", "metrics")
FIT_KEYS = ("epochs", "batch_size", "shuffle", "callbacks", "validation", "validation_batch_size")
ANALYSIS_KEYS = ("per_trial", "gradient_norm_every")
VALIDATION_CHOICES = ("auto", "val", "test", "none")


class ExperimentError(InputError):
    """An experiment file is invalid; the message names the file and the key."""


def fail(source: str, where: str, problem: str):
    raise ExperimentError(f"{where}: {problem}", source)


def suggest(key: str, accepted) -> str:
    close = difflib.get_close_matches(key, list(accepted), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; accepted: {', '.join(accepted)}"


def check_keys(source: str, where: str, table: dict, accepted) -> None:
    for key in table:
        if key not in accepted:
            fail(source, f"{where}.{key}" if where else key,
                 "unknown key" + suggest(str(key), accepted))


def positive_int(source: str, where: str, value, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        fail(source, where, f"expected a {'non-negative' if allow_zero else 'positive'} "
                            f"integer, got {value!r}")
    return value


def table(source: str, where: str, value) -> dict:
    if not isinstance(value, dict):
        fail(source, where, f"expected a table, got {type(value).__name__} {value!r}")
    return value


def _typed(source, where, value, what: str):
    """A name or a ``{type = ...}`` table (optimizer, loss, layer, callback, ...)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if not isinstance(value.get("type"), str):
            fail(source, where, f"a {what} table needs type = \"...\", got {value!r}")
        return value
    fail(source, where, f"expected a {what} name or a table with type = ..., got {value!r}")


# -- paths -------------------------------------------------------------------------------
def split_path(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def get_path(doc, path: str):
    node = doc
    for part in split_path(path):
        node = node[part]
    return node


def _check_index(node: list, part) -> None:
    if not isinstance(part, int) or not -len(node) <= part < len(node):
        raise KeyError(f"index {part!r} is outside a list of {len(node)}")


def set_path(doc: dict, path: str, value) -> None:
    """Set ``doc[a][b][0]...`` for ``"a.b.0..."``; missing tables are created, and a name
    (``optimizer = "adam"``) becomes ``{type = "adam"}`` when a field below it is set."""
    parts = split_path(path)
    node = doc
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            _check_index(node, part)
        elif part not in node:
            node[part] = {}
        child = node[part]
        if isinstance(child, str):
            child = node[part] = {"type": child}
        elif not isinstance(child, (dict, list)):
            raise KeyError(f"{'.'.join(map(str, parts[:i + 1]))} is a value, not a table")
        node = child
    if isinstance(node, list):
        _check_index(node, parts[-1])
    node[parts[-1]] = copy.deepcopy(value)


def apply_overrides(doc: dict, overrides: dict, source: str, what: str,
                    whole: tuple = ()) -> dict:
    """A copy of ``doc`` with ``path = value`` overrides; the top-level keys in ``whole``
    (``sweep``, ``variants``, ...) given whole replace those tables."""
    doc = copy.deepcopy(doc)
    for path, value in overrides.items():
        if path in whole:
            doc[path] = copy.deepcopy(value)
            continue
        try:
            set_path(doc, path, value)
        except (KeyError, IndexError, TypeError) as error:
            reason = error.args[0] if error.args else type(error).__name__
            fail(source, f"{what} {path!r}", f"cannot set this path: {reason}")
    return doc


# -- the tables --------------------------------------------------------------------------
def check_tables(config: dict, source: str) -> dict:
    """Check the structure and types of one configuration's tables, fill in defaults (in
    place) and return it. Unknown tables and keys are errors, with a suggestion."""
    check_keys(source, "", config, CONFIG_SECTIONS)
    if "study" in config:
        return _check_study_config(source, config)
    for name, check in (("data", _check_data), ("model", _check_model),
                        ("compile", _check_compile), ("fit", _check_fit),
                        ("analysis", _check_analysis)):
        config[name] = check(source, table(source, name, config.get(name, {})))
    return config


def _check_study_config(source: str, config: dict) -> dict:
    """A study's configuration is its ``[study]`` table alone: a ``type`` from
    :data:`~.study_kinds.STUDIES` and that study's options (checked by the study, whose
    messages name the option)."""
    from .study_kinds import STUDIES
    for name in TRAINING_SECTIONS:
        if config.get(name):
            fail(source, name, "an experiment with a [study] table computes instead of "
                               "training: expected no [data], [model], [compile], [fit] or "
                               "[analysis] tables beside it")
    study = table(source, "study", config["study"])
    kind = study.get("type")
    names = ", ".join(sorted(STUDIES))
    if kind is None:
        fail(source, "study.type", f"missing: name the study, one of {names}")
    if not isinstance(kind, str):
        fail(source, "study.type", f"expected the study's name (a string), one of {names}; "
                                   f"got {kind!r}")
    if kind not in STUDIES:
        fail(source, "study.type", f"unknown study {kind!r}" + suggest(kind, sorted(STUDIES)))
    try:
        options = STUDIES[kind].check({k: v for k, v in study.items() if k != "type"})
    except (ValueError, TypeError) as error:
        raise ExperimentError(str(error), source) from None
    return {"study": {"type": kind, **options}}


def check_builds(config: dict, source: str) -> None:
    """Build the model's layers, optimizer, loss, metrics and callbacks (no data needed),
    so that a misspelt argument fails at load time."""
    from .build import check_config
    try:
        check_config(config)
    except (ValueError, TypeError, KeyError) as error:
        raise ExperimentError(str(error), source) from None


def _check_data(source, data: dict) -> dict:
    from .data import check_data_options
    if "loader" not in data:
        fail(source, "data.loader", "missing: name the data loader, e.g. loader = \"mnist\"")
    try:
        check_data_options(data)
    except (ValueError, TypeError) as error:
        fail(source, "data", str(error))
    return data


def _check_model(source, model: dict) -> dict:
    check_keys(source, "model", model, MODEL_KEYS)
    has_layers, has_arch = "layers" in model, "architecture" in model
    if has_layers == has_arch:
        fail(source, "model", "give either layers = [...] or architecture = \"...\" (exactly one)")
    if has_layers:
        layers = model["layers"]
        if not isinstance(layers, list) or not layers:
            fail(source, "model.layers", "expected a non-empty list of {type = ...} tables")
        for i, layer in enumerate(layers):
            _typed(source, f"model.layers.{i}", layer, "layer")
        table(source, "model.layer_defaults", model.get("layer_defaults", {}))
    else:
        if not isinstance(model["architecture"], str):
            fail(source, "model.architecture", f"expected a name, got {model['architecture']!r}")
        table(source, "model.options", model.get("options", {}))
        if "layer_defaults" in model:
            fail(source, "model.layer_defaults", "applies to layers = [...], not to a named "
                                                 "architecture")
    return model


def _check_compile(source, compile_table: dict) -> dict:
    check_keys(source, "compile", compile_table, COMPILE_KEYS)
    if "loss" not in compile_table:
        fail(source, "compile.loss", "missing: e.g. loss = \"sparse_categorical_crossentropy\"")
    _typed(source, "compile.loss", compile_table["loss"], "loss")
    _typed(source, "compile.optimizer", compile_table.setdefault("optimizer", "adam"), "optimizer")
    metrics = compile_table.setdefault("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        fail(source, "compile.metrics", f"expected a list of metric names, got {metrics!r}")
    return compile_table


def _check_fit(source, fit: dict) -> dict:
    check_keys(source, "fit", fit, FIT_KEYS)
    positive_int(source, "fit.epochs", fit.setdefault("epochs", 1))
    positive_int(source, "fit.batch_size", fit.setdefault("batch_size", 32))
    if "validation_batch_size" in fit:
        positive_int(source, "fit.validation_batch_size", fit["validation_batch_size"])
    if not isinstance(fit.setdefault("shuffle", True), bool):
        fail(source, "fit.shuffle", f"expected true or false, got {fit['shuffle']!r}")
    if fit.setdefault("validation", "auto") not in VALIDATION_CHOICES:
        fail(source, "fit.validation", f"expected one of {VALIDATION_CHOICES}, got "
                                       f"{fit['validation']!r}")
    callbacks = fit.setdefault("callbacks", [])
    if not isinstance(callbacks, list):
        fail(source, "fit.callbacks", "expected a list of {type = ...} tables")
    for i, callback in enumerate(callbacks):
        _typed(source, f"fit.callbacks.{i}", callback, "callback")
    return fit


def _check_analysis(source, analysis: dict) -> dict:
    from .analyses import ANALYSES
    check_keys(source, "analysis", analysis, ANALYSIS_KEYS)
    per_trial = analysis.setdefault("per_trial", [])
    if not isinstance(per_trial, list):
        fail(source, "analysis.per_trial", f"expected a list of names, got {per_trial!r}")
    for i, name in enumerate(per_trial):
        if name not in ANALYSES:
            fail(source, f"analysis.per_trial.{i}", f"unknown analysis {name!r}"
                 + suggest(str(name), sorted(ANALYSES)))
    if "gradient_norm_every" in analysis:
        positive_int(source, "analysis.gradient_norm_every", analysis["gradient_norm_every"])
    return analysis
