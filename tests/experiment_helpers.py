"""Classes that experiment files in the tests refer to by import path, and the waiting
helpers of the tests that stop runs midway."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from neuralab.callbacks import Callback
from neuralab.layers import Layer


class CrashOnBuild(Layer):
    """Kills its process when built: stands in for an out-of-memory kill or a native crash."""

    def build(self, input_shape):
        os._exit(3)


class Gate(Callback):
    """Holds its trial at the start of training until ``folder/open`` exists.

    It first writes ``folder/started-*`` holding its process id, so a test knows, without
    guessing at trial speed, that the run has reached this trial and stays there.
    """

    def __init__(self, folder: str):
        super().__init__()
        self.folder = Path(folder)

    def on_train_begin(self, logs=None):
        name = uuid.uuid4().hex
        (self.folder / f".{name}").write_text(str(os.getpid()))
        (self.folder / f".{name}").rename(self.folder / f"started-{name}")  # seen whole
        while not (self.folder / "open").exists():
            time.sleep(0.01)


def gate_table(folder: Path) -> str:
    """The TOML inline table of a :class:`Gate` on ``folder``."""
    return f'{{type = "tests.experiment_helpers:Gate", folder = "{folder.as_posix()}"}}'


def started(folder: Path) -> list[int]:
    """Process ids of the gated trials waiting now (or that have waited)."""
    return [int(p.read_text()) for p in folder.glob("started-*")]


def wait_until(condition, what: str, timeout: float = 120.0) -> None:
    """Wait for ``condition()`` to hold; fail the test (not race) if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def is_running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")
