"""The playground's network as files: an experiment TOML, Keras-style Python, a saved model.

The TOML is the document of :func:`.config.to_document` (``neuralab run`` trains it: same
data, same seed, ``fit.epochs`` = the epochs trained here, hence the same weights). The
Python script rebuilds that network with neuralab's Keras-style API and trains it the same
way. :func:`import_toml` reads an experiment back into playground settings.
"""

from __future__ import annotations

from .config import DATASETS, SettingsError, from_document, split_sizes, to_document

_OPTIMIZER_CLASSES = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
_MAKERS = {"lecture": "make_lecture_synthetic", "xor": "make_xor", "circles": "make_circles",
           "moons": "make_moons", "spirals": "make_spirals", None: "make_sine"}


def toml_text(settings: dict, epochs: int) -> str:
    """The experiment file of ``settings`` trained for ``epochs`` epochs."""
    from ..experiments.store import dumps_toml
    return (f"# neuralab playground export: `neuralab run {_file_stem(settings)}.toml` trains this "
            f"network as the page did\n" + dumps_toml(to_document(settings, epochs)))


def _file_stem(settings: dict) -> str:
    return to_document(settings)["name"]


def _layer_code(layer: dict) -> str:
    args = [str(layer["units"]), f"activation={layer['activation']!r}"]
    if "kernel_regularizer" in layer:
        reg = layer["kernel_regularizer"]
        args.append(f"kernel_regularizer=L1L2(l1={reg['l1']!r}, l2={reg['l2']!r})")
    args.append(f"name={layer['name']!r}")
    return f"    Dense({', '.join(args)}),"


def python_code(settings: dict, epochs: int) -> str:
    """A script that builds, trains and evaluates the playground's network (Keras style)."""
    doc = to_document(settings, epochs)
    data, model, compile_table = doc["data"], doc["model"], doc["compile"]
    loader, generator, task = DATASETS[settings["dataset"]]
    n_train, n_test = split_sizes(settings)
    maker = _MAKERS[generator]
    noise = f", noise={data['noise']!r}" if "noise" in data else ""
    optimizer = compile_table["optimizer"]
    y_cast = ".astype(\"float32\")" if task == "regression" else ""
    layers = "\n".join(_layer_code(layer) for layer in model["layers"])
    regularizer = "from neuralab.regularizers import L1L2\n" if "kernel_regularizer" in \
        model["layers"][-1] else ""
    return f'''"""{doc["description"]}

Exported from `neuralab playground` after {epochs} epoch(s); run it with `python THIS_FILE.py`.
"""
import numpy as np

import neuralab as nl
from neuralab.datasets.synthetic import expand_features, {maker}
from neuralab.layers import Dense, Input
{regularizer}
SEED = {settings["seed"]}
FEATURES = {settings["features"]!r}

# the data: {n_train} training and {n_test} test points, as the experiment loader makes them
x, y = {maker}({n_train + n_test}{noise}, seed=np.random.default_rng(SEED))
x = expand_features(x, FEATURES).astype("float32")
x_train, y_train = x[:{n_train}], y[:{n_train}]{y_cast}
x_test, y_test = x[{n_train}:], y[{n_train}:]{y_cast}

nl.set_floatx("float64")
nl.set_seed(SEED)
model = nl.Sequential([
    Input(shape=(len(FEATURES),)),
{layers}
])
model.compile(optimizer=nl.optimizers.{_OPTIMIZER_CLASSES[optimizer["type"]]}(learning_rate={optimizer["learning_rate"]!r}),
              loss={compile_table["loss"]!r}, metrics={compile_table["metrics"]!r})

if __name__ == "__main__":
    model.summary()
    history = model.fit(x_train, y_train, epochs={epochs}, batch_size={settings["batch_size"]}, verbose=0)
    print("train:", model.evaluate(x_train, y_train, verbose=0, return_dict=True))
    print("test:", model.evaluate(x_test, y_test, verbose=0, return_dict=True))
'''


def model_bytes(model) -> bytes:
    """The model as ``model.save`` writes it (neuralab's zip: ``neuralab.load_model`` reads it)."""
    from ..models.saving import model_to_bytes
    return model_to_bytes(model)


def import_toml(text: str) -> tuple[dict, int]:
    """(settings, epochs) of an experiment file's text; SettingsError naming the problem."""
    import tomllib

    from ..experiments.spec import ExperimentError, validate
    source = "<imported experiment>"
    try:
        doc = tomllib.loads(text)
        points = _point_count(doc)
        if points > 1:  # counted first: resolving a large grid takes minutes
            raise SettingsError(f"this experiment has {points} sweep points; the playground "
                                "shows one network (remove [sweep] and [[variants]])")
        experiment = validate(doc, source)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(str(ExperimentError(f"invalid TOML: {error}", source))) from None
    except ExperimentError as error:
        raise SettingsError(str(error)) from None
    return from_document(experiment.points[0].config | {"seed": experiment.seed})


def _point_count(doc: dict) -> int:
    """How many points the ``[sweep]`` grid and ``[[variants]]`` of ``doc`` make (a
    malformed table counts as one: :func:`~neuralab.experiments.spec.validate` names it)."""
    sweep, variants = doc.get("sweep", {}), doc.get("variants", [])
    count = max(1, len(variants)) if isinstance(variants, list) else 1
    for values in sweep.values() if isinstance(sweep, dict) else ():
        count *= len(values) if isinstance(values, list) and values else 1
    return count
