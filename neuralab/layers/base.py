"""The ``Layer`` base class: parameters, lazy build, config, and buffer reuse.

A layer implements

* ``build(input_shape)`` — create parameters once the input shape is known
  (``input_shape`` includes the batch axis as ``None``: ``(None, 784)``);
* ``forward(x, training)`` — compute ``y`` and keep what ``backward`` needs;
* ``backward(dout)`` — add dL/dW into each parameter's ``grad`` and return dL/dx.
  It never writes into ``dout``.

Layers never decide training mode themselves: ``training`` is passed down by the model.
"""

from __future__ import annotations

import numpy as np

from .. import backend, initializers, regularizers
from ..parameter import Parameter

Shape = tuple  # (None, d1, d2, ...): batch axis first, unknown batch size as None

_LAYER_REGISTRY: dict[str, type["Layer"]] = {}


def register(cls: type["Layer"]) -> type["Layer"]:
    """Make a layer class loadable by name (``load_model`` looks classes up here)."""
    _LAYER_REGISTRY[cls.__name__] = cls
    return cls


def get_layer_class(name: str) -> type["Layer"]:
    if name not in _LAYER_REGISTRY:
        raise ValueError(f"Unknown layer class {name!r}; known: {sorted(_LAYER_REGISTRY)}")
    return _LAYER_REGISTRY[name]


def format_shape(shape) -> str:
    """``(None, 120)`` -> ``"(N, 120)"`` for error messages."""
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


