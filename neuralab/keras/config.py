"""Keras 3's ``keras.config``: the global settings, kept in :mod:`neuralab.backend`.

``floatx``/``set_floatx`` (``"float32"`` or ``"float64"``), ``epsilon``/``set_epsilon``
(the fuzz factor of losses, 1e-7), ``image_data_format`` (always ``"channels_last"``)
and ``backend()`` (``"numpy"``).
"""

from ..backend import epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format

__all__ = ["backend", "epsilon", "floatx", "image_data_format", "set_epsilon", "set_floatx",
           "set_image_data_format"]


def backend() -> str:
    """The name of the backend doing the computing: neuralab's own NumPy engine."""
    return "numpy"
