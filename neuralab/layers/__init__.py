"""Layers with explicit ``forward``/``backward`` (Keras names and arguments)."""

from ..models.functional import Input
from .activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from .base import Layer, get_layer_class, register
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout, SpatialDropout2D
from .embedding import Embedding
from .input_layer import InputLayer
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,
                      average, concatenate, dot, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                      GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from .reshape import Flatten, Reshape

__all__ = ["Layer", "register", "get_layer_class", "Input", "InputLayer", "Dense", "Activation",
           "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "SpatialDropout2D",
           "BatchNormalization", "Embedding", "Flatten", "Reshape", "Conv2D", "MaxPooling2D",
           "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "MaxPool2D",
           "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]
