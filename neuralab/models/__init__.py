"""Models: graphs of layers you can train. ``Sequential`` (a chain), functional
``Model(inputs, outputs)`` and subclassed ``Model``s; ``Input``; saving and loading."""

from ..symbolic import Input, KerasTensor
from ..training import TrainingDiverged
from .model import Model
from .saving import clone_model, load_model, model_from_json
from .sequential import Sequential

SymbolicTensor = KerasTensor  # the name before graphs: kept for existing code

__all__ = ["Sequential", "Model", "Input", "KerasTensor", "SymbolicTensor", "load_model",
           "model_from_json", "clone_model", "TrainingDiverged"]
