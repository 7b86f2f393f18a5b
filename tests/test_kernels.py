"""neuralab.kernels: the compiled kernels against the NumPy code they stand in for.

The elementwise kernels (Adam, ReLU's backward) must equal NumPy's passes bit for bit; the
direct convolution is checked against the convolution summed in float64 (to float32
rounding), against the NumPy path of Conv2D, and for results that do not depend on how its
columns are split over threads. The build itself: cached, atomic, and off with a reason
where no compiler works."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import neuralab as nl
from neuralab import kernels, parallel

pytestmark = pytest.mark.skipif(not kernels.available(),
                                reason=f"compiled kernels unavailable: {kernels.status()}")


@pytest.fixture
def small_arrays(monkeypatch):
    """The elementwise kernels also on arrays below MIN_ELEMENTWISE (where they decline:
    NumPy's passes are quicker there), so small test arrays take them."""
    monkeypatch.setattr(kernels, "MIN_ELEMENTWISE", 1)


@pytest.fixture
def numpy_only():
    """Run a block with the kernels off; they are back on afterwards."""
    kernels.set_enabled(False)
    yield
    kernels.set_enabled(True)


def _with_and_without_kernels(fn):
    """``fn()`` with the kernels on, then off (each result a list of arrays)."""
    on = fn()
    kernels.set_enabled(False)
    try:
        off = fn()
    finally:
        kernels.set_enabled(True)
    return on, off


# -- elementwise kernels: bit for bit --------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [
    lambda: nl.optimizers.Adam(1e-2),
    lambda: nl.optimizers.Adam(3e-3, beta_1=0.8, beta_2=0.99, epsilon=1e-4),
    lambda: nl.optimizers.AdamW(1e-2, weight_decay=0.1),
    lambda: nl.optimizers.Adam(1e-2, weight_decay=0.01),
    lambda: nl.optimizers.Adam(1e-2, amsgrad=True),  # NumPy path either way
])
def test_adam_steps_equal_numpy_bit_for_bit(dtype, make, small_arrays, monkeypatch):
    ran = []
    original = kernels.adam
    monkeypatch.setattr(kernels, "adam", lambda *args: ran.append(original(*args)) or ran[-1])

    def run():
        rng = np.random.default_rng(0)
        params = [nl.Parameter(rng.standard_normal(shape).astype(dtype))
                  for shape in [(300, 7), (7,), (5, 5, 3)]]
        opt = make()
        start = params[0].data.copy()
        for _ in range(6):
            for p in params:
                p.grad = rng.standard_normal(p.shape).astype(dtype)
            opt.step(params)
        assert np.abs(params[0].data - start).max() > 1e-3  # the weights moved
        return [p.data.copy() for p in params] + [opt.get_slot(params[0], "v").copy()]

    on, off = _with_and_without_kernels(run)
    assert any(ran) != make().amsgrad  # the kernel ran (amsgrad: NumPy's passes only)
    for a, b in zip(on, off):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_adam_kernel_runs_in_slices_on_threads(monkeypatch, small_arrays):
    """The fused step in slices on several threads (the GIL is released) equals one call."""
    monkeypatch.setattr(parallel, "MIN_PART", 1000)
    before = parallel.get_num_threads()
    results = []
    try:
        for threads in (1, 3):
            parallel.set_num_threads(threads)
            rng = np.random.default_rng(1)
            p = nl.Parameter(rng.standard_normal(10_000).astype(np.float32))
            opt = nl.optimizers.Adam(1e-2)
            for _ in range(3):
                p.grad = rng.standard_normal(p.shape).astype(np.float32)
                opt.step([p])
            results.append(p.data.copy())
    finally:
        parallel.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


