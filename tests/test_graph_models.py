"""Functional (graph) models, issue 13: residual connections, several inputs and outputs,
shared layers, nested models, sub-model views, predict structures, summary, saving and
ops on symbolic tensors.

Every number is checked against an independent computation: the same maths written out
in NumPy, PyTorch autograd in float64, or centred differences (``neuralab.gradcheck``).
Nothing is compared with hard-coded outputs.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import neuralab
from neuralab import keras, ops
from neuralab.keras import Input, Model, layers

from .conftest import require_torch

TOL = 1e-10


# -- helpers --------------------------------------------------------------------------------
def close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def grads_by_name(model, grads) -> dict:
    """compute_gradients' list (aligned with get_weights) keyed by weight name."""
    assert len(grads) == len(model.get_weights())
    for g, w in zip(grads, model.get_weights()):
        assert g.shape == w.shape
    return {p.name: g for p, g in zip(model.weights, grads)}


def torch_weights(torch, model, names):
    """{layer name: (kernel, bias)} as float64 leaf tensors, copied from the model."""
    out = {}
    for name in names:
        kernel, bias = model.get_layer(name).get_weights()
        out[name] = (torch.tensor(kernel, dtype=torch.float64, requires_grad=True),
                     torch.tensor(bias, dtype=torch.float64, requires_grad=True))
    return out


def t_dense(weights, name, x):
    kernel, bias = weights[name]
    return x @ kernel + bias


def t_mse(y, p):
    return ((y - p) ** 2).mean(dim=-1).mean()


def t_bce(y, p):
    return (-(y * p.log() + (1 - y) * (1 - p).log())).mean(dim=-1).mean()


def assert_grads_match(model, grads, tw, tol=TOL):
    by_name = grads_by_name(model, grads)
    for name, (kernel, bias) in tw.items():
        layer = model.get_layer(name)
        k_param, b_param = layer.weights
        close(by_name[k_param.name], kernel.grad.numpy(), tol)
        close(by_name[b_param.name], bias.grad.numpy(), tol)


def sgd_steps_torch(torch, tw, loss_fn, batches, epochs, lr):
    """Plain SGD over fixed batches; returns the per-epoch mean of the batch losses
    (taken before each step, as Keras logs them)."""
    params = [p for pair in tw.values() for p in pair]
    opt = torch.optim.SGD(params, lr=lr)
    history = []
    for _ in range(epochs):
        values = []
        for batch in batches:
            opt.zero_grad()
            loss = loss_fn(*batch)
            loss.backward()
            opt.step()
            values.append(loss.item())
        history.append(float(np.mean(values)))
    return history


# -- 1. residual MLP ------------------------------------------------------------------------
def residual_mlp(style: str):
    inp = Input(shape=(5,), name="x")
    x = layers.Dense(6, activation="tanh", name="stem")(inp)
    h = layers.Dense(6, activation="tanh", name="block")(x)
    x = x + h if style == "plus" else layers.Add(name="add")([x, h])
    out = layers.Dense(2, name="head")(x)
    return Model(inp, out)


def torch_residual(tw, x):
    s = t_dense(tw, "stem", x).tanh()
    h = t_dense(tw, "block", s).tanh()
    return t_dense(tw, "head", s + h)


@pytest.mark.parametrize("style", ["plus", "Add"])
def test_residual_mlp_loss_and_gradients_match_hand_written_and_torch(float64, rng, style):
    torch = require_torch()
    model = residual_mlp(style)
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((16, 5)), rng.standard_normal((16, 2))

    # the same maths in NumPy
    (k1, b1), (k2, b2), (k3, b3) = (model.get_layer(n).get_weights()
                                    for n in ("stem", "block", "head"))
    s = np.tanh(x @ k1 + b1)
    pred = (s + np.tanh(s @ k2 + b2)) @ k3 + b3
    close(model.predict(x, verbose=0), pred)

    loss, grads = model.compute_gradients(x, y)
    close(loss, np.mean((y - pred) ** 2))

    tw = torch_weights(torch, model, ["stem", "block", "head"])
    t_loss = t_mse(torch.tensor(y), torch_residual(tw, torch.tensor(x)))
    t_loss.backward()
    close(loss, t_loss.item())
    assert_grads_match(model, grads, tw)


