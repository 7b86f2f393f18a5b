"""``torch.save`` / ``torch.load`` for state dicts in a safe format: one ``.npz`` zip.

PyTorch pickles, and unpickling can run code. Here a state dict (a model's, an
optimizer's: nested dicts, lists and tuples of tensors, arrays, numbers, strings and
``None``) is stored as its arrays plus a JSON description of the structure, loaded with
``allow_pickle=False``. Anything else (a whole module object) is refused.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np

from ._tensor import Tensor, from_numpy

_STRUCTURE = "__structure__"


def _encode(value, arrays: dict):
    if isinstance(value, (Tensor, np.ndarray)):
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(value._t.data if isinstance(value, Tensor) else value)
        return {"tensor" if isinstance(value, Tensor) else "ndarray": key}
    if isinstance(value, dict):
        return {"dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_encode(v, arrays) for v in value]}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise TypeError(f"torch.save (neuralab): cannot store a {type(value).__name__}; save "
                    "model.state_dict() (tensors, numbers, strings, lists and dicts), not the object")


def _decode(node, arrays):
    (kind, payload), = node.items()
    if kind == "tensor":
        return from_numpy(arrays[payload])
    if kind == "ndarray":
        return arrays[payload]
    if kind == "dict":
        return OrderedDict((_decode(k, arrays), _decode(v, arrays)) for k, v in payload)
    if kind == "list":
        return [_decode(v, arrays) for v in payload]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in payload)
    return payload


def save(obj, f) -> None:
    """Write ``obj`` (a state dict) to the path or file ``f`` as an ``.npz`` zip (no pickle)."""
    arrays: dict = {}
    structure = _encode(obj, arrays)
    arrays[_STRUCTURE] = np.array(json.dumps(structure))
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        np.savez(f, **arrays)


def load(f, map_location=None, weights_only: bool = True):
    """Read what :func:`save` wrote: tensors come back as tensors, arrays as arrays."""
    with np.load(f, allow_pickle=False) as archive:
        if _STRUCTURE not in archive.files:
            raise ValueError(f"{f}: not a file written by neuralab.torch.save (no {_STRUCTURE} entry)")
        arrays = {name: archive[name] for name in archive.files}
    return _decode(json.loads(str(arrays.pop(_STRUCTURE))), arrays)
