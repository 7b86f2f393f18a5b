"""The benchmark workloads: seeded data of the stated shapes and each system's training run.

Each ``run_<system>(name, quick)`` trains workload ``name`` once and returns the seconds
of the timed part (data generation, imports and model construction are excluded; the
first epoch/steps of warm-up are excluded where a system compiles or allocates lazily).

W1 synthetic   2 -> 4 sigmoid -> 1 sigmoid, 400 samples, BCE, Adam 0.01, batch 100,
               1000 epochs (total time)
W2 instruments 120 -> 256 sigmoid -> 10 softmax, 66,247 samples, Adam 1e-3, batch 128,
               one epoch including evaluation of 14,904 samples
W3 mnist-mlp   784 -> 100 sigmoid -> 10, 60,000 samples, batch 100, Adam (one epoch)
W4 cnn5        the EE449 cnn5 on 28x28x1, batch 50, Adam (100 steps)
W5 fc-net      3072 -> 100 x4 relu -> 10, 49,000 samples, batch 100, Adam (one epoch)
"""

from __future__ import annotations

import os
import time

import numpy as np

WORKLOADS = {
    "W1": dict(kind="mlp", n=400, features=2, hidden=[4], act="sigmoid", classes=1,
               batch=100, epochs=1000, lr=0.01, quick_epochs=200),
    "W2": dict(kind="mlp", n=66247, features=120, hidden=[256], act="sigmoid", classes=10,
               batch=128, epochs=1, lr=1e-3, n_eval=14904),
    "W3": dict(kind="mlp", n=60000, features=784, hidden=[100], act="sigmoid", classes=10,
               batch=100, epochs=1, lr=1e-3),
    "W4": dict(kind="cnn5", n=5000, shape=(28, 28, 1), classes=5, batch=50, steps=100, lr=1e-3,
               quick_steps=40),
    "W5": dict(kind="mlp", n=49000, features=3072, hidden=[100] * 4, act="relu", classes=10,
               batch=100, epochs=1, lr=1e-3),
}


def make_data(name: str):
    """Seeded float32 inputs and integer labels (0/1 floats for the binary W1)."""
    spec = WORKLOADS[name]
    rng = np.random.default_rng(0)
    shape = (spec["n"],) + (spec.get("shape") or (spec["features"],))
    x = rng.standard_normal(shape, dtype=np.float32)  # no float64 copy of the data
    if spec["classes"] == 1:
        y = (x[:, 0] * x[:, 1] > 0).astype(np.float32)
    else:
        y = rng.integers(0, spec["classes"], spec["n"])
    data = {"x": x, "y": y}
    if spec.get("n_eval"):
        data["x_eval"] = rng.standard_normal((spec["n_eval"], spec["features"]), dtype=np.float32)
        data["y_eval"] = rng.integers(0, spec["classes"], spec["n_eval"])
    return data


def epochs_of(spec, quick):
    if spec["kind"] == "cnn5":
        steps = spec["quick_steps"] if quick else spec["steps"]
        return steps, steps * spec["batch"]
    return (spec.get("quick_epochs", spec["epochs"]) if quick else spec["epochs"]), spec["n"]


# -- neuralab and Keras: the same Keras API -----------------------------------------------------------
def keras_api_model(name: str, Sequential, Input, layers):
    """The workload's network built with a Keras-style API (neuralab's or Keras' own)."""
    spec = WORKLOADS[name]
    L = layers
    if spec["kind"] == "cnn5":
        return Sequential([
            Input(shape=spec["shape"]),
            L.Conv2D(16, 3, activation="relu"), L.Conv2D(8, 3, activation="relu"),
            L.Conv2D(8, 3, activation="relu"), L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(2), L.Conv2D(16, 3, activation="relu"),
            L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
            L.GlobalAveragePooling2D(), L.Dense(spec["classes"], activation="softmax")])
    model = [Input(shape=(spec["features"],))]
    model += [L.Dense(h, activation=spec["act"]) for h in spec["hidden"]]
    model.append(L.Dense(spec["classes"], activation="sigmoid" if spec["classes"] == 1 else "softmax"))
    return Sequential(model)


def neuralab_model(name: str):
    import neuralab as nl
    return keras_api_model(name, nl.Sequential, nl.Input, nl.layers)


