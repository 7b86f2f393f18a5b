"""neuralab.torch against PyTorch, per layer, loss and optimizer: the largest absolute
difference, in float64 and in float32, printed as a Markdown table.

    python benchmarks/torch_parity_errors.py

Layers: output, input gradient and every parameter gradient for a random upstream gradient,
on PyTorch's initial weights (two forward/backward passes, so running statistics count).
Losses (reduction="mean"): value and input gradient. Optimizers: the parameters after 10
steps on a quartic loss. Training: losses and final weights of 20 steps of the lecture's
MLP (Adam) and of a small CNN (SGD with momentum). The cases are the parity tests' own
(tests/test_torch_nn.py, tests/test_torch_optim.py); seeded, so every run prints the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _max_abs(pairs) -> float:
    return max((float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
                if np.size(a) else 0.0) for a, b in pairs)


def _numpy(t):
    return t.detach().numpy()


def layer_error(case, dtype) -> float:
    import torch

    import neuralab.torch as nt
    import neuralab.torch.nn as nn
    name, args, kwargs, x = case
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    ours = getattr(nn, name)(*args, **kwargs)
    ours.load_state_dict({k: _numpy(v) for k, v in theirs.state_dict().items()})
    x = x.astype(dtype)
    pairs, rng = [], np.random.default_rng(7)
    for _ in range(2):
        x_ours, x_theirs = nt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours.zero_grad()
        theirs.zero_grad()
        y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
        upstream = rng.normal(size=tuple(y_theirs.shape)).astype(dtype)
        y_ours.backward(nt.tensor(upstream))
        y_theirs.backward(torch.tensor(upstream))
        pairs += [(_numpy(y_ours), _numpy(y_theirs)), (_numpy(x_ours.grad), _numpy(x_theirs.grad))]
        pairs += [(_numpy(a.grad), _numpy(b.grad)) for a, b in zip(ours.parameters(), theirs.parameters())]
        pairs += [(_numpy(a), _numpy(b)) for a, b in zip(ours.buffers(), theirs.buffers())]
    return _max_abs(pairs)


def loss_error(case, dtype) -> float:
    import torch

    import neuralab.torch as nt
    import neuralab.torch.nn as nn
    name, kwargs, x, target = case

    def tensors(lib):
        return {k: lib.tensor(v.astype(dtype)) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    target = target.astype(dtype) if target.dtype.kind == "f" else target
    x = x.astype(dtype)
    ours, theirs = getattr(nn, name)(**tensors(nt)), getattr(torch.nn, name)(**tensors(torch))
    x_ours, x_theirs = nt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    l_ours, l_theirs = ours(x_ours, nt.tensor(target)), theirs(x_theirs, torch.tensor(target))
    l_ours.backward()
    l_theirs.backward()
    return _max_abs([(_numpy(l_ours), _numpy(l_theirs)), (_numpy(x_ours.grad), _numpy(x_theirs.grad))])


def optimizer_error(make, dtype) -> float:
    import torch

    import neuralab.torch as nt
    import neuralab.torch.optim as optim
    from tests.test_torch_optim import START, run
    ours = [nt.tensor(p.astype(dtype), requires_grad=True) for p in START]
    theirs = [torch.tensor(p.astype(dtype), requires_grad=True) for p in START]
    run(nt, optim, ours, make)
    run(torch, torch.optim, theirs, make)
    return _max_abs([(_numpy(a), _numpy(b)) for a, b in zip(ours, theirs)])


def training_error(which: str, dtype) -> float:
    import torch

    import neuralab.torch as nt
    import neuralab.torch.nn as nn
    import neuralab.torch.optim as optim
    from tests.test_torch_optim import lecture_net, small_cnn, train
    float32 = dtype == np.float32
    rng = np.random.default_rng(11)
    if which == "mlp":
        x = rng.normal(size=(100, 2)).astype(dtype)
        y = (np.sum(x ** 2, axis=1) < 1.2).astype(dtype)[:, None]
        setup = (lecture_net, lambda o, p: o.Adam(p, lr=0.03), lambda n: n.BCELoss(), x, y)
    else:
        x = rng.normal(size=(60, 1, 8, 8)).astype(dtype)
        y = rng.integers(0, 3, 60)
        setup = (small_cnn, lambda o, p: o.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
                 lambda n: n.CrossEntropyLoss(label_smoothing=0.05), x, y)
    losses_t, state_t = train(torch, torch.nn, torch.optim, *setup, float32=float32)
    losses_o, state_o = train(nt, nn, optim, *setup, float32=float32)
    return _max_abs([(losses_o, losses_t)] + [(state_o[k], state_t[k]) for k in state_t])


def main() -> None:
    import torch

    import neuralab.torch as nt
    from tests.test_torch_nn import LAYER_CASES, LOSS_CASES
    from tests.test_torch_optim import OPTIMIZERS
    torch.set_num_threads(1)
    results: dict[tuple[str, str], list[float]] = {}
    for dtype, torch_dtype, our_dtype in ((np.float64, torch.float64, nt.float64),
                                          (np.float32, torch.float32, nt.float32)):
        torch.set_default_dtype(torch_dtype)
        nt.set_default_dtype(our_dtype)
        for name, args, kwargs, x in LAYER_CASES:
            arguments = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            label = f"{name}({', '.join(arguments)}) on {tuple(x.shape)}"
            results.setdefault(("layer", label), []).append(
                layer_error((name, args, kwargs, x), dtype))
        for name, kwargs, x, target in LOSS_CASES:
            shown = ", ".join(f"{k}={'tensor' if isinstance(v, np.ndarray) else v}"
                              for k, v in kwargs.items())
            soft = target.dtype.kind == "f" and name == "CrossEntropyLoss"
            targets = "probabilities" if soft else "targets"
            label = f"{name}({shown}) on {tuple(x.shape)}, {targets} {tuple(target.shape)}"
            results.setdefault(("loss", label), []).append(loss_error((name, kwargs, x, target), dtype))
        for name, make in OPTIMIZERS.items():
            results.setdefault(("optimizer (10 steps)", name), []).append(optimizer_error(make, dtype))
        for which, label in (("mlp", "lecture MLP, Adam, BCELoss"),
                             ("cnn", "small CNN, SGD momentum, CrossEntropyLoss")):
            results.setdefault(("training (20 steps)", label), []).append(training_error(which, dtype))
    torch.set_default_dtype(torch.float32)
    nt.set_default_dtype(nt.float32)
    rows = [(kind, label, errors) for (kind, label), errors in results.items()]
    print("| kind | case | max abs error float64 | max abs error float32 |")
    print("|---|---|---|---|")
    for kind, label, (e64, e32) in rows:
        print(f"| {kind} | {label} | {e64:.1e} | {e32:.1e} |")
    for kind in dict.fromkeys(k for k, _, _ in rows):
        worst = [max(e[i] for k, _, e in rows if k == kind) for i in range(2)]
        print(f"| **{kind}: worst** | | **{worst[0]:.1e}** | **{worst[1]:.1e}** |")


if __name__ == "__main__":
    main()
