"""Measure, for every layer, loss and optimizer, the float64 gradient-check error and the
difference from PyTorch, and print them as a Markdown table.

    python benchmarks/engine_errors.py

Gradient check: max relative error (cs231n's ``rel_error``) between backward and centred
differences (h = 1e-5) over the input and every parameter. PyTorch: max relative error
of outputs and all gradients (layers, losses) or of the weights over a 20-step trajectory
(optimizers), computed with torch.autograd on the same values.
"""

from __future__ import annotations

import numpy as np
import torch

import neuralab as nl
from neuralab import gradcheck as gc
from neuralab import losses as L
from neuralab import optimizers as O
from neuralab.layers import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Reshape,
    SpatialDropout2D,
)
from neuralab.parameter import Parameter

F = torch.nn.functional
ACTS = {"linear": lambda z, a: z, "sigmoid": lambda z, a: torch.sigmoid(z),
        "tanh": lambda z, a: torch.tanh(z), "relu": lambda z, a: F.relu(z),
        "leaky_relu": lambda z, a: F.leaky_relu(z, a.negative_slope),
        "elu": lambda z, a: F.elu(z, a.alpha), "selu": lambda z, a: F.selu(z),
        "softplus": lambda z, a: F.softplus(z), "softmax": lambda z, a: F.softmax(z, -1)}


def torch_errors(layer, x, torch_fn, training=True, seed=0):
    """Max rel. error of forward, dx and parameter grads against ``torch_fn(x, *params)``."""
    layer.skip_input_grad = False
    state = getattr(layer, "rng", None) and layer.rng.bit_generator.state
    y = layer.forward(x, training=training)
    dout = np.random.default_rng(seed).standard_normal(y.shape)
    layer.zero_grad()
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=np.issubdtype(x.dtype, np.floating))
    params = [torch.tensor(p.data, requires_grad=p.trainable) for p in layer.weights]
    if state:
        layer.rng.bit_generator.state = state
    out = torch_fn(xt, *params)
    out.backward(torch.tensor(dout))
    errors = [gc.rel_error(y, out.detach().numpy())]
    if dx is not None:
        errors.append(gc.rel_error(dx, xt.grad.numpy()))
    errors += [gc.rel_error(p.grad, t.grad.numpy()) for p, t in zip(layer.weights, params)
               if p.trainable]
    return max(errors)


def layer_rows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    x = np.where(np.abs(x) < 0.05, 0.3, x)
    rows = []
    for name, fn in ACTS.items():
        layer = Dense(4, activation=name, bias_initializer=nl.initializers.RandomNormal(0, 0.3))
        grad = max(gc.check_layer(layer, x, seed=1).values())
        parity = torch_errors(layer, x, lambda xt, W, b, f=fn, a=layer.activation: f(xt @ W + b, a))
        rows.append((f"Dense({name})", grad, parity))
    for name, fn in ACTS.items():
        layer = Activation(name)
        grad = max(gc.check_layer(layer, x, seed=2).values())
        parity = torch_errors(layer, x, lambda xt, f=fn, a=layer.activation: f(xt, a))
        rows.append((f"Activation({name})", grad, parity))
    drop = Dropout(0.4, seed=1)
    grad = max(gc.check_layer(drop, x, seed=3).values())
    parity = torch_errors(drop, x, lambda xt: xt * torch.tensor(drop.mask))
    rows.append(("Dropout(0.4), fixed mask", grad, parity))
    img = rng.standard_normal((3, 4, 4, 6))
    sdrop = SpatialDropout2D(0.5, seed=2)
    grad = max(gc.check_layer(sdrop, img, seed=3).values())
    parity = torch_errors(sdrop, img, lambda xt: xt * torch.tensor(sdrop.mask))
    rows.append(("SpatialDropout2D(0.5), fixed mask", grad, parity))
    xb = rng.standard_normal((10, 5)) * 2 + 1
    bn = BatchNormalization(gamma_initializer=nl.initializers.RandomUniform(0.5, 1.5),
                            beta_initializer=nl.initializers.RandomNormal(0, 0.3))
    grad = max(gc.check_layer(bn, xb, seed=4).values())
    parity = torch_errors(bn, xb, lambda xt, g, b, m, v: F.batch_norm(
        xt, None, None, g, b, training=True, eps=1e-3))
    rows.append(("BatchNormalization (training)", grad, parity))
    bn.moving_mean.data[:] = rng.standard_normal(5)
    bn.moving_variance.data[:] = rng.random(5) + 0.5
    grad = max(gc.check_layer(bn, xb, training=False, seed=5).values())
    parity = torch_errors(bn, xb, lambda xt, g, b, m, v: F.batch_norm(
        xt, m, v, g, b, training=False, eps=1e-3), training=False)
    rows.append(("BatchNormalization (inference)", grad, parity))
    emb = Embedding(7, 3)
    ids = np.array([[1, 2, 1], [1, 6, 0], [2, 2, 2]])
    grad = max(gc.check_layer(emb, ids, seed=6).values())
    parity = torch_errors(emb, ids, lambda it, W: F.embedding(it, W))
    rows.append(("Embedding, repeated ids", grad, parity))
    x3 = rng.standard_normal((3, 2, 4))
    for layer in (Flatten(), Reshape((4, 2))):
        grad = max(gc.check_layer(layer, x3, seed=7).values())
        parity = torch_errors(layer, x3, lambda xt, lay=layer: xt.reshape(
            (xt.shape[0],) + lay.output_shape[1:]))
        rows.append((type(layer).__name__, grad, parity))
    return rows


