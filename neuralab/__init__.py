"""neuralab: a NumPy neural-network lab with readable backpropagation and a Keras-style API.

    import neuralab as nl
    model = nl.Sequential([nl.layers.Dense(4, activation="sigmoid", input_shape=(2,)),
                           nl.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=nl.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=100, batch_size=100)

Keras code ports by changing imports: ``tensorflow.keras.layers`` -> ``neuralab.layers``,
``tensorflow.keras.models`` -> ``neuralab.models``, ``tensorflow.keras.optimizers`` ->
``neuralab.optimizers``, ``tensorflow.keras.backend`` -> ``neuralab.backend``, and so on.

Only NumPy is needed to import this package; plots, audio, Ray and ONNX live in extras.
"""

from . import (
    _launch,  # noqa: F401 - first: the neuralab command's Ctrl-C guard while the rest imports
    activations,
    backend,
    callbacks,
    gradcheck,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,  # also gives Tensor its operators (x + y, x @ w, x[i])
    optimizers,
    regularizers,
    schedules,
    utils,
)
from .backend import clear_session, floatx, set_floatx, set_seed
from .layers import Input
from .models import Model, Sequential, load_model
from .parameter import Parameter
from .tensor import Tensor, no_grad

__version__ = "0.1.0"


def __getattr__(name):
    if name == "keras":  # ``import neuralab as tf; tf.keras.layers.Dense`` (loaded on demand)
        import importlib
        return importlib.import_module(".keras", __name__)
    raise AttributeError(f"module 'neuralab' has no attribute {name!r}")

__all__ = [
    "Sequential", "Model", "Input", "Parameter", "load_model", "set_seed", "set_floatx",
    "floatx", "clear_session", "activations", "backend", "callbacks", "gradcheck",
    "initializers", "layers", "losses", "metrics", "models", "optimizers", "regularizers",
    "schedules", "utils", "__version__", "ops", "Tensor", "no_grad",
]
