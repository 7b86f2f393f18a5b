"""The ``Layer`` base class: parameters, lazy build, config, graph calls, buffer reuse.

There are two ways to write a layer; both take part in graphs and training alike.

The fast way (every built-in layer): a hand-written backward.

* ``build(input_shape)`` — create parameters once the input shape is known
  (``input_shape`` includes the batch axis as ``None``: ``(None, 784)``);
* ``forward(x, training)`` — compute ``y`` on arrays and keep what ``backward`` needs in
  the attributes named by ``_cache_attrs`` (one call's cache, see :class:`CallState`);
* ``backward(dout)`` — add dL/dW into each parameter's ``grad`` and return dL/dx.
  It never writes into ``dout``.

The Keras way: only the forward maths. Define ``call(inputs, training=None)`` with
:mod:`neuralab.ops` (and ``build`` with ``add_weight``); the gradient comes from the
operations it records on :class:`~neuralab.tensor.Tensor` inputs.

Calling a layer dispatches on its input: symbolic tensors (``Input``) record a graph
node; :class:`~neuralab.tensor.Tensor` inputs record one node on the tape (a built-in
layer's node runs its own ``backward``); NumPy arrays just compute.

Layers never decide training mode themselves: ``training`` is passed down by the model.
"""

from __future__ import annotations

import inspect
from typing import cast

import numpy as np

from .. import backend, initializers, regularizers
from ..parameter import Parameter
from ..registry import Registry, has_config, serialize_object
from ..symbolic import KerasTensor, infer_output_shapes, is_symbolic, record_layer_call
from ..tensor import Tensor

Shape = tuple  # (None, d1, d2, ...): batch axis first, unknown batch size as None
#: a layer's input or output shape: one Shape, or a list of them (several inputs or outputs)
Shapes = Shape | list[Shape]
#: what ``forward`` takes and ``backward`` returns: one array, or a list for ``multi_input``
#: layers (and a list of douts for layers with several outputs)
Arrays = np.ndarray | list[np.ndarray]

def register(cls: type[Layer]) -> type[Layer]:
    """Make a built-in layer class loadable by its class name (``@register``).

    Your own layers: ``@neuralab.saving.register_keras_serializable()`` or
    ``load_model(..., custom_objects={...})``.
    """
    return LAYERS.register(cls)


def get_layer_class(name: str, custom_objects: dict | None = None) -> type[Layer]:
    """The layer class saved as ``name`` (custom objects first, then the built-ins).

    Raises:
        ValueError: unknown name, with the closest names and the ways to register a class.
    """
    return LAYERS.get_class(name, custom_objects)


def serialize(layer: Layer) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}`` (+ ``"registered_name"``);
    layers, regularizers, initializers (any object with ``get_config``) that a custom
    layer's config holds are serialized the same way, so the result is plain JSON data."""
    spec = LAYERS.serialize(layer)
    return {**spec, "config": _plain_config(spec["config"])}


def _plain_config(value):
    """``value`` with the objects inside it (layers, regularizers, ...: anything with
    ``get_config``) replaced by their serialized ``{"class_name", "config"}`` dicts."""
    if isinstance(value, dict):
        return {k: _plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_config(v) for v in value]
    if has_config(value):
        spec = serialize_object(value)
        return {**spec, "config": _plain_config(spec["config"])}
    return value


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """A layer from :func:`serialize`'s dict, through its class's ``from_config``;
    ``custom_objects`` stay visible to nested configs (activations, initializers, ...)."""
    return LAYERS.deserialize(config, custom_objects)


def format_shape(shape) -> str:
    """``(None, 120)`` -> ``"(N, 120)"`` for error messages."""
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


class CallState:
    """One call's share of a layer: what ``backward`` needs from that call's ``forward``
    (the values of the layer's ``_cache_attrs``) and the scratch buffers it writes into.

    A graph node keeps one per call, so a layer called twice in one pass (a shared layer,
    a Siamese branch) backpropagates each call with its own inputs and outputs.
    """

    __slots__ = ("cache", "buffers")

    def __init__(self):
        self.cache: tuple = ()
        self.buffers: dict[str, np.ndarray] = {}