class Layer:
    """Base class of all layers.

    Args:
        name: unique name; defaults to the snake-case class name (``dense``, ``dense_1``).
        trainable: whether optimizers update this layer's weights.
        dtype: ``"float32"``/``"float64"``; defaults to :func:`neuralab.backend.floatx`.
        input_shape: shape of one sample, e.g. ``(784,)``; lets a model build eagerly.
        activity_regularizer: penalty on the layer's output (divided by the batch size).
    """

    #: elementwise layers (activations, dropout) work on inputs of any shape once built
    accepts_any_shape = False

    _ACCEPTED_KWARGS = ("name", "trainable", "dtype", "input_shape", "input_dim",
                        "batch_input_shape", "batch_size", "activity_regularizer")

    def __init__(self, **kwargs):
        unknown = set(kwargs) - set(self._ACCEPTED_KWARGS)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {sorted(unknown)}; "
                f"common layer arguments are {list(self._ACCEPTED_KWARGS)}"
            )
        self.name: str = kwargs.get("name") or backend.unique_name(
            backend.to_snake_case(type(self).__name__))
        self._trainable = bool(kwargs.get("trainable", True))
        self.dtype: str | None = (backend.standardize_dtype(kwargs["dtype"])
                                  if kwargs.get("dtype") is not None else None)
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        self._batch_input_shape = _batch_input_shape(kwargs)
        self.built = False
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self._params: list[Parameter] = []
        self._always_frozen: set[int] = set()
        self._reuse_buffers = False
        self._buffers: dict[str, np.ndarray] = {}
        #: set by a model on its first layers: nobody needs dL/dx, so backward skips it
        self.skip_input_grad = False
        self._owner = None  # weak reference to the model holding this layer

    # -- building ---------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create parameters for inputs of ``input_shape`` (batch axis included)."""
        input_shape = tuple(input_shape)
        if self.dtype is None:
            self.dtype = backend.floatx()
        self.input_shape = input_shape
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def add_weight(self, name: str, shape, initializer="zeros", regularizer=None,
                   trainable: bool = True, rng: np.random.Generator | None = None) -> Parameter:
        """Create, register and return a :class:`Parameter` (Keras ``add_weight``)."""
        init = initializers.get(initializer)
        data = init(tuple(shape), self.dtype, rng)
        param = Parameter(data, name=f"{self.name}/{name}",
                          trainable=trainable and self._trainable,
                          regularizer=regularizers.get(regularizer))
        if not trainable:
            self._always_frozen.add(id(param))
        self._params.append(param)
        return param

    def _check_input(self, x: np.ndarray) -> None:
        """Build on first use; afterwards insist on the built feature shape."""
        if not self.built:
            if not isinstance(x, np.ndarray):
                raise TypeError(f"{type(self).__name__} expected a NumPy array, got {type(x).__name__}")
            self.build((None,) + x.shape[1:])
            return
        if self.accepts_any_shape:
            return
        expected = self.input_shape
        if x.ndim != len(expected) or any(
                e is not None and e != d for e, d in zip(expected[1:], x.shape[1:])):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected input of shape "
                f"{format_shape(expected)}, got {format_shape((None,) + x.shape[1:])}"
            )

    # -- computation ------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x, training: bool = False):
        from ..models.functional import SymbolicTensor  # local: avoids an import cycle

        if isinstance(x, SymbolicTensor):
            return x.apply(self)
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.number):
            raise TypeError(f"{type(self).__name__} expected numeric input, got dtype {x.dtype}")
        return self.forward(x, training=training)

    @property
    def output(self):
        """Symbolic output of this layer inside its model, for sub-model views:
        ``Model(inputs=model.input, outputs=model.get_layer("hidden").output)``."""
        from ..models.functional import SymbolicTensor

        owner = self._owner() if self._owner is not None else None
        if owner is None or not self.built:
            raise ValueError(f"Layer {self.name!r} has no defined output: it is not part of a "
                             "built model")
        root = owner.input
        chain = tuple(owner.layers[: owner.layers.index(self) + 1])
        return SymbolicTensor(self.output_shape, root.layers + chain, root.root, root.dtype)

    def _buffer(self, key: str, shape: tuple[int, ...], dtype, zeros: bool = False) -> np.ndarray:
        """Scratch array of ``shape``, reused across steps while a model enables reuse.

        Reuse is on only inside a model's fit/evaluate/predict, which never hand a
        layer's buffer to the user; a direct ``layer.forward`` call gets a fresh array.
        ``zeros=True`` zero-fills *new* arrays only: callers use it for regions they never
        write, which then stay zero across reuses.
        """
        make = np.zeros if zeros else np.empty
        if not self._reuse_buffers:
            return make(shape, dtype)
        buf = self._buffers.get(key)
        if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != shape[1:] or buf.dtype != dtype:
            buf = make(shape, dtype)
            self._buffers[key] = buf
            return buf
        return buf if buf.shape[0] == shape[0] else buf[: shape[0]]

    def set_buffer_reuse(self, enabled: bool) -> None:
        self._reuse_buffers = enabled
        if not enabled:
            self._buffers.clear()

    def activity_penalty(self, y: np.ndarray) -> float:
        if self.activity_regularizer is None:
            return 0.0
        return self.activity_regularizer(y) / max(1, y.shape[0])

    def add_activity_gradient(self, dout: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dout + d(activity penalty)/dy, as a new array (dout itself is left alone)."""
        if self.activity_regularizer is None:
            return dout
        return dout + self.activity_regularizer.gradient(y) / max(1, y.shape[0])

    # -- parameters -------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        """All parameters in Keras weight order (e.g. kernel, bias)."""
        return list(self._params)

    @property
    def weights(self) -> list[Parameter]:
        return list(self._params)

    @property
    def trainable_weights(self) -> list[Parameter]:
        return [p for p in self._params if p.trainable]

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        return [p for p in self._params if not p.trainable]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for p in self._params:
            p.trainable = self._trainable and id(p) not in self._always_frozen

    def zero_grad(self) -> None:
        for p in self._params:
            p.zero_grad()

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet, so its parameter count is unknown; "
                "give the model an input_shape or call it on data first")
        return int(sum(p.size for p in self._params))

    def get_weights(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self._params]

    def set_weights(self, weights) -> None:
        weights = list(weights)
        if len(weights) != len(self._params):
            raise ValueError(
                f"Layer {self.name!r} expects {len(self._params)} weight arrays "
                f"({[p.name for p in self._params]}), got {len(weights)}"
            )
        for p, w in zip(self._params, weights):
            p.assign(w)

    # -- config -----------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        config = dict(config)
        if "batch_input_shape" in config and config["batch_input_shape"] is not None:
            config["batch_input_shape"] = tuple(config["batch_input_shape"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _batch_input_shape(kwargs: dict):
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    if kwargs.get("input_shape") is not None:
        shape = kwargs["input_shape"]
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return (kwargs.get("batch_size"),) + shape
    if kwargs.get("input_dim") is not None:
        return (kwargs.get("batch_size"), int(kwargs["input_dim"]))
    return None


def to_tuple(value, n: int, name: str) -> tuple[int, ...]:
    """``3`` -> ``(3, 3)``; validates an int or a sequence of ``n`` positive ints."""
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n or any(v <= 0 for v in value):
        raise ValueError(f"{name} must be a positive int or a tuple of {n} positive ints, got {value!r}")
    return value
