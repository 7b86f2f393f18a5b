"""Where one epoch of neuralab's ``fit`` goes: a per-phase profile of the benchmark workloads.

    python benchmarks/profile_epoch.py                    # W2, W3, W4, W5
    python benchmarks/profile_epoch.py --workloads W4 --repeats 5 --layers

The library is instrumented from outside, for the profiled ``fit`` only: timing wrappers
are put on the bound methods that make up a training step and taken off afterwards (the
library holds no timing code). Each phase's time is *exclusive*: an activation called
inside a layer's forward counts as activation, not as forward.

Phases:
  gather       batch indexing into the reused batch buffers (``RowGatherer.rows``)
  forward      the layers' own forward work (GEMMs, convolutions, pooling, reshapes)
  activations  activation functions and their derivatives (forward and backward)
  loss         loss value and dL/d(output) (the fused softmax cross-entropy)
  backward     the layers' backward work (activation derivatives excluded)
  optimizer    ``optimizer.step``
  metrics/cb   metric updates and callbacks
  evaluation   the validation pass of W2, as a whole
  step other   the rest of ``train_step``: zeroing gradients, the divergence check
  loop other   the rest of the epoch: the Python loop, loss means, shuffling

Beside the phases: the BLAS floor, i.e. every matrix product the epoch made
(``np.matmul`` calls, recorded with their shapes and operand layouts) replayed alone on
fresh arrays; and for the MLPs the same epoch as a hand-written NumPy loop
(``workloads.NumpyMLP``: no layers, graph, metrics or callbacks), what the work costs
without a framework. The epoch is fitted ``--repeats`` times; the table shows the repeat with
the smallest total. Times are this process's CPU time by default (``--clock cpu``: with
one BLAS thread, set here unless already set, it is the work done, and other processes
on a shared machine barely move it); ``--clock wall`` measures elapsed time instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workloads import WORKLOADS, NumpyMLP, epochs_of, make_data, neuralab_model, numpy_epoch  # noqa: E402

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]

PHASES = ("gather", "forward", "activations", "loss", "backward", "optimizer", "metrics/cb",
          "evaluation", "step other", "loop other")


class PhaseTimer:
    """Exclusive wall time per phase (and per detail key) of wrapped callables."""

    def __init__(self):
        self.phases: dict[str, float] = defaultdict(float)
        self.details: dict[str, float] = defaultdict(float)
        self._nested: list[float] = []  # time of timed calls nested in each open call
        self._opaque = 0  # inside an opaque phase, nested wrappers do not time
        self._patches: list[tuple[object, str, object, bool]] = []

    def wrap(self, owner, name: str, phase: str, detail: str | None = None,
             opaque: bool = False) -> None:
        """Replace ``owner.name`` by a timed version (``undo`` puts the original back)."""
        had_own = name in vars(owner)
        original = getattr(owner, name)
        timer = self

        def timed(*args, **kwargs):
            if timer._opaque:
                return original(*args, **kwargs)
            timer._opaque += opaque
            timer._nested.append(0.0)
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = clock() - start
                own = elapsed - timer._nested.pop()
                timer._opaque -= opaque
                timer.phases[phase] += own
                if detail is not None:
                    timer.details[detail] += own
                if timer._nested:
                    timer._nested[-1] += elapsed

        setattr(owner, name, timed)  # on an instance, this shadows the class's method
        self._patches.append((owner, name, original, had_own))

    def undo(self) -> None:
        for owner, name, original, had_own in reversed(self._patches):
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self._patches.clear()


class GemmRecorder:
    """Counts matrix products by (function, shapes, layouts, dtype) while installed: the
    ``np.matmul`` calls, and Conv2D's ``matmul_long`` (a long product summed over
    slices) as one product. Products written with ``@`` elsewhere are not counted."""

    def __init__(self):
        from neuralab.layers import conv
        self.calls: Counter = Counter()
        self._targets = [(np, "matmul")] + [(conv, "matmul_long")] * hasattr(conv, "matmul_long")
        self._originals = [getattr(owner, name) for owner, name in self._targets]
        self._inside = False

    def __enter__(self):
        for (owner, name), original in zip(self._targets, self._originals):
            setattr(owner, name, self._recording(name, original))
        return self

    def _recording(self, name: str, original):
        def recording(a, b, *args, **kwargs):
            if self._inside:  # a slice product of matmul_long: counted with it
                return original(a, b, *args, **kwargs)
            a, b = np.asarray(a), np.asarray(b)
            self.calls[(name, a.shape, _layout(a), b.shape, _layout(b),
                        np.result_type(a, b).str)] += 1
            self._inside = True
            try:
                return original(a, b, *args, **kwargs)
            finally:
                self._inside = False
        return recording

    def __exit__(self, *exc):
        for (owner, name), original in zip(self._targets, self._originals):
            setattr(owner, name, original)

    def replay_seconds(self) -> float:
        """Seconds of all recorded products, each on fresh operands of its shape and
        layout, written into a preallocated output."""
        functions = dict(zip((name for _, name in self._targets), self._originals))
        rng = np.random.default_rng(0)
        jobs = []
        for (name, a_shape, a_layout, b_shape, b_layout, dtype), count in self.calls.items():
            a, b = _operand(rng, a_shape, a_layout, dtype), _operand(rng, b_shape, b_layout, dtype)
            out = np.empty(np.matmul(a[..., :1, :], b[..., :1]).shape[:-2]
                           + (a_shape[-2], b_shape[-1]), dtype) if a.ndim > 1 and b.ndim > 1 \
                else np.matmul(a, b)
            jobs.append((functions[name], a, b, out, count))
        for function, a, b, out, _ in jobs:  # warm caches and OpenBLAS' buffers
            function(a, b, out=out)
        start = clock()
        for function, a, b, out, count in jobs:
            for _ in range(count):
                function(a, b, out=out)
        return clock() - start


def _layout(a: np.ndarray) -> str:
    if a.ndim < 2 or a.flags.c_contiguous:
        return "C"
    return "F" if a.flags.f_contiguous or a.T.flags.c_contiguous else "strided"


def _operand(rng, shape, layout: str, dtype) -> np.ndarray:
    if layout == "F":
        return rng.standard_normal(shape[::-1]).astype(dtype).T
    if layout == "strided":  # a column slice of a wider array (e.g. the valid part of a grid)
        return rng.standard_normal(shape[:-1] + (shape[-1] + 64,)).astype(dtype)[..., :shape[-1]]
    return rng.standard_normal(shape).astype(dtype)


def instrument(model, timer: PhaseTimer) -> None:
    """Put the timing wrappers on ``model``'s layers, loss, optimizer and loop hooks."""
    from neuralab import callbacks
    from neuralab.datasets import batching
    from neuralab.training import loops

    timer.wrap(batching.RowGatherer, "rows", "gather")
    activations = {}
    for layer in model.layers:
        kind = type(layer).__name__
        timer.wrap(layer, "forward", "forward", f"forward {kind}")
        timer.wrap(layer, "backward", "backward", f"backward {kind}")
        if hasattr(layer, "backward_logits"):
            timer.wrap(layer, "backward_logits", "backward", f"backward {kind}")
        act = getattr(layer, "activation", None)
        if act is not None:
            activations[id(act)] = act
    for act in activations.values():
        timer.wrap(act, "forward", "activations", f"activation {act.name} fwd")
        timer.wrap(act, "backward", "activations", f"activation {act.name} bwd")
    for loss in model.compiled_losses:
        for name in ("from_logits_grad", "value_and_gradient", "value"):
            timer.wrap(loss, name, "loss")
    timer.wrap(model.optimizer, "step", "optimizer")
    timer.wrap(model, "update_metrics", "metrics/cb")
    timer.wrap(callbacks.CallbackList, "call", "metrics/cb")
    timer.wrap(callbacks.CallbackList, "call_batch", "metrics/cb")
    timer.wrap(loops, "_run_test_loop", "evaluation", opaque=True)
    timer.wrap(model, "train_step", "step other")


