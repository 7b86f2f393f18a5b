"""Recurrent layers (Keras ``SimpleRNN``, ``LSTM``, ``GRU``) with backpropagation through time.

Every layer reads a batch of sequences ``x`` (N, T, D) and runs one step per time index:
the input side of all steps is one matrix product ``x @ Wx + b`` (N, T, G*H) before the loop
(G gates of H units), the recurrent side ``h @ Wh`` is one product per step. Backward walks
the steps in reverse, keeping per step only the gradient of the gate pre-activations
``dz`` (N, T, G*H); the weight gradients are then one product each over all steps:
``dWx = x^T dz``, ``dWh = h_prev^T dz``, ``db = sum dz``, ``dx = dz Wx^T``.

Weights follow Keras 3: ``kernel`` Wx (D, G*H), ``recurrent_kernel`` Wh (H, G*H) and
``bias``, gates side by side along the last axis in Keras order (LSTM ``i, f, c, o``;
GRU ``z, r, h``). PyTorch's ``weight_ih`` is ``Wx.T`` (its GRU orders the gates ``r, z, n``).

Initial states: ``layer(x, initial_state=[h0])`` (``[h0, c0]`` for LSTM; also
``layer([x, h0, c0])``), on arrays or symbolic tensors, e.g. an encoder's states starting a
decoder. The states default to zeros; given ones get their gradient: ``backward`` then
returns ``[dx, dh0(, dc0)]``.

Outputs: the last ``h`` (N, H), all of them (N, T, H) with ``return_sequences``, and with
``return_state`` a list ``[output, h]`` (``[output, h, c]`` for LSTM); ``backward`` then
takes a list of gradients with ``None`` for outputs nobody used. With ``go_backwards`` the
sequence is read from its end and the outputs come in that (reversed) order, as in Keras.

Masks (Keras'): ``layer(x, mask=keep)`` with ``keep`` (N, T) boolean, or a mask arriving
from ``Embedding(mask_zero=True)``/``Masking`` in a model: at a step where ``keep`` is False
the states stay as they were, ``h_t = keep_t ? cell(x_t, h_{t-1}) : h_{t-1}``, and the output
repeats the previous one (the initial ``h`` before the first kept step, zeros by default);
with ``zero_output_for_mask``, which ``Bidirectional`` sets on its layers when they return
sequences, it is zeros. Backward sends such a step's gradient straight on to ``h_{t-1}``
(and ``c_{t-1}``), so padding adds nothing to the weights' gradients. With
``return_sequences`` the output carries the mask on.

Dropout (training only, Keras 3's rule): ``dropout`` zeroes input features with one mask
per sequence (N, D) shared by all steps, ``recurrent_dropout`` zeroes entries of
``h_{t-1}`` with one mask (N, H) where it enters the recurrent product ``h_{t-1} Wh`` (the
GRU's ``z * h_{t-1}`` and the LSTM's cell see the unmasked state).
"""

from __future__ import annotations

import numpy as np

from .. import activations, backend, initializers, regularizers
from ..parameter import Parameter
from ..symbolic import is_symbolic
from .base import Layer, _holds_tensor, format_shape, register


