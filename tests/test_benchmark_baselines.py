"""The benchmark's hand-written NumPy step trains the network neuralab's ``fit`` trains.

``benchmarks/workloads.py``'s ``NumpyMLP`` is the suite's "no framework" baseline: the
ratio of neuralab's time to its time is the framework's cost, which means nothing unless
both compute the same training. Here both start from the same weights, take the same
batches, and must end with the same weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import neuralab as nl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from workloads import NumpyMLP  # noqa: E402


@pytest.mark.parametrize("activation, hidden", [("sigmoid", [16]), ("relu", [12, 8])])
def test_numpy_mlp_takes_the_steps_of_fit(activation, hidden):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((90, 7)).astype(np.float32)
    y = (x[:, :4] @ rng.standard_normal(4) > 0).astype(np.intp) + 2 * (x[:, 4] > 0)
    nl.set_seed(1)
    model = nl.Sequential([nl.Input(shape=(7,))]
                          + [nl.layers.Dense(h, activation=activation) for h in hidden]
                          + [nl.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    start = model.get_weights()
    mlp = NumpyMLP([7, *hidden, 4], activation, batch=20, lr=0.01, weights=start)

    history = model.fit(x, y, batch_size=20, epochs=3, shuffle=False, verbose=0)
    losses = []
    for _ in range(3):
        steps = [mlp.step(x, y, np.arange(i, min(i + 20, 90))) for i in range(0, 90, 20)]
        # fit's epoch loss: the batches' losses weighted by their sizes
        losses.append(sum(loss * min(20, 90 - 20 * k) for k, (loss, _) in enumerate(steps)) / 90)

    np.testing.assert_allclose(losses, history.history["loss"], rtol=1e-5)
    ours = [p for pair in zip(mlp.Ws, mlp.bs) for p in pair]
    assert any(np.abs(w - s).max() > 1e-3 for w, s in zip(ours, start))  # it did train
    for got, want in zip(ours, model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert mlp.evaluate(x, y, 20) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)


def test_bare_step_makes_the_products_of_a_step(monkeypatch):
    """The "gather + GEMMs + Adam only" bound does every product a real step does."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    mlp = NumpyMLP([6, 8, 5, 3], "relu", batch=16, lr=0.01)
    shapes: list[list] = []
    matmul = np.matmul

    def recording(a, b, *args, **kwargs):
        shapes[-1].append((a.shape, b.shape))
        return matmul(a, b, *args, **kwargs)

    monkeypatch.setattr(np, "matmul", recording)
    index = np.arange(3, 19)
    for step in (lambda: mlp.step(x, y, index), lambda: mlp.bare_step(x, index)):
        shapes.append([])
        before = mlp.flat.copy()
        step()
        assert not np.array_equal(before, mlp.flat)  # Adam ran over the weights
    assert len(shapes[0]) == 3 + 3 + 2  # forward, dW per layer, dx but the first layer's
    assert sorted(shapes[0]) == sorted(shapes[1])
