"""Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed).

Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then one
big-endian uint32 per dimension. Images: magic 0x00000803 (3 dims: N, rows, cols);
labels: 0x00000801 (1 dim: N).

The file is streamed: the header is read first and checked (against the file's size, the
most a gzip stream of that size can inflate to, and ``max_bytes``), then exactly the
announced bytes are read in chunks into one preallocated array. Memory never exceeds the
array itself, whatever the header claims.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CHUNK = 1 << 20
MAX_IDX_BYTES = 2 << 30  # 2 GiB: 3 times the largest public IDX set (EMNIST ByClass)
# Deflate cannot compress better than about 1032:1, so a gzip file of n bytes inflates to at
# most this many times n (plus a little slack for headers).
_MAX_GZIP_RATIO = 1032


class DatasetFileError(InputError):
    """A data file is damaged, truncated or of the wrong kind (the message says which)."""


def _format_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n:,} bytes ({n / size:.3g} {unit})"
    return f"{n:,} bytes"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _read_exactly(stream, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` in chunks; the number of bytes read (short at the end)."""
    filled = 0
    while filled < len(view):
        n = stream.readinto(view[filled:filled + CHUNK])
        if not n:
            break
        filled += n
    return filled


def _count_rest(stream, limit: int = 64 * CHUNK) -> tuple[int, bool]:
    """How many bytes are left in ``stream`` (counted up to ``limit``), and whether more."""
    count = 0
    while count < limit:
        chunk = stream.read(min(CHUNK, limit - count))
        if not chunk:
            return count, False
        count += len(chunk)
    return count, bool(stream.read(1))


def read_idx(path, expected_ndim: int | None = None, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file into an array (uint8 for MNIST), streaming it.

    Raises:
        DatasetFileError: wrong magic number, unexpected number of dimensions, a header that
            announces more data than the file can hold or than ``max_bytes``, fewer bytes
            than announced (truncated) or bytes after the data.
        FileNotFoundError: when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    compressed = _is_gzip(path)
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as stream:
            return _read_stream(stream, path, compressed, expected_ndim, max_bytes)
    except (OSError, EOFError, zlib.error) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise DatasetFileError(f"cannot decompress ({error}); the file is damaged or truncated",
                               path, "a complete gzip-compressed IDX file") from None


def _read_stream(stream, path: Path, compressed: bool, expected_ndim, max_bytes) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4:
        raise DatasetFileError(f"too short to be an IDX file ({len(magic)} bytes)", path,
                               "a 4-byte magic number, then the dimensions")
    zero, type_code, ndim = struct.unpack(">HBB", magic)
    if zero != 0 or type_code not in _TYPES or ndim == 0:
        raise DatasetFileError(f"wrong magic number 0x{magic.hex()}", path,
                               "0x00000803 for images or 0x00000801 for labels")
    if expected_ndim is not None and ndim != expected_ndim:
        kind = {1: "labels (magic 0x00000801)", 3: "images (magic 0x00000803)"}.get(
            expected_ndim, f"{expected_ndim} dimensions")
        raise DatasetFileError(f"holds {ndim}-dimensional data (magic 0x{magic.hex()})", path, kind)
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetFileError(f"truncated header: {ndim} dimensions announced but only "
                               f"{len(dims)} of their {4 * ndim} bytes follow", path)
    shape = struct.unpack(">" + "I" * ndim, dims)
    dtype = np.dtype(_TYPES[type_code])
    count = math.prod(shape)  # Python ints: no overflow, whatever the header says
    expected = count * dtype.itemsize
    size = path.stat().st_size
    header = 4 + 4 * ndim
    if expected > max_bytes:
        raise DatasetFileError(f"header announces shape {shape}, {_format_bytes(expected)} of "
                               "data", path, f"at most {_format_bytes(max_bytes)}, read_idx's max_bytes")
    if compressed and expected + header > _MAX_GZIP_RATIO * size + 4096:
        raise DatasetFileError(
            f"truncated or damaged header: it announces shape {shape}, {_format_bytes(expected)} "
            f"of data, but a {size:,}-byte gzip file inflates to at most "
            f"{_format_bytes(_MAX_GZIP_RATIO * size)}", path)
    if not compressed and size - header != expected:
        what = "truncated" if size - header < expected else f"{size - header - expected:,} " \
                                                             "unexpected bytes after the data"
        raise DatasetFileError(f"{what}: header announces shape {shape} ({expected:,} bytes) "
                               f"and {size - header:,} bytes follow it", path)
    array = np.empty(count, dtype=dtype)
    filled = _read_exactly(stream, memoryview(array).cast("B"))
    if filled < expected:
        raise DatasetFileError(f"truncated: header announces shape {shape} ({expected:,} bytes) "
                               f"but only {filled:,} bytes follow", path)
    extra, more = _count_rest(stream)
    if extra:
        raise DatasetFileError(f"{'more than ' if more else ''}{extra:,} unexpected bytes after "
                               f"the data of shape {shape}", path,
                               "the file to end with the data its header announces")
    if not dtype.isnative:  # big-endian in the file: swap in place, no second copy
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array.reshape(shape)


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