@pytest.mark.parametrize("batch_size", [None, 8])
def test_residual_mlp_fit_matches_torch_sgd(float64, rng, batch_size):
    torch = require_torch()
    model = residual_mlp("plus")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    x, y = rng.standard_normal((24, 5)), rng.standard_normal((24, 2))
    tw = torch_weights(torch, model, ["stem", "block", "head"])

    history = model.fit(x, y, epochs=6, batch_size=batch_size or len(x), shuffle=False,
                        verbose=0)
    bs = batch_size or len(x)
    batches = [(torch.tensor(x[i:i + bs]), torch.tensor(y[i:i + bs]))
               for i in range(0, len(x), bs)]
    expected = sgd_steps_torch(torch, tw, lambda xb, yb: t_mse(yb, torch_residual(tw, xb)),
                               batches, epochs=6, lr=0.05)
    close(history.history["loss"], expected, 1e-8)
    for name, (kernel, bias) in tw.items():
        k, b = model.get_layer(name).get_weights()
        close(k, kernel.detach().numpy(), 1e-8)
        close(b, bias.detach().numpy(), 1e-8)


# -- 1. two inputs, two outputs, loss per output and loss_weights ---------------------------
def two_in_two_out():
    a = Input(shape=(3,), name="a")
    b = Input(shape=(2,), name="b")
    ha = layers.Dense(4, activation="tanh", name="branch_a")(a)
    hb = layers.Dense(4, activation="tanh", name="branch_b")(b)
    joint = layers.Concatenate(name="joint")([ha, hb])
    reg = layers.Dense(2, name="reg")(joint)
    cls = layers.Dense(1, activation="sigmoid", name="cls")(joint)
    return Model([a, b], [reg, cls])


def torch_two(tw, a, b):
    joint = torch_cat(t_dense(tw, "branch_a", a).tanh(), t_dense(tw, "branch_b", b).tanh())
    return t_dense(tw, "reg", joint), t_dense(tw, "cls", joint).sigmoid()


def torch_cat(*ts):
    import torch
    return torch.cat(ts, dim=1)


def two_data(rng, n=20):
    a, b = rng.standard_normal((n, 3)), rng.standard_normal((n, 2))
    y_reg = rng.standard_normal((n, 2))
    y_cls = (rng.random((n, 1)) < 0.5).astype(np.float64)
    return a, b, y_reg, y_cls


NAMES = ["branch_a", "branch_b", "reg", "cls"]


@pytest.mark.parametrize("as_dict", [False, True])
def test_two_input_two_output_losses_and_gradients_match_torch(float64, rng, as_dict):
    torch = require_torch()
    model = two_in_two_out()
    assert model.output_names == ["reg", "cls"]
    if as_dict:
        model.compile(optimizer="sgd", loss={"reg": "mse", "cls": "binary_crossentropy"},
                      loss_weights={"reg": 0.7, "cls": 0.3})
    else:
        model.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"],
                      loss_weights=[0.7, 0.3])
    a, b, y_reg, y_cls = two_data(rng)

    tw = torch_weights(torch, model, NAMES)
    p_reg, p_cls = torch_two(tw, torch.tensor(a), torch.tensor(b))
    t_loss = 0.7 * t_mse(torch.tensor(y_reg), p_reg) + 0.3 * t_bce(torch.tensor(y_cls), p_cls)
    t_loss.backward()

    x = {"a": a, "b": b} if as_dict else [a, b]
    y = {"reg": y_reg, "cls": y_cls} if as_dict else [y_reg, y_cls]
    loss, grads = model.compute_gradients(x, y)
    close(loss, t_loss.item())
    assert_grads_match(model, grads, tw)

    pred = model.predict([a, b], verbose=0)
    assert isinstance(pred, list) and len(pred) == 2
    close(pred[0], p_reg.detach().numpy())
    close(pred[1], p_cls.detach().numpy())


