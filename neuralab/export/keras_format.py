"""Keras' own model files: the Keras 3 ``.keras`` archive and the legacy ``.h5`` model.

* ``.keras`` — a zip of ``config.json`` (the model as Keras 3 serializes it),
  ``metadata.json`` and ``model.weights.h5`` (``layers/<key>/vars/0, 1, ...``, ``<key>``
  the layer's class in snake case numbered per class in Keras' layer order). Keras 3's
  ``keras.saving.load_model`` reads what :func:`save_keras_archive` writes, and
  :func:`load_keras_model` reads what Keras 3 writes.
* ``.h5`` — tf.keras 2's HDF5 model: a ``model_config`` attribute (JSON) and a
  ``model_weights`` group with one group per layer (``layer_names``, ``weight_names``
  attributes). Keras 3 still loads these (``keras.saving.load_model("m.h5")``).

Sequential and functional models of the layers in
:data:`~neuralab.export.keras_config.KERAS_LAYERS` are supported; optimizer state is not
saved (Keras recompiles from scratch). h5py is imported on first use.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .. import backend
from ..errors import InputError
from ..io_utils import atomic_path
from .keras import _h5py
from .keras_compile import compile_from_keras, keras_compile_config
from .keras_config import NoKerasForm, input_layer_spec, layer_from_keras, layer_to_keras

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


def _weight_keys(class_names: list[str]) -> list[str]:
    """Keras 3's ``layers/<key>`` for each layer: snake-case class, ``_1``, ``_2``... after."""
    counts: dict[str, int] = {}
    keys = []
    for class_name in class_names:
        base = backend.to_snake_case(class_name)
        k = counts.get(base, 0)
        counts[base] = k + 1
        keys.append(base if k == 0 else f"{base}_{k}")
    return keys


# -- neuralab model -> Keras config ----------------------------------------------------------
def _sequential_config(model, legacy: bool) -> tuple[dict, list]:
    from ..layers import InputLayer
    from ..layers.base import serialize

    layers = list(model.layers)
    shape = model._batch_input_shape
    input_name = "input_layer"
    if layers and isinstance(layers[0], InputLayer):
        input_name = layers.pop(0).name
    if shape is None:
        raise ValueError(f"Model {model.name!r} has no input shape: build it before saving")
    specs = [input_layer_spec(input_name, shape, "float32", legacy)]
    specs += [layer_to_keras(serialize(layer), legacy) for layer in layers]
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
    from ..layers.base import serialize
    from ..models.serialization import graph_config

    graph = graph_config(model)
    nodes = graph["nodes"]
    for entry in nodes:
        if "layer" not in entry:
            raise NoKerasForm(f"Model {model.name!r} calls the op {entry['op']!r}, which has no "
                             "Keras file form; use layers (Add, Concatenate, ...) instead")
    input_names = [spec["name"] for spec in graph["inputs"]]
    call_index, calls = [], {}
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
        spec = specs[name] if name in specs else layer_to_keras(serialize(by_name[name]), legacy)
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
    from ..models.model import Model
    from ..models.sequential import Sequential

    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no weights to save")
    if isinstance(model, Sequential):
        return _sequential_config(model, legacy)
    if type(model) is Model and model._graph is not None:
        return _functional_config(model, legacy)
    raise NoKerasForm(f"Model {model.name!r} ({type(model).__name__}) is subclassed: only "
                     "Sequential and functional models can be written as Keras files")


def to_keras_json(model) -> str:
    return json.dumps(keras_config(model)[0])


# -- writing -----------------------------------------------------------------------------
def _write_weights(f, model, config: dict, layers: list) -> None:
    """Keras 3's ``model.weights.h5`` layout into the open h5py file ``f``."""
    f.create_group("vars").attrs["name"] = model.name
    specs = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        specs = specs[1:]
    f.create_group("layers")
    for spec, key, layer in zip(specs, _weight_keys([s["class_name"] for s in specs]), layers):
        group = f.create_group(f"layers/{key}/vars")
        group.attrs["name"] = spec["config"]["name"]
        for i, w in enumerate([] if layer is None else layer.get_weights()):
            group.create_dataset(str(i), data=w)


def keras_archive_bytes(model) -> bytes:
    """The content of a Keras 3 ``.keras`` file holding ``model``."""
    h5py = _h5py()
    config, layers = keras_config(model)
    compile_config = keras_compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        _write_weights(f, model, config, layers)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
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
    h5py = _h5py()
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
            weight_names = [f"{name}/{p.name.split('/')[-1]}:0" for p in params]
            group.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
            for weight_name, p in zip(weight_names, params):
                group.create_dataset(weight_name, data=np.asarray(p.data))


# -- reading -----------------------------------------------------------------------------
def _is_history(value) -> bool:
    return isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)