def loss_rows():
    rng = np.random.default_rng(1)
    probs = rng.random((6, 4)) * 0.8 + 0.1
    logits = rng.standard_normal((6, 4)) * 2
    labels = rng.integers(0, 4, 6)
    onehot = np.eye(4)[labels]
    bits = (rng.random((6, 4)) > 0.5) * 1.0
    real = rng.standard_normal((6, 4))
    cases = [
        ("mean_squared_error", L.MeanSquaredError(), real, logits, lambda p, t: F.mse_loss(p, t)),
        ("mean_absolute_error", L.MeanAbsoluteError(), real, logits, lambda p, t: F.l1_loss(p, t)),
        ("binary_crossentropy", L.BinaryCrossentropy(), bits, probs,
         lambda p, t: F.binary_cross_entropy(p, t)),
        ("binary_crossentropy(from_logits)", L.BinaryCrossentropy(from_logits=True), bits, logits,
         lambda p, t: F.binary_cross_entropy_with_logits(p, t)),
        ("categorical_crossentropy", L.CategoricalCrossentropy(), onehot, probs,
         lambda p, t: -(t * torch.log(p / p.sum(-1, keepdim=True))).sum(-1).mean()),
        ("categorical_crossentropy(from_logits)", L.CategoricalCrossentropy(from_logits=True),
         onehot, logits, lambda p, t: F.cross_entropy(p, t)),
        ("sparse_categorical_crossentropy", L.SparseCategoricalCrossentropy(), labels, probs,
         lambda p, t: F.nll_loss(torch.log(p / p.sum(-1, keepdim=True)), t)),
        ("sparse_categorical_crossentropy(from_logits)",
         L.SparseCategoricalCrossentropy(from_logits=True), labels, logits,
         lambda p, t: F.cross_entropy(p, t)),
        ("multiclass_hinge (SVM)", L.MulticlassHinge(), labels, logits,
         lambda p, t: F.multi_margin_loss(p, t) * p.shape[1]),
        ("categorical_hinge", L.CategoricalHinge(), onehot, logits,
         lambda p, t: torch.clamp(((1 - t) * p).max(-1).values - (t * p).sum(-1) + 1, min=0).mean()),
        ("hinge", L.Hinge(), bits * 2 - 1, logits,
         lambda p, t: torch.clamp(1 - t * p, min=0).mean()),
    ]
    rows = []
    for name, loss, y_true, y_pred, fn in cases:
        grad = gc.check_loss(loss, y_true, y_pred)
        checked = loss.check_targets(y_true, y_pred)
        pt = torch.tensor(y_pred, requires_grad=True)
        value = fn(pt, torch.tensor(checked))
        value.backward()
        parity = max(gc.rel_error(loss.call(checked, y_pred).mean(), value.item()),
                     gc.rel_error(loss.gradient(checked, y_pred), pt.grad.numpy()))
        rows.append((name, grad, parity))
    # the fused softmax/sigmoid paths a model takes
    for name, loss, y_true, act in [
            ("softmax + categorical_crossentropy (fused)", L.CategoricalCrossentropy(), onehot, "softmax"),
            ("sigmoid + binary_crossentropy (fused)", L.BinaryCrossentropy(), bits, "sigmoid")]:
        z = logits.copy()
        value, dz = loss.from_logits_grad(y_true, z)
        def fused_value(loss=loss, y_true=y_true, z=z):  # this iteration's values, bound now
            return loss.from_logits_grad(y_true, z)[0]
        numeric = gc.numerical_gradient(fused_value, z)
        zt = torch.tensor(logits, requires_grad=True)
        tv = (F.cross_entropy(zt, torch.tensor(y_true)) if act == "softmax" else
              F.binary_cross_entropy_with_logits(zt, torch.tensor(y_true)))
        tv.backward()
        rows.append((name, gc.rel_error(dz, numeric),
                     max(gc.rel_error(value, tv.item()), gc.rel_error(dz, zt.grad.numpy()))))
    return rows


