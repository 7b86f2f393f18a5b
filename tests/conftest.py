"""Shared fixtures. Tests never download; real data comes from ../shared/data when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import neuralab as nl

# `pytest -n 2` runs two workers on two cores: one BLAS thread each (two OpenBLAS threads
# per worker spin against each other and made single tests 10-60x slower); scripts and
# notebook kernels started by the tests inherit the same setting.
threadpool_limits(1)
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEURALAB_SHARED_DATA", REPO.parent / "shared" / "data"))
SEEDS = REPO.parent / "shared" / "seeds"


@pytest.fixture(autouse=True)
def _fresh_session():
    """Every test starts with float32, fresh names and a fixed seed."""
    nl.set_floatx("float32")
    nl.clear_session()
    nl.set_seed(1234)
    yield
    nl.set_floatx("float32")


@pytest.fixture
def float64():
    nl.set_floatx("float64")
    yield
    nl.set_floatx("float32")


@pytest.fixture
def torch_float64():
    """PyTorch and neuralab.torch both make float64 tensors from Python floats (and
    PyTorch runs single-threaded: its thread pool only adds waiting on tiny tensors)."""
    torch = require_torch()
    import neuralab.torch as nt
    previous, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    nt.set_default_dtype(nt.float64)
    yield
    torch.set_default_dtype(previous)
    torch.set_num_threads(threads)
    nt.set_default_dtype(nt.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.fixture(scope="module")
def keras():
    """Keras 3 itself on its JAX backend, or a skip where it is not installed or broken."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except Exception as error:  # noqa: BLE001 - keras or its backend missing or broken
        pytest.skip(f"Keras 3 is not importable ({error})")
    return keras


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with a reason when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (see ../shared/data/MANIFEST.md)")
    return path


def require_torch():
    return pytest.importorskip("torch", reason="PyTorch parity tests need torch==2.13.0 "
                                               "(pip install 'neuralab[torch]')")
