"""Summaries of a results folder: trials grouped by sweep point, mean and std of their final
metrics, the best point, and mean curves."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .store import FINISHED, ResultsStore
from .trial import best_mode


@dataclass
class PointSummary:
    index: int
    name: str
    records: list = field(default_factory=list)

    @property
    def finished(self) -> list:
        return [r for r in self.records if r.get("status") in FINISHED]

    def values(self, metric: str) -> np.ndarray:
        vals = [r["metrics"].get(metric) for r in self.finished]
        return np.array([v for v in vals if v is not None and math.isfinite(v)], dtype=float)

    def mean_std(self, metric: str) -> tuple[float, float, int]:
        v = self.values(metric)
        if len(v) == 0:
            return math.nan, math.nan, 0
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


@dataclass
class Summary:
    name: str
    meta: dict
    points: list[PointSummary]
    records: list[dict]

    @property
    def counts(self) -> dict:
        out: dict = {}
        for r in self.records:
            out[r.get("status", "?")] = out.get(r.get("status", "?"), 0) + 1
        return out

    @property
    def damaged(self) -> list[str]:
        """One message per damaged file (naming it) found while reading the results."""
        return [r["error"] for r in self.records if r.get("status") == "damaged"]

    @property
    def watched(self) -> str:
        """What the val_* metrics were measured on: "validation" or "test" (the seeds watch
        the test set during training)."""
        return next((r["metrics"]["watched"] for r in self.records
                     if r.get("metrics", {}).get("watched")), "validation")

    def metric_names(self) -> list[str]:
        """Final metrics present in finished trials, most useful first."""
        names: list[str] = []
        for r in self.records:
            if r.get("status") in FINISHED:
                names += [k for k in r["metrics"] if k not in names and k != "watched"]
        order = {"test_": 0, "best_val": 1, "val_": 2}

        def rank(k):
            return next((v for p, v in order.items() if k.startswith(p)), 3), names.index(k)
        return sorted(names, key=rank)

    def select_metric(self) -> str | None:
        """The metric that picks the best point: ``[report] select``, else the first
        validation metric (never the test set), else the training loss."""
        chosen = self.meta.get("report", {}).get("select")
        if chosen:
            return chosen
        names = self.metric_names()
        for prefix in ("best_val_", "val_"):
            for k in names:
                if k.startswith(prefix) and k != "val_loss":
                    return k
        return "val_loss" if "val_loss" in names else ("loss" if "loss" in names else None)

    def best_point(self) -> PointSummary | None:
        metric = self.select_metric()
        if metric is None:
            return None
        scored = [(p.mean_std(metric)[0], p) for p in self.points if p.finished]
        scored = [(v, p) for v, p in scored if math.isfinite(v)]
        if not scored:
            return None
        sign = 1 if best_mode(metric.removeprefix("best_")) == "max" else -1
        return max(scored, key=lambda vp: sign * vp[0])[1]

    def headline(self) -> dict | None:
        """``[report] headline`` metric of the best point, with the seed's number."""
        report = self.meta.get("report", {})
        metric = report.get("headline")
        best = self.best_point()
        if not metric or best is None:
            return None
        mean, std, n = best.mean_std(metric)
        return {"metric": metric, "point": best.name, "mean": mean, "std": std, "n": n,
                "seed_value": report.get("seed_value"), "seed_note": report.get("seed_note", "")}


def summarize(root) -> Summary:
    """Group the trials of the results folder ``root`` by point; each trial's record is
    read from its own ``result.json`` (a damaged one becomes status ``damaged``)."""
    store = ResultsStore(root)
    meta = store.load_experiment()
    records = store.load_records()
    points = [PointSummary(p["index"], p["name"]) for p in meta["points"]]
    by_index = {p.index: p for p in points}
    for record in records:
        point = by_index.get(record.get("point_index"))
        if point is not None:
            point.records.append(record)
    return Summary(meta.get("name", "experiment"), meta, points, records)


def histories(store: ResultsStore, point: PointSummary) -> list[dict]:
    """The stored histories of ``point``'s finished trials (a damaged one raises
    :class:`~.store.DamagedResultError` naming its file)."""
    out = []
    for record in point.finished:
        history = store.load_json(record["id"], "history.json")
        if history:
            out.append(history)
    return out


def format_mean_std(mean: float, std: float, n: int) -> str:
    if n == 0 or not math.isfinite(mean):
        return "-"
    if std == 0 and float(mean).is_integer() and abs(mean) >= 2:  # epochs, parameter counts
        return f"{int(mean):,}"
    if 0 < abs(mean) < 1e-3:
        return f"{mean:.3g}" if n == 1 else f"{mean:.3g} ± {std:.2g}"
    digits = 4 if abs(mean) < 10 else 2
    return f"{mean:.{digits}f}" if n == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"