def optimizer_rows():
    cases = [
        ("SGD", {}, {}), ("SGD momentum=0.9", dict(momentum=0.9), dict(momentum=0.9)),
        ("SGD Nesterov", dict(momentum=0.9, nesterov=True), dict(momentum=0.9, nesterov=True)),
        ("SGD weight_decay=0.1", dict(momentum=0.5, weight_decay=0.1),
         dict(momentum=0.5, weight_decay=0.1)),
        ("RMSprop", {}, dict(alpha=0.9, eps=1e-7)),
        ("RMSprop centered+momentum+wd", dict(rho=0.99, momentum=0.8, centered=True,
                                             weight_decay=0.01),
         dict(alpha=0.99, eps=1e-7, momentum=0.8, centered=True, weight_decay=0.01)),
        ("Adagrad", {}, dict(initial_accumulator_value=0.1, eps=1e-7)),
        ("Adagrad weight_decay=0.05", dict(weight_decay=0.05),
         dict(initial_accumulator_value=0.1, eps=1e-7, weight_decay=0.05)),
        ("Adam", {}, dict(eps=1e-7)),
        ("Adam amsgrad+wd", dict(beta_1=0.8, beta_2=0.99, amsgrad=True, weight_decay=0.1),
         dict(betas=(0.8, 0.99), eps=1e-7, amsgrad=True, weight_decay=0.1)),
        ("AdamW", dict(weight_decay=0.1), dict(eps=1e-7, weight_decay=0.1)),
    ]
    rows = []
    for label, ours, theirs in cases:
        cls = label.split()[0]
        rng = np.random.default_rng(0)
        start = [rng.standard_normal((3, 4)), rng.standard_normal(6)]
        params = [Parameter(w.copy()) for w in start]
        opt = getattr(O, cls)(learning_rate=0.05, **ours)
        tparams = [torch.tensor(w.copy(), requires_grad=True) for w in start]
        topt = getattr(torch.optim, cls)(tparams, lr=0.05, **theirs)
        worst = 0.0
        for _ in range(20):
            for _p, t in zip(params, tparams):
                t.grad = None
            loss = sum((torch.sin(t) * t**2).sum() for t in tparams)
            loss.backward()
            for p, t in zip(params, tparams):
                p.grad = t.grad.numpy()
            opt.step(params)
            topt.step()
            worst = max(worst, *(gc.rel_error(p.data, t.detach().numpy())
                                 for p, t in zip(params, tparams)))
        rows.append((label, None, worst))
    return rows


def table(title, rows, grad_header="gradient check"):
    lines = [f"### {title}", "", f"| | {grad_header} | vs PyTorch |", "|---|---|---|"]
    for name, grad, parity in rows:
        g = "—" if grad is None else f"{grad:.1e}"
        lines.append(f"| {name} | {g} | {parity:.1e} |")
    return "\n".join(lines)


def main():
    nl.set_floatx("float64")
    nl.set_seed(0)
    print(table("Layers (float64, max relative error)", layer_rows()))
    print()
    print(table("Losses (float64)", loss_rows()))
    print()
    print(table("Optimizers (20-step trajectories, float64)", optimizer_rows()))


if __name__ == "__main__":
    main()
