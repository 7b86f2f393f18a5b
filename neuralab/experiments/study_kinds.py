"""The registered studies (see :mod:`.studies`) and how a trial runs one.

==========  =====================================================================
descent     gradient descent, momentum and Adam on a quadratic (:mod:`.descent`)
backprop    one backward pass written out and checked (:mod:`.backprop`)
==========  =====================================================================

:mod:`.config` validates a ``[study]`` table with :data:`STUDIES` (its ``type``, then
that study's own ``check``); :func:`run_study` runs it for :mod:`.trial`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from . import backprop, descent
from .studies import CHECKS_FILE, QUANTITIES_FILE, StudyKind

STUDIES: dict[str, StudyKind] = {"descent": descent.STUDY, "backprop": backprop.STUDY}


def run_study(trial, result) -> None:
    """Fill the :class:`~.result.TrialResult` ``result`` in from the study of ``trial``:
    its metrics plus ``checks``, ``checks_failed`` and ``largest_check_error``; its checks
    and quantities as JSON artifacts; its figures (a failing figure becomes a problem)."""
    study = dict(trial.config["study"])
    kind = STUDIES[study.pop("type")]
    outcome = kind.compute(study, trial.seed)
    failed = sum(not c.ok for c in outcome.checks)
    result.metrics = {**outcome.metrics, "checks": len(outcome.checks), "checks_failed": failed}
    if outcome.checks:
        result.metrics["largest_check_error"] = max(c.error for c in outcome.checks)
    artifacts = {CHECKS_FILE: [c.record() for c in outcome.checks]}
    if outcome.quantities:
        artifacts[QUANTITIES_FILE] = outcome.quantities
    result.artifacts = {name: json.dumps(rows, indent=1, allow_nan=False).encode()
                        for name, rows in artifacts.items()}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            from ..plots import pyplot
            pyplot(agg=True)
            written = kind.figures(outcome, Path(tmp), f"{trial.point.name}, seed {trial.seed}")
        except ImportError as error:
            result.problems.append(f"figures: {error}")
        except Exception as error:  # noqa: BLE001 - the numbers and checks are kept
            result.problems.append(f"figures: {type(error).__name__}: {error}")
        else:
            result.artifacts.update({name: (Path(tmp) / name).read_bytes() for name in written})
    result.status = "ok"


__all__ = ["STUDIES", "run_study"]
