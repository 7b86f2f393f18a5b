"""Checking what ``fit``/``evaluate``/``predict`` are given, once per call.

A model with one input takes an array; a model with several takes a list (in the order
of ``model.inputs``) or a dict keyed by input names; targets likewise by output. Each
problem raises ``ValueError``/``TypeError`` naming the input or output, what was wrong and
what was expected.
"""

from __future__ import annotations

import math

import numpy as np

from ..layers.base import format_shape


def _named(structure, names: list[str], what: str, allow_single: bool) -> list:
    """``structure`` (an array, a list or a dict) as a list aligned with ``names``."""
    if isinstance(structure, dict):
        unknown = sorted(set(structure) - set(names))
        if unknown:
            raise ValueError(f"Unknown {what} name(s) {unknown}: the model's {what}s are {names}")
        return [structure.get(name) for name in names]
    if isinstance(structure, (list, tuple)) and len(names) > 1:
        if len(structure) != len(names):
            raise ValueError(f"The model has {len(names)} {what}s {names}, got a list of "
                             f"{len(structure)} arrays")
        return list(structure)
    if len(names) > 1 and not allow_single:
        raise ValueError(f"The model has {len(names)} {what}s {names}: pass a list or a dict "
                         f"keyed by {what} name, got one {type(structure).__name__}")
    if len(names) > 1:
        return [structure] * len(names)
    return [structure]


def _numeric(value, label: str) -> np.ndarray:
    array = np.asarray(value)
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{label} are complex ({array.dtype}); neural networks here work on "
                        "real numbers: pass x.real, np.abs(x) or both as features")
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{label} must be numeric, got an array of dtype {array.dtype}")
    return array


def prepare_inputs(model, x) -> list[np.ndarray]:
    """Check ``x`` and build the model for it; one ndarray per model input (not copied)."""
    if x is None:
        raise ValueError("x is required: pass the input samples as a NumPy array")
    model.adopt_input_structure(x)
    names = model.input_names
    xs = _named(x, names, "input", allow_single=False) if len(names) > 1 or \
        isinstance(x, dict) else [x]
    arrays = []
    for name, value in zip(names, xs):
        label = "Model inputs" if len(names) == 1 else f"Input {name!r}"
        if value is None:
            raise ValueError(f"{label}: missing; the model's inputs are {names}")
        array = _numeric(value, label)
        if array.ndim == 0:
            raise ValueError(f"{label} need a batch axis: expected an array of shape (N, ...)")
        arrays.append(array)
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"All inputs must have the same number of samples, got "
                         f"{[len(a) for a in arrays]} for {names}")
    model._ensure_built(arrays)
    for name, array, expected in zip(names, arrays, model.input_shapes):
        if array.ndim != len(expected) or any(e is not None and e != d
                                              for e, d in zip(expected[1:], array.shape[1:])):
            which = f"Model {model.name!r} expected input" if len(names) == 1 else \
                f"Model {model.name!r} expected input {name!r}"
            raise ValueError(f"{which} of shape {format_shape(expected)}, got "
                             f"{format_shape((None,) + array.shape[1:])}")
        bad = nonfinite_rows(array)
        if bad.size:
            label = "Model inputs" if len(names) == 1 else f"Input {name!r}"
            raise ValueError(f"{label} contain NaN or infinite values (samples "
                             f"{bad[:5].tolist()}{'...' if len(bad) > 5 else ''}); clean or "
                             "impute them first")
    return arrays


def surely_finite(flat: np.ndarray) -> bool:
    """True when the 1-D float array ``flat`` has no NaN or inf: its dot product with
    itself is finite (one BLAS pass, about 1.5x faster than a sum, with no temporary).
    False means "look closer": a NaN or inf, or squares that overflowed."""
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(float(np.dot(flat, flat)))


def nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Indices of samples holding NaN/inf, found without a full-size temporary array."""
    if not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        return np.empty(0, dtype=np.intp)
    if surely_finite(x.reshape(-1)):
        return np.empty(0, dtype=np.intp)
    # a NaN or inf, or only an overflow of the squares: look row by row
    rows = x.reshape(len(x), -1)
    step = max(1, (1 << 16) // max(1, rows.shape[1]))
    bad = [start + np.flatnonzero(~np.isfinite(rows[start:start + step]).all(axis=1))
           for start in range(0, len(rows), step)]
    return np.concatenate(bad)


def prepare_targets(model, y, n: int) -> list[np.ndarray | None]:
    """Validate targets against each output's loss and shape; ``None`` for outputs
    without a loss."""
    names = model.output_names
    losses = model.compiled_losses
    if y is None:
        if all(loss is None for loss in losses):  # compiled without a loss: add_loss only
            return [None] * len(names)
        raise ValueError("y is required for training and evaluation")
    ys = _named(y, names, "output", allow_single=False) if len(names) > 1 or \
        isinstance(y, dict) else [y]
    out: list[np.ndarray | None] = []
    for name, value, loss, shape in zip(names, ys, losses, model.output_shapes):
        label = "Targets" if len(names) == 1 else f"Targets for output {name!r}"
        if value is None:
            if loss is None:
                out.append(None)
                continue
            raise ValueError(f"{label}: missing; the loss of output {name!r} needs them")
        array = _numeric(value, label)
        if len(array) != n:
            raise ValueError(f"x and y must have the same number of samples: got {n} inputs and "
                             f"{len(array)} targets" + ("" if len(names) == 1 else f" for {name!r}"))
        if nonfinite_rows(array).size:
            raise ValueError(f"{label} contain NaN or infinite values")
        if loss is None:  # an output without a loss: its targets are for its metrics (Keras)
            out.append(array)
            continue
        # unknown sizes (a time axis of any length) follow the targets where they can
        dims = tuple(d if d is not None else (array.shape[i] if i < array.ndim else 1)
                     for i, d in enumerate(shape[1:], start=1))
        template = np.broadcast_to(np.zeros((), dtype=model.dtype), (n,) + dims)
        if loss.per_row and template.ndim > 2:  # (N, T, classes): checked as rows
            lead = template.shape[:-1]
            rows, pred, _ = loss.as_rows(array, template)
            checked = loss.check_targets(rows, pred)
            out.append(checked.reshape(lead + checked.shape[1:]))
        else:
            out.append(loss.check_targets(array, template))
    return out


def prepare_sample_weights(model, sample_weight, class_weight, ys, n: int
                           ) -> list[np.ndarray | None] | None:
    """Per-sample loss weights for each output (``None``: unweighted), from
    ``sample_weight`` (one array for every output, or a list/dict per output) and ``class_weight``
    (``{class: weight}``, single-output models, read from the targets' class ids)."""
    if sample_weight is None and class_weight is None:
        return None
    names = model.output_names
    if sample_weight is not None:
        given = _named(sample_weight, names, "output", allow_single=True) \
            if isinstance(sample_weight, (dict, list, tuple)) and len(names) > 1 \
            else [sample_weight] * len(names)  # one array weights every output (Keras)
    else:
        given = [None] * len(names)
    weights: list[np.ndarray | None] = []
    for name, w, target, shape in zip(names, given, ys, model.output_shapes):
        if w is None:
            weights.append(None)
            continue
        w = np.asarray(w, dtype=np.float64)
        # per step (N, T, ...) as Keras takes them: the leading axes of the targets, short
        # of the output's last (its features or classes)
        steps = () if target is None else tuple(np.shape(target)[1:len(shape) - 1])
        if w.ndim == 0 or len(w) != n or (w.ndim > 1 and w.shape[1:] != steps[:w.ndim - 1]):
            per_step = f" or per step {(n,) + steps}" if steps else ""
            raise ValueError(f"sample_weight for output {name!r} must have shape ({n},)"
                             f"{per_step}, got {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"sample_weight for output {name!r} must be finite and >= 0")
        weights.append(w)
    if class_weight is not None:
        if len(names) > 1:
            raise ValueError("class_weight is only supported for models with a single output; "
                             "pass sample_weight per output instead")
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class: weight}}, got "
                            f"{type(class_weight).__name__}")
        y = ys[0]
        ids = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else \
            np.rint(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
        table = {int(k): float(v) for k, v in class_weight.items()}
        from_classes = np.array([table.get(int(c), 1.0) for c in ids.ravel()], dtype=np.float64)
        weights[0] = from_classes if weights[0] is None else weights[0] * from_classes
    return weights
