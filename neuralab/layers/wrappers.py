"""Layer wrappers (Keras ``Bidirectional``, ``TimeDistributed``).

A wrapper runs its inner layers once per call, each inside its own
:class:`~neuralab.layers.base.CallState`, and keeps those states as its own call's cache:
a wrapper used twice in one pass backpropagates each call through the right inner caches.
"""

from __future__ import annotations

import numpy as np

from .base import CallState, Layer, deserialize, format_shape, register, serialize
from .recurrent import Recurrent


def _run(layer: Layer, x, training: bool, mask=None):
    """``layer.forward(x)`` with its cache kept in a new CallState: (output, state)."""
    state = CallState()
    layer.enter_call(state)
    y = layer.forward_masked(x, training, mask)
    layer.exit_call(state)
    return y, state


def _run_backward(layer: Layer, state: CallState, dout, skip_input_grad: bool):
    layer.resume_call(state)
    layer.skip_input_grad = skip_input_grad
    return layer.backward(dout)


def _time_free_output_shapes(layer: Layer, node) -> list:
    """A wrapper's graph call: built once, then applied to any number of time steps."""
    shape = tuple(node.inputs[0].shape)
    if not layer.built:
        layer._build_from_shape(shape)
    built = tuple(layer.input_shape or ())
    if len(shape) != len(built) or shape[2:] != built[2:]:
        raise ValueError(f"Layer {layer.name!r} was built for inputs "
                         f"{format_shape(layer.input_shape)}, cannot apply it to a tensor of "
                         f"shape {format_shape(shape)}")
    out = layer.compute_output_shape(shape)
    return list(out) if isinstance(out, list) else [tuple(out)]


def _renamed(layer: Recurrent, name: str, **changes) -> Recurrent:
    config = {**layer.get_config(), "name": name, **changes}
    return type(layer).from_config(config)  # type: ignore[return-value]


@register
class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy backwards in time, and merge their outputs.

    The backward copy reads the sequence from its end; with ``return_sequences`` its
    outputs are flipped back, so step t of both halves looks at the same input step.
    ``merge_mode``: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or ``None``
    (a list ``[forward, backward]``). With ``return_state`` the outputs are the merged
    output(s), then the forward layer's states, then the backward layer's (Keras order).

    Weights: the forward layer's, then the backward layer's (as PyTorch's ``_reverse``
    weights of ``bidirectional=True``).

    Shape:
        x: (N, T, D) -> (N, 2 * units) with ``"concat"`` (or (N, T, 2 * units)).

    Example:
        >>> Bidirectional(LSTM(4, return_sequences=True))(np.zeros((2, 5, 3))).shape
        (2, 5, 8)
    """

    MERGE_MODES = ("concat", "sum", "mul", "ave", None)
    #: one call's cache: the inner layers' call states and their outputs (for "mul")
    _cache_attrs = ("_states", "_halves")
    supports_masking = True
    uses_mask = True

    forward_layer: Recurrent
    backward_layer: Recurrent

    def __init__(self, layer: Recurrent | dict, merge_mode: str | None = "concat", weights=None,
                 backward_layer: Recurrent | dict | None = None, **kwargs):
        if isinstance(layer, dict):  # from a saved config
            layer = deserialize(layer)  # type: ignore[assignment]
        if isinstance(backward_layer, dict):
            backward_layer = deserialize(backward_layer)  # type: ignore[assignment]
        if not isinstance(layer, Recurrent) or not isinstance(backward_layer, (Recurrent, type(None))):
            raise ValueError(f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got "
                             f"{layer!r}")
        if merge_mode not in self.MERGE_MODES:
            raise ValueError(f"Bidirectional merge_mode must be one of {list(self.MERGE_MODES)}, "
                             f"got {merge_mode!r}")
        super().__init__(**kwargs)
        base = layer.name.removeprefix("forward_")
        self.forward_layer = (layer if layer.name.startswith("forward_")
                              else _renamed(layer, "forward_" + base))
        if backward_layer is None:
            backward_layer = _renamed(layer, "backward_" + base, go_backwards=not layer.go_backwards)
        self.backward_layer = backward_layer
        for inner in (self.forward_layer, self.backward_layer):  # Keras forces it so
            inner.zero_output_for_mask = inner.return_sequences
        for attr in ("return_sequences", "return_state"):
            if getattr(self.forward_layer, attr) != getattr(self.backward_layer, attr):
                raise ValueError(f"Bidirectional: forward and backward layers differ in {attr}")
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self._initial_weights = weights

    def build(self, input_shape):
        super().build(input_shape)
        for layer in (self.forward_layer, self.backward_layer):
            if layer.dtype is None:
                layer.dtype = self.dtype
            if not layer.built:
                layer.build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def symbolic_output_shapes(self, node):
        return _time_free_output_shapes(self, node)

    def compute_output_shape(self, input_shape):
        forward = self.forward_layer.compute_output_shape(input_shape)
        out, states = (forward[0], list(forward[1:])) if self.return_state else (forward, [])
        out = tuple(out)
        if self.merge_mode == "concat":
            outputs = [out[:-1] + (2 * out[-1],)]
        elif self.merge_mode is None:
            outputs = [out, out]
        else:
            outputs = [out]
        if not self.return_state and len(outputs) == 1:
            return outputs[0]
        return outputs + states + states

    def compute_mask(self, inputs, mask=None):
        """Keras': the input's mask on each sequence output, None elsewhere."""
        halves = 1 if self.merge_mode is not None else 2
        out = [mask if self.return_sequences else None] * halves
        states = [None] * (2 * len(self.forward_layer.state_names)) if self.return_state else []
        return out[0] if len(out) + len(states) == 1 else out + states

    def forward(self, x, training=False, mask=None):
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:])
        yf, state_f = _run(self.forward_layer, x, training, mask)
        yb, state_b = _run(self.backward_layer, x, training, mask)
        self._states = (state_f, state_b)
        yf, sf = (yf[0], yf[1:]) if self.return_state else (yf, [])
        yb, sb = (yb[0], yb[1:]) if self.return_state else (yb, [])
        if self.return_sequences:
            yb = yb[:, ::-1]
        self._halves = (yf, yb) if self.merge_mode == "mul" else None
        if self.merge_mode == "concat":
            outputs = [np.concatenate([yf, yb], axis=-1)]
        elif self.merge_mode == "sum":
            outputs = [yf + yb]
        elif self.merge_mode == "mul":
            outputs = [yf * yb]
        elif self.merge_mode == "ave":
            outputs = [(yf + yb) / 2]
        else:
            outputs = [yf, yb]
        if not self.return_state and len(outputs) == 1:
            return outputs[0]
        return outputs + list(sf) + list(sb)

    def backward(self, dout):
        douts = list(dout) if isinstance(dout, (list, tuple)) else [dout]
        n_out = 2 if self.merge_mode is None else 1
        n_states = len(self.forward_layer.state_names) if self.return_state else 0
        douts += [None] * (n_out + 2 * n_states - len(douts))
        dyf, dyb = self._split(douts[:n_out])
        if dyb is not None and self.return_sequences:
            dyb = dyb[:, ::-1]
        dsf = douts[n_out:n_out + n_states]
        dsb = douts[n_out + n_states:]
        state_f, state_b = self._states
        # a list of gradients (None for an unused half) is what recurrent layers accept
        dx_f = _run_backward(self.forward_layer, state_f, [dyf] + dsf, self.skip_input_grad)
        dx_b = _run_backward(self.backward_layer, state_b, [dyb] + dsb, self.skip_input_grad)
        return None if self.skip_input_grad else dx_f + dx_b

    def _split(self, douts):
        """dL/d(forward half), dL/d(backward half) from the merged output's gradient."""
        if self.merge_mode is None:
            return douts[0], douts[1]
        dy = douts[0]
        if dy is None:
            return None, None
        if self.merge_mode == "concat":
            units = dy.shape[-1] // 2
            return dy[..., :units], dy[..., units:]
        if self.merge_mode == "sum":
            return dy, dy
        if self.merge_mode == "mul":
            yf, yb = self._halves
            return dy * yb, dy * yf
        return dy / 2, dy / 2

    def get_config(self):
        return {**super().get_config(), "layer": serialize(self.forward_layer),
                "merge_mode": self.merge_mode, "backward_layer": serialize(self.backward_layer)}


