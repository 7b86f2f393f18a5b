"""Measure, for every differentiable op in ``neuralab.ops``, the float64 gradient-check error
and the difference from PyTorch, and print them as a Markdown table.

    python benchmarks/ops_errors.py

The cases are tests/test_ops.py's ``CASES`` (broadcasting, an input used twice, batched
products, repeated indices, ...); each row is the worst case of that op.

* gradcheck: max ``rel_error`` between backward and centred differences (h = 1e-5) of
  ``sum(op(inputs) * dout)`` over every float input; the tests require <= 1e-7.
* torch abs: max |ours - torch| over the value and every input gradient (torch.autograd).
* torch scaled: max |ours - torch| / max(1, |torch|); the tests require <= 1e-10.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_ops import CASES, gradcheck_error, torch_errors  # noqa: E402


def main() -> None:
    rows: dict[str, list[float]] = {}
    for case in CASES:
        check = gradcheck_error(case) if case.numerical else float("nan")
        absolute, scaled = torch_errors(case)
        worst = rows.setdefault(case.op, [float("nan"), 0.0, 0.0, 0])
        worst[0] = check if worst[0] != worst[0] else max(worst[0], check)
        worst[1], worst[2], worst[3] = max(worst[1], absolute), max(worst[2], scaled), worst[3] + 1
    print("| op | cases | gradcheck rel. error | torch abs. error | torch scaled error |")
    print("|---|---:|---:|---:|---:|")
    for op, (check, absolute, scaled, count) in rows.items():
        shown = "n/a" if check != check else f"{check:.1e}"
        print(f"| {op} | {count} | {shown} | {absolute:.1e} | {scaled:.1e} |")


if __name__ == "__main__":
    main()
