"""Where trials run: this process, a local process pool, or a Ray cluster.

Every executor takes trials and yields their results
(:class:`~neuralab.experiments.result.TrialResult` from
:func:`~neuralab.experiments.trial.run_trial`) as they finish:

- ``local``: one after the other in this process (easiest to debug);
- ``process`` (default): ``workers`` processes (default: the number of cores), started
  with ``spawn``, each running one trial at a time; BLAS threads are split between them.
  A worker that dies (out of memory, a crash in native code) fails its own trial only, and
  a fresh worker takes the next one. A worker whose driver dies (killed, even with
  SIGKILL) exits at once instead of finishing work nobody will collect.
- ``ray``: Ray tasks (``pip install 'neuralab[ray]'``); ``address`` joins an existing
  cluster (``"auto"`` or ``"ray://host:10001"``), otherwise a local Ray is started with
  ``workers`` CPUs and stopped at the end. Results come back to the driver as values, so
  workers need no shared file system.

The same trial gives the same numbers on every executor: it seeds everything from its own
seed, and workers use a fixed number of BLAS threads.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import traceback
from multiprocessing import get_context
from multiprocessing.connection import wait

from .result import TrialResult
from .trial import limit_threads, run_trial

EXECUTORS = ("local", "process", "ray")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def run_local(trials, threads: int | None = None):
    for trial in trials:
        yield run_trial(trial, threads)


def _exit_with_parent() -> None:
    """Exit this process as soon as the process that started it is gone."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch():
        wait([parent.sentinel])  # ready when the parent's end closes: it exited or was killed
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def serve(conn, threads: int | None = None) -> None:
    """Run the trials sent on ``conn``, one at a time, until None or until the driver's
    end closes (its results would have nowhere to go)."""
    try:
        while True:
            trial = conn.recv()
            if trial is None:
                break
            conn.send(run_trial(trial, threads))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the driver is gone
    finally:
        conn.close()


def _worker(conn, threads: int) -> None:
    """A pool process: :func:`serve`, ignoring Ctrl-C (the driver's: it stops us) and
    exiting with the driver."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    limit_threads(threads)
    serve(conn, threads)


def run_process_pool(trials, workers: int | None = None):
    """Our own small pool: each worker holds one trial at a time, so a worker that dies is
    charged to exactly that trial, and a fresh worker takes its place."""
    pending = list(trials)
    workers = max(1, min(workers or default_workers(), len(pending) or 1))
    threads = max(1, default_workers() // workers)
    context = get_context("spawn")
    busy: dict = {}  # connection -> (process, trial)
    finished = 0

    def start(trial):
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(child, threads), daemon=True)
        process.start()
        child.close()
        parent.send(trial)
        busy[parent] = (process, trial)

    def retire(conn):
        process, _ = busy.pop(conn)
        if pending:  # reuse the worker for the next trial
            trial = pending.pop(0)
            try:
                conn.send(trial)
                busy[conn] = (process, trial)
            except OSError:  # it died right after answering: a fresh one takes the trial
                conn.close()
                start(trial)
        else:
            with contextlib.suppress(OSError):  # it exited already
                conn.send(None)
            conn.close()
            process.join(timeout=10)

    try:
        while pending and len(busy) < workers:
            start(pending.pop(0))
        while busy:
            sentinels = {process.sentinel: conn for conn, (process, _) in busy.items()}
            ready = wait(list(busy) + list(sentinels))
            for item in ready:
                conn = sentinels.get(item, item)
                if conn not in busy:
                    continue
                process, trial = busy[conn]
                if conn.poll():
                    try:
                        result = conn.recv()
                    except (EOFError, OSError):
                        result = None
                    if result is not None:
                        finished += 1
                        retire(conn)
                        yield result
                        continue
                if process.is_alive():
                    continue
                busy.pop(conn)
                conn.close()
                finished += 1
                yield TrialResult.failed(trial, _died(process.exitcode, finished == 1))
                if pending:
                    start(pending.pop(0))
    finally:
        for process, _ in busy.values():
            process.terminate()
        for process, _ in busy.values():
            process.join(timeout=5)


def _died(exitcode, first: bool) -> str:
    message = (f"the worker process running this trial died (exit code {exitcode}): out of "
               "memory, a crash in native code, or os._exit")
    if first and exitcode == 1:
        message += (". If run_experiment is called from a script, put the call under "
                    "`if __name__ == \"__main__\":` (workers are started with 'spawn', which "
                    "imports the main module again), or use executor=\"local\"")
    return message


def _ray_trial(trial, threads):
    return run_trial(trial, threads)


def run_ray(trials, workers: int | None = None, address: str | None = None):
    try:
        import ray
    except ImportError:
        raise ImportError("The ray executor needs Ray: pip install 'neuralab[ray]'") from None
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or default_workers(), include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_trial)
        refs = {remote.remote(trial, 1): trial for trial in trials}
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            trial = refs[done[0]]
            try:
                yield ray.get(done[0])
            except Exception as error:  # noqa: BLE001 - a lost worker fails its trial only
                yield TrialResult.failed(trial, f"Ray task failed: {type(error).__name__}: "
                                         f"{error}\n" + traceback.format_exc())
    finally:
        if started:
            ray.shutdown()


def execute(trials, executor: str = "process", workers: int | None = None,
            address: str | None = None):
    """Yield the results of ``trials`` as they finish, on the chosen executor."""
    if executor == "local":
        return run_local(trials)
    if executor == "process":
        return run_process_pool(trials, workers)
    if executor == "ray":
        return run_ray(trials, workers, address)
    raise ValueError(f"Unknown executor {executor!r}; accepted: {', '.join(EXECUTORS)}")
