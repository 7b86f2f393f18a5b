"""``torchvision`` on neuralab: ``datasets`` (MNIST, FashionMNIST, CIFAR10) and ``transforms``.

    from neuralab.torch.vision import datasets, transforms

(A top-level ``neuralab.torchvision`` alias needs one line in ``tools/dependencies.py``.)
"""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