@register
class TimeDistributed(Layer):
    """Apply one layer to every time step: (N, T, ...) is run as (N*T, ...) through the
    wrapped layer's ``forward`` and ``backward`` and reshaped back.

    Shape:
        x: (N, T, *features) -> (N, T, *layer output features).

    Example:
        >>> TimeDistributed(Dense(2))(np.zeros((4, 5, 3))).shape
        (4, 5, 2)
    """

    supports_masking = True  # a mask passes on unchanged (Keras)

    #: one call's cache: the inner layer's call state and the (N, T) of the input
    _cache_attrs = ("_state", "_x_shape")

    def __init__(self, layer: Layer, **kwargs):
        if isinstance(layer, dict):
            layer = deserialize(layer)
        if not isinstance(layer, Layer) or not layer.has_own_backward:
            raise ValueError(f"TimeDistributed wraps a layer with its own backward (Dense, "
                             f"Conv2D, ...), got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed expects inputs of shape (N, T, ...), got "
                             f"{format_shape(input_shape)}")
        super().build(input_shape)
        if self.layer.dtype is None:
            self.layer.dtype = self.dtype
        if not self.layer.built:
            self.layer.build((None,) + tuple(input_shape[2:]))

    def symbolic_output_shapes(self, node):
        return _time_free_output_shapes(self, node)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def forward(self, x, training=False):
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:])
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed {self.name!r} expects inputs of shape (N, T, ...), "
                             f"got {format_shape((None,) + x.shape[1:])}")
        self._x_shape = x.shape
        n, t = x.shape[:2]
        y, self._state = _run(self.layer, x.reshape((n * t,) + x.shape[2:]), training)
        return y.reshape((n, t) + y.shape[1:])

    def backward(self, dout):
        n, t = self._x_shape[:2]
        dx = _run_backward(self.layer, self._state, dout.reshape((n * t,) + dout.shape[2:]),
                           self.skip_input_grad)
        return None if dx is None else dx.reshape(self._x_shape)

    def get_config(self):
        return {**super().get_config(), "layer": serialize(self.layer)}
