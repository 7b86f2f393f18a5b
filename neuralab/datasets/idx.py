"""Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed).

Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then one
big-endian uint32 per dimension. Images: magic 0x00000803 (3 dims: N, rows, cols);
labels: 0x00000801 (1 dim: N).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetFileError(ValueError):
    """A data file is damaged, truncated or of the wrong kind (the message says which)."""


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DatasetFileError(f"{path}: cannot decompress ({error}); the file is damaged or "
                               "truncated") from None


def read_idx(path, expected_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file into an array (uint8 for MNIST).

    Raises:
        DatasetFileError: wrong magic number, unexpected number of dimensions, or fewer
            bytes than the header announces (truncated file).
        FileNotFoundError: when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetFileError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _TYPES or ndim == 0:
        raise DatasetFileError(f"{path}: wrong magic number 0x{data[:4].hex()} (expected "
                               "0x00000803 for images or 0x00000801 for labels)")
    if expected_ndim is not None and ndim != expected_ndim:
        kind = {1: "labels (magic 0x00000801)", 3: "images (magic 0x00000803)"}.get(
            expected_ndim, f"{expected_ndim} dimensions")
        raise DatasetFileError(f"{path}: holds {ndim}-dimensional data (magic "
                               f"0x{data[:4].hex()}), expected {kind}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFileError(f"{path}: truncated header")
    shape = struct.unpack(">" + "I" * ndim, data[4:header])
    dtype = np.dtype(_TYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    payload = len(data) - header
    if payload < expected:
        raise DatasetFileError(f"{path}: truncated: header announces shape {shape} "
                               f"({expected} bytes) but only {payload} bytes follow")
    if payload > expected:
        raise DatasetFileError(f"{path}: {payload - expected} unexpected bytes after the "
                               f"data of shape {shape}")
    array = np.frombuffer(data, dtype=dtype, count=int(np.prod(shape)), offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def write_idx(path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as IDX; ``.gz`` paths are gzip-compressed (for fixtures)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim,
                                                                       *array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    from ..io_utils import atomic_write_bytes
    atomic_write_bytes(path, payload)
