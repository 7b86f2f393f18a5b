"""Training: the trainer (compile state, train/test steps) and the loops behind ``fit``,
``evaluate`` and ``predict``. Models inherit :class:`Trainer`; nothing here imports
``neuralab.models``."""

from .data import nonfinite_rows, prepare_inputs, prepare_targets
from .loops import TrainingDivergedWarning, evaluate, fit, predict, test_on_batch, train_on_batch
from .trainer import Trainer, TrainingDiverged

__all__ = ["Trainer", "TrainingDiverged", "TrainingDivergedWarning", "fit", "evaluate",
           "predict", "train_on_batch", "test_on_batch", "prepare_inputs", "prepare_targets",
           "nonfinite_rows"]
