"""The results folder of one experiment. Only the driver writes it, every file atomically,
and one run at a time (a lock held for the whole run)::

    RESULTS/
      experiment.toml      the file as given;  experiment.json: name, points, seeds, settings
      index.json           one record per trial: point, seed, status, final metrics, wall time
      trials/<trial id>/   config.json, history.json, history.csv, model.nlab, summary.txt,
                           series.json, artifacts/*.png|json, error.txt; result.json LAST
      figures/, report.html   made by ``neuralab report``

The store alone names these files: a trial gives back a
:class:`~neuralab.experiments.result.TrialResult` of values. A trial is finished when its
``result.json`` exists with status ``ok`` or ``diverged`` and the key of the same
configuration: re-running with ``resume=True`` skips it, and reruns failed, unfinished
(killed midway), damaged or changed trials.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..io_utils import atomic_write_bytes, atomic_write_text
from .result import TrialResult

FINISHED = ("ok", "diverged")
LOCK_NAME = ".neuralab-run.lock"
RESULT_EXPECTED = "a trial record written by neuralab run; rerun the trial with --resume"


class ResultsExistError(InputError):
    """The results folder already holds results (or other files) and neither resume nor
    overwrite applies."""


class ResultsLockedError(InputError):
    """Another run is writing to the same results folder."""


class DamagedResultError(InputError):
    """A file of the results folder cannot be read back (truncated, edited, not JSON)."""


def slug(text: str, limit: int = 48, fallback: str = "experiment") -> str:
    """``text`` as one safe file name: letters, digits and ``_.=+-`` only, no leading or
    trailing dots (never ``.`` or ``..``), at most ``limit`` characters."""
    name = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", str(text)).strip("_.")[:limit].rstrip(".")
    return name or fallback


def results_folder(name: str, root: str | os.PathLike = "results") -> Path:
    """The default results folder of an experiment called ``name``: ``root/<slug>``, never
    outside ``root`` (``name = "../../x"`` or ``"/etc"`` included)."""
    root = Path(root)
    folder = root / slug(name)
    if not folder.resolve().is_relative_to(root.resolve()):  # a link inside root
        raise InputError(f"the results folder {folder} leads outside {root}",
                         expected=f"a folder inside {root}; choose one with -o")
    return folder


def _dump(value) -> str:
    return json.dumps(value, indent=1, allow_nan=False, default=str)


def read_json(path: Path, expected: str):
    """The JSON in ``path``; a damaged file raises :class:`DamagedResultError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DamagedResultError("not UTF-8 text", path, expected) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedResultError(f"not valid JSON (line {error.lineno}, column {error.colno}: "
                                 f"{error.msg})", path, expected) from None


def history_csv(history: dict) -> str:
    """One row per epoch: ``epoch,loss,accuracy,...``."""
    keys = list(history)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["epoch"] + keys)
    for i in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([i + 1] + [history[k][i] if i < len(history[k]) else "" for k in keys])
    return out.getvalue()


def _try_lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: lock one byte past any content
        import msvcrt
        handle.seek(1 << 20)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class ResultsStore:
    def __init__(self, root):
        self.root = Path(root)

    # -- layout ----------------------------------------------------------------------------
    def trial_dir(self, trial_id: str) -> Path:
        return self.root / "trials" / trial_id

    def has_results(self) -> bool:
        return any(self.root.glob("trials/*/result.json"))

    def is_results_folder(self) -> bool:
        return (self.root / "experiment.json").is_file()

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one run; a second run into it fails at once with
        :class:`ResultsLockedError`. The operating system drops the lock when the holder
        exits, killed included, so ``--resume`` works after a crash. A folder that is not
        ours is refused before the lock file is written into it."""
        self._refuse_foreign()
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_NAME, "a+", encoding="utf-8") as handle:
            if not _try_lock(handle):
                handle.seek(0)
                holder = re.match(r"pid (\d+)", handle.read())
                raise ResultsLockedError("results folder is in use by another run (pid "
                                         f"{holder[1] if holder else '?'})", self.root)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            yield

    def _refuse_foreign(self) -> None:
        """Only a new or empty folder, or one written by neuralab, is ever written to."""
        if not self.root.is_dir() or self.is_results_folder():
            return
        if any(p.name != LOCK_NAME for p in self.root.iterdir()):
            raise ResultsExistError(
                "not empty and not a neuralab results folder (no experiment.json)", self.root,
                "a new or empty folder, or one written by neuralab run; choose another -o "
                "folder")

    def prepare(self, experiment, trials, resume: bool = False, overwrite: bool = False) -> None:
        """Create (or reopen) the folder and record the experiment. Only a folder written
        by neuralab (it has ``experiment.json``) is ever cleared or added to."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._refuse_foreign()
        if self.has_results() and not (resume or overwrite):
            raise ResultsExistError(
                "already holds results", self.root,
                "--resume to keep finished trials and run the rest, or --overwrite to start "
                "again (or choose another -o folder)")
        if overwrite:
            for name in ("trials", "figures", "index.json", "report.html"):
                _remove(self.root / name)
        points: dict = {}
        for trial in trials:
            points.setdefault(trial.point.index, {
                "index": trial.point.index, "name": trial.point.name,
                "overrides": [list(o) for o in trial.point.overrides],
                "trials": []})["trials"].append(trial.id)
        meta = {"name": experiment.name, "description": experiment.description,
                "source": experiment.source, "seeds": experiment.seeds,
                "sweep": dict(experiment.sweep),
                "variants": [v.get("name") for v in experiment.variants],
                "report": experiment.report, "base": experiment.base,
                "points": list(points.values())}
        atomic_write_text(self.root / "experiment.json", _dump(meta))
        atomic_write_text(self.root / "experiment.toml", _toml_text(experiment))

    def finished(self, trial) -> dict | None:
        """The stored record of ``trial`` if it finished with the same configuration (a
        damaged record counts as unfinished: the trial runs again and replaces it)."""
        try:
            record = self.load_result(trial.id)
        except DamagedResultError:
            return None
        if record and record.get("key") == trial.key and record.get("status") in FINISHED:
            return record
        return None

    def save_trial(self, result: TrialResult) -> dict:
        """Write a trial's files, then its ``result.json``; returns the index record."""
        folder = self.trial_dir(result.id)
        files = {"config.json": json.dumps(result.config, indent=1, default=str)}
        if result.history is not None:
            files["history.json"] = json.dumps(result.history)
            files["history.csv"] = history_csv(result.history)
        if result.model is not None:
            files["model.nlab"] = result.model
        if result.summary is not None:
            files["summary.txt"] = result.summary
        if result.series is not None:
            files["series.json"] = json.dumps(result.series)
        for name, data in result.artifacts.items():
            if name != Path(name).name or name.startswith("."):
                raise ValueError(f"artifact {name!r} of trial {result.id}: expected a plain "
                                 "file name")
            files[f"artifacts/{name}"] = data
        if result.error is not None and result.status == "failed":
            files["error.txt"] = result.error
        for name, data in files.items():
            atomic_write_bytes(folder / name, data.encode() if isinstance(data, str) else data)
        record = result.record()
        record["files"] = sorted(files)
        atomic_write_text(folder / "result.json", _dump(record))
        return record

    def write_index(self, records: list[dict]) -> None:
        atomic_write_text(self.root / "index.json", _dump({"trials": records}))

    # -- reading ---------------------------------------------------------------------------
    def load_result(self, trial_id: str) -> dict | None:
        """A trial's record; None when it has none yet, :class:`DamagedResultError` when
        its ``result.json`` is damaged."""
        path = self.trial_dir(trial_id) / "result.json"
        if not path.is_file():
            return None
        record = read_json(path, RESULT_EXPECTED)
        if not isinstance(record, dict) or not {"id", "status", "metrics"} <= set(record):
            raise DamagedResultError("not a trial record (no id, status and metrics)", path,
                                     RESULT_EXPECTED)
        return record

    def load_experiment(self) -> dict:
        path = self.root / "experiment.json"
        if not path.is_file():
            raise InputError("not a results folder (no experiment.json)", self.root,
                             "a folder written by neuralab run; run an experiment first: "
                             "neuralab run FILE.toml")
        meta = read_json(path, "the experiment record written by neuralab run")
        if not isinstance(meta, dict) or not isinstance(meta.get("points"), list):
            raise DamagedResultError("no list of points", path,
                                     "the experiment record written by neuralab run")
        return meta

    def load_records(self) -> list[dict]:
        """Every trial's record in experiment order, read from its own ``result.json``.
        A damaged one becomes a record with status ``damaged`` whose ``error`` names the
        file; trials not run yet are left out."""
        meta = self.load_experiment()
        records = []
        for point in meta["points"]:
            for trial_id in point.get("trials", []):
                try:
                    record = self.load_result(trial_id)
                except DamagedResultError as error:
                    record = {"id": trial_id, "point": point.get("name"),
                              "point_index": point.get("index"), "seed": None,
                              "status": "damaged", "metrics": {}, "problems": [],
                              "error": str(error), "wall_s": None}
                if record is not None:
                    records.append(record)
        return records

    def load_json(self, trial_id: str, name: str):
        """A trial's JSON file (None if absent; :class:`DamagedResultError` if damaged)."""
        path = self.trial_dir(trial_id) / name
        return read_json(path, f"the {name} written by neuralab run") if path.is_file() else None


def _remove(path: Path) -> None:
    """Delete ``path``: a link itself (never what it points to), a file, or a folder."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _toml_text(experiment) -> str:
    """The experiment document written back as TOML (after --quick/--set overrides)."""
    lines = [f"# {experiment.name}: the experiment as run (overrides applied)"]
    return "\n".join(lines) + "\n" + dumps_toml(experiment.document)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise ValueError(f"cannot write {v!r} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def dumps_toml(doc: dict) -> str:
    """A small TOML writer for experiment documents (tables of values, arrays of tables)."""
    out = [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict)
           and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))]
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(f"\n[{_key(k)}]")
            out += [f"{_key(kk)} = {_value(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                out.append(f"\n[[{_key(k)}]]")
                out += [f"{_key(kk)} = {_value(vv)}" for kk, vv in item.items()]
    return "\n".join(out) + "\n"
