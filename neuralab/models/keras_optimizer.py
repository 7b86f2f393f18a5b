"""Optimizer state in Keras 3 files: the ``optimizer/vars`` group of ``model.weights.h5``.

Keras 3 saves a compiled model's optimizer as its ``variables``, numbered in order::

    0       iterations                   (int32)
    1       learning_rate                (float32; absent when the rate is a schedule)
    2, ...  ``average`` per weight       (only with use_ema), then the optimizer's slots:
            SGD       momentum per weight                 (none when momentum == 0)
            Adam(W)   momentum, velocity per weight, interleaved; then velocity_hat per
                      weight (amsgrad)
            RMSprop   velocity per weight; momentum per weight (momentum > 0); then
                      average_gradient per weight (centered)
            Adagrad   accumulator per weight

"Per weight" runs over the model's trainable weights in Keras' order: layer by layer in the
model's Keras layer order, each layer's trainable weights in its own order.

Keras and neuralab's PyTorch-style rules (:mod:`neuralab.optimizers`) keep two slots in
different units; :mod:`neuralab.keras.optimizers` keeps Keras' units, and which a class
keeps is told by the update rule it runs::

    SGD momentum        Keras  u = m u - lr g        PyTorch  v = m v + g         u = -lr v
    RMSprop momentum    Keras  u = m u + lr g / d    PyTorch  v = m v + g / d     u =  lr v

The conversion uses the current learning rate (exact in real numbers for a constant rate; in
float32 it may move the last bit). Every other slot means the same in both.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import optimizers as optimizers_module
from ..errors import InputError


def _slot_groups(optimizer) -> list[list[tuple[str, str]]]:
    """Keras' variable groups after ``iterations`` and ``learning_rate``: each group a list
    of ``(Keras name, neuralab slot)`` interleaved per weight.

    Raises:
        TypeError: for an optimizer whose Keras layout is not known here.
    """
    slots = set(optimizer.slot_names)
    groups = [[("average", "average")]] if "average" in slots else []
    if isinstance(optimizer, optimizers_module.Adam):
        groups.append([("momentum", "m"), ("velocity", "v")])
        if "v_hat" in slots:
            groups.append([("velocity_hat", "v_hat")])
    elif isinstance(optimizer, optimizers_module.SGD):
        if "velocity" in slots:
            groups.append([("momentum", "velocity")])
    elif isinstance(optimizer, optimizers_module.RMSprop):
        groups.append([("velocity", "velocity")])
        groups += [[(name, name)] for name in ("momentum", "average_gradient") if name in slots]
    elif isinstance(optimizer, optimizers_module.Adagrad):
        groups.append([("accumulator", "accumulator")])
    else:
        raise TypeError(f"{type(optimizer).__name__}: its Keras optimizer variables are not known "
                        "to neuralab (SGD, Adam, AdamW, RMSprop and Adagrad are)")
    return groups


def _keras_scale(optimizer, slot: str) -> float:
    """The factor taking neuralab's ``slot`` to Keras' units (1 where they agree)."""
    lr = float(optimizer.learning_rate)
    if slot == "velocity" and isinstance(optimizer, optimizers_module.SGD) and \
            type(optimizer)._update is optimizers_module.SGD._update:
        return -lr
    if slot == "momentum" and isinstance(optimizer, optimizers_module.RMSprop) and \
            type(optimizer)._update is optimizers_module.RMSprop._update:
        return lr
    return 1.0


def _has_rate_variable(optimizer) -> bool:
    return optimizer.schedule is None and not callable(optimizer._learning_rate)


def keras_weights_order(layers) -> list:
    """The trainable weights of ``layers`` (Keras' layer order, ``None`` for inputs) in the
    order Keras 3 builds its optimizer on."""
    return [p for layer in layers if layer is not None for p in layer.trainable_weights]


def optimizer_variables(optimizer, params: list) -> list[np.ndarray]:
    """Keras 3's ``optimizer.variables`` of ``optimizer`` for the weights ``params`` (in
    Keras' order), as arrays."""
    arrays = [np.asarray(optimizer.iterations, dtype=np.int32)]
    if _has_rate_variable(optimizer):
        arrays.append(np.asarray(optimizer.learning_rate, dtype=np.float32))
    for group in _slot_groups(optimizer):
        for p in params:
            for _, slot in group:
                value = optimizer.get_slot(p, slot)
                scale = _keras_scale(optimizer, slot)
                arrays.append(value.copy() if scale == 1 else (value * scale).astype(value.dtype))
    return arrays


def write_optimizer_state(f, optimizer, params: list, name: str) -> None:
    """``optimizer``'s variables as Keras 3 writes them into the open ``model.weights.h5``
    ``f`` (group ``optimizer/vars``, attribute ``name``)."""
    group = f.create_group("optimizer/vars")
    group.attrs["name"] = name
    for i, array in enumerate(optimizer_variables(optimizer, params)):
        group.create_dataset(str(i), data=array)


def read_optimizer_state(f, optimizer, params: list, where: str) -> bool:
    """Set ``optimizer``'s step count, learning rate and slots from ``f``'s
    ``optimizer/vars`` (written by Keras 3 or by :func:`write_optimizer_state`). A file
    without that group, or with a different number of variables, leaves the optimizer
    fresh with a warning (as Keras does); one with only ``iterations`` and
    ``learning_rate`` (Keras compiled the model but never trained it) sets those. The rate
    in the file, a float32, replaces the compiled one only where it differs in float32, so
    that a file written by neuralab resumes with the very same rate. Returns whether the
    state was read."""
    group = f.get("optimizer/vars")
    if group is None or len(group) == 0:
        return False
    try:
        groups = _slot_groups(optimizer)
    except TypeError as error:
        warnings.warn(f"{where}: the optimizer state is not loaded ({error})", stacklevel=3)
        return False
    has_rate = _has_rate_variable(optimizer)
    expected = 1 + has_rate + sum(len(g) for g in groups) * len(params)
    if len(group) == 1 + has_rate:  # Keras compiled the model but never built the optimizer
        groups, expected = [], 1 + has_rate
    elif len(group) != expected:
        warnings.warn(f"{where}: skipping the optimizer state: the file has {len(group)} "
                      f"optimizer variables, {type(optimizer).__name__} with these settings "
                      f"keeps {expected} for {len(params)} trainable weights", stacklevel=3)
        return False
    arrays = [np.asarray(group[str(i)]) for i in range(expected)]
    optimizer.iterations = int(arrays[0])
    if has_rate and arrays[1] != np.float32(optimizer.learning_rate):
        optimizer.learning_rate = float(arrays[1])  # changed during training (a callback)
    position = 1 + has_rate
    for kind in groups:
        for p in params:
            for keras_name, slot in kind:
                value = arrays[position]
                if value.shape != p.shape:
                    raise InputError(f"optimizer variable {position} ({keras_name} of "
                                     f"{p.name!r}) has shape {value.shape}, the weight "
                                     f"{p.shape}", where)
                scale = _keras_scale(optimizer, slot)
                target = optimizer.get_slot(p, slot)
                target[...] = value if scale == 1 else (value / scale if scale else 0)
                position += 1
    return True
