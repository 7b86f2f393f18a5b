"""Embedding: integer ids -> dense vectors by table lookup."""

from __future__ import annotations

import numpy as np

from .. import initializers, regularizers
from .base import Layer, register


def check_ids(ids: np.ndarray, input_dim: int, who: str) -> np.ndarray:
    """Integer ids in [0, input_dim) as intp; integral floats are accepted, others refused."""
    if not np.issubdtype(ids.dtype, np.integer) and (
            not np.issubdtype(ids.dtype, np.floating) or not np.all(np.isfinite(ids))
            or np.any(ids != np.round(ids))):
        raise ValueError(f"{who} expects integer ids in [0, {input_dim}), got dtype {ids.dtype} "
                         "with non-integer values")
    if ids.size and (ids.min() < 0 or ids.max() >= input_dim):
        raise ValueError(f"{who} expects ids in [0, {input_dim}), got values in "
                         f"[{ids.min()}, {ids.max()}]")
    return ids.astype(np.intp, copy=False)


@register
class Embedding(Layer):
    """Look up row ``ids[n, t]`` of the table ``W`` (input_dim, output_dim).

    Backward scatters ``dout`` into ``dW`` with ``np.add.at``, so an id that appears
    several times in a batch receives the *sum* of its upstream gradients. The input is
    discrete, so backward returns ``None`` (there is no gradient with respect to ids).

    Shape: ids (N, T) or (N,) -> (N, T, output_dim) or (N, output_dim).

    Keras 2's ``input_length`` is accepted: it fixes T so ``summary()`` can show shapes.
    With ``mask_zero=True`` id 0 is padding: the output carries the mask ``ids != 0``
    (N, T), which the layers after it follow (an RNN skips the padded steps, the loss
    leaves them out), as in Keras; ``input_dim`` then counts the padding id too.
    """

    _cache_attrs = ("ids",)

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, input_length: int | None = None,
                 mask_zero: bool = False, **kwargs):
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (int(input_length),)
        super().__init__(**kwargs)
        for label, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding {label} must be a positive integer, got {value!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.input_length = input_length
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings = None
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    @property
    def makes_mask(self) -> bool:
        return self.mask_zero

    def compute_mask(self, inputs, mask=None):
        """``ids != 0`` (N, T) with ``mask_zero``, else None."""
        return np.asarray(inputs) != 0 if self.mask_zero else None

    def build(self, input_shape):
        super().build(input_shape)
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer, self.embeddings_regularizer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, training=False):
        self._check_input(x)
        self.ids = check_ids(np.asarray(x), self.input_dim, f"Embedding {self.name!r}")
        return np.take(self.embeddings.data, self.ids, axis=0)

    def backward(self, dout):
        if self.embeddings.trainable:
            grad = self.embeddings.grad  # materializes zeros after zero_grad
            np.add.at(grad, self.ids.ravel(), dout.reshape(-1, self.output_dim))
        return None

    def get_config(self):
        config = {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                  "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                  "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                  "mask_zero": self.mask_zero}
        return config
