"""Runners: a run killed or interrupted midway resumes without loss; pool workers fail their
own trial only, exit with their driver, and stay quiet when it is gone; Ray matches the pool.

Runs are stopped at a known point: a :class:`~tests.experiment_helpers.Gate` callback holds
one trial until the test opens it, so no count depends on how fast trials train.
"""

import json
import signal
import subprocess
import sys
from multiprocessing import get_context
from pathlib import Path

import pytest

from neuralab.experiments import expand_trials, parse_experiment, run_experiment
from neuralab.experiments.runners import _worker
from neuralab.experiments.store import LOCK_NAME
from tests.experiment_helpers import gate_table, is_running, started, wait_until
from tests.test_experiments import BASE, experiment

REPO = Path(__file__).resolve().parents[1]


def _sweep(gate: Path, gated: set[int]) -> str:
    """Six points (units 2..7); the points in ``gated`` wait at the gate."""
    rows = ", ".join(f"[{units}, [{gate_table(gate)}]]" if i in gated else f"[{units}, []]"
                     for i, units in enumerate(range(2, 8)))
    return BASE + f'\n[sweep]\n"model.layers.0.units,fit.callbacks" = [{rows}]\n'


def _command(file: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "neuralab", "run", str(file), "-o", str(out), "--quiet",
            "--no-report", *options]


def _results(out: Path) -> list[Path]:
    return list(out.glob("trials/*/result.json"))


def test_resume_after_killing_a_run_midway(tmp_path):
    """SIGKILL while the fourth trial runs; --resume runs the last three, redoing none."""
    gate = tmp_path / "gate"
    gate.mkdir()
    file = tmp_path / "sweep.toml"
    file.write_text(_sweep(gate, gated={3}))
    out = tmp_path / "out"
    cmd = _command(file, out, "--executor", "local")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: started(gate), "the fourth trial to start")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    before = {p.parent.name: p.stat().st_mtime_ns for p in _results(out)}
    assert sorted(name[:3] for name in before) == ["p00", "p01", "p02"]
    # the killed run's lock file stays behind, naming it; its lock died with it
    assert (out / LOCK_NAME).read_text() == f"pid {proc.pid}\n"
    (gate / "open").touch()
    done = subprocess.run(cmd + ["--resume"], check=False, cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "3 trial(s) run, 3 reused, 0 failed" in done.stdout
    index = json.loads((out / "index.json").read_text())["trials"]
    ids = [r["id"] for r in index]
    assert len(ids) == 6 == len(set(ids))  # none lost, none twice
    assert all(r["status"] == "ok" for r in index)
    after = {p.parent.name: p.stat().st_mtime_ns for p in _results(out)}
    assert all(after[k] == v for k, v in before.items())  # finished trials were not rerun
    for path in out.rglob("*.json"):  # every stored JSON file is whole (atomic writes)
        json.loads(path.read_text())


def test_ctrl_c_stops_the_pool_cleanly_and_resume_completes(tmp_path):
    """Two workers: the first two trials finish, the next two wait at the gate; Ctrl-C."""
    gate = tmp_path / "gate"
    gate.mkdir()
    file = tmp_path / "sweep.toml"
    file.write_text(_sweep(gate, gated={2, 3, 4, 5}))
    out = tmp_path / "out"
    cmd = _command(file, out, "--executor", "process", "--workers", "2")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_until(lambda: len(started(gate)) == 2 and len(_results(out)) == 2,
                   "two finished trials and two waiting ones")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert len(_results(out)) == 2
    (gate / "open").touch()
    done = subprocess.run(cmd + ["--resume"], check=False, cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "4 trial(s) run, 2 reused, 0 failed" in done.stdout
    ids = [r["id"] for r in json.loads((out / "index.json").read_text())["trials"]]
    assert len(ids) == 6 == len(set(ids))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_pool_workers_exit_when_their_driver_is_killed(tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    file = tmp_path / "sweep.toml"
    file.write_text(_sweep(gate, gated={0, 1}))
    proc = subprocess.Popen(_command(file, tmp_path / "out", "--executor", "process",
                                     "--workers", "1"),
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers = []
    try:
        wait_until(lambda: started(gate), "the worker to start its trial")
        workers = started(gate)
        assert workers != [proc.pid]  # the trial runs in a worker, not in the driver
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        wait_until(lambda: not any(map(is_running, workers)), "the orphaned worker to exit",
                   timeout=60)
        # every writer of the driver's stderr is gone now, so this reads to its end
        _, stderr = proc.communicate(timeout=60)
        assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    finally:
        proc.kill()
        (gate / "open").touch()  # let a worker that outlived the test finish on its own


def _gated_trial(gate: Path):
    """The one trial of the tiny experiment, held at ``gate``."""
    exp = parse_experiment(BASE.replace("epochs = 5", "epochs = 5\ncallbacks = ["
                                        + gate_table(gate) + "]"), source="tiny.toml")
    return expand_trials(exp)[0]


def test_a_worker_whose_driver_is_gone_exits_quietly(tmp_path):
    """The driver's end closes while the worker trains: no BrokenPipeError, exit code 0."""
    gate = tmp_path / "gate"
    gate.mkdir()
    trial = _gated_trial(gate)
    context = get_context("spawn")
    driver_end, worker_end = context.Pipe()
    worker = context.Process(target=_worker, args=(worker_end, 1))
    worker.start()
    worker_end.close()
    driver_end.send(trial)
    wait_until(lambda: started(gate), "the worker to start the trial")
    driver_end.close()
    (gate / "open").touch()
    worker.join(timeout=120)
    assert worker.exitcode == 0


def test_process_pool_charges_a_dead_worker_to_its_trial_only(tmp_path):
    """A trial that kills its worker process fails alone; a fresh worker runs the others."""
    exp = experiment("""
[[variants]]
name = "a"

[[variants]]
name = "crash"
"model.layers" = [{type = "tests.experiment_helpers:CrashOnBuild"}, {type = "Dense", units = 1}]

[[variants]]
name = "b"
"fit.epochs" = 3

[[variants]]
name = "c"
"fit.epochs" = 4
""")
    summary = run_experiment(exp, tmp_path / "out", executor="process", workers=2, log=None)
    records = {r["point"]: r for r in json.loads((tmp_path / "out/index.json").read_text())["trials"]}
    assert summary.ran == 4 and summary.failed == 1
    assert records["crash"]["status"] == "failed"
    assert "worker process running this trial died (exit code 3)" in records["crash"]["error"]
    assert [records[p]["status"] for p in "abc"] == ["ok", "ok", "ok"]


def _histories(folder: Path) -> dict:
    return {p.parent.name: json.loads(p.read_text()) for p in folder.glob("trials/*/history.json")}


def test_ray_gives_the_same_results_as_the_process_pool(tmp_path):
    pytest.importorskip("ray", reason="the Ray executor needs pip install 'neuralab[ray]'")
    exp = experiment('\n[sweep]\n"model.layers.0.units" = [3, 5]\n[trials]\ncount = 2\n')
    pool = run_experiment(exp, tmp_path / "pool", executor="process", workers=2, log=None)
    ray = run_experiment(exp, tmp_path / "ray", executor="ray", workers=2, log=None)
    assert pool.ran == ray.ran == 4 and pool.failed == ray.failed == 0
    a, b = _histories(tmp_path / "pool"), _histories(tmp_path / "ray")
    assert a.keys() == b.keys() and len(a) == 4
    assert a == b  # bit for bit
    local = run_experiment(exp, tmp_path / "local", executor="local", log=None)
    assert local.ran == 4 and _histories(tmp_path / "local") == a