def _leaves(structure) -> tuple[list, list | None, bool]:
    """``(histories, dict keys, is a list)`` of ``input_layers``/``output_layers``."""
    if _is_history(structure):
        return [structure], None, False
    if isinstance(structure, dict):
        return list(structure.values()), list(structure), False
    return list(structure), None, True


def _node_call(data, where: str, name: str) -> tuple[list, bool, dict]:
    """``(input histories, called on a list, kwargs)`` of one inbound node, Keras 3's
    ``{"args", "kwargs"}`` form or tf.keras 2's list form."""
    if isinstance(data, dict):
        args, kwargs = data.get("args", []), dict(data.get("kwargs") or {})
        if len(args) != 1:
            raise InputError(f"layer {name!r} is called with {len(args)} positional arguments; "
                             "neuralab reads calls on one tensor or one list", where)
        arg = args[0]
        tensors = arg if isinstance(arg, list) else [arg]
        histories = [t["config"]["keras_history"] for t in tensors]
        return histories, isinstance(arg, list), {k: v for k, v in kwargs.items() if v is not None}
    kwargs = {}
    for entry in data:
        if len(entry) == 4:
            kwargs.update(entry[3] or {})
    return [entry[:3] for entry in data], len(data) > 1, kwargs


def _graph_from_keras(config: dict, where: str) -> dict:
    """Keras' functional config as :func:`neuralab.models.serialization.graph_config`'s."""
    layer_specs = config["layers"]
    in_histories, input_keys, input_list = _leaves(config["input_layers"])
    specs_by_name = {spec["name"]: spec for spec in layer_specs}
    inputs, values = [], {}
    for i, history in enumerate(in_histories):
        spec = specs_by_name[history[0]]
        if spec["class_name"] != "InputLayer":
            raise InputError(f"model input {history[0]!r} is a {spec['class_name']}, not an "
                             "InputLayer", where)
        c = spec["config"]
        dtype = c.get("dtype")
        inputs.append({"name": history[0], "dtype": dtype if isinstance(dtype, str) else "float32",
                       "batch_shape": list(c.get("batch_shape") or c.get("batch_input_shape"))})
        values[(history[0], 0, 0)] = ["input", i]
    layers, pending = [], {}
    for spec in layer_specs:
        if spec["class_name"] == "InputLayer":
            continue
        layers.append(layer_from_keras(spec, where))
        pending[spec["name"]] = list(spec.get("inbound_nodes") or [])
    nodes: list[dict] = []
    calls: dict[str, int] = {}
    progress = True
    while progress and any(pending.values()):
        progress = False
        for name, queue in pending.items():
            while queue:
                histories, as_list, kwargs = _node_call(queue[0], where, name)
                if not all(tuple(h[:3]) in values for h in histories):
                    break
                nodes.append({"layer": name, "args": [values[tuple(h[:3])] for h in histories],
                              "list": as_list, "kwargs": kwargs})
                values[(name, calls.get(name, 0), 0)] = ["node", len(nodes) - 1, 0]
                calls[name] = calls.get(name, 0) + 1
                queue.pop(0)
                progress = True
    if any(pending.values()):
        stuck = sorted(name for name, queue in pending.items() if queue)
        raise InputError(f"the calls of layers {stuck} cannot be connected to the model inputs",
                         where)
    out_histories, output_keys, output_list = _leaves(config["output_layers"])
    try:
        outputs = [values[tuple(h[:3])] for h in out_histories]
    except KeyError as error:
        raise InputError(f"the model output {error} is not computed by any layer", where) from None
    return {"name": config.get("name"), "layers": layers, "inputs": inputs,
            "input_keys": input_keys, "input_list": input_list and len(inputs) >= 1,
            "nodes": nodes, "outputs": outputs, "output_keys": output_keys,
            "output_list": output_list}


