"""Load weights saved by Keras (``model.save_weights``) into a neuralab model of the same
architecture, so a student can start from (or compare with) a Keras run.

Two layouts are read:

* Keras 3 ``.weights.h5``: ``layers/<key>/vars/0``, ``vars/1``, ... where ``<key>`` is the
  layer's class in snake case, numbered per class in model order (``dense``, ``dense_1``,
  ``conv2d``, ...), whatever the layers were named;
* Keras 2 / tf.keras ``.h5``: a ``layer_names`` attribute and, per layer, a group whose
  ``weight_names`` attribute lists its arrays.

Both store weights in Keras order and layout, which is neuralab's (Dense kernel (in, out),
Conv2D kernel (kh, kw, in, out), BatchNormalization gamma, beta, moving mean, moving
variance), so they load unchanged. A count or shape mismatch raises ``ValueError`` naming
the layer and both shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import backend
from ..io_utils import atomic_path
from ..layers import InputLayer


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("Reading Keras weights needs h5py: pip install 'neuralab[data]'") from None
    return h5py


def _keras3_keys(model) -> list[tuple[object, str]]:
    """(layer, group key) of each layer in Keras 3's ``.weights.h5`` layout: the snake-case
    class name, numbered from the second layer of a class on (``dense``, ``dense_1``)."""
    counters: dict[str, int] = {}
    keys = []
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        base = backend.to_snake_case(type(layer).__name__)
        k = counters.get(base, 0)
        counters[base] = k + 1
        keys.append((layer, base if k == 0 else f"{base}_{k}"))
    return keys


def _keras3_arrays(f, model) -> list[tuple[str, list[np.ndarray]]]:
    found = []
    for _, key in _keras3_keys(model):
        group = f.get(f"layers/{key}/vars")
        arrays = []
        if group is not None:
            arrays = [np.asarray(group[str(i)]) for i in range(len(group.keys()))]
        found.append((f"layers/{key}", arrays))
    return found


def _keras2_arrays(f, model) -> list[tuple[str, list[np.ndarray]]]:
    root = f.get("model_weights", f)
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs["layer_names"]]
    with_weights = []
    for name in names:
        group = root[name]
        weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                        for w in group.attrs.get("weight_names", [])]
        if weight_names:
            with_weights.append((name, [np.asarray(group[w]) for w in weight_names]))
    layers = [layer for layer in model.layers if layer.weights]
    if len(with_weights) != len(layers):
        raise ValueError(f"The Keras file has {len(with_weights)} layers with weights "
                         f"({[n for n, _ in with_weights]}), the model {len(layers)} "
                         f"({[layer.name for layer in layers]})")
    return with_weights


def load_keras_weights(model, path) -> None:
    """Copy the weights of a Keras ``save_weights`` file into ``model`` (built, same
    architecture)."""
    h5py = _h5py()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Keras weights file not found: {path}")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built: give it an input shape first")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
    with f:
        if "layer_names" in f.attrs or ("model_weights" in f and "layer_names" in f["model_weights"].attrs):
            entries = _keras2_arrays(f, model)
            layers = [layer for layer in model.layers if layer.weights]
        elif "layers" in f:
            entries = _keras3_arrays(f, model)
            layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
        else:
            raise ValueError(f"{path}: not a Keras weights file (no 'layers' group and no "
                             "'layer_names' attribute)")
    for layer, (where, arrays) in zip(layers, entries):
        expected = [p.shape for p in layer.weights]
        got = [a.shape for a in arrays]
        if expected != got:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) expects weights of "
                             f"shapes {expected}, the file has {got} at {where}")
        layer.set_weights(arrays)


def save_keras_weights(model, path) -> None:
    """Write ``model``'s weights in the Keras 3 ``.weights.h5`` layout (for Keras users and
    for tests), atomically."""
    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        for layer, key in _keras3_keys(model):
            group = f.create_group(f"layers/{key}/vars")
            group.attrs["name"] = layer.name
            for i, w in enumerate(layer.get_weights()):
                group.create_dataset(str(i), data=w)
