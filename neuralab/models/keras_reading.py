"""Reading Keras' model files into neuralab models (see :mod:`neuralab.models.keras_format`).

A Keras config becomes neuralab's: a Sequential's layers in order (its InputLayer giving the
input shape), a functional model's ``inbound_nodes`` (Keras 3's ``{"args", "kwargs"}`` or
tf.keras 2's ``[layer, node, tensor, kwargs]`` lists) replayed into
:func:`~neuralab.models.serialization.graph_config`'s nodes. Weights are matched to layers
by name (``.h5``) or by Keras' ``layers/<key>`` numbering (``.keras``).
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
import zlib

import numpy as np

from ..errors import InputError
from .keras_compile import compile_from_keras
from .keras_config import h5py_module, layer_from_keras, weight_groups, weight_keys
from .keras_optimizer import keras_weights_order, read_optimizer_state


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
        # a mask argument is recomputed by neuralab from the layers that start it (checked
        # by _graph_from_keras); "mask": True says there was one
        return histories, isinstance(arg, list), {k: (True if k == "mask" else v)
                                                  for k, v in kwargs.items() if v is not None}
    kwargs = {}
    for entry in data:
        if len(entry) == 4:
            kwargs.update(entry[3] or {})
    return [entry[:3] for entry in data], len(data) > 1, kwargs


def _tensor_names(structure) -> set[str]:
    """The layer names in the ``keras_history`` of every Keras tensor inside ``structure``."""
    if isinstance(structure, dict):
        if structure.get("class_name") == "__keras_tensor__":
            return {structure["config"]["keras_history"][0]}
        return set().union(*map(_tensor_names, structure.values())) if structure else set()
    if isinstance(structure, list):
        if _is_history(structure):
            return {structure[0]}
        return set().union(*map(_tensor_names, structure)) if structure else set()
    return set()


def _mask_only_operations(layer_specs: list, outputs) -> set[str]:
    """The layers of a Keras 3 functional config whose outputs only reach ``mask``
    arguments (the ``NotEqual`` that ``Embedding(mask_zero=True)``'s mask is in Keras'
    graph, and the ops combining masks): neuralab computes masks itself, so they are left
    out."""
    dropped: set[str] = set()
    while True:
        used = set().union(_tensor_names(outputs), *(
            _tensor_names([node.get("args", []) if isinstance(node, dict) else node,
                           {k: v for k, v in (node.get("kwargs") or {}).items() if k != "mask"}
                           if isinstance(node, dict) else {}])
            for spec in layer_specs if spec["name"] not in dropped
            for node in spec.get("inbound_nodes") or []))
        more = {spec["name"] for spec in layer_specs
                if spec["class_name"] != "InputLayer" and spec["name"] not in used} - dropped
        if not more:
            return dropped
        dropped |= more


def _after_mask_sources(layer_specs: list) -> set[str]:
    """The layers of a Keras 3 functional config that a layer starting a mask
    (``Embedding(mask_zero=True)``, ``Masking``) feeds, directly or through others."""
    reached = {spec["name"] for spec in layer_specs if spec["class_name"] == "Masking" or (
        spec["class_name"] == "Embedding" and (spec.get("config") or {}).get("mask_zero"))}
    while True:
        more = {spec["name"] for spec in layer_specs if spec["name"] not in reached and any(
            _tensor_names(node.get("args", []) if isinstance(node, dict) else node) & reached
            for node in spec.get("inbound_nodes") or [])}
        if not more:
            return reached
        reached |= more


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
    mask_only = _mask_only_operations(layer_specs, config["output_layers"])
    masked = _after_mask_sources(layer_specs)
    for spec in layer_specs:
        if spec["class_name"] == "InputLayer" or spec["name"] in mask_only:
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
                if kwargs.pop("mask", None) and name not in masked:
                    raise InputError(
                        f"layer {name!r} is called with an explicit mask= argument that does "
                        "not come from an Embedding(mask_zero=True) or Masking layer before it; "
                        "neuralab computes masks from those layers only", where)
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


def set_layer_weights(layer, arrays: list, where: str, group: str) -> None:
    """``layer.set_weights(arrays)`` after checking the shapes (error names ``group``)."""
    expected = [tuple(w.shape) for w in layer.get_weights()]
    got = [tuple(a.shape) for a in arrays]
    if expected != got:
        raise InputError(f"Layer {layer.name!r} ({type(layer).__name__}) expects weights of "
                         f"shapes {expected}, the file has {got} at {group}", where)
    layer.set_weights(arrays)


def read_layer_weights(f, layer, key: str, where: str) -> None:
    """``layer``'s weights from group ``layers/<key>`` of a Keras 3 weights file (open
    h5py file ``f``), gathered from the groups Keras keeps them in (:func:`weight_groups`)."""
    arrays = []
    for path, _ in weight_groups(layer):
        group = f.get(f"layers/{key}/{path}")
        arrays += [] if group is None else [np.asarray(group[str(i)]) for i in range(len(group))]
    set_layer_weights(layer, arrays, where, f"layers/{key}")


def _layer_specs(config: dict, with_inputs: bool = False) -> list[dict]:
    """The layer entries of a Keras model config in Keras' layer order: without a
    Sequential's InputLayer (it has no ``layers/<key>`` group), without a functional
    model's inputs unless ``with_inputs`` (they take part in the numbering), and without
    the mask-only operations neuralab leaves out (Keras writes no group for them)."""
    specs = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        return [s for s in specs if s["class_name"] != "InputLayer"]
    left_out = _mask_only_operations(specs, config["config"]["output_layers"])
    return [s for s in specs if (s["class_name"] != "InputLayer" or with_inputs)
            and s["config"]["name"] not in left_out]


def load_archive_weights(f, model, config: dict, where: str) -> None:
    """Copy a ``model.weights.h5`` (open h5py file ``f``) into ``model`` built from ``config``:
    group ``layers/<key>`` to the layer named in the config's entry with that key."""
    specs = _layer_specs(config, with_inputs=True)
    for spec, key in zip(specs, weight_keys([s["class_name"] for s in specs])):
        if spec["class_name"] == "InputLayer":
            continue
        read_layer_weights(f, model.get_layer(spec["config"]["name"]), key, where)


