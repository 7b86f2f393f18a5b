"""Activation functions with derivatives written from the *output*.

Every activation here can compute ``dL/dx`` from ``y = f(x)`` alone (as scikit-learn's
MLP does), so a layer may apply it in place and keep only ``y`` for the backward pass:

=============  ===========================================  ==========================
name           y = f(x)                                     dy/dx written from y
=============  ===========================================  ==========================
linear         x                                            1
sigmoid        1 / (1 + e^-x)                               y (1 - y)
tanh           tanh x                                       1 - y^2
relu           max(x, 0)                                    [y > 0]
leaky_relu     x if x > 0 else a x      (a = 0.2)           1 if y > 0 else a
elu            x if x > 0 else a(e^x - 1)  (a = 1)          1 if y > 0 else y + a
selu           s * elu(x, a)                                s if y > 0 else y + s a
softplus       log(1 + e^x)                                 1 - e^-y
softmax        e^x_i / sum_j e^x_j   (last axis)            Jacobian: diag(y) - y y^T
=============  ===========================================  ==========================

Usage::

    act = get("sigmoid")
    y = act(x)                          # a new array
    dx = act.backward(dout, y)          # dL/dx from dL/dy and the output
"""

from __future__ import annotations

import numpy as np

from . import kernels, parallel
from .registry import Registry

__all__ = [
    "Activation", "FunctionActivation", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU",
    "SELU", "Softplus",
    "Softmax", "get", "serialize", "linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu",
    "selu", "softplus", "softmax",
]


class Activation:
    """Base class: ``forward(x, out=None) -> y`` and ``backward(dout, y, out=None) -> dx``.

    ``out`` may be ``x`` itself (in place). ``backward`` never writes into ``dout``.
    """

    name = "activation"
    #: backward needs the input x instead of the output y (:class:`FunctionActivation`)
    from_input = False

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        return self.forward(x)

    def get_config(self) -> dict:
        return {}

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _buffer(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    return np.empty_like(x) if out is None else out


class Linear(Activation):
    name = "linear"

    def forward(self, x, out=None):
        if out is None or out is x:
            return x if out is None else out
        np.copyto(out, x)
        return out

    def backward(self, dout, y, out=None):
        return dout


class Sigmoid(Activation):
    """Computed as ``0.5 * tanh(x / 2) + 0.5``: no overflow for any x, and fast.

    The absolute error is that of rounding 0.5 (3e-8 in float32); outputs far below that,
    for x < -15 in float32, lose relative precision (they round towards 0), which
    does not matter for training. Loss functions use the logits directly.
    """

    name = "sigmoid"

    def forward(self, x, out=None):
        out = _buffer(x, out)
        np.multiply(x, 0.5, out=out)
        np.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        return out

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        np.subtract(1.0, y, out=out)
        out *= y
        out *= dout
        return out


class Tanh(Activation):
    name = "tanh"

    def forward(self, x, out=None):
        return np.tanh(x, out=_buffer(x, out))

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        np.multiply(y, y, out=out)
        np.subtract(1.0, out, out=out)
        out *= dout
        return out


_ROW = 4096
_ZERO_ROWS: dict = {}


def relu_into(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = max(x, 0)``. NumPy vectorizes ``maximum`` of two contiguous arrays but not of
    an array and a scalar, so large contiguous inputs are taken as rows of 4096 against one
    row of zeros: up to 2x faster (measured, float32: 540,800 values 207 -> 127 us, 307,200
    values 117 -> 69 us; no gain below about 16,000 values, which take one call)."""
    if x.size < 4 * _ROW or not (x.flags.c_contiguous and out.flags.c_contiguous):
        return np.maximum(x, 0, out=out)
    zeros = _ZERO_ROWS.get(x.dtype)
    if zeros is None:
        zeros = _ZERO_ROWS[x.dtype] = np.zeros(_ROW, dtype=x.dtype)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    body = x.size - x.size % _ROW
    np.maximum(flat_x[:body].reshape(-1, _ROW), zeros, out=flat_out[:body].reshape(-1, _ROW))
    if body < x.size:
        np.maximum(flat_x[body:], zeros[:x.size - body], out=flat_out[body:])
    return out


class ReLU(Activation):
    name = "relu"

    def forward(self, x, out=None):
        out = _buffer(x, out)
        parallel.map_rows(relu_into, x, out)
        return out

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        parallel.map_rows(_relu_backward, dout, y, out)
        return out


def _relu_backward(dout: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    if not kernels.relu_backward(dout, y, out):  # one compiled pass, the same values
        np.multiply(dout, y > 0, out=out)


class LeakyReLU(Activation):
    """``x`` for x > 0, ``negative_slope * x`` otherwise (Keras default slope 0.2)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.2):
        if not negative_slope > 0:
            raise ValueError(f"leaky_relu needs negative_slope > 0, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x, out=None):
        # max(x, a x) for a <= 1, min(x, a x) for a > 1: one pass each, in place safe.
        scaled = np.multiply(x, self.negative_slope)
        pick = np.maximum if self.negative_slope <= 1 else np.minimum
        return pick(x, scaled, out=_buffer(x, out))

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        np.greater(y, 0, out=out)
        out *= 1.0 - self.negative_slope
        out += self.negative_slope
        out *= dout
        return out

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha: float = 1.0):
        if not alpha > 0:
            raise ValueError(f"elu needs alpha > 0, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x, out=None):
        out = _buffer(x, out)
        negative = x <= 0
        np.copyto(out, x)
        out[negative] = self.alpha * np.expm1(x[negative])
        return out

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        np.add(y, self.alpha, out=out)
        out[y > 0] = 1.0
        out *= dout
        return out

    def get_config(self):
        return {"alpha": self.alpha}


class SELU(Activation):
    """Scaled ELU with the self-normalizing constants of Klambauer et al. (2017)."""

    name = "selu"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def forward(self, x, out=None):
        out = _buffer(x, out)
        negative = x <= 0
        np.copyto(out, x)
        out[negative] = self.alpha * np.expm1(x[negative])
        out *= self.scale
        return out

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        np.add(y, self.scale * self.alpha, out=out)
        out[y > 0] = self.scale
        out *= dout
        return out


class Softplus(Activation):
    name = "softplus"

    def forward(self, x, out=None):
        out = _buffer(x, out)
        np.logaddexp(x, 0.0, out=out)
        return out

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        np.negative(y, out=out)
        np.expm1(out, out=out)
        np.negative(out, out=out)
        out *= dout
        return out


class Softmax(Activation):
    """Softmax over the last axis, shifted by the row maximum for stability."""

    name = "softmax"

    def forward(self, x, out=None):
        out = _buffer(x, out)
        np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def backward(self, dout, y, out=None):
        out = _buffer(y, out)
        np.multiply(dout, y, out=out)
        dot = out.sum(axis=-1, keepdims=True)
        np.subtract(dout, dot, out=out)
        out *= y
        return out


class FunctionActivation(Activation):
    """A plain function used as an activation (Keras ``Dense(1, activation=custom_fn)``).

    ``forward`` calls ``fn`` on the array; the derivative comes from backpropagating through
    ``fn`` applied to a tensor of the *input*, so layers keep their pre-activations for it
    (``from_input``). ``fn`` must be written with operators or :mod:`neuralab.ops`.
    """

    from_input = True

    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def forward(self, x, out=None):
        from .tensor import Tensor, no_grad
        with no_grad():
            value = self.fn(Tensor(x))
        y = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=x.dtype)
        if out is None:
            return y
        np.copyto(out, y)
        return out

    def backward(self, dout, x, out=None):
        """dL/dx from dL/dy and the *input* ``x`` (not the output: see ``from_input``)."""
        from . import ops
        from .tensor import Tensor, as_tensor, enable_grad
        t = Tensor(x, requires_grad=True)
        with enable_grad():
            y = as_tensor(self.fn(t))
            ops.sum(ops.multiply(y, dout)).backward()
        grad = t.grad if t.grad is not None else np.zeros_like(x)
        if out is None:
            return grad
        np.copyto(out, grad)
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, FunctionActivation) and other.fn is self.fn

    def __hash__(self) -> int:
        return hash(self.fn)

    def __repr__(self) -> str:
        return f"FunctionActivation({self.name})"


