"""Turning a trial's resolved tables into objects: the model, its compile arguments, callbacks.

A named object is a string (``"adam"``) or a table with ``type`` and constructor arguments
(``{type = "adam", learning_rate = 0.01}``). Inside layer tables, ``*_initializer`` and
``*_regularizer`` values are named objects too (``kernel_initializer = {type =
"RandomNormal", stddev = 0.02}``), and an optimizer's ``learning_rate`` may be a schedule
table (``{type = "ExponentialDecay", ...}``). Your own layer or callback classes are named
by import path: ``{type = "mypackage.layers:Gaussian", ...}``.
"""

from __future__ import annotations

from .. import callbacks as callbacks_module
from .. import initializers, losses, optimizers, regularizers, schedules


def _class_by_name(module, name: str, kind: str, base: type):
    classes = {n: c for n, c in vars(module).items()
               if isinstance(c, type) and issubclass(c, base) and c is not base}
    for candidate, cls in classes.items():
        if candidate.lower() == name.lower():
            return cls
    raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(classes))}")


def _named(spec, where: str, resolve, kind: str, convert=None):
    """``resolve(name)`` gives an instance for a name; a table builds its class with kwargs."""
    try:
        if isinstance(spec, str):
            return resolve(spec)
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        if convert:
            kwargs = convert(kwargs, where)
        return type(resolve(spec["type"]))(**kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


def _layer_arguments(kwargs: dict, where: str) -> dict:
    out = dict(kwargs)
    for key, value in kwargs.items():
        if isinstance(value, (str, dict)) and key.endswith("_initializer"):
            out[key] = _named(value, f"{where}.{key}", initializers.get, "initializer")
        elif isinstance(value, (str, dict)) and key.endswith("_regularizer"):
            out[key] = _named(value, f"{where}.{key}", regularizers.get, "regularizer")
        elif isinstance(value, list) and key in ("input_shape", "kernel_size", "pool_size",
                                                 "strides", "target_shape", "dilation_rate"):
            out[key] = tuple(value)
    return out


def import_class(path: str, base: type, kind: str):
    """``"package.module:ClassName"``: a user's own layer or callback class."""
    import importlib
    module_name, _, name = path.partition(":")
    failed = f"{kind} {path!r} could not be imported"
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - the user's module failed while importing
        raise ValueError(f"{failed}: {type(error).__name__}: {error}") from None
    try:
        cls = getattr(module, name)
    except AttributeError:
        raise ValueError(f"{failed}: module {module_name!r} has no {name!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{path!r} is not a {base.__name__} subclass")
    return cls


def build_layer(spec, where: str):
    from ..layers import Layer, get_layer_class
    name = spec if isinstance(spec, str) else spec["type"]
    try:
        cls = import_class(name, Layer, "layer") if ":" in name else get_layer_class(name)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    kwargs = {} if isinstance(spec, str) else _layer_arguments(
        {k: v for k, v in spec.items() if k != "type"}, where)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where} ({name}): {error}") from None


def _with_defaults(spec, defaults: dict):
    """Add ``[model] layer_defaults`` (e.g. a kernel initializer for every layer) to a layer
    table, for the arguments its class accepts and the table does not set."""
    import inspect

    from ..layers import get_layer_class
    if not defaults:
        return spec
    table = {"type": spec} if isinstance(spec, str) else dict(spec)
    try:
        accepted = inspect.signature(get_layer_class(table["type"]).__init__).parameters
    except ValueError:
        return spec  # unknown layer: build_layer reports it
    for key, value in defaults.items():
        if key in accepted and key not in table:
            table[key] = value
    return table


def build_layers(model: dict) -> list:
    if "layers" in model:
        defaults = model.get("layer_defaults", {})
        return [build_layer(_with_defaults(spec, defaults), f"model.layers.{i}")
                for i, spec in enumerate(model["layers"])]
    from ..models import zoo
    try:
        return zoo.get(model["architecture"], **model.get("options", {}))
    except (TypeError, ValueError) as error:
        raise ValueError(f"model.architecture: {error}") from None


def _optimizer_arguments(kwargs: dict, where: str) -> dict:
    rate = kwargs.get("learning_rate")
    if isinstance(rate, dict):
        schedule = _class_by_name(schedules, rate.get("type", ""), "schedule",
                                  schedules.LearningRateSchedule)
        try:
            kwargs = {**kwargs, "learning_rate": schedule(
                **{k: v for k, v in rate.items() if k != "type"})}
        except TypeError as error:
            raise ValueError(f"{where}.learning_rate: {error}") from None
    return kwargs


def build_optimizer(spec):
    return _named(spec, "compile.optimizer", optimizers.get, "optimizer", _optimizer_arguments)


def build_loss(spec):
    return _named(spec, "compile.loss", losses.get, "loss")


def build_callbacks(specs: list) -> list:
    out = []
    for i, spec in enumerate(specs):
        where = f"fit.callbacks.{i}"
        name = spec if isinstance(spec, str) else spec["type"]
        try:
            cls = import_class(name, callbacks_module.Callback, "callback") if ":" in name else \
                _class_by_name(callbacks_module, name, "callback", callbacks_module.Callback)
            if cls in (callbacks_module.History, callbacks_module.CallbackList,
                       callbacks_module.ProgressLogger):
                raise ValueError(f"{name} is added by fit itself")
            kwargs = {} if isinstance(spec, str) else {k: v for k, v in spec.items() if k != "type"}
            out.append(cls(**kwargs))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
    return out


def build_model(config: dict, input_shape: tuple):
    """A compiled ``Sequential`` for ``config`` (model and compile tables)."""
    from ..backend import floatx, set_floatx
    from ..layers import Input
    from ..models import Sequential
    model_table = config["model"]
    previous = floatx()
    set_floatx(model_table.get("dtype") or previous)  # layers take the float type when built
    try:
        model = Sequential([Input(shape=tuple(input_shape))] + build_layers(model_table))
    finally:
        set_floatx(previous)
    compile_table = config["compile"]
    from .. import metrics as metrics_module
    for name in compile_table.get("metrics", []):
        metrics_module.get(name)  # unknown names fail here, before training
    model.compile(optimizer=build_optimizer(compile_table["optimizer"]),
                  loss=build_loss(compile_table["loss"]), metrics=list(compile_table["metrics"]))
    return model


def check_config(config: dict) -> None:
    """Build everything that does not need the data, so that a typo fails at load time."""
    from .. import metrics as metrics_module
    build_layers(config["model"])
    build_optimizer(config["compile"]["optimizer"])
    build_loss(config["compile"]["loss"])
    for i, name in enumerate(config["compile"].get("metrics", [])):
        try:
            metrics_module.get(name)
        except ValueError as error:
            raise ValueError(f"compile.metrics.{i}: {error}") from None
    build_callbacks(config["fit"].get("callbacks", []))
