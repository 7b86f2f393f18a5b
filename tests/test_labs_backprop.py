"""The ``backprop`` lab: the course material's forward values and partials (000, exercise 1),
against a hand-worked case, neuralab's engine, numerical gradients and PyTorch."""

import json
import math
import re

import numpy as np
import pytest

from neuralab.cli import main
from neuralab.experiments import ExperimentError, backprop, parse_experiment
from neuralab.gradcheck import rel_error

from .conftest import require_torch

PARTIALS = ("dE_dyhat", "dE_dh", "dE_dz", "dE_dW2", "dE_dW1", "dE_dx")


def random_case(rng, n=5, m=7, q=3):
    return (rng.normal(size=n), rng.normal(size=q), rng.normal(size=(m, n)),
            rng.normal(size=(q, m)))


def test_one_unit_each_worked_by_hand():
    # x = 2, W1 = 0.5, W2 = 3, y = 1: z = 1, h = sigma(1), y_hat = 3 h, E = (3h - 1)^2
    values = backprop.by_hand(np.array([2.0]), np.array([1.0]), np.array([[0.5]]),
                              np.array([[3.0]]))
    h = 1 / (1 + math.exp(-1))
    assert float(values["z"][0]) == 1.0
    assert values["h"][0] == pytest.approx(h, rel=1e-15)
    assert values["y_hat"][0] == pytest.approx(3 * h, rel=1e-15)
    assert float(values["E"]) == pytest.approx((3 * h - 1) ** 2, rel=1e-14)
    d_yhat = 2 * (3 * h - 1)
    assert values["dE_dyhat"][0] == pytest.approx(d_yhat, rel=1e-14)
    assert values["dE_dW2"][0, 0] == pytest.approx(d_yhat * h, rel=1e-14)
    assert values["dE_dh"][0] == pytest.approx(d_yhat * 3, rel=1e-14)
    assert values["dE_dz"][0] == pytest.approx(d_yhat * 3 * h * (1 - h), rel=1e-14)
    assert values["dE_dW1"][0, 0] == pytest.approx(d_yhat * 3 * h * (1 - h) * 2, rel=1e-14)
    assert values["dE_dx"][0] == pytest.approx(d_yhat * 3 * h * (1 - h) * 0.5, rel=1e-14)


def test_the_jacobians_have_the_shapes_the_material_gives(rng):
    x, y, W1, W2 = random_case(rng, n=3, m=4, q=2)
    values = backprop.by_hand(x, y, W1, W2)
    assert values["dz_dW1"].shape == (4, 4 * 3)   # m x (m n), x^T blocks on the diagonal
    np.testing.assert_array_equal(values["dz_dW1"][2, 6:9], x)
    assert np.count_nonzero(values["dz_dW1"]) == 4 * np.count_nonzero(x)
    assert values["dyhat_dW2"].shape == (2, 2 * 4)
    np.testing.assert_array_equal(values["dh_dz"], np.diag(np.diag(values["dh_dz"])))
    # the chain of Jacobians gives the outer products a layer's backward computes
    np.testing.assert_allclose(values["dE_dW1"], np.outer(values["dE_dz"], x), rtol=1e-14)
    np.testing.assert_allclose(values["dE_dW2"], np.outer(values["dE_dyhat"], values["h"]),
                               rtol=1e-14)


@pytest.mark.parametrize("shape", [(3, 4, 2), (5, 7, 3), (1, 2, 1)])
def test_every_partial_equals_the_engine_and_a_numerical_gradient(rng, shape):
    x, y, W1, W2 = random_case(rng, *shape)
    values = backprop.by_hand(x, y, W1, W2)
    engine = backprop.by_engine(x, y, W1, W2)
    numeric = backprop.numerically(x, y, W1, W2, values)
    for key in ("z", "h", "y_hat", "E") + PARTIALS:
        np.testing.assert_allclose(values[key], engine[key], rtol=1e-12, atol=1e-14,
                                   err_msg=key)
    for key in PARTIALS:
        assert values[key].shape == numeric[key].shape, key
        assert rel_error(values[key], numeric[key]) < 1e-7, key


