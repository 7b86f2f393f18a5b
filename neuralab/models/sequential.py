"""``Sequential``: a stack of layers with the Keras API and an explicit low-level path.

Keras path::

    model = Sequential([Dense(4, activation="sigmoid", input_shape=(2,)),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=100, batch_size=100)

Low-level path (your own loop)::

    loss, grads = model.compute_gradients(x, y)   # grads aligned with get_weights()
    model.optimizer.step(model.trainable_weights)

or ``y = model.forward(x, training=True)`` then ``model.backward(dL_dy)``.

Once built, all trainable weights live in one flat buffer (each Parameter's ``data`` and
``grad`` are views into it), so an optimizer step is a few whole-buffer operations.
"""

from __future__ import annotations

import json
import math
import weakref

import numpy as np

from .. import backend
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers.base import Layer, format_shape
from ..layers.dense import ActivationMixin
from ..parameter import Parameter
from .functional import SymbolicTensor, chain_between


class TrainingDiverged(ArithmeticError):
    """Raised inside a training step when the loss or a gradient is NaN or infinite."""


class Sequential:
    """A linear stack of layers (Keras ``Sequential``).

    Args:
        layers: list of layers; the first may be ``Input(shape=...)`` or carry
            ``input_shape=``. Otherwise the model builds on its first input.
        name: defaults to ``sequential``, ``sequential_1``, ...
    """

    _default_name = "sequential"

    def __init__(self, layers=None, name: str | None = None):
        self.name = name or backend.unique_name(self._default_name)
        self._layers: list[Layer] = []
        self._input_tensor: SymbolicTensor | None = None
        self._batch_input_shape: tuple | None = None
        self.built = False
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.rng = backend.spawn_rng()
        self._owns_parameters = True
        self._fused = False
        self._metric_specs: list = []
        self._train_metrics: list | None = None
        self._test_metrics: list | None = None
        self._flat: list[tuple[np.ndarray, np.ndarray]] = []
        self._activity_layers: list[int] = []
        self._activity_outputs: dict[int, np.ndarray] = {}
        self._activity_penalty = 0.0
        self._last_output = None
        for layer in layers or ():
            self.add(layer)

    # -- structure --------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer) -> None:
        """Append a layer (or set the input with an ``Input(...)`` tensor first)."""
        if isinstance(layer, SymbolicTensor):
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
        self._layers.append(layer)
        layer._owner = weakref.ref(self)
        self.built = False
        if self._batch_input_shape is not None:
            self.build(self._batch_input_shape)

    def pop(self) -> Layer:
        if not self._layers:
            raise ValueError("There are no layers in the model to pop")
        layer = self._layers.pop()
        self.built = False
        if self._layers and self._batch_input_shape is not None:
            self.build(self._batch_input_shape)
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included)."""
        if input_shape is None:
            input_shape = self._batch_input_shape
        if input_shape is None:
            raise ValueError("Cannot build the model without an input shape: give the first "
                             "layer input_shape=(...) or start with Input(shape=(...))")
        shape = tuple(input_shape)
        if shape and shape[0] is not None:
            shape = (None,) + shape[1:]
        self._batch_input_shape = shape
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            elif tuple(layer.input_shape[1:]) != tuple(shape[1:]):
                raise ValueError(f"Layer {layer.name!r} was built for inputs "
                                 f"{format_shape(layer.input_shape)} but receives "
                                 f"{format_shape(shape)}")
            shape = layer.output_shape
        self.built = True
        if self._owns_parameters:
            self._flatten_parameters()
        self._mark_input_gradients()
        self._activity_layers = [i for i, layer in enumerate(self._layers)
                                 if layer.activity_regularizer is not None]
        if self.compiled:
            self._configure_fusion()

    def _ensure_built(self, x: np.ndarray) -> None:
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))

    def _flatten_parameters(self) -> None:
        """Move trainable-capable weights into one flat buffer per dtype (views per layer)."""
        groups: dict[str, list[Parameter]] = {}
        for layer in self._layers:
            for p in layer._params:
                if id(p) not in layer._always_frozen:
                    groups.setdefault(p.dtype.str, []).append(p)
        self._flat = []
        for params in groups.values():
            total = sum(p.size for p in params)
            data = np.empty(total, dtype=params[0].dtype)
            grad = np.zeros(total, dtype=params[0].dtype)
            offset = 0
            for p in params:
                end = offset + p.size
                p.rebind(data[offset:end].reshape(p.shape), grad[offset:end].reshape(p.shape))
                offset = end
            self._flat.append((data, grad))

    def _mark_input_gradients(self) -> None:
        """No one needs dL/dx below the first layer with weights: let those layers skip it."""
        skip = True
        for layer in self._layers:
            layer.skip_input_grad = skip
            if layer._params:
                skip = False

    @property
    def input_shape(self):
        return self._batch_input_shape

    @property
    def output_shape(self):
        if not self._layers:
            return self._batch_input_shape
        return self._layers[-1].output_shape

    @property
    def dtype(self) -> str:
        for layer in self._layers:
            if layer.dtype is not None:
                return layer.dtype
        return backend.floatx()

    @property
    def input(self) -> SymbolicTensor:
        """The model's input tensor (for ``Model(inputs=model.input, outputs=...)``)."""
        if self._input_tensor is None:
            if self._batch_input_shape is None:
                raise ValueError(f"Model {self.name!r} has no defined input yet: build it first")
            self._input_tensor = SymbolicTensor(self._batch_input_shape)
        return self._input_tensor

    @property
    def output(self) -> SymbolicTensor:
        return self._layers[-1].output

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"Layer index {index} out of range for {len(self._layers)} layers")
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers are: "
                         f"{[layer.name for layer in self._layers]}")

    # -- weights ----------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        return [p for layer in self._layers for p in layer._params]

    @property
    def weights(self) -> list[Parameter]:
        return self.parameters()

    @property
    def trainable_weights(self) -> list[Parameter]:
        return [p for p in self.parameters() if p.trainable]

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        return [p for p in self.parameters() if not p.trainable]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in Keras order (Dense: kernel (in, out), then bias)."""
        return [p.data.copy() for p in self.parameters()]

    def set_weights(self, weights) -> None:
        weights = list(weights)
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(f"Model {self.name!r} expects {len(params)} weight arrays, got "
                             f"{len(weights)}")
        for p, w in zip(params, weights):
            p.assign(w)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built: give an input shape or call "
                             "it on data first")
        return sum(layer.count_params() for layer in self._layers)

    def zero_grad(self) -> None:
        for layer in self._layers:
            for p in layer._params:
                p.zero_grad()

    # -- computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run all layers; the last layer's output (probabilities after a softmax)."""
        x = np.asarray(x)
        self._ensure_built(x)
        activity = self._activity_layers
        self._activity_outputs = {}
        self._activity_penalty = 0.0
        for i, layer in enumerate(self._layers):
            x = layer.forward(x, training)
            if activity and i in activity:
                self._activity_outputs[i] = x
                self._activity_penalty += layer.activity_penalty(x)
        return x

    def backward(self, dout: np.ndarray, logits: bool = False):
        """Backpropagate dL/d(output) (or dL/d(logits) of the last layer if ``logits``).

        Fills each parameter's ``grad`` (accumulating) and returns dL/dx, or ``None`` when
        the first layers skip it (they do inside a model: nobody needs it).
        """
        d = dout
        for i in range(len(self._layers) - 1, -1, -1):
            layer = self._layers[i]
            if logits and i == len(self._layers) - 1:
                d = layer.backward_logits(d)
            else:
                if i in self._activity_outputs:
                    d = layer.add_activity_gradient(d, self._activity_outputs[i])
                d = layer.backward(d)
            if d is None:
                return None
        return d

    def __call__(self, x, training: bool = False):
        if isinstance(x, SymbolicTensor):
            for layer in self._layers:
                x = x.apply(layer)
            return x
        return self.forward(np.asarray(x), training=training).copy()

    def weight_penalty(self) -> float:
        """Sum of the kernel/bias regularizer penalties."""
        return sum(p.penalty() for p in self.parameters() if p.regularizer is not None)

    def _add_weight_penalty_gradients(self) -> None:
        for p in self.parameters():
            if p.regularizer is not None and p.trainable:
                p.regularizer.add_gradient(p.data, p.grad)

    def _loss_value_and_grad(self, y, out, need_grad: bool):
        """Data loss (+ activity penalty) and dL/d(out) or, when fused, dL/d(logits)."""
        loss = self.loss
        if self._fused:
            value, grad = loss.from_logits_grad(y, self._layers[-1].logits, out)
        elif need_grad:
            value = float(loss.call(y, out).mean())
            grad = loss.gradient(y, out)
        else:
            value, grad = float(loss.call(y, out).mean()), None
        return value + self._activity_penalty, grad

    def forward_backward(self, x: np.ndarray, y: np.ndarray, training: bool = True) -> float:
        """One forward and backward pass on a batch with *validated* targets ``y``.

        Zeroes the gradients first; returns the total loss (data loss + penalties).
        """
        self.zero_grad()
        out = self.forward(x, training=training)
        self._last_output = out
        value, grad = self._loss_value_and_grad(y, out, need_grad=True)
        self.backward(grad, logits=self._fused)
        if self._has_regularizers:
            value += self.weight_penalty()
            self._add_weight_penalty_gradients()
        return value

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """forward_backward, a divergence check, then one optimizer step."""
        value = self.forward_backward(x, y, training=True)
        if not math.isfinite(value):
            raise TrainingDiverged(f"loss is {value}")
        for _, grad in self._flat:
            if not math.isfinite(float(np.add.reduce(grad))):
                raise TrainingDiverged("a gradient is NaN or infinite")
        self.optimizer.step(self.trainable_weights)
        return value

    def test_step(self, x: np.ndarray, y: np.ndarray) -> float:
        out = self.forward(x, training=False)
        self._last_output = out
        value, _ = self._loss_value_and_grad(y, out, need_grad=False)
        if self._has_regularizers:
            value += self.weight_penalty()
        return value

    def set_buffer_reuse(self, enabled: bool) -> None:
        for layer in self._layers:
            layer.set_buffer_reuse(enabled)

    # -- compile ------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs) -> None:
        """Configure training: optimizer and loss as objects or Keras names, metrics list.

        ``metrics=["accuracy"]`` picks binary/categorical/sparse accuracy from the loss.
        """
        unknown = set(kwargs) - {"loss_weights", "weighted_metrics", "run_eagerly", "jit_compile",
                                 "steps_per_execution"}
        if unknown:
            raise TypeError(f"compile() got unexpected keyword argument(s) {sorted(unknown)}")
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='categorical_crossentropy'; "
                             f"accepted names: {sorted(losses_module._REGISTRY)}")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        elif isinstance(metrics, dict):
            raise ValueError("Dict metrics are for multi-output models; pass a list of metrics")
        self._metric_specs = [m if isinstance(m, (str, metrics_module.Metric))
                              else metrics_module.get(m) for m in metrics]
        for m in self._metric_specs:
            if isinstance(m, str):  # validate names now, resolve 'accuracy' when data is seen
                metrics_module.get(m, self.loss, output_shape=(None, 2))
        self._train_metrics = self._test_metrics = None
        self.compiled = True
        if self.built:
            self._configure_fusion()

    def _configure_fusion(self) -> None:
        """Use the stable logits path for softmax + cross-entropy, sigmoid + binary CE."""
        for layer in self._layers:
            if isinstance(layer, ActivationMixin):
                layer.keep_logits = False
        last = self._layers[-1] if self._layers else None
        self._fused = (
            isinstance(last, ActivationMixin) and self.loss is not None
            and not self.loss.from_logits
            and last.activation.name == self.loss.fused_activation
            and last.activity_regularizer is None)
        if self._fused:
            last.keep_logits = True
        self._has_regularizers = any(p.regularizer is not None for p in self.parameters())

    _has_regularizers = False

    def _resolve_metrics(self, y: np.ndarray | None):
        if self._train_metrics is None:
            import copy
            resolved = [metrics_module.get(m, self.loss, y, self.output_shape)
                        for m in self._metric_specs]
            self._train_metrics = resolved
            self._test_metrics = copy.deepcopy(resolved)
        return self._train_metrics

    @property
    def metrics_names(self) -> list[str]:
        names = ["loss"]
        if self._train_metrics is not None:
            names += [m.name for m in self._train_metrics]
        else:
            names += [m if isinstance(m, str) else m.name for m in self._metric_specs]
        return names

    # -- training API (the loops live in neuralab.training) -----------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a :class:`~neuralab.callbacks.History`.

        Reshuffles every epoch (with ``model.rng``), uses the last partial batch, gathers
        each batch into a reused buffer (no copy of the training set per epoch), runs
        ``callbacks`` in Keras order and records ``loss``, metrics, ``val_*`` and ``lr``.
        A NaN/inf loss stops training with a warning naming the epoch and batch; the
        weights from the last finite step are kept.
        """
        from ..training import fit
        return fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                   callbacks=callbacks, validation_split=validation_split,
                   validation_data=validation_data, shuffle=shuffle, initial_epoch=initial_epoch,
                   validation_batch_size=validation_batch_size, validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False,
                 callbacks=None):
        """Loss (+ metrics) on ``(x, y)``: a float, a list ``[loss, *metrics]``, or a dict."""
        from ..training import evaluate
        return evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                        return_dict=return_dict, callbacks=callbacks)

    def predict(self, x, batch_size=None, verbose=0, callbacks=None) -> np.ndarray:
        """Outputs for ``x`` in batches of ``batch_size`` (default 32)."""
        from ..training import predict
        return predict(self, x, batch_size=batch_size, verbose=verbose, callbacks=callbacks)

    def train_on_batch(self, x, y, reset_metrics=True, return_dict=False):
        """One optimizer step on this batch; returns its loss (and metrics)."""
        from ..training import train_on_batch
        return train_on_batch(self, x, y, reset_metrics=reset_metrics, return_dict=return_dict)

    def test_on_batch(self, x, y, reset_metrics=True, return_dict=False):
        from ..training import test_on_batch
        return test_on_batch(self, x, y, reset_metrics=reset_metrics, return_dict=return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        return self.predict(x, batch_size=max(1, len(x)))

    def compute_gradients(self, x, y, training: bool = True):
        """``(loss, grads)`` for the batch ``(x, y)``; ``grads`` aligned with
        :meth:`get_weights` (zeros for weights that get no gradient: frozen layers and
        BatchNormalization moving statistics). Needs ``compile`` (for the loss)."""
        from ..training import prepare_targets, prepare_inputs
        if not self.compiled:
            raise ValueError("compute_gradients needs the loss: call model.compile(loss=...) first")
        x = prepare_inputs(self, x)
        y = prepare_targets(self, y, len(x))
        self.set_buffer_reuse(False)
        value = self.forward_backward(x, y, training=training)
        grads = [p.grad.copy() if p.trainable else np.zeros_like(p.data)
                 for p in self.parameters()]
        return value, grads

    # -- reporting and persistence --------------------------------------------------------
    def summary(self, line_length: int | None = None, positions=None, print_fn=None) -> None:
        """Print the Keras table: Layer (type), Output Shape, Param #, and the totals."""
        from .summary import summary_text
        text = summary_text(self, line_length=line_length, positions=positions)
        (print_fn or print)(text)

    def get_config(self) -> dict:
        return {"name": self.name,
                "build_input_shape": None if self._batch_input_shape is None
                else list(self._batch_input_shape),
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        from ..layers.base import get_layer_class
        model = cls(name=config.get("name"))
        for spec in config["layers"]:
            model.add(get_layer_class(spec["class_name"]).from_config(spec["config"]))
        if config.get("build_input_shape") is not None and not model.built:
            model.build(tuple(config["build_input_shape"]))
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
        return f"<{type(self).__name__} name={self.name!r} layers={len(self._layers)}>"

    def __reduce__(self):
        """Pickling (multiprocessing, joblib, Ray) goes through the save format: a built
        model round-trips with its weights, optimizer state and generator states."""
        from .saving import model_from_bytes, model_to_bytes
        if not self.built:
            return (Sequential.from_config, (self.get_config(),))
        return (model_from_bytes, (model_to_bytes(self),))


class Model(Sequential):
    """A model from a functional chain: ``Model(inputs=Input(...), outputs=tensor)``.

    The layers are shared with wherever they came from: a sub-model view of a trained
    model (``Model(model.input, model.get_layer("hidden").output)``) sees its weights
    and keeps them where they are.
    """

    _default_name = "model"

    def __init__(self, inputs=None, outputs=None, name: str | None = None):
        super().__init__(name=name)
        if inputs is None or outputs is None:
            raise ValueError("Model needs inputs and outputs (symbolic tensors); for a plain "
                             "stack of layers use Sequential([...])")
        chain, inputs = chain_between(inputs, outputs)
        self._owns_parameters = not any(getattr(layer, "_owner", None) is not None
                                        and layer._owner() is not None for layer in chain)
        self._input_tensor = inputs
        self._batch_input_shape = inputs.shape
        self._layers = list(chain)
        for layer in chain:
            if self._owns_parameters:
                layer._owner = weakref.ref(self)
        self.build(inputs.shape)
