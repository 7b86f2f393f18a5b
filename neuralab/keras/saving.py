"""``keras.saving``: the custom-object functions of :mod:`neuralab.saving` plus Keras 3's
``load_model``/``save_model`` (``model.save`` by file extension: ``.keras`` Keras 3's
archive, ``.h5`` the legacy HDF5 file, anything else neuralab's own zip)."""

import inspect

from .. import activations, initializers, layers, losses, metrics, optimizers, regularizers
from .. import saving as _saving
from ..models import Model, load_model
from ..saving import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

#: Keras module name -> (neuralab base class, serialize, deserialize), most specific first
_KINDS = {
    "keras.models": (Model, layers.serialize, layers.deserialize),
    "keras.layers": (layers.Layer, layers.serialize, layers.deserialize),
    "keras.regularizers": (regularizers.Regularizer, regularizers.serialize,
                           regularizers.deserialize),
    "keras.initializers": (initializers.Initializer, initializers.serialize,
                           initializers.deserialize),
    "keras.activations": (activations.Activation, activations.serialize,
                          activations.deserialize),
    "keras.losses": (losses.Loss, losses.serialize, losses.deserialize),
    "keras.metrics": (metrics.Metric, metrics.serialize, metrics.deserialize),
    "keras.optimizers": (optimizers.Optimizer, optimizers.serialize, optimizers.deserialize),
}


def serialize_keras_object(obj):
    """Keras 3's ``{"module", "class_name", "config", "registered_name"}`` dict of a layer,
    model, regularizer, initializer, activation, loss, metric or optimizer (``module`` is
    the defining Python module for custom classes, as in Keras); a function registered with
    ``register_keras_serializable`` becomes ``class_name="function"``. Plain values (None,
    numbers, strings, lists, dicts) come back as they are.
    """
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(v) for v in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    for module, (base, serialize, _) in _KINDS.items():
        if isinstance(obj, base):
            spec = serialize(obj)
            if isinstance(spec, str):  # a built-in activation by name
                spec = {"class_name": spec, "config": {}}
            custom = _saving.is_registered(type(obj))
            return {"module": type(obj).__module__ if custom else module,
                    "class_name": spec["class_name"], "config": spec["config"],
                    "registered_name": spec.get("registered_name")}
    if callable(obj) and not inspect.isclass(obj):
        name = get_registered_name(obj) if _saving.is_registered(obj) else obj.__name__
        return {"module": obj.__module__, "class_name": "function", "config": name,
                "registered_name": "function"}
    raise TypeError(f"Cannot serialize {obj!r}: expected a Keras object (layer, model, "
                    "regularizer, initializer, activation, loss, metric, optimizer), a "
                    "registered function or plain data")


def deserialize_keras_object(config, custom_objects: dict | None = None):
    """The object of :func:`serialize_keras_object`'s dict (the inverse; also plain values
    and the ``{"class_name", "config"}`` dicts of neuralab's own ``serialize``)."""
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, list):
        return [deserialize_keras_object(v, custom_objects) for v in config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize_keras_object expects a dict with 'class_name' and "
                         f"'config', got {config!r}")
    if config["class_name"] == "function":
        found = get_registered_object(config["config"], custom_objects)
        if found is None:
            raise ValueError(f"Unknown function {config['config']!r}: register it with "
                             "@keras.saving.register_keras_serializable or pass it in "
                             "custom_objects")
        return found
    spec = {k: config[k] for k in ("class_name", "config", "registered_name")
            if config.get(k) is not None}
    module = config.get("module")
    if module in _KINDS:
        return _KINDS[module][2](spec, custom_objects)
    cls = get_registered_object(config.get("registered_name") or config["class_name"],
                                custom_objects)
    if cls is None:
        raise ValueError(f"Unknown class {config['class_name']!r} (module {module!r}): "
                         "register it with @keras.saving.register_keras_serializable or pass "
                         "it in custom_objects")
    return cls.from_config(config.get("config") or {})


def save_model(model, filepath, overwrite: bool = True, **kwargs) -> None:
    """Keras' ``keras.saving.save_model(model, filepath)``: ``model.save(filepath)``."""
    import os
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    unknown = set(kwargs) - {"zipped", "include_optimizer", "save_format"}
    if unknown:
        raise TypeError(f"save_model got unexpected keyword argument(s) {sorted(unknown)}")
    model.save(filepath)


__all__ = ["load_model", "save_model", "serialize_keras_object", "deserialize_keras_object",
           "register_keras_serializable", "custom_object_scope",
           "CustomObjectScope", "get_custom_objects", "get_registered_name",
           "get_registered_object"]
