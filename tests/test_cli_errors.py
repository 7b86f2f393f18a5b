"""How the command line reports errors: one line ``neuralab: error: <file>: <what> (expected
...)``, never a traceback, and the exit codes its ``--help`` documents."""

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuralab.cli import basic as basic_commands
from neuralab.cli import main
from neuralab.datasets import download

from .conftest import REPO

EXPERIMENT = """\
name = "npz"
seed = 0
[data]
loader = "npz"
path = "{path}"
[model]
layers = [{{type = "Dense", units = 2, activation = "softmax"}}]
[compile]
optimizer = "adam"
loss = "sparse_categorical_crossentropy"
[fit]
epochs = 1
"""


class Exploit:
    """Unpickling this would create ``marker``: the crafted batch must never do so."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crafted_batch(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Exploit(tmp_path / "pwned"), b"labels": [0]},
                                  protocol=2))
    return path


def truncated_npz(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, x_train=np.zeros((40, 3)), y_train=np.arange(40) % 2)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def object_npz(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x_train=np.array([[1.0, "a"], [None, 2]], dtype=object), y_train=np.arange(2))
    return path


def run_error(capsys, argv, code):
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for line in ("0   success", "1   the run failed while working", "2   bad usage or bad input",
                 "130 interrupted", "NEURALAB_DEBUG=1"):
        assert line in out


def test_crafted_cifar_batch_is_a_clear_input_error(tmp_path, capsys):
    path = crafted_batch(tmp_path)
    err = run_error(capsys, ["data", "info", str(path)], 2)
    assert err.startswith(f"neuralab: error: {path}: refusing to load posix.system: not a genuine "
                          "CIFAR-10 batch (it may run code) (expected a CIFAR-10 batch")
    assert not (tmp_path / "pwned").exists()


def test_crafted_cifar_batch_in_a_subprocess_shows_no_traceback(tmp_path):
    path = crafted_batch(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "neuralab", "data", "info", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "NEURALAB_DEBUG": ""})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"neuralab: error: {path}: refusing to load")
    assert not (tmp_path / "pwned").exists()


def test_truncated_npz_in_data_info_names_the_file(tmp_path, capsys):
    path = truncated_npz(tmp_path)
    err = run_error(capsys, ["data", "info", str(path)], 2)
    assert err.startswith(f"neuralab: error: {path}: not a readable .npz archive (File is not a "
                          "zip file)")


def test_object_array_in_data_info_names_the_file_and_key(tmp_path, capsys):
    path = object_npz(tmp_path)
    err = run_error(capsys, ["data", "info", str(path)], 2)
    assert err.startswith(f"neuralab: error: {path}: array 'x_train' holds Python objects")


@pytest.mark.parametrize("make", [truncated_npz, object_npz])
def test_bad_npz_in_run_names_the_file(tmp_path, capsys, make):
    path = make(tmp_path)
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(EXPERIMENT.format(path=path))
    err = run_error(capsys, ["run", str(experiment), "-o", str(tmp_path / "out"), "--executor",
                             "local", "--quiet", "--no-report"], 2)
    assert f"neuralab: error: {path}: " in err


def test_checksum_mismatch_is_a_failed_download(monkeypatch, capsys):
    def mismatch(name, force=False, progress=True):
        raise download.ChecksumError("train-images-idx3-ubyte.gz: sha256 mismatch: expected 1, "
                                     "got 2; the download was deleted")
    monkeypatch.setattr(download, "fetch", mismatch)
    err = run_error(capsys, ["data", "get", "mnist"], 1)
    assert err == ("neuralab: error: train-images-idx3-ubyte.gz: sha256 mismatch: expected 1, "
                   "got 2; the download was deleted\n")
    assert issubclass(download.ChecksumError, download.DownloadError)
    assert issubclass(download.ChecksumError, ValueError)  # as before, for library users


def test_missing_file_names_it(tmp_path, capsys):
    err = run_error(capsys, ["data", "info", str(tmp_path / "nothing.npz")], 2)
    assert err == f"neuralab: error: {tmp_path / 'nothing.npz'}: no such file or folder\n"


def test_unknown_single_file_says_what_is_expected(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    err = run_error(capsys, ["data", "info", str(tmp_path / "notes.txt")], 2)
    assert err.startswith(f"neuralab: error: {tmp_path / 'notes.txt'}: unknown format (expected "
                          "a dataset folder, .h5, .npy, .npz, an IDX file")


def test_single_idx_file_is_described(capsys):
    from .conftest import shared_data
    path = shared_data("mnist", "t10k-labels-idx1-ubyte.gz")
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format: IDX (gzip)" in out and "shape (10000,), dtype uint8" in out
    assert "values 0..9" in out and "0: 980, 1: 1135" in out


def test_unexpected_error_is_an_internal_error_with_a_hint(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("boom")
    monkeypatch.setattr(basic_commands, "_data_info", broken)
    monkeypatch.delenv("NEURALAB_DEBUG", raising=False)
    err = run_error(capsys, ["data", "info", "x"], 1)
    assert err.startswith("neuralab: internal error: RuntimeError: boom\n")
    assert "rerun with NEURALAB_DEBUG=1 to see the traceback" in err
    monkeypatch.setenv("NEURALAB_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["data", "info", "x"])


def test_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(basic_commands, "_data_info", interrupted)
    assert run_error(capsys, ["data", "info", "x"], 130) == "neuralab: interrupted\n"


def test_diverged_training_is_a_failed_run(monkeypatch, capsys):
    from neuralab.models import TrainingDiverged

    def diverged(args):
        raise TrainingDiverged("loss is nan")
    monkeypatch.setattr(basic_commands, "_data_info", diverged)
    assert run_error(capsys, ["data", "info", "x"], 1) == ("neuralab: error: training diverged: "
                                                           "loss is nan\n")


# Stops every program in the subprocess while ``neuralab.layers`` is being imported (well after
# the package's first line, well before ``main``): it says so on stdout and waits on stdin, so
# the test's SIGINT lands inside the imports every time, with no sleep.
STALL_IMPORT = """\
import sys


