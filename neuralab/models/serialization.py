"""A graph model's config: its layers once each, then its nodes in running order.

::

    {"name": "model", "layers": [{"class_name": "Dense", "config": {...}}, ...],
     "inputs": [{"name": "input_layer", "batch_shape": [null, 4], "dtype": "float32"}],
     "input_keys": null,
     "nodes": [{"layer": "dense", "args": [["input", 0]]},
               {"op": "add", "args": [["node", 0, 0], ["input", 0]], "kwargs": {}}],
     "outputs": [["node", 1, 0]], "output_keys": null}

A tensor is named by where it comes from: ``["input", i]`` or ``["node", j, k]`` (output
``k`` of node ``j``). Ops are saved by their :mod:`neuralab.ops` name and looked up there
on loading, never imported from a path; layers come from the layer registry (built-ins,
registered classes and ``custom_objects``).
"""

from __future__ import annotations

from .. import ops
from ..layers.base import Layer, deserialize, serialize
from ..symbolic import _SYMBOLIC, Input, KerasTensor, flatten


def _op_name(operation) -> tuple[str, list]:
    """``(name, extra positional args)`` of an op recorded on symbolic tensors."""
    listed = getattr(operation, "list_op", None)
    function = listed or operation
    name = getattr(function, "__name__", "")
    public = getattr(ops, name, None)
    if public is None or getattr(public, "raw", public) is not function:
        raise ValueError(f"Cannot save the operation {name or operation!r}: only layers and "
                         "neuralab.ops functions can be saved in a model file")
    return name, list(getattr(operation, "rest", ()))


def _plain(value):
    """A JSON value for an op's constant argument (tuples, slices and ``...`` tagged, so
    that :func:`_unplain` gives back the same index)."""
    if isinstance(value, tuple):
        return {"tuple": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, slice):
        return {"slice": [_plain(value.start), _plain(value.stop), _plain(value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:
        return value.item()
    raise ValueError(f"Cannot save the constant {type(value).__name__} argument of an op in a "
                     "model file (only numbers, strings and lists of them)")


def graph_config(model) -> dict:
    """The JSON-ready config of a graph model (see the module docstring)."""
    layers = model.layers
    names = [layer.name for layer in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Model {model.name!r} has several layers named {duplicates}: layer "
                         "names must be unique to save it")
    where: dict[int, list] = {id(t): ["input", i] for i, t in enumerate(model.inputs)}
    nodes = []
    for j, node in enumerate(model._graph.nodes):
        refs = [where[id(t)] for t in node.inputs]
        if isinstance(node.operation, Layer):
            entry = {"layer": node.operation.name, "args": refs,
                     "list": node.structure == "list", "kwargs": dict(node.kwargs)}
        else:
            name, rest = _op_name(node.operation)
            it = iter(refs)
            args = [next(it) if c is _SYMBOLIC else {"constant": _plain(c)}
                    for c in node.constants]
            entry = {"op": name, "args": args, "list_args": len(rest) > 0 or
                     hasattr(node.operation, "list_op"), "rest": [_plain(r) for r in rest],
                     "kwargs": {k: _plain(v) for k, v in node.kwargs.items()}}
        nodes.append(entry)
        for k, t in enumerate(node.outputs):
            where[id(t)] = ["node", j, k]
    return {
        "name": model.name,
        # each layer's name beside its config, as Keras' functional config has it: a custom
        # layer whose get_config leaves out "name" is still found by the nodes that call it
        "layers": [{**serialize(layer), "name": layer.name} for layer in layers],
        "inputs": [{"name": t.name, "batch_shape": list(t.shape), "dtype": t.dtype}
                   for t in model.inputs],
        "input_keys": list(model._input_structure) if isinstance(model._input_structure, dict)
        else None,
        "input_list": isinstance(model._input_structure, (list, tuple)),
        "nodes": nodes,
        "outputs": [where[id(t)] for t in model.outputs],
        "output_keys": list(model._output_structure)
        if isinstance(model._output_structure, dict) else None,
        "output_list": isinstance(model._output_structure, (list, tuple)),
    }


def graph_from_config(cls, config: dict, custom_objects: dict | None = None):
    """Rebuild a graph model from :func:`graph_config`'s dict."""
    try:
        layers = {}
        for spec in config["layers"]:
            layer = deserialize(spec, custom_objects)
            layers[spec.get("name", layer.name)] = layer
        inputs = [Input(batch_shape=tuple(spec["batch_shape"]), dtype=spec.get("dtype"),
                        name=spec.get("name")) for spec in config["inputs"]]
        values: dict[tuple, KerasTensor] = {("input", i): t for i, t in enumerate(inputs)}

        def tensor(ref):
            return values[tuple(ref)]

        for j, entry in enumerate(config["nodes"]):
            if "layer" in entry:
                args = [tensor(r) for r in entry["args"]]
                layer = layers[entry["layer"]]
                out = layer(args if entry.get("list") else args[0], **entry.get("kwargs", {}))
            else:
                function = getattr(ops, entry["op"], None)
                if function is None or entry["op"].startswith("_"):
                    raise ValueError(f"unknown op {entry['op']!r} (not in neuralab.ops)")
                args = [tensor(a) if isinstance(a, list) else _unplain(a["constant"])
                        for a in entry["args"]]
                kwargs = {k: _unplain(v) for k, v in entry.get("kwargs", {}).items()}
                if entry.get("list_args"):
                    out = function(args, *_unplain(entry.get("rest", [])), **kwargs)
                else:
                    out = function(*args, **kwargs)
            for k, t in enumerate(flatten(out)):
                values[("node", j, k)] = t
        outputs = [tensor(r) for r in config["outputs"]]
    except (KeyError, IndexError, TypeError) as error:
        raise ValueError(f"the model config is damaged or incomplete ({type(error).__name__}: "
                         f"{error})") from None
    return cls(inputs=_structure(inputs, config.get("input_keys"), config.get("input_list")),
               outputs=_structure(outputs, config.get("output_keys"), config.get("output_list")),
               name=config.get("name"))


def _unplain(value):
    """Inverse of :func:`_plain`."""
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(_unplain(v) for v in value["tuple"])
        if "slice" in value:
            return slice(*value["slice"])
        if value.get("ellipsis"):
            return Ellipsis
    return value


def _structure(tensors: list, keys, as_list: bool | None):
    if keys:
        return dict(zip(keys, tensors))
    return list(tensors) if as_list or len(tensors) > 1 else tensors[0]
