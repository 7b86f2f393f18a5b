"""Layers with explicit ``forward``/``backward`` (Keras names and arguments)."""

from ..models.functional import Input
from .activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from .base import Layer, get_layer_class, register
from .dense import Dense
from .dropout import Dropout, SpatialDropout2D
from .embedding import Embedding
from .input_layer import InputLayer
from .normalization import BatchNormalization
from .reshape import Flatten, Reshape

__all__ = ["Layer", "register", "get_layer_class", "Input", "InputLayer", "Dense", "Activation",
           "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "SpatialDropout2D",
           "BatchNormalization", "Embedding", "Flatten", "Reshape"]
