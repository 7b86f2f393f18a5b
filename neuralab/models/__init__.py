"""Models: ``Sequential``, functional ``Model`` chains, ``Input``, saving and loading."""

from .functional import Input, SymbolicTensor
from .saving import load_model
from .sequential import Model, Sequential, TrainingDiverged

__all__ = ["Sequential", "Model", "Input", "SymbolicTensor", "load_model", "TrainingDiverged"]
