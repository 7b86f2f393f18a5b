"""``keras.saving``: the custom-object functions of :mod:`neuralab.saving` plus Keras 3's
``load_model``/``save_model`` (``model.save`` by file extension: ``.keras`` Keras 3's
archive, ``.h5`` the legacy HDF5 file, anything else neuralab's own zip)."""

from ..models import load_model
from ..saving import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)


def save_model(model, filepath, overwrite: bool = True, **kwargs) -> None:
    """Keras' ``keras.saving.save_model(model, filepath)``: ``model.save(filepath)``."""
    import os
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    unknown = set(kwargs) - {"zipped", "include_optimizer", "save_format"}
    if unknown:
        raise TypeError(f"save_model got unexpected keyword argument(s) {sorted(unknown)}")
    model.save(filepath)


__all__ = ["load_model", "save_model", "register_keras_serializable", "custom_object_scope",
           "CustomObjectScope", "get_custom_objects", "get_registered_name",
           "get_registered_object"]
