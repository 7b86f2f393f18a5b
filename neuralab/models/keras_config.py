"""Model configs in Keras' words: neuralab's configs to Keras 3's and back.

Keras 3 (``config.json`` of a ``.keras`` archive) and tf.keras 2 (the ``model_config``
attribute of a legacy ``.h5`` file) describe a model as nested
``{"class_name": ..., "config": ...}`` dicts; Keras 3 adds ``module`` and
``registered_name`` and writes a functional model's calls as ``inbound_nodes`` of
``{"args": [...], "kwargs": {...}}`` with ``__keras_tensor__`` placeholders, tf.keras 2 as
``[[layer_name, node_index, tensor_index, kwargs], ...]``. Both are read; Keras 3's is
written to ``.keras`` and tf.keras 2's to ``.h5``.

The layers in :data:`KERAS_LAYERS` are translated: their configs and weight layouts
are the same in both libraries (Dense kernel ``(in, out)``, Conv2D kernel ``(kh, kw, in,
out)``, BatchNormalization gamma, beta, moving mean, moving variance). Anything else raises
``ValueError`` naming the class. A Keras option neuralab lacks is accepted at its default
value (``data_format="channels_last"``, ``groups=1``, no constraints) and refused otherwise.
User-defined layers (``neuralab.layers.Layer`` subclasses with ``get_config``) are written
and read as Keras writes custom layers (:func:`custom_layer_to_keras`): their config as
they give it, found again by ``registered_name`` among registered classes and
``custom_objects``, as Keras finds its own.
"""

from __future__ import annotations

import inspect

from .. import backend
from ..errors import InputError

KERAS_LAYERS = frozenset({
    "InputLayer", "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dropout",
    "BatchNormalization", "Activation", "Add", "Subtract", "Multiply", "Average", "Maximum",
    "Concatenate", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Reshape", "ReLU",
    "Softmax", "ZeroPadding2D", "Embedding", "Masking", "GlobalAveragePooling1D",
    "GlobalMaxPooling1D", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
})
#: the config keys that hold a whole layer (a wrapper's): translated like a model's layers
_NESTED_LAYER_KEYS = ("layer", "backward_layer")

def h5py_module():
    """``h5py``, imported on first use (the ``data`` extra)."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("Keras files need h5py: pip install 'neuralab[data]'") from None
    return h5py


class NoKerasForm(ValueError):
    """The model uses something a Keras file cannot describe (an op, a built-in layer
    outside :data:`KERAS_LAYERS`, a custom layer holding layers, a subclassed model)."""


# Keras options neuralab's layers do not take, and the value at which they change nothing.
_KERAS_DEFAULTS = {
    "data_format": "channels_last", "groups": 1, "kernel_constraint": None,
    "bias_constraint": None, "activity_regularizer": None, "quantization_config": None,
    "beta_constraint": None, "gamma_constraint": None, "synchronized": False, "renorm": False,
    "renorm_clipping": None, "renorm_momentum": 0.99, "sparse": False, "ragged": False,
    "optional": False, "max_value": None, "negative_slope": 0.0, "threshold": 0.0,
    "axis": -1, "lora_rank": None, "lora_alpha": None, "keepdims": False,
    "embeddings_constraint": None, "recurrent_constraint": None,
}
_LAYER_BASE_KEYS = {"name", "trainable", "dtype", "batch_input_shape", "input_shape"}


def _keras_object(module: str, spec, legacy: bool):
    """A neuralab ``{"class_name", "config"}`` (initializer, regularizer) in Keras' form."""
    if not isinstance(spec, dict):
        return spec
    if legacy:
        return {"class_name": spec["class_name"], "config": dict(spec.get("config", {}))}
    return {"module": module, "class_name": spec["class_name"],
            "config": dict(spec.get("config", {})), "registered_name": None}


def _plain_object(spec):
    """A Keras object dict without ``module``/``registered_name``; a ``DTypePolicy`` as
    its name."""
    if isinstance(spec, dict) and "class_name" in spec:
        if spec["class_name"] in ("DTypePolicy", "Policy"):
            return spec.get("config", {}).get("name")
        return {"class_name": spec["class_name"], "config": dict(spec.get("config") or {})}
    return spec