def test_adam_kernel_matches_the_written_out_update(small_arrays):
    """One step by hand in float64 from the formula in Adam's docstring."""
    rng = np.random.default_rng(2)
    w, g = rng.standard_normal(50), rng.standard_normal(50)
    m, v = np.zeros(50), np.zeros(50)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    expected_m, expected_v = (1 - b1) * g, (1 - b2) * g * g
    expected = w - lr / (1 - b1) * expected_m / (np.sqrt(expected_v) / math.sqrt(1 - b2) + eps)
    root = math.sqrt(1 - b2)
    assert kernels.adam(w, g, m, v, 1 - b1, 1 - b2, eps * root, lr * root / (1 - b1))
    np.testing.assert_allclose(m, expected_m, rtol=1e-15)
    np.testing.assert_allclose(v, expected_v, rtol=1e-12)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_adam_kernel_declines_what_it_does_not_cover(monkeypatch):
    assert not kernels.adam(*(np.zeros(100, np.float32) for _ in range(4)), 0.1, 0.1, 0, 0.1)
    monkeypatch.setattr(kernels, "MIN_ELEMENTWISE", 1)
    w = np.zeros(8, np.float16)
    assert not kernels.adam(w, w, w, w, 0.1, 0.1, 1e-7, 1e-3)
    x = np.zeros(16, np.float32)
    assert not kernels.adam(x[::2], x[::2], x[::2], x[::2], 0.1, 0.1, 1e-7, 1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_equals_numpy_on_grid_views(dtype, small_arrays):
    rng = np.random.default_rng(3)
    shape = (6, 5, 7, 9)
    dout = rng.standard_normal(shape).astype(dtype)
    y = np.maximum(rng.standard_normal(shape), 0).astype(dtype)
    dout[0, 0, 0, :4] = [np.inf, np.nan, -1.0, 2.0]
    y[0, 0, 0, :4] = 0
    # out: the valid view of a row-padded full grid, as Conv2D's backward writes it
    grid = np.zeros((6, 11 + 5 * 9 * 12), dtype)
    out = grid[:, 11:].reshape(6, 5, 9, 12)[:, :, :7, :9]
    assert kernels.relu_backward(dout, y, out)
    with np.errstate(invalid="ignore"):
        expected = np.multiply(dout, y > 0)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected))  # -0.0 where dout < 0
    assert np.all(grid[:, :11] == 0)  # nothing written outside the view
    assert np.all(grid[:, 11:].reshape(6, 5, 9, 12)[:, :, 7:] == 0)


def test_relu_backward_collapses_any_rank_and_declines_strided_rows(monkeypatch):
    monkeypatch.setattr(kernels, "MIN_ELEMENTWISE", 1)
    rng = np.random.default_rng(4)
    for shape in [(5,), (3, 4), (1, 1, 1), (2, 3, 4, 5, 6)]:
        d, y = rng.standard_normal(shape), rng.standard_normal(shape)
        out = np.empty(shape)
        assert kernels.relu_backward(d, y, out)
        np.testing.assert_array_equal(out, d * (y > 0))
    d = rng.standard_normal((4, 6))
    assert not kernels.relu_backward(d[:, ::2], d[:, ::2], np.empty((4, 3)))
    assert not kernels.relu_backward(d, d, np.empty((4, 6), np.float32))  # mixed dtypes
    monkeypatch.setattr(kernels, "MIN_ELEMENTWISE", 100)
    assert not kernels.relu_backward(d, d, np.empty((4, 6)))  # NumPy is quicker there


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 8, 8, 3), (4, 9, 7, 2), (2, 5, 6, 1)])
def test_maxpool_backward_equals_numpy_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(9)
    x = rng.integers(0, 3, shape).astype(dtype)  # many ties: the first maximum takes it
    x[0, 0, 0, 0] = np.nan  # a window with NaN passes no gradient

    def run():
        layer = nl.layers.MaxPooling2D(2)
        y = np.array(layer.forward(x, training=True))
        dout = np.random.default_rng(10).standard_normal(y.shape).astype(dtype)
        dx = np.array(layer.backward(dout))
        return [y, dx, np.signbit(dx)]  # -0.0 where a negative dout was multiplied by 0

    on, off = _with_and_without_kernels(run)
    assert np.isnan(on[0]).any() and (on[1] != 0).sum() < x.size / 2
    for a, b in zip(on, off):
        np.testing.assert_array_equal(a, b)


def test_maxpool_backward_kernel_declines_other_layouts():
    x = np.zeros((2, 3, 6, 6), np.float32)
    y, d = np.zeros((2, 3, 3, 3), np.float32), np.zeros((2, 3, 3, 3), np.float32)
    assert kernels.maxpool2_backward(x, y, d, np.empty_like(x))
    assert not kernels.maxpool2_backward(x, y, d[:, :, :2], np.empty_like(x))
    assert not kernels.maxpool2_backward(x, y, d.transpose(1, 0, 2, 3), np.empty_like(x)[:, :2])
    assert not kernels.maxpool2_backward(x.astype(np.float64), y, d, np.empty_like(x))


# -- the direct convolution -------------------------------------------------------------------------
needs_conv = pytest.mark.skipif(not kernels.has("conv", np.float32),
                                reason=f"no direct convolution here: {kernels.status()}")


def _grid(c, n, h, w, dilation=1, k=3, seed=5):
    rng = np.random.default_rng(seed)
    m = n * h * w
    shifts = np.array([i * dilation * w + j * dilation for i in range(k) for j in range(k)],
                      dtype=np.int64)
    return rng, m, shifts, m - int(shifts[-1])


