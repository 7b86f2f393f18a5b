"""``Model``: a layer graph you can train (Keras ``Model``), functional or subclassed.

Functional: call layers (and ops) on ``Input`` tensors, then name the ends::

    inputs = Input(shape=(784,))
    h = Dense(64, activation="relu")(inputs)
    h = h + Dense(64, activation="relu")(h)          # a residual connection
    outputs = Dense(10, activation="softmax")(h)
    model = Model(inputs, outputs)

Several inputs and outputs are lists or dicts (``fit``/``predict`` then take lists or
dicts keyed by the input and output names); a layer called twice shares its weights;
``Model(model.input, model.get_layer("hidden").output)`` is a view sharing weights.

Subclassed: define the layers in ``__init__`` and the forward maths in ``call``; the
gradient is backpropagated through what ``call`` did (built-in layers run their own
``backward``, ops their recorded derivatives)::

    class MLP(Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(64, activation="relu")
            self.out = Dense(10)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

Training (``compile``, ``fit``, ...) comes from :class:`~neuralab.training.Trainer`.
"""

from __future__ import annotations

import json

import numpy as np

from .. import backend
from ..layers.base import Layer, _holds_tensor, format_shape
from ..symbolic import KerasTensor, flatten, infer_output_shapes, is_symbolic
from ..tensor import Tensor, enable_grad, is_grad_enabled, no_grad
from ..training import Trainer
from .graph import Graph, TapeRun


