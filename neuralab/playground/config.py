"""The playground's settings: checked on the server, and the experiment document they mean.

A page sends settings as JSON (any subset of :data:`DEFAULTS`); :func:`check_settings`
returns the complete, validated settings or raises :class:`SettingsError` naming the field,
the value and what was expected. :func:`to_document` turns them into an experiment document
(the tables ``neuralab run`` reads: see :mod:`neuralab.experiments.spec`) and
:func:`from_document` reads such a document back, so the page, the exported TOML and the
training in the server all describe one network.
"""

from __future__ import annotations

import math

import numpy as np

from ..datasets.synthetic import FEATURES, expand_features

#: data set -> (experiment loader, its generator, task); the disc is the lecture's data (002)
DATASETS = {
    "disc": ("synthetic", "lecture", "binary"),
    "xor": ("synthetic", "xor", "binary"),
    "circles": ("synthetic", "circles", "binary"),
    "moons": ("synthetic", "moons", "binary"),
    "spirals": ("synthetic", "spirals", "multiclass"),
    "sine": ("sine", None, "regression"),
}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "linear")
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
#: task -> the losses it can train with; the output layer follows from the pair
LOSSES = {
    "binary": ("binary_crossentropy", "mse"),
    "multiclass": ("sparse_categorical_crossentropy",),
    "regression": ("mse", "mae"),
}
SPIRAL_CLASSES = 3
MAX_LAYERS, MAX_UNITS = 6, 16
MIN_SAMPLES, MAX_SAMPLES = 20, 2000
MAX_EPOCHS = 1_000_000

#: the lecture's 2-4-1 sigmoid network on the disc, trained with Adam 0.03 in batches of 100
DEFAULTS: dict = {
    "dataset": "disc", "noise": 0.1, "samples": 800, "train_ratio": 0.5, "features": ["x1", "x2"],
    "hidden": [4], "activation": "sigmoid", "loss": "binary_crossentropy", "optimizer": "adam",
    "learning_rate": 0.03, "batch_size": 100, "l1": 0.0, "l2": 0.0, "seed": 0,
}


class SettingsError(ValueError):
    """A setting the playground cannot use; the message names it and what was expected."""


