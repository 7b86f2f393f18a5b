"""Studies: experiments that compute and check instead of training a network.

An experiment file with a ``[study]`` table (and no data/model/compile/fit tables) runs a
*study* in each trial: a computation whose numbers are compared with closed forms, such
as gradient descent on a quadratic (``descent``) or one backward pass written out by hand
(``backprop``)::

    name = "descent"

    [study]
    type = "descent"                  # a name in STUDIES
    condition_numbers = [1, 10, 100]  # the study's own options, checked when loaded

Sweeps, variants and trials work as for training experiments (a sweep over
``study.steps`` gives one point per value). A study returns a :class:`StudyOutcome`:

==========  ==========================================================================
metrics     final numbers of the trial (``index.json`` and the report's tables)
checks      :class:`Check` rows, measured value against its closed form, each passed or
            failed; written to ``artifacts/checks.json``, printed by ``neuralab lab run``
quantities  named values written out as the course material writes them (a formula,
            the NumPy code, the array); ``artifacts/quantities.json``
==========  ==========================================================================

and may draw figures from it (``artifacts/*.png``; they need matplotlib, and a figure
that fails is reported, never fatal). The studies are registered in :mod:`.study_kinds`,
which runs them; this module holds their types and reads their results back:
:func:`read_checks` and :func:`format_check` serve the command line, the notebook and the
report alike (and :func:`read_quantities`, :func:`print_quantities` the written-out values).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

CHECKS_FILE = "checks.json"
QUANTITIES_FILE = "quantities.json"


@dataclass
class Check:
    """One measured number against its closed form: ``ok`` when ``error <= tolerance``.

    ``measured`` and ``reference`` are the texts printed side by side, e.g.
    ``"measured ρ1 = 0.9"`` and ``"closed form 1 − aη = 0.9"``."""

    name: str
    measured: str
    reference: str
    error: float
    tolerance: float

    def __post_init__(self):
        self.error, self.tolerance = float(self.error), float(self.tolerance)

    @property
    def ok(self) -> bool:
        return math.isfinite(self.error) and self.error <= self.tolerance

    def record(self) -> dict:
        return {**asdict(self), "ok": self.ok}


@dataclass
class StudyOutcome:
    """What a study computed: see the module doc. ``data`` is kept for its figures only."""

    metrics: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    quantities: list[dict] = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StudyKind:
    """A study: ``check(options) -> options`` validates its table (raising ValueError
    naming the option) and fills in defaults; ``compute(options, seed)`` runs it;
    ``figures(outcome, folder, title)`` writes its PNGs and returns their names."""

    check: Callable[[dict], dict]
    compute: Callable[[dict, int], StudyOutcome]
    figures: Callable[[StudyOutcome, Path, str], list[str]]
    summary: str = ""


def with_defaults(study: str, options: dict, defaults: dict) -> dict:
    """``options`` of the ``study`` table over its ``defaults``; an option the study does
    not have raises a ValueError listing the accepted ones."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} of the {study} study; accepted: "
                         f"{', '.join(defaults)}")
    return {**defaults, **options}


# -- reading the checks back -------------------------------------------------------------
def format_check(row: dict) -> str:
    """``ok      GD κ=10, η=0.1: measured ρ1 = 0.9, closed form 1 − aη = 0.9 (error 0.0e+00, ...)``"""
    mark = "ok" if row["ok"] else "FAILED"
    return (f"{mark:6s}  {row['name']}: {row['measured']}, {row['reference']} "
            f"(error {row['error']:.1e}, tolerance {row['tolerance']:.0e})")


def _read_rows(folder, artifact: str) -> list[tuple[str, list[dict]]]:
    """(trial id, rows) of every finished trial of the results ``folder`` whose
    ``artifacts/<artifact>`` holds rows."""
    from .store import FINISHED, ResultsStore
    store = ResultsStore(folder)
    return [(record["id"], rows) for record in store.load_records()
            if record.get("status") in FINISHED
            and (rows := store.load_json(record["id"], f"artifacts/{artifact}"))]


def read_checks(folder) -> list[tuple[str, list[dict]]]:
    """(trial id, check rows) of every finished trial of the results ``folder`` that has
    checks (a damaged file raises :class:`~.store.DamagedResultError` naming it)."""
    return _read_rows(folder, CHECKS_FILE)


def print_checks(folder, print_fn=print) -> int:
    """Print every closed-form check of a results folder; returns how many failed."""
    failed = 0
    for trial_id, rows in read_checks(folder):
        print_fn(f"closed-form checks ({trial_id}):")
        for row in rows:
            print_fn("  " + format_check(row))
        failed += sum(not row["ok"] for row in rows)
        print_fn(f"  {len(rows) - sum(not r['ok'] for r in rows)} of {len(rows)} checks passed")
    return failed


def read_quantities(folder) -> list[tuple[str, list[dict]]]:
    """(trial id, quantity rows) of every finished trial of the results ``folder`` that
    wrote values out (``artifacts/quantities.json``)."""
    return _read_rows(folder, QUANTITIES_FILE)


def format_value(value, precision: int = 6) -> str:
    """An array (nested lists) as NumPy prints it."""
    import numpy as np
    return np.array2string(np.asarray(value, dtype=float), precision=precision,
                           suppress_small=True, max_line_width=100)


def print_quantities(folder, print_fn=print) -> None:
    """Print each written-out value: the formula, its NumPy line, the array."""
    for trial_id, rows in read_quantities(folder):
        print_fn(f"values ({trial_id}):")
        for row in rows:
            value = format_value(row["value"]).replace("\n", "\n" + " " * 8)
            print_fn(f"  {row['formula']}\n      {row['code']}\n      = {value}")


__all__ = ["Check", "StudyOutcome", "StudyKind", "with_defaults", "read_checks", "format_check",
           "print_checks", "read_quantities", "format_value", "print_quantities", "CHECKS_FILE",
           "QUANTITIES_FILE"]
