"""``Sequential``: a chain of layers, the simplest graph model (Keras ``Sequential``).

Keras path::

    model = Sequential([Dense(4, activation="sigmoid", input_shape=(2,)),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=100, batch_size=100)

Low-level path (your own loop)::

    loss, grads = model.compute_gradients(x, y)   # grads aligned with get_weights()
    model.optimizer.step(model.trainable_weights)

or ``y = model.forward(x, training=True)`` then ``model.backward(dL_dy)``.

The chain is recorded as a graph once the input shape is known (from the first layer's
``input_shape``, an ``Input`` first element, or the first data), so a Sequential model
runs, trains, saves and nests exactly like a functional one.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..layers.base import Layer
from ..symbolic import Input, KerasTensor
from .model import Model


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: list of layers; the first may be ``Input(shape=...)`` or carry
            ``input_shape=``. Otherwise the model builds on its first input.
        name: defaults to ``sequential``, ``sequential_1``, ...
    """

    _default_name = "sequential"

    def __init__(self, layers: Iterable[Layer] | None = None, name: str | None = None,
                 trainable: bool = True):
        Model.__init__(self, name=name, trainable=trainable)
        self._layers: list[Layer] = []
        self._input_tensor: KerasTensor | None = None
        self._batch_input_shape = None
        self.built = False
        for layer in layers or ():
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _sublayers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer) -> None:
        """Append a layer (or set the input with an ``Input(...)`` tensor first)."""
        if isinstance(layer, KerasTensor):
            if self._layers or self._input_tensor is not None:
                raise ValueError("Input(...) can only be the first element of a Sequential model")
            self._input_tensor = layer
            self._batch_input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"All layers in a model must have unique names; {layer.name!r} "
                             "is already used")
        if not self._layers and self._batch_input_shape is None:
            self._batch_input_shape = layer._batch_input_shape
            if self._batch_input_shape is None and layer._inbound_nodes and \
                    isinstance(layer.input, KerasTensor):
                # a layer taken from a functional model knows its input (Keras builds too)
                self._batch_input_shape = layer.input.shape
        self._layers.append(layer)
        self._unbuild()
        if self._batch_input_shape is not None:
            self.build(self._batch_input_shape)

    def pop(self) -> Layer:
        if not self._layers:
            raise ValueError("There are no layers in the model to pop")
        layer = self._layers.pop()
        self._unbuild()
        if self._layers and self._batch_input_shape is not None:
            self.build(self._batch_input_shape)
        return layer

    def _unbuild(self) -> None:
        """Forget the recorded chain (its nodes leave their layers' call lists)."""
        if self._graph is not None:
            for node in self._graph.nodes:
                inbound = node.operation._inbound_nodes
                if any(n is node for n in inbound):
                    inbound.remove(node)
        self._graph = None
        self.built = False

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included) and
        record the chain as a graph."""
        if input_shape is None:
            input_shape = self._batch_input_shape
        if input_shape is None:
            raise ValueError("Cannot build the model without an input shape: give the first "
                             "layer input_shape=(...) or start with Input(shape=(...))")
        shape = (None,) + tuple(input_shape)[1:]
        if self._graph is not None and tuple(self.inputs[0].shape) == shape:
            return
        self._unbuild()
        self._batch_input_shape = shape
        if self._input_tensor is None or tuple(self._input_tensor.shape) != shape:
            self._input_tensor = Input(batch_shape=shape)
        x = self._input_tensor
        for layer in self._layers:
            x = layer(x)
        self._set_graph(self._input_tensor, x)
        if self.compiled:
            self._configure_fusion()

    def _ensure_built(self, xs) -> None:
        if not self.built:
            self.build((None,) + tuple(xs[0].shape[1:]))

    @property
    def input_shape(self):
        return self._batch_input_shape

    @input_shape.setter
    def input_shape(self, value) -> None:
        pass  # always the chain's input shape

    @property
    def output_shape(self):
        if self._graph is None:
            return self._batch_input_shape if not self._layers else self._layers[-1].output_shape
        return self.outputs[0].shape

    @output_shape.setter
    def output_shape(self, value) -> None:
        pass  # always the last layer's output shape

    @property
    def input(self):
        """The model's input tensor (for ``Model(inputs=model.input, outputs=...)``)."""
        if not self.built:
            if self._batch_input_shape is None:
                raise ValueError(f"Model {self.name!r} has no defined input yet: build it first")
            self.build(self._batch_input_shape)
        return self._input_structure

    @property
    def input_names(self) -> list[str]:
        return [self._input_tensor.name] if self._input_tensor is not None else ["input"]

    @property
    def input_shapes(self) -> list[tuple]:
        return [self._batch_input_shape] if self._batch_input_shape is not None else []

    @property
    def output_shapes(self) -> list[tuple]:
        return [self.output_shape] if self.output_shape is not None else []

    @property
    def output_names(self) -> list[str]:
        return [self._layers[-1].name] if self._layers else ["output"]

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built: give an input shape or call "
                             "it on data first")
        return super().count_params()

    def get_config(self) -> dict:
        from ..layers.base import serialize
        return {"name": self.name,
                "build_input_shape": None if self._batch_input_shape is None
                else list(self._batch_input_shape),
                "layers": [serialize(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        from ..layers.base import deserialize
        model = cls(name=config.get("name"))
        for spec in config["layers"]:
            model.add(deserialize(spec, custom_objects))
        if config.get("build_input_shape") is not None and not model.built:
            model.build(tuple(config["build_input_shape"]))
        return model

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} layers={len(self._layers)}>"
