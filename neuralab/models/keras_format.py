"""Keras' own model files: the Keras 3 ``.keras`` archive and the legacy ``.h5`` model.

* ``.keras`` — a zip of ``config.json`` (the model as Keras 3 serializes it),
  ``metadata.json`` and ``model.weights.h5`` (``layers/<key>/vars/0, 1, ...``, ``<key>``
  the layer's class in snake case numbered per class in Keras' layer order). Keras 3's
  ``keras.saving.load_model`` reads what :func:`save_keras_archive` writes, and
  :func:`load_keras_archive` reads what Keras 3 writes.
* ``.h5`` — tf.keras 2's HDF5 model: a ``model_config`` attribute (JSON) and a
  ``model_weights`` group with one group per layer (``layer_names``, ``weight_names``
  attributes). Keras 3 still loads these (``keras.saving.load_model("m.h5")``).

Sequential and functional models of the layers in
:data:`~neuralab.models.keras_config.KERAS_LAYERS` and of user-defined layers (written as
Keras writes custom layers; load them with the equivalent class registered or in
``custom_objects``) are supported. Compile settings travel
(:mod:`~neuralab.models.keras_compile`) and, in ``.keras`` archives, the optimizer's step
count and slots (``optimizer/vars``, :mod:`~neuralab.models.keras_optimizer`), so training
resumes where it stopped. Reading lives in :mod:`~neuralab.models.keras_reading`. h5py is
imported on first use.
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io_utils import atomic_path
from .keras_compile import keras_compile_config
from .keras_config import (
    NoKerasForm,
    h5py_module,
    input_layer_spec,
    keras_layer_spec,
    weight_groups,
    weight_keys,
)
from .keras_reading import (  # noqa: F401 - re-exported: the Keras file API is this module
    load_keras_archive,
    load_legacy_h5,
    model_from_keras_config,
    read_layer_weights,
    set_layer_weights,
)

KERAS_VERSION = "3.5.0"  # the Keras 3 format version the archives follow
LEGACY_KERAS_VERSION = "2.15.0"  # the tf.keras release whose .h5 layout is written


# -- Keras' layer order -------------------------------------------------------------------
def _keras_order(inputs: list[str], nodes: list[dict], outputs: list[list]) -> list[str]:
    """Layer names in the order Keras 3 lists a functional model's layers (and numbers its
    weight groups): by decreasing depth from the outputs, ties by first visit in a
    depth-first walk from the outputs (``keras.src.ops.function.map_graph``)."""

    def key(ref):
        return ("in", ref[1]) if ref[0] == "input" else ("node", ref[1])

    def operation(k):
        return inputs[k[1]] if k[0] == "in" else nodes[k[1]]["layer"]

    def parents(k):
        return [] if k[0] == "in" else [key(r) for r in nodes[k[1]]["args"]]

    finished: set = set()
    order: list = []
    first_visit: dict[str, int] = {}

    def visit(k):
        stack = [(k, False)]
        while stack:
            k, done = stack.pop()
            if done:
                if k not in finished:
                    finished.add(k)
                    order.append(k)
                continue
            if k in finished:
                continue
            first_visit.setdefault(operation(k), len(first_visit))
            stack.append((k, True))
            stack.extend((p, False) for p in reversed(parents(k)) if p not in finished)

    for ref in outputs:
        visit(key(ref))
    in_graph = set(order)
    node_depth: dict = {}
    op_depth: dict[str, int] = {}
    for k in reversed(order):
        depth = max(node_depth.setdefault(k, 0), op_depth.get(operation(k), 0))
        op_depth[operation(k)] = depth
        node_depth[k] = depth
        for p in parents(k):
            if p in in_graph:
                node_depth[p] = max(depth + 1, node_depth.get(p, 0))
    for name in inputs:  # inputs no output needs still count, at depth 0
        if name not in op_depth:
            op_depth[name], first_visit[name] = 0, -1
    return sorted(op_depth, key=lambda name: (-op_depth[name], first_visit[name]))


# -- neuralab model -> Keras config ----------------------------------------------------------
def _sequential_config(model, legacy: bool) -> tuple[dict, list]:
    from ..layers import InputLayer

    layers = list(model.layers)
    shape = model._batch_input_shape
    input_name = "input_layer"
    if layers and isinstance(layers[0], InputLayer):
        input_name = layers.pop(0).name
    if shape is None:
        raise ValueError(f"Model {model.name!r} has no input shape: build it before saving")
    specs = [input_layer_spec(input_name, shape, "float32", legacy)]
    specs += [keras_layer_spec(layer, legacy) for layer in layers]
    config = {"name": model.name, "trainable": True, "layers": specs}
    if legacy:
        return {"class_name": "Sequential", "config": config}, layers
    config["build_input_shape"] = list(shape)
    return ({"module": "keras", "class_name": "Sequential", "config": config,
             "registered_name": None, "build_config": {"input_shape": list(shape)}}, layers)


def _structure(refs: list, keys, as_list: bool):
    if keys:
        return dict(zip(keys, refs))
    return refs if as_list or len(refs) > 1 else refs[0]


def _functional_config(model, legacy: bool) -> tuple[dict, list]:
    from .serialization import graph_config

    graph = graph_config(model)
    nodes = graph["nodes"]
    for entry in nodes:
        if "layer" not in entry:
            raise NoKerasForm(f"Model {model.name!r} calls the op {entry['op']!r}, which has no "
                             "Keras file form; use layers (Add, Concatenate, ...) instead")
    input_names = [spec["name"] for spec in graph["inputs"]]
    call_index: list[int] = []
    calls: dict[str, int] = {}
    for entry in nodes:
        call_index.append(calls.get(entry["layer"], 0))
        calls[entry["layer"]] = call_index[-1] + 1

    def history(ref):
        if ref[0] == "input":
            return [input_names[ref[1]], 0, 0]
        return [nodes[ref[1]]["layer"], call_index[ref[1]], ref[2]]

    def tensor(ref):
        t = model.inputs[ref[1]] if ref[0] == "input" else model._graph.nodes[ref[1]].outputs[ref[2]]
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype, "keras_history": history(ref)}}

    inbound: dict[str, list] = {name: [] for name in input_names}
    for entry in nodes:
        call: Any
        if legacy:
            call = [history(r) + [dict(entry["kwargs"])] for r in entry["args"]]
        else:
            args = [tensor(r) for r in entry["args"]]
            call = {"args": [args if entry["list"] else args[0]], "kwargs": dict(entry["kwargs"])}
        inbound.setdefault(entry["layer"], []).append(call)
    by_name = {layer.name: layer for layer in model.layers}
    specs = {spec["name"]: input_layer_spec(spec["name"], spec["batch_shape"], spec["dtype"], legacy)
             for spec in graph["inputs"]}
    order = _keras_order(input_names, nodes, graph["outputs"])
    layers_config = []
    for name in order:
        spec = specs[name] if name in specs else keras_layer_spec(by_name[name], legacy)
        spec.update(name=name, inbound_nodes=inbound[name])
        layers_config.append(spec)
    config = {
        "name": model.name, "trainable": True, "layers": layers_config,
        "input_layers": _structure([[n, 0, 0] for n in input_names], graph["input_keys"],
                                   graph["input_list"]),
        "output_layers": _structure([history(r) for r in graph["outputs"]], graph["output_keys"],
                                    graph["output_list"]),
    }
    ordered = [by_name.get(name) for name in order]  # None for the inputs
    if legacy:
        return {"class_name": "Functional", "config": config}, ordered
    return ({"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
             "registered_name": "Functional", "build_config": {"input_shape": None}}, ordered)


def keras_config(model, legacy: bool = False) -> tuple[dict, list]:
    """``(config, layers)``: ``model`` as Keras 3 serializes it (tf.keras 2 with ``legacy``)
    and its layers in Keras' order (``None`` for a functional model's inputs)."""
    from .model import Model
    from .sequential import Sequential

    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no weights to save")
    if isinstance(model, Sequential):
        return _sequential_config(model, legacy)
    if type(model) is Model and model._graph is not None:
        return _functional_config(model, legacy)
    raise NoKerasForm(f"Model {model.name!r} ({type(model).__name__}) is subclassed: only "
                     "Sequential and functional models can be written as Keras files")


# -- writing -----------------------------------------------------------------------------
def _weight_entries(model, config: dict | None = None, layers: list | None = None) -> list[tuple]:
    """``(key, layer name, layer or None)`` per layer in Keras 3's ``layers/<key>`` numbering:
    Keras' layer order for Sequential and functional models, neuralab's order (the order a
    subclassed Keras model tracks its layers in) for the others."""
    from ..layers import InputLayer

    if config is None:
        try:
            config, layers = keras_config(model)
        except NoKerasForm:
            own = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
            keys = weight_keys([type(layer).__name__ for layer in own])
            return [(key, layer.name, layer) for key, layer in zip(keys, own)]
    specs = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        specs = specs[1:]
    keys = weight_keys([spec["class_name"] for spec in specs])
    return [(key, spec["config"]["name"], layer) for key, spec, layer in zip(keys, specs, layers or [])]


def _write_weights(f, model, entries: list[tuple]) -> None:
    """Keras 3's ``model.weights.h5`` layout into the open h5py file ``f``."""
    f.create_group("vars").attrs["name"] = model.name
    f.create_group("layers")
    for key, name, layer in entries:
        if layer is None:
            f.create_group(f"layers/{key}/vars").attrs["name"] = name
            continue
        weights = layer.get_weights()
        for path, count in weight_groups(layer):
            group = f.create_group(f"layers/{key}/{path}")
            group.attrs["name"] = name
            for i in range(count):
                group.create_dataset(str(i), data=weights.pop(0))


