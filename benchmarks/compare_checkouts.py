"""Time neuralab from two checkouts (e.g. before and after a change) on the benchmark
workloads, alternating A/B/B/A, each run in its own single-threaded process; print the
medians and the after/before ratio with the spread of the paired rounds.

    git worktree add /tmp/before <commit>
    python benchmarks/compare_checkouts.py /tmp/before . --workloads W1,W2,W3,W4,W5 --rounds 5

One thread each (on a shared machine the work done moves least). For the whole benchmark
beside another commit, with the machine's default threads and the peers, use
``python benchmarks/run.py --compare REF``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

CODE = ("import sys; sys.path.insert(0, sys.argv[1] + '/benchmarks'); "
        "from workloads import run_neuralab; print(run_neuralab(sys.argv[2], quick=True))")


def time_once(root: Path, workload: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(root), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CODE, str(root), workload], env=env,
                         capture_output=True, text=True, cwd="/", check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    roots = {"before": args.before.resolve(), "after": args.after.resolve()}
    print("| workload | before (median s) | after (median s) | after/before: median (min-max) |")
    print("|---|---:|---:|---|")
    for workload in args.workloads.split(","):
        times: dict[str, list[float]] = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for label in order:
                times[label].append(time_once(roots[label], workload))
        ratios = [a / b for b, a in zip(times["before"], times["after"])]
        print(f"| {workload} | {statistics.median(times['before']):.3f} | "
              f"{statistics.median(times['after']):.3f} | {statistics.median(ratios):.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}) |", flush=True)


if __name__ == "__main__":
    main()
