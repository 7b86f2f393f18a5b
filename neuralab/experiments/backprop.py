"""The ``backprop`` study: one backward pass through a 1-hidden-layer sigmoid network,
written out as the course material writes it (000, exercise 1), and checked.

The network has no biases and works on column vectors, as in the material::

    z = W1 x        h = σ(z)        ŷ = W2 h        E = ||ŷ − y||²

    x: (n,)   W1: (m, n)   z, h: (m,)   W2: (q, m)   ŷ, y: (q,)

Every intermediate and every partial derivative is computed by the explicit NumPy line
shown beside it (:data:`STEPS`, run as written), the partials as the material's chain of
Jacobians (``∂E/∂W1 = ∂E/∂ŷ · ∂ŷ/∂h · ∂h/∂z · ∂z/∂W1``, with ``∂z/∂W1`` the block-diagonal
``m × (m·n)`` matrix of ``xᵀ`` blocks). Each is then checked twice:

- against neuralab's engine: the same network as ``Dense(m, use_bias=False)``,
  ``Activation("sigmoid")`` and ``Dense(q, use_bias=False)`` layers (kernels ``W1ᵀ``,
  ``W2ᵀ``: layers multiply row vectors) called on tensors, ``E`` built from tensor ops,
  and ``E.backward()``: every tensor's ``.grad`` is the layers' hand-written backward;
- against a centred-difference numerical gradient (:mod:`neuralab.gradcheck`) of ``E``
  as a function of that quantity alone.

Options of ``[study]``: ``x``, ``y``, ``W1``, ``W2`` (lists, shapes as above).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .studies import Check, StudyKind, StudyOutcome, with_defaults

DEFAULTS = {"x": [1.0, -2.0, 0.5], "y": [0.5, -1.0],
            "W1": [[0.2, -0.4, 0.1], [0.5, 0.3, -0.2], [-0.3, 0.8, 0.6], [0.1, -0.1, 0.9]],
            "W2": [[0.7, -0.5, 0.2, 0.4], [-0.6, 0.3, 0.9, -0.2]]}
ENGINE_TOLERANCE = 1e-12     # largest |formula − engine|, float64
NUMERICAL_TOLERANCE = 1e-7   # gradcheck.rel_error, centred differences with step 1e-5
STEP = 1e-5

# (symbol, as the material writes it, the NumPy line that computes it, its variable)
STEPS = [
    ("z", "z = W₁ x", "z = W1 @ x", "z"),
    ("h", "h = σ(z) = 1 / (1 + e^(−z))", "h = 1 / (1 + np.exp(-z))", "h"),
    ("ŷ", "ŷ = W₂ h", "y_hat = W2 @ h", "y_hat"),
    ("E", "E = ||ŷ − y||₂²", "E = np.sum((y_hat - y) ** 2)", "E"),
    ("∂E/∂ŷ", "∂E/∂ŷ = 2 (ŷ − y)", "dE_dyhat = 2 * (y_hat - y)", "dE_dyhat"),
    ("∂ŷ/∂h", "∂ŷ/∂h = W₂", "dyhat_dh = W2", "dyhat_dh"),
    ("∂h/∂z", "∂h/∂z = diag(σ(z_i) (1 − σ(z_i)))", "dh_dz = np.diag(h * (1 - h))", "dh_dz"),
    ("∂z/∂W₁", "∂z/∂W₁ = blockdiag(xᵀ, …, xᵀ)  (m × m·n)", "dz_dW1 = np.kron(np.eye(m), x)",
     "dz_dW1"),
    ("∂ŷ/∂W₂", "∂ŷ/∂W₂ = blockdiag(hᵀ, …, hᵀ)  (q × q·m)",
     "dyhat_dW2 = np.kron(np.eye(q), h)", "dyhat_dW2"),
    ("∂z/∂x", "∂z/∂x = W₁", "dz_dx = W1", "dz_dx"),
    ("∂E/∂W₂", "∂E/∂W₂ = ∂E/∂ŷ · ∂ŷ/∂W₂", "dE_dW2 = (dE_dyhat @ dyhat_dW2).reshape(q, m)",
     "dE_dW2"),
    ("∂E/∂h", "∂E/∂h = ∂E/∂ŷ · ∂ŷ/∂h", "dE_dh = dE_dyhat @ dyhat_dh", "dE_dh"),
    ("∂E/∂z", "∂E/∂z = ∂E/∂ŷ · ∂ŷ/∂h · ∂h/∂z", "dE_dz = dE_dh @ dh_dz", "dE_dz"),
    ("∂E/∂W₁", "∂E/∂W₁ = ∂E/∂ŷ · ∂ŷ/∂h · ∂h/∂z · ∂z/∂W₁",
     "dE_dW1 = (dE_dz @ dz_dW1).reshape(m, n)", "dE_dW1"),
    ("∂E/∂x", "∂E/∂x = ∂E/∂ŷ · ∂ŷ/∂h · ∂h/∂z · ∂z/∂x", "dE_dx = dE_dz @ dz_dx", "dE_dx"),
]


def check_options(options: dict) -> dict:
    """``x``, ``y``, ``W1``, ``W2`` as float lists with matching shapes (ValueError names
    the option and the shapes)."""
    out = with_defaults("backprop", options, DEFAULTS)
    arrays = {}
    for key, ndim in (("x", 1), ("y", 1), ("W1", 2), ("W2", 2)):
        try:
            arrays[key] = np.array(out[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"study.{key}: expected a list of numbers"
                             f"{' per row' if ndim == 2 else ''}, got {out[key]!r}") from None
        if arrays[key].ndim != ndim or arrays[key].size == 0 or \
                not np.all(np.isfinite(arrays[key])):
            raise ValueError(f"study.{key}: expected a non-empty "
                             f"{'vector' if ndim == 1 else 'matrix'} of finite numbers, got "
                             f"{out[key]!r}")
    n, (m, n1), (q, m1) = len(arrays["x"]), arrays["W1"].shape, arrays["W2"].shape
    if n1 != n or m1 != m or len(arrays["y"]) != q:
        raise ValueError(f"study: shapes do not chain: x {arrays['x'].shape}, W1 {(m, n1)} "
                         f"(expected (m, {n})), W2 {(q, m1)} (expected (q, {m})), y "
                         f"{arrays['y'].shape} (expected ({q},))")
    return {key: arrays[key].tolist() for key in DEFAULTS}


def by_hand(x, y, W1, W2) -> dict:
    """Every value of :data:`STEPS`, computed by running its NumPy line as written."""
    values: dict = {"np": np, "x": x, "y": y, "W1": W1, "W2": W2, "n": len(x), "m": len(W1),
                    "q": len(W2)}
    for _, _, code, _ in STEPS:
        exec(code, values)  # noqa: S102 - the fixed lines of STEPS, shown to the reader
    return {var: np.asarray(values[var], dtype=np.float64) for *_, var in STEPS}


def by_engine(x, y, W1, W2) -> dict:
    """Values and gradients from neuralab's layers and tape (kernels are ``Wᵀ``)."""
    from .. import ops
    from ..layers import Activation, Dense
    from ..tensor import Tensor
    first = Dense(len(W1), use_bias=False, dtype="float64")
    sigmoid = Activation("sigmoid", dtype="float64")
    second = Dense(len(W2), use_bias=False, dtype="float64")
    first.build((None, len(x)))
    second.build((None, len(W1)))
    first.kernel.data[...] = W1.T
    second.kernel.data[...] = W2.T
    inputs = Tensor(x[None, :], requires_grad=True)
    z = first(inputs)
    h = sigmoid(z)
    y_hat = second(h)
    error = ops.sum(ops.square(y_hat - y[None, :]))
    error.backward()
    return {"z": z.data[0], "h": h.data[0], "y_hat": y_hat.data[0], "E": error.data,
            "dE_dyhat": y_hat.grad[0], "dE_dh": h.grad[0], "dE_dz": z.grad[0],
            "dE_dW2": second.kernel.grad.T, "dE_dW1": first.kernel.grad.T,
            "dE_dx": inputs.grad[0]}


