"""The ``descent`` study: gradient descent, momentum and Adam on ``L = 0.5 (a w1² + b w2²)``.

The course material's "slow rate of descent" (000, exercise 2): the gradient is
``(a w1, b w2)``, so one step of gradient descent with rate η multiplies each coordinate
by a constant, ``w1 <- (1 − aη) w1`` and ``w2 <- (1 − bη) w2``. Every number here comes
from neuralab's own optimizers (:class:`~neuralab.optimizers.SGD`,
:class:`~neuralab.optimizers.Adam`) stepping a float64 :class:`~neuralab.parameter.Parameter`
whose gradient the tape computes, and is checked against the closed forms:

- the measured per-step contraction ``w_i(t+1) / w_i(t)`` equals ``1 − aη`` and ``1 − bη``
  at every step, for a grid of η and condition numbers ``κ = a / b``;
- above ``2/a`` the first coordinate grows by ``|1 − aη|^T``: gradient descent diverges.
  The threshold found by bisection on the trajectories is ``2/a``; the sign of ``w1``
  starts to alternate at ``1/a`` (the material's bound ``η < 1/a`` is the condition for
  a monotone descent, ``η < 2/a`` the one for convergence);
- at its best fixed rate ``η = 2/(a + b)`` gradient descent shrinks ``||w||`` by exactly
  ``ρ = (κ − 1)/(κ + 1)`` per step, so reaching ``||w|| <= tol ||w(0)||`` takes
  ``ceil(ln tol / ln ρ) ≈ (κ/2) ln(1/tol)`` steps: it crawls when ``a/b`` is large;
- heavy-ball momentum at its optimal ``η = 4/(√a + √b)²`` and ``β = ρ²`` contracts at
  ``(√κ − 1)/(√κ + 1)``: the spectral radius identified from its trajectory (fitting
  ``w(t+1) = c w(t) − d w(t−1)`` per coordinate) equals it.

Adam has no closed form here; its trajectories and step counts are shown beside them.
Options of ``[study]`` (defaults in :data:`DEFAULTS`): ``b``, ``condition_numbers``
(a/b), ``learning_rates`` (η as fractions of ``2/a``), ``steps``, ``tolerance``,
``max_steps``, ``start``, ``adam_learning_rate``, ``contour_condition_numbers``,
``contour_steps``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .studies import Check, StudyKind, StudyOutcome, with_defaults

DEFAULTS = {"b": 1.0, "condition_numbers": [1, 10, 100, 1000],
            "learning_rates": [0.25, 0.5, 0.95, 1.05], "steps": 100, "tolerance": 1e-6,
            "max_steps": 20000, "start": [1.0, 1.0], "adam_learning_rate": 0.05,
            "contour_condition_numbers": [3, 10, 30], "contour_steps": 60}
CONTRACTION_TOLERANCE = 1e-12  # |measured ratio − (1 − aη)|, every step
THRESHOLD_TOLERANCE = 1e-9     # relative, bisection on trajectories
RATE_TOLERANCE = 1e-6          # relative; a double root is identified to about √eps
TINY = 1e-250                  # ratios of coordinates below this are rounding, not descent
BISECTION_STEPS = 20           # (1 + aδ)^20 > 1 already shows a rate one rounding above 2/a


# -- options ------------------------------------------------------------------------------
def _number(name: str, value, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not low < value < high:
        raise ValueError(f"{name}: expected a number in ({low:g}, {high:g}), got {value!r}")
    return float(value)


def _count(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return value


def _numbers(name: str, value, low: float = 0.0) -> list[float]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name}: expected a non-empty list of numbers, got {value!r}")
    return [_number(f"{name}.{i}", v, low) for i, v in enumerate(value)]


def check_options(options: dict) -> dict:
    """``[study]`` options of ``descent`` with defaults filled in; ValueError names the key."""
    out = with_defaults("descent", options, DEFAULTS)
    out["b"] = _number("study.b", out["b"])
    for key in ("condition_numbers", "contour_condition_numbers"):
        out[key] = _numbers(f"study.{key}", out[key])
        if min(out[key]) < 1:
            raise ValueError(f"study.{key}: a/b >= 1 expected (a is the larger curvature), "
                             f"got {out[key]}")
    out["learning_rates"] = _numbers("study.learning_rates", out["learning_rates"])
    out["steps"] = _count("study.steps", out["steps"], 2)
    out["max_steps"] = _count("study.max_steps", out["max_steps"], 2)
    out["contour_steps"] = _count("study.contour_steps", out["contour_steps"], 1)
    out["tolerance"] = _number("study.tolerance", out["tolerance"], 0.0, 1.0)
    out["adam_learning_rate"] = _number("study.adam_learning_rate", out["adam_learning_rate"])
    start = out["start"]
    if not isinstance(start, list) or len(start) != 2:
        raise ValueError(f"study.start: expected [w1, w2], got {start!r}")
    out["start"] = [_number(f"study.start.{i}", v, -math.inf) for i, v in enumerate(start)]
    if 0.0 in out["start"]:
        raise ValueError(f"study.start: both coordinates must be non-zero (their contraction "
                         f"is measured), got {start!r}")
    return out


# -- trajectories through neuralab's optimizers -------------------------------------------
def trajectory(optimizer, curvatures, start, steps: int, stop_below: float | None = None
               ) -> np.ndarray:
    """``w(0), w(1), ...``: shape (T + 1, 2), float64. Each step asks the tape for the
    gradient of ``0.5 Σ c_i w_i²`` and lets ``optimizer`` (built without parameters)
    update ``w``. Stops early once ``||w|| <= stop_below``, or when ``w`` overflows."""
    from .. import ops
    from ..parameter import Parameter
    w = Parameter(np.array(start, dtype=np.float64), name="w")
    c = np.asarray(curvatures, dtype=np.float64)
    path = [w.data.copy()]
    for _ in range(steps):
        w.zero_grad()
        loss = 0.5 * ops.sum(c * ops.square(w))
        loss.backward()
        optimizer.step([w])
        path.append(w.data.copy())
        size = float(np.linalg.norm(w.data))
        if (stop_below is not None and size <= stop_below) or not size < 1e150:
            break
    return np.array(path)


def gd(learning_rate: float):
    from ..optimizers import SGD
    return SGD(learning_rate=learning_rate)


def heavy_ball(a: float, b: float):
    """SGD with the optimal heavy-ball rate and momentum for curvatures in [b, a]."""
    from ..optimizers import SGD
    root = (math.sqrt(a / b) - 1) / (math.sqrt(a / b) + 1)
    return SGD(learning_rate=4 / (math.sqrt(a) + math.sqrt(b)) ** 2, momentum=root ** 2)


def adam(learning_rate: float):
    from ..optimizers import Adam
    return Adam(learning_rate=learning_rate)


def contractions(path: np.ndarray, i: int) -> np.ndarray:
    """Measured ``w_i(t+1) / w_i(t)`` while ``|w_i(t)|`` is above rounding."""
    w = path[:, i]
    keep = np.abs(w[:-1]) > TINY
    return w[1:][keep] / w[:-1][keep]


def steps_to(path: np.ndarray, tolerance: float) -> int | None:
    """First t with ``||w(t)|| <= tolerance ||w(0)||`` (None if never)."""
    norms = np.linalg.norm(path, axis=1)
    hit = np.flatnonzero(norms <= tolerance * norms[0])
    return int(hit[0]) if hit.size else None


def gd_steps_closed_form(kappa: float, tolerance: float) -> int:
    """Steps of gradient descent at ``η = 2/(a+b)``: ``ρ^t <= tol`` with ``ρ = (κ−1)/(κ+1)``."""
    rho = (kappa - 1) / (kappa + 1)
    return 1 if rho == 0 else max(1, math.ceil(math.log(tolerance) / math.log(rho)))


def identified_rate(path: np.ndarray) -> float:
    """Spectral radius of a two-step linear recurrence fitted to each coordinate of
    ``path`` (least squares ``w(t+1) = c w(t) − d w(t−1)``): the largest root modulus."""
    radius = 0.0
    for i in range(path.shape[1]):
        w = path[:, i]
        w = w[: int(np.argmax(np.abs(w) < TINY)) or len(w)]
        if len(w) < 4:
            continue
        design = np.column_stack([w[1:-1], -w[:-2]])
        (c, d), *_ = np.linalg.lstsq(design, w[2:], rcond=None)
        radius = max(radius, float(np.max(np.abs(np.roots([1.0, -c, d])))))
    return radius


def thresholds(a: float, b: float, start) -> tuple[float, float]:
    """Measured on trajectories, by bisection: the rate above which ``|w1|`` stops
    shrinking (gradient descent diverges), and the one above which ``w1`` alternates in
    sign."""
    def diverges(eta: float) -> bool:
        path = trajectory(gd(eta), (a, b), start, BISECTION_STEPS)
        return abs(path[-1, 0]) >= abs(path[0, 0])

    def alternates(eta: float) -> bool:
        path = trajectory(gd(eta), (a, b), start, 1)
        return path[1, 0] * path[0, 0] < 0
    return _bisect(diverges, 0.0, 4 / a), _bisect(alternates, 0.0, 4 / a)


def _bisect(diverges, low: float, high: float, iterations: int = 60) -> float:
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        low, high = (low, mid) if diverges(mid) else (mid, high)
    return 0.5 * (low + high)


def _relative(x: float, y: float) -> float:
    return abs(x - y) / max(abs(y), 1e-300)


# -- the study ----------------------------------------------------------------------------
def compute(options: dict, seed: int) -> StudyOutcome:
    """Run every measurement of the module doc (deterministic: ``seed`` is unused)."""
    b, start, steps, tol = options["b"], options["start"], options["steps"], options["tolerance"]
    checks: list[Check] = []
    grid, threshold_rows, step_counts = [], [], []
    for kappa in options["condition_numbers"]:
        a = kappa * b
        for fraction in options["learning_rates"]:
            eta = fraction * 2 / a
            path = trajectory(gd(eta), (a, b), start, steps)
            measured = []
            for i, (curv, label) in enumerate(((a, "a"), (b, "b"))):
                ratios = contractions(path, i)
                expected = 1 - curv * eta
                error = float(np.max(np.abs(ratios - expected))) if ratios.size else math.inf
                rho = float(np.median(ratios)) if ratios.size else math.nan
                measured.append(rho)
                checks.append(Check(f"GD κ={kappa:g}, η={fraction:g}·2/a={eta:.4g}: ρ{i + 1}",
                                    f"measured ρ{i + 1} = {rho:.12g}",
                                    f"closed form 1 − {label}η = {expected:.12g}", error,
                                    CONTRACTION_TOLERANCE))
            if fraction > 1:
                growth = abs(path[-1, 0] / path[0, 0])
                expected = abs(1 - a * eta) ** (len(path) - 1)
                checks.append(Check(f"GD κ={kappa:g}, η={fraction:g}·2/a > 2/a: diverges",
                                    f"measured |w1({len(path) - 1}) / w1(0)| = {growth:.6g}",
                                    f"closed form |1 − aη|^{len(path) - 1} = {expected:.6g}",
                                    _relative(growth, expected), THRESHOLD_TOLERANCE))
            grid.append({"kappa": kappa, "a": a, "eta": eta, "rho": measured})
        divergence, alternation = thresholds(a, b, start)
        checks.append(Check(f"GD κ={kappa:g}: divergence threshold",
                            f"measured η = {divergence:.12g}",
                            f"closed form 2/a = {2 / a:.12g}", _relative(divergence, 2 / a),
                            THRESHOLD_TOLERANCE))
        checks.append(Check(f"GD κ={kappa:g}: w1 alternates in sign from",
                            f"measured η = {alternation:.12g}", f"closed form 1/a = {1 / a:.12g}",
                            _relative(alternation, 1 / a), THRESHOLD_TOLERANCE))
        threshold_rows.append({"kappa": kappa, "a": a, "divergence": divergence,
                           "alternation": alternation})
        step_counts.append(_steps_row(checks, kappa, a, b, start, tol, options))
    contours = [_contour_paths(kappa * b, b, start, options)
                for kappa in options["contour_condition_numbers"]]
    contraction_errors = [c.error for c in checks if ": ρ" in c.name]
    metrics = {"contraction_max_error": max(contraction_errors),
               "threshold_max_relative_error": max(
                   _relative(t["divergence"], 2 / t["a"]) for t in threshold_rows),
               "gd_steps_at_largest_kappa": step_counts[-1]["gd"],
               "momentum_steps_at_largest_kappa": step_counts[-1]["momentum"] or math.nan}
    metrics = {k: v for k, v in metrics.items() if v is not None and math.isfinite(v)}
    return StudyOutcome(metrics=metrics, checks=checks,
                        data={"options": options, "grid": grid, "thresholds": threshold_rows,
                              "steps": step_counts, "contours": contours})


def _steps_row(checks: list[Check], kappa: float, a: float, b: float, start, tol: float,
               options: dict) -> dict:
    """Steps to ``tol`` for GD at 2/(a+b), heavy ball and Adam; checks for the first two."""
    size = tol * float(np.linalg.norm(start))
    cap = options["max_steps"]
    gd_steps = steps_to(trajectory(gd(2 / (a + b)), (a, b), start, cap, size), tol)
    expected = gd_steps_closed_form(kappa, tol)
    checks.append(Check(f"GD κ={kappa:g}, η=2/(a+b): steps to ||w|| <= {tol:g}·||w(0)||",
                        f"measured {gd_steps} steps",
                        f"closed form ceil(ln tol / ln((κ−1)/(κ+1))) = {expected}",
                        math.inf if gd_steps is None else abs(gd_steps - expected), 1.0))
    path = trajectory(heavy_ball(a, b), (a, b), start, cap, size)
    if kappa > 1:
        rate = identified_rate(trajectory(heavy_ball(a, b), (a, b), start,
                                          min(cap, options["steps"])))
        expected_rate = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
        checks.append(Check(f"momentum κ={kappa:g}, optimal η and β: rate",
                            f"measured ρ = {rate:.10g} (spectral radius fitted to the trajectory)",
                            f"closed form (√κ−1)/(√κ+1) = {expected_rate:.10g}",
                            _relative(rate, expected_rate), RATE_TOLERANCE))
    adam_path = trajectory(adam(options["adam_learning_rate"]), (a, b), start, cap, size)
    return {"kappa": kappa, "gd": gd_steps, "gd_closed_form": expected,
            "momentum": steps_to(path, tol), "adam": steps_to(adam_path, tol)}


def _contour_paths(a: float, b: float, start, options: dict) -> dict:
    n = options["contour_steps"]
    return {"a": a, "b": b, "paths": {
        "GD, η = 1/a": trajectory(gd(1 / a), (a, b), start, n),
        "GD, η = 2/(a+b)": trajectory(gd(2 / (a + b)), (a, b), start, n),
        "momentum (optimal η, β)": trajectory(heavy_ball(a, b), (a, b), start, n),
        f"Adam, η = {options['adam_learning_rate']:g}":
            trajectory(adam(options["adam_learning_rate"]), (a, b), start, n)}}


# -- figures ------------------------------------------------------------------------------
def figures(outcome: StudyOutcome, folder: Path, title: str) -> list[str]:
    from ..plots import save_figure
    data = outcome.data
    save_figure(_contraction_figure(data, title), folder / "contraction.png")
    save_figure(_rates_figure(data, title), folder / "thresholds_and_steps.png")
    save_figure(_contour_figure(data, title), folder / "contours.png")
    return ["contraction.png", "thresholds_and_steps.png", "contours.png"]


def _contraction_figure(data: dict, title: str):
    from ..plots import pyplot
    plt = pyplot()
    kappas = data["options"]["condition_numbers"]
    b = data["options"]["b"]
    fig, axes = plt.subplots(1, len(kappas), figsize=(3.6 * len(kappas), 3.4), squeeze=False)
    for ax, kappa in zip(axes[0], kappas):
        a = kappa * b
        eta = np.linspace(0, 2.3 / a, 200)
        ax.axhspan(-3, -1, color="#fbe3e3")
        ax.axhspan(1, 3, color="#fbe3e3")
        ax.plot(eta, 1 - a * eta, color="C0", label="1 − aη")
        ax.plot(eta, 1 - b * eta, color="C1", label="1 − bη")
        rows = [g for g in data["grid"] if g["kappa"] == kappa]
        ax.plot([g["eta"] for g in rows], [g["rho"][0] for g in rows], "o", color="C0",
                label="measured ρ1")
        ax.plot([g["eta"] for g in rows], [g["rho"][1] for g in rows], "s", color="C1",
                mfc="none", label="measured ρ2")
        ax.axvline(2 / a, color="k", ls="--", lw=0.8)
        ax.set_ylim(-1.6, 1.1)
        ax.set_xlabel("η")
        ax.set_title(f"κ = a/b = {kappa:g}", fontsize=10)
    axes[0][0].set_ylabel("per-step contraction ρ")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Measured contraction vs closed form (dashed: 2/a; shaded: |ρ| > 1): {title}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _rates_figure(data: dict, title: str):
    from ..plots import pyplot
    plt = pyplot()
    b, tol = data["options"]["b"], data["options"]["tolerance"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    kappa = np.array([t["kappa"] for t in data["thresholds"]])
    fine = np.geomspace(kappa.min(), max(kappa.max(), kappa.min() * 1.01), 200)
    left.loglog(fine, 2 / (fine * b), color="C3", label="closed form 2/a")
    left.loglog(kappa, [t["divergence"] for t in data["thresholds"]], "o", color="C3",
                label="measured: diverges above")
    left.loglog(fine, 1 / (fine * b), color="C2", label="closed form 1/a")
    left.loglog(kappa, [t["alternation"] for t in data["thresholds"]], "s", color="C2",
                mfc="none", label="measured: w1 alternates above")
    left.set_xlabel("condition number a/b")
    left.set_ylabel("learning rate η")
    left.set_title("Learning-rate thresholds", fontsize=10)
    left.legend(fontsize=7)
    rows = data["steps"]
    rho_gd = (fine - 1) / (fine + 1)
    rho_hb = (np.sqrt(fine) - 1) / (np.sqrt(fine) + 1)
    with np.errstate(divide="ignore"):
        right.loglog(fine, np.maximum(1, np.ceil(np.log(tol) / np.log(rho_gd))), color="C0",
                     label="GD closed form ceil(ln tol / ln((κ−1)/(κ+1)))")
        right.loglog(fine, np.maximum(1, np.log(tol) / np.log(rho_hb)), color="C1", ls="--",
                     label="momentum rate bound ln tol / ln((√κ−1)/(√κ+1))")
    for key, marker, color, label in (("gd", "o", "C0", "GD at η = 2/(a+b), measured"),
                                      ("momentum", "s", "C1", "momentum (optimal), measured"),
                                      ("adam", "^", "C4", "Adam, measured")):
        shown = [(r["kappa"], r[key]) for r in rows if r[key]]
        if shown:
            right.loglog(*zip(*shown), marker, color=color, label=label)
    right.set_xlabel("condition number a/b")
    right.set_ylabel(f"steps to ||w|| <= {tol:g} ||w(0)||")
    right.set_title("Steps to the tolerance", fontsize=10)
    right.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _contour_figure(data: dict, title: str):
    from ..plots import pyplot
    plt = pyplot()
    panels = data["contours"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.8), squeeze=False)
    start = data["options"]["start"]
    span = 1.2 * max(abs(v) for v in start)
    grid = np.linspace(-span, span, 201)
    w1, w2 = np.meshgrid(grid, grid)
    for ax, panel in zip(axes[0], panels):
        loss = 0.5 * (panel["a"] * w1 ** 2 + panel["b"] * w2 ** 2)
        ax.contour(w1, w2, loss, levels=np.geomspace(loss.max() * 1e-4, loss.max(), 12),
                   colors="#bbbbbb", linewidths=0.7)
        for k, (label, path) in enumerate(panel["paths"].items()):
            ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, color=f"C{k}", label=label)
        ax.plot(0, 0, "k*", ms=8)
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
        ax.set_aspect("equal")
        ax.set_xlabel("w1")
        ax.set_title(f"a/b = {panel['a'] / panel['b']:g}, "
                     f"{len(next(iter(panel['paths'].values()))) - 1} steps", fontsize=10)
    axes[0][0].set_ylabel("w2")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"L = 0.5 (a w1² + b w2²) with trajectories: {title}", fontsize=10)
    fig.tight_layout()
    return fig


STUDY = StudyKind(check=check_options, compute=compute, figures=figures,
                  summary="gradient descent, momentum and Adam on a quadratic")

__all__ = ["STUDY", "DEFAULTS", "check_options", "compute", "trajectory", "contractions",
           "steps_to", "gd_steps_closed_form", "identified_rate", "thresholds", "figures"]
