"""Shape and indexing: reshape, transpose, expand/squeeze, concatenate/stack/split, take,
indexing (``x[key]``), tile, repeat, pad, broadcast_to.

Each backward moves ``dout`` back to where each input value went; where one value was
copied to several places (``take`` with repeated indices, ``tile``, ``repeat``, advanced
indexing) the copies' gradients add up (``np.add.at``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor
from .core import TensorLike, as_tensor, key_array, to_array

Axes = int | Sequence[int]


# -- same values, new shape -----------------------------------------------------------------
def reshape(x: TensorLike, newshape) -> Tensor:
    """``x`` with a new shape of the same size (one dimension may be -1).
    dx = dout reshaped back."""
    t = as_tensor(x)
    return Tensor.from_op(t.data.reshape(newshape), (t,), lambda dout: (dout.reshape(t.shape),),
                          "reshape")


def ravel(x: TensorLike) -> Tensor:
    """``x`` flattened to 1-D (row-major)."""
    return reshape(x, (-1,))


def expand_dims(x: TensorLike, axis: Axes) -> Tensor:
    """``x`` with new axes of size 1 at ``axis``."""
    t = as_tensor(x)
    return reshape(t, np.expand_dims(t.data, axis).shape)


def squeeze(x: TensorLike, axis: Axes | None = None) -> Tensor:
    """``x`` without its axes of size 1 (only those in ``axis`` if given)."""
    t = as_tensor(x)
    return reshape(t, np.squeeze(t.data, axis).shape)


def broadcast_to(x: TensorLike, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape``.  dx = dout summed over the broadcast axes (by the engine)."""
    t = as_tensor(x)
    return Tensor.from_op(np.broadcast_to(t.data, shape), (t,), lambda dout: (dout,),
                          "broadcast_to")


# -- permuted axes --------------------------------------------------------------------------
def transpose(x: TensorLike, axes: Sequence[int] | None = None) -> Tensor:
    """``x`` with its axes permuted (reversed if ``axes`` is None).
    dx = dout permuted back (the inverse permutation)."""
    t = as_tensor(x)
    perm = tuple(range(t.ndim))[::-1] if axes is None else tuple(int(a) % t.ndim for a in axes)
    if sorted(perm) != list(range(t.ndim)):
        raise ValueError(f"transpose: axes {tuple(axes or ())} do not permute the {t.ndim} axes of "
                         f"a tensor of shape {t.shape}")
    inverse = tuple(np.argsort(perm))
    return Tensor.from_op(t.data.transpose(perm), (t,), lambda dout: (dout.transpose(inverse),),
                          "transpose")