def timed_keras_api_fit(name: str, model, adam, quick: bool, warmup_samples: int,
                        **fit_kwargs) -> float:
    """Compile ``model`` with ``adam``, fit it once on ``warmup_samples`` samples (lazy
    buffers, XLA compilation), then time the workload's ``fit``."""
    spec = WORKLOADS[name]
    data = make_data(name)
    model.compile(optimizer=adam,
                  loss="binary_crossentropy" if spec["classes"] == 1
                  else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    epochs, n = epochs_of(spec, quick)
    x, y = data["x"][:n], data["y"][:n]
    validation = (data["x_eval"], data["y_eval"]) if "x_eval" in data else None
    model.fit(x[:warmup_samples], y[:warmup_samples], epochs=1, batch_size=spec["batch"],
              verbose=0)
    if spec["kind"] == "cnn5":
        epochs = 1  # n already holds the steps' samples
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=spec["batch"], validation_data=validation,
              verbose=0, **fit_kwargs)
    return time.perf_counter() - start


def run_neuralab(name: str, quick: bool = False) -> float:
    import neuralab as nl
    spec = WORKLOADS[name]
    nl.set_seed(0)
    return timed_keras_api_fit(name, neuralab_model(name), nl.optimizers.Adam(spec["lr"]), quick,
                               warmup_samples=spec["batch"] * 2,
                               validation_batch_size=spec["batch"])


# -- PyTorch eager --------------------------------------------------------------------------------------
def torch_model(name: str):
    import torch.nn as nn
    spec = WORKLOADS[name]
    if spec["kind"] == "cnn5":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3), nn.ReLU(), nn.Conv2d(16, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3),
            nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3),
            nn.ReLU(), nn.Conv2d(16, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(), nn.Linear(16, spec["classes"]))
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[spec["act"]]
    layers, width = [], spec["features"]
    for h in spec["hidden"]:
        layers += [nn.Linear(width, h), act()]
        width = h
    layers.append(nn.Linear(width, spec["classes"]))
    return nn.Sequential(*layers)


def run_torch(name: str, quick: bool = False, fused: bool = False) -> float:
    import torch
    torch.manual_seed(0)
    spec = WORKLOADS[name]
    data = make_data(name)
    model = torch_model(name)
    opt = torch.optim.Adam(model.parameters(), lr=spec["lr"], fused=fused or None)
    binary = spec["classes"] == 1
    loss_fn = torch.nn.BCEWithLogitsLoss() if binary else torch.nn.CrossEntropyLoss()
    epochs, n = epochs_of(spec, quick)
    x = torch.from_numpy(data["x"][:n])
    if spec["kind"] == "cnn5":
        x = x.permute(0, 3, 1, 2).contiguous()  # NCHW, as a PyTorch user holds images
        epochs = 1
    y = torch.from_numpy(data["y"][:n])
    y = y.float()[:, None] if binary else y.long()
    batch = spec["batch"]

    def epoch():
        order = torch.randperm(n)
        correct = 0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():  # the accuracy a user tracks, as neuralab's fit does
                correct += int(((out > 0) == (yb > 0.5)).sum() if binary
                               else (out.argmax(1) == yb).sum())
        if "x_eval" in data:
            with torch.no_grad():
                xe, ye = torch.from_numpy(data["x_eval"]), torch.from_numpy(data["y_eval"]).long()
                for start in range(0, len(xe), batch):
                    loss_fn(model(xe[start:start + batch]), ye[start:start + batch])

    saved = (x, y, n)
    x, y, n = x[:batch * 2], y[:batch * 2], batch * 2
    epoch()  # warm-up
    x, y, n = saved
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return time.perf_counter() - start


