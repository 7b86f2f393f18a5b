"""Where a loop's batches come from: arrays, a Python generator, or a ``PyDataset``.

:class:`ArrayBatches` shuffles indices with the model's generator and gathers each batch
into reused buffers (no copy of the training set per epoch). :class:`IterableBatches`
takes batches as they come, ``(x, y)`` or ``(x, y, sample_weight)``, from a generator or
iterator (running on across epochs; ``steps_per_epoch`` bounds an epoch) or from a
``PyDataset``/``Sequence`` (anything with ``__len__`` and ``__getitem__`` returning a
batch), and checks each batch like ``fit`` checks arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import numpy as np

from ..datasets.batching import RowGatherer, batch_slices
from .data import prepare_inputs, prepare_sample_weights, prepare_targets


class ArrayBatches:
    """The batches of prepared arrays ``xs``, ``ys`` and ``sws`` (lists per input/output)."""

    def __init__(self, model, xs, ys, sws, batch_size: int, shuffle: bool = False,
                 steps: int | None = None):
        self.samples = len(xs[0])
        self.ys = ys
        self.shuffle = shuffle
        self.slices = batch_slices(self.samples, batch_size)[:steps]
        self.steps = len(self.slices)
        self.x = [RowGatherer(a, model.dtype, batch_size) for a in xs]
        self.y = [None if a is None else RowGatherer(a, a.dtype, batch_size) for a in ys]
        self.w = None if sws is None else [None if a is None else
                                           RowGatherer(a, a.dtype, batch_size) for a in sws]

    def epoch(self, rng: np.random.Generator) -> Iterator[tuple]:
        order = rng.permutation(self.samples) if self.shuffle else None
        index: slice | np.ndarray  # a batch's slice, or its rows in the shuffled order
        for index in self.slices:
            if order is not None:
                index = order[index]
            yield ([g.rows(index) for g in self.x],
                   [None if g is None else g.rows(index) for g in self.y],
                   None if self.w is None else [None if g is None else g.rows(index)
                                                for g in self.w])


def is_batch_source(x) -> bool:
    """Whether ``x`` yields batches (a generator, an iterator, a PyDataset) rather than
    holding samples (an array, a list or dict of arrays)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)) or np.isscalar(x):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__")) \
        or _is_reiterable(x)


def _is_reiterable(x) -> bool:
    """A sized iterable that is no sequence: a new pass over it starts each epoch (a
    PyTorch ``DataLoader``)."""
    return hasattr(x, "__iter__") and hasattr(x, "__len__") and not hasattr(x, "__getitem__") \
        and not hasattr(x, "__next__")


class IterableBatches:
    """Batches from a generator/iterator or an indexable PyDataset."""

    def __init__(self, model, source, steps: int | None, what: str = "x",
                 shuffle: bool = False, class_weight: dict | None = None):
        self.model = model
        self.source = source
        #: an indexable source's batches are taken in a new random order each epoch (Keras'
        #: PyDataset with fit(shuffle=True)); generators and DataLoaders keep their own order
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.indexable = not hasattr(source, "__next__")
        if self.indexable:
            n = len(source)
            self.steps: int | None = n if steps is None else min(steps, n)
        else:
            self.steps = steps
        self.samples = None
        self.what = what

    def epoch(self, rng: np.random.Generator) -> Iterator[tuple]:
        if _is_reiterable(self.source):
            for i, item in enumerate(self.source):
                if i == self.steps:
                    break
                yield self._prepare(item)
            return
        if self.indexable:
            steps = cast(int, self.steps)  # a number for an indexable source
            order = rng.permutation(len(self.source))[:steps] if self.shuffle else range(steps)
            for i in order:
                yield self._prepare(self.source[int(i)])
            if hasattr(self.source, "on_epoch_end"):
                self.source.on_epoch_end()
            return
        count = 0
        while self.steps is None or count < self.steps:
            try:
                item = next(self.source)
            except StopIteration:
                if count == 0:
                    raise ValueError(f"The {self.what} generator is exhausted: it yielded no "
                                     "batch for this epoch; give steps_per_epoch so that each "
                                     "epoch takes that many batches from an endless "
                                     "generator") from None
                return
            count += 1
            yield self._prepare(item)

    def _prepare(self, item) -> tuple:
        if isinstance(item, list):  # a DataLoader collates (x, y) pairs into [x, y]
            item = tuple(item)
        if not isinstance(item, tuple) or len(item) not in (1, 2, 3):
            raise ValueError(f"Each batch from the {self.what} generator must be a tuple "
                             f"(x, y) or (x, y, sample_weight), got {type(item).__name__}")
        xs = prepare_inputs(self.model, item[0])
        if len(item) == 1 or item[1] is None:
            return xs, None, None
        n = len(xs[0])
        ys = prepare_targets(self.model, item[1], n)
        sws = prepare_sample_weights(self.model, item[2] if len(item) == 3 else None,
                                     self.class_weight, ys, n)
        return xs, ys, sws


def batch_source(model, x, y, sample_weight, batch_size: int, shuffle: bool, steps,
                 what: str = "x", class_weight: dict | None = None):
    """An :class:`ArrayBatches` or :class:`IterableBatches` for ``x`` (``y`` must be None
    for a generator: the generator yields the targets)."""
    if is_batch_source(x):
        if y is not None:
            raise ValueError(f"y must not be given when {what} is a generator or PyDataset "
                             "(it yields the targets)")
        return IterableBatches(model, x, steps, what, shuffle, class_weight)
    xs = prepare_inputs(model, x)
    ys = prepare_targets(model, y, len(xs[0]))
    sws = prepare_sample_weights(model, sample_weight, class_weight, ys, len(xs[0]))
    return ArrayBatches(model, xs, ys, sws, batch_size, shuffle, steps)
