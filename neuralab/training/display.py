"""Rich display in Jupyter: is this a notebook kernel, training histories as figures and
HTML tables, figures as PNG bytes.

Nothing here imports IPython, matplotlib or tqdm at module level: ``import neuralab`` stays
light, and these packages are only needed once something is displayed (extras
``neuralab[notebook]`` and ``neuralab[plots]``).
"""

from __future__ import annotations

import html
import io
import math
import sys

_SKIP = ("lr", "learning_rate")


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (ipykernel's shell), where output is shown
    as rich HTML, images and widgets rather than on a terminal."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def history_quantities(history: dict, metrics=None) -> list[str]:
    """The quantities of a ``History.history`` dict to draw, loss first: ``["loss",
    "accuracy"]`` (their ``val_*`` partners are drawn on the same axes).

    ``metrics`` picks some by name (``"loss"`` included or not); unknown names raise a
    ``ValueError`` listing the recorded ones."""
    recorded = [k for k in history if not k.startswith("val_") and k not in _SKIP]
    for key in history:  # validation-only entries (an evaluate-style log) still count
        base = key[4:] if key.startswith("val_") else None
        if base and base not in recorded:
            recorded.append(base)
    recorded.sort(key=lambda k: k != "loss")
    if metrics is None:
        return recorded
    wanted = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in wanted if m not in recorded]
    if unknown:
        raise ValueError(f"History has no {', '.join(map(repr, unknown))}; recorded: "
                         f"{', '.join(recorded) or 'nothing (fit has not run)'}")
    return wanted


def _values(values) -> list[float]:
    """Per-epoch values as floats (a vector metric such as F1 per class: its mean)."""
    out = []
    for v in values:
        try:
            out.append(float(v))
        except TypeError:
            import numpy as np
            out.append(float(np.mean(v)))
    return out


def draw_history(figure, history: dict, metrics=None, epochs=None) -> list:
    """Draw ``history`` on ``figure`` (cleared first): one panel per quantity, train and
    validation curves, loss on a log axis when it stays positive. Returns the axes.

    Shape: each ``history[key]`` is a list of E per-epoch values; ``epochs`` (length E,
    0-based as in ``History.epoch``) gives the x positions, epoch numbers from 1."""
    keys = history_quantities(history, metrics)
    figure.clear()
    axes = figure.subplots(1, max(len(keys), 1), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for name, label in ((key, "train"), ("val_" + key, "validation")):
            if name not in history or not history[name]:
                continue
            ys = _values(history[name])
            xs = ([e + 1 for e in epochs][-len(ys):] if epochs is not None and len(epochs) >= len(ys)
                  else list(range(1, len(ys) + 1)))
            ax.plot(xs, ys, marker="o" if len(ys) < 20 else None, markersize=3, label=label)
        finite = [v for n in (key, "val_" + key) for v in _values(history.get(n, []))
                  if math.isfinite(v)]
        if key == "loss" and finite and min(finite) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
    figure.tight_layout()
    return list(axes)


def new_figure(panels: int, pyplot: bool = True):
    """A figure wide enough for ``panels`` side by side; through pyplot (so that Jupyter's
    inline backend shows it) or a bare ``matplotlib.figure.Figure`` (drawn off screen)."""
    size = (4.5 * max(panels, 1), 3.4)
    try:
        if pyplot:
            import matplotlib.pyplot as plt
            return plt.figure(figsize=size)
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("Plots need matplotlib: pip install 'neuralab[plots]'") from None
    return Figure(figsize=size)


def figure_png(figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (what a notebook shows)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _cell(value) -> str:
    values = _values([value])[0] if value is not None else math.nan
    if not math.isfinite(values):
        return html.escape(str(values))
    return f"{values:.4g}" if abs(values) >= 1e-3 or values == 0 else f"{values:.3e}"


def history_html(history: dict, epochs=None, max_rows: int = 12) -> str:
    """An HTML table of a ``History.history`` dict: one row per epoch (the first and last
    ``max_rows // 2`` when there are more), one column per logged quantity."""
    keys = [k for k in history if k not in _SKIP]
    length = max((len(history[k]) for k in keys), default=0)
    if not keys or length == 0:
        return "<p><b>History</b>: no epochs recorded yet (fit has not run).</p>"
    epochs = list(epochs) if epochs is not None and len(epochs) == length else list(range(length))
    shown = list(range(length))
    if length > max_rows:
        shown = shown[:max_rows // 2] + [-1] + shown[-(max_rows // 2):]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = []
    for i in shown:
        if i < 0:
            rows.append(f'<tr><td colspan="{len(keys) + 1}" style="text-align:center">'
                        f"&hellip; {length - max_rows // 2 * 2} more epochs &hellip;</td></tr>")
            continue
        cells = "".join(f"<td>{_cell(history[k][i]) if i < len(history[k]) else ''}</td>"
                        for k in keys)
        rows.append(f"<tr><td>{epochs[i] + 1}</td>{cells}</tr>")
    return (f"<p><b>History</b>: {length} epoch(s)</p><table><thead><tr><th>epoch</th>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
