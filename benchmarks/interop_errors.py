"""Differences between neuralab's predict and the exported models, per layer type.

    python benchmarks/interop_errors.py

ONNX models run in onnxruntime (CPU); PyTorch models are ``to_torch`` exports; the round
trip is ``from_torch(to_torch(model))``. float32 throughout. Each number is the largest
absolute difference divided by the largest absolute output (a relative error that does
not blow up at outputs near zero). Seeded: the same numbers on every run on one machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import onnxruntime as ort
    import torch

    import neuralab as nl
    from neuralab.export import from_torch, to_onnx, to_torch
    from tests.test_export import ALL, build, inputs_for

    print("| layer type / model | ONNX (onnxruntime) | to_torch | torch round trip |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ALL:
            nl.set_seed(0)
            model = build(name)
            x = inputs_for(model, n=32)
            expected = model.predict(x)
            path = Path(tmp) / "m.onnx"
            to_onnx(model, path)
            onnx_out = ort.InferenceSession(str(path)).run(None, {"input": x})[0]
            net = to_torch(model).eval()
            with torch.no_grad():
                torch_out = net(torch.tensor(x)).numpy()
            back = from_torch(net, model.input_shape[1:]).predict(x)
            scale = max(float(np.abs(expected).max()), 1e-30)
            diffs = [np.abs(o - expected).max() / scale for o in (onnx_out, torch_out, back)]
            print(f"| {name} | " + " | ".join(f"{d:.1e}" for d in diffs) + " |")


if __name__ == "__main__":
    main()