# -- the same MLP step written out by hand in NumPy: what a NumPy engine costs without a framework --
class NumpyMLP:
    """A softmax MLP trained by a hand-written NumPy loop: buffers made once, the gather,
    the products (``np.matmul``, OpenBLAS), bias, activation (sigmoid as ``0.5 tanh(z / 2)
    + 0.5``, as neuralab computes it; or ReLU), softmax cross-entropy from the logits, its
    gradient, the accuracy, and one Adam step over a flat buffer of all the weights
    (neuralab's compiled Adam where it builds, NumPy's passes otherwise). No layers, no
    graph, no callbacks: neuralab's ``fit`` over this is what the framework costs.

    Args:
        widths: features, hidden units..., classes.
        activation: ``"sigmoid"`` or ``"relu"`` (the hidden layers').
        batch: the largest batch.
        weights: the initial ``[W0, b0, W1, b1, ...]`` (Glorot uniform from ``seed`` if None).
    """

    def __init__(self, widths: list[int], activation: str, batch: int, lr: float,
                 weights: list[np.ndarray] | None = None, seed: int = 0):
        rng = np.random.default_rng(seed)
        size = sum(a * c + c for a, c in zip(widths[:-1], widths[1:]))
        self.flat, self.grad, self.m, self.v, self.scratch = (np.zeros(size, np.float32)
                                                              for _ in range(5))
        self.Ws, self.bs, self.dWs, self.dbs = [], [], [], []
        offset = 0
        for a, c in zip(widths[:-1], widths[1:]):
            for params, grads, shape in ((self.Ws, self.dWs, (a, c)), (self.bs, self.dbs, (c,))):
                end = offset + int(np.prod(shape))
                params.append(self.flat[offset:end].reshape(shape))
                grads.append(self.grad[offset:end].reshape(shape))
                offset = end
            limit = np.sqrt(6 / (a + c))
            self.Ws[-1][...] = rng.uniform(-limit, limit, (a, c))
        if weights is not None:
            for param, value in zip([p for pair in zip(self.Ws, self.bs) for p in pair], weights):
                param[...] = value
        self.xb = np.empty((batch, widths[0]), np.float32)
        self.zs = [np.empty((batch, c), np.float32) for c in widths[1:]]
        self.dxs = [np.empty((batch, a), np.float32) for a in widths[:-1]]
        self.sigmoid = activation == "sigmoid"
        self.lr, self.t = lr, 0

    @classmethod
    def for_workload(cls, spec: dict) -> NumpyMLP:
        """The network of an MLP workload (its widths, activation, batch and rate)."""
        return cls([spec["features"]] + spec["hidden"] + [spec["classes"]], spec["act"],
                   spec["batch"], spec["lr"])

    def forward(self, rows: np.ndarray) -> list[np.ndarray]:
        """Each layer's input and the logits (in reused buffers)."""
        hs = [rows]
        last = len(self.Ws) - 1
        for i, (W, b) in enumerate(zip(self.Ws, self.bs)):
            z = self.zs[i][:len(rows)]
            np.matmul(hs[-1], W, out=z)
            z += b
            if i < last and self.sigmoid:
                z *= 0.5
                np.tanh(z, out=z)
                z *= 0.5
                z += 0.5
            elif i < last:
                np.maximum(z, 0, out=z)
            hs.append(z)
        return hs

    def step(self, x: np.ndarray, y: np.ndarray, index: np.ndarray) -> tuple[float, int]:
        """One Adam step on the samples ``index`` of ``(x, y)``: (mean loss, correct)."""
        nb = len(index)
        rows = self.xb[:nb]
        x.take(index, axis=0, out=rows, mode="clip")
        labels = y[index]
        hs = self.forward(rows)
        z = hs[-1]  # logits -> the loss (log-sum-exp), then the gradient from the logits
        lse = _shift_and_logsumexp(z)
        picked = np.arange(nb), labels
        loss = float(np.mean(lse - z[picked]))
        correct = int(np.count_nonzero(z.argmax(axis=1) == labels))
        d = z
        d -= lse[:, None]
        np.exp(d, out=d)
        d[picked] -= 1.0
        d *= 1.0 / nb
        for i in range(len(self.Ws) - 1, -1, -1):
            np.matmul(hs[i].T, d, out=self.dWs[i])
            np.add.reduce(d, axis=0, out=self.dbs[i])
            if i == 0:
                break
            dx = self.dxs[i][:nb]
            np.matmul(d, self.Ws[i].T, out=dx)
            h = hs[i]  # this layer's input, the previous one's activation
            if self.sigmoid:  # dout h (1 - h); h is not needed after this step's dW
                dx *= h
                np.subtract(1.0, h, out=h)
                dx *= h
            else:
                np.multiply(dx, h > 0, out=dx)
            d = dx
        self._adam()
        return loss, correct

    def bare_step(self, x: np.ndarray, index: np.ndarray) -> None:
        """The part of :meth:`step` no implementation can skip: the gather, every matrix
        product of the forward and backward passes, and Adam over all the weights. No
        bias, activation, loss or metric (the "gradients" are not the loss's): the work
        any step that gathers its batch and leaves the products to BLAS does, one after
        the other."""
        nb = len(index)
        h = self.xb[:nb]
        x.take(index, axis=0, out=h, mode="clip")
        hs = self._products(h)
        d = hs[-1]
        for i in range(len(self.Ws) - 1, 0, -1):
            np.matmul(hs[i].T, d, out=self.dWs[i])
            d = np.matmul(d, self.Ws[i].T, out=self.dxs[i][:nb])
        np.matmul(hs[0].T, d, out=self.dWs[0])
        self._adam()

    def _products(self, rows: np.ndarray) -> list[np.ndarray]:
        """:meth:`forward`'s products alone, chained (no bias, no activation)."""
        hs = [rows]
        for W, z in zip(self.Ws, self.zs):
            hs.append(np.matmul(hs[-1], W, out=z[:len(rows)]))
        return hs

    def _adam(self, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7) -> None:
        from neuralab import kernels
        self.t += 1
        root = np.sqrt(1 - b2 ** self.t)
        stepsize = self.lr * root / (1 - b1 ** self.t)
        w, g, m, v, tmp = self.flat, self.grad, self.m, self.v, self.scratch
        if kernels.adam(w, g, m, v, 1 - b1, 1 - b2, eps * root, stepsize):
            return
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += eps * root
        np.divide(m, tmp, out=tmp)
        tmp *= stepsize
        w -= tmp

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int) -> float:
        """Mean loss over ``(x, y)`` in batches."""
        total = 0.0
        for start in range(0, len(x), batch):
            z = self.forward(x[start:start + batch])[-1]
            lse = _shift_and_logsumexp(z)
            total += float(np.sum(lse - z[np.arange(len(z)), y[start:start + batch]]))
        return total / len(x)

    def bare_evaluate(self, x: np.ndarray, batch: int) -> None:
        """:meth:`evaluate`'s products alone (as :meth:`bare_step` is :meth:`step`'s)."""
        for start in range(0, len(x), batch):
            self._products(x[start:start + batch])


