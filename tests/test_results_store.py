"""The results folder: one run at a time, never outside results/, only our own folders
cleared, and damaged files named instead of skipped."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuralab.cli import main
from neuralab.experiments import ResultsExistError, ResultsLockedError, results_folder, run_experiment, slug
from tests.experiment_helpers import gate_table, started, wait_until
from tests.test_experiments import BASE, experiment

REPO = Path(__file__).resolve().parents[1]


# --- one run at a time ----------------------------------------------------------------------------
def test_a_second_run_into_a_busy_folder_is_refused_and_the_first_keeps_its_results(
        tmp_path, capsys):
    gate = tmp_path / "gate"
    gate.mkdir()
    first = tmp_path / "first.toml"
    first.write_text(BASE.replace("epochs = 5", f"epochs = 5\ncallbacks = [{gate_table(gate)}]"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "neuralab", "run", str(first), "-o", str(out),
                             "--executor", "local", "--quiet", "--no-report"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: started(gate), "the first run to start its trial")
        with pytest.raises(ResultsLockedError, match=rf"^{re.escape(str(out))}: results folder is "
                                                     rf"in use by another run \(pid {proc.pid}\)$"):
            run_experiment(experiment(overrides={"fit.epochs": 2}), out, executor="local",
                           log=None)
        second = tmp_path / "second.toml"
        second.write_text(BASE)
        assert main(["run", str(second), "-o", str(out), "--set", "fit.epochs=2", "--executor",
                     "local", "--quiet"]) == 2
        assert (f"neuralab: error: {out}: results folder is in use by another run (pid "
                f"{proc.pid})\n") in capsys.readouterr().err
    finally:
        (gate / "open").touch()
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    # what the folder says it ran is what every trial ran
    assert "epochs = 5" in (out / "experiment.toml").read_text()
    history = json.loads((out / "trials/p00-default-s0/history.json").read_text())
    assert len(history["loss"]) == 5
    # the lock went with its run: the folder takes the next one
    again = run_experiment(experiment(overrides={"fit.epochs": 2}), out, executor="local",
                           log=None, overwrite=True)
    assert again.ran == 1


# --- names are not paths --------------------------------------------------------------------------
@pytest.mark.parametrize("name, folder", [
    ("../../escaped-exp", "escaped-exp"), ("/tmp/unrelated", "tmp_unrelated"),
    ("a/b", "a_b"), ("..", "experiment"), (".", "experiment"), ("lr sweep: 1e-3", "lr_sweep_1e-3"),
    ("C:\\results\\x", "C_results_x"),
])
def test_experiment_names_become_one_folder_inside_the_results_root(tmp_path, name, folder):
    assert slug(name) == folder
    assert results_folder(name, tmp_path / "results") == tmp_path / "results" / folder


def test_a_name_that_climbs_out_of_results_runs_inside_it(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    file = work / "exp.toml"
    file.write_text(BASE.replace('name = "tiny"', 'name = "../../escaped-exp"'))
    assert main(["run", str(file), "--executor", "local", "--quiet", "--no-report"]) == 0
    assert (work / "results/escaped-exp/trials/p00-default-s0/result.json").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["exp.toml", "results"]
    assert not (tmp_path / "escaped-exp").exists() and not (work.parent / "escaped-exp").exists()


def _unrelated(folder: Path) -> dict:
    for name in ("trials", "figures"):
        (folder / name).mkdir(parents=True)
        (folder / name / "keep.txt").write_text("mine")
    (folder / "report.html").write_text("mine")
    return {p.relative_to(folder): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_overwrite_never_clears_a_folder_that_is_not_a_results_folder(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.chdir(tmp_path)
    unrelated = tmp_path / "unrelated"
    files = _unrelated(unrelated)
    file = tmp_path / "exp.toml"
    file.write_text(BASE.replace('name = "tiny"', f'name = "{unrelated.as_posix()}"'))
    # an absolute name is a folder under results/, not the folder it spells
    assert main(["run", str(file), "--overwrite", "--executor", "local", "--quiet",
                 "--no-report"]) == 0
    assert (tmp_path / "results" / slug(unrelated.as_posix()) / "experiment.json").is_file()
    # and -o pointing at it is refused, whatever the flags
    assert main(["run", str(file), "-o", str(unrelated), "--overwrite", "--executor", "local",
                 "--quiet"]) == 2
    assert "not a neuralab results folder (no experiment.json)" in capsys.readouterr().err
    assert {p.relative_to(unrelated): p.read_text() for p in unrelated.rglob("*")
            if p.is_file()} == files
    with pytest.raises(ResultsExistError, match="not empty and not a neuralab results folder"):
        run_experiment(experiment(), unrelated, executor="local", log=None, resume=True)


# --- damaged files are named ----------------------------------------------------------------------
@pytest.fixture
def two_trials(tmp_path):
    out = tmp_path / "out"
    run_experiment(experiment("\n[trials]\ncount = 2\n"), out, executor="local", log=None)
    return out


def test_report_names_a_damaged_result_and_fails(two_trials, capsys):
    damaged = two_trials / "trials/p00-default-s1/result.json"
    damaged.write_text(damaged.read_text()[:40])
    assert main(["report", str(two_trials), "--no-figures"]) == 1
    err = capsys.readouterr().err
    assert f"neuralab: error: {damaged}: not valid JSON (line " in err
    assert "(expected a trial record written by neuralab run; rerun the trial with --resume)" in err
    html = (two_trials / "report.html").read_text()
    assert "p00-default-s1" in html and "damaged" in html and "not valid JSON" in html


def test_a_damaged_result_is_rerun_by_resume(two_trials):
    (two_trials / "trials/p00-default-s0/result.json").write_text('{"id": "p00-def')
    again = run_experiment(experiment("\n[trials]\ncount = 2\n"), two_trials, executor="local",
                           log=None, resume=True)
    assert (again.reused, again.ran) == (1, 1)
    json.loads((two_trials / "trials/p00-default-s0/result.json").read_text())


@pytest.mark.parametrize("content, problem", [
    ("", "not valid JSON (line 1, column 1: Expecting value)"),
    ('{"name": "x"}', "no list of points"),
])
def test_report_names_a_damaged_experiment_record(two_trials, capsys, content, problem):
    (two_trials / "experiment.json").write_text(content)
    assert main(["report", str(two_trials)]) == 2
    assert f"neuralab: error: {two_trials / 'experiment.json'}: {problem}" in capsys.readouterr().err


def test_a_damaged_history_is_named_by_report(two_trials, capsys):
    pytest.importorskip("matplotlib", reason="the learning-curve figures need neuralab[plots]")
    history = two_trials / "trials/p00-default-s0/history.json"
    history.write_bytes(b"\xff\xfe")
    assert main(["report", str(two_trials)]) == 2
    err = capsys.readouterr().err
    assert f"neuralab: error: {history}: not UTF-8 text (expected the history.json" in err
    assert "Traceback" not in err


# --- bad data files in a run ------------------------------------------------------------------------
def test_a_truncated_or_object_npz_is_named_before_any_trial(tmp_path, capsys):
    good = tmp_path / "good.npz"
    np.savez(good, x_train=np.zeros((4, 2)), y_train=np.zeros(4, dtype=int))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:100])
    objects = tmp_path / "objects.npz"
    np.savez(objects, x_train=np.array([{"a": 1}] * 4, dtype=object), y_train=np.zeros(4))
    for path, problem in ((truncated, "not a readable .npz archive"),
                          (objects, "array 'x_train' holds Python objects (dtype object)")):
        file = tmp_path / "exp.toml"
        file.write_text(BASE.replace('loader = "synthetic"\nn_samples = 120\nn_test = 80',
                                     f'loader = "npz"\npath = "{path.as_posix()}"'))
        out = tmp_path / f"out-{path.stem}"
        assert main(["run", str(file), "-o", str(out), "--executor", "local", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"neuralab: error: {path}: {problem}" in err and "Traceback" not in err
        assert not list(out.glob("trials/*"))


def test_a_sweep_over_an_unknown_data_option_creates_no_folder(tmp_path, capsys):
    file = tmp_path / "exp.toml"
    file.write_text(BASE + '\n[sweep]\n"data.n_samplez" = [10, 20]\n')
    out = tmp_path / "out"
    assert main(["run", str(file), "-o", str(out)]) == 2
    assert "sweep point 'n_samplez=10': data: n_samplez: not an option" in capsys.readouterr().err
    assert not out.exists()


def test_overwrite_removes_a_linked_trials_folder_but_not_what_it_points_to(tmp_path):
    out = tmp_path / "out"
    run_experiment(experiment(), out, executor="local", log=None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    shutil.rmtree(out / "trials")
    (out / "trials").symlink_to(elsewhere, target_is_directory=True)
    again = run_experiment(experiment(), out, executor="local", log=None, overwrite=True)
    assert again.ran == 1 and not (out / "trials").is_symlink()
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]
