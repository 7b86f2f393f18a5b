"""Saving and loading models: a zip of JSON config and ``.npz`` arrays, no pickle.

``model.save("net.nlz")`` writes one file holding

* ``config.json`` — the architecture (layer classes and configs), the compile settings
  (optimizer, loss, metrics) and the random-generator states;
* ``weights.npz`` — every weight, in :meth:`Sequential.get_weights` order;
* ``optimizer.npz`` — the optimizer's step count and per-parameter state (``m``, ``v``,
  velocity, ...), so ``fit`` resumes exactly where it stopped.

Files are written to a temporary name and renamed, so a crash never leaves a broken file.
Arrays are read with ``allow_pickle=False``: loading never executes code.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import cast

import numpy as np

from .. import initializers
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..errors import InputError
from ..io_utils import atomic_open
from ..layers.base import LAYERS, deserialize, serialize
from ..saving import load_scope
from .model import Model
from .sequential import Sequential

LAYERS.register(Model, "Functional")
LAYERS.register(Sequential)

FORMAT = "neuralab-model"
VERSION = 1


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    # numpy's stub fears the dict holds "allow_pickle"; its keys are weight names
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _load_npz(data: bytes, what: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"Corrupt {what}: {error}") from None


def _all_layers(model) -> list:
    """Every layer inside ``model``, nested models' layers included, each once."""
    found: list = []
    stack = list(reversed(model.layers))
    while stack:
        layer = stack.pop()
        if any(layer is f for f in found):
            continue
        found.append(layer)
        stack.extend(reversed(layer._sublayers()))
    return found


def _rng_states(model) -> dict:
    states = {"model": model.rng.bit_generator.state}
    for layer in _all_layers(model):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            states[layer.name] = rng.bit_generator.state
    return states


def _keras_kind(filepath) -> str | None:
    """``"keras"`` (Keras 3 archive), ``"h5"`` (legacy Keras HDF5) or ``None`` (neuralab's
    zip), from the file name, as Keras chooses."""
    name = str(filepath).lower()
    if name.endswith(".keras"):
        return "keras"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    return None


def save_model(model, filepath) -> None:
    """``x.keras``: Keras 3's archive (with the optimizer's state); ``x.h5``/``x.hdf5``:
    tf.keras 2's HDF5 model (without it; both load in Keras); any other name: neuralab's
    zip. Your own layers are written as Keras writes custom layers (Keras loads them with a
    class of the same name registered under the same ``registered_name``). A model Keras
    files cannot describe (ops, subclassed models, custom layers holding layers) or a
    missing h5py gets neuralab's zip under the Keras name, with a warning."""
    kind = _keras_kind(filepath)
    if kind is not None:
        from . import keras_format
        try:
            (keras_format.save_keras_archive if kind == "keras" else keras_format.save_legacy_h5)(
                model, filepath)
            return
        except (keras_format.NoKerasForm, ImportError) as error:
            warnings.warn(f"{filepath} is written in neuralab's own format, which Keras cannot "
                          f"open: {error}", stacklevel=3)
    with atomic_open(filepath, "wb") as f:
        f.write(model_to_bytes(model))


def _compile_config(model) -> dict | None:
    """The compile settings as JSON, or ``None`` (with a warning) when a loss or metric
    is an unregistered function that cannot be named in a file."""
    try:
        return {
            "optimizer": optimizers_module.serialize(model.optimizer),
            "loss": [None if loss is None else losses_module.serialize(loss)
                     for loss in model.compiled_losses],
            "loss_weights": list(model._loss_weights),
            "metrics": [[metrics_module.serialize(m) for m in ms]
                        for ms in model._metric_specs],
        }
    except (ValueError, TypeError) as error:
        warnings.warn(f"Model {model.name!r} is saved without its compile settings: {error}. "
                      "Register custom losses and metrics with "
                      "@neuralab.saving.register_keras_serializable() to save them.",
                      stacklevel=4)
        return None