def _optimizer_to_write(model) -> tuple[Any, str] | None:
    """``(optimizer, its Keras name)`` when ``model`` is compiled with an optimizer whose
    Keras variables are known, else ``None``."""
    from ..backend import to_snake_case
    from .keras_optimizer import _slot_groups

    optimizer = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    if optimizer is None:
        return None
    try:
        _slot_groups(optimizer)
    except TypeError:
        return None
    return optimizer, optimizer.get_config().get("name") or to_snake_case(type(optimizer).__name__)


def _write_optimizer(f, to_write: tuple[Any, str] | None, entries: list[tuple]) -> None:
    """The optimizer's variables into ``model.weights.h5`` (Keras writes them into archives
    and ``.weights.h5`` files alike), for the weights of the layers in ``entries``."""
    from .keras_optimizer import keras_weights_order, write_optimizer_state

    if to_write is not None:
        write_optimizer_state(f, to_write[0], keras_weights_order([e[2] for e in entries]),
                              to_write[1])


def keras_archive_bytes(model) -> bytes:
    """The content of a Keras 3 ``.keras`` file holding ``model`` (and its optimizer's
    state when it is compiled)."""
    from .. import optimizers as optimizers_module

    h5py = h5py_module()
    config, layers = keras_config(model)
    compile_config = keras_compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    entries = _weight_entries(model, config, layers)
    # without a compile config Keras would load the model uncompiled: no state to carry
    to_write = None if compile_config is None else _optimizer_to_write(model)
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        _write_weights(f, model, entries)
        _write_optimizer(f, to_write, entries)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    registered = to_write and optimizers_module.serialize(to_write[0]).get("registered_name")
    if registered:  # Keras never reads metadata.json; neuralab finds the same class again
        metadata["neuralab_optimizer"] = registered
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights.getvalue())
    return buffer.getvalue()