def numerically(x, y, W1, W2, values: dict) -> dict:
    """Centred differences of E with respect to ŷ, h, z (the rest of the forward pass from
    there), W1, W2 and x."""
    from ..gradcheck import numerical_gradient

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    def from_yhat(y_hat):
        return float(np.sum((y_hat - y) ** 2))

    def forward():
        return from_yhat(W2 @ sigmoid(W1 @ x))

    y_hat, h, z = (values[k].copy() for k in ("y_hat", "h", "z"))
    x, W1, W2 = x.copy(), W1.copy(), W2.copy()  # perturbed in place
    return {"dE_dyhat": numerical_gradient(lambda: from_yhat(y_hat), y_hat, STEP),
            "dE_dh": numerical_gradient(lambda: from_yhat(W2 @ h), h, STEP),
            "dE_dz": numerical_gradient(lambda: from_yhat(W2 @ sigmoid(z)), z, STEP),
            "dE_dW2": numerical_gradient(forward, W2, STEP),
            "dE_dW1": numerical_gradient(forward, W1, STEP),
            "dE_dx": numerical_gradient(forward, x, STEP)}


def compute(options: dict, seed: int) -> StudyOutcome:
    """The values of :data:`STEPS`, and their checks (deterministic: ``seed`` is unused)."""
    from ..gradcheck import rel_error
    x, y, W1, W2 = (np.array(options[k], dtype=np.float64) for k in ("x", "y", "W1", "W2"))
    values = by_hand(x, y, W1, W2)
    engine = by_engine(x, y, W1, W2)
    numeric = numerically(x, y, W1, W2, values)
    symbols = {var: symbol for symbol, _, _, var in STEPS}
    checks = []
    for var, reference in engine.items():
        error = float(np.max(np.abs(values[var] - reference)))
        kind = "forward" if var in ("z", "h", "y_hat", "E") else "backward"
        checks.append(Check(f"{symbols[var]} ({kind})",
                            f"formula {_short(values[var])}", f"engine {_short(reference)}",
                            error, ENGINE_TOLERANCE))
    for var, reference in numeric.items():
        checks.append(Check(f"{symbols[var]} (numerical gradient)",
                            f"formula {_short(values[var])}",
                            f"centred differences {_short(reference)}",
                            rel_error(values[var], reference), NUMERICAL_TOLERANCE))
    quantities = [{"name": symbol, "formula": formula, "code": code, "shape": list(np.shape(
        values[var])), "value": np.asarray(values[var]).tolist()}
        for symbol, formula, code, var in STEPS]
    metrics = {"E": float(values["E"]),
               "engine_max_error": max(c.error for c in checks if "engine" in c.reference),
               "numerical_max_rel_error": max(c.error for c in checks
                                              if "centred" in c.reference)}
    return StudyOutcome(metrics=metrics, checks=checks, quantities=quantities,
                        data={"values": values, "W1": W1, "W2": W2})


