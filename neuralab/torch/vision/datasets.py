"""``torchvision.datasets``: MNIST, FashionMNIST and CIFAR10 from local files.

Files are looked for in torchvision's layout (``root/MNIST/raw/train-images-idx3-ubyte[.gz]``,
``root/cifar-10-batches-py/``), then directly in ``root``, then in neuralab's data folder
(``download=True`` fetches there with neuralab's checksummed downloader). A sample is
``(transform(image), label)`` with the image a uint8 array (H, W) or (H, W, 3) where
torchvision gives a PIL image; ``ToTensor`` makes the same tensor of either.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralab.datasets import cifar, mnist
from neuralab.datasets.download import resolve_dataset_folder

from .._tensor import _EngineTensor as EngineTensor
from .._tensor import from_numpy, wrap
from ..utils.data import Dataset


class VisionDataset(Dataset):
    """Images and integer labels in memory; ``transform`` per sample (or per batch when
    every transform has a batched form, which ``DataLoader`` uses)."""

    classes: tuple = ()

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None, target_transform=None):
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data._t.data)

    def __getitem__(self, index: int):
        image, label = self.data._t.data[index], int(self.targets._t.data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices):
        """``default_collate([self[i] for i in indices])`` in one step, or ``None`` when a
        transform has no batched form."""
        transform = self.transform
        if self.target_transform is not None or (
                transform is not None and not (hasattr(transform, "batch") and
                                               getattr(transform, "can_batch", lambda: True)())):
            return None
        rows = np.asarray(indices, dtype=np.int64)
        images = self.data._t.data[rows]
        images = transform.batch(images) if transform is not None else from_numpy(images)
        return [images, wrap(EngineTensor(self.targets._t.data[rows]))]


def _idx_folder(root, name: str, folder_name: str, download: bool) -> Path:
    root = Path(root).expanduser()
    for candidate in (root / folder_name / "raw", root / folder_name, root):
        try:
            mnist.find_idx_file(candidate, "t10k-labels")
            return candidate
        except FileNotFoundError:
            continue
    return resolve_dataset_folder(name, None, download)


class MNIST(VisionDataset):
    """MNIST digits: 60,000 training or 10,000 test images of (28, 28)."""

    classes = tuple(f"{d} - {w}" for d, w in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")))
    _name, _folder = "mnist", "MNIST"

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        folder = _idx_folder(root, self._name, self._folder, download)
        (x_train, y_train), (x_test, y_test) = mnist.load_idx_folder(folder)
        self.root, self.train = root, train
        images, labels = (x_train, y_train) if train else (x_test, y_test)
        super().__init__(images, labels, transform, target_transform)


class FashionMNIST(MNIST):
    """Fashion-MNIST: MNIST's layout, ten clothing classes."""

    classes = mnist.FASHION_CLASSES
    _name, _folder = "fashion_mnist", "FashionMNIST"


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training or 10,000 test colour images of (32, 32, 3)."""

    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        folder = Path(root).expanduser() / "cifar-10-batches-py"
        path = folder if folder.is_dir() else None
        (x_train, y_train), (x_test, y_test) = cifar.load_cifar10(path, download=download)
        self.root, self.train = root, train
        images, labels = (x_train, y_train) if train else (x_test, y_test)
        super().__init__(np.asarray(images), np.asarray(labels).reshape(-1), transform, target_transform)
