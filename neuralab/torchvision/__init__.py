"""``import neuralab.torchvision as torchvision``: the lecture's ``torchvision`` imports
(``datasets.MNIST``, ``transforms.ToTensor``, ...) on :mod:`neuralab.torch.vision`."""

import sys

from ..torch.vision import datasets, transforms

sys.modules[f"{__name__}.datasets"] = datasets
sys.modules[f"{__name__}.transforms"] = transforms

__all__ = ["datasets", "transforms"]