def model_to_bytes(model) -> bytes:
    """The ``model.save`` file content, in memory (also how models pickle)."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no weights to save")
    config = {"format": FORMAT, "version": VERSION,
              "model": serialize(model),
              "weight_names": [p.name for p in model.parameters()],
              "weight_shapes": [list(p.shape) for p in model.parameters()],
              "rng_states": _rng_states(model)}
    files = {"weights.npz": _npz_bytes({f"w{i}": w for i, w in enumerate(model.get_weights())})}
    compile_config = _compile_config(model) if model.compiled else None
    if compile_config is not None:
        config["compile"] = compile_config
        params = model.optimizer_parameters()
        state = model.optimizer.get_state(params)
        arrays = {f"{name}/{i}": a for name, values in state["slots"].items()
                  for i, a in enumerate(values)}
        arrays["iterations"] = np.array(state["iterations"])
        files["optimizer.npz"] = _npz_bytes(arrays)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(config, indent=1, default=_json_default))
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"Cannot save {value!r} in a model config")


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True):
    """Rebuild a model saved with ``model.save``: architecture, weights, optimizer state.

    Your own layers, losses and metrics come from ``custom_objects={"Name": cls}`` or
    ``@neuralab.saving.register_keras_serializable()``; a file never makes neuralab
    import a module it names.
    """
    path = Path(filepath)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}")
    kind = _keras_kind(path)
    if kind is not None and not _is_neuralab_zip(path):
        from . import keras_format
        load = keras_format.load_keras_archive if kind == "keras" else keras_format.load_legacy_h5
        return load(path, custom_objects, compile=compile)
    return model_from_bytes(path.read_bytes(), compile=compile, source=str(path),
                            custom_objects=custom_objects)


def _is_neuralab_zip(path: Path) -> bool:
    """A neuralab zip under a Keras name (written before those were Keras files, or for a
    model Keras files cannot describe)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "weights.npz" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def model_from_json(json_string: str, custom_objects: dict | None = None):
    """The architecture of ``model.to_json()`` (or of Keras' ``to_json``), with fresh
    weights."""
    try:
        config = json.loads(json_string)
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"model_from_json expects the JSON text of model.to_json(): {error}") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("model_from_json expects {'class_name': ..., 'config': ...}, got "
                         f"{type(config).__name__}")
    inner = config.get("config") or {}
    if "module" in config or "keras_version" in config or "input_layers" in inner:
        from .keras_format import model_from_keras_config
        return model_from_keras_config(config, "model JSON", custom_objects)
    with load_scope(custom_objects):
        return deserialize(config, custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A model of the same architecture with freshly initialised weights (Keras
    ``keras.models.clone_model``): rebuilt from its config, so it shares no weights, compile
    settings or optimizer with ``model``. Custom layers need ``get_config`` (and must be
    registered or in a ``custom_object_scope``).

    Only the model itself can be given: Keras' ``input_tensors``/``clone_function``
    rewiring is not supported.
    """
    if input_tensors is not None or clone_function is not None or kwargs:
        given = ["input_tensors"] * (input_tensors is not None) + \
            ["clone_function"] * (clone_function is not None) + sorted(kwargs)
        raise ValueError(f"clone_model(model) takes the model alone; {given} are not supported")
    return model_from_json(model.to_json())


def _read(data: bytes, path: str):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            missing = {"config.json", "weights.npz"} - names
            if missing:
                raise InputError(f"not a neuralab model file: missing {sorted(missing)}", path,
                                 "a file written by model.save")
            try:
                config = json.loads(zf.read("config.json"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise InputError(f"config.json is not valid JSON ({error})", path) from None
            weights = _load_npz(zf.read("weights.npz"), f"weights in {path}")
            opt_arrays = (_load_npz(zf.read("optimizer.npz"), f"optimizer state in {path}")
                          if "optimizer.npz" in names else None)
    except zipfile.BadZipFile:
        raise InputError("not a neuralab model file (not a zip archive)", path) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise InputError(f"not a neuralab model file (format {found!r})", path,
                         f"format {FORMAT!r}")
    if config.get("version", 0) > VERSION:
        raise InputError(f"written by a newer neuralab (format version {config['version']}); "
                         f"this one reads version {VERSION}", path)
    if not isinstance(config.get("model"), dict) or "config" not in config["model"]:
        raise InputError("config.json has no 'model' entry with the architecture", path,
                         "{'model': {'class_name': ..., 'config': ...}}")
    return config, weights, opt_arrays


def _check_weight_shapes(config: dict, weights: dict, path: str) -> None:
    """Compare the stored arrays with the shapes the file declares, before any layer
    allocates memory for them."""
    shapes = config.get("weight_shapes")
    if shapes is None:
        return
    stored = [tuple(weights[f"w{i}"].shape) if f"w{i}" in weights else None
              for i in range(len(weights))]
    declared = [tuple(s) for s in shapes]
    if stored != declared:
        raise InputError(f"the config declares weights of shapes {declared[:6]} but "
                         f"weights.npz holds {stored[:6]}", path)


def model_from_bytes(data: bytes, compile: bool = True, source: str = "model data",
                     custom_objects: dict | None = None):
    """Inverse of :func:`model_to_bytes`."""
    path = source
    config, weights, opt_arrays = _read(data, path)
    _check_weight_shapes(config, weights, path)
    with load_scope(custom_objects), initializers.deferred():
        try:
            model = cast(Model, deserialize(config["model"], custom_objects))  # a model's config
        except (ValueError, TypeError, KeyError) as error:
            raise InputError(f"cannot rebuild the model: {error}", path) from None
    params = model.parameters()
    expected = [tuple(p.shape) for p in params]
    stored = [tuple(weights[f"w{i}"].shape) if f"w{i}" in weights else None
              for i in range(len(weights))]
    if expected != stored:
        raise InputError(f"the architecture needs weights of shapes {expected[:6]}"
                         f"{'...' if len(expected) > 6 else ''} but the file holds "
                         f"{stored[:6]}{'...' if len(stored) > 6 else ''}", path)
    model.set_weights([weights[f"w{i}"] for i in range(len(weights))])
    if compile and "compile" in config:
        with load_scope(custom_objects):
            try:
                c = config["compile"]
                losses = c["loss"] if isinstance(c["loss"], list) else [c["loss"]]
                metrics = c["metrics"]
                if metrics and not isinstance(metrics[0], list):
                    metrics = [metrics]
                model.compile(optimizer=optimizers_module.deserialize(c["optimizer"]),
                              loss=[None if spec is None else losses_module.deserialize(spec)
                                    for spec in losses],
                              metrics=[[metrics_module.deserialize(m) for m in ms]
                                       for ms in metrics] if len(metrics) > 1 else
                              [metrics_module.deserialize(m) for m in (metrics or [[]])[0]],
                              loss_weights=c.get("loss_weights"))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                raise InputError(f"cannot restore the compile settings: {error}", path) from None
        if opt_arrays is not None:
            optimizer = cast(optimizers_module.Optimizer, model.optimizer)  # compiled just above
            params = model.optimizer_parameters()
            slots = {name: [opt_arrays[f"{name}/{i}"] for i in range(len(params))]
                     for name in optimizer.slot_names}
            optimizer.set_state({"iterations": int(opt_arrays["iterations"]),
                                 "slots": slots}, params)
    _restore_rngs(model, config.get("rng_states", {}))
    return model


def _restore_rngs(model, states: dict) -> None:
    if "model" in states:
        model.rng.bit_generator.state = states["model"]
    for layer in _all_layers(model):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator) and layer.name in states:
            rng.bit_generator.state = states[layer.name]


def save_weights(model, filepath) -> None:
    """Weights only, as ``.npz`` keyed by weight name (written atomically); a name ending in
    ``.h5`` gets Keras 3's ``.weights.h5`` layout."""
    if _keras_kind(filepath) == "h5":
        from .keras_format import save_keras_weights_file
        save_keras_weights_file(model, filepath)
        return
    arrays = {p.name: p.data for p in model.parameters()}
    with atomic_open(filepath, "wb") as f:
        np.savez(f, **arrays)


def load_weights(model, filepath) -> None:
    """Read :func:`save_weights`' ``.npz``, or a Keras ``.weights.h5``/``.h5`` file."""
    if _keras_kind(filepath) == "h5":
        from .keras_format import load_keras_weights_file
        load_keras_weights_file(model, filepath)
        return
    try:
        with np.load(filepath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"Cannot read weights from {filepath}: {error}") from None
    params = model.parameters()
    names = [p.name for p in params]
    if set(arrays) == set(names):
        model.set_weights([arrays[name] for name in names])
    elif len(arrays) == len(params):  # renamed layers: fall back to order
        model.set_weights(list(arrays.values()))
    else:
        raise ValueError(f"{filepath} holds {len(arrays)} arrays {sorted(arrays)[:6]}..., the "
                         f"model has {len(params)} weights {names[:6]}...")
