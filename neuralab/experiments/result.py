"""What a trial gives back: :class:`TrialResult`, plain data that crosses process and
Ray boundaries. It holds values, not files: the results store alone decides the files
they are written to (see :mod:`.store`)."""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = ("ok", "diverged", "failed")


@dataclass
class TrialResult:
    """One trial's outcome. ``status`` is ``ok``, ``diverged`` (stopped on a non-finite
    loss; the metrics are those of the last finite weights) or ``failed`` (``error`` holds
    the traceback or the reason)."""

    id: str
    key: str
    point: str
    point_index: int
    seed: int
    config: dict
    status: str = "failed"
    metrics: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    wall_s: float = 0.0
    history: dict | None = None            # metric name -> one value per epoch
    model: bytes | None = None             # the trained model in the .nlab format
    summary: str | None = None             # model.summary() text
    series: dict | None = None             # per-step series (gradient norms)
    artifacts: dict[str, bytes] = field(default_factory=dict)  # analysis figures and tables

    @classmethod
    def failed(cls, trial, error: str | None = None) -> TrialResult:
        """The result of ``trial`` before (or without) a run: ``failed`` with ``error``."""
        return cls(trial.id, trial.key, trial.point.name, trial.point.index, trial.seed,
                   trial.config, error=error)

    def record(self) -> dict:
        """The JSON record of ``result.json`` and ``index.json`` (no arrays, no bytes)."""
        return {"id": self.id, "key": self.key, "point": self.point,
                "point_index": self.point_index, "seed": self.seed, "status": self.status,
                "metrics": self.metrics, "problems": self.problems, "error": self.error,
                "wall_s": self.wall_s}