def _shift_and_logsumexp(z: np.ndarray) -> np.ndarray:
    """Shift each row of the logits ``z`` (N, K) by its maximum, in place; return each
    row's log-sum-exp of the shifted values (N,)."""
    z -= z.max(axis=1, keepdims=True)
    return np.log(np.exp(z).sum(axis=1))


def numpy_epoch(mlp: NumpyMLP, x: np.ndarray, y: np.ndarray, data: dict,
                rng: np.random.Generator, bare: bool = False) -> None:
    """One epoch of ``mlp`` over ``(x, y)`` (integer labels) in a fresh random order, then
    the workload's evaluation where it has one (W2); ``bare``: only the work no step can
    skip (:meth:`NumpyMLP.bare_step`, :meth:`NumpyMLP.bare_evaluate`)."""
    order = rng.permutation(len(x))
    for start in range(0, len(x), mlp.xb.shape[0]):
        index = order[start:start + mlp.xb.shape[0]]
        if bare:
            mlp.bare_step(x, index)
        else:
            mlp.step(x, y, index)
    if "x_eval" in data and bare:
        mlp.bare_evaluate(data["x_eval"], mlp.xb.shape[0])
    elif "x_eval" in data:
        mlp.evaluate(data["x_eval"], data["y_eval"], mlp.xb.shape[0])


def run_numpy_step(name: str, quick: bool = False, bare: bool = False) -> float:
    """The MLP workload's epoch as a :class:`NumpyMLP` loop (:func:`numpy_epoch`, W2 with
    its evaluation); ``bare``: only what no step can skip."""
    spec = WORKLOADS[name]
    if spec["kind"] != "mlp" or spec["classes"] == 1:
        raise NotImplementedError("the hand-written step covers the softmax MLP workloads")
    data = make_data(name)
    epochs, n = epochs_of(spec, quick)
    x, y = data["x"][:n], data["y"][:n].astype(np.intp)
    mlp = NumpyMLP.for_workload(spec)
    rng = np.random.default_rng(0)
    warm = 2 * spec["batch"]
    numpy_epoch(mlp, x[:warm], y[:warm], data, rng, bare)  # warm-up, as for the other systems
    start = time.perf_counter()
    for _ in range(epochs):
        numpy_epoch(mlp, x, y, data, rng, bare)
    return time.perf_counter() - start


# -- scikit-learn MLPClassifier ---------------------------------------------------------------------------
def run_sklearn(name: str, quick: bool = False) -> float:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    spec = WORKLOADS[name]
    if spec["kind"] != "mlp":
        raise NotImplementedError("scikit-learn has no convolutional networks")
    data = make_data(name)
    epochs, n = epochs_of(spec, quick)
    clf = MLPClassifier(hidden_layer_sizes=tuple(spec["hidden"]), activation={
        "sigmoid": "logistic", "relu": "relu"}[spec["act"]], solver="adam",
        learning_rate_init=spec["lr"], batch_size=spec["batch"], max_iter=epochs, shuffle=True,
        random_state=0, tol=0.0, n_iter_no_change=10 ** 9, alpha=0.0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data["x"][:n], data["y"][:n].astype(int))
        if "x_eval" in data:
            clf.score(data["x_eval"], data["y_eval"])
    return time.perf_counter() - start