def test_two_input_two_output_fit_matches_torch_sgd(float64, rng):
    torch = require_torch()
    model = two_in_two_out()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss=["mse", "binary_crossentropy"], loss_weights=[0.7, 0.3])
    a, b, y_reg, y_cls = two_data(rng, n=30)
    tw = torch_weights(torch, model, NAMES)

    history = model.fit([a, b], [y_reg, y_cls], epochs=4, batch_size=10, shuffle=False,
                        verbose=0)

    def loss_fn(ab, bb, yr, yc):
        p_reg, p_cls = torch_two(tw, ab, bb)
        return 0.7 * t_mse(yr, p_reg) + 0.3 * t_bce(yc, p_cls)

    batches = [tuple(torch.tensor(v[i:i + 10]) for v in (a, b, y_reg, y_cls))
               for i in range(0, 30, 10)]
    expected = sgd_steps_torch(torch, tw, loss_fn, batches, epochs=4, lr=0.1)
    close(history.history["loss"], expected, 1e-8)
    for name, (kernel, bias) in tw.items():
        k, bias_now = model.get_layer(name).get_weights()
        close(k, kernel.detach().numpy(), 1e-8)
        close(bias_now, bias.detach().numpy(), 1e-8)


# -- 3. shared layer (Siamese), nested model, views -----------------------------------------
def test_shared_layer_gradients_add_up_like_torch(float64, rng):
    torch = require_torch()
    left, right = Input(shape=(4,), name="left"), Input(shape=(4,), name="right")
    shared = layers.Dense(3, activation="tanh", name="shared")
    diff = layers.Subtract(name="diff")([shared(left), shared(right)])
    out = layers.Dense(1, name="score")(diff)
    model = Model([left, right], out)
    assert sum(1 for layer in model.layers if layer is shared) == 1
    assert len(model.get_weights()) == 4  # the shared kernel and bias once, then score's
    model.compile(optimizer="sgd", loss="mse")

    xl, xr, y = rng.standard_normal((12, 4)), rng.standard_normal((12, 4)), rng.standard_normal((12, 1))
    loss, grads = model.compute_gradients([xl, xr], y)

    tw = torch_weights(torch, model, ["shared", "score"])
    d = t_dense(tw, "shared", torch.tensor(xl)).tanh() - t_dense(tw, "shared", torch.tensor(xr)).tanh()
    t_loss = t_mse(torch.tensor(y), t_dense(tw, "score", d))
    t_loss.backward()
    close(loss, t_loss.item())
    assert_grads_match(model, grads, tw)


def test_model_used_as_a_layer_inside_another_model(float64, rng):
    torch = require_torch()
    enc_in = Input(shape=(4,))
    encoder = Model(enc_in, layers.Dense(3, activation="tanh", name="enc_dense")(enc_in),
                    name="encoder")
    inp = Input(shape=(4,))
    out = layers.Dense(1, name="top")(encoder(inp))
    model = Model(inp, out)
    assert encoder in model.layers
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = rng.standard_normal((10, 4)), rng.standard_normal((10, 1))

    close(model.predict(x, verbose=0),
          model.get_layer("top")(encoder.predict(x, verbose=0)))

    loss, grads = model.compute_gradients(x, y)
    tw = torch_weights(torch, encoder, ["enc_dense"])
    tw.update(torch_weights(torch, model, ["top"]))
    t_loss = t_mse(torch.tensor(y),
                   t_dense(tw, "top", t_dense(tw, "enc_dense", torch.tensor(x)).tanh()))
    t_loss.backward()
    close(loss, t_loss.item())
    by_name = grads_by_name(model, grads)
    for name, src in (("enc_dense", encoder), ("top", model)):
        kernel, bias = src.get_layer(name).weights
        close(by_name[kernel.name], tw[name][0].grad.numpy())
        close(by_name[bias.name], tw[name][1].grad.numpy())

    # training the outer model trains the encoder's own weights
    before = encoder.get_weights()
    model.fit(x, y, epochs=1, batch_size=10, shuffle=False, verbose=0)
    for w0, w1, g in zip(before, encoder.get_weights(), [by_name[p.name] for p in encoder.weights]):
        close(w1, w0 - 0.1 * g)


def test_inputs_outputs_and_intermediate_output_sub_model_share_weights(float64, rng):
    inp = Input(shape=(3,), name="features")
    hidden = layers.Dense(5, activation="tanh", name="hidden")(inp)
    out = layers.Dense(1, name="out")(hidden)
    model = Model(inputs=inp, outputs=out)
    assert model.inputs == [inp] and model.outputs == [out]
    assert model.get_layer("hidden").output is hidden

    features = Model(inputs=model.inputs, outputs=model.get_layer("hidden").output)
    assert features.get_layer("hidden") is model.get_layer("hidden")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))

    def expected():
        k, b = model.get_layer("hidden").get_weights()
        return np.tanh(x @ k + b)

    close(features.predict(x, verbose=0), expected())
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="mse")
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    close(features.predict(x, verbose=0), expected())  # trained weights are seen by the view


