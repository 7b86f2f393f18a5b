"""Keras preprocessing layers that hold statistics of the data: ``Normalization``."""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from .base import Layer, register


@register
class Normalization(Layer):
    """Standardize features with a mean and variance given or learned by :meth:`adapt`
    (Keras ``Normalization``).

    Math: ``y = (x - mean) / max(sqrt(var), eps)`` with ``eps = backend.epsilon()`` (1e-7);
    ``invert=True`` gives ``y = mean + x * max(sqrt(var), eps)``. The statistics are kept
    for each position along ``axis`` (default the last, the features; ``None``: one mean
    and variance over everything) and reduced over the other axes; the variance is the
    biased (population) one, as in Keras. Backward: ``dx = dy / max(sqrt(var), eps)``.

    Weights (non-trainable, Keras' names and order): ``mean``, ``variance``, ``count`` when
    adapted (``count`` stays 0, as Keras 3's adapt leaves it); none when
    ``mean``/``variance`` are given.

    Shape: any (N, ...) -> the same shape.

    Example:
        >>> layer = Normalization()
        >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
        >>> layer(np.array([[1.0, 20.0]]))
        array([[0., 0.]], dtype=float32)
    """

    supports_masking = True  # a mask passes on unchanged (Keras)

    accepts_any_shape = True

    def __init__(self, axis=-1, mean=None, variance=None, invert: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.axis: tuple[int, ...] = () if axis is None else \
            (int(axis),) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization needs both mean and variance or neither, got "
                             f"mean={mean!r} and variance={variance!r}")
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError(f"Normalization mean and variance must have one shape, got "
                             f"{np.shape(mean)} and {np.shape(variance)}")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.adapt_mean = self.adapt_variance = self.count = None

    # -- shapes ---------------------------------------------------------------------------
    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Normalization axis {self.axis} is out of range for inputs of "
                             f"shape {tuple(input_shape)}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        if 0 in keep:
            raise ValueError("Normalization cannot keep statistics per sample (axis 0 is the "
                             "batch axis)")
        if any(input_shape[a] is None for a in keep):
            raise ValueError(f"Normalization needs known sizes on axis {self.axis}, got inputs "
                             f"of shape {tuple(input_shape)}")
        super().build(input_shape)
        self._keep = keep
        self._reduce = tuple(a for a in range(ndim) if a not in keep)
        self._broadcast = tuple(input_shape[a] if a in keep else 1 for a in range(ndim))
        stats_shape = tuple(input_shape[a] for a in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stats_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stats_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), initializer="zeros",
                                         trainable=False)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # -- statistics -------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Set the mean and variance from ``data``: an array, or batches (a list or
        generator of arrays, a ``PyDataset``; of ``(x, y)`` pairs only x is used), merged
        with Keras' running formula so that the result equals one pass over all of it."""
        if self.input_mean is not None:
            raise ValueError("Normalization was given mean and variance: adapt() would "
                             "overwrite them; create the layer without them to adapt it")
        batches = [np.asarray(data)] if isinstance(data, np.ndarray) or np.isscalar(data) \
            else (_first(item) for item in _iterate(data, steps))
        total_mean = total_var = None
        total = 0
        for batch in batches:
            batch = np.asarray(batch, dtype=np.float64)
            if not self.built:
                self._build_from_shape((None,) + batch.shape[1:])
            expected = tuple(self.input_shape[a] for a in self._keep)
            if batch.ndim != len(self.input_shape) or \
                    tuple(batch.shape[a] for a in self._keep) != expected:
                raise ValueError(f"Normalization was built for inputs "
                                 f"{tuple(self.input_shape)}; adapt() got a batch of shape "
                                 f"{batch.shape}")
            mean, var = batch.mean(axis=self._reduce), batch.var(axis=self._reduce)
            count = math.prod(batch.shape[a] for a in self._reduce)
            if total_mean is None:
                total_mean, total_var, total = mean, var, count
                continue
            total += count
            new_weight = count / total
            merged = total_mean * (1 - new_weight) + mean * new_weight
            total_var = (total_var + (total_mean - merged) ** 2) * (1 - new_weight) + \
                (var + (mean - merged) ** 2) * new_weight
            total_mean = merged
        if total_mean is None:
            raise ValueError("Normalization.adapt() received no data (an empty iterable)")
        self.adapt_mean.assign(total_mean)
        self.adapt_variance.assign(total_var)

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        """mean and max(sqrt(var), eps), shaped to broadcast against the inputs."""
        if self.input_mean is not None:
            mean, var = (np.asarray(v, dtype=self.dtype) for v in
                         (self.input_mean, self.input_variance))
            if mean.ndim:  # the trailing kept axes, as Keras reshapes them
                shape = [1] * len(self._broadcast)
                for i in range(1, mean.ndim + 1):
                    shape[self._keep[-i]] = mean.shape[-i]
                mean, var = mean.reshape(shape), var.reshape(shape)
        else:
            mean = self.adapt_mean.data.reshape(self._broadcast)
            var = self.adapt_variance.data.reshape(self._broadcast)
        return mean, np.maximum(np.sqrt(var), backend.epsilon()).astype(mean.dtype)

    # -- forward / backward -------------------------------------------------------------
    def forward(self, x, training=False):
        self._check_input(x)
        mean, scale = self._stats()
        return (mean + x * scale if self.invert else (x - mean) / scale).astype(self.dtype)

    def backward(self, dout):
        _, scale = self._stats()
        if self.skip_input_grad:
            return None
        return dout * scale if self.invert else dout / scale

    def get_config(self):
        def plain(v):
            return None if v is None else np.asarray(v).tolist()
        axis = None if not self.axis else self.axis[0] if len(self.axis) == 1 else list(self.axis)
        return {**super().get_config(), "axis": axis, "mean": plain(self.input_mean),
                "variance": plain(self.input_variance), "invert": self.invert}


def _iterate(data, steps):
    """The batches of ``data`` (at most ``steps``): an indexable PyDataset or an iterable."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and \
            not isinstance(data, (list, tuple)):
        items = (data[i] for i in range(len(data)))
    elif hasattr(data, "__iter__"):
        items = iter(data)
    else:
        raise TypeError(f"Normalization.adapt expects an array or batches of arrays, got "
                        f"{type(data).__name__}")
    for i, item in enumerate(items):
        if steps is not None and i >= steps:
            return
        yield item


def _first(item):
    """x of an ``(x, y)`` batch; the batch itself otherwise."""
    return item[0] if isinstance(item, tuple) else item
