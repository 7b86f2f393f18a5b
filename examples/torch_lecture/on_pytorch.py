"""Run one of the lecture scripts on real PyTorch, for comparison with neuralab::

    python examples/torch_lecture/on_pytorch.py examples/torch_lecture/mnist.py [ARGS...]

The script's text is run with its imports switched back (``neuralab.torchvision`` ->
``torchvision``, ``neuralab.torch`` -> ``torch``), so the program is the same. When
``torchvision`` is not installed, a stand-in provides what the MNIST script uses:
``datasets.MNIST`` read with neuralab's IDX reader into a real ``torch`` dataset of
pre-transformed tensors (the ``Compose([ToTensor(), Normalize(...)])`` applied once to all
images) and ``transforms.ToTensor``/``Normalize``/``Compose``. Needs ``pip install torch``.
"""
import sys
import types
from pathlib import Path


def _torchvision_stand_in() -> types.ModuleType:
    import torch

    from neuralab.torchvision import datasets as neuralab_datasets

    class ToTensor:
        def __call__(self, images):  # uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1]
            return images.to(torch.float32).div(255).unsqueeze(1)

    class Normalize:
        def __init__(self, mean, std):
            self.mean, self.std = mean, std

        def __call__(self, images):
            mean = torch.tensor(self.mean, dtype=images.dtype).view(1, -1, 1, 1)
            std = torch.tensor(self.std, dtype=images.dtype).view(1, -1, 1, 1)
            return (images - mean) / std

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, images):
            for transform in self.transforms:
                images = transform(images)
            return images

    class MNIST(torch.utils.data.Dataset):
        """MNIST from neuralab's reader; ``transform`` applied to all images at once."""

        def __init__(self, root, train=True, transform=None, download=False):
            local = neuralab_datasets.MNIST(root, train=train, download=download)
            self.data = torch.from_numpy(local.data.numpy())
            self.targets = torch.from_numpy(local.targets.numpy())
            self.transform, self._cache = transform, (None, None)

        def _images(self):
            if self._cache[0] is not self.data:
                images = self.data if self.transform is None else self.transform(self.data)
                self._cache = (self.data, images)
            return self._cache[1]

        def __len__(self):
            return len(self.data)

        def __getitem__(self, index):
            return self._images()[index], int(self.targets[index])

    module = types.ModuleType("torchvision")
    module.datasets = types.SimpleNamespace(MNIST=MNIST)
    module.transforms = types.SimpleNamespace(ToTensor=ToTensor, Normalize=Normalize, Compose=Compose)
    return module


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(f"usage: python {sys.argv[0]} SCRIPT.py [ARGS...]")
    path = Path(argv[0]).resolve()
    source = path.read_text().replace("neuralab.torchvision", "torchvision").replace(
        "neuralab.torch", "torch")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        sys.modules["torchvision"] = _torchvision_stand_in()
    sys.argv = [str(path), *argv[1:]]
    exec(compile(source, str(path), "exec"), {"__name__": "__main__", "__file__": str(path)})


if __name__ == "__main__":
    main(sys.argv[1:])