class Layer:
    """Base class of all layers.

    Keyword Args:
        name (str | None): unique name; defaults to the snake-case class name (``dense``, ``dense_1``).
        trainable (bool): whether optimizers update this layer's weights.
        dtype (str | None): ``"float32"``/``"float64"``; defaults to :func:`neuralab.backend.floatx`.
        input_shape (tuple[int, ...] | None): shape of one sample, e.g. ``(784,)``; lets a model
            build eagerly.
        activity_regularizer (Regularizer | str | None): penalty on the layer's output (divided by
            the batch size).
    """

    #: elementwise layers (activations, dropout) work on inputs of any shape once built
    accepts_any_shape = False
    #: merge layers (Add, Concatenate, ...) take a list of inputs and return a list of dx
    multi_input = False
    #: the attributes ``forward`` sets and ``backward`` reads: one call's cache (see CallState)
    _cache_attrs: tuple[str, ...] = ()
    #: True once the layer is called as ``layer(a, b)``: call() takes the tensors spread out
    _spread_inputs = False
    #: ``call``'s parameter names and whether it takes ``**kwargs``: cached per class by
    #: _call_takes (declared only, so that each class's own ``__dict__`` says whether it
    #: was computed)
    _call_signature: tuple[frozenset, bool]

    _ACCEPTED_KWARGS = ("name", "trainable", "dtype", "input_shape", "input_dim",
                        "batch_input_shape", "batch_size", "activity_regularizer", "autocast")

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
        self.input_shape: Shapes | None = None
        self.output_shape: Shapes | None = None
        self._params: list[Parameter] = []
        self._always_frozen: set[int] = set()
        self._reuse_buffers = False
        self._buffers: dict[str, np.ndarray] = {}
        #: set by a model on its first layers: nobody needs dL/dx, so backward skips it
        self.skip_input_grad = False
        self._owner = None  # weak reference to the model holding this layer
        self._inbound_nodes: list = []  # symbolic calls of this layer (graph nodes)
        self._losses: list = []  # add_loss values of the last call

    # -- building ---------------------------------------------------------------------
    def build(self, input_shape: Shapes) -> None:
        """Create parameters for inputs of ``input_shape`` (batch axis included)."""
        input_shape = tuple(input_shape)
        if self.dtype is None:
            self.dtype = backend.floatx()
        self.input_shape = input_shape
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape: Shapes) -> Shapes:
        return tuple(input_shape)

    def add_weight(self, *args, **kwargs) -> Parameter:
        """Create, register and return a :class:`Parameter` (Keras ``add_weight``).

        Keras 3 order: ``add_weight(shape, initializer=None, dtype=None, trainable=True,
        autocast=True, regularizer=None, constraint=None, aggregation=None, name=None)``
        (initializer ``None`` means ``"glorot_uniform"``); the Keras 2 order with the name
        first, ``add_weight(name, shape, initializer="zeros", regularizer=None,
        trainable=True)``, is accepted too.
        """
        if args and isinstance(args[0], str):
            names: tuple[str, ...] = ("name", "shape", "initializer", "regularizer", "trainable",
                                      "rng")
            defaults: dict[str, str | None] = {"initializer": "zeros"}
        else:
            names = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer",
                     "constraint", "aggregation", "name")
            defaults = {"initializer": None}
        if len(args) > len(names):
            raise TypeError(f"add_weight takes at most {len(names)} positional arguments")
        options = {**defaults, **dict(zip(names, args)), **kwargs}
        unknown = set(options) - {"name", "shape", "initializer", "dtype", "trainable",
                                  "autocast", "regularizer", "constraint", "aggregation", "rng",
                                  "synchronization", "use_resource", "experimental_autocast"}
        if unknown:
            raise TypeError(f"add_weight got unexpected keyword argument(s) {sorted(unknown)}")
        if options.get("constraint") is not None:
            raise ValueError("add_weight: weight constraints are not supported")
        shape = options.get("shape") or ()
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
        dtype = backend.standardize_dtype(options.get("dtype") or self.dtype)
        initializer = options["initializer"]
        if initializer is None:
            initializer = "glorot_uniform" if len(shape) >= 2 else "zeros"
        trainable = bool(options.get("trainable", True))
        name = options.get("name") or f"variable_{len(self._params)}"
        data = np.empty(shape, dtype) if initializers.is_deferred() else \
            initializers.get(initializer)(shape, dtype, options.get("rng"))
        param = Parameter(data, name=f"{self.name}/{name}",
                          trainable=trainable and self._trainable,
                          regularizer=regularizers.get(options.get("regularizer")))
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
        expected: Shape = self.input_shape  # type: ignore[assignment]  # built, one input
        if x.ndim != len(expected) or any(
                e is not None and e != d for e, d in zip(expected[1:], x.shape[1:])):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected input of shape "
                f"{format_shape(expected)}, got {format_shape((None,) + x.shape[1:])}"
            )

    # -- masks (Keras masking: which timesteps of a padded sequence count) -------------
    #: ``forward`` takes ``mask=``: a boolean (N, T) array, True at the steps that count
    uses_mask = False

    @property
    def supports_masking(self) -> bool:
        """Whether the layer gives its output a mask (Keras ``supports_masking``): by
        default, as in Keras, whether its class defines ``compute_mask``; a mask that
        reaches a layer without it is dropped, with Keras' warning."""
        own = self.__dict__.get("_supports_masking")
        return self._defines_compute_mask() if own is None else own

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    @property
    def makes_mask(self) -> bool:
        """Whether this layer may start a mask (``Embedding(mask_zero=True)``,
        ``Masking``): Keras asks a layer that supports masking for its mask even when no
        mask comes in, so a user's layer defining ``compute_mask`` may start one."""
        return self._defines_compute_mask() and not LAYERS.is_builtin(type(self)) \
            and self.supports_masking

    def _defines_compute_mask(self) -> bool:
        return type(self).compute_mask is not Layer.compute_mask

    def compute_mask(self, inputs, mask=None):
        """The mask of the output for ``inputs`` carrying ``mask`` (Keras
        ``compute_mask``): by default the input's, unchanged."""
        return mask

    def _checked_mask(self, mask, shape: tuple, axes: str) -> np.ndarray:
        """``mask`` as booleans of ``shape``, the input's leading axes named ``axes``
        ("(N, T)"), or an error naming both shapes."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != tuple(shape):
            raise ValueError(f"{type(self).__name__} {self.name!r}: the mask must have the "
                             f"shape {axes} = {tuple(shape)} of its input, got {mask.shape}")
        return mask

    # -- computation ------------------------------------------------------------------
    def forward(self, x: Arrays, training: bool = False) -> Arrays:
        raise NotImplementedError

    def forward_masked(self, x: Arrays, training: bool, mask=None) -> Arrays:
        """``forward(x, training)``, given ``mask=`` too when there is one and the layer
        :attr:`uses_mask`."""
        if mask is not None and self.uses_mask:
            return self.forward(x, training, mask=mask)  # type: ignore[call-arg]  # uses_mask
        return self.forward(x, training)

    def backward(self, dout: Arrays) -> Arrays:
        raise NotImplementedError

    def call(self, inputs, training=None, mask=None):
        """The forward maths on tensors (Keras ``call``). Layers with a hand-written
        ``backward`` need not define it: by default it records their own node (``mask``:
        the (N, T) steps that count, for a layer that :attr:`uses_mask`)."""
        if not self.has_own_backward:
            raise NotImplementedError(
                f"{type(self).__name__} defines neither call(inputs) nor forward/backward: "
                "define call(self, inputs, training=None) with neuralab.ops (the gradient "
                "follows), or forward(x, training) and backward(dout) for a fast layer")
        return self._call_recorded(inputs, bool(training), mask)

    @property
    def has_own_backward(self) -> bool:
        """Whether this layer computes its gradient by hand (``forward``/``backward``)."""
        return type(self).backward is not Layer.backward

    def __call__(self, inputs, *args, **kwargs):
        if args and _is_tensor_like(args[0]):
            # layer(targets, logits): several tensors as positional arguments, which the
            # graph carries as one list and call() receives spread out again, as in Keras
            self._spread_inputs = True
            inputs, args = [inputs, *args], ()
        training = kwargs.pop("training", args[0] if args else None)
        if is_symbolic(inputs):
            if kwargs.get("mask") is not None:
                raise NotImplementedError(
                    f"{type(self).__name__}: a mask= argument in a functional model is not "
                    "supported; start the mask with Embedding(mask_zero=True) or Masking() "
                    "and it reaches the layers after them by itself")
            kwargs.pop("mask", None)
            return self._call_symbolic(inputs, kwargs, training)
        self._losses = []
        if self.has_own_backward and not _holds_tensor(inputs):
            x = [np.asarray(v) for v in inputs] if self.multi_input else np.asarray(inputs)
            for v in (x if self.multi_input else [x]):
                if not (np.issubdtype(v.dtype, np.number) or v.dtype == bool):
                    raise TypeError(f"{type(self).__name__} expected numeric input, got dtype "
                                    f"{v.dtype}")
            mask = kwargs.get("mask")
            return self.forward_masked(x, bool(training), None if mask is None else
                                       np.asarray(mask, dtype=bool))
        if _holds_tensor(inputs):
            self._maybe_build_for(inputs)
            mask = kwargs.get("mask")
            if mask is None:  # the mask riding on the input, passed on as Keras does
                mask = _tensor_mask(inputs)
                takes = self.uses_mask if self.has_own_backward else self._call_takes("mask")
                if mask is not None and takes:
                    kwargs = {**kwargs, "mask": mask}
            out = self._call_user(inputs, training, kwargs)
            self._attach_mask(inputs, out, mask)
            return out
        tensors = ([Tensor(v) for v in inputs] if isinstance(inputs, (list, tuple))
                   else Tensor(inputs))
        self._maybe_build_for(tensors)
        out = self._call_user(tensors, training, kwargs)
        return _to_arrays(out)

    def _attach_mask(self, inputs, out, mask) -> None:
        """Give the Tensor(s) a call returned their mask (Keras' rule, as in a graph)."""
        if not (self.makes_mask or (mask is not None and self.supports_masking)):
            return
        masks = self.compute_mask(_to_arrays(inputs), mask)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        masks = list(masks) if isinstance(masks, (list, tuple)) and len(outs) > 1 else [masks]
        for t, m in zip(outs, masks):
            if isinstance(t, Tensor) and m is not None:
                t._keras_mask = np.asarray(_to_arrays(m), dtype=bool)

    def _call_user(self, inputs, training, kwargs):
        if self._accepts_training():
            kwargs = {**kwargs, "training": training}
        if self._spread_inputs:
            return self.call(*inputs, **kwargs)
        return self.call(inputs, **kwargs)

    def _accepts_training(self) -> bool:
        return self._call_takes("training", or_var_keyword=True)

    def _call_takes(self, name: str, or_var_keyword: bool = False) -> bool:
        """Whether ``call`` has a parameter ``name`` (or, with ``or_var_keyword``,
        ``**kwargs``): Keras passes ``training`` and ``mask`` only to a call that takes them."""
        cls = type(self)
        cached = cls.__dict__.get("_call_signature")
        if cached is None:
            params = inspect.signature(cls.call).parameters
            cached = (frozenset(params), any(p.kind is inspect.Parameter.VAR_KEYWORD
                                             for p in params.values()))
            cls._call_signature = cached
        return name in cached[0] or (or_var_keyword and cached[1])

    def _call_recorded(self, inputs, training: bool, mask=None):
        """A built-in layer on Tensors: one tape node whose backward is ``self.backward``.

        The node keeps this call's :class:`CallState`; the layer's trainable weights are
        the node's parents too (their gradients are added by ``backward`` itself).
        """
        xs = list(inputs) if self.multi_input else [inputs]
        xs = [v if isinstance(v, Tensor) else Tensor(v) for v in xs]
        state = CallState()
        self.enter_call(state)
        x = [v.data for v in xs] if self.multi_input else xs[0].data
        if mask is not None:
            mask = np.asarray(_to_arrays(mask), dtype=bool)
        y = self.forward_masked(x, training, mask)
        self.exit_call(state)
        weights = self.trainable_weights
        needs_dx = [v.requires_grad for v in xs]

        def backward(dout):
            self.resume_call(state)
            self.skip_input_grad = not any(needs_dx)
            dx = self.backward(dout)
            self.skip_input_grad = False
            dxs = list(dx) if self.multi_input else [dx]
            return dxs + [None] * len(weights)

        # one output: the layers recorded as one tape node return one array
        return Tensor.from_op(cast(np.ndarray, y), xs + weights, backward, type(self).__name__)

    def _call_symbolic(self, inputs, kwargs, training):
        if training is not None:
            kwargs = {**kwargs, "training": training}
        outputs = record_layer_call(self, inputs, kwargs)
        self._inbound_nodes.append((outputs if isinstance(outputs, KerasTensor)
                                    else outputs[0]).node)
        return outputs

    def symbolic_output_shapes(self, node) -> list[Shape]:
        """Build for ``node``'s inputs if needed; the batch shapes of its outputs."""
        shapes = [t.shape for t in node.inputs]
        input_shape = shapes[0] if node.structure == "single" else shapes
        if not self.built:
            self._build_from_shape(input_shape)
        elif self.has_own_backward and not self.accepts_any_shape and not self.multi_input \
                and self.input_shape is not None \
                and tuple(self.input_shape[1:]) != tuple(input_shape[1:]):
            raise ValueError(f"Layer {self.name!r} was built for inputs "
                             f"{format_shape(self.input_shape)}, cannot apply it to a tensor "
                             f"of shape {format_shape(input_shape)}")
        if self.has_own_backward or type(self).compute_output_shape is not Layer.compute_output_shape:
            out = self.compute_output_shape(input_shape)
            return list(out) if _is_shape_list(out) else [tuple(out)]
        from ..symbolic import probe_inputs

        def run(batch):
            values = [Tensor(v) for v in probe_inputs(node.inputs, batch)]
            return self._call_user(values[0] if node.structure == "single" else values,
                                   False, dict(node.kwargs))
        found = infer_output_shapes(run)
        if self.output_shape is None:
            self.output_shape = found[0] if len(found) == 1 else found
        return found

    def _maybe_build_for(self, inputs) -> None:
        if self.built:
            return
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        shapes = [(None,) + tuple(np.shape(v.data if isinstance(v, Tensor) else v)[1:])
                  for v in values]
        self._build_from_shape(shapes if isinstance(inputs, (list, tuple)) else shapes[0])

    def _build_from_shape(self, input_shape) -> None:
        """Keras' first-call build: the dtype is settled before ``build`` adds weights."""
        if self.dtype is None:
            self.dtype = backend.floatx()
        self.build(input_shape)
        if self.input_shape is None:
            self.input_shape = input_shape
        self.built = True

    # -- losses added during a call (Keras add_loss) -------------------------------------
    def add_loss(self, loss) -> None:
        """Add a scalar (a Tensor built with ops, so it has a gradient) to the model's loss."""
        self._losses.append(loss)

    def added_losses(self) -> list:
        """Scalars added with :meth:`add_loss` during the last call, this layer's and its
        sub-layers' (what the training step backpropagates besides the compiled loss)."""
        found = list(self._losses)
        for layer in self._sublayers():
            found += layer.added_losses()
        return found

    @property
    def losses(self) -> list:
        """Keras' ``layer.losses``: the :meth:`added_losses`, then the penalty of each
        regularized weight of this layer and its sub-layers (e.g. ``l2 * sum(w**2)``), as
        scalar tensors. Training adds the weight penalties through the weights themselves."""
        penalties = [Tensor(np.asarray(p.penalty(), dtype=p.data.dtype))
                     for p in self.weights if p.regularizer is not None]
        return self.added_losses() + penalties

    # -- sub-layers (a custom layer holding layers) --------------------------------------
    def _sublayers(self) -> list[Layer]:
        """Layers held in attributes (directly, or in lists, tuples or dicts)."""
        found: list[Layer] = []
        for name, value in vars(self).items():
            if name in ("_owner", "_inbound_nodes", "_losses"):
                continue
            items = (value.values() if isinstance(value, dict)
                     else value if isinstance(value, (list, tuple)) else (value,))
            for item in items:
                if isinstance(item, Layer) and item is not self and \
                        all(item is not f for f in found):
                    found.append(item)
        return found

    @property
    def output(self):
        """The symbolic output of this layer's first call in a graph (Keras
        ``layer.output``), e.g. for a sub-model view:
        ``Model(inputs=model.input, outputs=model.get_layer("hidden").output)``."""
        if not self._inbound_nodes:
            raise ValueError(f"Layer {self.name!r} has no defined output: it has not been "
                             "called on a symbolic input (it is not part of a built graph)")
        outputs = self._inbound_nodes[0].outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    @property
    def input(self):
        if not self._inbound_nodes:
            raise ValueError(f"Layer {self.name!r} has no defined input: it has not been "
                             "called on a symbolic input")
        node = self._inbound_nodes[0]
        return node.inputs[0] if node.structure == "single" else list(node.inputs)

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

    # -- one call's state (graph nodes) -------------------------------------------------
    def enter_call(self, state: CallState) -> None:
        """Before ``forward``: write scratch arrays into this call's buffers."""
        self._buffers = state.buffers

    def exit_call(self, state: CallState) -> None:
        """After ``forward``: keep what ``backward`` needs in this call's state."""
        state.cache = tuple(getattr(self, name, None) for name in self._cache_attrs)

    def resume_call(self, state: CallState) -> None:
        """Before ``backward``: bring back that call's cache and buffers."""
        for name, value in zip(self._cache_attrs, state.cache):
            setattr(self, name, value)
        self._buffers = state.buffers

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
        """All parameters in Keras weight order (e.g. kernel, bias), then sub-layers'."""
        params = list(self._params)
        for layer in self._sublayers():
            params += [p for p in layer.parameters() if all(p is not q for q in params)]
        return params

    @property
    def weights(self) -> list[Parameter]:
        return self.parameters()

    @property
    def trainable_weights(self) -> list[Parameter]:
        return [p for p in self.parameters() if p.trainable]

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        return [p for p in self.parameters() if not p.trainable]

    @property
    def variables(self) -> list[Parameter]:
        return self.parameters()

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for p in self._params:
            p.trainable = self._trainable and id(p) not in self._always_frozen
        for layer in self._sublayers():
            layer.trainable = value

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet, so its parameter count is unknown; "
                "give the model an input_shape or call it on data first")
        return int(sum(p.size for p in self.parameters()))

    def get_weights(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self.parameters()]

    def set_weights(self, weights) -> None:
        weights = list(weights)
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name!r} expects {len(params)} weight arrays "
                f"({[p.name for p in params]}), got {len(weights)}"
            )
        for p, w in zip(params, weights):
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
    def from_config(cls, config: dict) -> Layer:
        config = dict(config)
        if "batch_input_shape" in config and config["batch_input_shape"] is not None:
            config["batch_input_shape"] = tuple(config["batch_input_shape"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


LAYERS = Registry("layer", Layer, case_sensitive=True)
"""Layer classes by class name; filled by ``@register`` in each layer module."""


def _is_tensor_like(value) -> bool:
    """A tensor, a symbolic tensor or an array: a positional input, not a training flag."""
    return isinstance(value, (Tensor, KerasTensor)) or (
        isinstance(value, np.ndarray) and value.ndim > 0)


def _holds_tensor(value) -> bool:
    """Whether ``value`` is, or is a list/tuple/dict holding, a :class:`Tensor`."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, Tensor):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value)


def _tensor_mask(inputs):
    """The mask riding on a layer's input Tensor (a list of them for a list of inputs), or
    None when there is none."""
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(v, "_keras_mask", None) for v in inputs]
        return None if all(m is None for m in masks) else masks
    return getattr(inputs, "_keras_mask", None)


def _to_arrays(value):
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_to_arrays(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_arrays(v) for k, v in value.items()}
    return value


def _is_shape_list(value) -> bool:
    return isinstance(value, list) or (isinstance(value, tuple) and bool(value)
                                       and isinstance(value[0], (tuple, list)))


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