def moveaxis(x: TensorLike, source: Axes, destination: Axes) -> Tensor:
    """``x`` with the axes ``source`` moved to the positions ``destination``."""
    t = as_tensor(x)
    src = [int(a) % t.ndim for a in np.atleast_1d(source)]
    dst = [int(a) % t.ndim for a in np.atleast_1d(destination)]
    order = [a for a in range(t.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(t, order)


def swapaxes(x: TensorLike, axis1: int, axis2: int) -> Tensor:
    """``x`` with two axes exchanged."""
    t = as_tensor(x)
    perm = list(range(t.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(t, perm)


# -- joining and splitting ------------------------------------------------------------------
def concatenate(xs: Sequence[TensorLike], axis: int | None = 0) -> Tensor:
    """Join tensors along an existing ``axis`` (``None``: flatten them first).
    dx_i = the slice of dout that came from x_i."""
    tensors = [as_tensor(x) for x in xs]
    if axis is None:
        tensors, axis = [ravel(t) for t in tensors], 0
    out = np.concatenate([t.data for t in tensors], axis=axis)
    ends = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return Tensor.from_op(out, tensors, lambda dout: tuple(np.split(dout, ends, axis=axis)),
                          "concatenate")


def stack(x: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new ``axis``.  dx_i = dout[i] along that axis."""
    tensors = [as_tensor(v) for v in x]
    out = np.stack([t.data for t in tensors], axis=axis)
    return Tensor.from_op(out, tensors, lambda dout: tuple(np.moveaxis(dout, axis, 0)), "stack")


def _along(axis: int, ndim: int, index) -> tuple:
    """The index ``[:, ..., :, index]`` that selects ``index`` on ``axis``."""
    return (slice(None),) * (axis % ndim) + (index,)


def split(x: TensorLike, indices_or_sections, axis: int = 0) -> list[Tensor]:
    """``x`` cut along ``axis`` into equal sections (an int) or at the given indices.
    Each piece's backward puts its dout back at its place in a zero gradient."""
    t = as_tensor(x)
    pieces = np.split(t.data, indices_or_sections, axis=axis)
    starts = np.cumsum([0] + [p.shape[axis] for p in pieces])

    def piece(i: int) -> Tensor:
        where = _along(axis, t.ndim, slice(starts[i], starts[i + 1]))

        def backward(dout):
            dx = np.zeros(t.shape, dtype=dout.dtype)
            dx[where] = dout
            return (dx,)
        return Tensor.from_op(pieces[i], (t,), backward, "split")
    return [piece(i) for i in range(len(pieces))]


# -- gathering ------------------------------------------------------------------------------
def _scatter_add(shape, index, dout) -> np.ndarray:
    """The adjoint of ``x[index]``: dout added at ``index`` into zeros, repeats adding up."""
    dx = np.zeros(shape, dtype=dout.dtype)
    np.add.at(dx, index, dout)
    return dx


def take(x: TensorLike, indices: TensorLike, axis: int | None = None) -> Tensor:
    """Elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` if ``None``):
    (..., n, ...) and indices (I...) -> (..., I..., ...).  dx: dout added back at the
    indices (repeated indices add up)."""
    t = as_tensor(x)
    idx = to_array(key_array(indices))
    if axis is None:
        return take(ravel(t), idx, 0)
    index = _along(axis, t.ndim, idx)
    return Tensor.from_op(t.data[index], (t,), lambda dout: (_scatter_add(t.shape, index, dout),),
                          "take")


def take_along_axis(x: TensorLike, indices: TensorLike, axis: int | None = None) -> Tensor:
    """``np.take_along_axis``: ``out[..., i, ...] = x[..., indices[..., i, ...], ...]`` on
    ``axis`` (the flattened ``x`` if ``None``).  dx: dout added back at the indices."""
    t = as_tensor(x)
    idx = to_array(key_array(indices))
    if axis is None:
        return take_along_axis(ravel(t), idx.reshape(-1), 0)
    axis %= t.ndim
    index = tuple(idx if d == axis else
                  np.arange(n).reshape([-1 if e == d else 1 for e in range(t.ndim)])
                  for d, n in enumerate(t.shape))
    return Tensor.from_op(t.data[index], (t,), lambda dout: (_scatter_add(t.shape, index, dout),),
                          "take_along_axis")


def _is_basic(key) -> bool:
    """Whether ``x[key]`` is NumPy basic indexing (a view; no position is read twice)."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice))
               and not isinstance(k, bool) for k in parts)


def get_item(x: TensorLike, key) -> Tensor:
    """``x[key]`` with NumPy's basic and advanced indexing (Tensors allowed in ``key``).
    dx: dout put back at the indexed positions (repeated positions add up)."""
    t = as_tensor(x)
    key = key_array(key)
    if isinstance(key, list):
        key = np.asarray(key)
    out = t.data[key]

    def backward(dout):
        if not _is_basic(key):
            return (_scatter_add(t.shape, key, dout),)
        dx = np.zeros(t.shape, dtype=dout.dtype)
        dx[key] = dout
        return (dx,)
    return Tensor.from_op(out, (t,), backward, "get_item")


# -- copies ---------------------------------------------------------------------------------
def tile(x: TensorLike, repeats: int | Sequence[int]) -> Tensor:
    """``x`` repeated as whole blocks, ``repeats[i]`` times along axis i.
    dx = the sum of dout over the copies."""
    t = as_tensor(x)
    out = np.tile(t.data, repeats)
    reps = tuple(np.atleast_1d(repeats))
    ndim = out.ndim
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - t.ndim) + t.shape

    def backward(dout):
        blocks = dout.reshape([n for pair in zip(reps, shape) for n in pair])  # (r0, s0, r1, ...)
        return (blocks.sum(axis=tuple(range(0, 2 * ndim, 2))).reshape(t.shape),)
    return Tensor.from_op(out, (t,), backward, "tile")


def repeat(x: TensorLike, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
    """Each element of ``x`` repeated ``repeats`` times along ``axis`` (flattened if
    ``None``).  dx_i = the sum of dout over the copies of x_i."""
    t = as_tensor(x)
    if axis is None:
        return repeat(ravel(t), repeats, 0)
    out = np.repeat(t.data, repeats, axis=axis)
    source = np.repeat(np.arange(t.shape[axis]), repeats)  # which x_i each output copies
    index = _along(axis, t.ndim, source)
    return Tensor.from_op(out, (t,), lambda dout: (_scatter_add(t.shape, index, dout),), "repeat")


_COPYING_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(x: TensorLike, pad_width, mode: str = "constant", constant_values=None) -> Tensor:
    """``np.pad`` in modes "constant", "edge", "reflect", "symmetric" and "wrap".
    dx = the inner part of dout, plus (other modes) dout of every copy of an edge value."""
    t = as_tensor(x)
    if mode == "constant":
        out = np.pad(t.data, pad_width, constant_values=constant_values or 0)
        widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (t.ndim, 2))
        inner = tuple(slice(before, before + n) for (before, _), n in zip(widths, t.shape))
        return Tensor.from_op(out, (t,), lambda dout: (dout[inner],), "pad")
    if mode not in _COPYING_PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use 'constant' or one of "
                         f"{_COPYING_PAD_MODES}")
    # mode is one of _COPYING_PAD_MODES (checked above), which numpy's stubs want as a Literal
    out = np.pad(t.data, pad_width, mode=mode)  # type: ignore[call-overload]
    source = np.pad(np.arange(t.size).reshape(t.shape), pad_width,  # type: ignore[call-overload]
                    mode=mode).ravel()

    def backward(dout):
        summed = np.bincount(source, weights=dout.ravel(), minlength=t.size)
        return (summed.reshape(t.shape).astype(dout.dtype, copy=False),)
    return Tensor.from_op(out, (t,), backward, "pad")