def load_keras_archive(path, custom_objects=None, compile: bool = True):
    """A neuralab model from a Keras 3 ``.keras`` file (compiled as its
    ``compile_config`` says, unless ``compile=False``)."""
    h5py = h5py_module()
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
            metadata = _json_member(zf, "metadata.json")
    except zipfile.BadZipFile:
        raise InputError("not a Keras 3 model archive (not a zip file)", where) from None
    except zlib.error as error:  # a damaged compressed member
        raise InputError(f"damaged archive: a member does not decompress ({error})", where) from None
    model = model_from_keras_config(config, where, custom_objects, initialize=False)
    try:
        weights_file = h5py.File(io.BytesIO(weights), "r")
    except OSError as error:
        raise InputError(f"model.weights.h5 inside the archive is not a readable HDF5 file "
                         f"({error})", where) from None
    with weights_file as f:
        load_archive_weights(f, model, config, where)
        if compile and config.get("compile_config"):
            compile_from_keras(model, config["compile_config"], where,
                               optimizer_name=metadata.get("neuralab_optimizer"))
            if getattr(model, "compiled", False):
                params = keras_weights_order(model.get_layer(spec["config"]["name"])
                                             for spec in _layer_specs(config))
                read_optimizer_state(f, model.optimizer, params, where)
    return model


def _json_member(zf: zipfile.ZipFile, name: str) -> dict:
    """A JSON member of an archive as a dict (``{}`` when absent or unreadable: only
    ``config.json`` is required)."""
    try:
        value = json.loads(zf.read(name))
    except (KeyError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def load_legacy_h5(path, custom_objects=None, compile: bool = True):
    """A neuralab model from a tf.keras 2 (or Keras 3 legacy) ``.h5`` model file."""
    h5py = h5py_module()
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
                set_layer_weights(model.get_layer(name), [np.asarray(group[w]) for w in weight_names],
                                   where, f"model_weights/{name}")
        training_config = f.attrs.get("training_config")
    if compile and training_config is not None:
        raw = training_config.decode() if isinstance(training_config, bytes) else training_config
        compile_from_keras(model, json.loads(raw), where, legacy=True)
    return model
