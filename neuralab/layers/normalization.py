"""BatchNormalization and LayerNormalization (feature / channel axes last)."""

from __future__ import annotations

import numpy as np

from .. import backend, initializers, regularizers
from .base import Layer, register


@register
class BatchNormalization(Layer):
    """Normalize each feature with batch statistics, then scale and shift.

    Training: ``xhat = (x - mean_B) / sqrt(var_B + epsilon)``, ``y = gamma * xhat + beta``,
    with the mean and (biased) variance taken over every axis but the last, so it serves
    (N, D) features and (N, H, W, C) images alike. Inference uses the moving statistics.

    Conventions (Keras, documented because PyTorch differs):

    * ``moving = momentum * moving + (1 - momentum) * batch_stat`` with momentum 0.99
      (PyTorch's ``momentum=0.1`` weights the *new* value; ours is ``1 - theirs``);
    * the moving variance is fed the biased batch variance (PyTorch feeds the unbiased
      one, ``var * n / (n - 1)``);
    * ``epsilon=1e-3`` (PyTorch: 1e-5);
    * a layer with ``trainable=False`` runs in inference mode even when training.

    Backward (training mode), with m values per feature::

        dxhat = dy * gamma
        dx = (m dxhat - sum(dxhat) - xhat sum(dxhat xhat)) / (m sqrt(var + eps))

    With a mask ``keep`` (N, T) (Keras'), training takes the batch statistics over the kept
    steps only, ``mean = sum_K x / (m + 1e-7)`` and ``var = sum_K (x - mean)^2 / (m + 1e-7)``
    as Keras computes them (m kept values per feature), and normalizes every step with
    them; backward is then ``dx = inv dxhat - keep inv / (m + 1e-7) (sum(dxhat) + xhat
    sum(dxhat xhat))``, the sums over all steps.

    Weights, in Keras order: gamma, beta (trainable), moving_mean, moving_variance.

    Shape: (N, ..., C) -> same shape.

    The batch statistics (``xhat``, ``inv_std``) and the mode belong to one call; the
    moving statistics are updated by every call in training mode, as in Keras.
    """

    supports_masking = True  # a mask passes on unchanged (Keras)
    uses_mask = True

    #: one call's: the mode, 1 / std, xhat, and with a mask the kept steps and their count
    _cache_attrs = ("batch_mode", "inv_std", "xhat", "_keep", "_count")

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1,):
            raise ValueError(f"BatchNormalization supports axis=-1 (channels last), got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization momentum must be in [0, 1], got {momentum!r}")
        if not epsilon > 0:
            raise ValueError(f"BatchNormalization epsilon must be > 0, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    def build(self, input_shape):
        super().build(input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"BatchNormalization needs a known last axis, got {input_shape}")
        if self.scale:
            self.gamma = self.add_weight("gamma", (channels,), self.gamma_initializer,
                                         self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight("beta", (channels,), self.beta_initializer,
                                        self.beta_regularizer)
        self.moving_mean = self.add_weight("moving_mean", (channels,),
                                           self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (channels,),
                                               self.moving_variance_initializer, trainable=False)

    def forward(self, x, training=False, mask=None):
        self._check_input(x)
        axes = tuple(range(x.ndim - 1))
        self.batch_mode = bool(training) and self.trainable
        self._keep = None
        if self.batch_mode and mask is not None:
            mean, centered, var = self._masked_moments(
                x, self._checked_mask(mask, x.shape[:-1], "(N, ...)"), axes)
        elif self.batch_mode:
            mean = x.mean(axis=axes)
            centered = x - mean
            var = np.mean(centered * centered, axis=axes)
        if self.batch_mode:
            m = self.momentum
            self.moving_mean.data *= m
            self.moving_mean.data += (1 - m) * mean
            self.moving_variance.data *= m
            self.moving_variance.data += (1 - m) * var
        else:
            centered = x - self.moving_mean.data
            var = self.moving_variance.data
        self.inv_std = 1.0 / np.sqrt(var + self.epsilon)
        self.xhat = centered * self.inv_std
        y = self.xhat * self.gamma.data if self.scale else self.xhat.copy()
        if self.center:
            y += self.beta.data
        return y.astype(self.dtype, copy=False)

    def _masked_moments(self, x, mask, axes):
        """Keras' masked moments: (mean, x - mean, var) over the kept steps."""
        keep = np.broadcast_to(mask[..., None], x.shape)
        count = keep.sum(axis=axes, dtype=x.dtype) + backend.epsilon()
        mean = np.where(keep, x, 0).sum(axis=axes) / count
        centered = x - mean
        var = np.square(np.where(keep, centered, 0)).sum(axis=axes) / count
        self._keep, self._count = keep, count
        return mean, centered, var

    def backward(self, dout):
        axes = tuple(range(dout.ndim - 1))
        if self.center and self.beta.trainable:
            self.beta.accumulate(dout.sum(axis=axes))
        if self.scale and self.gamma.trainable:
            self.gamma.accumulate((dout * self.xhat).sum(axis=axes))
        dxhat = dout * self.gamma.data if self.scale else dout
        if not self.batch_mode:
            return dxhat * self.inv_std
        if self._keep is not None:
            sums = dxhat.sum(axis=axes) + self.xhat * (dxhat * self.xhat).sum(axis=axes)
            return self.inv_std * (dxhat - np.where(self._keep, sums, 0) / self._count)
        m = dout.size // dout.shape[-1]
        sum_dxhat = dxhat.sum(axis=axes)
        sum_dxhat_xhat = (dxhat * self.xhat).sum(axis=axes)
        dx = m * dxhat - sum_dxhat - self.xhat * sum_dxhat_xhat
        dx *= self.inv_std / m
        return dx

    def get_config(self):
        return {
            **super().get_config(), "axis": self.axis, "momentum": self.momentum,
            "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }


@register
class LayerNormalization(Layer):
    """Normalize each sample over ``axis`` (the features), then scale and shift
    (Keras ``LayerNormalization``).

    Math, with the mean and biased variance over the normalized axes (m values)::

        xhat = (x - mean) / sqrt(var + epsilon),   y = gamma * xhat + beta
        dxhat = dy * gamma
        dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + epsilon)

    ``gamma`` and ``beta`` have the sizes of the normalized axes. The statistics are the
    sample's own, so training and inference compute the same thing.

    Shape: (N, ...) -> same shape.
    """

    supports_masking = True  # a mask passes on unchanged (Keras)

    #: one call's normalized input and 1 / sqrt(var + eps) (one per normalized group)
    _cache_attrs = ("xhat", "inv_std")

    def __init__(self, axis=-1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if rms_scaling:
            raise ValueError("LayerNormalization(rms_scaling=True) is not supported")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)
        if not epsilon > 0:
            raise ValueError(f"LayerNormalization epsilon must be > 0, got {epsilon!r}")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    def build(self, input_shape):
        super().build(input_shape)
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -ndim < a < ndim for a in axes) or any(a % ndim == 0 for a in axes):
            raise ValueError(f"LayerNormalization axis {self.axis} is out of range for inputs "
                             f"of shape {input_shape} (the batch axis cannot be normalized)")
        self._axes = tuple(sorted(a % ndim for a in axes))
        if any(input_shape[a] is None for a in self._axes):
            raise ValueError(f"LayerNormalization needs known sizes on axis {self.axis}, got "
                             f"{input_shape}")
        param_shape = tuple(input_shape[a] for a in self._axes)
        # gamma/beta as stored (Keras' shape) and as they broadcast against x
        self._broadcast = tuple(input_shape[a] if a in self._axes else 1 for a in range(ndim))
        if self.scale:
            self.gamma = self.add_weight("gamma", param_shape, self.gamma_initializer,
                                         self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight("beta", param_shape, self.beta_initializer,
                                        self.beta_regularizer)

    def forward(self, x, training=False):
        self._check_input(x)
        axes = self._axes
        centered = x - x.mean(axis=axes, keepdims=True)
        var = np.mean(centered * centered, axis=axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.epsilon)
        self.xhat = centered * self.inv_std
        y = self.xhat * self.gamma.data.reshape(self._broadcast) if self.scale \
            else self.xhat.copy()
        if self.center:
            y += self.beta.data.reshape(self._broadcast)
        return y.astype(self.dtype, copy=False)

    def backward(self, dout):
        axes = self._axes
        others = tuple(a for a in range(dout.ndim) if a not in axes)
        if self.center and self.beta.trainable:
            self.beta.accumulate(dout.sum(axis=others).reshape(self.beta.shape))
        if self.scale and self.gamma.trainable:
            self.gamma.accumulate((dout * self.xhat).sum(axis=others).reshape(self.gamma.shape))
        if self.skip_input_grad:
            return None
        dxhat = dout * self.gamma.data.reshape(self._broadcast) if self.scale else dout
        dx = dxhat - dxhat.mean(axis=axes, keepdims=True)
        dx -= self.xhat * np.mean(dxhat * self.xhat, axis=axes, keepdims=True)
        dx *= self.inv_std
        return dx

    def get_config(self):
        return {
            **super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }
