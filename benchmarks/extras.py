"""The suite's other measurements: import time, peak memory of training, and how the time
per epoch grows with samples and hidden units.

    python benchmarks/extras.py            # all three, printed as Markdown
    python benchmarks/extras.py --quick

``benchmarks/run.py`` runs these too and appends them to ``results/latest.md``. Every
measurement runs in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _python(code: str, env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=1800, cwd=HERE, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


IMPORT = """
import json, sys, time
t = time.perf_counter()
import numpy
numpy_seconds = time.perf_counter() - t
import neuralab
seconds = time.perf_counter() - t
heavy = {"matplotlib", "scipy", "sklearn", "torch", "librosa", "h5py", "ray", "onnx", "tqdm"}
print(json.dumps({"s": seconds, "numpy_s": numpy_seconds,
                  "heavy": sorted(heavy & set(sys.modules))}))
"""


def _import_env() -> dict:
    """The environment of a fresh interpreter that reads and writes ``.pyc`` files, as
    Python does by default: a user's every run after the first. ``PYTHONDONTWRITEBYTECODE=1``
    (set on some shared machines and containers) would compile every module of an
    editable checkout from source on every run: about 450 ms instead of 150 here."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "neuralab-bench-pycache")
    return env


def _slowest_modules(env: dict, top: int = 6) -> list[tuple[str, float]]:
    """neuralab's modules with the largest import time of their own (``python -X
    importtime``: microseconds spent in the module itself, not in what it imports)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import neuralab"],
                          capture_output=True, text=True, timeout=600, cwd=HERE, env=env)
    own = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line[len("import time:"):].split("|")
        name = fields[2].strip()
        if fields[0].strip().isdigit() and name.startswith("neuralab"):
            own.append((name, int(fields[0]) / 1e6))
    return sorted(own, key=lambda item: -item[1])[:top]


def import_time(runs: int = 7) -> dict:
    """Median wall time of ``import neuralab`` (``import numpy`` included, and alone) in
    fresh interpreters with the bytecode cached, which optional packages it pulled in
    (none is the goal), and the modules that take longest."""
    env = _import_env()
    _python(IMPORT, env)  # writes the .pyc files the timed runs read
    results = [_python(IMPORT, env) for _ in range(runs)]
    return {"median_s": statistics.median(r["s"] for r in results),
            "numpy_median_s": statistics.median(r["numpy_s"] for r in results),
            "runs_s": [r["s"] for r in results], "heavy_modules": results[0]["heavy"],
            "slowest_modules": _slowest_modules(env)}


MEMORY = """
import json, sys, tracemalloc, resource
sys.path.insert(0, {here!r})
from workloads import WORKLOADS, make_data, neuralab_model
import neuralab as nl
name = {name!r}
spec = WORKLOADS[name]
data = make_data(name)
nl.set_seed(0)
model = neuralab_model(name)
model.compile(optimizer=nl.optimizers.Adam(spec["lr"]), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
tracemalloc.start()
model.fit(data["x"], data["y"], epochs=1, batch_size=spec["batch"], verbose=0)
current, peak = tracemalloc.get_traced_memory()
print(json.dumps({{"data_mb": data["x"].nbytes / 2**20, "train_peak_mb": peak / 2**20,
                  "params": model.count_params(),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def peak_memory(name: str) -> dict:
    """Memory numpy allocates during one epoch of ``fit`` (tracemalloc peak), beside the
    size of the training data: training must not copy the dataset."""
    return _python(MEMORY.format(here=str(HERE), name=name))


SCALING = """
import json, statistics, time
import numpy as np
import neuralab as nl
from neuralab.layers import Dense
n, hidden, features, reps = {n}, {hidden}, 784, {reps}
rng = np.random.default_rng(0)
x = rng.standard_normal((n, features)).astype(np.float32)
y = rng.integers(0, 10, n)
nl.set_seed(0)
model = nl.Sequential([nl.Input(shape=(features,)), Dense(hidden, activation="sigmoid"),
                       Dense(10, activation="softmax")])
model.compile(optimizer=nl.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x[:200], y[:200], epochs=1, batch_size=100, verbose=0)
times = []
for _ in range(reps):
    t = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=100, verbose=0)
    times.append(time.perf_counter() - t)
print(json.dumps({{"s": statistics.median(times)}}))
"""


def _fit_line(xs, ys) -> dict:
    import numpy as np
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    slope, intercept = np.polyfit(xs, ys, 1)
    predicted = slope * xs + intercept
    r2 = 1 - np.sum((ys - predicted) ** 2) / np.sum((ys - ys.mean()) ** 2)
    return {"slope": float(slope), "intercept": float(intercept), "r2": float(r2)}


def scaling(quick: bool = False) -> dict:
    """Seconds per epoch of a 784-h-10 sigmoid MLP (W3's shape): against the number of
    samples (h = 100) and against h (30,000 samples); a straight line is expected."""
    reps = 2 if quick else 3
    samples = [7500, 15000, 30000, 60000] if not quick else [7500, 15000, 30000]
    hidden = [50, 100, 200, 400] if not quick else [50, 100, 200]
    by_n = [_python(SCALING.format(n=n, hidden=100, reps=reps))["s"] for n in samples]
    by_h = [_python(SCALING.format(n=30000, hidden=h, reps=reps))["s"] for h in hidden]
    return {"samples": samples, "seconds_by_samples": by_n, "fit_samples": _fit_line(samples, by_n),
            "hidden": hidden, "seconds_by_hidden": by_h, "fit_hidden": _fit_line(hidden, by_h)}


def measure_all(quick: bool = False) -> dict:
    return {"import": import_time(5 if quick else 9),
            "memory": {w: peak_memory(w) for w in (("W3",) if quick else ("W3", "W4", "W5"))},
            "scaling": scaling(quick)}


def markdown(extras: dict) -> str:
    imp = extras["import"]
    loaded = ", ".join(imp["heavy_modules"]) or "none"
    slowest = ", ".join(f"{name} {seconds * 1000:.1f}" for name, seconds in imp["slowest_modules"])
    lines = [f"`import neuralab`: {imp['median_s'] * 1000:.0f} ms, of which `import numpy` "
             f"{imp['numpy_median_s'] * 1000:.0f} ms (medians of {len(imp['runs_s'])} fresh "
             f"interpreters, bytecode cached; optional packages it loads: {loaded}). Its "
             f"slowest modules (`python -X importtime`, own time in ms): {slowest}.", ""]
    lines += ["| training memory (one epoch of `fit`) | data | peak allocated while training | "
              "peak RSS |", "|---|---|---|---|"]
    for name, m in extras["memory"].items():
        lines.append(f"| {name} ({m['params']:,} parameters) | {m['data_mb']:.0f} MB | "
                     f"{m['train_peak_mb']:.1f} MB | {m['maxrss_mb']:.0f} MB |")
    s = extras["scaling"]
    fn, fh = s["fit_samples"], s["fit_hidden"]
    lines += ["", "Time per epoch of a 784-h-10 sigmoid MLP, batch 100:",
              "- against samples (h = 100): " + ", ".join(
                  f"{n:,}: {t:.3f} s" for n, t in zip(s["samples"], s["seconds_by_samples"]))
              + f"; slope {fn['slope'] * 1e6:.2f} s per million samples, intercept "
                f"{fn['intercept'] * 1e3:.1f} ms, R² {fn['r2']:.4f}",
              "- against hidden units (30,000 samples): " + ", ".join(
                  f"{h}: {t:.3f} s" for h, t in zip(s["hidden"], s["seconds_by_hidden"]))
              + f"; slope {fh['slope'] * 1e3:.3f} ms per hidden unit, intercept "
                f"{fh['intercept'] * 1e3:.0f} ms, R² {fh['r2']:.4f}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    started = time.time()
    extras = measure_all(args.quick)
    print(markdown(extras))
    print(f"\n({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
