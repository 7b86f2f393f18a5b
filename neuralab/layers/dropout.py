"""Dropout: inverted dropout during training, the identity at inference."""

from __future__ import annotations

import numpy as np

from .. import backend
from .base import Layer, register


@register
class Dropout(Layer):
    """Zero each input with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    With ``training=False`` the layer is the identity, so no rescaling is needed at test
    time. ``noise_shape`` lets masks broadcast, e.g. ``(None, 1, 1, C)`` drops whole
    feature maps (``None`` takes the input's size on that axis).

    The mask comes from ``self.rng``; restoring its state (as :mod:`neuralab.gradcheck`
    does) replays the same mask.

    Shape: any (N, ...) -> same shape.
    """

    supports_masking = True  # a mask passes on unchanged (Keras)

    accepts_any_shape = True
    #: the scaled mask (None at inference): each call draws its own
    _cache_attrs = ("mask",)

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.rng: np.random.Generator | None = None
        self.mask: np.ndarray | None = None

    def build(self, input_shape):
        super().build(input_shape)
        if self.noise_shape is not None and len(self.noise_shape) != len(input_shape):
            raise ValueError(
                f"Dropout noise_shape {self.noise_shape} must have {len(input_shape)} entries "
                f"to match inputs of shape {input_shape}")
        self.rng = backend.spawn_rng(self.seed)

    def forward(self, x, training=False):
        self._check_input(x)
        if not training or self.rate == 0:
            self.mask = None
            return x
        shape = x.shape if self.noise_shape is None else tuple(
            d if n is None else n for n, d in zip(self.noise_shape, x.shape))
        keep = self.rng.random(shape, dtype=np.dtype(self.dtype)) >= self.rate
        self.mask = keep.astype(self.dtype)
        self.mask *= 1.0 / (1.0 - self.rate)
        return np.multiply(x, self.mask, out=self._buffer("y", x.shape, self.dtype))

    def backward(self, dout):
        if self.mask is None:
            return dout
        return np.multiply(dout, self.mask, out=self._buffer("dx", dout.shape, self.dtype))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


@register
class SpatialDropout2D(Dropout):
    """Drops whole feature maps of (N, H, W, C) inputs (Keras ``SpatialDropout2D``)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        kwargs.pop("noise_shape", None)
        super().__init__(rate, noise_shape=(None, 1, 1, None), seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return config
