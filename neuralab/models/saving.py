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
import zipfile
from pathlib import Path

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..io_utils import atomic_open

FORMAT = "neuralab-model"
VERSION = 1


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _load_npz(data: bytes, what: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"Corrupt {what}: {error}") from None


def _optimizer_params(model):
    """Parameters an optimizer keeps state for: all but the always-frozen ones."""
    return [p for layer in model.layers for p in layer._params
            if id(p) not in layer._always_frozen]


def _rng_states(model) -> dict:
    states = {"model": model.rng.bit_generator.state}
    for layer in model.layers:
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            states[layer.name] = rng.bit_generator.state
    return states


def save_model(model, filepath) -> None:
    with atomic_open(filepath, "wb") as f:
        f.write(model_to_bytes(model))


def model_to_bytes(model) -> bytes:
    """The ``model.save`` file content, in memory (also how models pickle)."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no weights to save")
    config = {"format": FORMAT, "version": VERSION,
              "model": {"class_name": "Sequential", "config": model.get_config()},
              "weight_names": [p.name for p in model.parameters()],
              "rng_states": _rng_states(model)}
    files = {"weights.npz": _npz_bytes({f"w{i}": w for i, w in enumerate(model.get_weights())})}
    if model.compiled:
        config["compile"] = {
            "optimizer": optimizers_module.serialize(model.optimizer),
            "loss": losses_module.serialize(model.loss),
            "metrics": [metrics_module.serialize(m) for m in model._metric_specs],
        }
        state = model.optimizer.get_state(_optimizer_params(model))
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


def load_model(filepath, compile: bool = True):
    """Rebuild a model saved with ``model.save``: architecture, weights, optimizer state."""
    path = Path(filepath)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}")
    return model_from_bytes(path.read_bytes(), compile=compile, source=str(path))


def model_from_bytes(data: bytes, compile: bool = True, source: str = "model data"):
    """Inverse of :func:`model_to_bytes`."""
    from .sequential import Sequential

    path = source
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            missing = {"config.json", "weights.npz"} - names
            if missing:
                raise ValueError(f"{path} is not a neuralab model file: missing {sorted(missing)}")
            config = json.loads(zf.read("config.json"))
            weights = _load_npz(zf.read("weights.npz"), f"weights in {path}")
            opt_arrays = (_load_npz(zf.read("optimizer.npz"), f"optimizer state in {path}")
                          if "optimizer.npz" in names else None)
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a neuralab model file (not a zip archive)") from None
    if config.get("format") != FORMAT:
        raise ValueError(f"{path} is not a neuralab model file (format {config.get('format')!r})")
    if config.get("version", 0) > VERSION:
        raise ValueError(f"{path} was written by a newer neuralab (format version "
                         f"{config['version']}); this one reads version {VERSION}")
    model = Sequential.from_config(config["model"]["config"])
    model.set_weights([weights[f"w{i}"] for i in range(len(weights))])
    if compile and "compile" in config:
        c = config["compile"]
        model.compile(optimizer=optimizers_module.deserialize(c["optimizer"]),
                      loss=losses_module.deserialize(c["loss"]),
                      metrics=[metrics_module.deserialize(m) for m in c["metrics"]])
        if opt_arrays is not None:
            params = _optimizer_params(model)
            slots = {name: [opt_arrays[f"{name}/{i}"] for i in range(len(params))]
                     for name in model.optimizer.slot_names}
            model.optimizer.set_state({"iterations": int(opt_arrays["iterations"]),
                                       "slots": slots}, params)
    _restore_rngs(model, config.get("rng_states", {}))
    return model


def _restore_rngs(model, states: dict) -> None:
    if "model" in states:
        model.rng.bit_generator.state = states["model"]
    for layer in model.layers:
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator) and layer.name in states:
            rng.bit_generator.state = states[layer.name]


def save_weights(model, filepath) -> None:
    """Weights only, as ``.npz`` keyed by weight name (written atomically)."""
    arrays = {p.name: p.data for p in model.parameters()}
    with atomic_open(filepath, "wb") as f:
        np.savez(f, **arrays)


def load_weights(model, filepath) -> None:
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
