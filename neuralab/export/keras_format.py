"""Keras' own model files (``.keras``, legacy ``.h5``, ``.weights.h5``).

The implementation is :mod:`neuralab.models.keras_format`, beside ``model.save`` and
``load_model``, which choose it by file extension; it is listed here with the other
interoperability tools.
"""

from ..models.keras_format import (
    load_keras_archive,
    load_keras_weights_file,
    load_legacy_h5,
    model_from_keras_config,
    save_keras_archive,
    save_keras_weights_file,
    save_legacy_h5,
)

__all__ = ["save_keras_archive", "load_keras_archive", "save_legacy_h5", "load_legacy_h5",
           "save_keras_weights_file", "load_keras_weights_file", "model_from_keras_config"]
