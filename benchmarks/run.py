"""Run the benchmark suite: neuralab and its peers side by side, in one command.

    python benchmarks/run.py                 # all workloads, all systems, 5 runs each
    python benchmarks/run.py --quick         # a ~2-minute version (fewer epochs, 3 runs)
    python benchmarks/run.py --workloads W4 --systems neuralab,torch --runs 7

Besides the table: import time, peak memory of W3/W5 training and the scaling of time per
epoch with samples and hidden units (``benchmarks/extras.py``; ``--no-extras`` skips them).

Every measurement runs in its own process; systems alternate A/B/A/B within each round so
slow drifts of the machine hit all of them alike. The table reports medians, and ratios
to PyTorch eager with its default Adam. Results go to ``benchmarks/results/latest.md`` and
``latest.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import extras  # noqa: E402
import torch_style  # noqa: E402
from workloads import SYSTEMS, WORKLOADS, gemm_gflops  # noqa: E402

# T1/T2: the lecture's loops in PyTorch style, on neuralab.torch and on PyTorch eager
WORKLOADS, SYSTEMS = torch_style.register(WORKLOADS, SYSTEMS)

LABELS = {"neuralab": "neuralab `fit`", "torch": "PyTorch eager", "torch_fused": "PyTorch fused Adam",
          "sklearn": "scikit-learn MLPClassifier", "keras_jax": "Keras 3 (JAX)",
          "blas_floor": "BLAS floor (GEMMs only)", "neuralab_torch": "neuralab.torch"}
UNITS = {"W4": ("ms/step", lambda seconds, quick: seconds * 1e3 / (
    WORKLOADS["W4"]["quick_steps"] if quick else WORKLOADS["W4"]["steps"]))}


def worker(system: str, workload: str, quick: bool) -> None:
    import resource
    seconds = SYSTEMS[system](workload, quick)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "maxrss_mb": rss}))


def measure(system: str, workload: str, quick: bool) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", system, workload]
    if quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": last[:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt_time(workload: str, seconds: float, quick: bool) -> str:
    if workload in UNITS:
        unit, convert = UNITS[workload]
        return f"{convert(seconds, quick):.2f} {unit}"
    return f"{seconds:.3f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=2, metavar=("SYSTEM", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and runs (~2 minutes)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--runs", type=int, default=None, help="runs per system (default 5; 3 with --quick)")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--no-extras", action="store_true",
                        help="skip import time, peak memory and scaling (benchmarks/extras.py)")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], args.quick)
        return 0

    runs = args.runs or (3 if args.quick else 5)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for name in workloads + systems:
        if name not in WORKLOADS and name not in SYSTEMS:
            parser.error(f"unknown workload or system {name!r}; workloads: {list(WORKLOADS)}, "
                         f"systems: {list(SYSTEMS)}")
    results: dict = {"machine": {"python": platform.python_version(), "processor": platform.processor(),
                                 "platform": platform.platform()},
                     "quick": args.quick, "runs": runs, "workloads": {}}
    started = time.time()
    for workload in workloads:
        samples: dict[str, list] = {s: [] for s in systems}
        errors: dict[str, str] = {}
        for r in range(runs):
            for system in systems:
                if system in errors:
                    continue
                result = measure(system, workload, args.quick)
                if "error" in result:
                    errors[system] = result["error"]
                    continue
                samples[system].append(result)
                print(f"[{time.time() - started:6.0f}s] {workload} {system:12s} run {r + 1}/{runs}: "
                      f"{fmt_time(workload, result['seconds'], args.quick)}", flush=True)
        entry = {}
        base = [s["seconds"] for s in samples.get("torch", [])]
        for system in systems:
            if samples[system]:
                seconds = [s["seconds"] for s in samples[system]]
                entry[system] = {"median_s": statistics.median(seconds), "runs_s": seconds,
                                 "maxrss_mb": max(s["maxrss_mb"] for s in samples[system])}
                if base and system != "torch" and len(base) == len(seconds):
                    # each run against the PyTorch run next to it in time: robust to the
                    # machine drifting between fast and slow periods
                    entry[system]["paired_ratio"] = statistics.median(
                        a / b for a, b in zip(seconds, base))
            elif system in errors:
                entry[system] = {"error": errors[system]}
        if WORKLOADS[workload]["kind"] == "mlp" and not args.quick:
            try:
                entry["gemm_gflops"] = gemm_gflops(workload)
            except Exception as error:  # pragma: no cover - informative only
                entry["gemm_gflops_error"] = str(error)
        results["workloads"][workload] = entry
        save(results, systems, Path(args.out))  # after every workload: nothing lost to a crash
    if not args.no_extras:
        print(f"[{time.time() - started:6.0f}s] import time, peak memory, scaling", flush=True)
        results["extras"] = extras.measure_all(args.quick)
    print("\n" + save(results, systems, Path(args.out)))
    return 0


def save(results: dict, systems: list[str], out: Path) -> str:
    """Write latest.json and latest.md (atomically); returns the Markdown."""
    sys.path.insert(0, str(HERE.parent))
    from neuralab.io_utils import atomic_write_text
    table = markdown(results, systems)
    if "extras" in results:
        table += "\n\n" + extras.markdown(results["extras"])
    atomic_write_text(out / "latest.json", json.dumps(results, indent=1))
    atomic_write_text(out / "latest.md", table + "\n")
    return table


def markdown(results: dict, systems: list[str]) -> str:
    quick = results["quick"]
    header = "| workload | " + " | ".join(LABELS.get(s, s) for s in systems) + " |"
    lines = [header, "|---" * (len(systems) + 1) + "|"]
    for workload, entry in results["workloads"].items():
        base = entry.get("torch", {}).get("median_s")
        cells = []
        for system in systems:
            info = entry.get(system, {})
            if "median_s" not in info:
                # NotImplementedError: the system has no such network (no CNN in scikit-learn)
                error = info.get("error", "NotImplementedError")
                cells.append("n/a" if error.startswith("NotImplementedError") else "failed")
                continue
            cell = fmt_time(workload, info["median_s"], quick)
            if base and system != "torch":
                cell += f" ({info.get('paired_ratio', info['median_s'] / base):.2f}x)"
            cells.append(cell)
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Medians of {results['runs']} runs per system, each in its own process, "
                 f"alternated; ratios (to PyTorch eager, default Adam) are medians of each run "
                 f"over the PyTorch run beside it{'; quick mode' if quick else ''}.")
    gflops = {w: e["gemm_gflops"] for w, e in results["workloads"].items() if "gemm_gflops" in e}
    if gflops:
        lines.append("GEMM throughput of the workload shapes: " + ", ".join(
            f"{w} {g:.0f} GFLOP/s" for w, g in gflops.items()) + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
