"""The command line's errors and exit codes, and the one place that turns an exception into
the line a user sees.

=====  ====================================================================================
code   meaning
=====  ====================================================================================
0      success
1      the run failed while working: I/O error, download or checksum failure, a trial
       failed or diverged, out of memory, or an internal error (a bug: rerun with
       ``NEURALAB_DEBUG=1`` to see the traceback)
2      bad usage or bad input: unknown name or option, invalid experiment file, a data file
       that is missing, damaged, truncated or not what it claims to be
130    interrupted (Ctrl-C)
=====  ====================================================================================
"""

from __future__ import annotations

import os
import pickle
import zipfile

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = f"""\
Exit codes:
  {EXIT_OK:<4}success
  {EXIT_FAILED:<4}the run failed while working (I/O error, download or checksum failure, a
      trial failed or diverged, out of memory, an internal error)
  {EXIT_USAGE:<4}bad usage or bad input (unknown name or option, invalid experiment file,
      a data file that is missing, damaged or not what it claims to be)
  {EXIT_INTERRUPTED:<4}interrupted (Ctrl-C; finished trials are kept, continue with --resume)
An error prints one line, "neuralab: error: <file>: <what was wrong> (expected <what>)";
an internal error (a bug) prints its type and message: set NEURALAB_DEBUG=1 for the traceback."""

DEBUG_HINT = "rerun with NEURALAB_DEBUG=1 to see the traceback"


class UsageError(Exception):
    """Bad input from the user: exit code 2 with the message."""


def debug_enabled() -> bool:
    return os.environ.get("NEURALAB_DEBUG", "").strip() not in ("", "0", "false", "no")


def _os_message(error: OSError) -> str:
    """``file: reason`` for an OSError from ``open`` (whose text is ``[Errno 2] ...: 'file'``)."""
    if error.filename is not None and error.strerror:
        return f"{os.fsdecode(error.filename)}: {error.strerror.lower()}"
    return str(error)


def _is_training_diverged(error: BaseException) -> bool:
    """Whether ``error`` is neuralab's ``TrainingDiverged``, wherever the training package
    defines it, without importing the models (slow, and not needed by ``data`` commands)."""
    return any(cls.__name__ == "TrainingDiverged" and cls.__module__.startswith("neuralab.")
               for cls in type(error).__mro__)


def classify(error: BaseException) -> tuple[int, str] | None:
    """``(exit code, message)`` for an expected error; ``None`` for an unexpected one (a bug).

    Order matters: a ``ChecksumError`` is both a ``DownloadError`` (an ``OSError``) and a
    ``ValueError``; it is a failed download, code 1.
    """
    from ..datasets.download import DownloadError
    from ..errors import InputError

    if isinstance(error, DownloadError):
        return EXIT_FAILED, str(error)
    if isinstance(error, (UsageError, InputError)):
        return EXIT_USAGE, str(error)
    if isinstance(error, FileNotFoundError):
        return EXIT_USAGE, _os_message(error)
    if isinstance(error, zipfile.BadZipFile):  # a loader that did not name its file
        return EXIT_USAGE, f"not a readable zip/.npz archive ({error}); the file is damaged or truncated"
    if isinstance(error, pickle.UnpicklingError):
        return EXIT_USAGE, f"not a readable pickle ({error})"
    if isinstance(error, ValueError):  # bad values given by the user (config, shapes, names)
        return EXIT_USAGE, str(error)
    if _is_training_diverged(error):
        return EXIT_FAILED, f"training diverged: {error}"
    if isinstance(error, MemoryError):
        return EXIT_FAILED, f"out of memory{f' ({error})' if str(error) else ''}"
    if isinstance(error, OSError):
        return EXIT_FAILED, _os_message(error)
    return None