def model_from_keras_config(config: dict, where: str = "Keras config", custom_objects=None,
                            initialize: bool = True):
    """A neuralab model from a Keras 3 or tf.keras 2 model config, its weights freshly
    initialized (left uninitialized with ``initialize=False``, for a file's weights)."""
    from .. import initializers
    from ..layers.base import deserialize
    from ..saving import load_scope

    class_name = config.get("class_name")
    inner = config.get("config") or {}
    if class_name == "Sequential":
        layers, shape = [], inner.get("build_input_shape")
        for spec in inner.get("layers", []):
            if spec.get("class_name") == "InputLayer":
                c = spec.get("config", {})
                shape = c.get("batch_shape") or c.get("batch_input_shape")
                continue
            layers.append(layer_from_keras(spec, where))
        neuralab_config = {"class_name": "Sequential", "config": {
            "name": inner.get("name"), "build_input_shape": shape, "layers": layers}}
    elif class_name in ("Functional", "Model"):
        neuralab_config = {"class_name": "Functional", "config": _graph_from_keras(inner, where)}
    else:
        raise InputError(f"the model class {class_name!r} is not supported (neuralab reads "
                         "Sequential and functional Keras models)", where)
    deferred = contextlib.nullcontext() if initialize else initializers.deferred()
    with load_scope(custom_objects), deferred:
        try:
            return deserialize(neuralab_config, custom_objects)
        except (ValueError, TypeError, KeyError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(f"cannot rebuild the Keras model: {error}", where) from None


def _set_layer_weights(layer, arrays: list, where: str, group: str) -> None:
    expected = [tuple(w.shape) for w in layer.get_weights()]
    got = [tuple(a.shape) for a in arrays]
    if expected != got:
        raise InputError(f"layer {layer.name!r} ({type(layer).__name__}) has weights of shapes "
                         f"{expected}, the file holds {got} at {group}", where)
    layer.set_weights(arrays)


def _load_archive_weights(f, model, config: dict, where: str) -> None:
    specs = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        specs = [s for s in specs if s["class_name"] != "InputLayer"]
    for spec, key in zip(specs, _weight_keys([s["class_name"] for s in specs])):
        if spec["class_name"] == "InputLayer":
            continue
        group = f.get(f"layers/{key}/vars")
        arrays = [] if group is None else [np.asarray(group[str(i)]) for i in range(len(group))]
        layer = model.get_layer(spec["config"]["name"])
        _set_layer_weights(layer, arrays, where, f"layers/{key}/vars")


def load_keras_archive(path, custom_objects=None, compile: bool = True):
    """A neuralab model from a Keras 3 ``.keras`` file (compiled as its
    ``compile_config`` says, unless ``compile=False``)."""
    h5py = _h5py()
    where = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = sorted({"config.json", "model.weights.h5"} - names)
            if missing:
                raise InputError(f"not a Keras 3 model archive: missing {missing}", where,
                                 "a .keras file with config.json and model.weights.h5")
            try:
                config = json.loads(zf.read("config.json"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise InputError(f"config.json is not valid JSON ({error})", where) from None
            weights = zf.read("model.weights.h5")
    except zipfile.BadZipFile:
        raise InputError("not a Keras 3 model archive (not a zip file)", where) from None
    model = model_from_keras_config(config, where, custom_objects, initialize=False)
    with h5py.File(io.BytesIO(weights), "r") as f:
        _load_archive_weights(f, model, config, where)
    if compile and config.get("compile_config"):
        compile_from_keras(model, config["compile_config"], where)
    return model


def load_legacy_h5(path, custom_objects=None, compile: bool = True):
    """A neuralab model from a tf.keras 2 (or Keras 3 legacy) ``.h5`` model file."""
    h5py = _h5py()
    where = str(path)
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"not a readable HDF5 file ({error})", where) from None
    with f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise InputError("HDF5 file without a model_config attribute (a weights-only file? "
                             "read it with model.load_weights)", where, "a Keras model .h5 file")
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        model = model_from_keras_config(config, where, custom_objects, initialize=False)
        root = f.get("model_weights", f)
        for name in [n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs["layer_names"]]:
            group = root[name]
            weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                            for w in group.attrs.get("weight_names", [])]
            if weight_names:
                _set_layer_weights(model.get_layer(name), [np.asarray(group[w]) for w in weight_names],
                                   where, f"model_weights/{name}")
        training_config = f.attrs.get("training_config")
    if compile and training_config is not None:
        raw = training_config.decode() if isinstance(training_config, bytes) else training_config
        compile_from_keras(model, json.loads(raw), where, legacy=True)
    return model


# -- weights only ------------------------------------------------------------------------
def save_keras_weights_file(model, path) -> None:
    """``model``'s weights in Keras 3's ``.weights.h5`` layout, numbered in Keras' layer
    order (subclassed models: neuralab's order, :func:`~neuralab.export.save_keras_weights`)."""
    from .keras import save_keras_weights

    try:
        config, layers = keras_config(model)
    except NoKerasForm:
        save_keras_weights(model, path)
        return
    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _write_weights(f, model, config, layers)


def load_keras_weights_file(model, path) -> None:
    """Read a Keras 3 ``.weights.h5`` (or tf.keras 2 weights ``.h5``) file into ``model``."""
    from .keras import load_keras_weights

    h5py = _h5py()
    where = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"Keras weights file not found: {path}")
    try:
        config, _ = keras_config(model)
    except NoKerasForm:
        config = None
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"not a readable HDF5 file ({error})", where) from None
    with f:
        if config is not None and "layers" in f and "layer_names" not in f.attrs:
            _load_archive_weights(f, model, config, where)
            return
    load_keras_weights(model, path)