def _short(value) -> str:
    value = np.asarray(value)
    if value.ndim == 0:
        return f"{float(value):.10g}"
    flat = ", ".join(f"{v:.6g}" for v in value.ravel()[:4])
    return f"[{flat}{', …' if value.size > 4 else ''}] {value.shape}"


def figures(outcome: StudyOutcome, folder: Path, title: str) -> list[str]:
    """Weights beside their gradients, every entry written in its cell."""
    from ..plots import pyplot, save_figure
    plt = pyplot()
    values = outcome.data["values"]
    panels = [("W₁", outcome.data["W1"]), ("∂E/∂W₁", values["dE_dW1"]),
              ("W₂", outcome.data["W2"]), ("∂E/∂W₂", values["dE_dW2"])]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    for ax, (name, matrix) in zip(axes, panels):
        limit = float(np.max(np.abs(matrix))) or 1.0
        ax.imshow(matrix, cmap="coolwarm", vmin=-limit, vmax=limit)
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=8)
        ax.set_title(f"{name}  {matrix.shape}", fontsize=10)
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_yticks(range(matrix.shape[0]))
    fig.suptitle(f"Weights and dE/dW (E = {float(values['E']):.6g}): {title}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, folder / "gradients.png")
    return ["gradients.png"]


STUDY = StudyKind(check=check_options, compute=compute, figures=figures,
                  summary="one backward pass written out and checked")

__all__ = ["STUDY", "STEPS", "DEFAULTS", "check_options", "by_hand", "by_engine",
           "numerically", "compute", "figures"]
