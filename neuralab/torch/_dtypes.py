"""PyTorch's dtype names (``torch.float32`` standing for a NumPy dtype), the default float
dtype, ``torch.Size`` and ``torch.device`` (only the CPU exists here)."""

from __future__ import annotations

import builtins

import numpy as np


class dtype:  # noqa: N801 - torch.dtype
    """A PyTorch dtype name (``torch.float32``) standing for a NumPy dtype."""

    def __init__(self, name: str, numpy_dtype):
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.is_floating_point = self.numpy.kind == "f"

    def __repr__(self) -> str:
        return f"torch.{self.name}"


float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)  # noqa: A001 - torch.float
float64 = double = dtype("float64", np.float64)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)  # noqa: A001 - torch.int
int64 = long = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)  # noqa: A001 - torch.bool
_BY_NUMPY = {d.numpy: d for d in (float16, float32, float64, int8, uint8, int16, int32, int64, bool)}
_default_dtype = float32


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats and of new layers' weights."""
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    """``torch.set_default_dtype(torch.float64)``: new float tensors and weights in ``d``."""
    global _default_dtype
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def as_dtype(d) -> dtype | None:
    """A torch dtype for a torch dtype, a NumPy dtype or a name (``None`` stays ``None``)."""
    if d is None or isinstance(d, dtype):
        return d
    try:
        return _BY_NUMPY[np.dtype(d)]
    except (KeyError, TypeError):
        raise TypeError(f"unsupported dtype {d!r}") from None


def numpy_dtype(d):
    d = as_dtype(d)
    return None if d is None else d.numpy


class Size(tuple):
    """``tensor.size()``: a tuple of ints."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> builtins.int:
        return builtins.int(np.prod(self))


class device:  # noqa: N801 - torch.device
    """Only the CPU exists here: ``to(device)`` accepts and ignores it."""

    def __init__(self, type: str = "cpu", index=None):  # noqa: A002
        self.type = str(type).split(":")[0]
        self.index = index

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __eq__(self, other) -> builtins.bool:
        return str(self) == str(other)

    def __hash__(self):
        return hash(str(self))

    def __str__(self) -> str:
        return self.type
