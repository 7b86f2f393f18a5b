"""Compiled kernels: a few hot loops written in C, with the NumPy code they replace as fallback.

Some of the engine's hot spots are elementwise passes that NumPy runs as a dozen separate
passes over memory (Adam's update) or with a slow mixed-type loop (ReLU's backward);
``elementwise.c`` writes each out once. Stride-1 convolutions are the other: as matrix
products they need shifted copies of their inputs and outputs, and OpenBLAS runs the
products of a small CNN's few channels at a fraction of its speed; ``conv.c`` computes
them directly (forward, the kernel gradient, and the input gradient as a full
convolution), vectorized, with no copies.

They are compiled on first use with the machine's C compiler (``$CC``, else ``cc``,
``gcc`` or ``clang``), as tinygrad compiles its CPU kernels, and cached under
``~/.cache/neuralab/kernels`` (or ``$NEURALAB_CACHE_DIR``) by a hash of the source, the
compiler and the CPU, so later processes only load them; the build writes a temporary
file and renames it, so concurrent processes are safe. ctypes releases the GIL while a
kernel runs, so :mod:`neuralab.parallel`'s threads run kernels at the same time.

Results: the elementwise kernels do the same IEEE operations in the same order as the
NumPy code beside their callers (compiled with ``-ffp-contract=off``, no fast-math), so
they equal it bit for bit. The convolution sums in its own fixed order with fused
multiply-adds, so it matches the NumPy path (float32) to rounding, not bit for bit; a
column's value does not depend on how the columns are split over threads, so a run
repeats exactly whatever the thread count. float64 convolutions (asked for to check
gradients) take the NumPy path. Where no compiler works, or with ``NEURALAB_KERNELS=0``
or :func:`set_enabled` ``(False)``, everything runs on NumPy; :func:`status` says which
and why.

The wrappers below take NumPy arrays and return ``False`` (doing nothing) for what they
do not cover (another dtype, rows that are not contiguous), so a caller writes
``if not kernels.relu_backward(...): <the NumPy code>``.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

import numpy as np

__all__ = ["status", "available", "has", "set_enabled", "adam", "relu_backward",
           "maxpool2_backward", "conv", "conv_dw", "MIN_ELEMENTWISE"]

_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fPIC", "-shared"]
#: each source file and its floating-point contraction: the elementwise kernels must equal
#: NumPy's separate passes (no fused multiply-adds); the convolution's sums are its own,
#: in fused multiply-adds
_SOURCES = {"elementwise.c": "-ffp-contract=off", "conv.c": "-ffp-contract=fast"}

_lock = threading.Lock()
_libs: list[ctypes.CDLL] = []
_reason = "not loaded yet"
_tried = False

_i64, _ptr = ctypes.c_int64, ctypes.c_void_p
_SIGNATURES = {
    "adam": [_i64, _ptr, _ptr, _ptr, _ptr, "T", "T", "T", "T"],
    "relu_backward": [_ptr, _ptr, _ptr, _ptr, _ptr, _ptr, _ptr],
    "maxpool2_backward": [_i64, _i64, _i64, _ptr, _ptr, _ptr, _ptr],
}
#: float32 only: float64 (asked for to check gradients) takes the NumPy path
_SIGNATURES_F32 = {
    "conv": [_i64, _i64, _i64, _i64, _ptr, _i64, _ptr, _ptr, _i64, _ptr, ctypes.c_int, _ptr,
             _i64],
    "conv_dw": [_i64, _i64, _i64, _i64, _ptr, _i64, _ptr, _i64, _ptr, _i64, _ptr],
}
_FUNCTIONS: dict[tuple[str, np.dtype], ctypes._CFuncPtr] = {}
_enabled = True  # set_enabled
#: the direct convolution needs vectors of at least this many bytes (AVX): with SSE's 16
#: it was 3-5x slower than with AVX2 (the GEMM path is taken instead)
MIN_CONV_VECTOR_BYTES = 32
#: below this many values an elementwise kernel's call (strides, addresses: about 10 us)
#: costs more than NumPy's pass, so the wrappers decline
MIN_ELEMENTWISE = 1 << 14


def _enabled_by_environment() -> bool:
    value = os.environ.get("NEURALAB_KERNELS", "1").strip().lower()
    if value not in ("0", "1", "false", "true", "off", "on", ""):
        raise ValueError(f"NEURALAB_KERNELS must be 0 or 1 (off/on), got {value!r}")
    return value not in ("0", "false", "off")


def _compiler() -> str | None:
    import shutil
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def _cpu_signature() -> str:
    """What the machine code may depend on (``-march=native``): the CPU's flags."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    import platform
    return platform.processor() + platform.machine()


