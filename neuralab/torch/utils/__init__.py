"""``torch.utils`` on neuralab: :mod:`.data` (datasets and the batch loader)."""

from . import data, hooks

__all__ = ["data", "hooks"]
