"""Layers with explicit ``forward``/``backward`` (Keras names and arguments)."""

from ..symbolic import Input
from .activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from .base import Layer, deserialize, get_layer_class, register, serialize
from .conv import Conv1D, Conv2D
from .conv_transpose import Conv2DTranspose
from .core import Lambda, Masking, Rescaling
from .dense import Dense
from .dropout import Dropout, SpatialDropout2D
from .embedding import Embedding
from .input_layer import InputLayer
from .merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from .pooling1d import (
    AveragePooling1D,
    AvgPool1D,
    GlobalAveragePooling1D,
    GlobalAvgPool1D,
    GlobalMaxPool1D,
    GlobalMaxPooling1D,
    MaxPool1D,
    MaxPooling1D,
)
from .preprocessing import Normalization
from .recurrent import GRU, LSTM, SimpleRNN
from .resampling import UpSampling2D, ZeroPadding2D
from .reshape import Flatten, Reshape
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "register", "get_layer_class", "serialize", "deserialize", "Input",
           "InputLayer", "Dense", "Activation",
           "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "SpatialDropout2D",
           "BatchNormalization", "Embedding", "Flatten", "Reshape", "Conv2D", "MaxPooling2D",
           "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "MaxPool2D",
           "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
           "Conv1D", "Conv2DTranspose", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D",
           "GlobalAveragePooling1D", "MaxPool1D", "AvgPool1D", "GlobalMaxPool1D", "GlobalAvgPool1D",
           "ZeroPadding2D", "UpSampling2D", "Rescaling", "Masking", "Lambda", "LayerNormalization",
           "Normalization", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed"]
