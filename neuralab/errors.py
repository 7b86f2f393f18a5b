"""Errors about input the user gave us: a file, a field, a value.

Each names *where* (``source``: a file path, or ``file:field``), *what* was wrong, and
*what was expected*, so a message reads::

    results/exp/trials/0003/result.json: not valid JSON (line 1, column 1) (expected a
    result written by neuralab run; rerun the trial with --resume)

The command line prints ``neuralab: error: <message>`` and exits with code 2 for these;
library users catch them as ``ValueError``.
"""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad input: ``source`` (file or field), ``what`` was wrong, ``expected`` instead."""

    def __init__(self, what: str, source: str | os.PathLike | None = None,
                 expected: str | None = None):
        self.what = what
        self.source = None if source is None else os.fspath(source)
        self.expected = expected
        super().__init__(self._message())

    def _message(self) -> str:
        text = self.what if self.source is None else f"{self.source}: {self.what}"
        return text if self.expected is None else f"{text} (expected {self.expected})"
