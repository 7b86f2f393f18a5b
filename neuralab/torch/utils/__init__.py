"""``torch.utils`` on neuralab: :mod:`.data` (datasets and the batch loader)."""

from . import data

__all__ = ["data"]
