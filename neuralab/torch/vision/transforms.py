"""``torchvision.transforms``: ``ToTensor``, ``Normalize``, ``Compose``, ``Lambda``.

Images are NumPy arrays (H, W) or (H, W, C) (no PIL here). Each transform also has
``batch(images)`` for a stack of images (N, H, W[, C]) -> (N, C, H, W): the datasets use it
to transform a whole batch at once when every transform of a ``Compose`` can.
"""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _array, from_numpy


class ToTensor:
    """uint8 (H, W[, C]) in [0, 255] -> float32 (C, H, W) in [0, 1]; floats are not scaled."""

    def _convert(self, image: np.ndarray, channel_axis: int) -> np.ndarray:
        image = _array(image) if isinstance(image, Tensor) else np.asarray(image)
        if image.ndim == channel_axis + 2:
            image = np.expand_dims(image, channel_axis + 2)
        image = np.moveaxis(image, -1, channel_axis)
        if image.dtype == np.uint8:
            return image.astype(np.float32) / np.float32(255)
        return image.astype(np.float32, copy=False) if image.dtype.kind != "f" else image

    def __call__(self, image) -> Tensor:
        return from_numpy(np.ascontiguousarray(self._convert(image, 0)))

    def batch(self, images) -> Tensor:
        return from_numpy(np.ascontiguousarray(self._convert(images, 1)))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a (C, H, W) tensor."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean, self.std = tuple(mean), tuple(std)
        if any(s == 0 for s in self.std):
            raise ValueError(f"std evaluated to zero after conversion to float32, leading to division "
                             f"by zero (std={self.std})")

    def _apply(self, x: Tensor, channel_axis: int) -> Tensor:
        values = _array(x)
        shape = (-1,) + (1,) * (values.ndim - channel_axis - 1)
        mean = np.asarray(self.mean, values.dtype).reshape(shape)
        std = np.asarray(self.std, values.dtype).reshape(shape)
        return from_numpy((values - mean) / std)

    def __call__(self, x: Tensor) -> Tensor:
        return self._apply(x, 0)

    def batch(self, x: Tensor) -> Tensor:
        return self._apply(x, 1)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Apply ``function`` to each sample (no batched form)."""

    def __init__(self, function):
        if not callable(function):
            raise TypeError(f"Argument lambd should be callable, got {type(function).__name__!r}")
        self.lambd = function

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self) -> str:
        return "Lambda()"


class Compose:
    """Transforms applied in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x

    def can_batch(self) -> bool:
        return all(hasattr(t, "batch") for t in self.transforms)

    def batch(self, x):
        for transform in self.transforms:
            x = transform.batch(x)
        return x

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t}\n" for t in self.transforms) + ")"
