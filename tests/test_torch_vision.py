"""``neuralab.torch.vision``: ``ToTensor``/``Normalize`` give torchvision's tensors, the MNIST
dataset reads torchvision's folder layout (and plain IDX folders), and a ``DataLoader`` over
it gives the batches that transforming and collating each sample would."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

import neuralab.torch as nt
from neuralab.torch.utils.data import DataLoader, default_collate
from neuralab.torch.vision import datasets, transforms

from .conftest import shared_data

MNIST_TRANSFORM = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


def test_to_tensor_scales_uint8_and_moves_channels_first():
    image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    t = transforms.ToTensor()(image)
    assert t.dtype == nt.float32 and tuple(t.shape) == (3, 2, 4)
    assert np.array_equal(t.numpy(), np.moveaxis(image, -1, 0).astype(np.float32) / np.float32(255))
    assert tuple(transforms.ToTensor()(np.zeros((5, 6), np.uint8)).shape) == (1, 5, 6)


def test_normalize_is_per_channel_and_batched_form_agrees():
    x = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    normalize = transforms.Normalize((0.1, 0.2, 0.3), (0.5, 0.25, 2.0))
    expected = (x - np.array([0.1, 0.2, 0.3], np.float32)[:, None, None]) / \
        np.array([0.5, 0.25, 2.0], np.float32)[:, None, None]
    assert np.array_equal(normalize(nt.from_numpy(x)).numpy(), expected)
    assert np.array_equal(normalize.batch(nt.from_numpy(x[None])).numpy()[0], expected)
    assert transforms.Lambda(lambda v: v * 2)(3) == 6
    with pytest.raises(ValueError, match="std"):
        transforms.Normalize((0.0,), (0.0,))


def _torchvision_layout(tmp_path, n: int = 30):
    """A small MNIST in ``root/MNIST/raw`` made from the first ``n`` images of the real files."""
    source = shared_data("mnist")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        with gzip.open(source / f"{name}.gz") as f:
            header = 16 if "images" in name else 8
            data = bytearray(f.read(header + n * (784 if "images" in name else 1)))
        data[4:8] = n.to_bytes(4, "big")
        (raw / name).write_bytes(bytes(data))
    return tmp_path


def test_mnist_reads_torchvision_layout_and_batches_equal_per_sample_collation(tmp_path):
    root = _torchvision_layout(tmp_path)
    train = datasets.MNIST(str(root), train=True, transform=MNIST_TRANSFORM)
    test = datasets.MNIST(str(root), train=False)
    assert len(train) == len(test) == 30 and train.data.dtype == nt.uint8
    image, label = train[0]
    assert tuple(image.shape) == (1, 28, 28) and isinstance(label, int)
    expected = default_collate([train[i] for i in range(10)])
    batch = next(iter(DataLoader(train, batch_size=10)))
    assert np.array_equal(batch[0].numpy(), expected[0].numpy())
    assert np.array_equal(batch[1].numpy(), expected[1].numpy()) and batch[1].dtype == nt.int64
    lambda_transform = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda v: v * 2)])
    odd = datasets.MNIST(str(root), transform=lambda_transform)
    assert tuple(next(iter(DataLoader(odd, batch_size=4)))[0].shape) == (4, 1, 28, 28)


def test_mnist_reads_a_plain_idx_folder(tmp_path):
    root = _torchvision_layout(tmp_path)
    flat = tmp_path / "flat"
    shutil.copytree(root / "MNIST" / "raw", flat)
    assert len(datasets.MNIST(str(flat), train=False)) == 30


def test_the_torchvision_import_path_is_the_same_package():
    from neuralab.torchvision.transforms import Normalize

    import neuralab.torch.vision as vision
    import neuralab.torchvision as torchvision
    assert torchvision.datasets.MNIST is vision.datasets.MNIST
    assert Normalize is vision.transforms.Normalize