@needs_conv
@pytest.mark.parametrize("c,f,h,dilation", [(1, 16, 12, 1), (3, 5, 9, 1), (8, 8, 10, 2),
                                            (16, 4, 7, 1), (2, 17, 6, 1)])
def test_conv_kernels_equal_the_float64_sums(c, f, h, dilation):
    rng, m, shifts, p = _grid(c, 3, h, h + 1, dilation)
    x = rng.standard_normal((c, m)).astype(np.float32)
    w = rng.standard_normal((len(shifts), c, f)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32)
    out = np.full((f, m), np.nan, np.float32)
    assert kernels.conv(x, w, shifts, bias, out, 0, p)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    expected = bias[:, None] + sum(w64[b].T @ x64[:, s:s + p] for b, s in enumerate(shifts))
    np.testing.assert_allclose(out[:, :p], expected, rtol=1e-5, atol=1e-5)
    assert np.isnan(out[:, p:]).all()  # columns past the last window are not written

    dz = rng.standard_normal((f, m)).astype(np.float32)
    dw = np.empty((len(shifts), c, f), np.float32)
    assert kernels.conv_dw(x, dz, shifts, dw, 0, p)
    expected_dw = np.stack([x64[:, s:s + p] @ dz[:, :p].T.astype(np.float64) for s in shifts])
    np.testing.assert_allclose(dw, expected_dw, rtol=1e-5, atol=1e-4)


@needs_conv
def test_conv_fused_relu_clips_below_zero_and_keeps_nan():
    rng, m, shifts, p = _grid(3, 2, 9, 10)
    x = rng.standard_normal((3, m)).astype(np.float32)
    x[1, 40] = np.nan
    w = rng.standard_normal((9, 3, 5)).astype(np.float32)
    plain, fused = np.zeros((5, m), np.float32), np.zeros((5, m), np.float32)
    kernels.conv(x, w, shifts, None, plain, 0, p)
    kernels.conv(x, w, shifts, None, fused, 0, p, relu=True)
    assert (plain < 0).any() and np.isnan(plain).any()
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(fused, np.maximum(plain, 0))  # NaN where plain is NaN


@needs_conv
def test_conv_columns_do_not_depend_on_the_split():
    rng, m, shifts, p = _grid(5, 4, 11, 13)
    x = rng.standard_normal((5, m)).astype(np.float32)
    w = rng.standard_normal((9, 5, 6)).astype(np.float32)
    whole, pieces = np.zeros((6, m), np.float32), np.zeros((6, m), np.float32)
    kernels.conv(x, w, shifts, None, whole, 0, p)
    for q0, q1 in [(0, 64), (64, 100), (100, 357), (357, p)]:  # full tiles and edges
        kernels.conv(x, w, shifts, None, pieces, q0, q1)
    np.testing.assert_array_equal(whole, pieces)


@needs_conv
def test_conv_kernels_decline_float64_and_strided_rows():
    rng, m, shifts, p = _grid(2, 2, 6, 6)
    x = rng.standard_normal((2, m))
    assert not kernels.has("conv", np.float64)
    assert not kernels.conv(x, np.zeros((9, 2, 3)), shifts, None, np.zeros((3, m)), 0, p)
    x32 = np.zeros((2, 2 * m), np.float32)[:, ::2]
    assert not kernels.conv(x32, np.zeros((9, 2, 3), np.float32), shifts, None,
                            np.zeros((3, m), np.float32), 0, p)