# -- neuralab -> Keras ---------------------------------------------------------------------
def layer_to_keras(spec: dict, legacy: bool = False) -> dict:
    """A neuralab layer's ``serialize`` dict as Keras 3 writes it (tf.keras 2 with
    ``legacy``)."""
    class_name = spec["class_name"]
    if class_name not in KERAS_LAYERS:
        raise NoKerasForm(f"Layer {spec['config'].get('name')!r} ({class_name}) has no Keras "
                         f"file form in neuralab; supported: {sorted(KERAS_LAYERS)}")
    config = {}
    for key, value in spec["config"].items():
        if key in _NESTED_LAYER_KEYS and isinstance(value, dict):
            # with its module even in tf.keras 2's form: Keras 3 finds a wrapped layer so
            value = layer_to_keras(value)
        elif key.endswith("_initializer"):
            value = _keras_object("keras.initializers", value, legacy)
        elif key.endswith("_regularizer"):
            value = _keras_object("keras.regularizers", value, legacy)
        elif isinstance(value, tuple):
            value = list(value)
        config[key] = value
    if class_name != "InputLayer":  # the model's InputLayer carries the input shape
        config.pop("batch_input_shape", None)
        config.pop("input_shape", None)
    else:
        shape = config.pop("batch_input_shape")
        config = {"batch_shape": list(shape), "dtype": config.get("dtype") or "float32",
                  "sparse": False, "ragged": False, "name": config["name"]}
        if legacy:
            config["batch_input_shape"] = config.pop("batch_shape")
    if legacy:
        return {"class_name": class_name, "config": config}
    return {"module": "keras.layers", "class_name": class_name, "config": config,
            "registered_name": None}


def _shape_list(shape):
    """A shape (or a list of shapes) as JSON lists."""
    if isinstance(shape, list):
        return [_shape_list(s) for s in shape]
    return list(shape)


def custom_layer_to_keras(layer, spec: dict, legacy: bool = False) -> dict:
    """A user-defined layer (``spec`` its ``serialize`` dict) as Keras 3 writes a custom
    layer: ``{"module": <its module, None for __main__>, "class_name", "config": its
    get_config(), "registered_name": "package>Name" (its class name when unregistered),
    "build_config": {"input_shape": ...}}``; tf.keras 2 (``legacy``) names it by its
    registered name. Its weights go to ``layers/<key>/vars`` in Keras' order (trainable,
    then non-trainable), so that order must be its own.

    Raises:
        NoKerasForm: the layer holds layers (Keras nests their weights in groups of their
            own) or adds a non-trainable weight before a trainable one.
    """
    from .. import saving

    cls = type(layer)
    if layer._sublayers():
        raise NoKerasForm(f"Layer {layer.name!r} ({cls.__name__}) holds layers; neuralab "
                         "writes Keras files for custom layers with weights of their own only")
    frozen = [id(p) in layer._always_frozen for p in layer._params]
    if frozen != sorted(frozen):
        raise NoKerasForm(f"Layer {layer.name!r} ({cls.__name__}) adds a non-trainable weight "
                         "before a trainable one; Keras files store trainable weights first")
    config = {k: v for k, v in spec["config"].items()
              if k not in ("batch_input_shape", "input_shape")}
    registered_name = saving.get_registered_name(cls)
    if legacy:
        return {"class_name": registered_name, "config": config}
    keras_spec = {"module": None if cls.__module__ == "__main__" else cls.__module__,
                  "class_name": cls.__name__, "config": config,
                  "registered_name": registered_name}
    if layer.input_shape is not None:
        keras_spec["build_config"] = {"input_shape": _shape_list(layer.input_shape)}
    return keras_spec


def keras_layer_spec(layer, legacy: bool = False) -> dict:
    """``layer`` as Keras writes it: a built-in through :func:`layer_to_keras`, a
    user-defined layer through :func:`custom_layer_to_keras`."""
    from ..layers.base import LAYERS, serialize

    spec = serialize(layer)
    if LAYERS.is_builtin(type(layer)):
        return layer_to_keras(spec, legacy)
    return custom_layer_to_keras(layer, spec, legacy)


def input_layer_spec(name: str, batch_shape, dtype, legacy: bool) -> dict:
    return layer_to_keras({"class_name": "InputLayer", "config": {
        "name": name, "dtype": dtype, "batch_input_shape": list(batch_shape)}}, legacy)


# -- Keras -> neuralab ---------------------------------------------------------------------
def init_params(cls) -> set[str]:
    """The keyword arguments ``cls(...)`` takes: its ``__init__``'s named parameters, and its
    parents' while each passes ``**kwargs`` on."""
    keys: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        keys |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    keys.discard("self")
    return keys


def _accepted_keys(cls) -> set[str]:
    """The config keys ``cls`` takes: its constructors' named parameters and the base
    layer's ``name``, ``trainable``, ``dtype``, input shapes."""
    return init_params(cls) | _LAYER_BASE_KEYS


