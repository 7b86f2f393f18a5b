"""A training step's work shared out over the CPU cores: a few threads, fixed pieces.

NumPy runs one ufunc on one core, and on a laptop's 2-8 cores the rest of a training step
(the optimizer's dozen passes over every weight, a convolution's shifted sums) leaves all
but one core idle. :func:`run_parts` calls ``fn(i)`` for ``i`` in ``range(parts)``, part
0 on the calling thread and the others on a small pool (NumPy and BLAS release the GIL
inside their loops, so the parts run at the same time).

What is split, and what that does to the numbers:

* elementwise passes (:func:`map_rows`, the optimizers' slices: see
  ``Optimizer.elementwise``) give the one-thread result bit for bit: every element is
  computed by the same operations whichever slice holds it (IEEE add, multiply, divide
  and sqrt are correctly rounded, in SIMD lanes or not);
* independent blocks whose partial sums the caller adds in a fixed order (a convolution's
  column blocks, :func:`parts_for_items`) also give the one-thread result bit for bit;
* a product split by output rows (:func:`matmul`) matches the one-thread product to
  rounding only (OpenBLAS picks its kernels by shape), and repeats exactly for a given
  number of threads.

The number of threads follows PyTorch's convention::

    neuralab.parallel.set_num_threads(1)   # what torch.set_num_threads does
    NEURALAB_NUM_THREADS=2 python train.py # else OMP_NUM_THREADS, else the usable cores

except that a machine of one or two cores gets one thread by default: each part waits for
the slowest, and on a 2-vCPU virtual machine whose host takes back 10-25% of the time
(``st`` in ``vmstat``) the waits cost more than the second core gives (measured: the W4
and W5 benchmarks in 0.57-0.58x the time on one thread, W2 and W3 the same). BLAS then
threads its own products as usual.

A hand-over to another thread costs tens of microseconds, so pieces have a minimum size
(``MIN_PART``, ``MIN_ROWS_PART``, ``MIN_PRODUCT``, measured on a 2-core machine).

BLAS. OpenBLAS runs a product on its own threads, which then spin for a while waiting for
the next one: on the cores neuralab's threads want. :func:`blas_on_one_thread` (the
training loops enter it when there is more than one thread) keeps each product on the
calling thread, and neuralab's threads share the products out instead, so the cores take
turns at products and at elementwise work.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:  # imported when the first pool is made: `import neuralab` stays light
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["get_num_threads", "set_num_threads", "parts_for", "parts_for_work", "bounds",
           "run_parts",
           "blas_on_one_thread", "matmul", "parts_for_items", "run_items", "map_rows",
           "MIN_PART",
           "MIN_PRODUCT", "MIN_ROWS_PART"]

T = TypeVar("T")

#: the fewest elements worth handing to another thread: measured with Adam's step, two
#: threads take longer than one on 80k float32 weights (the dozen ufunc calls of each
#: slice hand the GIL back and forth) and half the time on 340k
MIN_PART = 1 << 17
#: the fewest elements per slice of one ufunc pass (:func:`map_rows`): ReLU's backward on
#: 540k float32 values takes 493 us on one thread and 406 on two, on 230k values 277 and
#: 253, while its forward is slower on two below about 250k (2-core VM)
MIN_ROWS_PART = 1 << 18
#: the fewest multiply-adds per slice of a product worth a thread (about 50 us of one
#: core's BLAS, against a hand-over of about 35 us measured on a 2-core VM)
MIN_PRODUCT = 4_000_000
_MAX_DEFAULT_THREADS = 8
#: with this many cores or fewer the default is one thread: on a 2-vCPU VM two threads
#: took 1.7x the time of one for the cnn5 and fc-net benchmarks (W4, W5) once the compiled
#: kernels had made the parts short, and they were no quicker on the MLPs (W2, W3)
_MIN_CORES_TO_SPLIT = 2

_lock = threading.Lock()
_threads: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_owner = (0, 0)  # (pid, workers) the pool was made for: a forked child makes its own
_blas_controller = None
_blas_limited = 0  # blas_on_one_thread regions open, in any thread
_blas_limiter = None  # threadpoolctl's limiter of the outermost region: restores on the last exit
_blas_lock = threading.Lock()
_local = threading.local()  # .in_part: this thread runs a part of run_parts


def _default_threads() -> int:
    for name in ("NEURALAB_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                n = int(value)
            except ValueError:
                raise ValueError(f"{name}={value!r}: expected a positive integer "
                                 "(the number of threads)") from None
            if n < 1:
                raise ValueError(f"{name}={value!r}: expected a positive integer "
                                 "(the number of threads)")
            return n
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    if cores <= _MIN_CORES_TO_SPLIT:
        return 1
    return max(1, min(cores, _MAX_DEFAULT_THREADS))


def get_num_threads() -> int:
    """Threads used for elementwise work (``torch.get_num_threads``)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (1: everything on the calling thread)."""
    global _threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer, got {n!r}")
    _threads = n


def parts_for(size: int) -> int:
    """How many slices ``size`` elements are split into: one per thread, each at least
    :data:`MIN_PART` long."""
    return max(1, min(get_num_threads(), size // MIN_PART))


def parts_for_items(items: int) -> int:
    """How many threads share ``items`` independent pieces of BLAS-heavy work (blocks of
    a convolution): one per thread inside :func:`blas_on_one_thread`, else 1 (BLAS
    threads the products itself there)."""
    return max(1, min(get_num_threads(), items)) if _blas_limited else 1


def parts_for_work(multiply_adds: int) -> int:
    """How many threads share a compiled kernel's ``multiply_adds`` (it runs without the
    GIL): one per thread, each at least :data:`MIN_PRODUCT` of them."""
    return max(1, min(get_num_threads(), multiply_adds // MIN_PRODUCT))


def run_items(items: int, parts: int, fn: Callable[[int, int], object]) -> None:
    """``fn(k, part)`` for every item ``k`` in ``range(items)``, the items dealt out in
    ``parts`` consecutive runs, one per thread (``part`` indexes the caller's per-thread
    scratch buffers)."""
    spans = bounds(items, parts, align=1)

    def run(part: int) -> None:
        for k in range(*spans[part]):
            fn(k, part)

    run_parts(run, parts)


def bounds(size: int, parts: int, align: int = 16) -> list[tuple[int, int]]:
    """``parts`` consecutive ``(start, stop)`` slices covering ``range(size)``, starts on
    multiples of ``align`` elements (whole cache lines of float32)."""
    step = -(-size // parts)
    step = -(-step // align) * align
    edges = [min(i * step, size) for i in range(parts)] + [size]
    return [(edges[i], edges[i + 1]) for i in range(parts)]


def _get_pool(workers: int) -> ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor
    global _pool, _pool_owner
    owner = (os.getpid(), workers)
    if _pool is None or _pool_owner != owner:
        with _lock:
            if _pool is None or _pool_owner != owner:
                old = _pool if _pool_owner[0] == owner[0] else None  # not a forked parent's
                _pool = ThreadPoolExecutor(workers, thread_name_prefix="neuralab")
                _pool_owner = owner
                if old is not None:
                    old.shutdown(wait=False)
    return _pool


def _in_part(fn: Callable[[int], T], i: int) -> T:
    _local.in_part = True
    try:
        return fn(i)
    finally:
        _local.in_part = False


def run_parts(fn: Callable[[int], T], parts: int) -> list[T]:
    """``[fn(0), ..., fn(parts - 1)]``, run at the same time on ``parts`` threads (the
    calling one included). An exception in any part is raised here, after every part
    has finished (so no part still writes into arrays the caller goes on to use)."""
    if parts <= 1 or getattr(_local, "in_part", False):
        # a part that splits its own work runs it in line: the pool's threads never wait
        # on the pool (no deadlock)
        return [fn(i) for i in range(parts)]
    pool = _get_pool(parts - 1)
    futures = [pool.submit(_in_part, fn, i) for i in range(1, parts)]
    first: BaseException | None = None
    try:
        results = [_in_part(fn, 0)]
    except BaseException as error:  # noqa: BLE001 - re-raised below, after the other parts
        first, results = error, [None]  # type: ignore[list-item]
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as error:  # noqa: BLE001
            first = first or error
            results.append(None)  # type: ignore[arg-type]
    if first is not None:
        raise first
    return results


@contextlib.contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """Inside: BLAS products run on the thread that calls them, and :func:`matmul` splits
    large ones over neuralab's threads. A no-op with one thread, or without the
    ``threadpoolctl`` package (BLAS keeps its own threads then), and outside the main
    thread: the limit is process-wide, and OpenBLAS ignores a request to raise its thread
    count again from any other thread (measured: 0.3.31), so a region there could not put
    the old limit back. Nested regions put it back when the outermost closes."""
    global _blas_controller, _blas_limited, _blas_limiter
    if get_num_threads() == 1 or threading.current_thread() is not threading.main_thread():
        yield
        return
    with _blas_lock:
        if _blas_limited == 0:
            try:
                if _blas_controller is None:
                    from threadpoolctl import ThreadpoolController
                    _blas_controller = ThreadpoolController()
                _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
            except ImportError:  # pragma: no cover - threadpoolctl is a dependency
                _blas_limiter = None
        _blas_limited += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_limited -= 1
            if _blas_limited == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = a @ b`` for 2-D arrays. Inside :func:`blas_on_one_thread`, a product of at
    least ``2 * MIN_PRODUCT`` multiply-adds is split into row slices of ``out`` computed
    on neuralab's threads at the same time (each slice is an ordinary product; the rows
    do not interact, so no sum is reordered)."""
    m = out.shape[0]
    parts = 1
    if _blas_limited:
        parts = min(get_num_threads(), m * a.shape[1] * out.shape[1] // MIN_PRODUCT, m // 8)
    if parts <= 1:
        return np.matmul(a, b, out=out)
    spans = bounds(m, parts, align=8)
    run_parts(lambda i: np.matmul(a[spans[i][0]:spans[i][1]], b,
                                  out=out[spans[i][0]:spans[i][1]]), parts)
    return out


def map_rows(fn: Callable[..., object], *arrays: np.ndarray) -> None:
    """``fn(*arrays)`` for an elementwise ``fn`` that writes its result into its last
    array, run inside :func:`blas_on_one_thread` on slices along the first axis (all the
    arrays share that axis) of at least :data:`MIN_ROWS_PART` elements, one per thread."""
    first = arrays[0]
    parts = 1
    if _blas_limited and first.size >= 2 * MIN_ROWS_PART \
            and all(a.shape[:1] == first.shape[:1] for a in arrays):
        parts = min(get_num_threads(), first.size // MIN_ROWS_PART, first.shape[0])
    if parts <= 1:
        fn(*arrays)
        return
    spans = bounds(first.shape[0], parts, align=1)
    run_parts(lambda i: fn(*(a[spans[i][0]:spans[i][1]] for a in arrays)), parts)