def profile(name: str, repeats: int) -> dict:
    """Phase times of the fastest of ``repeats`` instrumented epochs, the median plain
    epoch, and the BLAS floor of the epoch's products."""
    import neuralab as nl
    spec = WORKLOADS[name]
    nl.set_seed(0)
    data = make_data(name)
    model = neuralab_model(name)
    model.compile(optimizer=nl.optimizers.Adam(spec["lr"]),
                  loss="binary_crossentropy" if spec["classes"] == 1
                  else "sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs, n = epochs_of(spec, quick=False)
    x, y = data["x"][:n], data["y"][:n]
    kwargs = dict(batch_size=spec["batch"], verbose=0, validation_batch_size=spec["batch"],
                  validation_data=(data["x_eval"], data["y_eval"]) if "x_eval" in data else None)
    model.fit(x[:2 * spec["batch"]], y[:2 * spec["batch"]], epochs=1, **kwargs)  # warm-up

    def fit_seconds() -> float:
        start = clock()
        model.fit(x, y, epochs=1, **kwargs)
        return clock() - start

    plain = sorted(fit_seconds() for _ in range(repeats))[repeats // 2]
    best: dict | None = None
    recorder = GemmRecorder()
    for r in range(repeats):
        timer = PhaseTimer()
        instrument(model, timer)
        try:
            if r == 0:
                with recorder:
                    total = fit_seconds()
            else:
                total = fit_seconds()
        finally:
            timer.undo()
        if best is None or total < best["total"]:
            best = {"total": total, "phases": dict(timer.phases), "details": dict(timer.details)}
    assert best is not None
    best["phases"]["loop other"] = best["total"] - sum(best["phases"].values())
    best["plain"] = plain
    best["floor"] = recorder.replay_seconds()
    if spec["kind"] == "mlp" and spec["classes"] > 1:
        best["hand"] = hand_epoch_seconds(spec, data, x, y, repeats)
    best["gemms"] = sum(recorder.calls.values())
    return best


def hand_epoch_seconds(spec: dict, data: dict, x, y, repeats: int) -> float:
    """Median time of the epoch (and W2's evaluation) as a :class:`NumpyMLP` loop
    (:func:`numpy_epoch`), the batches taken in a fresh random order as ``fit`` takes them."""
    mlp = NumpyMLP.for_workload(spec)
    labels = np.asarray(y, dtype=np.intp)
    rng = np.random.default_rng(0)

    def epoch() -> float:
        start = clock()
        numpy_epoch(mlp, x, labels, data, rng)
        return clock() - start

    epoch()  # warm-up
    return sorted(epoch() for _ in range(repeats))[repeats // 2]


def clock_name() -> str:
    return next(name for name, function in CLOCKS.items() if function is clock)


def report(name: str, result: dict, layers: bool) -> str:
    total = result["total"]
    lines = [f"### {name}: one epoch, {result['gemms']} matrix products ({clock_name()} time)",
             "", "| phase | ms | share |", "|---|---:|---:|"]
    for phase in PHASES:
        seconds = result["phases"].get(phase, 0.0)
        if seconds or phase in ("gather", "forward", "backward", "optimizer"):
            lines.append(f"| {phase} | {seconds * 1e3:.1f} | {seconds / total:.0%} |")
    lines.append(f"| **total (instrumented)** | {total * 1e3:.1f} | 100% |")
    lines.append(f"| epoch without instrumentation (median) | {result['plain'] * 1e3:.1f} | |")
    lines.append(f"| BLAS floor: the same products alone | {result['floor'] * 1e3:.1f} | "
                 f"{result['floor'] / total:.0%} |")
    if "hand" in result:
        lines.append(f"| the same epoch as a hand-written NumPy loop (median) | "
                     f"{result['hand'] * 1e3:.1f} | {result['hand'] / total:.0%} |")
    if layers:
        lines += ["", "| detail | ms |", "|---|---:|"]
        for key, seconds in sorted(result["details"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {key} | {seconds * 1e3:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="W2,W3,W4,W5")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", action="store_true", help="also time per layer kind")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    for name in args.workloads.split(","):
        if name not in WORKLOADS or name == "W1":
            raise SystemExit(f"profile_epoch: unknown or unsupported workload {name!r}; "
                             f"choose from W2, W3, W4, W5")
        print(report(name, profile(name, args.repeats), args.layers) + "\n", flush=True)


if __name__ == "__main__":
    main()