class Recurrent(Layer):
    """Base of the recurrent layers: the Keras arguments, the weights, the shapes, and the
    work shared by every cell (input-side product, outputs, weight gradients).

    A subclass sets ``gates`` and ``state_names`` and writes two loops:
    ``_scan(xw)`` -> (hs (N, T, H), final states) keeping its per-step values in
    ``self._steps``, and ``_backward_through_time(dhs, dstates)`` -> (dz for the input
    side (N, T, G*H), dL/d(recurrent bias) or ``None``, dL/d(initial states)), adding into
    ``recurrent_kernel``. ``self._start(k, n)`` is initial state k (given, or zeros).
    """

    gates = 1
    state_names: tuple[str, ...] = ("h",)
    kernel: Parameter
    recurrent_kernel: Parameter
    bias: Parameter | None = None
    #: one call's cache: the (possibly reversed, dropped-out) input, all hidden states,
    #: per-step values, the dropout masks (input, recurrent), the initial states and the
    #: sequence mask (N, T, 1) of that call
    _cache_attrs = ("_x", "_hs", "_steps", "_dropouts", "_initial", "_keep")
    supports_masking = True
    uses_mask = True

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, seed: int | None = None, **kwargs):
        kind = type(self).__name__
        # Keras configs carry these; only their defaults have a meaning here
        for label in ("kernel_constraint", "recurrent_constraint", "bias_constraint"):
            if kwargs.pop(label, None) is not None:
                raise ValueError(f"{kind}: weight constraints are not supported ({label})")
        if kwargs.pop("time_major", False):
            raise ValueError(f"{kind}: time_major=True is not supported; inputs are (N, T, D)")
        for label in ("implementation", "use_cudnn"):
            kwargs.pop(label, None)  # speed/device choices: same maths here
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{kind} units must be a positive integer, got {units!r}")
        for label, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{kind} {label} must be in [0, 1), got {rate!r}")
        if stateful:
            raise ValueError(f"{kind}: stateful=True is not supported")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)  # one loop either way; kept for Keras configs
        #: a masked step outputs zeros instead of the previous output (its states still
        #: carry over); Bidirectional sets it on its layers with return_sequences, as Keras
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = seed
        self.rng = backend.spawn_rng(seed)

    # -- weights and shapes -------------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} expects sequences of shape (N, T, D) with a "
                             f"known D, got {format_shape(input_shape)}")
        super().build(input_shape)
        self._features = int(input_shape[-1])
        width = self.units * self.gates
        self.kernel = self.add_weight("kernel", (int(input_shape[-1]), width),
                                      self.kernel_initializer, self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width),
                                                self.recurrent_initializer,
                                                self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init(),
                                        self.bias_regularizer)

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.units * self.gates,)

    def _bias_init(self):
        return self.bias_initializer

    def compute_output_shape(self, input_shape):
        n, t = input_shape[0], input_shape[1]
        out = (n, t, self.units) if self.return_sequences else (n, self.units)
        if not self.return_state:
            return out
        return [out] + [(n, self.units)] * len(self.state_names)

    def __call__(self, inputs, *args, initial_state=None, **kwargs):
        if initial_state is not None:
            states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            inputs = [inputs, *states]
        if _holds_tensor(inputs) and (self.return_state or isinstance(inputs, (list, tuple))):
            raise NotImplementedError(f"{type(self).__name__}: initial states and return_state on "
                                      "Tensors are not supported; use arrays or symbolic inputs "
                                      "(a functional Model)")
        if isinstance(inputs, (list, tuple)) and not is_symbolic(inputs):
            training = kwargs.pop("training", args[0] if args else None)
            return self.forward([np.asarray(v) for v in inputs], training=bool(training),
                                mask=kwargs.get("mask"))
        return super().__call__(inputs, *args, **kwargs)

    def symbolic_output_shapes(self, node):
        """Output shapes for a graph call on ``x`` or ``[x, *initial_states]`` (any T)."""
        shapes = [tuple(t.shape) for t in node.inputs]
        if not self.built:
            self._build_from_shape(shapes[0])
        self._check_shapes(shapes[0], shapes[1:])
        out = self.compute_output_shape(shapes[0])
        return list(out) if isinstance(out, list) else [tuple(out)]

    def _check_shapes(self, x_shape, state_shapes) -> None:
        kind = type(self).__name__
        d = self._features
        if len(x_shape) != 3 or x_shape[-1] != d:
            raise ValueError(f"{kind} {self.name!r} expected input of shape (N, T, {d}), got "
                             f"{format_shape((None,) + tuple(x_shape[1:]))}")
        if state_shapes and (len(state_shapes) != len(self.state_names) or any(
                tuple(s[1:]) != (self.units,) for s in state_shapes)):
            raise ValueError(f"{kind} {self.name!r} expects {len(self.state_names)} initial "
                             f"state(s) {list(self.state_names)} of shape (N, {self.units}), got "
                             f"{[format_shape((None,) + tuple(s[1:])) for s in state_shapes]}")

    def _check_sequence(self, x) -> np.ndarray:
        """Build on first use; then any length T, but the built feature size D."""
        x = np.asarray(x)
        if not self.built:
            if x.ndim != 3:
                raise ValueError(f"{type(self).__name__} expects sequences of shape (N, T, D), "
                                 f"got an array of shape {x.shape}")
            self.build((None,) + x.shape[1:])
        self._check_shapes(x.shape if x.ndim == 3 else (None,) + x.shape[1:], [])
        return x.astype(self.dtype, copy=False)

    def compute_mask(self, inputs, mask=None):
        """The input's mask with ``return_sequences`` (None for the last output and the
        states)."""
        mask = _sequence_mask(mask)
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.state_names) if self.return_state else out

    # -- computation --------------------------------------------------------------------
    def forward(self, x, training=False, mask=None):
        initial = None
        if isinstance(x, (list, tuple)):
            x, initial = x[0], [np.asarray(s, dtype=self.dtype) for s in x[1:]]
        x = self._check_sequence(x)
        if initial is not None:
            self._check_shapes(x.shape, [s.shape for s in initial])
            if any(s.shape[0] != x.shape[0] for s in initial):
                raise ValueError(f"{type(self).__name__} {self.name!r}: initial states have "
                                 f"batch sizes {[s.shape[0] for s in initial]}, inputs {x.shape[0]}")
        self._initial = initial
        mask = _sequence_mask(mask)
        self._keep = None if mask is None else \
            self._checked_mask(mask, x.shape[:2], "(N, T)")[:, :, None]
        if self.go_backwards:
            x = x[:, ::-1]
            self._keep = None if self._keep is None else self._keep[:, ::-1]
        n = x.shape[0]
        self._dropouts = (self._dropout_mask(training, self.dropout, (n, x.shape[-1])),
                          self._dropout_mask(training, self.recurrent_dropout, (n, self.units)))
        if self._dropouts[0] is not None:
            x = x * self._dropouts[0][:, None]
        self._x = x
        xw = x @ self.kernel.data  # the input side of every step at once, (N, T, G*H)
        if self.use_bias:
            xw += self._input_bias()
        self._hs, states = self._scan(xw)
        ys = self._hs
        if self._keep is not None and self.zero_output_for_mask:
            ys = np.where(self._keep, ys, 0)
        y = ys if self.return_sequences else ys[:, -1]
        return [y] + states if self.return_state else y

    def _kept(self, step: int, new: np.ndarray, old: np.ndarray) -> np.ndarray:
        """A state after ``step``: the cell's ``new`` where the step counts, ``old`` where
        the mask skips it."""
        return new if self._keep is None else np.where(self._keep[:, step], new, old)

    def _through(self, step: int, d: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """A state's gradient at ``step`` split into the cell's part and the part that a
        skipped step passes straight to the previous state (None without a mask)."""
        if self._keep is None:
            return d, None
        keep = self._keep[:, step]
        return np.where(keep, d, 0), np.where(keep, 0, d)

    def _dropout_mask(self, training: bool, rate: float, shape) -> np.ndarray | None:
        """An inverted-dropout mask (keep / (1 - rate)), or None outside training."""
        if not training or rate == 0:
            return None
        keep = self.rng.random(shape) >= rate
        return keep.astype(self.dtype) / (1.0 - rate)

    def _dropped(self, h: np.ndarray) -> np.ndarray:
        """h_{t-1} as the recurrent product sees it (recurrent dropout); also for dL/dh."""
        mask = self._dropouts[1]
        return h if mask is None else h * (mask if h.ndim == 2 else mask[:, None])

    def _input_bias(self) -> np.ndarray:
        assert self.bias is not None
        return self.bias.data

    def backward(self, dout):
        douts = list(dout) if isinstance(dout, (list, tuple)) else [dout]
        dy, dstates = douts[0], douts[1:] + [None] * (len(self.state_names) + 1 - len(douts))
        x, hs = self._x, self._hs
        n, t, d = x.shape
        dhs = np.zeros_like(hs)
        if dy is not None:
            if self.return_sequences:
                dhs += dy
            else:
                dhs[:, -1] += dy
            if self._keep is not None and self.zero_output_for_mask:
                dhs = np.where(self._keep, dhs, 0)  # a masked step's output is a constant 0
        dz, drecurrent_bias, dinitial = self._backward_through_time(dhs, dstates)
        width = dz.shape[-1]
        dz2 = dz.reshape(n * t, width)
        if self.kernel.trainable:
            self.kernel.accumulate_matmul(x.reshape(n * t, d).T, dz2)
        if self.bias is not None and self.bias.trainable:
            db = dz2.sum(axis=0)
            self.bias.accumulate(db if drecurrent_bias is None else np.stack([db, drecurrent_bias]))
        if self.skip_input_grad:
            return None
        dx = (dz2 @ self.kernel.data.T).reshape(n, t, d)
        if self._dropouts[0] is not None:
            dx *= self._dropouts[0][:, None]
        if self.go_backwards:
            dx = dx[:, ::-1]
        return dx if self._initial is None else [dx, *dinitial]

    def _start(self, k: int, n: int) -> np.ndarray:
        """Initial state ``k`` (h, then c) for a batch of ``n``: the given one, or zeros."""
        if self._initial is None:
            return np.zeros((n, self.units), self.dtype)
        return self._initial[k]

    def _h_prev(self) -> np.ndarray:
        """h_{t-1} for every step (N, T, H): the initial state, then hs[:, :-1]."""
        hs = self._hs
        h_prev = np.empty_like(hs)
        h_prev[:, 0] = self._start(0, hs.shape[0])
        h_prev[:, 1:] = hs[:, :-1]
        return h_prev

    def _accumulate_recurrent_dropped(self, dz: np.ndarray) -> None:
        self._accumulate_recurrent(self._dropped(self._h_prev()), dz)

    def _accumulate_recurrent(self, h_prev: np.ndarray, dz: np.ndarray) -> None:
        """dWh += sum_t h_{t-1}^T dz_t, as one product over all steps."""
        if self.recurrent_kernel.trainable:
            h = h_prev.shape[-1]
            self.recurrent_kernel.accumulate_matmul(h_prev.reshape(-1, h).T,
                                                    dz.reshape(-1, dz.shape[-1]))

    def _scan(self, xw):
        raise NotImplementedError

    def _backward_through_time(self, dhs, dstates):
        raise NotImplementedError

    def get_config(self):
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": False, "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
        }


