"""neuralab.parallel: elementwise work and convolution blocks split over threads give the
results of one thread bit for bit (no sum is reordered); products split by rows match to
rounding (OpenBLAS picks its kernels by shape) and repeat exactly; errors come back."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import neuralab as nl
from neuralab import parallel
from neuralab.keras import optimizers as keras_optimizers
from neuralab.layers import conv
from neuralab.parameter import Parameter


@pytest.fixture
def threads():
    """Set the thread count for one test and put the suite's back afterwards."""
    before = parallel.get_num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


def test_bounds_cover_the_range_in_aligned_slices():
    for size, parts in [(1000, 3), (17, 2), (64, 4), (5, 8), (1 << 20, 7)]:
        spans = parallel.bounds(size, parts)
        assert len(spans) == parts
        assert spans[0][0] == 0 and spans[-1][1] == size
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        assert all(start % 16 == 0 or start == size for start, _ in spans)


def test_parts_for_needs_min_part_per_thread(threads, monkeypatch):
    threads(4)
    monkeypatch.setattr(parallel, "MIN_PART", 100)
    assert parallel.parts_for(99) == 1
    assert parallel.parts_for(250) == 2
    assert parallel.parts_for(10_000) == 4
    threads(1)
    assert parallel.parts_for(10_000) == 1


def test_run_parts_runs_each_part_once_on_distinct_threads(threads):
    threads(3)
    barrier = threading.Barrier(3, timeout=30)  # only passes if all three run at once

    def part(i):
        barrier.wait()
        return i, threading.get_ident()

    results = parallel.run_parts(part, 3)
    assert [i for i, _ in results] == [0, 1, 2]
    assert results[0][1] == threading.get_ident()
    assert len({ident for _, ident in results}) == 3


def test_run_parts_raises_after_every_part_finished(threads):
    threads(2)
    finished = []

    def part(i):
        if i == 0:
            raise KeyError("part zero")
        finished.append(i)
        return i

    with pytest.raises(KeyError, match="part zero"):
        parallel.run_parts(part, 2)
    assert finished == [1]


