"""Small Keras core layers: Rescaling, Masking and Lambda."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from .base import Layer, register


@register
class Rescaling(Layer):
    """``y = x * scale + offset`` (Keras ``Rescaling``), e.g. ``Rescaling(1 / 255)`` for
    8-bit images. ``scale`` and ``offset`` may be numbers or arrays that broadcast against
    the trailing axes. Backward: ``dx = dout * scale``.

    Shape: any (N, ...) -> same shape, in the layer's float dtype.
    """

    supports_masking = True  # a mask passes on unchanged (Keras)

    accepts_any_shape = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def forward(self, x, training=False):
        self._check_input(x)
        y = self._buffer("y", x.shape, self.dtype)
        np.multiply(x, np.asarray(self.scale, dtype=self.dtype), out=y, casting="unsafe")
        y += np.asarray(self.offset, dtype=self.dtype)
        return y

    def backward(self, dout):
        return np.multiply(dout, np.asarray(self.scale, dtype=self.dtype),
                           out=self._buffer("dx", dout.shape, dout.dtype))

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}


@register
class Masking(Layer):
    """Skip the timesteps whose features all equal ``mask_value`` (Keras ``Masking``).

    Math: ``keep[n, t] = any_c x[n, t, c] != mask_value``; ``y = x * keep`` (the skipped
    steps become zeros) and the output carries the mask ``keep`` (N, T), which the layers
    after it follow (an RNN carries its state over the skipped steps, the loss leaves
    them out). Backward: ``dx = dout * keep``.

    Shape: (N, T, C) -> (N, T, C); the mask (N, T).
    """

    accepts_any_shape = True
    supports_masking = True
    _cache_attrs = ("keep",)

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    @property
    def makes_mask(self) -> bool:
        return True

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def forward(self, x, training=False):
        self._check_input(x)
        self.keep = self.compute_mask(x)[..., None]
        return np.where(self.keep, x, 0).astype(self.dtype, copy=False)

    def backward(self, dout):
        return np.where(self.keep, dout, 0).astype(dout.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@register
class Lambda(Layer):
    """Wrap a function as a layer (Keras ``Lambda``): ``Lambda(lambda x: x ** 2)``.

    The function has no hand-written backward: on NumPy arrays the layer just computes;
    called on tensors (inside a graph being trained) ``call`` runs the function on them,
    and its gradient is whatever the operations it uses record. ``backward`` itself raises.

    Args:
        function: ``f(x, **arguments)`` of an array (or a list of arrays).
        output_shape: the per-sample output shape (a tuple) or a function of the batch
            input shape; by default found by running ``function`` on a small batch of zeros.
        arguments: extra keyword arguments passed to ``function``.
        mask: the output's mask (Keras'): ``None`` (a mask reaching the layer is dropped),
            a function ``mask(inputs, previous_mask)``, or a fixed array. A ``function``
            with a ``mask`` parameter receives the input's mask.

    A function cannot be saved in a model file (neuralab never loads code from a file):
    ``from_config`` needs it passed back in, e.g. through ``custom_objects``.
    """

    def __init__(self, function: Callable, output_shape: tuple | Callable | None = None,
                 mask: Callable | np.ndarray | None = None,
                 arguments: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda needs a callable function, got {function!r}; a saved "
                             "Lambda is restored by passing its function back in "
                             "(custom_objects={name: function})")
        self.function = function
        self.mask = mask
        self.supports_masking = mask is not None
        self._function_takes_mask = "mask" in _parameters(function)
        self._output_shape = tuple(output_shape) if isinstance(output_shape, list) \
            else output_shape
        self.arguments = dict(arguments or {})

    @property
    def has_own_backward(self) -> bool:
        return False

    @property
    def makes_mask(self) -> bool:
        """With ``mask``, Keras gives the output that mask whether or not one came in."""
        return self.mask is not None

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def call(self, inputs, training=None, mask=None):
        if self._function_takes_mask:
            return self.function(inputs, mask=mask, **self.arguments)
        return self.function(inputs, **self.arguments)

    def forward(self, x, training=False):
        if not self.built:
            shapes = [(None,) + np.shape(v)[1:] for v in x] if isinstance(x, (list, tuple)) \
                else (None,) + np.shape(x)[1:]
            self.build(shapes)
        return np.asarray(self.function(x, **self.arguments))

    def backward(self, dout):
        raise NotImplementedError(
            f"Lambda layer {self.name!r} has no hand-written backward: its gradient comes "
            "from the operations its function records when it is called on tensors "
            "(use neuralab.ops inside the function); on NumPy arrays it is forward-only")

    def compute_output_shape(self, input_shape):
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        if self._output_shape is not None:
            batch = input_shape[0][0] if _is_shape_list(input_shape) else input_shape[0]
            return (batch,) + tuple(self._output_shape)
        probe = ([np.zeros((1,) + tuple(d or 1 for d in s[1:])) for s in input_shape]
                 if _is_shape_list(input_shape)
                 else np.zeros((1,) + tuple(d or 1 for d in input_shape[1:])))
        out = np.shape(self.function(probe, **self.arguments))
        batch = input_shape[0][0] if _is_shape_list(input_shape) else input_shape[0]
        return (batch,) + tuple(out[1:])

    def get_config(self):
        shape = self._output_shape
        return {**super().get_config(), "function": getattr(self.function, "__name__", "lambda"),
                "output_shape": list(shape) if isinstance(shape, tuple) else None,
                "arguments": self.arguments}


def _parameters(function: Callable) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # a builtin without a signature
        return set()


def _is_shape_list(shape) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(shape[0],
                                                                            (list, tuple))
