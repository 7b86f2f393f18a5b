"""Atomic file writes: write a temporary file beside the target, then rename over it.

A reader (or a crash) never sees half a file: either the old content or the new.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from pathlib import Path


@functools.cache
def _default_mode() -> int:
    """Permissions a plain ``open(path, "w")`` would give: 0o666 minus the umask.

    Read once (reading the umask means setting it, which is not thread-safe).
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` for writers that need a file name (h5py, ...):
    renamed to ``path`` when the block succeeds, removed when it fails.

    The file gets the permissions ``open`` would give it (``mkstemp`` alone makes it 0o600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, _default_mode())
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file in ``path``'s folder; on success rename it to ``path``."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))
