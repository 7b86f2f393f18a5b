"""Running a whole experiment: lock its results folder, expand trials, skip finished ones,
run the rest, and keep the index current after every trial.

The report is not written here (it reads what this writes): ``neuralab run`` composes the
two, and from Python ``write_report(summary.output)`` follows ``run_experiment``."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .runners import execute
from .store import ResultsStore
from .sweep import expand_trials


@dataclass
class RunSummary:
    output: Path
    total: int
    reused: int
    ran: int
    failed: int
    diverged: int
    seconds: float
    interrupted: bool = False


def _line(record: dict, done: int, total: int) -> str:
    """``[3/6] units=4 seed 1: test_accuracy 0.91 (2.3 s)`` for a finished trial."""
    metrics = record.get("metrics", {})
    shown = [k for k in metrics if k.startswith("test_") and k != "test_loss"][:1] or \
        [k for k in metrics if k.startswith("best_val_")][:1] or \
        [k for k in ("val_loss", "loss", "checks_failed") if k in metrics][:1]
    values = ", ".join(f"{k} {metrics[k]:.4g}" for k in shown if isinstance(metrics[k], (int, float))
                       and math.isfinite(metrics[k]))
    status = record["status"] if record["status"] != "ok" else ""
    detail = values if not status else status + (": " + record["error"].strip().splitlines()[-1]
                                                 if record.get("error") else "")
    return f"[{done}/{total}] {record['point']} seed {record['seed']}: {detail} ({record['wall_s']:.1f} s)"


class DataUnavailableError(FileNotFoundError):
    """The experiment's data cannot be loaded (checked once, before any trial runs)."""


def check_data(trials, keep: bool) -> None:
    """Load each distinct data table once here, so that missing files or bad options stop
    the run with one clear message instead of failing every trial, and slow derived data
    (audio features) is cached before the workers start. ``keep=False`` frees the arrays
    afterwards (pool and Ray workers load their own copies)."""
    import json

    from .data import clear_cache, load_data
    seen = set()
    try:
        for trial in trials:
            if "data" not in trial.config:  # a study: nothing to load
                continue
            options = trial.config["data"]
            key = json.dumps(options, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            load_data(options, trial.seed)
    except (FileNotFoundError, ImportError) as error:
        raise DataUnavailableError(f"data for {trial.point.name!r}: {error}") from None
    finally:
        if not keep:
            clear_cache()


def run_experiment(experiment, output, executor: str = "process", workers: int | None = None,
                   address: str | None = None, resume: bool = False, overwrite: bool = False,
                   log=print) -> RunSummary:
    """Run every trial of ``experiment`` into the folder ``output``; see the package doc.

    The folder is locked for the whole run: a second run into it raises
    :class:`~.store.ResultsLockedError`. ``log`` receives one line per finished trial
    (``None`` for silence). Ctrl-C stops cleanly: finished trials stay on disk and
    ``resume=True`` continues from there.
    """
    start = time.perf_counter()
    trials = expand_trials(experiment)
    store = ResultsStore(output)
    log = log or (lambda _: None)
    with store.lock():
        store.prepare(experiment, trials, resume=resume, overwrite=overwrite)
        records = {t.id: r for t in trials if (r := store.finished(t)) is not None}
        todo = [t for t in trials if t.id not in records]
        reused = len(records)
        if executor == "process" and len(todo) <= 1:
            executor = "local"  # a pool for one trial only costs its start-up
        if todo:
            check_data(todo, keep=executor == "local")
        if reused:
            log(f"{reused} of {len(trials)} trials already finished in {output}; running the "
                f"other {len(todo)}")
        interrupted = _run_all(todo, trials, records, store, log, executor, workers, address)
    fresh = [records[t.id] for t in todo if t.id in records]
    return RunSummary(Path(output), len(trials), reused, len(fresh),
                      sum(r["status"] == "failed" for r in fresh),
                      sum(r["status"] == "diverged" for r in fresh),
                      time.perf_counter() - start, interrupted=interrupted)


def _run_all(todo, trials, records: dict, store, log, executor, workers, address) -> bool:
    """Run ``todo``, saving each result and the index as it comes; True if interrupted."""
    bar = _progress(len(todo))
    interrupted = False
    try:
        for result in execute(todo, executor, workers, address):
            records[result.id] = store.save_trial(result)
            store.write_index([records[t.id] for t in trials if t.id in records])
            bar.update(1)
            log(_line(records[result.id], len(records), len(trials)))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    store.write_index([records[t.id] for t in trials if t.id in records])
    return interrupted


def _progress(total: int):
    """A bar over trials on an interactive terminal; per-trial lines are logged anyway."""
    from ..utils import progress_bar
    return progress_bar(total, total > 1 and sys.stderr.isatty(), unit="trial", desc="trials",
                        leave=False)


__all__ = ["DataUnavailableError", "RunSummary", "check_data", "run_experiment"]
