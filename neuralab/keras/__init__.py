"""Keras-compatible import paths, so course code ports by renaming ``tensorflow``.

``from tensorflow.keras.layers import Dense`` becomes
``from neuralab.keras.layers import Dense``; ``import tensorflow as tf`` becomes
``import neuralab as tf`` and ``tf.keras.Sequential``, ``tf.keras.losses...``,
``tf.keras.backend.clear_session()`` keep working. Every name here *is* the neuralab
object (``neuralab.keras.layers`` is ``neuralab.layers``), except ``neuralab.keras.optimizers``:
its optimizers follow Keras 3's update rules (neuralab's own follow PyTorch's).
"""

import sys

from .. import (
    activations,
    backend,
    callbacks,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    regularizers,
    utils,
)
from ..layers import Layer
from ..models import Input, Model, Sequential, load_model
from . import optimizers, saving

for _name, _module in {"activations": activations, "backend": backend, "callbacks": callbacks,
                       "initializers": initializers, "layers": layers, "losses": losses,
                       "metrics": metrics, "models": models, "ops": ops,
                       "regularizers": regularizers, "utils": utils}.items():
    sys.modules[f"{__name__}.{_name}"] = _module

__all__ = ["Sequential", "Model", "Input", "Layer", "load_model", "ops", "activations", "backend",
           "callbacks", "initializers", "layers", "losses", "metrics", "models", "optimizers", "regularizers",
           "saving", "utils"]

# Keras' deeper paths (keras.optimizers.schedules, keras.utils.np_utils) and Keras 3's
# keras.config and keras.datasets
sys.modules.setdefault(f"{__name__}.optimizers.schedules", sys.modules["neuralab.schedules"])
sys.modules[f"{__name__}.utils.np_utils"] = utils.np_utils
from . import config, datasets, random  # noqa: E402

__all__ += ["config", "datasets", "random"]