def save_keras_archive(model, path) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` archive (atomically)."""
    data = keras_archive_bytes(model)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def save_legacy_h5(model, path) -> None:
    """Write ``model`` in tf.keras 2's HDF5 model format (atomically)."""
    h5py = h5py_module()
    config, layers = keras_config(model, legacy=True)
    names = [spec["config"]["name"] for spec in config["config"]["layers"]]
    if config["class_name"] == "Sequential":
        names = names[1:]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = LEGACY_KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        training_config = keras_compile_config(model, legacy=True)
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config)
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = np.array([n.encode() for n in names])
        root.attrs["keras_version"] = LEGACY_KERAS_VERSION
        root.attrs["backend"] = "tensorflow"
        for name, layer in zip(names, layers):
            group = root.create_group(name)
            params = [] if layer is None else layer.weights
            # a wrapper's weights are its layers' ("forward_lstm/kernel"): keep their path
            weight_names = [f"{name}/{p.name.removeprefix(name + '/')}:0" for p in params]
            group.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
            for weight_name, p in zip(weight_names, params):
                group.create_dataset(weight_name, data=np.asarray(p.data))


# -- weights only ------------------------------------------------------------------------
def save_keras_weights_file(model, path) -> None:
    """``model``'s weights in Keras 3's ``.weights.h5`` layout (atomically), with its
    optimizer's state when it is compiled, as Keras writes it."""
    entries = _weight_entries(model)
    h5py = h5py_module()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _write_weights(f, model, entries)
        _write_optimizer(f, _optimizer_to_write(model), entries)


def _load_keras2_weights(f, model, where: str) -> None:
    """tf.keras 2's weights layout: by layer name, or in order when the names differ."""
    root = f.get("model_weights", f)
    stored = []
    for name in [n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs["layer_names"]]:
        weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                        for w in root[name].attrs.get("weight_names", [])]
        if weight_names:
            stored.append((name, [np.asarray(root[name][w]) for w in weight_names]))
    own = [layer for layer in model.layers if layer.weights]
    by_name = {layer.name: layer for layer in own}
    if all(name in by_name for name, _ in stored):
        targets = [by_name[name] for name, _ in stored]
    elif len(stored) == len(own):
        targets = own
    else:
        raise InputError(f"the file has {len(stored)} layers with weights "
                         f"({[n for n, _ in stored]}), the model {len(own)} "
                         f"({[layer.name for layer in own]})", where)
    for layer, (name, arrays) in zip(targets, stored):
        set_layer_weights(layer, arrays, where, name)


def load_keras_weights_file(model, path) -> None:
    """Read a Keras 3 ``.weights.h5`` (or tf.keras 2 weights ``.h5``) file into ``model``,
    and the optimizer's state it holds into a compiled model's optimizer."""
    h5py = h5py_module()
    where = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"Keras weights file not found: {path}")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built: give it an input shape first")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"not a readable HDF5 file ({error})", where) from None
    with f:
        if "layer_names" in f.attrs or "layer_names" in f.get("model_weights", f).attrs:
            _load_keras2_weights(f, model, where)
            return
        if "layers" not in f:
            raise InputError("not a Keras weights file (no 'layers' group and no 'layer_names' "
                             "attribute)", where)
        entries = _weight_entries(model)
        for key, _, layer in entries:
            if layer is not None:
                read_layer_weights(f, layer, key, where)
        if getattr(model, "compiled", False) and model.optimizer is not None:
            from .keras_optimizer import keras_weights_order, read_optimizer_state
            read_optimizer_state(f, model.optimizer, keras_weights_order([e[2] for e in entries]),
                                 where)
