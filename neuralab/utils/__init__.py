"""Small Keras-compatible helpers: ``to_categorical``, ``set_random_seed``, ``normalize``, and
(as in ``keras.utils``) the custom-object functions of :mod:`neuralab.saving` and
``plot_model`` / ``model_to_dot`` (:mod:`neuralab.utils.model_visualization`).

``to_categorical`` and ``normalize`` live in :mod:`neuralab.utils.np_utils`, so Keras 2's
``from keras.utils.np_utils import to_categorical`` ports as
``from neuralab.utils.np_utils import to_categorical``.
"""

from __future__ import annotations

from ..backend import set_seed
from ..saving import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from . import np_utils
from .model_visualization import model_to_dot, plot_model
from .np_utils import normalize, to_categorical
from .py_dataset import PyDataset

__all__ = ["np_utils", "to_categorical", "set_random_seed", "normalize", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope", "plot_model", "model_to_dot", "PyDataset"]


def set_random_seed(seed: int) -> None:
    """Keras ``keras.utils.set_random_seed``: same as :func:`neuralab.set_seed`."""
    set_seed(seed)


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool = True, **options):
    """A tqdm bar over ``total`` items, or a do-nothing bar when disabled, when there is
    nothing to count, or when tqdm is missing. Both have ``update(n)`` and ``close()``."""
    if not enabled or total <= 0:
        return _NullBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NullBar()
    return tqdm(total=total, **options)