def layer_from_keras(spec: dict, where: str) -> dict:
    """A Keras layer dict as neuralab's ``{"class_name", "config"}`` (with the
    ``registered_name`` of a custom layer, whose class is looked up when it is built)."""
    from ..layers.base import LAYERS

    class_name = spec.get("class_name")
    name = (spec.get("config") or {}).get("name", spec.get("name"))
    if _is_custom(spec):
        return {"class_name": class_name, "registered_name": spec.get("registered_name"),
                "config": {k: _plain_object(v) for k, v in (spec.get("config") or {}).items()}}
    if class_name not in KERAS_LAYERS:
        raise InputError(f"Keras layer {name!r} of class {class_name!r} is not supported by "
                         f"neuralab (supported: {', '.join(sorted(KERAS_LAYERS))})", where)
    cls = LAYERS.get_class(class_name)
    accepted = _accepted_keys(cls)
    config = {}
    for key, value in (spec.get("config") or {}).items():
        if key in _NESTED_LAYER_KEYS and isinstance(value, dict):
            value = layer_from_keras(value, where)
        value = _plain_object(value)
        if key.endswith("_initializer") and isinstance(value, dict):
            value = _initializer_from_keras(value)
        if class_name == "InputLayer" and key == "batch_shape":
            key = "batch_input_shape"
        if key in accepted:
            config[key] = value
        elif value is not None and not (key in _KERAS_DEFAULTS and _same(value, _KERAS_DEFAULTS[key])):
            raise InputError(f"Keras layer {name!r} ({class_name}) sets {key}={value!r}, which "
                             "neuralab's layer does not support", where)
    return {"class_name": class_name, "config": config}


def _is_custom(spec: dict) -> bool:
    """Whether a Keras layer entry is a user-defined layer: a registered name
    (``"package>Name"``), or a class from outside Keras that is no neuralab built-in (found
    later among ``custom_objects`` and registered classes, or refused naming both)."""
    from ..layers.base import LAYERS

    class_name = str(spec.get("class_name"))
    if class_name in KERAS_LAYERS:
        return False
    if ">" in str(spec.get("registered_name") or class_name):
        return True
    module = spec.get("module")
    from_keras = isinstance(module, str) and module.split(".")[0] == "keras"
    return not from_keras and class_name not in LAYERS.classes


def _initializer_from_keras(spec: dict) -> dict:
    """Keras' initializer options neuralab's lacks (``input_axes``, ``seed=None``) dropped
    when unset: a loaded model's weights come from the file anyway."""
    from ..initializers import _REGISTRY

    try:
        accepted = _accepted_keys(_REGISTRY.get_class(spec["class_name"]))
    except (ValueError, KeyError, TypeError):
        return spec
    config = {k: v for k, v in spec["config"].items() if k in accepted or v is not None}
    return {"class_name": spec["class_name"], "config": config}


def _same(a, b) -> bool:
    return a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and
                      float(a) == float(b))


def weight_groups(layer) -> list[tuple[str, int]]:
    """Where Keras 3 keeps ``layer``'s weights under its ``layers/<key>/`` group: ``(path,
    how many of layer.get_weights(), in order)`` for each group Keras writes, empty ones
    included. A recurrent layer's are its cell's (``cell/vars``), a Bidirectional's its
    two layers', a TimeDistributed's its inner layer's (``layer/...``)."""
    from ..layers.recurrent import Recurrent
    from ..layers.wrappers import Bidirectional, TimeDistributed

    if isinstance(layer, Recurrent):
        return [("vars", 0), ("cell/vars", len(layer.get_weights()))]
    if isinstance(layer, Bidirectional):
        return [("vars", 0)] + [(f"{side}/{path}", n)
                                for side, inner in (("forward_layer", layer.forward_layer),
                                                    ("backward_layer", layer.backward_layer))
                                for path, n in weight_groups(inner)]
    if isinstance(layer, TimeDistributed):
        return [("vars", 0)] + [(f"layer/{path}", n) for path, n in weight_groups(layer.layer)]
    return [("vars", len(layer.get_weights()))]


def weight_keys(class_names: list[str]) -> list[str]:
    """Keras 3's ``layers/<key>`` for each layer: snake-case class, ``_1``, ``_2``... after."""
    counts: dict[str, int] = {}
    keys = []
    for class_name in class_names:
        base = backend.to_snake_case(class_name)
        k = counts.get(base, 0)
        counts[base] = k + 1
        keys.append(base if k == 0 else f"{base}_{k}")
    return keys
