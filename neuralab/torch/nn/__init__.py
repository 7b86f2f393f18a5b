"""``torch.nn`` on neuralab: modules, layers, losses, ``functional`` and ``init``.

    import neuralab.torch.nn as nn
    import neuralab.torch.nn.functional as F
"""

from . import functional, init, utils
from .layers import (
    ELU,
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = [
    "functional", "init", "utils", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout", "ELU",
    "Embedding", "Flatten", "GELU", "Identity", "LeakyReLU", "Linear", "LogSoftmax", "MaxPool2d",
    "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh", "Unflatten", "BCELoss", "BCEWithLogitsLoss",
    "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss",
]
