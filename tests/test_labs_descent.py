"""The ``descent`` lab: neuralab's optimizers on L = 0.5 (a w1² + b w2²) against closed forms
derived by hand (000, "slow rate of descent")."""

import json
import math
import re

import numpy as np
import pytest

from neuralab.cli import main
from neuralab.experiments import ExperimentError, descent, parse_experiment
from neuralab.labs import lab_path


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1000.0])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.8, 0.99, 1.02])
def test_each_step_contracts_w1_by_1_minus_a_eta_and_w2_by_1_minus_b_eta(kappa, fraction):
    a, b = kappa * 0.5, 0.5
    eta = fraction * 2 / a
    path = descent.trajectory(descent.gd(eta), (a, b), [0.7, -1.3], 80)
    for i, curvature in enumerate((a, b)):
        ratios = descent.contractions(path, i)
        assert ratios.size > 0
        np.testing.assert_allclose(ratios, 1 - curvature * eta, rtol=0, atol=1e-12)
    # the whole path is the closed form (1 - c eta)^t w(0)
    t = np.arange(len(path))[:, None]
    expected = np.array([0.7, -1.3]) * (1 - np.array([a, b]) * eta) ** t
    np.testing.assert_allclose(path, expected, rtol=1e-11, atol=1e-15)  # 1 - a eta = 0: rounding


def test_gradient_descent_diverges_just_above_2_over_a_and_converges_just_below():
    a, b, steps = 40.0, 2.0, 200
    above = descent.trajectory(descent.gd(2 / a * 1.001), (a, b), [1.0, 1.0], steps)
    below = descent.trajectory(descent.gd(2 / a * 0.999), (a, b), [1.0, 1.0], steps)
    assert abs(above[-1, 0]) > 1 > abs(below[-1, 0])
    assert abs(above[-1, 0]) == pytest.approx(1.002 ** steps, rel=1e-10)  # |1 - a eta|^T
    assert abs(below[-1, 0]) == pytest.approx(0.998 ** steps, rel=1e-10)


def test_bisection_on_trajectories_finds_2_over_a_and_1_over_a():
    for a in (1.0, 7.0, 300.0):
        divergence, alternation = descent.thresholds(a, 1.0, [1.0, 1.0])
        assert divergence == pytest.approx(2 / a, rel=1e-12)
        assert alternation == pytest.approx(1 / a, rel=1e-12)


def test_steps_to_tolerance_at_the_best_fixed_rate():
    # a/b = 3: rho = (3 - 1)/(3 + 1) = 1/2, and 2^-10 < 1e-3 < 2^-9: ten steps
    assert descent.gd_steps_closed_form(3.0, 1e-3) == 10
    assert descent.gd_steps_closed_form(1.0, 1e-3) == 1
    for kappa in (3.0, 20.0, 400.0):
        a, b = kappa, 1.0
        path = descent.trajectory(descent.gd(2 / (a + b)), (a, b), [1.0, -2.0], 20000,
                                  stop_below=1e-6 * math.sqrt(5))
        assert descent.steps_to(path, 1e-6) == descent.gd_steps_closed_form(kappa, 1e-6)
    # it crawls: about (kappa / 2) ln(1/tol) steps
    assert descent.gd_steps_closed_form(400.0, 1e-6) == pytest.approx(200 * math.log(1e6), rel=0.01)


def test_momentum_follows_the_heavy_ball_recurrence_at_the_optimal_rate():
    a, b = 50.0, 2.0
    optimizer = descent.heavy_ball(a, b)
    eta, beta = optimizer.learning_rate, optimizer.momentum
    path = descent.trajectory(optimizer, (a, b), [1.0, 1.0], 60)
    c = np.array([a, b])
    by_hand = [np.array([1.0, 1.0])] * 2
    by_hand[1] = by_hand[0] - eta * c * by_hand[0]
    for _ in range(59):
        w, previous = by_hand[-1], by_hand[-2]
        by_hand.append(w - eta * c * w + beta * (w - previous))
    np.testing.assert_allclose(path, np.array(by_hand), rtol=1e-9, atol=1e-14)
    # its rate: the spectral radius of [[1 + beta - eta c, -beta], [1, 0]] over c in {a, b}
    radius = max(np.max(np.abs(np.linalg.eigvals([[1 + beta - eta * ci, -beta], [1, 0]])))
                 for ci in c)
    kappa = a / b
    assert radius == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1), rel=1e-6)
    long_path = descent.trajectory(descent.heavy_ball(a, b), (a, b), [1.0, 1.0], 100)
    assert descent.identified_rate(long_path) == pytest.approx(radius, rel=1e-6)


def test_adam_moves_each_coordinate_by_its_learning_rate_on_the_first_step():
    path = descent.trajectory(descent.adam(0.05), (1000.0, 1.0), [1.0, 1.0], 1)
    # m_hat / sqrt(v_hat) = g / |g| whatever the curvature
    np.testing.assert_allclose(path[1], [0.95, 0.95], rtol=1e-6)


