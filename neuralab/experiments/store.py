"""The results folder of one experiment. Only the driver writes it, every file atomically::

    RESULTS/
      experiment.toml      the file as given;  experiment.json: name, points, seeds, settings
      index.json           one record per trial: point, seed, status, final metrics, wall time
      trials/<trial id>/   config.json, history.json, history.csv, model.nlab, summary.txt,
                           series.json, artifacts/*.png|json, error.txt; result.json LAST
      figures/, report.html   made by ``neuralab report``

A trial is finished when its ``result.json`` exists with status ``ok`` or ``diverged`` and
the key of the same configuration: re-running with ``resume=True`` skips it, and reruns
failed, unfinished (killed midway) or changed trials.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..io_utils import atomic_write_bytes, atomic_write_text

FINISHED = ("ok", "diverged")


class ResultsExistError(FileExistsError):
    """The results folder already holds trials and neither resume nor overwrite was asked."""


def _dump(value) -> str:
    return json.dumps(value, indent=1, allow_nan=False, default=str)


class ResultsStore:
    def __init__(self, root):
        self.root = Path(root)

    # -- layout ----------------------------------------------------------------------------
    def trial_dir(self, trial_id: str) -> Path:
        return self.root / "trials" / trial_id

    def has_results(self) -> bool:
        return any(self.root.glob("trials/*/result.json"))

    # -- writing ---------------------------------------------------------------------------
    def prepare(self, experiment, trials, resume: bool = False, overwrite: bool = False) -> None:
        """Create (or reopen) the folder and record the experiment."""
        if self.has_results() and not (resume or overwrite):
            raise ResultsExistError(
                f"{self.root} already holds results: pass --resume to keep finished trials and "
                "run the rest, or --overwrite to start again (or choose another -o folder)")
        if overwrite:
            for name in ("trials", "figures"):
                shutil.rmtree(self.root / name, ignore_errors=True)
            for name in ("index.json", "report.html"):
                (self.root / name).unlink(missing_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        points = {}
        for trial in trials:
            points.setdefault(trial.point.index, {"index": trial.point.index, "name": trial.point.name,
                                                  "overrides": [list(o) for o in trial.point.overrides],
                                                  "trials": []})["trials"].append(trial.id)
        meta = {"name": experiment.name, "description": experiment.description,
                "source": experiment.source, "seeds": experiment.seeds,
                "sweep": {k: v for k, v in experiment.sweep.items()},
                "variants": [v.get("name") for v in experiment.variants],
                "report": experiment.report, "base": experiment.base,
                "points": list(points.values())}
        atomic_write_text(self.root / "experiment.json", _dump(meta))
        atomic_write_text(self.root / "experiment.toml", _toml_text(experiment))

    def finished(self, trial) -> dict | None:
        """The stored record of ``trial`` if it finished with the same configuration."""
        record = self.load_result(trial.id)
        if record and record.get("key") == trial.key and record.get("status") in FINISHED:
            return record
        return None

    def save_trial(self, result: dict) -> dict:
        """Write a trial's files, then its ``result.json``; returns the index record."""
        folder = self.trial_dir(result["id"])
        for name, data in result["files"].items():
            atomic_write_bytes(folder / name, data)
        record = {k: v for k, v in result.items() if k != "files"}
        record["files"] = sorted(result["files"])
        atomic_write_text(folder / "result.json", _dump(record))
        return record

    def write_index(self, records: list[dict]) -> None:
        atomic_write_text(self.root / "index.json", _dump({"trials": records}))

    # -- reading ---------------------------------------------------------------------------
    def load_result(self, trial_id: str) -> dict | None:
        path = self.trial_dir(trial_id) / "result.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def load_experiment(self) -> dict:
        path = self.root / "experiment.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.root} is not a results folder (no experiment.json)")
        return json.loads(path.read_text())

    def load_index(self) -> list[dict]:
        """Trial records in experiment order (from index.json, else from the trial folders)."""
        path = self.root / "index.json"
        if path.is_file():
            return json.loads(path.read_text())["trials"]
        meta = self.load_experiment()
        ids = [tid for point in meta["points"] for tid in point["trials"]]
        return [r for r in (self.load_result(t) for t in ids) if r is not None]

    def load_json(self, trial_id: str, name: str):
        path = self.trial_dir(trial_id) / name
        return json.loads(path.read_text()) if path.is_file() else None


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