# -- Keras 3 on JAX ------------------------------------------------------------------------------------------
def run_keras(name: str, quick: bool = False) -> float:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    spec = WORKLOADS[name]
    keras.utils.set_random_seed(0)
    model = keras_api_model(name, keras.Sequential, keras.Input, keras.layers)
    return timed_keras_api_fit(name, model, keras.optimizers.Adam(spec["lr"]), quick,
                               warmup_samples=epochs_of(spec, quick)[1])  # a whole epoch


# -- the machine's limit: GEMM throughput and the pure-GEMM time of an epoch ---------------------------------
def gemm_products(name: str) -> list[tuple[tuple[int, int, int], bool]]:
    """((m, k, n), is it a forward product x @ W) of every matrix product of one training
    step of an MLP workload."""
    spec = WORKLOADS[name]
    if spec["kind"] != "mlp":
        return []
    widths = [spec["features"]] + spec["hidden"] + [spec["classes"]]
    b = spec["batch"]
    products = []
    for i, (a, c) in enumerate(zip(widths[:-1], widths[1:])):
        products.append(((b, a, c), True))       # forward x @ W
        products.append(((a, b, c), False))      # dW = x^T dz
        if i > 0:
            products.append(((b, c, a), False))  # dx = dz W^T (not needed for the first layer)
    return products


def _steps(name: str, quick: bool) -> tuple[int, int]:
    """(training steps, evaluation steps) of the timed run: W2 evaluates after its epoch."""
    spec = WORKLOADS[name]
    epochs, n_samples = epochs_of(spec, quick)
    return (epochs * -(-n_samples // spec["batch"]),
            epochs * -(-spec.get("n_eval", 0) // spec["batch"]))


def _gemm_floor(name: str, quick: bool, matmul, wrap=lambda a: a) -> float:
    """Seconds of the workload's matrix products alone (float32) through ``matmul(a, b,
    out)`` for one timed run: the training steps' products and the evaluation's forward
    ones (operands made by NumPy, passed through ``wrap``)."""
    products = gemm_products(name)
    if not products:
        raise NotImplementedError("the GEMM floors are computed for the MLP workloads")
    rng = np.random.default_rng(0)
    operands = [tuple(wrap(a) for a in (rng.standard_normal((m, k)).astype(np.float32),
                                        rng.standard_normal((k, n)).astype(np.float32),
                                        np.empty((m, n), np.float32)))
                for (m, k, n), _ in products]
    forward = [ops for ops, (_, is_forward) in zip(operands, products) if is_forward]
    steps, eval_steps = _steps(name, quick)
    for a, b, out in operands:
        matmul(a, b, out)
    start = time.perf_counter()
    for _ in range(steps):
        for a, b, out in operands:
            matmul(a, b, out)
    for _ in range(eval_steps):
        for a, b, out in forward:
            matmul(a, b, out)
    return time.perf_counter() - start


def run_blas_floor(name: str, quick: bool = False) -> float:
    """The products through NumPy (its OpenBLAS, on its own threads): neuralab's floor."""
    return _gemm_floor(name, quick, lambda a, b, out: np.matmul(a, b, out=out))


def run_torch_floor(name: str, quick: bool = False) -> float:
    """The same products through ``torch.mm`` (PyTorch's BLAS, MKL on x86): PyTorch's floor."""
    import torch
    return _gemm_floor(name, quick, lambda a, b, out: torch.mm(a, b, out=out), torch.from_numpy)


def gemm_gflops(name: str) -> float:
    """GFLOP/s of the workload's matrix products on this machine."""
    products = gemm_products(name)
    flops = sum(2 * m * k * n for (m, k, n), _ in products)
    eval_flops = sum(2 * m * k * n for (m, k, n), is_forward in products if is_forward)
    steps, eval_steps = _steps(name, False)
    return (flops * steps + eval_flops * eval_steps) / run_blas_floor(name) / 1e9


SYSTEMS = {
    "neuralab": run_neuralab,
    "torch": run_torch,
    "torch_fused": lambda name, quick=False: run_torch(name, quick, fused=True),
    "sklearn": run_sklearn,
    "keras_jax": run_keras,
    "numpy_step": run_numpy_step,
    "step_floor": lambda name, quick=False: run_numpy_step(name, quick, bare=True),
    "blas_floor": run_blas_floor,
    "torch_floor": run_torch_floor,
}
