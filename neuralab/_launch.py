"""Ctrl-C while the ``neuralab`` command is still starting: one line and exit code 130.

``neuralab`` (the console script) and ``python -m neuralab`` import the whole package before
``neuralab.cli.main`` can catch ``KeyboardInterrupt``; a Ctrl-C in that half second would print a
Python traceback. The package's ``__init__`` imports this module first, which calls
:func:`guard_start`: when the program being started is the ``neuralab`` command it installs a
SIGINT handler that prints ``neuralab: interrupted`` and exits with 130; :func:`start_done`
(called by ``main``) puts Python's own handler back, so from then on Ctrl-C is a
``KeyboardInterrupt`` again. A program that merely does ``import neuralab`` is left alone.
Standard library only: it runs before anything else of the package is imported.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

EXIT_INTERRUPTED = 130  # as the shell reports a process stopped by SIGINT (128 + 2)
COMMANDS = ("neuralab", "neuralab.cli")  # python -m neuralab, python -m neuralab.cli


def _interrupted(signum, frame):
    print("neuralab: interrupted", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_INTERRUPTED)  # the interpreter exits quietly, no traceback


def starting_the_command() -> bool:
    """True while the ``neuralab`` command (console script or ``python -m``) imports the package."""
    if sys.argv[:1] == ["-m"]:  # python -m X sets argv[0] to "-m" while it imports X's packages
        after = sys.orig_argv[sys.orig_argv.index("-m") + 1:] if "-m" in sys.orig_argv else []
        return after[:1] in [[command] for command in COMMANDS]
    script = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    name = os.path.basename(script).lower()
    return name in ("neuralab", "neuralab.exe", "neuralab-script.py")  # pip's script, Windows'


def guard_start() -> None:
    """Make Ctrl-C exit quietly (130) while the ``neuralab`` command is starting; else nothing."""
    if threading.current_thread() is threading.main_thread() and starting_the_command():
        signal.signal(signal.SIGINT, _interrupted)


def start_done() -> None:
    """Give Ctrl-C back to Python (``KeyboardInterrupt``) if :func:`guard_start` took it."""
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is _interrupted):
        signal.signal(signal.SIGINT, signal.default_int_handler)


guard_start()
