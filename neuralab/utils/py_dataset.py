"""``keras.utils.PyDataset``: a base class for datasets that hand out whole batches."""

from __future__ import annotations


class PyDataset:
    """A dataset of batches: subclasses define ``__len__`` (the number of batches) and
    ``__getitem__(index)`` returning one batch ``(x, y)`` or ``(x, y, sample_weight)``.

    ``fit``/``evaluate``/``predict`` take it as ``x`` (no ``y``) and call ``on_epoch_end``
    after each pass. ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are
    accepted and kept for Keras code, but neuralab reads the batches one after the other in
    the training process (its steps run on NumPy, which gains nothing from a queue).

    Example:
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, i):
        ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        ...         return self.x[s], self.y[s]
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        if int(workers) < 1:
            raise ValueError(f"PyDataset workers must be >= 1, got {workers!r}")
        self.workers = int(workers)
        self.use_multiprocessing = bool(use_multiprocessing)
        self.max_queue_size = int(max_queue_size)

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of "
                                  "batches)")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) "
                                  "returning one batch (x, y)")

    @property
    def num_batches(self) -> int:
        """The number of batches (Keras 3's ``num_batches``)."""
        return len(self)

    def on_epoch_begin(self) -> None:
        """Called before each pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after each pass over the batches (e.g. to reshuffle the samples)."""