def _sequence_mask(mask):
    """The sequence's mask from the masks of ``[x, *initial_states]`` (the first, as Keras
    takes it), or the mask itself."""
    return mask[0] if isinstance(mask, (list, tuple)) else mask


@register
class SimpleRNN(Recurrent):
    """Fully connected recurrence (Keras ``SimpleRNN``, PyTorch ``nn.RNN``).

    Math: ``h_t = f(x_t Wx + h_{t-1} Wh + b)``, f = ``activation`` (tanh); backward
    ``da_t = (dh_t + da_{t+1} Wh^T) * f'(a_t)`` (f' from the output h_t).

    Shape:
        x: (N, T, D) -> (N, units), or (N, T, units) with ``return_sequences``.

    Example:
        >>> SimpleRNN(4)(np.zeros((2, 5, 3))).shape
        (2, 4)
    """

    def __init__(self, units: int, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def _scan(self, xw):
        n, t, units = xw.shape
        Wh = self.recurrent_kernel.data
        hs = np.empty_like(xw)
        h = self._start(0, n)
        for step in range(t):
            a = xw[:, step] + self._dropped(h) @ Wh
            h = self._kept(step, self.activation.forward(a, out=a), h)
            hs[:, step] = h
        self._steps = None
        return hs, [h]

    def _backward_through_time(self, dhs, dstates):
        hs, Wh = self._hs, self.recurrent_kernel.data
        da = np.empty_like(hs)
        dh_next = np.zeros_like(hs[:, 0]) if dstates[0] is None else dstates[0]
        for step in reversed(range(hs.shape[1])):
            dh, skipped = self._through(step, dhs[:, step] + dh_next)
            da[:, step] = self.activation.backward(dh, hs[:, step])
            dh_next = self._dropped(da[:, step] @ Wh.T)
            if skipped is not None:
                dh_next += skipped
        self._accumulate_recurrent_dropped(da)
        return da, None, [dh_next]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


@register
class LSTM(Recurrent):
    """Long short-term memory (Keras ``LSTM``, PyTorch ``nn.LSTM``); gates ``i, f, c, o``.

    Math: ``z = x_t Wx + h_{t-1} Wh + b`` split into four, ``i = s(z_i)``, ``f = s(z_f)``,
    ``g = tanh(z_c)``, ``o = s(z_o)`` (s = ``recurrent_activation``), then
    ``c_t = f * c_{t-1} + i * g`` and ``h_t = o * tanh(c_t)``. ``unit_forget_bias`` starts
    the forget-gate bias at one (Keras' default).

    Shape:
        x: (N, T, D) -> (N, units) (or (N, T, units)); states h, c: (N, units).

    Example:
        >>> out, h, c = LSTM(4, return_state=True)(np.zeros((2, 5, 3)))
        >>> out.shape, c.shape
        ((2, 4), (2, 4))
    """

    gates = 4
    state_names = ("h", "c")

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def forget_ones(shape, dtype=None, rng=None):
            b = base(shape, dtype, rng)
            b[units:2 * units] = 1
            return b
        return forget_ones

    def _scan(self, xw):
        n, t, _ = xw.shape
        H = self.units
        Wh = self.recurrent_kernel.data
        act, rec = self.activation, self.recurrent_activation
        hs = np.empty((n, t, H), xw.dtype)
        cs, tcs = np.empty_like(hs), np.empty_like(hs)
        gates = np.empty_like(xw)  # i, f, g, o after their activations
        h, c = self._start(0, n), self._start(1, n)
        for step in range(t):
            z = xw[:, step] + self._dropped(h) @ Wh
            # activations may return their input (linear): the results are copied out
            gates[:, step, :H] = i = rec.forward(z[:, :H])
            gates[:, step, H:2 * H] = f = rec.forward(z[:, H:2 * H])
            gates[:, step, 2 * H:3 * H] = g = act.forward(z[:, 2 * H:3 * H])
            gates[:, step, 3 * H:] = o = rec.forward(z[:, 3 * H:])
            c_new = f * c + i * g
            tcs[:, step] = tc = act.forward(c_new.copy())
            c, h = self._kept(step, c_new, c), self._kept(step, o * tc, h)
            cs[:, step], hs[:, step] = c, h
        self._steps = (gates, cs, tcs)
        return hs, [h, c]

    def _backward_through_time(self, dhs, dstates):
        gates, cs, tcs = self._steps
        H = self.units
        Wh = self.recurrent_kernel.data
        act, rec = self.activation, self.recurrent_activation
        dz = np.empty_like(gates)
        dh_next = np.zeros_like(cs[:, 0]) if dstates[0] is None else dstates[0]
        dc_next = np.zeros_like(cs[:, 0]) if dstates[1] is None else dstates[1]
        for step in reversed(range(gates.shape[1])):
            i, f = gates[:, step, :H], gates[:, step, H:2 * H]
            g, o = gates[:, step, 2 * H:3 * H], gates[:, step, 3 * H:]
            c_prev = cs[:, step - 1] if step > 0 else self._start(1, cs.shape[0])
            dh, skipped_h = self._through(step, dhs[:, step] + dh_next)
            dc_next, skipped_c = self._through(step, dc_next)
            dc = dc_next + act.backward(dh * o, tcs[:, step])
            dz[:, step, :H] = rec.backward(dc * g, i)
            dz[:, step, H:2 * H] = rec.backward(dc * c_prev, f)
            dz[:, step, 2 * H:3 * H] = act.backward(dc * i, g)
            dz[:, step, 3 * H:] = rec.backward(dh * tcs[:, step], o)
            dc_next = dc * f
            dh_next = self._dropped(dz[:, step] @ Wh.T)
            if skipped_h is not None:
                dh_next += skipped_h
                dc_next += skipped_c
        self._accumulate_recurrent_dropped(dz)
        return dz, None, [dh_next, dc_next]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@register
class GRU(Recurrent):
    """Gated recurrent unit (Keras 3 ``GRU``); gates ``z, r, h``.

    Math (``reset_after=True``, Keras 3's default and PyTorch's ``nn.GRU``): with
    ``xz, xr, xh = x_t Wx + b_in`` and ``hz, hr, hh = h_{t-1} Wh + b_rec``,
    ``z = s(xz + hz)``, ``r = s(xr + hr)``, ``n = tanh(xh + r * hh)``,
    ``h_t = z * h_{t-1} + (1 - z) * n``. With ``reset_after=False`` (Keras 2's default) the
    reset gate applies before the product: ``n = tanh(xh + (r * h_{t-1}) Wh_h)``, and there
    is one bias.

    Shape:
        x: (N, T, D) -> (N, units) (or (N, T, units)); bias: (2, 3 * units) with
        ``reset_after`` (input and recurrent biases), else (3 * units,).

    Example:
        >>> GRU(4, return_sequences=True)(np.zeros((2, 5, 3))).shape
        (2, 5, 4)
    """

    gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        assert self.bias is not None
        return self.bias.data[0] if self.reset_after else self.bias.data

    def _scan(self, xw):
        n, t, _ = xw.shape
        H = self.units
        Wh = self.recurrent_kernel.data
        act, rec = self.activation, self.recurrent_activation
        hs = np.empty((n, t, H), xw.dtype)
        gates = np.empty_like(xw)  # z, r, n after their activations
        inner_h = np.empty_like(hs)  # reset_after: hh = h_{t-1} Wh_h + b_h; else (r * h) Wh_h
        h = self._start(0, n)
        for step in range(t):
            x_t, out = xw[:, step], gates[:, step]
            hm = self._dropped(h)  # z * h_{t-1} below uses the unmasked state
            if self.reset_after:
                inner = hm @ Wh
                if self.bias is not None:
                    inner += self.bias.data[1]
                out[:, :2 * H] = zr = rec.forward(x_t[:, :2 * H] + inner[:, :2 * H])
                inner_h[:, step] = inner[:, 2 * H:]
                a = x_t[:, 2 * H:] + zr[:, H:] * inner[:, 2 * H:]
            else:
                out[:, :2 * H] = zr = rec.forward(x_t[:, :2 * H] + hm @ Wh[:, :2 * H])
                np.matmul(zr[:, H:] * hm, Wh[:, 2 * H:], out=inner_h[:, step])
                a = x_t[:, 2 * H:] + inner_h[:, step]
            out[:, 2 * H:] = hn = act.forward(a)
            z = zr[:, :H]
            h = self._kept(step, z * h + (1 - z) * hn, h)
            hs[:, step] = h
        self._steps = (gates, inner_h)
        return hs, [h]

    def _backward_through_time(self, dhs, dstates):
        gates, inner_h = self._steps
        H = self.units
        Wh = self.recurrent_kernel.data
        act, rec = self.activation, self.recurrent_activation
        h_prev = self._h_prev()
        hm_prev = self._dropped(h_prev)
        dz = np.empty_like(gates)  # input side: d(xz, xr, xh)
        dinner = np.empty_like(gates) if self.reset_after else None  # d(hz, hr, hh)
        dh_next = np.zeros_like(h_prev[:, 0]) if dstates[0] is None else dstates[0]
        for step in reversed(range(gates.shape[1])):
            z, r, hn = gates[:, step, :H], gates[:, step, H:2 * H], gates[:, step, 2 * H:]
            hp = h_prev[:, step]
            dh, skipped = self._through(step, dhs[:, step] + dh_next)
            dz[:, step, 2 * H:] = da_h = act.backward(dh * (1 - z), hn)
            dz[:, step, :H] = rec.backward(dh * (hp - hn), z)
            if self.reset_after:
                dz[:, step, H:2 * H] = rec.backward(da_h * inner_h[:, step], r)
                dinner[:, step, :2 * H] = dz[:, step, :2 * H]
                np.multiply(da_h, r, out=dinner[:, step, 2 * H:])
                dh_next = dh * z + self._dropped(dinner[:, step] @ Wh.T)
            else:
                drh = da_h @ Wh[:, 2 * H:].T  # d(r * h_{t-1})
                dz[:, step, H:2 * H] = rec.backward(drh * hm_prev[:, step], r)
                dh_next = dh * z + self._dropped(drh * r + dz[:, step, :2 * H] @ Wh[:, :2 * H].T)
            if skipped is not None:
                dh_next += skipped
        if self.reset_after:
            self._accumulate_recurrent(hm_prev, dinner)
            return dz, dinner.reshape(-1, 3 * H).sum(axis=0), [dh_next]
        if self.recurrent_kernel.trainable:
            # Wh_zr sees h_{t-1}, Wh_h sees r * h_{t-1}
            dWh = np.empty_like(Wh)
            dWh[:, :2 * H] = hm_prev.reshape(-1, H).T @ dz[..., :2 * H].reshape(-1, 2 * H)
            rh = gates[..., H:2 * H] * hm_prev
            dWh[:, 2 * H:] = rh.reshape(-1, H).T @ dz[..., 2 * H:].reshape(-1, H)
            self.recurrent_kernel.accumulate(dWh)
        return dz, None, [dh_next]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
