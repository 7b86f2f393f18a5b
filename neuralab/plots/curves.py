"""Curves over training: per-epoch histories and per-batch series.

A *run* is one trial's history, ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}``
(``History.history``). Several runs of the same setting are drawn as their mean with a
band of +- one standard deviation; runs stopped early are padded with NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._base import pyplot

_SKIP = ("loss", "lr", "learning_rate")


def stack(runs: list[dict], key: str) -> np.ndarray:
    """(n_runs, max_epochs) array of ``key``, NaN where a run has no value."""
    values = [list(run.get(key, [])) for run in runs]
    width = max((len(v) for v in values), default=0)
    out = np.full((len(values), width), np.nan)
    for i, v in enumerate(values):
        out[i, :len(v)] = v
    return out


def metric_key(run: dict) -> str | None:
    """The first metric of a history that is not the loss (``accuracy``, ``mse``, ...)."""
    for key in run:
        if not key.startswith("val_") and key not in _SKIP:
            return key
    return None


def _band(ax, runs, key, label, color=None, log=False):
    data = stack(runs, key)
    if data.size == 0 or np.all(np.isnan(data)):
        return
    epochs = np.arange(1, data.shape[1] + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns where every run stopped
        mean = np.nanmean(data, axis=0)
        std = np.nanstd(data, axis=0)
    line, = ax.plot(epochs, mean, label=label + (f" (mean of {len(runs)})" if len(runs) > 1 else ""),
                    color=color)
    if len(runs) > 1:
        low, high = mean - std, mean + std
        if log:
            low = np.where(low > 0, low, mean * 0.5)
        ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def _finish(ax, xlabel: str, ylabel: str, log: bool) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def learning_curves(runs: list[dict] | dict, title: str | None = None,
                    val_label: str = "validation"):
    """Accuracy (or the first metric) and loss on a log axis, train vs ``val_label``."""
    plt = pyplot()
    runs = [runs] if isinstance(runs, dict) else list(runs)
    metric = metric_key(runs[0]) if runs else None
    panels = ([metric] if metric else []) + ["loss"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, key in zip(axes[0], panels):
        _band(ax, runs, key, "train", log=key == "loss")
        _band(ax, runs, "val_" + key, val_label, log=key == "loss")
        _finish(ax, "epoch", key, log=key == "loss")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sweep_curves(groups: dict[str, list[dict]], title: str | None = None, prefer_val: bool = True):
    """One curve per sweep point (mean over its trials): the metric and the loss (log)."""
    plt = pyplot()
    first = next((runs[0] for runs in groups.values() if runs), {})
    metric = metric_key(first)
    panels = ([metric] if metric else []) + ["loss"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, key in zip(axes[0], panels):
        shown = "val_" + key if prefer_val and ("val_" + key) in first else key
        for label, runs in groups.items():
            _band(ax, runs, shown, label, log=key == "loss")
        _finish(ax, "epoch", shown, log=key == "loss")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def series_curves(panels: dict[str, dict[str, list[tuple]]], ylabel: str, xlabel: str = "batch",
                  log: bool = True, title: str | None = None):
    """Per-batch series: one subplot per panel, one line per label (mean over its runs).

    ``panels[panel][label]`` is a list of ``(steps, values)`` pairs, one per run.
    """
    plt = pyplot()
    n = len(panels)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols)) if n else 1
    fig, axes = plt.subplots(rows, max(cols, 1), figsize=(5 * max(cols, 1), 3.4 * rows),
                             squeeze=False)
    for ax, (panel, lines) in zip(axes.flat, panels.items()):
        for label, runs in lines.items():
            width = min(len(steps) for steps, _ in runs)
            values = np.array([np.asarray(v[:width], dtype=float) for _, v in runs])
            ax.plot(np.asarray(runs[0][0][:width]), values.mean(axis=0), label=label, linewidth=1)
        ax.set_title(panel)
        _finish(ax, xlabel, ylabel, log)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
