"""Compile settings in Keras files: optimizer, loss and metrics, both ways.

Keras 3 keeps them as ``compile_config`` in a ``.keras`` archive's ``config.json``, tf.keras
2 as a ``training_config`` attribute of an ``.h5`` model (``optimizer_config`` for the
optimizer). They are written only when Keras can rebuild every part: an optimizer and a
loss from the tables below with a constant learning rate, metrics given by name (others are
left out); otherwise the file holds the model uncompiled. The optimizer's state travels in
``.keras`` archives (:mod:`~neuralab.models.keras_optimizer`), not in legacy ``.h5`` files.

Reading is lenient: a part neuralab cannot rebuild leaves the model uncompiled, with a
warning that names the file.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

from .keras_config import init_params

_OPTIMIZER_COMMON = {"name", "learning_rate", "weight_decay", "clipnorm", "clipvalue",
                     "global_clipnorm", "use_ema", "ema_momentum", "ema_overwrite_frequency",
                     "loss_scale_factor", "gradient_accumulation_steps"}
KERAS_OPTIMIZERS = {
    "SGD": {"momentum", "nesterov"},
    "Adam": {"beta_1", "beta_2", "epsilon", "amsgrad"},
    "AdamW": {"beta_1", "beta_2", "epsilon", "amsgrad"},
    "RMSprop": {"rho", "momentum", "epsilon", "centered"},
    "Adagrad": {"initial_accumulator_value", "epsilon"},
    "Adamax": {"beta_1", "beta_2", "epsilon"},
    "Nadam": {"beta_1", "beta_2", "epsilon"},
    "Adadelta": {"rho", "epsilon"},
}
KERAS_LOSSES = {
    "CategoricalCrossentropy": {"from_logits", "label_smoothing", "axis"},
    "SparseCategoricalCrossentropy": {"from_logits", "ignore_class"},
    "BinaryCrossentropy": {"from_logits", "label_smoothing", "axis"},
    "MeanSquaredError": set(), "MeanAbsoluteError": set(), "MeanSquaredLogarithmicError": set(),
    "MeanAbsolutePercentageError": set(), "Huber": {"delta"}, "KLDivergence": set(),
    "Hinge": set(), "SquaredHinge": set(), "CategoricalHinge": set(), "Poisson": set(),
    "LogCosh": set(), "CosineSimilarity": {"axis"},
}


def _keras_object(module: str, spec: dict, legacy: bool) -> dict:
    if legacy:
        return {"class_name": spec["class_name"], "config": dict(spec["config"])}
    return {"module": module, "class_name": spec["class_name"], "config": dict(spec["config"]),
            "registered_name": None}


def _optimizer_to_keras(spec, legacy: bool) -> dict | None:
    if not isinstance(spec, dict) or spec.get("class_name") not in KERAS_OPTIMIZERS:
        return None
    config = spec.get("config", {})
    if set(config) - _OPTIMIZER_COMMON - KERAS_OPTIMIZERS[spec["class_name"]]:
        return None
    if not isinstance(config.get("learning_rate", 0.0), numbers.Number):
        return None  # a schedule: neuralab's and Keras' configs differ
    return _keras_object("keras.optimizers", spec, legacy)


def _loss_to_keras(spec, legacy: bool):
    if spec is None or isinstance(spec, str):
        return spec
    if not isinstance(spec, dict) or spec.get("class_name") not in KERAS_LOSSES:
        return False
    if set(spec.get("config", {})) - {"name"} - KERAS_LOSSES[spec["class_name"]]:
        return False
    return _keras_object("keras.losses", spec, legacy)


def keras_compile_config(model, legacy: bool = False) -> dict | None:
    """``model``'s compile settings as Keras 3's ``compile_config`` (tf.keras 2's
    ``training_config`` with ``legacy``), or ``None`` when Keras could not rebuild them."""
    from .. import losses as losses_module
    from .. import metrics as metrics_module
    from .. import optimizers as optimizers_module

    if not getattr(model, "compiled", False):
        return None
    try:
        optimizer = _optimizer_to_keras(optimizers_module.serialize(model.optimizer), legacy)
        losses = [None if loss is None else _loss_to_keras(losses_module.serialize(loss), legacy)
                  for loss in model.compiled_losses]
        metrics, weighted = ([[name for name in (metrics_module.serialize(m) for m in ms)
                               if isinstance(name, str)] for ms in specs]
                             for specs in (model._metric_specs, model._weighted_specs))
    except (ValueError, TypeError):
        return None
    if optimizer is None or not losses or any(loss is False for loss in losses):
        return None
    config = {"loss": losses[0] if len(losses) == 1 else losses,
              "loss_weights": None if all(w == 1 for w in model._loss_weights)
              else list(model._loss_weights),
              "metrics": (metrics[0] if len(metrics) == 1 else metrics) if metrics else None,
              "weighted_metrics": (weighted[0] if len(weighted) == 1 else weighted)
              if any(weighted) else None}
    if legacy:
        return {**config, "optimizer_config": optimizer}
    return {"optimizer": optimizer, **config, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


# -- Keras -> neuralab ---------------------------------------------------------------------
def _metrics_from_keras(metrics, key: str, metrics_module) -> list:
    """A ``compile_config``'s ``metrics``/``weighted_metrics``: a list, or a list per output."""
    if isinstance(metrics, list) and metrics and isinstance(metrics[0], list):
        return [[_accepted(m, metrics_module) for m in ms] for ms in metrics]
    if isinstance(metrics, list):
        return [_accepted(m, metrics_module) for m in metrics]
    raise ValueError(f"{key} given as {type(metrics).__name__}")