def test_every_partial_equals_pytorch_autograd(rng, torch_float64):
    torch = require_torch()
    x, y, W1, W2 = random_case(rng)
    values = backprop.by_hand(x, y, W1, W2)
    tx, tW1, tW2 = (torch.tensor(a, requires_grad=True) for a in (x, W1, W2))
    z = tW1 @ tx
    z.retain_grad()
    h = torch.sigmoid(z)
    h.retain_grad()
    y_hat = tW2 @ h
    y_hat.retain_grad()
    error = torch.sum((y_hat - torch.tensor(y)) ** 2)
    error.backward()
    assert float(values["E"]) == pytest.approx(error.item(), rel=1e-14)
    for key, tensor in (("dE_dyhat", y_hat), ("dE_dh", h), ("dE_dz", z), ("dE_dW2", tW2),
                        ("dE_dW1", tW1), ("dE_dx", tx)):
        np.testing.assert_allclose(values[key], tensor.grad.numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=key)


def test_the_study_checks_every_value_twice():
    outcome = backprop.compute(backprop.check_options({}), seed=0)
    assert len(outcome.checks) == 4 + 2 * len(PARTIALS) and all(c.ok for c in outcome.checks)
    assert outcome.metrics["engine_max_error"] < 1e-12
    assert outcome.metrics["numerical_max_rel_error"] < 1e-7
    shown = {q["name"]: q for q in outcome.quantities}
    assert shown["∂E/∂W₁"]["code"] == "dE_dW1 = (dE_dz @ dz_dW1).reshape(m, n)"
    assert shown["∂E/∂W₁"]["shape"] == [4, 3]
    assert shown["∂h/∂z"]["formula"] == "∂h/∂z = diag(σ(z_i) (1 − σ(z_i)))"


@pytest.mark.parametrize("option, value, message", [
    ("W1", [[1.0, 2.0]], "study: shapes do not chain"),
    ("y", [1.0, 2.0, 3.0], "y (3,) (expected (2,))"),
    ("x", [[1.0, 2.0, 3.0]], "study.x: expected a non-empty vector"),
    ("W2", "zeros", "study.W2: expected a list of numbers per row, got 'zeros'"),
    ("W2", [[1.0, "nan"]], "study.W2: expected a non-empty matrix of finite numbers"),
    ("bias", [0.0], "unknown option(s) ['bias'] of the backprop study"),
])
def test_bad_options_name_the_key(option, value, message):
    text = f'[study]\ntype = "backprop"\n{option} = {json.dumps(value)}\n'
    with pytest.raises(ExperimentError, match=re.escape(message)):
        parse_experiment(text)


def test_lab_run_prints_every_check_and_writes_the_values_into_the_report(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the lab draws figures: pip install 'neuralab[plots]'")
    out_dir = tmp_path / "out"
    assert main(["lab", "run", "backprop", "-o", str(out_dir), "--executor", "local"]) == 0
    out = capsys.readouterr().out
    assert "16 of 16 checks passed" in out
    for symbol in ("∂E/∂ŷ", "∂E/∂h", "∂E/∂z", "∂E/∂W₂", "∂E/∂W₁", "∂E/∂x"):
        assert f"ok      {symbol} (backward): formula" in out
        assert f"ok      {symbol} (numerical gradient): formula" in out
    html = (out_dir / "report.html").read_text()
    assert "every value, written out" in html
    assert "dE_dW1 = (dE_dz @ dz_dW1).reshape(m, n)" in html
    assert "∂E/∂W₁ = ∂E/∂ŷ · ∂ŷ/∂h · ∂h/∂z · ∂z/∂W₁" in html
    assert html.count("data:image/png;base64,") == 1
    trial = next((out_dir / "trials").iterdir())
    rows = json.loads((trial / "artifacts/quantities.json").read_text())
    assert [r["name"] for r in rows][:4] == ["z", "h", "ŷ", "E"]
