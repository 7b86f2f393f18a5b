"""``torch.optim`` on neuralab: SGD, Adam, AdamW, RMSprop, Adagrad and ``lr_scheduler``."""

from . import lr_scheduler
from .optimizer import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = ["lr_scheduler", "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]