class Model(Trainer, Layer):
    """A trainable graph of layers: ``Model(inputs, outputs)`` or a subclass with ``call``.

    Keyword Args:
        inputs (KerasTensor | list | dict): a symbolic tensor (``Input(...)``), a list, or a dict
            of them (also the first positional argument).
        outputs (KerasTensor | list | dict): the symbolic tensor(s) computed from ``inputs``: one,
            a list or a dict (also the second positional argument).
        name (str | None): the model name.
    """

    _default_name = "functional"
    _cache_attrs = ("_run",)

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        if len(args) > 2:
            raise TypeError(f"Model takes inputs and outputs, got {len(args)} positional "
                            "arguments")
        if kwargs.get("name") is None:
            default = self._default_name if type(self).call is Model.call else \
                backend.to_snake_case(type(self).__name__)
            kwargs["name"] = backend.unique_name(default)
        Layer.__init__(self, **kwargs)
        self._init_trainer()
        self.rng = backend.spawn_rng()
        self._graph: Graph | None = None
        self._run = None
        self._input_structure = self._output_structure = None
        self.inputs: list[KerasTensor] = []
        self.outputs: list[KerasTensor] = []
        self._subclass_input_shapes: list | None = None
        self._subclass_output_shapes: list | None = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("Model needs both inputs and outputs (symbolic tensors from "
                                 "Input(...) and layer calls); for a stack of layers use "
                                 "Sequential([...])")
            self._set_graph(inputs, outputs)
        elif type(self).call is Model.call and type(self) is Model:
            raise ValueError("Model needs inputs and outputs (symbolic tensors); for a plain "
                             "stack of layers use Sequential([...]), or subclass Model and "
                             "define call()")

    # -- structure ------------------------------------------------------------------------
    def _set_graph(self, inputs, outputs) -> None:
        for label, structure in (("inputs", inputs), ("outputs", outputs)):
            for t in flatten(structure):
                if not isinstance(t, KerasTensor):
                    raise TypeError(f"Model {label} must be symbolic tensors (from Input(), a "
                                    "layer or op call, model.input or layer.output), got "
                                    f"{type(t).__name__}")
        self._input_structure, self._output_structure = inputs, outputs
        self._graph = Graph(flatten(inputs), flatten(outputs))
        self.inputs, self.outputs = self._graph.inputs, self._graph.outputs
        self.multi_input = len(self.inputs) > 1
        shapes = [t.shape for t in self.inputs]
        self.input_shape = shapes[0] if len(shapes) == 1 else shapes
        out = [t.shape for t in self.outputs]
        self.output_shape = out[0] if len(out) == 1 else out
        self.built = True

    @property
    def is_graph(self) -> bool:
        """Whether the model is a recorded graph (functional or Sequential), not a
        subclass running ``call`` eagerly."""
        return self._graph is not None

    @property
    def layers(self) -> list[Layer]:
        return self._sublayers()

    def _sublayers(self) -> list[Layer]:
        if self._graph is not None:
            return self._graph.layers
        return [layer for layer in Layer._sublayers(self) if layer is not self]

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._input_structure, dict):
            return list(self._input_structure)
        if self._graph is not None:
            return [t.name for t in self.inputs]
        n = len(self._subclass_input_shapes or [None])
        return ["input"] if n == 1 else [f"input_{i}" for i in range(n)]

    @property
    def output_names(self) -> list[str]:
        if isinstance(self._output_structure, dict):
            return list(self._output_structure)
        if self._graph is not None:
            names = [t.node.name if t.node is not None else t.name for t in self.outputs]
            return [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]
        n = len(self._subclass_output_shapes or [None])
        return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]

    @property
    def input_shapes(self) -> list[tuple]:
        if self._graph is not None:
            return [t.shape for t in self.inputs]
        return list(self._subclass_input_shapes or [])

    @property
    def output_shapes(self) -> list[tuple]:
        if self._graph is not None:
            return [t.shape for t in self.outputs]
        return list(self._subclass_output_shapes or [])

    @property
    def input(self):
        """The input tensor(s) (Keras ``model.input``)."""
        if self._graph is None:
            raise ValueError(f"Model {self.name!r} has no symbolic input: it is a subclassed "
                             "model, which runs call() on data")
        return self._input_structure

    @property
    def output(self):
        if self._graph is None:
            raise ValueError(f"Model {self.name!r} has no symbolic output: it is a subclassed "
                             "model, which runs call() on data")
        return self._output_structure

    @property
    def dtype(self) -> str:
        if self._dtype is not None:
            return self._dtype
        for layer in self.layers:
            if layer.dtype is not None:
                return layer.dtype
        return backend.floatx()

    @dtype.setter
    def dtype(self, value) -> None:
        self._dtype = value

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name`` (or at position ``index``)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Layer index {index} out of range for {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers are: "
                         f"{[layer.name for layer in layers]}")

    # -- building -------------------------------------------------------------------------
    def build(self, input_shape=None) -> None:
        """A subclassed model builds by running ``call`` once on zeros of ``input_shape``."""
        if self._graph is not None:
            return
        if input_shape is None:
            raise ValueError(f"Model {self.name!r} needs an input shape to build")
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
        self._subclass_input_shapes = [(None,) + tuple(s[1:]) for s in shapes]
        self.input_shape = self._subclass_input_shapes[0] if len(shapes) == 1 else \
            self._subclass_input_shapes

        shapes_now = self._subclass_input_shapes

        def run(batch: int):
            xs = [Tensor(np.zeros((batch,) + tuple(1 if d is None else d for d in s[1:]),
                                  dtype=backend.floatx())) for s in shapes_now]
            return self._call_user(self._structure(xs, self._input_structure), False, {})

        self.built = True
        self._subclass_output_shapes = infer_output_shapes(run)
        out = self._subclass_output_shapes
        self.output_shape = out[0] if len(out) == 1 else out

    def adopt_input_structure(self, x) -> None:
        """A subclassed model takes the structure of its first inputs: a list (or tuple)
        of arrays means several inputs, a dict several named inputs."""
        if self._graph is not None or self.built:
            return
        if isinstance(x, dict):
            self._input_structure = {key: None for key in x}
            values = list(x.values())
        elif isinstance(x, (list, tuple)) and x and all(isinstance(v, np.ndarray) for v in x):
            self._input_structure = [None] * len(x)
            values = list(x)
        else:
            return
        self._subclass_input_shapes = [(None,) + np.shape(v)[1:] for v in values]

    def _ensure_built(self, xs: list[np.ndarray]) -> None:
        if not self.built:
            shapes = [(None,) + tuple(x.shape[1:]) for x in xs]
            self._build_from_shape(shapes[0] if len(shapes) == 1 else shapes)

    def compute_output_shape(self, input_shape):
        if not self.built:
            self.build(input_shape)
        return self.output_shape

    # -- computation ----------------------------------------------------------------------
    def call(self, inputs, training=None):
        """The forward computation (subclasses define it; a functional model runs its
        graph)."""
        if self._graph is None:
            raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs, "
                                      "training=None)")
        return self._call_recorded(inputs, bool(training))

    def run_graph(self, xs: list[np.ndarray], training: bool, record: bool,
                  input_grads: bool = False, masks: list | None = None):
        """``(outputs, run)`` for the inputs ``xs`` (one array per input); ``record``
        keeps what :meth:`backprop` needs, ``input_grads`` whether it must also return
        dL/d(inputs) (a model used as a layer; training a model never needs them, so its
        first layers skip computing them); ``masks``: the inputs' masks (a model used as a
        layer after one that starts a mask)."""
        if is_grad_enabled() == record:  # the usual case: no mode switch to pay for
            return self._one_pass(xs, training, record, input_grads, masks)
        with enable_grad() if record else no_grad():
            return self._one_pass(xs, training, record, input_grads, masks)

    def _one_pass(self, xs, training: bool, record: bool, input_grads: bool, masks=None):
        if self._graph is not None:
            self._graph.set_input_grads(record and input_grads)
            return self._graph.forward(xs, training, record, masks)
        return self._run_subclass(xs, training, record and input_grads)

    # -- masks: a functional model used as a layer takes its inputs' and gives its outputs'
    @property
    def makes_mask(self) -> bool:
        return self._graph is not None and self._graph.masking

    @property
    def supports_masking(self) -> bool:
        return self.__dict__.get("_supports_masking", self._graph is not None)

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    @property
    def uses_mask(self) -> bool:  # type: ignore[override]
        return self._graph is not None

    def compute_mask(self, inputs, mask=None):
        """The masks of the last pass's outputs (None where an output carries none)."""
        masks = None if self._run is None else self._run.masks
        if masks is None:
            return None
        return masks[0] if len(masks) == 1 else masks

    def _run_subclass(self, xs, training: bool, input_grads: bool):
        leaves = [Tensor(x, requires_grad=input_grads) for x in xs]
        self._losses = []
        value = self._call_user(self._structure(leaves, self._input_structure), training, {})
        run = TapeRun(leaves, value, self.added_losses())
        outs = [o.data for o in run.outputs]
        if self._subclass_output_shapes is None or len(self._subclass_output_shapes) != len(outs):
            self._subclass_output_shapes = [(None,) + o.shape[1:] for o in outs]
        return outs, run

    def backprop(self, run, douts, logits=()) -> list:
        """Backpropagate dL/d(outputs) of the pass ``run``: fills the weights' ``grad``
        and returns dL/d(inputs) (``None`` where not needed)."""
        if self._graph is not None:
            return self._graph.backward(run, douts, logits)
        return run.backward(douts)

    def set_buffer_reuse(self, enabled: bool) -> None:
        """Let every layer reuse its scratch arrays across steps (on inside fit, evaluate
        and predict, which never hand a layer's buffer to the caller)."""
        Layer.set_buffer_reuse(self, enabled)
        for layer in self.layers:
            layer.set_buffer_reuse(enabled)

    def fusable_layer(self, index: int):
        return self._graph.fusable_layer(index) if self._graph is not None else None

    def forward(self, x, training: bool = False, mask=None):
        """Outputs for ``x`` (an array, or a list/dict for several inputs) on arrays; the
        pass is kept for :meth:`backward` (a model used as a layer). ``mask``: the input's
        mask (a list for several inputs)."""
        xs = self._flat_inputs(x)
        self._ensure_built(xs)
        record = is_grad_enabled()
        masks = None if mask is None else list(mask) if isinstance(mask, (list, tuple)) \
            else [mask]
        outs, self._run = self.run_graph(xs, training, record,
                                         input_grads=not self.skip_input_grad, masks=masks)
        return outs[0] if len(outs) == 1 else outs

    def backward(self, dout):
        """dL/d(outputs) -> dL/d(inputs) of the last :meth:`forward` (weights' ``grad``
        filled); ``None`` when no input gradient is needed."""
        douts = list(dout) if len(self.output_shapes) > 1 else [dout]
        dxs = self.backprop(self._run, douts)
        if self.skip_input_grad:
            return None
        return dxs[0] if len(dxs) == 1 else dxs

    def activity_penalty(self, y) -> float:
        """The ``add_loss``/activity penalties of the last pass (a model used as a layer)."""
        return self._run.penalty if self._run is not None else 0.0

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (np.ndarray, list, tuple, dict)) and not is_symbolic(inputs) \
                and not _holds_tensor(inputs):
            training = kwargs.pop("training", args[0] if args else False)
            xs = self._flat_inputs(inputs)
            self._ensure_built(xs)
            outs, self._run = self.run_graph(xs, bool(training), record=False)
            return self.structure_outputs([o.copy() for o in outs])
        return Layer.__call__(self, inputs, *args, **kwargs)

    def _flat_inputs(self, x) -> list[np.ndarray]:
        self.adopt_input_structure(x)
        if isinstance(x, dict):
            return [np.asarray(x[name]) for name in self.input_names]
        if isinstance(x, (list, tuple)) and len(self.input_shapes) > 1:
            return [np.asarray(v) for v in x]
        return [np.asarray(x)]

    @staticmethod
    def _structure(values: list, structure):
        if isinstance(structure, dict):
            return dict(zip(structure, values))
        if isinstance(structure, (list, tuple)) or len(values) > 1:
            return list(values)
        return values[0]

    def structure_outputs(self, outs: list):
        """The outputs as the model was defined: one array, a list or a dict."""
        return self._structure(outs, self._output_structure)

    # -- reporting and persistence --------------------------------------------------------
    def summary(self, line_length: int | None = None, positions=None, print_fn=None) -> None:
        """Print the Keras table: Layer (type), Output Shape, Param # (and Connected to
        for graphs), and the totals."""
        from .summary import summary_text
        (print_fn or print)(summary_text(self, line_length=line_length, positions=positions))

    def _repr_html_(self) -> str:
        """The summary as an HTML table: how a notebook shows a model."""
        from .summary import summary_html
        return summary_html(self)

    def get_config(self) -> dict:
        if self._graph is None:
            config = {"name": self.name, "trainable": self.trainable}
            if self._subclass_input_shapes is not None:
                config["build_input_shape"] = [list(s) for s in self._subclass_input_shapes]
            return config
        from .serialization import graph_config
        return graph_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Model:
        if "layers" in config and "nodes" in config:
            from .serialization import graph_from_config
            return graph_from_config(cls, config, custom_objects)
        config = dict(config)
        shapes = config.pop("build_input_shape", None)
        model = cls(**config)
        if shapes is not None:
            model.build([tuple(s) for s in shapes] if len(shapes) > 1 else tuple(shapes[0]))
        return model

    def to_json(self) -> str:
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()})

    def save(self, filepath) -> None:
        """Save architecture, weights and optimizer state to one file (atomically).

        The file is a zip holding ``config.json`` and ``.npz`` arrays (no pickle); load it
        with :func:`neuralab.load_model` and training resumes where it stopped.
        """
        from .saving import save_model
        save_model(self, filepath)

    def save_weights(self, filepath) -> None:
        from .saving import save_weights
        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        from .saving import load_weights
        load_weights(self, filepath)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} layers={len(self.layers)}>"

    def __reduce__(self):
        """Pickling (multiprocessing, joblib, Ray) goes through the save format: a built
        model round-trips with its weights, optimizer state and generator states."""
        from .saving import model_from_bytes, model_to_bytes
        if not self.built:
            return (type(self).from_config, (self.get_config(),))
        return (model_from_bytes, (model_to_bytes(self),))


def _is_shape_list(value) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], (tuple, list))


__all__ = ["Model", "format_shape"]
