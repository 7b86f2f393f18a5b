"""Dense: the fully connected layer ``y = f(x @ W + b)``."""

from __future__ import annotations

from typing import cast

import numpy as np

from .. import activations, initializers, parallel, regularizers
from .base import Layer, register


class ActivationMixin:
    """Shared by layers that end in an activation ``f`` (Dense, Conv2D, Activation).

    ``forward`` keeps ``y = f(z)``. When a model fuses the last activation into the loss
    (softmax + cross-entropy, sigmoid + binary cross-entropy) it sets ``keep_logits`` so
    the layer also keeps ``z`` in ``self.logits``, and it then calls
    :meth:`backward_logits` with dL/dz instead of :meth:`backward` with dL/dy.

    ``y`` and ``logits`` are one call's cache: layers using the mixin list them in
    their ``_cache_attrs``. The activation objects themselves keep no state.
    """

    activation: activations.Activation
    keep_logits: bool = False
    logits: np.ndarray | None = None

    @property
    def keeps_preactivation(self) -> bool:
        """Whether ``z`` is kept beside ``y``: for the fused loss, or for an activation whose
        derivative needs its input (a plain function)."""
        return self.keep_logits or self.activation.from_input

    def _activate(self, z: np.ndarray) -> np.ndarray:
        """Apply the activation to ``z``: in place unless the logits must be kept."""
        if self.keeps_preactivation:
            self.logits = z
            return self.activation.forward(z, out=self._buffer("y", z.shape, z.dtype))
        return self.activation.forward(z, out=z)

    def _activation_source(self, y: np.ndarray) -> np.ndarray:
        """What the activation's backward reads: ``y``, or ``z`` for ``from_input`` ones."""
        return cast(np.ndarray, self.logits) if self.activation.from_input else y

    def _preactivation_grad(self, dout: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.activation.backward(dout, self._activation_source(y),
                                        out=self._buffer("dz", y.shape, y.dtype))


class KernelMixin(ActivationMixin):
    """Shared by layers with a kernel ``W``, an optional bias ``b`` and an activation
    (Dense, Conv2D): their Keras arguments, their weights and those entries of the config."""

    def _set_kernel_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer) -> None:
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = self.bias = None

    def _add_kernel_and_bias(self, kernel_shape: tuple[int, ...], units: int) -> None:
        """``kernel`` of ``kernel_shape`` and (with ``use_bias``) ``bias`` of shape (units,)."""
        self.kernel = self.add_weight("kernel", kernel_shape, self.kernel_initializer,
                                      self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (units,), self.bias_initializer,
                                        self.bias_regularizer)

    def _kernel_config(self) -> dict:
        return {
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


@register
class Dense(KernelMixin, Layer):
    """Fully connected layer (Keras ``Dense``).

    Math: ``z = x @ W + b``, ``y = activation(z)``; backward
    ``dz = dy * f'(z)``, ``dW = x^T dz``, ``db = sum_n dz``, ``dx = dz W^T``.

    Shape:
        x: (N, ..., in_features) -> y: (N, ..., units); the kernel W is (in_features, units),
        as in Keras (PyTorch's ``Linear.weight`` is its transpose).

    Example:
        >>> layer = Dense(4, activation="sigmoid")
        >>> layer(np.ones((2, 3))).shape
        (2, 4)
    """

    supports_masking = True  # a mask passes on unchanged (Keras)

    #: x as (rows, in_features), the input's shape, y (rows, units), z with keep_logits
    _cache_attrs = ("x", "_x_shape", "y", "logits")

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense units must be a positive integer, got {units!r}")
        self.units = int(units)
        self._set_kernel_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense needs inputs with a known last axis, got shape {input_shape}")
        self._add_kernel_and_bias((int(input_shape[-1]), self.units), self.units)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        self._check_input(x)
        self._x_shape = x.shape
        x2 = x.reshape(-1, x.shape[-1])
        z = self._buffer("z", (x2.shape[0], self.units), self.dtype)
        parallel.matmul(x2, self.kernel.data, out=z)
        if self.use_bias:
            z += self.bias.data
        self.x = x2
        self.y = self._activate(z)
        return self.y.reshape(x.shape[:-1] + (self.units,))

    def backward(self, dout):
        dz = self._preactivation_grad(dout.reshape(self.y.shape), self.y)
        return self._backward_affine(dz)

    def backward_logits(self, dz):
        return self._backward_affine(dz.reshape(self.y.shape))

    def _backward_affine(self, dz):
        if self.kernel.trainable:
            self.kernel.accumulate_matmul(self.x.T, dz)
        if self.use_bias and self.bias.trainable:
            self.bias.accumulate_sum(dz, axis=0)
        if self.skip_input_grad:
            return None
        dx = self._buffer("dx", self.x.shape, self.dtype)
        parallel.matmul(dz, self.kernel.data.T, out=dx)
        return dx.reshape(self._x_shape)

    def get_config(self):
        return {**super().get_config(), "units": self.units, **self._kernel_config()}