def _plain(spec):
    """A Keras object dict as neuralab's ``{"class_name", "config"}`` (strings unchanged)."""
    if isinstance(spec, dict) and "class_name" in spec:
        return {"class_name": spec["class_name"], "config": dict(spec.get("config") or {})}
    return spec


# Keras options neuralab's optimizers and losses may lack, at values where they do nothing.
_HARMLESS = {"use_ema": (False,), "ema_momentum": (0.99,), "ema_overwrite_frequency": (None,),
             "loss_scale_factor": (None,), "gradient_accumulation_steps": (None,),
             "weight_decay": (None,), "clipnorm": (None,), "clipvalue": (None,),
             "global_clipnorm": (None,), "reduction": ("sum_over_batch_size", "auto"),
             "label_smoothing": (0.0,), "axis": (-1,), "from_logits": (False,),
             "ignore_class": (None,), "dtype": (None, "float32")}


def _accepted(spec, registry_module, registered_name: str | None = None):
    """``spec`` rebuilt by ``registry_module.deserialize`` after dropping the Keras options
    its class does not take that are left at a harmless value (and ``name``); any other
    option stays, for the class to refuse. ``registered_name`` (``"keras>Adam"``) picks a
    registered class before the built-in of that class name."""
    spec = _plain(spec)
    if not isinstance(spec, dict):
        return registry_module.deserialize(spec)
    named = {"class_name": spec["class_name"], "registered_name": registered_name}
    cls = type(registry_module.deserialize({**named, "config": {}}))
    params = init_params(cls)
    config = {k: v for k, v in spec["config"].items()
              if k in params or not (k == "name" or v in _HARMLESS.get(k, ()))}
    return registry_module.deserialize({**named, "config": config})


def compile_from_keras(model, config: dict, where: str, legacy: bool = False,
                       optimizer_name: str | None = None) -> None:
    """Compile ``model`` as a Keras ``compile_config`` (``training_config`` with
    ``legacy``) says; warn and leave it uncompiled when a part cannot be rebuilt.

    ``optimizer_name``: the registered name of the optimizer class that saved the file
    (``"keras>Adam"`` for :mod:`neuralab.keras.optimizers`, kept in neuralab's
    ``metadata.json``); used when that class is registered in this process (``import
    neuralab.keras``), else neuralab's optimizer of that class name, with a warning."""
    from .. import losses as losses_module
    from .. import metrics as metrics_module
    from .. import optimizers as optimizers_module
    from .. import saving

    if optimizer_name is not None and saving.get_registered_object(optimizer_name) is None:
        warnings.warn(f"{where}: the optimizer was saved as {optimizer_name!r}, which is not "
                      "registered here (import neuralab.keras for neuralab.keras.optimizers); "
                      "it is rebuilt from neuralab.optimizers", stacklevel=4)
        optimizer_name = None
    try:
        optimizer = _accepted(config["optimizer_config" if legacy else "optimizer"],
                              optimizers_module, optimizer_name)
        loss = config.get("loss")
        losses: Any
        if isinstance(loss, list):
            losses = [None if x is None else _accepted(x, losses_module) for x in loss]
        else:
            losses = None if loss is None else _accepted(loss, losses_module)
        metrics, weighted = (_metrics_from_keras(config.get(key) or [], key, metrics_module)
                             for key in ("metrics", "weighted_metrics"))
        model.compile(optimizer=optimizer, loss=losses, metrics=metrics,
                      loss_weights=config.get("loss_weights"), weighted_metrics=weighted)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        warnings.warn(f"{where}: the model is loaded uncompiled, its compile settings cannot be "
                      f"rebuilt ({type(error).__name__}: {error}); call model.compile()",
                      stacklevel=4)