@pytest.mark.parametrize("kwargs,shape", [
    (dict(filters=6, kernel_size=3), (4, 11, 10, 3)),
    (dict(filters=5, kernel_size=3, padding="same", activation="relu"), (3, 9, 9, 1)),
    (dict(filters=4, kernel_size=(2, 3), dilation_rate=2, use_bias=False), (2, 12, 13, 5)),
    (dict(filters=7, kernel_size=3, activation="tanh"), (2, 8, 8, 16)),
])
def test_conv2d_direct_path_matches_the_numpy_path(kwargs, shape):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(np.float32)

    def run():
        nl.set_seed(0)
        layer = nl.layers.Conv2D(**kwargs)
        y = layer(x)
        dout = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
        layer.forward(x, training=True)
        layer.kernel.zero_grad()
        if layer.use_bias:
            layer.bias.zero_grad()
        dx = layer.backward(dout)
        assert layer._direct == kernels.has("conv", np.float32)
        grads = [layer.kernel.grad.copy()] + ([layer.bias.grad.copy()] if layer.use_bias else [])
        return [np.array(y), np.array(dx)] + grads

    on, off = _with_and_without_kernels(run)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def test_conv1d_causal_on_the_direct_path_matches_numpy():
    x = np.random.default_rng(8).standard_normal((3, 20, 4)).astype(np.float32)

    def run():
        nl.set_seed(1)
        layer = nl.layers.Conv1D(6, 3, padding="causal", dilation_rate=2)
        y = layer(x)
        layer.kernel.zero_grad()
        return [np.array(y), np.array(layer.backward(np.ones_like(y))), layer.kernel.grad.copy()]

    on, off = _with_and_without_kernels(run)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def test_cnn_fit_repeats_bit_for_bit_on_one_and_several_threads(monkeypatch):
    """The direct path splits columns over threads; each column's sum is the same, so the
    trained weights are too."""
    monkeypatch.setattr(parallel, "MIN_PRODUCT", 1000)
    before = parallel.get_num_threads()

    def fit(threads):
        parallel.set_num_threads(threads)
        nl.set_seed(2)
        rng = np.random.default_rng(2)
        x, y = rng.standard_normal((30, 12, 12, 2)).astype(np.float32), rng.integers(0, 3, 30)
        model = nl.Sequential([nl.Input((12, 12, 2)), nl.layers.Conv2D(8, 3, activation="relu"),
                               nl.layers.Conv2D(4, 3, activation="relu"),
                               nl.layers.GlobalAveragePooling2D(),
                               nl.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=10, epochs=2, verbose=0)
        return model.get_weights()

    try:
        one, several = fit(1), fit(3)
    finally:
        parallel.set_num_threads(before)
    for a, b in zip(one, several):
        np.testing.assert_array_equal(a, b)


# -- the build ------------------------------------------------------------------------------------------
def _status_in_subprocess(tmp_path, **env):
    code = ("from neuralab import kernels; import numpy as np; print(kernels.status()); "
            "kernels.MIN_ELEMENTWISE = 1; "
            "w = np.ones(4, np.float32); print(kernels.adam(w, w.copy(), w.copy(), w.copy(), "
            "0.1, 0.1, 1e-7, 1e-3))")
    environment = {**os.environ, "NEURALAB_CACHE_DIR": str(tmp_path), **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=300)
    return done.returncode, done.stdout.splitlines(), done.stderr


def test_build_is_cached_and_no_compiler_falls_back_to_numpy(tmp_path):
    rc, out, err = _status_in_subprocess(tmp_path)
    assert rc == 0, err
    assert out[0].startswith("on:") and out[1] == "True"
    built = sorted(p.name for p in (tmp_path / "kernels").iterdir())
    assert [name.split("-")[0] for name in built] == ["conv", "elementwise"]
    assert all(name.endswith(".so") for name in built)
    stamp = [(tmp_path / "kernels" / name).stat().st_mtime_ns for name in built]
    rc, out, _ = _status_in_subprocess(tmp_path)  # the second process loads, not builds
    assert out[0].startswith("on:")
    assert sorted(p.name for p in (tmp_path / "kernels").iterdir()) == built
    assert [(tmp_path / "kernels" / name).stat().st_mtime_ns for name in built] == stamp

    rc, out, err = _status_in_subprocess(tmp_path / "fresh", CC="false",
                                         PATH=os.path.dirname(sys.executable))
    assert rc == 0, err
    assert out[0].startswith("off:") and "compiler" in out[0] and out[1] == "False"


def test_failing_compiler_and_environment_switch(tmp_path):
    fake = tmp_path / "badcc"
    fake.write_text("#!/bin/sh\necho 'badcc 1.0'\nexit 1\n")
    fake.chmod(0o755)
    rc, out, err = _status_in_subprocess(tmp_path / "cache", CC=str(fake))
    assert rc == 0, err
    assert out[0].startswith("off: could not build") and "badcc" in out[0]
    assert out[1] == "False"
    assert not list((tmp_path / "cache" / "kernels").glob("*.so*"))  # no partial file left
    rc, out, _ = _status_in_subprocess(tmp_path, NEURALAB_KERNELS="0")
    assert out == ["off: NEURALAB_KERNELS=0", "False"]
    rc, _, err = _status_in_subprocess(tmp_path, NEURALAB_KERNELS="maybe")
    assert rc != 0 and "NEURALAB_KERNELS must be 0 or 1" in err


def test_set_enabled_switches_status(numpy_only, small_arrays):
    assert not kernels.available()
    assert kernels.status() == "off: kernels.set_enabled(False)"
    assert not kernels.adam(*(np.ones(4, np.float32) for _ in range(4)), 0.1, 0.1, 0.0, 0.1)