def test_set_num_threads_and_environment_are_checked(monkeypatch):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            parallel.set_num_threads(bad)
    monkeypatch.setenv("NEURALAB_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="NEURALAB_NUM_THREADS='many'"):
        parallel._default_threads()
    monkeypatch.setenv("NEURALAB_NUM_THREADS", "3")
    assert parallel._default_threads() == 3
    monkeypatch.delenv("NEURALAB_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert parallel._default_threads() == 2


@pytest.mark.parametrize("cores,expected", [(1, 1), (2, 1), (3, 3), (6, 6), (64, 8)])
def test_default_threads_follow_the_cores(monkeypatch, cores, expected):
    """One thread on one or two cores (the parts' waits cost more than the second core
    gives there); else one per core, at most eight."""
    monkeypatch.delenv("NEURALAB_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert parallel._default_threads() == expected


def _blas_threads() -> int:
    return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


def test_blas_on_one_thread_only_with_more_than_one_thread(threads):
    from threadpoolctl import threadpool_limits
    with threadpool_limits(2, user_api="blas"):
        threads(2)
        with parallel.blas_on_one_thread():
            assert _blas_threads() == 1
            assert parallel.parts_for_items(5) == 2
        assert _blas_threads() == 2
        assert parallel.parts_for_items(5) == 1  # outside: BLAS threads the products
        threads(1)
        with parallel.blas_on_one_thread():
            assert _blas_threads() == 2


def test_matmul_splits_rows_and_repeats_exactly(threads, monkeypatch):
    threads(3)
    monkeypatch.setattr(parallel, "MIN_PRODUCT", 1000)
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((97, 64)).astype(dtype)
        b = rng.standard_normal((64, 33)).astype(dtype)
        expected = np.matmul(a, b)
        calls: list[int] = []
        with monkeypatch.context() as patch:
            original = parallel.run_parts
            patch.setattr(parallel, "run_parts",
                          lambda fn, parts, calls=calls, original=original:
                          calls.append(parts) or original(fn, parts))
            with parallel.blas_on_one_thread():
                out = parallel.matmul(a, b, out=np.empty_like(expected))
                again = parallel.matmul(a, b, out=np.empty_like(expected))
                transposed = parallel.matmul(a.T.copy().T, b, out=np.empty_like(expected))
        assert calls == [3, 3, 3]
        tolerance = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance)
        np.testing.assert_array_equal(again, out)
        np.testing.assert_allclose(transposed, expected, rtol=tolerance, atol=tolerance)


OPTIMIZERS = [
    lambda: nl.optimizers.Adam(1e-2), lambda: nl.optimizers.Adam(1e-2, amsgrad=True),
    lambda: nl.optimizers.AdamW(1e-2), lambda: nl.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: nl.optimizers.RMSprop(1e-2, momentum=0.5, centered=True),
    lambda: nl.optimizers.Adagrad(0.1), lambda: keras_optimizers.Adam(1e-2, weight_decay=0.1),
    lambda: keras_optimizers.RMSprop(1e-2, centered=True, momentum=0.3),
    lambda: keras_optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: keras_optimizers.Adagrad(0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_optimizer_steps_in_slices_equal_one_piece(make, threads, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART", 64)
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(1001).astype(np.float32)
    grads = rng.standard_normal((4, 1001)).astype(np.float32)
    results = {}
    for n in (1, 3):
        threads(n)
        p = Parameter(w0.copy())
        opt = make()
        for g in grads:
            p.grad = g.copy()
            opt.step([p])
        results[n] = p.data.copy()
    assert make().elementwise
    assert parallel.bounds(1001, 3) and not np.array_equal(results[1], w0)
    np.testing.assert_array_equal(results[3], results[1])


def test_a_custom_optimizer_is_not_sliced_unless_it_says_so(threads, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART", 8)
    threads(4)
    seen = []

    class Normalized(nl.optimizers.Optimizer):  # divides by the whole gradient's norm
        def _update(self, w, g, s, tmp, lr, t):
            seen.append(w.size)
            w -= lr * g / np.linalg.norm(g)

    p = Parameter(np.ones(100, np.float32))
    p.grad = np.arange(100, dtype=np.float32)
    Normalized(0.1).step([p])
    assert seen == [100]


def _fit_weights(threads_n: int, dense: bool) -> list[np.ndarray]:
    parallel.set_num_threads(threads_n)
    nl.set_seed(3)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 12, 12, 2)).astype(np.float32)
    x[:, :, :, 1] = 0  # the second channel, for the 1-channel layer of the conv-only model
    y = rng.integers(0, 3, 40)
    first = [] if dense else [nl.layers.Lambda(lambda t: t[..., :1]),
                              nl.layers.ZeroPadding2D(12),
                              nl.layers.Conv2D(2, 3, activation="relu")]
    layers = [nl.Input((12, 12, 2))] + first + [nl.layers.Conv2D(6, 3, activation="relu"),
              nl.layers.Conv2D(4, 3, activation="relu"), nl.layers.Conv2D(8, 3, strides=2)]
    if dense:
        layers += [nl.layers.Flatten(), nl.layers.Dense(64, activation="relu")]
    else:
        layers += [nl.layers.GlobalAveragePooling2D()]
    model = nl.Sequential(layers + [nl.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=20, epochs=2, verbose=0)
    return model.get_weights()


@pytest.fixture
def small_splits(monkeypatch):
    """Thresholds small enough that every split path runs on small shapes (the
    convolution's blocks, the Dense products' rows, ReLU's rows, the optimizer's slices,
    the long products' slices); returns the
    list of part counts run_parts was called with."""
    monkeypatch.setattr(conv, "CONV_BLOCK", 64)
    monkeypatch.setattr(parallel, "MIN_PART", 256)
    monkeypatch.setattr(parallel, "MIN_ROWS_PART", 256)
    monkeypatch.setattr(parallel, "MIN_PRODUCT", 2000)
    calls: list[int] = []
    original = parallel.run_parts
    monkeypatch.setattr(parallel, "run_parts",
                        lambda fn, parts: calls.append(parts) or original(fn, parts))
    return calls


def test_convolutions_fit_the_same_weights_on_one_and_several_threads(threads, small_splits,
                                                                      monkeypatch):
    """The NumPy convolution path's blocks (the compiled direct path is checked in
    test_kernels.py)."""
    from neuralab import kernels
    from neuralab.layers import conv as conv_module
    monkeypatch.setattr(kernels, "_enabled", False)
    long_products = []
    original = conv_module.matmul_long

    def spy(a, b, out):  # the one-channel layer's long dW product, in slices of 4096
        long_products.append(a.shape[1])
        return original(a, b, out)

    monkeypatch.setattr(conv_module, "matmul_long", spy)
    one = _fit_weights(1, dense=False)
    assert small_splits and set(small_splits) == {1}
    small_splits.clear()
    several = _fit_weights(3, dense=False)
    assert max(small_splits) == 3
    assert max(long_products) > 8192  # the sliced path of matmul_long ran
    for a, b in zip(one, several):
        np.testing.assert_array_equal(a, b)


def test_fit_with_split_products_repeats_exactly_and_matches_one_thread(threads, small_splits):
    one = _fit_weights(1, dense=True)
    several = _fit_weights(3, dense=True)
    again = _fit_weights(3, dense=True)
    assert max(small_splits) == 3
    for a, b, c in zip(one, several, again):
        np.testing.assert_array_equal(b, c)
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def _parts_in_child(_):
    return parallel.run_parts(lambda i: i * 10, 2)


def test_a_forked_child_makes_its_own_pool(threads):
    threads(2)
    assert parallel.run_parts(lambda i: i, 2) == [0, 1]  # the parent's pool exists
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_parts_in_child, [0]) == [[0, 10]]


def test_a_part_that_splits_its_own_work_runs_it_in_line(threads):
    threads(2)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(parallel.run_parts(
        lambda i: (parallel.run_parts(lambda j: (i, j, threading.get_ident()), 2)), 2)))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "nested run_parts deadlocked"
    (outer,) = result
    assert [[(i, j) for i, j, _ in inner] for inner in outer] == [[(0, 0), (0, 1)],
                                                                  [(1, 0), (1, 1)]]
    for inner in outer:  # each part's own parts ran on the part's thread
        assert len({ident for _, _, ident in inner}) == 1


def test_a_blas_region_outside_the_main_thread_leaves_blas_alone(threads):
    # OpenBLAS does not raise its thread count again when asked from another thread, so a
    # region there would leave the whole process on one BLAS thread after it closed
    from threadpoolctl import threadpool_limits
    threads(2)
    seen: list = []

    def other():
        with parallel.blas_on_one_thread():
            seen.append((_blas_threads(), parallel.parts_for_items(4)))

    with threadpool_limits(2, user_api="blas"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=60)
        assert seen == [(2, 1)]
        assert _blas_threads() == 2
        with parallel.blas_on_one_thread():  # nested regions in the main thread
            with parallel.blas_on_one_thread():
                assert _blas_threads() == 1
            assert _blas_threads() == 1
        assert _blas_threads() == 2