def test_predict_with_list_and_dict_and_multi_output_list(float64, rng):
    model = two_in_two_out()
    a, b, _, _ = two_data(rng, n=7)
    by_list = model.predict([a, b], verbose=0)
    by_dict = model.predict({"b": b, "a": a}, verbose=0)
    assert isinstance(by_list, list) and isinstance(by_dict, list)
    assert [p.shape for p in by_list] == [(7, 2), (7, 1)]
    for p, q in zip(by_list, by_dict):
        np.testing.assert_array_equal(p, q)
    # the same maths in NumPy
    (ka, ba), (kb, bb), (kr, br), (kc, bc) = (model.get_layer(n).get_weights() for n in NAMES)
    joint = np.concatenate([np.tanh(a @ ka + ba), np.tanh(b @ kb + bb)], axis=1)
    close(by_list[0], joint @ kr + br)
    close(by_list[1], 1 / (1 + np.exp(-(joint @ kc + bc))))


def test_summary_has_connected_to_column(rng):
    model = two_in_two_out()
    text = io.StringIO()
    model.summary(print_fn=lambda s, **kw: text.write(s + "\n"))
    out = text.getvalue()
    assert "Connected to" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("joint"))
    joint_row = lines[start]
    for line in lines[start + 1:]:  # a long "Connected to" cell continues on the next lines
        if not line.startswith(" "):
            break
        joint_row += " " + line.strip()
    assert "branch_a" in joint_row and "branch_b" in joint_row
    assert "Concatenate" in joint_row
    total = sum(w.size for w in model.get_weights())
    assert f"{total:,}" in out or str(total) in out


# -- saving ---------------------------------------------------------------------------------
def test_save_and_load_graph_with_residual_concatenate_two_outputs(tmp_path, rng):
    inp = Input(shape=(4,), name="x")
    h = layers.Dense(4, activation="relu", name="h1")(inp)
    h = h + layers.Dense(4, activation="tanh", name="h2")(h)
    joint = layers.Concatenate(name="cat")([h, inp])
    out1 = layers.Dense(3, activation="softmax", name="probs")(joint)
    out2 = layers.Dense(1, name="value")(joint)
    model = Model(inp, [out1, out2])
    model.compile(optimizer="adam", loss=["categorical_crossentropy", "mse"])
    x = rng.standard_normal((9, 4)).astype("float32")
    y1 = np.eye(3, dtype="float32")[rng.integers(0, 3, 9)]
    model.fit(x, [y1, rng.standard_normal((9, 1)).astype("float32")], epochs=2, verbose=0)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = neuralab.load_model(path)
    before, after = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    assert isinstance(after, list) and len(after) == 2
    for p, q in zip(before, after):
        np.testing.assert_array_equal(p, q)
    assert loaded.output_names == model.output_names
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


# -- ops on symbolic tensors ----------------------------------------------------------------
def test_ops_on_symbolic_tensors_record_graph_nodes(float64, rng):
    torch = require_torch()
    inp = Input(shape=(4,))
    h = layers.Dense(4, name="d")(inp)
    cat = ops.concatenate([h, inp], axis=-1)
    first = cat[:, :2]
    doubled = ops.relu(cat) * 2
    assert cat.shape == (None, 8) and first.shape == (None, 2) and doubled.shape == (None, 8)
    out = layers.Dense(1, name="head")(ops.concatenate([first, doubled], axis=1))
    model = Model(inp, out)
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 1))

    k, b = model.get_layer("d").get_weights()
    kh, bh = model.get_layer("head").get_weights()
    c = np.concatenate([x @ k + b, x], axis=-1)
    close(model.predict(x, verbose=0),
          np.concatenate([c[:, :2], np.maximum(c, 0) * 2], axis=1) @ kh + bh)

    loss, grads = model.compute_gradients(x, y)
    tw = torch_weights(torch, model, ["d", "head"])
    tx = torch.tensor(x)
    tc = torch.cat([t_dense(tw, "d", tx), tx], dim=-1)
    t_loss = t_mse(torch.tensor(y), t_dense(tw, "head", torch.cat([tc[:, :2], tc.relu() * 2], 1)))
    t_loss.backward()
    close(loss, t_loss.item())
    assert_grads_match(model, grads, tw)


