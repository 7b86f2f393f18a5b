"""``.npz`` archives read safely: every failure names the file (and the array key).

:func:`npz_headers` reads only the arrays' headers (shape, dtype), so describing a huge
archive costs no memory; :func:`load_npz` checks those headers first, then loads.
"""

from __future__ import annotations

import errno
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError

EXPECTED = "a .npz of numeric or string arrays, as numpy.savez writes"


def npz_headers(path) -> dict[str, tuple[tuple, np.dtype]]:
    """``{key: (shape, dtype)}`` of a ``.npz`` from each array's header, without loading the
    arrays (memory stays small whatever their size).

    Raises:
        InputError: not a zip archive, a damaged or truncated member, a member that is not
            a ``.npy`` array, or an object array (it would need pickle to load), naming the key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                with archive.open(info) as member:
                    try:
                        version = np.lib.format.read_magic(member)
                        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                       else np.lib.format.read_array_header_2_0)
                        shape, _, dtype = read_header(member)
                    except ValueError as error:
                        raise InputError(f"member {info.filename!r} is not a .npy array ({error})",
                                         path, EXPECTED) from None
                if dtype.hasobject:
                    raise InputError(f"array {key!r} holds Python objects (dtype object), which "
                                     "only pickle can load, and neuralab never unpickles",
                                     path, EXPECTED)
                data_bytes = math.prod(shape) * dtype.itemsize
                if info.file_size < data_bytes:
                    raise InputError(f"array {key!r} is truncated: shape {shape} {dtype} needs "
                                     f"{data_bytes:,} bytes, the member holds {info.file_size:,}",
                                     path, EXPECTED)
                out[key] = (shape, dtype)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as error:
        raise InputError(f"not a readable .npz archive ({error}); the file is damaged or "
                         "truncated", path, EXPECTED) from None
    return out


def load_npz(path, keys=None) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` (only ``keys`` when given), never unpickling.

    Raises:
        InputError: as :func:`npz_headers`, or a missing key, naming the file.
    """
    headers = npz_headers(path)
    wanted = list(headers) if keys is None else list(keys)
    missing = [k for k in wanted if k not in headers]
    if missing:
        raise InputError(f"missing array(s) {missing}; it holds {sorted(headers)}", path,
                         f"arrays {wanted}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in wanted}
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError) as error:
        raise InputError(f"damaged array data ({error})", path, EXPECTED) from None