class Stall:
    def find_spec(self, name, path=None, target=None):
        if name == "neuralab.layers":
            sys.meta_path.remove(self)
            print("importing", flush=True)
            sys.stdin.readline()
        return None


sys.meta_path.insert(0, Stall())
"""


def _as_from_a_terminal() -> None:
    """In the child before exec: SIGINT at its default and not blocked, as an interactive
    shell starts a program. The suite's own disposition must not leak in: run as a
    background job of a non-interactive shell (`bash .ci/run &`), the whole process tree
    ignores SIGINT (POSIX), and a child that inherits that finishes its imports untouched
    (exit 0, no output)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted_while_importing(tmp_path, command):
    """``(exit code, stderr)`` of ``command`` given a Ctrl-C while it imports neuralab."""
    (tmp_path / "sitecustomize.py").write_text(STALL_IMPORT)
    env = {**os.environ, "NEURALAB_DEBUG": "",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    with subprocess.Popen(command, cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=_as_from_a_terminal) as proc:
        assert proc.stdout.readline() == "importing\n", proc.communicate(timeout=60)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


SCRIPT = Path(sys.executable).with_name("neuralab")


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")
@pytest.mark.parametrize("command", [
    pytest.param([str(SCRIPT), "data", "list"], id="console-script",
                 marks=pytest.mark.skipif(not SCRIPT.exists(), reason=f"no {SCRIPT} (pip install -e .)")),
    pytest.param([sys.executable, "-m", "neuralab", "data", "list"], id="python-m-neuralab"),
    pytest.param([sys.executable, "-m", "neuralab.cli", "data", "list"], id="python-m-neuralab.cli"),
])
def test_ctrl_c_while_the_command_starts_is_one_line_and_130(tmp_path, command):
    code, stderr = interrupted_while_importing(tmp_path, command)
    assert (code, stderr) == (130, "neuralab: interrupted\n")


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")
def test_a_program_that_imports_neuralab_keeps_its_own_ctrl_c(tmp_path):
    code, stderr = interrupted_while_importing(tmp_path, [sys.executable, "-c", "import neuralab"])
    assert code != 130 and stderr.rstrip().endswith("KeyboardInterrupt")
    assert "neuralab: interrupted" not in stderr
