"""PyTorch-style workloads: the lecture's training loops, the same code run on
``neuralab.torch`` and on PyTorch eager (``import torch``).

T1 lecture-synthetic  the lecture's synthetic loop: 2 -> 4 sigmoid -> 1 sigmoid, nn.BCELoss,
                      Adam(lr=0.03), 400 samples, DataLoader(batch 100, shuffle), 1000 epochs,
                      training accuracy under no_grad after each epoch (total time)
T2 lecture-mnist      the lecture's MNIST epoch: Flatten -> 784 -> 100 sigmoid -> 10 softmax,
                      nn.CrossEntropyLoss, Adam, DataLoader(batch 100, shuffle) over 60,000
                      seeded (1, 28, 28) images, torch.max(output.data, 1) accuracy (one epoch)

:func:`register` adds them to ``benchmarks/run.py``'s tables: the system ``neuralab_torch``
runs them on neuralab.torch, ``torch`` on PyTorch; the other systems report n/a.
"""

from __future__ import annotations

import time

import numpy as np

WORKLOADS = {
    "T1": dict(kind="torch_style", n=400, features=2, hidden=4, batch=100, epochs=1000,
               quick_epochs=200, lr=0.03),
    "T2": dict(kind="torch_style", n=60000, quick_n=10000, hidden=100, classes=10, batch=100,
               epochs=1),
}


def frameworks(system: str):
    """``(torch, nn, F, optim, data)`` of neuralab.torch or of PyTorch."""
    if system == "neuralab_torch":
        import neuralab.torch as torch
        import neuralab.torch.nn as nn
        import neuralab.torch.nn.functional as F
        import neuralab.torch.optim as optim
        import neuralab.torch.utils.data as data
    else:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.optim as optim
        import torch.utils.data as data
    return torch, nn, F, optim, data


def lecture_synthetic(system: str, quick: bool) -> float:
    """Seconds of the lecture's 1000-epoch synthetic loop (T1)."""
    torch, nn, _, optim, data = frameworks(system)
    spec = WORKLOADS["T1"]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (spec["n"], spec["features"]))
    y = ((X[:, 0] - 0.5) ** 2 + (X[:, 1] - 0.5) ** 2 < 0.1).astype(np.int64)

    class Net(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.fc1 = nn.Linear(input_size, hidden_size)
            self.activation = nn.Sigmoid()
            self.fc2 = nn.Linear(hidden_size, 1)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            return self.sigmoid(self.fc2(self.activation(self.fc1(x))))

    model = Net(spec["features"], spec["hidden"])
    X_torch = torch.tensor(X, dtype=torch.float32)
    y_torch = torch.tensor(y, dtype=torch.float32)[:, None]
    y_int = torch.tensor(y)[:, None]
    loader = data.DataLoader(data.TensorDataset(X_torch, y_torch), batch_size=spec["batch"],
                             shuffle=True)
    criterion = nn.BCELoss()
    optimizer = optim.Adam(model.parameters(), lr=spec["lr"])

    def epoch():
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            outputs = model(X_torch)
            accuracy = torch.sum((outputs > 0.5) == y_int).item() / y_int.size(0)
        return loss.item(), accuracy

    epoch()  # warm-up
    start = time.perf_counter()
    for _ in range(spec["quick_epochs"] if quick else spec["epochs"]):
        epoch()
    return time.perf_counter() - start


def lecture_mnist(system: str, quick: bool) -> float:
    """Seconds of one epoch of the lecture's MNIST network (T2)."""
    torch, nn, F, optim, data = frameworks(system)
    spec = WORKLOADS["T2"]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n = spec["quick_n"] if quick else spec["n"]
    images = torch.from_numpy(rng.standard_normal((n, 1, 28, 28), dtype=np.float32))
    labels = torch.from_numpy(rng.integers(0, spec["classes"], n))

    class Net(nn.Module):
        def __init__(self, nin, nh, nout):
            super().__init__()
            self.flatten = nn.Flatten()
            self.fc1 = nn.Linear(nin, nh)
            self.fc2 = nn.Linear(nh, nout)

        def forward(self, x):
            x = torch.sigmoid(self.fc1(self.flatten(x)))
            return F.softmax(self.fc2(x), dim=1)

    model = Net(28 * 28, spec["hidden"], spec["classes"])
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters())

    def epoch(dataset):
        model.train()
        correct = total = 0
        for inputs, target in data.DataLoader(dataset, batch_size=spec["batch"], shuffle=True):
            optimizer.zero_grad()
            output = model(inputs)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()
            _, predicted = torch.max(output.data, 1)
            total += target.size(0)
            correct += (predicted == target).sum().item()
        return correct / total

    epoch(data.TensorDataset(images[:2 * spec["batch"]], labels[:2 * spec["batch"]]))  # warm-up
    dataset = data.TensorDataset(images, labels)
    start = time.perf_counter()
    for _ in range(spec["epochs"]):
        epoch(dataset)
    return time.perf_counter() - start


RUNS = {"T1": lecture_synthetic, "T2": lecture_mnist}


def register(workloads: dict, systems: dict) -> tuple[dict, dict]:
    """``run.py``'s workloads and systems with T1/T2 and the ``neuralab_torch`` system added:
    ``torch`` runs T1/T2 in PyTorch style, the other systems answer NotImplementedError."""

    def system_for(name: str, original):
        def run(workload: str, quick: bool = False) -> float:
            if workload in RUNS:
                if name not in ("torch", "neuralab_torch"):
                    raise NotImplementedError(f"{name} has no PyTorch-style loop")
                return RUNS[workload](name, quick)
            if original is None:
                raise NotImplementedError("neuralab.torch runs only the PyTorch-style workloads")
            return original(workload, quick)
        return run

    merged = {name: system_for(name, run) for name, run in systems.items()}
    merged["neuralab_torch"] = system_for("neuralab_torch", None)
    return {**workloads, **WORKLOADS}, merged
