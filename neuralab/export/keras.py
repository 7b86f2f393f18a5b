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

The reading and writing live with the Keras model files (:mod:`neuralab.models.keras_format`,
which ``model.save_weights("x.weights.h5")`` uses too); these are their export names.
"""

from ..models.keras_format import load_keras_weights_file as load_keras_weights
from ..models.keras_format import save_keras_weights_file as save_keras_weights

__all__ = ["load_keras_weights", "save_keras_weights"]