# -- 4. numerical gradient check ------------------------------------------------------------
def test_check_model_on_functional_model_with_residual_op(float64, rng):
    inp = Input(shape=(3,))
    x = layers.Dense(4, activation="tanh")(inp)
    x = x + ops.tanh(layers.Dense(4)(x)) * 0.5
    out = layers.Dense(2, activation="softmax")(layers.Concatenate()([x, inp]))
    model = Model(inp, out)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    xs = rng.standard_normal((5, 3))
    ys = np.eye(2)[rng.integers(0, 2, 5)]
    errors = neuralab.gradcheck.check_model(model, xs, ys)
    assert len(errors) == len(model.trainable_weights)
    assert max(errors.values()) < 1e-6, errors


# -- 5. errors ------------------------------------------------------------------------------
def test_graph_disconnected_raises_value_error():
    other = Input(shape=(3,))
    out = layers.Dense(2)(other)
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(inputs=Input(shape=(3,)), outputs=out)


def test_save_and_load_graph_with_symbolic_ops(tmp_path, rng):
    inp = Input(shape=(4,))
    h = layers.Dense(4, name="d")(inp)
    cat = ops.concatenate([h, inp], axis=-1)
    out = layers.Dense(1, name="head")(ops.concatenate([cat[:, :2], ops.relu(cat) * 2], axis=1))
    model = Model(inp, out)
    x = rng.standard_normal((5, 4)).astype("float32")
    model.save(tmp_path / "ops.keras")
    loaded = neuralab.load_model(tmp_path / "ops.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_per_output_metrics_are_logged_by_output_name(rng):
    model = two_in_two_out()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                  loss={"reg": "mse", "cls": "binary_crossentropy"},
                  metrics={"cls": ["accuracy"]})
    a, b, y_reg, y_cls = (v.astype("float32") for v in two_data(rng, n=16))
    logs = model.evaluate([a, b], [y_reg, y_cls], verbose=0, return_dict=True)
    p_reg, p_cls = model.predict([a, b], verbose=0)
    mse = np.mean((y_reg - p_reg) ** 2)
    eps = 1e-7
    pc = np.clip(p_cls, eps, 1 - eps)
    bce = np.mean(-(y_cls * np.log(pc) + (1 - y_cls) * np.log(1 - pc)))
    assert logs["reg_loss"] == pytest.approx(mse, rel=1e-5)
    assert logs["cls_loss"] == pytest.approx(bce, rel=1e-5)
    assert logs["loss"] == pytest.approx(mse + bce, rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(np.mean((p_cls > 0.5) == (y_cls == 1)))
    assert not any(k.startswith("reg_acc") for k in logs)


def test_dict_inputs_keyed_by_name(float64, rng):
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    out = layers.Dense(1, name="out")(layers.Concatenate()([a, b]))
    model = Model({"a": a, "b": b}, out)
    assert model.input_names == ["a", "b"]
    xa, xb = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    k, bias = model.get_layer("out").get_weights()
    expected = np.concatenate([xa, xb], axis=1) @ k + bias
    close(model.predict({"b": xb, "a": xa}, verbose=0), expected)
    close(model({"a": xa, "b": xb}), expected)


def test_sequence_outputs_with_an_unknown_time_axis_train_and_check_numerically(float64):
    """A softmax Dense on (N, T, D) inputs with cross-entropy takes the fused logits path:
    its gradients match centred differences, with T unknown until the data arrive."""
    from neuralab.gradcheck import check_model
    from neuralab.layers import Dense
    inp = Input((None, 5))
    model = Model(inp, Dense(3, activation="softmax")(Dense(4, activation="tanh")(inp)))
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 7, 5))
    y = np.eye(3)[rng.integers(0, 3, (6, 7))]
    errors = check_model(model, x, y)
    assert max(errors.values()) < 1e-6, errors
    history = model.fit(x, y, epochs=3, batch_size=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