def _cache_dir() -> Path:
    root = os.environ.get("NEURALAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "neuralab")
    return Path(root) / "kernels"


def _build(cc: str, source_name: str) -> Path:
    """The shared library of one source file for this compiler and CPU: from the cache,
    else compiled into a temporary file and renamed into place (concurrent builds are
    safe). The modules it needs are imported here: ``import neuralab`` stays light."""
    import hashlib
    import subprocess
    import sys
    import tempfile
    source = Path(__file__).with_name(source_name)
    flags = [*_FLAGS, _SOURCES[source_name]]
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256(b"\0".join([source.read_bytes(), version.encode(), " ".join(flags).encode(),
                                     _cpu_signature().encode(), sys.platform.encode()]))
    target = _cache_dir() / f"{source.stem}-{key.hexdigest()[:20]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run([cc, *flags, str(source), "-o", tmp, "-lm"],
                              capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise OSError(f"{cc} failed on {source.name}: {done.stderr.strip()[-500:]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _bind(lib: ctypes.CDLL, name: str, argtypes: list) -> ctypes._CFuncPtr:
    fn = getattr(lib, name)
    fn.argtypes = argtypes
    fn.restype = None
    return fn


def _load() -> bool:
    """Build (or find) and load the kernels once; False where they are off (see status)."""
    global _reason, _tried
    with _lock:
        if _tried:
            return bool(_libs)
        enabled = _enabled_by_environment()  # a bad value raises here, on every use
        _tried = True
        if not enabled:
            _reason = "off: NEURALAB_KERNELS=0"
            return False
        cc = _compiler()
        if cc is None:
            _reason = "off: no C compiler found ($CC, cc, gcc or clang); NumPy runs every pass"
            return False
        import subprocess
        try:
            elementwise, conv = (ctypes.CDLL(str(_build(cc, name))) for name in _SOURCES)
        except (OSError, subprocess.SubprocessError) as e:
            _reason = f"off: could not build the kernels ({e}); NumPy runs every pass"
            return False
        for dtype, suffix, scalar in ((np.dtype(np.float32), "f32", ctypes.c_float),
                                      (np.dtype(np.float64), "f64", ctypes.c_double)):
            for name, argtypes in _SIGNATURES.items():
                _FUNCTIONS[name, dtype] = _bind(elementwise, f"{name}_{suffix}",
                                                [scalar if a == "T" else a for a in argtypes])
        conv.conv_vector_bytes.restype = ctypes.c_int
        width = conv.conv_vector_bytes()
        if width >= MIN_CONV_VECTOR_BYTES:
            for name, argtypes in _SIGNATURES_F32.items():
                _FUNCTIONS[name, np.dtype(np.float32)] = _bind(conv, f"{name}_f32", argtypes)
        _libs[:] = [elementwise, conv]
        _reason = f"on: {cc} {' '.join(_FLAGS)}" + (
            "" if width >= MIN_CONV_VECTOR_BYTES else
            f"; convolutions as GEMMs (this CPU's vectors are {width} bytes)")
        return True


def status() -> str:
    """Whether the compiled kernels are in use ("on: ...") or not ("off: why")."""
    _load()
    return _reason if _enabled or not _libs else "off: kernels.set_enabled(False)"


def available() -> bool:
    """Whether the kernels are built and in use (False where :func:`status` says off)."""
    return _enabled and _load()


def set_enabled(on: bool) -> None:
    """Use the compiled kernels (the default where they build) or NumPy alone: to compare
    the two, or to time them. ``NEURALAB_KERNELS=0`` turns them off for a whole process."""
    global _enabled
    _enabled = bool(on)


def has(name: str, dtype) -> bool:
    """Whether kernel ``name`` runs on arrays of ``dtype`` here (``"conv"`` is float32 only)."""
    return _function(name, np.dtype(dtype)) is not None


def _function(name: str, dtype: np.dtype):
    if not _enabled or (not _libs and (_tried or not _load())):
        return None
    return _FUNCTIONS.get((name, dtype))


def _address(a: np.ndarray) -> int:
    return a.ctypes.data


def _rows(*arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Arrays of one shape and itemsize as (A, B, C, L) arrays of contiguous rows: the
    common shape, and each array's strides of A, B and C in elements (int64 arrays for
    the kernel); None when their axes do not collapse to that (axes are merged only where
    every array allows it)."""
    item = arrays[0].itemsize
    shape: list[int] = []
    strides: list[list[int]] = []
    for i, n in enumerate(arrays[0].shape):
        if n == 1:
            continue
        s = [a.strides[i] for a in arrays]
        if shape and all(prev == n * cur for prev, cur in zip(strides[-1], s)):
            shape[-1] *= n
            strides[-1] = s
        else:
            shape.append(n)
            strides.append(s)
    if not shape:
        shape, strides = [1], [[item] * len(arrays)]
    if len(shape) > 4 or any(s != item for s in strides[-1]) \
            or any(s % item for row in strides for s in row):
        return None
    while len(shape) < 4:
        shape.insert(0, 1)
        strides.insert(0, [0] * len(arrays))
    return (np.array(shape, dtype=np.int64),
            [np.array([strides[d][k] // item for d in range(3)], dtype=np.int64)
             for k in range(len(arrays))])


# -- the kernels' wrappers ------------------------------------------------------------------------
def adam(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, c1: float, c2: float,
         eps: float, step: float) -> bool:
    """Adam's update of contiguous 1-D ``w``, ``m``, ``v`` from ``g`` in one pass (see
    :meth:`neuralab.optimizers.Adam._update` for the NumPy passes it equals)."""
    fn = _function("adam", w.dtype)
    if fn is None or w.size < MIN_ELEMENTWISE \
            or not all(a.dtype == w.dtype and a.flags.c_contiguous for a in (g, m, v, w)):
        return False
    fn(w.size, _address(w), _address(g), _address(m), _address(v), c1, c2, eps, step)
    return True


def relu_backward(dout: np.ndarray, y: np.ndarray, out: np.ndarray) -> bool:
    """``out = dout * (y > 0)`` for arrays of one shape whose axes collapse to at most
    four with contiguous rows (a convolution's valid view of its grid included)."""
    fn = _function("relu_backward", out.dtype)
    if fn is None or out.size < MIN_ELEMENTWISE or dout.dtype != out.dtype or y.dtype != out.dtype \
            or dout.shape != out.shape or y.shape != out.shape:
        return False
    layout = _rows(dout, y, out)
    if layout is None:
        return False
    shape, (ds, ys, os_) = layout
    fn(_address(shape), _address(dout), _address(ds), _address(y), _address(ys), _address(out),
       _address(os_))
    return True


def maxpool2_backward(x: np.ndarray, y: np.ndarray, dout: np.ndarray, dx: np.ndarray) -> bool:
    """The input gradient ``dx`` (C, N, H, W) of 2x2 max pooling with stride 2 of
    channels-first images ``x`` (C, N, H, W) with maxima ``y`` (C, N, H // 2, W // 2):
    each window's ``dout`` at its first value equal to the maximum and ``dout * 0`` at its
    other values, bit for bit as :class:`~neuralab.layers.MaxPooling2D`'s NumPy backward
    (a window holding NaN passes no gradient). All contiguous, one dtype."""
    fn = _function("maxpool2_backward", dx.dtype)
    pooled = dx.shape[:2] + (dx.shape[2] // 2, dx.shape[3] // 2)
    if fn is None or dx.ndim != 4 or x.shape != dx.shape or y.shape != pooled \
            or dout.shape != pooled or any(a.dtype != dx.dtype for a in (x, y, dout)) \
            or not all(a.flags.c_contiguous for a in (x, y, dout, dx)):
        return False
    c, n, h, w = dx.shape
    fn(c * n, h, w, _address(x), _address(y), _address(dout), _address(dx))
    return True


def _rows2(a: np.ndarray) -> int | None:
    """The row stride (elements) of a 2-D array with contiguous rows, else None."""
    if a.ndim != 2 or (a.shape[1] > 1 and a.strides[1] != a.itemsize) \
            or a.strides[0] % a.itemsize:
        return None
    return a.strides[0] // a.itemsize


def conv(x: np.ndarray, w: np.ndarray, shifts: np.ndarray, bias: np.ndarray | None,
         out: np.ndarray, q0: int, q1: int, relu: bool = False) -> bool:
    """``out[f, q] = bias[f] + sum_{b, c} w[b, c, f] x[c, q + shifts[b]]`` for q in
    [q0, q1): a stride-1 convolution on the flattened grid (x (C, M), out (F, >= q1),
    w (len(shifts), C, F) contiguous), summed with fused multiply-adds in (b, c) order;
    ``relu``: store ``max(out, 0)`` instead (NaN stays NaN)."""
    fn = _function("conv", out.dtype)
    ldx, ldo = _rows2(x), _rows2(out)
    if fn is None or ldx is None or ldo is None or x.dtype != out.dtype \
            or w.dtype != out.dtype or not w.flags.c_contiguous \
            or (bias is not None and (bias.dtype != out.dtype or not bias.flags.c_contiguous)):
        return False
    fn(x.shape[0], out.shape[0], q0, q1, _address(x), ldx, _address(w), _address(shifts),
       len(shifts), None if bias is None else _address(bias), relu, _address(out), ldo)
    return True


def conv_dw(x: np.ndarray, dz: np.ndarray, shifts: np.ndarray, dw: np.ndarray, q0: int,
            q1: int) -> bool:
    """``dw[b, c, f] = sum_{q in [q0, q1)} x[c, q + shifts[b]] dz[f, q]``: the kernel
    gradient of the convolution above over one span of columns (dw contiguous
    (len(shifts), C, F), overwritten)."""
    fn = _function("conv_dw", dw.dtype)
    ldx, ldz = _rows2(x), _rows2(dz)
    if fn is None or ldx is None or ldz is None or x.dtype != dw.dtype \
            or dz.dtype != dw.dtype or not dw.flags.c_contiguous:
        return False
    fn(x.shape[0], dz.shape[0], q0, q1, _address(x), ldx, _address(dz), ldz, _address(shifts),
       len(shifts), _address(dw))
    return True
