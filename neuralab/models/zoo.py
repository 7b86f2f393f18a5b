"""Named architectures of the course material, built by name (``architecture = "cnn4"`` in an
experiment file).

=========  =======================================================  ===========================
name       layers (after the input)                                 parameters (784 in, 5 out)
=========  =======================================================  ===========================
mlp1       Flatten, Dense 64 act, Dense softmax                     50,565
mlp2       Flatten, Dense 16 act, Dense 64 (linear, no bias),       13,909
           Dense softmax
cnn3       Conv 16 3x3 act, Conv 8 7x7 act, MaxPool 2, Conv 16      9,741
           5x5 (linear), MaxPool 2, GlobalAvgPool, Dense softmax
cnn4       Conv 16 3x3, Conv 8 5x5, Conv 8 3x3, MaxPool 2, Conv 16  7,253
           5x5, MaxPool 2, GlobalAvgPool, Dense softmax (all act)
cnn5       Conv 16 3x3, 3 x Conv 8 3x3, MaxPool 2, 2 x Conv 16      6,061
           3x3, MaxPool 2, GlobalAvgPool, Dense softmax (all act)
mlp        Flatten, Dense(h) act for h in ``hidden``, Dense out     depends on ``hidden``
=========  =======================================================  ===========================

The first five are the EE449 homework's (``004_...``); their parameter counts match the
seed's numbers. ``activation`` replaces the hidden activation (ReLU in the seed; the
activations lab swaps in sigmoid). ``classes`` sets the softmax width.
"""

from __future__ import annotations

from ..layers import Conv2D, Dense, Flatten, GlobalAveragePooling2D, Layer, MaxPooling2D


def _conv(filters: int, size: int, activation) -> Conv2D:
    return Conv2D(filters=filters, kernel_size=(size, size), activation=activation)


def mlp1(classes: int = 5, activation: str = "relu") -> list[Layer]:
    return [Flatten(), Dense(64, activation=activation), Dense(classes, activation="softmax")]


def mlp2(classes: int = 5, activation: str = "relu") -> list[Layer]:
    return [Flatten(), Dense(16, activation=activation), Dense(64, use_bias=False),
            Dense(classes, activation="softmax")]


def _cnn_head(classes: int) -> list[Layer]:
    return [MaxPooling2D(pool_size=(2, 2)), GlobalAveragePooling2D(),
            Dense(classes, activation="softmax")]


def cnn3(classes: int = 5, activation: str = "relu") -> list[Layer]:
    return [_conv(16, 3, activation), _conv(8, 7, activation), MaxPooling2D(pool_size=(2, 2)),
            _conv(16, 5, None)] + _cnn_head(classes)


def cnn4(classes: int = 5, activation: str = "relu") -> list[Layer]:
    return [_conv(16, 3, activation), _conv(8, 5, activation), _conv(8, 3, activation),
            MaxPooling2D(pool_size=(2, 2)), _conv(16, 5, activation)] + _cnn_head(classes)


def cnn5(classes: int = 5, activation: str = "relu") -> list[Layer]:
    return [_conv(16, 3, activation), _conv(8, 3, activation), _conv(8, 3, activation),
            _conv(8, 3, activation), MaxPooling2D(pool_size=(2, 2)), _conv(16, 3, activation),
            _conv(16, 3, activation)] + _cnn_head(classes)


def mlp(classes: int = 10, activation: str = "relu", hidden=(100,)) -> list[Layer]:
    """A plain MLP: ``hidden`` units per layer; ``classes=1`` gives one sigmoid output."""
    out = Dense(classes, activation="softmax" if classes > 1 else "sigmoid")
    first: list[Layer] = [Flatten()]
    return first + [Dense(int(h), activation=activation) for h in hidden] + [out]


ARCHITECTURES = {"mlp1": mlp1, "mlp2": mlp2, "cnn3": cnn3, "cnn4": cnn4, "cnn5": cnn5, "mlp": mlp}


def get(name: str, **options) -> list[Layer]:
    """The layers of architecture ``name`` (see the module table)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](**options)
