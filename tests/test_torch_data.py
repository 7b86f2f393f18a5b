"""``neuralab.torch.utils.data`` against ``torch.utils.data``: batch counts, collation types
and shapes, shuffling (a permutation every epoch, reproducible from a generator) and
``random_split`` sizes."""

from __future__ import annotations

import numpy as np
import pytest

import neuralab.torch as nt
from neuralab.torch.utils.data import DataLoader, Dataset, TensorDataset, random_split

from .conftest import require_torch

torch = require_torch()


def describe(batch):
    """A batch's structure: types, dtypes and shapes, library-independent."""
    if hasattr(batch, "dtype") and hasattr(batch, "shape"):
        return ("tensor", str(batch.dtype), tuple(batch.shape))
    if isinstance(batch, dict):
        return {k: describe(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and batch and not isinstance(batch[0], str):
        return [describe(b) for b in batch]
    return list(batch)


@pytest.mark.parametrize("samples", [
    [(1, 2.0, "a"), (3, 4.0, "b"), (5, 6.0, "c")],
    [(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 0), (np.ones(2, np.float32), 1)],
    [{"x": 1.0, "y": [1, 2]}, {"x": 2.0, "y": [3, 4]}, {"x": 3.0, "y": [5, 6]}],
    [True, False, True],
], ids=["tuples", "arrays", "dicts", "bools"])
@pytest.mark.parametrize("drop_last", [False, True])
def test_default_collate_and_batch_counts_match_pytorch(samples, drop_last):
    ours = list(DataLoader(samples, batch_size=2, drop_last=drop_last))
    theirs = list(torch.utils.data.DataLoader(samples, batch_size=2, drop_last=drop_last))
    assert len(ours) == len(theirs) == len(DataLoader(samples, batch_size=2, drop_last=drop_last))
    assert [describe(b) for b in ours] == [describe(b) for b in theirs]


def test_tensor_dataset_batches_are_the_rows_in_order_without_shuffle():
    x = nt.arange(20.0).view(10, 2)
    y = nt.arange(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[0].numpy() for b in batches]), x.numpy())
    assert batches[0][1].dtype == nt.int64


def test_shuffle_gives_a_new_permutation_every_epoch_reproducible_from_a_generator():
    dataset = TensorDataset(nt.arange(50))
    loader = DataLoader(dataset, batch_size=8, shuffle=True, generator=nt.Generator().manual_seed(1))
    epochs = [np.concatenate([b[0].numpy() for b in loader]) for _ in range(2)]
    assert all(sorted(e.tolist()) == list(range(50)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])
    again = DataLoader(dataset, batch_size=8, shuffle=True, generator=nt.Generator().manual_seed(1))
    assert np.array_equal(np.concatenate([b[0].numpy() for b in again]), epochs[0])


def test_custom_dataset_and_collate_fn():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            return nt.tensor([float(index)]), index * index
    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[0][0].shape == (2, 1) and batches[2][1].tolist() == [16]
    summed = list(DataLoader(Squares(), batch_size=5, collate_fn=lambda b: sum(s for _, s in b)))
    assert summed == [30]


@pytest.mark.parametrize("lengths", [[7, 3], [0.7, 0.3], [0.34, 0.33, 0.33]])
def test_random_split_sizes_match_pytorch_and_cover_the_dataset(lengths):
    ours = random_split(range(10), lengths, generator=nt.Generator().manual_seed(0))
    theirs = torch.utils.data.random_split(range(10), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s) == list(range(10))


def test_size_mismatch_and_bad_batch_size_are_named():
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(nt.zeros(3), nt.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader([1, 2], batch_size=0)


def batches_of(loader) -> list:
    return [[t.numpy().tolist() for t in batch] for batch in loader]


@pytest.mark.parametrize("num_workers", [1, 2, 4])
def test_num_workers_gives_the_batches_of_num_workers_zero(num_workers):
    dataset = TensorDataset(nt.arange(23.0).view(23, 1), nt.arange(23))

    def loader(workers):
        return DataLoader(dataset, batch_size=5, shuffle=True, num_workers=workers, pin_memory=True,
                          generator=nt.Generator().manual_seed(4))
    assert batches_of(loader(num_workers)) == batches_of(loader(0))
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(23.0).view(23, 1)),
                                         batch_size=5, num_workers=0)
    assert len(loader(num_workers)) == len(theirs) == 5
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(dataset, num_workers=-1)


def test_samplers_give_pytorchs_orders_and_lengths():
    data = list(range(10))
    seq = nt.utils.data.SequentialSampler(data)
    assert list(seq) == list(torch.utils.data.SequentialSampler(data)) == data
    batches = nt.utils.data.BatchSampler(seq, 3, drop_last=False)
    assert list(batches) == list(torch.utils.data.BatchSampler(range(10), 3, drop_last=False))
    assert len(nt.utils.data.BatchSampler(seq, 3, True)) == \
        len(torch.utils.data.BatchSampler(seq, 3, True)) == 3
    rand = nt.utils.data.RandomSampler(data, generator=nt.Generator().manual_seed(0))
    assert sorted(rand) == data and len(rand) == 10
    drawn = list(nt.utils.data.RandomSampler(data, replacement=True, num_samples=25))
    assert len(drawn) == 25 and set(drawn) <= set(data)
    subset = list(nt.utils.data.SubsetRandomSampler([2, 4, 6]))
    assert sorted(subset) == [2, 4, 6]
    weighted = list(nt.utils.data.WeightedRandomSampler([0.0, 1.0, 0.0], 5))
    assert weighted == [1] * 5


def test_sampler_batch_sampler_and_collate_fn_drive_the_loader_as_in_pytorch():
    data = [float(i) for i in range(10)]
    sampler = [9, 0, 5, 3]
    ours = DataLoader(data, batch_size=3, sampler=sampler, collate_fn=lambda b: [x * 10 for x in b])
    theirs = torch.utils.data.DataLoader(data, batch_size=3, sampler=sampler,
                                         collate_fn=lambda b: [x * 10 for x in b])
    assert list(ours) == list(theirs) == [[90.0, 0.0, 50.0], [30.0]]
    batch_sampler = [[1, 2], [7]]
    assert [b.tolist() for b in DataLoader(data, batch_sampler=batch_sampler)] == \
        [b.tolist() for b in torch.utils.data.DataLoader(data, batch_sampler=batch_sampler)]
    assert list(DataLoader(data, batch_size=None, sampler=[4, 2])) == [4.0, 2.0]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(data, sampler=sampler, shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(data, batch_sampler=batch_sampler, batch_size=2)
    assert nt.utils.data.get_worker_info() is None


@pytest.mark.parametrize("num_samples", [0, -3, 2.0])
def test_weighted_and_random_samplers_refuse_a_bad_num_samples_as_pytorch(num_samples):
    for lib in (torch, nt):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            lib.utils.data.WeightedRandomSampler([0.5, 0.5], num_samples)
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            lib.utils.data.RandomSampler(range(3), num_samples=num_samples)
