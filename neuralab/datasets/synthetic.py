"""Seeded synthetic datasets of the lectures and in-class exercises.

Every generator takes ``seed`` (an int or a :class:`numpy.random.Generator`) and returns
``(x, y)`` NumPy arrays: ``x`` float64 of shape (n, 2) (or (n, 1) for the sine), ``y``
int64 class labels (n,) or float64 targets (n, 1) for regression.
"""

from __future__ import annotations

import numpy as np


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_n(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def make_lecture_synthetic(n: int = 400, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """The 2-D two-class data of the neural-network lecture (not linearly separable).

    Points are uniform on [0, 1]^2; the probability of class 1 is
    ``sigmoid(10 (exp(-8 r^2) - 0.5))`` with r the distance to (0.5, 0.5): a noisy disc
    of class 1 in the middle, class 0 around it. A 2-4-1 sigmoid network reaches about
    0.89 training accuracy (the lecture's figure).
    """
    rng = _rng(seed)
    n = _check_n(n)
    x = rng.uniform(0, 1, (n, 2))
    rsq = (x[:, 0] - 0.5) ** 2 + (x[:, 1] - 0.5) ** 2
    z = 10 * (np.exp(-8 * rsq) - 0.5)
    p = 1 / (1 + np.exp(-z))
    y = (rng.uniform(0, 1, n) < p).astype(np.int64)
    return x, y


def make_xor(n: int = 400, noise: float = 0.1, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian blobs at (+-1, +-1); class 1 where the signs differ (XOR)."""
    rng = _rng(seed)
    n = _check_n(n)
    signs = rng.choice([-1.0, 1.0], size=(n, 2))
    x = signs + rng.normal(0, noise, (n, 2))
    y = (signs[:, 0] != signs[:, 1]).astype(np.int64)
    return x, y


def make_moons(n: int = 400, noise: float = 0.1, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``), shuffled."""
    rng = _rng(seed)
    n = _check_n(n)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    x = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)])])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    x += rng.normal(0, noise, x.shape)
    order = rng.permutation(n)
    return x[order], y[order]


def make_circles(n: int = 400, noise: float = 0.05, factor: float = 0.5,
                 seed=None) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1, radius ``factor``) inside a unit circle (class 0)."""
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = _rng(seed)
    n = _check_n(n)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   factor * np.column_stack([np.cos(t_in), np.sin(t_in)])])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    x += rng.normal(0, noise, x.shape)
    order = rng.permutation(n)
    return x[order], y[order]


def make_spirals(n: int = 300, classes: int = 3, noise: float = 0.2,
                 seed=None) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms (cs231n's spiral data), labels 0..classes-1."""
    if classes < 2:
        raise ValueError(f"classes must be >= 2, got {classes!r}")
    rng = _rng(seed)
    n = _check_n(n)
    per = np.full(classes, n // classes)
    per[: n % classes] += 1
    xs, ys = [], []
    for k, m in enumerate(per):
        r = np.linspace(0.0, 1, m)
        t = np.linspace(k * 4, (k + 1) * 4, m) + rng.normal(0, noise, m)
        xs.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        ys.append(np.full(m, k, np.int64))
    x, y = np.vstack(xs), np.concatenate(ys)
    order = rng.permutation(n)
    return x[order], y[order]


def make_sine(n: int = 100, noise: float = 0.1, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """The in-class regression data: ``x ~ U(0, 1)``, ``y = sin(2 pi x) + N(0, noise^2)``.

    Returns x of shape (n, 1) and y of shape (n, 1).
    """
    rng = _rng(seed)
    n = _check_n(n)
    x = rng.random(n)
    y = np.sin(2 * np.pi * x) + rng.normal(0, noise, n)
    return x[:, None], y[:, None]


#: Input features a 2-D (or 1-D) point can be expanded into (TensorFlow Playground's set).
FEATURES = {
    "x1": lambda x: x[:, 0],
    "x2": lambda x: x[:, 1],
    "x1^2": lambda x: x[:, 0] ** 2,
    "x2^2": lambda x: x[:, 1] ** 2,
    "x1*x2": lambda x: x[:, 0] * x[:, 1],
    "sin(x1)": lambda x: np.sin(x[:, 0]),
    "sin(x2)": lambda x: np.sin(x[:, 1]),
}


def expand_features(x: np.ndarray, names) -> np.ndarray:
    """The columns ``names`` (keys of :data:`FEATURES`) computed from the points ``x``.

    Shape: x (N, 2) or (N, 1) -> (N, len(names)), in ``x``'s float type. Features of
    ``x2`` need 2-D points.

    Example:
        >>> expand_features(np.array([[2.0, 3.0]]), ["x1", "x1*x2"])
        array([[2., 6.]])
    """
    names = list(names)
    if not names:
        raise ValueError(f"features: expected a non-empty list of names from {list(FEATURES)}")
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"features: unknown {unknown}; known: {list(FEATURES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"features: names repeat: {names}")
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] not in (1, 2):
        raise ValueError(f"features need points of shape (N, 2) or (N, 1), got {x.shape}")
    if x.shape[1] == 1 and any("x2" in n for n in names):
        raise ValueError(f"features: {[n for n in names if 'x2' in n]} need 2-D points; "
                         "these data have only x1")
    return np.column_stack([FEATURES[n](x) for n in names]).astype(x.dtype, copy=False)
