"""Merge layers (Keras 3 ``keras.layers.Add``, ``Concatenate``, ``Dot``, ...) and their
lowercase functions (``add([a, b])`` is ``Add()([a, b])``).

A merge layer takes a *list* of inputs (``multi_input = True``): ``forward(xs)`` returns
one array and ``backward(dout)`` returns one dx per input.

Broadcasting (Keras' ``Merge``): the batch sizes must agree; per-sample shapes of
different ranks are aligned by inserting axes after the batch axis (``(N, 5)`` meets
``(N, 3, 5)`` as ``(N, 1, 5)``), and then an axis of size 1 stretches to the other's
size. Backward sums each dx over the axes its input was stretched along.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .base import Layer, register

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in value)


def _as_shapes(input_shape) -> list[tuple]:
    return [tuple(s) for s in input_shape]


def _broadcast_shape(shape1: tuple, shape2: tuple) -> tuple:
    """Per-sample shapes aligned on their last axes; 1 stretches, None stays unknown."""
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    if not shape2:
        return tuple(shape1)
    out = list(shape1[:len(shape1) - len(shape2)])
    for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1:
            out.append(j if i == 1 else i)
        elif i != j:
            raise ValueError("Inputs have incompatible shapes. "
                             f"Received shapes {tuple(shape1)} and {tuple(shape2)}")
        else:
            out.append(i)
    return tuple(out)


def _sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes where ``shape`` (same rank) has 1 and ``g`` has not."""
    axes = tuple(a for a, (d, n) in enumerate(zip(shape, g.shape)) if d == 1 and n != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


class _Merge(Layer):
    """Base of the merge layers: a list of inputs, shape checks, lazy build."""

    multi_input = True

    def build(self, input_shape) -> None:
        if not isinstance(input_shape, (list, tuple)) or not input_shape \
                or not _is_shape(input_shape[0]):
            if isinstance(input_shape, (list, tuple)) and not input_shape:
                raise ValueError("A merge layer should be called on a list of at least 1 input. "
                                 f"Received 0 inputs. Full input_shape received: {input_shape}")
            raise ValueError("A merge layer should be called on a list of inputs. "
                             f"Received: input_shape={input_shape} (not a list of shapes)")
        self._check_shapes(_as_shapes(input_shape))
        super().build(_as_shapes(input_shape))

    def _check_shapes(self, shapes: list[tuple]) -> None:
        self.compute_output_shape(shapes)

    def _batch_size(self, shapes: list[tuple]):
        sizes = {s[0] for s in shapes if s} - {None}
        if len(sizes) > 1:
            raise ValueError("Cannot merge tensors with different batch sizes. "
                             f"Received tensors with shapes {shapes}")
        return sizes.pop() if sizes else None

    def _inputs(self, inputs) -> list[np.ndarray]:
        """Build on first use; check the arrays' shapes on every call."""
        if not isinstance(inputs, (list, tuple)):
            raise ValueError("A merge layer should be called on a list of inputs. "
                             f"Received: inputs={inputs!r} (not a list of tensors)")
        xs = [np.asarray(x) for x in inputs]
        shapes = [x.shape for x in xs]
        if not self.built:
            self.build([(None,) + s[1:] for s in shapes])
        self._check_shapes(shapes)
        return xs


class _ElementwiseMerge(_Merge):
    """Merges with one output element per aligned position: Add, Subtract, Multiply,
    Average, Maximum, Minimum. Subclasses define ``_merge(xs, y)`` (writes y) and
    ``_merge_grads(dout)`` (dL/dx_i at the output's shape)."""

    #: the inputs' shapes and their rank-aligned shapes
    _cache_attrs = ("_shapes", "_aligned_shapes")
    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Keras' rule: a step counts where it counts in any input; no mask unless every
        input carries one."""
        if mask is None or any(m is None for m in mask):
            return None
        return np.logical_or.reduce([np.asarray(m, bool) for m in mask])

    def compute_output_shape(self, input_shape):
        shapes = _as_shapes(input_shape)
        batch = self._batch_size(shapes)
        out = shapes[0][1:]
        for shape in shapes[1:]:
            out = _broadcast_shape(out, shape[1:])
        return (batch,) + tuple(out)

    def forward(self, inputs, training=False):
        xs = self._inputs(inputs)
        self._shapes = [x.shape for x in xs]
        rank = max(x.ndim for x in xs)
        xs = [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in xs]
        self._aligned_shapes = [x.shape for x in xs]
        y = self._buffer("y", np.broadcast_shapes(*self._aligned_shapes), self.dtype)
        self._merge(xs, y)
        return y

    def backward(self, dout):
        if self.skip_input_grad:
            return [None] * len(self._shapes)
        return [_sum_to(g, aligned).reshape(shape) for g, aligned, shape in
                zip(self._merge_grads(dout), self._aligned_shapes, self._shapes)]

    def _merge(self, xs: list[np.ndarray], y: np.ndarray) -> None:
        raise NotImplementedError

    def _merge_grads(self, dout: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError


def _fold(ufunc, xs: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """``y = x0 (op) x1 (op) ...`` into ``y``."""
    if len(xs) == 1:
        np.copyto(y, np.broadcast_to(xs[0], y.shape))
        return y
    ufunc(xs[0], xs[1], out=y)
    for x in xs[2:]:
        ufunc(y, x, out=y)
    return y


@register
class Add(_ElementwiseMerge):
    """``y = x_1 + x_2 + ... + x_n``; backward ``dx_i = dout`` (summed over broadcast axes).

    Shape: n inputs (N, ...) -> (N, ...broadcast).
    """

    def _merge(self, xs, y):
        _fold(np.add, xs, y)

    def _merge_grads(self, dout):
        return [dout] * len(self._shapes)


@register
class Subtract(_ElementwiseMerge):
    """``y = x_1 - x_2`` (exactly two inputs); backward ``dx_1 = dout``, ``dx_2 = -dout``.

    Shape: 2 inputs (N, ...) -> (N, ...broadcast).
    """

    def _check_shapes(self, shapes):
        if len(shapes) != 2:
            raise ValueError("A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={shapes}")
        super()._check_shapes(shapes)

    def _merge(self, xs, y):
        np.subtract(xs[0], xs[1], out=y)

    def _merge_grads(self, dout):
        return [dout, -dout]


@register
class Average(_ElementwiseMerge):
    """``y = (x_1 + ... + x_n) / n``; backward ``dx_i = dout / n``.

    Shape: n inputs (N, ...) -> (N, ...broadcast).
    """

    def _merge(self, xs, y):
        _fold(np.add, xs, y)
        y /= len(xs)

    def _merge_grads(self, dout):
        return [dout / len(self._shapes)] * len(self._shapes)


@register
class Multiply(_ElementwiseMerge):
    """``y = x_1 * x_2 * ... * x_n``; backward ``dx_i = dout * prod_{j != i} x_j``
    (products of the others from prefix and suffix products: no division, so zeros
    in the inputs are fine).

    Shape: n inputs (N, ...) -> (N, ...broadcast).
    """

    _cache_attrs = _ElementwiseMerge._cache_attrs + ("_xs",)

    def _merge(self, xs, y):
        self._xs = xs
        _fold(np.multiply, xs, y)

    def _merge_grads(self, dout):
        xs, n = self._xs, len(self._xs)
        if n == 1:
            return [dout]
        # before[i] = x_0 ... x_{i-1}, after[i] = x_{i+1} ... x_{n-1}
        before, after = [None] * n, [None] * n
        before[1], after[n - 2] = xs[0], xs[n - 1]
        for i in range(2, n):
            before[i] = before[i - 1] * xs[i - 1]
            after[n - 1 - i] = after[n - i] * xs[n - i]
        others = [after[0]] + [before[i] * after[i] for i in range(1, n - 1)] + [before[n - 1]]
        return [dout * o for o in others]


class _Extremum(_ElementwiseMerge):
    """Maximum/Minimum as Keras computes them: a chain of pairwise operations,
    ``m_1 = x_1``, ``m_k = op(m_{k-1}, x_k)``.

    Gradient at ties, as PyTorch's ``torch.maximum``/``torch.minimum``: where
    ``x_k == m_{k-1}`` the upstream gradient is split in half between the two. Through
    the chain, three inputs tied at one position get 1/4, 1/4 and 1/2 (the same as
    ``torch.maximum(torch.maximum(a, b), c)``); elsewhere the winner gets all of it.
    """

    _cache_attrs = _ElementwiseMerge._cache_attrs + ("_xs", "_partials")
    _op = staticmethod(np.maximum)
    _beats = staticmethod(np.greater)  # x_k wins against m_{k-1}

    def _merge(self, xs, y):
        partials = [xs[0]]
        for x in xs[1:-1]:
            partials.append(self._op(partials[-1], x))
        if len(xs) == 1:
            np.copyto(y, np.broadcast_to(xs[0], y.shape))
        else:
            self._op(partials[-1], xs[-1], out=y)
        self._xs, self._partials = xs, partials

    def _merge_grads(self, dout):
        xs, partials = self._xs, self._partials
        grads = [None] * len(xs)
        g = dout
        for k in range(len(xs) - 1, 0, -1):
            prev, x = partials[k - 1], xs[k]
            share_x = self._beats(x, prev) + 0.5 * (x == prev)  # 1, 1/2 or 0
            grads[k] = g * share_x
            g = _sum_to(g * (1.0 - share_x), prev.shape)
        grads[0] = g
        return grads


@register
class Maximum(_Extremum):
    """Elementwise maximum of the inputs; ties split the gradient in half per pairwise
    step, as ``torch.maximum`` does (see :class:`_Extremum`).

    Shape: n inputs (N, ...) -> (N, ...broadcast).
    """


@register
class Minimum(_Extremum):
    """Elementwise minimum of the inputs; ties split the gradient in half per pairwise
    step, as ``torch.minimum`` does.

    Shape: n inputs (N, ...) -> (N, ...broadcast).
    """

    _op = staticmethod(np.minimum)
    _beats = staticmethod(np.less)


@register
class Concatenate(_Merge):
    """Join the inputs along ``axis``; backward splits ``dout`` back into the pieces.

    Shape: inputs (N, ..., d_i, ...) equal except on ``axis`` -> (N, ..., sum d_i, ...).
    """

    #: the concatenation axis (non-negative) and where each input's slice ends
    _cache_attrs = ("_axis", "_ends")
    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Keras' rule: each input's mask (all True where it has none) spread over its
        shape, joined along ``axis``, then a step counts where any feature does."""
        if mask is None or all(m is None for m in mask):
            return None
        spread = [np.ones(np.shape(x), bool) if m is None else
                  np.broadcast_to(np.asarray(m, bool).reshape(
                      np.shape(m) + (1,) * (np.ndim(x) - np.ndim(m))), np.shape(x))
                  for x, m in zip(inputs, mask)]
        return np.concatenate(spread, axis=self.axis).any(axis=-1)

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = _as_shapes(input_shape)
        error = ("A `Concatenate` layer requires inputs with matching shapes except for the "
                 f"concatenation axis. Received: input_shape={shapes}")
        if len({len(s) for s in shapes}) != 1 or not -len(shapes[0]) <= self.axis < len(shapes[0]):
            raise ValueError(error)
        axis = self.axis % len(shapes[0])
        for a in range(len(shapes[0])):
            if a != axis and len({s[a] for s in shapes} - {None}) > 1:
                raise ValueError(error)
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def forward(self, inputs, training=False):
        xs = self._inputs(inputs)
        self._axis = self.axis % xs[0].ndim
        self._ends = np.cumsum([x.shape[self._axis] for x in xs])
        shape = list(xs[0].shape)
        shape[self._axis] = int(self._ends[-1])
        y = self._buffer("y", tuple(shape), self.dtype)
        np.concatenate(xs, axis=self._axis, out=y)
        return y

    def backward(self, dout):
        if self.skip_input_grad:
            return [None] * len(self._ends)
        return np.split(dout, self._ends[:-1], axis=self._axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register
class Dot(_Merge):
    """Batchwise dot product of two inputs over one axis each (Keras ``Dot``).

    For x (N, ..., d, ...) and y (N, ..., d, ...) with ``axes=(a, b)`` (``x.shape[a] ==
    y.shape[b] == d``; an int means the same axis in both, negative axes count from the
    end), the output is x's remaining axes followed by y's remaining non-batch axes; if
    both inputs are (N, d) the output is (N, 1). With x moved to X (N, P, d) and y to
    Y (N, d, Q): ``Z = X @ Y``, backward ``dX = dZ Y^T``, ``dY = X^T dZ``.

    ``normalize=True`` first L2-normalizes each input along its dot axis,
    ``u = x / max(||x||, eps)`` (eps = ``backend.epsilon()``), so the output is the
    cosine similarity; backward ``dx = (du - u sum(du u)) / ||x||`` where the norm is
    above eps, ``du / eps`` where it is clamped.

    Shape: [(N, ...), (N, ...)] -> (N, ...).
    """

    supports_masking = True  # Keras': a mask is accepted, and the output carries none

    def compute_mask(self, inputs, mask=None):
        return None

    #: the inputs moved to X (N, P, d) and Y (N, d, Q), their shapes after the move (dot
    #: axis last in x, first after the batch in y), the axes, and the normalization
    _cache_attrs = ("_x_mat", "_y_mat", "_moved_shapes", "_axes", "_inv_norms", "_units")

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError("Invalid type for argument `axes`: it should be a list or an "
                                f"int. Received: axes={axes}")
            if len(axes) != 2:
                raise ValueError("Invalid format for argument `axes`: it should contain two "
                                 f"elements. Received: axes={axes}")
            if not isinstance(axes[0], int) or not isinstance(axes[1], int):
                raise ValueError("Invalid format for argument `axes`: list elements should be "
                                 f"integers. Received: axes={axes}")
            axes = list(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes_for(self, shape1: tuple, shape2: tuple) -> tuple[int, int]:
        axes = [self.axes] * 2 if isinstance(self.axes, int) else self.axes
        return axes[0] % len(shape1), axes[1] % len(shape2)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 \
                or not _is_shape(input_shape[0]):
            raise ValueError("A `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={input_shape}")
        shape1, shape2 = _as_shapes(input_shape)
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError("Cannot do batch_dot on inputs with rank < 2. "
                             f"Received inputs with shapes {shape1} and {shape2}.")
        if None not in (shape1[0], shape2[0]) and shape1[0] != shape2[0]:
            raise ValueError("Cannot do batch_dot on inputs with different batch sizes. "
                             f"Received inputs with shapes {shape1} and {shape2}.")
        a1, a2 = self._axes_for(shape1, shape2)
        if 0 in (a1, a2):
            raise ValueError("Cannot perform batch_dot over axis 0. If your inputs are not "
                             "batched, add a dummy batch dimension to your inputs using "
                             "keras.ops.expand_dims(x, 0)")
        d1, d2 = shape1[a1], shape2[a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"Incompatible input shapes: axis values {d1} (at axis {a1}) != "
                             f"{d2} (at axis {a2}). Full input shapes: {shape1}, {shape2}")
        out = [shape1[0] if shape1[0] is not None else shape2[0]]
        out += [d for a, d in enumerate(shape1[1:], 1) if a != a1]
        out += [d for a, d in enumerate(shape2[1:], 1) if a != a2]
        return tuple(out) if len(out) > 1 else (out[0], 1)

    def _normalized(self, x: np.ndarray, axis: int):
        """(u, 1 / max(||x||, eps)) along ``axis`` (kept)."""
        inv_norm = 1.0 / np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
        np.minimum(inv_norm, 1.0 / backend.epsilon(), out=inv_norm)
        return x * inv_norm, inv_norm

    def forward(self, inputs, training=False):
        x, y = self._inputs(inputs)
        self._axes = a1, a2 = self._axes_for(x.shape, y.shape)
        self._inv_norms = self._units = None
        if self.normalize:
            (x, inv_x), (y, inv_y) = self._normalized(x, a1), self._normalized(y, a2)
            self._inv_norms, self._units = (inv_x, inv_y), (x, y)
        x_moved, y_moved = np.moveaxis(x, a1, -1), np.moveaxis(y, a2, 1)
        self._moved_shapes = (x_moved.shape, y_moved.shape)
        n, d = x.shape[0], x.shape[a1]
        self._x_mat = x_moved.reshape(n, -1, d)
        self._y_mat = y_moved.reshape(n, d, -1)
        tail = x_moved.shape[1:-1] + y_moved.shape[2:]
        return np.matmul(self._x_mat, self._y_mat).reshape((n,) + (tail or (1,)))

    def backward(self, dout):
        if self.skip_input_grad:
            return [None, None]
        (x_moved, y_moved), (a1, a2) = self._moved_shapes, self._axes
        n, p, _ = self._x_mat.shape
        dz = dout.reshape(n, p, -1)
        dx_mat = np.matmul(dz, self._y_mat.transpose(0, 2, 1))
        dy_mat = np.matmul(self._x_mat.transpose(0, 2, 1), dz)
        dx = np.moveaxis(dx_mat.reshape(x_moved), -1, a1)
        dy = np.moveaxis(dy_mat.reshape(y_moved), 1, a2)
        if self.normalize:
            dx = self._unnormalize_grad(dx, 0, a1)
            dy = self._unnormalize_grad(dy, 1, a2)
        return [np.ascontiguousarray(dx), np.ascontiguousarray(dy)]

    def _unnormalize_grad(self, du: np.ndarray, k: int, axis: int) -> np.ndarray:
        """dL/dx from dL/du for ``u = x / max(||x||, eps)``."""
        u, inv_norm = self._units[k], self._inv_norms[k]
        unclamped = inv_norm < 1.0 / backend.epsilon()
        radial = np.sum(du * u, axis=axis, keepdims=True) * unclamped
        return (du - u * radial) * inv_norm

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# -- Keras' functional forms: build the layer and call it on the list ----------------------
def add(inputs, **kwargs):
    """``add([a, b])`` is ``Add()([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``subtract([a, b])`` is ``Subtract()([a, b])``: ``a - b``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``multiply([a, b])`` is ``Multiply()([a, b])``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``average([a, b])`` is ``Average()([a, b])``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``maximum([a, b])`` is ``Maximum()([a, b])``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``minimum([a, b])`` is ``Minimum()([a, b])``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    """``concatenate([a, b], axis)`` is ``Concatenate(axis)([a, b])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """``dot([a, b], axes)`` is ``Dot(axes)([a, b])`` (``normalize=`` passes through)."""
    return Dot(axes=axes, **kwargs)(inputs)
