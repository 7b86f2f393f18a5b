"""``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``, the
samplers (:mod:`.sampler`) and ``DataLoader`` (batches made in this process) with PyTorch's
default collation.

A ``DataLoader`` over a ``TensorDataset`` with the default collate slices every tensor once
per batch (one fancy index, not ``batch_size`` item lookups); other datasets are read item
by item and collated: tensors and arrays stacked, Python floats to float64, ints to int64,
tuples transposed into lists, dicts key by key, strings left as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .._tensor import Tensor, _array, from_numpy, tensor, wrap
from .._tensor import _EngineTensor as EngineTensor
from ..random import get_generator
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


class Dataset:
    """Base class: implement ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of each tensor (all of the same length)."""

    def __init__(self, *tensors: Tensor):
        if any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError(f"Size mismatch between tensors: lengths {[len(t) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1]) if self.cumulative_sizes else 0

    def __getitem__(self, index: int):
        if index < 0:
            index += len(self)
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = 0 if which == 0 else int(self.cumulative_sizes[which - 1])
        return self.datasets[which][index - start]


def random_split(dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split into non-overlapping random subsets of the given lengths (or fractions summing
    to 1, floored, the remainder handed out one by one as PyTorch does)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = get_generator(generator).permutation(n).tolist()
    splits, start = [], 0
    for length in lengths:
        splits.append(Subset(dataset, order[start:start + length]))
        start += length
    return splits


def default_collate(batch: list):
    """Stack a list of samples into a batch, PyTorch's way (see the module docstring)."""
    first = batch[0]
    if isinstance(first, Tensor):
        return wrap(EngineTensor(np.stack([_array(b) for b in batch])))
    if isinstance(first, np.ndarray):
        return from_numpy(np.stack(batch))
    if isinstance(first, np.generic):
        return from_numpy(np.array(batch))
    if isinstance(first, bool):
        return tensor(batch)
    if isinstance(first, int):
        return tensor(batch)
    if isinstance(first, float):
        return from_numpy(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, Mapping):
        return {key: default_collate([b[key] for b in batch]) for key in first}
    if isinstance(first, Sequence):
        if any(len(b) != len(first) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(items)) for items in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                    f"lists; found {type(first).__name__}")


def get_worker_info() -> None:
    """``None``: batches are always made in the calling process (see ``DataLoader``)."""
    return None


class DataLoader:
    """Batches of a dataset, reshuffled every epoch when ``shuffle=True``.

    The order comes from ``sampler`` (default: :class:`SequentialSampler`, or
    :class:`RandomSampler` with ``shuffle``) cut into batches by ``batch_sampler`` (default:
    :class:`BatchSampler`), then read and collated by ``collate_fn``. ``num_workers`` is
    accepted and checked, but the batches are always made in this process, so any value gives
    the batches of ``num_workers=0`` (NumPy indexing of in-memory data is faster than sending
    batches between processes); ``worker_init_fn`` is therefore never called, and
    ``pin_memory`` (a CUDA staging option) changes nothing on the CPU.

    Example:
        >>> loader = DataLoader(TensorDataset(X, y), batch_size=100, shuffle=True)
        >>> for inputs, labels in loader: ...
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, generator=None,
                 **kwargs):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn = worker_init_fn
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self._default_collate = collate_fn is None

    def __iter__(self):
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self.dataset[index]
            return
        fast = self._default_collate and isinstance(self.dataset, TensorDataset)
        batched = getattr(self.dataset, "get_batch", None) if self._default_collate else None
        for indices in self.batch_sampler:
            batch = batched(indices) if batched is not None else None
            if batch is not None:  # a dataset that transforms and collates a batch at once
                yield batch
            elif fast:
                rows = np.asarray(indices, dtype=np.int64)
                yield [wrap(EngineTensor(t._t.data[rows])) for t in self.dataset.tensors]
            else:
                yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self) -> int:
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "default_collate",
           "DataLoader", "get_worker_info", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler"]