_REGISTRY = Registry(
    "activation", Activation,
    {cls.name: cls for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, SELU, Softplus,
                               Softmax)},
    aliases={None: "linear", "none": "linear", "identity": "linear"},
    wrap_function=FunctionActivation)


def get(identifier) -> Activation:
    """Resolve ``None``, a name such as ``"relu"``, a config, or an :class:`Activation`.

    Raises:
        ValueError: for unknown names, suggesting the closest and listing the accepted ones.
    """
    return _REGISTRY.get(identifier)


def serialize(activation: Activation) -> str | dict:
    """A built-in's name (``"relu"``), or ``{"class_name": name, "config": ...}`` when it has
    settings; a custom activation gives its class name and config."""
    if isinstance(activation, FunctionActivation):  # by its registered or plain name
        from . import saving
        fn = activation.fn
        return saving.get_registered_name(fn) if saving.is_registered(fn) else activation.name
    if not _REGISTRY.is_builtin(type(activation)):
        return _REGISTRY.serialize(activation)
    if not activation.get_config():
        return activation.name
    return {"class_name": activation.name, "config": activation.get_config()}


def deserialize(config, custom_objects: dict | None = None) -> Activation:
    """Inverse of :func:`serialize`; ``custom_objects`` maps names to your own classes."""
    return _REGISTRY.deserialize(config, custom_objects)


linear = Linear()
sigmoid = Sigmoid()
tanh = Tanh()
relu = ReLU()
leaky_relu = LeakyReLU()
elu = ELU()
selu = SELU()
softplus = Softplus()
softmax = Softmax()