def test_the_study_checks_all_pass_and_report_their_numbers():
    options = descent.check_options({"condition_numbers": [1, 10, 100], "steps": 40})
    outcome = descent.compute(options, seed=0)
    assert outcome.checks and all(c.ok for c in outcome.checks)
    names = [c.name for c in outcome.checks]
    assert sum(n.endswith(": ρ1") for n in names) == 3 * 4
    assert sum("momentum" in n for n in names) == 2  # kappa = 1 has no momentum rate
    assert outcome.metrics["contraction_max_error"] < 1e-12
    gd_rows = {row["kappa"]: row for row in outcome.data["steps"]}
    assert gd_rows[100.0]["gd"] == descent.gd_steps_closed_form(100.0, 1e-6) == 691
    assert gd_rows[100.0]["momentum"] < gd_rows[100.0]["gd"] / 5


@pytest.mark.parametrize("option, value, message", [
    ("condition_numbers", [0.5, 2], "study.condition_numbers: a/b >= 1"),
    ("learning_rates", [], "study.learning_rates: expected a non-empty list"),
    ("steps", 1, "study.steps: expected an integer >= 2"),
    ("start", [1.0, 0.0], "study.start: both coordinates must be non-zero"),
    ("tolerance", 2.0, "study.tolerance: expected a number in (0, 1)"),
    ("learning_rate", 0.1, "unknown option(s) ['learning_rate'] of the descent study"),
])
def test_bad_options_name_the_key(option, value, message):
    text = f'[study]\ntype = "descent"\n{option} = {json.dumps(value)}\n'
    with pytest.raises(ExperimentError, match=re.escape(message)):
        parse_experiment(text)


def test_a_study_takes_no_training_tables_and_names_unknown_studies():
    with pytest.raises(ExperimentError, match=r"model: an experiment with a \[study\] table"):
        parse_experiment('[study]\ntype = "descent"\n[model]\nlayers = [{type = "Dense", units = 1}]\n')
    with pytest.raises(ExperimentError, match="unknown study 'decent'; did you mean 'descent'"):
        parse_experiment('[study]\ntype = "decent"\n')
    with pytest.raises(ExperimentError, match="study.type: missing: name the study, one of "
                                              "backprop, descent"):
        parse_experiment("[study]\nsteps = 10\n")
    with pytest.raises(ExperimentError, match=r"study.type: expected the study's name \(a string\), "
                                              "one of backprop, descent; got 3"):
        parse_experiment("[study]\ntype = 3\n")


def test_a_sweep_over_a_study_option_gives_one_point_per_value():
    experiment = parse_experiment('[study]\ntype = "descent"\n[sweep]\n"study.steps" = [10, 20]\n')
    assert [p.config["study"]["steps"] for p in experiment.points] == [10, 20]


def test_lab_run_prints_each_measured_rate_beside_its_closed_form(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the lab draws figures: pip install 'neuralab[plots]'")
    out_dir = tmp_path / "out"
    assert main(["lab", "run", "descent", "--quick", "-o", str(out_dir), "--executor", "local"]) == 0
    out = capsys.readouterr().out
    assert "GD κ=10, η=0.25·2/a=0.05: ρ1: measured ρ1 = 0.5, closed form 1 − aη = 0.5" in out
    assert "GD κ=10, η=0.25·2/a=0.05: ρ2: measured ρ2 = 0.95, closed form 1 − bη = 0.95" in out
    assert "GD κ=100: divergence threshold: measured η = 0.02, closed form 2/a = 0.02" in out
    lines = [line for line in out.splitlines() if line.startswith("  ok ") or "FAILED" in line]
    assert len(lines) == 38 and all(line.startswith("  ok ") for line in lines)
    assert "38 of 38 checks passed" in out
    html = (out_dir / "report.html").read_text()
    assert "closed-form checks" in html and "Checks, values and figures" in html
    assert html.count("data:image/png;base64,") == 3
    index = json.loads((out_dir / "index.json").read_text())["trials"]
    assert index[0]["metrics"]["checks_failed"] == 0


def test_a_failing_check_fails_the_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(descent, "CONTRACTION_TOLERANCE", -1.0)  # nothing can pass
    assert main(["lab", "run", "descent", "--quick", "-o", str(tmp_path / "out"), "--executor",
                 "local", "--no-report", "--set", "study.condition_numbers=[10]",
                 "--set", "study.contour_condition_numbers=[3]"]) == 1
    captured = capsys.readouterr()
    assert "FAILED  GD κ=10" in captured.out
    assert "closed-form check(s) failed" in captured.err


def test_commands_that_need_a_model_refuse_a_study(capsys):
    assert main(["summary", str(lab_path("descent"))]) == 2
    err = capsys.readouterr().err
    assert "is a 'descent' study: it has no model" in err and "Traceback" not in err
