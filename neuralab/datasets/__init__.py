"""Datasets: seeded synthetic generators, loaders for the classic lab files, batching.

Heavy optional dependencies (h5py, scikit-learn) are imported only by the loaders that
need them, so ``import neuralab.datasets`` stays light.
"""

from .batching import iterate_minibatches
from .synthetic import (make_circles, make_lecture_synthetic, make_moons, make_sine,
                        make_spirals, make_xor)

__all__ = ["make_lecture_synthetic", "make_xor", "make_moons", "make_circles", "make_spirals",
           "make_sine", "iterate_minibatches"]
