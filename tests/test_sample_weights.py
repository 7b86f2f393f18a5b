"""Keras' sample_weight / class_weight / steps_per_epoch in fit, evaluate and *_on_batch,
checked against PyTorch's per-sample weighted losses and hand-worked counts."""

from __future__ import annotations

import numpy as np
import pytest

import neuralab as nl
from neuralab.layers import Dense

from .conftest import require_torch


def _model(seed: int = 0, activation="softmax", units=3):
    nl.set_seed(seed)
    model = nl.Sequential([Dense(5, activation="tanh", input_shape=(4,), dtype="float64"),
                           Dense(units, activation=activation, dtype="float64")])
    return model


def _data(n=12, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n), rng.uniform(0.1, 2.0, n)


@pytest.mark.parametrize("fused", [True, False])
def test_weighted_training_step_equals_torch(fused):
    torch = require_torch()
    x, y, w = _data()
    model = _model(activation="softmax" if fused else "linear")
    loss = "sparse_categorical_crossentropy" if fused else \
        (lambda yt, yp: nl.ops.mean(nl.ops.square(yp - nl.ops.one_hot(
            nl.ops.cast(yt[:, 0], "int64"), 3)), axis=-1))
    model.compile(optimizer=nl.optimizers.SGD(0.1), loss=loss)
    weights = model.get_weights()
    value = model.train_on_batch(x, y if fused else y[:, None].astype(float), sample_weight=w)

    params = [torch.tensor(a, requires_grad=True) for a in weights]
    xt = torch.tensor(x)
    h = torch.tanh(xt @ params[0] + params[1])
    z = h @ params[2] + params[3]
    if fused:
        per = torch.nn.functional.cross_entropy(z, torch.tensor(y), reduction="none")
    else:
        per = ((z - torch.nn.functional.one_hot(torch.tensor(y), 3)) ** 2).mean(dim=1)
    expected = (per * torch.tensor(w)).mean()
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    for p, after in zip(params, model.get_weights()):
        np.testing.assert_allclose(after, (p - 0.1 * p.grad).detach().numpy(), atol=1e-12)


def test_class_weight_equals_the_matching_sample_weight():
    x, y, _ = _data()
    table = {0: 0.5, 1: 2.0, 2: 1.5}
    a, b = _model(), _model()
    for m in (a, b):
        m.compile(optimizer=nl.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    a.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0, class_weight=table)
    b.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0,
          sample_weight=np.array([table[c] for c in y]))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_weighted_evaluate_is_the_weighted_mean_of_per_sample_losses():
    x, y, w = _data()
    model = _model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    p = model.predict(x, verbose=0)
    per = -np.log(p[np.arange(len(y)), y])
    assert model.evaluate(x, y, sample_weight=w, batch_size=5, verbose=0) == \
        pytest.approx(np.mean(per * w), rel=1e-12)
    assert model.evaluate(x, y, batch_size=5, verbose=0) == pytest.approx(per.mean(), rel=1e-12)


def test_steps_per_epoch_caps_the_batches():
    x, y, _ = _data(40)
    model = _model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = []
    counter = nl.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(x, y, epochs=2, batch_size=4, steps_per_epoch=3, verbose=0, callbacks=[counter])
    assert seen == [0, 1, 2, 0, 1, 2]
    assert model.optimizer.iterations == 6


@pytest.mark.parametrize("bad, message", [
    (np.ones(5), r"shape \(12,\)"), (-np.ones(12), ">= 0"),
])
def test_bad_sample_weights_are_refused(bad, message):
    x, y, _ = _data()
    model = _model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, sample_weight=bad, verbose=0)


def test_class_weight_does_not_weight_the_validation_split():
    # Keras splits (x, y, sample_weight) off before applying class_weight
    x, y, _ = _data(n=16)
    table = {0: 0.2, 1: 5.0, 2: 1.0}
    model = _model()
    model.compile(optimizer=nl.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0,
                        class_weight=table, validation_split=0.25)
    held_x, held_y = x[12:], y[12:]
    plain = model.evaluate(held_x, held_y, verbose=0)
    weighted = model.evaluate(held_x, held_y, verbose=0,
                              sample_weight=np.array([table[c] for c in held_y]))
    assert abs(plain - weighted) > 1e-3  # the case tells the two apart
    assert history.history["val_loss"][0] == pytest.approx(plain, rel=1e-12)


def _two_output_model(lib, weights=None):
    inputs = lib.Input((3,))
    model = lib.Model(inputs, [lib.layers.Dense(1, name="a")(inputs),
                               lib.layers.Dense(1, activation="sigmoid", name="b")(inputs)])
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss=["mse", "binary_crossentropy"],
                  weighted_metrics=[["mae"], ["accuracy"]])
    return model


def test_one_sample_weight_array_weights_every_output_as_keras(keras):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 3)).astype("float32")
    ys = [rng.standard_normal((16, 1)).astype("float32"),
          (rng.random((16, 1)) > 0.5).astype("float32")]
    weight = rng.random(16).astype("float32")
    theirs = _two_output_model(keras)
    ours = _two_output_model(nl, theirs.get_weights())
    fit = {"sample_weight": weight, "epochs": 2, "batch_size": 8, "shuffle": False, "verbose": 0,
           "validation_data": (x, ys, weight)}
    expected, got = theirs.fit(x, ys, **fit).history, ours.fit(x, ys, **fit).history
    for name in ("loss", "a_loss", "b_loss", "a_mae", "b_accuracy", "val_b_loss", "val_b_accuracy"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, err_msg=name)