def _number(settings: dict, key: str, low: float, high: float, integer: bool = False,
            low_open: bool = False):
    value = settings[key]
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) \
            or not math.isfinite(value):
        raise SettingsError(f"{key}: expected {kind}, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        where = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise SettingsError(f"{key}: expected {kind} in {where}, got {value!r}")
    return int(value) if integer else float(value)


def _choice(settings: dict, key: str, choices) -> str:
    value = settings[key]
    if value not in choices:
        raise SettingsError(f"{key}: expected one of {list(choices)}, got {value!r}")
    return value


def task_of(dataset: str) -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"``."""
    return DATASETS[dataset][2]


def check_settings(changes: dict, base: dict | None = None) -> dict:
    """``base`` (default :data:`DEFAULTS`) updated with ``changes``, every field checked.

    A change of data set without a loss or features picks the first loss of the new task
    (binary, multiclass, regression) when the task changes, drops the x2 features for the
    sine, and goes back to x1, x2 when leaving the sine.
    """
    if not isinstance(changes, dict):
        raise SettingsError(f"settings: expected a JSON object, got {type(changes).__name__}")
    unknown = sorted(set(changes) - set(DEFAULTS))
    if unknown:
        raise SettingsError(f"unknown settings {unknown}; known: {sorted(DEFAULTS)}")
    settings = {**(base or DEFAULTS), **changes}
    dataset = _choice(settings, "dataset", DATASETS)
    task = task_of(dataset)
    previous = (base or DEFAULTS)["dataset"]
    if "loss" not in changes and (settings["loss"] not in LOSSES[task] or task != task_of(previous)):
        settings["loss"] = LOSSES[task][0]
    if "features" not in changes and dataset == "sine":
        settings["features"] = [f for f in settings["features"] if "x2" not in f] or ["x1"]
    elif "features" not in changes and previous == "sine" and dataset != "sine":
        settings["features"] = list(DEFAULTS["features"])
    out = {"dataset": dataset, "loss": _choice(settings, "loss", LOSSES[task]),
           "activation": _choice(settings, "activation", ACTIVATIONS),
           "optimizer": _choice(settings, "optimizer", OPTIMIZERS),
           "noise": _number(settings, "noise", 0.0, 1.0),
           "samples": _number(settings, "samples", MIN_SAMPLES, MAX_SAMPLES, integer=True),
           "train_ratio": _number(settings, "train_ratio", 0.1, 0.9),
           "learning_rate": _number(settings, "learning_rate", 0.0, 10.0, low_open=True),
           "l1": _number(settings, "l1", 0.0, 1.0), "l2": _number(settings, "l2", 0.0, 1.0),
           "seed": _number(settings, "seed", 0, 2**31 - 1, integer=True)}
    out["batch_size"] = _number(settings, "batch_size", 1, out["samples"], integer=True)
    hidden = settings["hidden"]
    if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS:
        raise SettingsError(f"hidden: expected a list of at most {MAX_LAYERS} layer sizes, "
                            f"got {hidden!r}")
    for i, units in enumerate(hidden):
        if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_UNITS:
            raise SettingsError(f"hidden.{i}: expected an integer number of units in "
                                f"[1, {MAX_UNITS}], got {units!r}")
    out["hidden"] = list(hidden)
    features = settings["features"]
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise SettingsError(f"features: expected a list of names from {list(FEATURES)}, "
                            f"got {features!r}")
    try:
        expand_features(np.zeros((1, 1 if dataset == "sine" else 2)), features)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    out["features"] = list(features)
    return {key: out[key] for key in DEFAULTS}


def split_sizes(settings: dict) -> tuple[int, int]:
    """(training points, test points) of ``samples`` split at ``train_ratio``."""
    n_train = max(1, min(settings["samples"] - 1, round(settings["samples"] * settings["train_ratio"])))
    return n_train, settings["samples"] - n_train


def _default_features(dataset: str) -> list[str]:
    return ["x1"] if dataset == "sine" else ["x1", "x2"]


def output_layer(settings: dict) -> dict:
    """The output Dense layer's table: sigmoid for two classes, softmax for the spirals'
    three, linear for regression."""
    task = task_of(settings["dataset"])
    if task == "multiclass":
        return {"type": "Dense", "units": SPIRAL_CLASSES, "activation": "softmax", "name": "output"}
    return {"type": "Dense", "units": 1, "name": "output",
            "activation": "linear" if task == "regression" else "sigmoid"}


def to_document(settings: dict, epochs: int = 1) -> dict:
    """The experiment document of ``settings`` trained for ``epochs`` epochs."""
    loader, generator, task = DATASETS[settings["dataset"]]
    n_train, n_test = split_sizes(settings)
    data: dict = {"loader": loader, "seed": settings["seed"]}
    if generator:
        data["generator"] = generator
    data.update(n_samples=n_train, n_test=n_test)
    if settings["dataset"] != "disc":  # the lecture's disc has its own label noise
        data["noise"] = settings["noise"]
    if settings["features"] != _default_features(settings["dataset"]):
        data["features"] = list(settings["features"])
    layers = []
    for i, units in enumerate(settings["hidden"]):
        layer = {"type": "Dense", "units": units, "activation": settings["activation"],
                 "name": f"hidden_{i + 1}"}
        layers.append(layer)
    layers.append(output_layer(settings))
    if settings["l1"] or settings["l2"]:
        for layer in layers:
            layer["kernel_regularizer"] = {"type": "L1L2", "l1": settings["l1"], "l2": settings["l2"]}
    hidden = "-".join(str(u) for u in [len(settings["features"])] + settings["hidden"]
                      + [layers[-1]["units"]])
    return {
        "name": f"playground-{settings['dataset']}-{hidden}",
        "description": f"Exported from neuralab playground: a {hidden} {settings['activation']} "
                       f"network on the {settings['dataset']} data.",
        "seed": settings["seed"],
        "data": data,
        "model": {"dtype": "float64", "layers": layers},
        "compile": {"optimizer": {"type": settings["optimizer"],
                                  "learning_rate": settings["learning_rate"]},
                    "loss": settings["loss"],
                    "metrics": [] if task == "regression" else ["accuracy"]},
        "fit": {"epochs": max(1, min(int(epochs), MAX_EPOCHS)), "batch_size": settings["batch_size"]},
    }


def from_document(doc: dict) -> tuple[dict, int]:
    """(settings, epochs) of an experiment document the playground can show: a synthetic or
    sine loader and a chain of Dense layers ending in the output its data set needs."""
    def need(condition: bool, message: str) -> None:
        if not condition:
            raise SettingsError(f"this experiment is not a playground network: {message}")

    data, model = doc.get("data", {}), doc.get("model", {})
    compile_table, fit = doc.get("compile", {}), doc.get("fit", {})
    loader = data.get("loader")
    need(loader in ("synthetic", "sine"), f"data.loader must be synthetic or sine, got {loader!r}")
    generator = data.get("generator", "lecture") if loader == "synthetic" else None
    names = {(lo, gen): name for name, (lo, gen, _) in DATASETS.items()}
    need((loader, generator) in names, f"unknown generator {generator!r}")
    dataset = names[(loader, generator)]
    n_train = data.get("n_samples", 100 if loader == "sine" else 400)
    n_test = data.get("n_test", 200 if loader == "sine" else 400)
    need(isinstance(n_train, int) and isinstance(n_test, int) and n_train > 0 and n_test > 0,
         "data.n_samples and data.n_test must be positive integers")
    layers = model.get("layers")
    need(isinstance(layers, list) and bool(layers), "model.layers must list Dense layers")
    need(all(isinstance(x, dict) and x.get("type") == "Dense" for x in layers),
         "every layer must be a Dense table")
    hidden = layers[:-1]
    activations = {x.get("activation", "linear") for x in hidden}
    need(len(activations) <= 1, f"hidden layers must share one activation, got {sorted(activations)}")
    regularizer = layers[0].get("kernel_regularizer") or {}
    need(isinstance(regularizer, dict), "kernel_regularizer must be an L1L2 table")
    optimizer = compile_table.get("optimizer", "adam")
    optimizer = optimizer if isinstance(optimizer, dict) else {"type": optimizer}
    settings = {
        "dataset": dataset, "samples": n_train + n_test, "train_ratio": n_train / (n_train + n_test),
        "features": data.get("features", _default_features(dataset)),
        "hidden": [x.get("units") for x in hidden],
        "activation": activations.pop() if activations else DEFAULTS["activation"],
        "loss": compile_table.get("loss", LOSSES[task_of(dataset)][0]),
        "optimizer": str(optimizer.get("type", "adam")).lower(),
        "learning_rate": optimizer.get("learning_rate", 0.001),
        "batch_size": fit.get("batch_size", 32), "seed": data.get("seed", doc.get("seed", 0)),
        "l1": regularizer.get("l1", 0.0), "l2": regularizer.get("l2", 0.0),
    }
    if "noise" in data:
        settings["noise"] = data["noise"]
    settings = check_settings(settings)
    need(to_document(settings)["model"]["layers"][-1]["units"] == layers[-1].get("units")
         and output_layer(settings)["activation"] == layers[-1].get("activation", "linear"),
         f"the last layer must be {output_layer(settings)} for the {dataset} data")
    epochs = fit.get("epochs", 1)
    return settings, epochs if isinstance(epochs, int) and epochs > 0 else 1
