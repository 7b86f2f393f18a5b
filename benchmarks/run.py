"""Run the benchmark suite: neuralab and its peers side by side, in one command.

    python benchmarks/run.py                 # all workloads, all systems, 5 runs each
    python benchmarks/run.py --quick         # a ~2-minute version (fewer epochs, 3 runs)
    python benchmarks/run.py --workloads W4 --systems neuralab,torch --runs 7
    python benchmarks/run.py --compare HEAD~3    # neuralab now beside neuralab at HEAD~3

Besides the table: import time, peak memory of W3/W5 training and the scaling of time per
epoch with samples and hidden units (``benchmarks/extras.py``; ``--no-extras`` skips them).

Every measurement runs in its own process; systems alternate A/B/A/B within each round so
slow drifts of the machine hit all of them alike. The table reports medians, and ratios
to PyTorch eager with its default Adam, each with its min-max spread. Results go to
``benchmarks/results/latest.md`` and ``latest.json``.

``--compare REF`` checks out commit ``REF`` in a temporary git worktree and adds, for each
neuralab system, the same system importing neuralab from there (``neuralab@REF``), run in
turn with the others, so a change shows beside its parent what it did to every workload
(the workloads themselves are this checkout's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
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
          "blas_floor": "BLAS floor (GEMMs only)",
          "torch_floor": "PyTorch's GEMMs only", "numpy_step": "hand-written NumPy step",
          "step_floor": "gather + GEMMs + Adam only",
          "neuralab_torch": "neuralab.torch"}
UNITS = {"W4": ("ms/step", lambda seconds, quick: seconds * 1e3 / (
    WORKLOADS["W4"]["quick_steps"] if quick else WORKLOADS["W4"]["steps"]))}


def worker(system: str, workload: str, quick: bool) -> None:
    import resource
    root = os.environ.get("NEURALAB_BENCH_ROOT")
    if root and system.startswith("neuralab"):  # --compare: the other checkout's neuralab
        import neuralab
        if not Path(neuralab.__file__).resolve().is_relative_to(Path(root).resolve()):
            raise RuntimeError(f"imported neuralab from {neuralab.__file__}, not from {root}")
    seconds = SYSTEMS[system](workload, quick)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "maxrss_mb": rss}))


def measure(system: str, workload: str, quick: bool, roots: dict | None = None) -> dict:
    """Run ``system`` on ``workload`` in a fresh process; ``system@REF`` imports neuralab
    from ``roots[REF]`` (a worktree)."""
    system, _, ref = system.partition("@")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", system, workload]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ)
    if ref:
        root = str((roots or {})[ref])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        env["NEURALAB_BENCH_ROOT"] = root
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": last[:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def label(system: str) -> str:
    """The column title: ``neuralab@HEAD~1`` reads "neuralab `fit` at HEAD~1"."""
    plain, _, ref = system.partition("@")
    return LABELS.get(plain, plain) + (f" at {ref}" if ref else "")


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
    parser.add_argument("--compare", metavar="REF",
                        help="also run each neuralab system on git commit REF (a temporary "
                             "worktree), as system@REF")
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
    # a SIGTERM unwinds like Ctrl-C, so the worktree below is removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="neuralab-compare-") as scratch:
        roots = {}
        if args.compare:
            try:
                roots[args.compare] = checkout(args.compare, Path(scratch) / "ref")
            except RuntimeError as error:
                parser.error(str(error))
            systems = [v for s in systems for v in (
                (s, f"{s}@{args.compare}") if s.startswith("neuralab") else (s,))]
        try:
            return run_all(args, workloads, systems, runs, roots)
        finally:
            for root in roots.values():
                subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force",
                                str(root)], capture_output=True)


def checkout(ref: str, where: Path) -> Path:
    """A detached git worktree of commit ``ref`` at ``where``."""
    proc = subprocess.run(["git", "-C", str(HERE.parent), "worktree", "add", "--detach",
                           str(where), ref], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"--compare {ref}: git worktree add failed: "
                           f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '?'}")
    return where


def run_all(args, workloads: list[str], systems: list[str], runs: int, roots: dict) -> int:
    results: dict = {"machine": {"python": platform.python_version(), "processor": platform.processor(),
                                 "platform": platform.platform()},
                     "quick": args.quick, "runs": runs, "workloads": {}}
    started = time.time()
    for workload in workloads:
        samples: dict[str, list] = {s: [] for s in systems}
        errors: dict[str, str] = {}
        for r in range(runs):
            for system in (systems if r % 2 == 0 else systems[::-1]):  # A B C, C B A, ...
                if system in errors:
                    continue
                result = measure(system, workload, args.quick, roots)
                if "error" in result:
                    errors[system] = result["error"]
                    continue
                samples[system].append(result)
                print(f"[{time.time() - started:6.0f}s] {workload} {system:12s} run {r + 1}/{runs}: "
                      f"{fmt_time(workload, result['seconds'], args.quick)}", flush=True)
        entry = summarize(samples, errors, systems)
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


def summarize(samples: dict[str, list], errors: dict[str, str], systems: list[str]) -> dict:
    """Per system: median and min/max seconds, and its runs over the PyTorch runs beside
    them in time (robust to the machine drifting between fast and slow periods); a
    ``system@REF`` also over ``system``'s runs."""
    entry: dict = {}
    seconds_of = {s: [r["seconds"] for r in samples[s]] for s in systems}
    base = seconds_of.get("torch", [])
    for system in systems:
        seconds = seconds_of[system]
        if not seconds:
            if system in errors:
                entry[system] = {"error": errors[system]}
            continue
        info = entry[system] = {"median_s": statistics.median(seconds), "min_s": min(seconds),
                                "max_s": max(seconds), "runs_s": seconds,
                                "maxrss_mb": max(r["maxrss_mb"] for r in samples[system])}
        if base and system != "torch" and len(base) == len(seconds):
            ratios = [a / b for a, b in zip(seconds, base)]
            info.update(paired_ratio=statistics.median(ratios), ratio_min=min(ratios),
                        ratio_max=max(ratios))
        plain = system.partition("@")[0]
        if plain != system and len(seconds_of.get(plain, [])) == len(seconds):
            ratios = [a / b for a, b in zip(seconds_of[plain], seconds)]
            info.update(now_over_ref=statistics.median(ratios), now_over_ref_min=min(ratios),
                        now_over_ref_max=max(ratios))
    return entry


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
    header = "| workload | " + " | ".join(label(s) for s in systems) + " |"
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
            if "min_s" in info:
                cell += f" [{fmt_time(workload, info['min_s'], quick).split()[0]}–" \
                        f"{fmt_time(workload, info['max_s'], quick).split()[0]}]"
            if "paired_ratio" in info:
                cell += f" **{info['paired_ratio']:.2f}x** ({info['ratio_min']:.2f}–" \
                        f"{info['ratio_max']:.2f})"
            elif base and system != "torch":
                cell += f" {info['median_s'] / base:.2f}x"
            cells.append(cell)
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Each cell: the median of {results['runs']} runs [their min–max], each run in "
                 f"its own process, the systems alternated; in bold the ratio to PyTorch eager "
                 f"(default Adam): the median of each run over the PyTorch run beside it, with "
                 f"the range of those ratios{'; quick mode' if quick else ''}.")
    compared = [(w, s, info) for w, e in results["workloads"].items() for s, info in e.items()
                if isinstance(info, dict) and "now_over_ref" in info]
    if compared:
        lines.append("")
        lines.append("| workload | system | this checkout / " + compared[0][1].partition("@")[2]
                     + ": median (min–max) |")
        lines.append("|---|---|---|")
        for workload, system, info in compared:
            lines.append(f"| {workload} | {system.partition('@')[0]} | "
                         f"{info['now_over_ref']:.2f} ({info['now_over_ref_min']:.2f}–"
                         f"{info['now_over_ref_max']:.2f}) |")
    gflops = {w: e["gemm_gflops"] for w, e in results["workloads"].items() if "gemm_gflops" in e}
    if gflops:
        lines.append("GEMM throughput of the workload shapes: " + ", ".join(
            f"{w} {g:.0f} GFLOP/s" for w, g in gflops.items()) + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
