"""Recurrent layers and wrappers: backprop through time checked by centred differences
(float64, <= 1e-7) and against PyTorch's nn.RNN / nn.LSTM / nn.GRU with copied weights
(float64, <= 1e-10); return_state in functional models; per-call caches; save/load."""

from __future__ import annotations

import numpy as np
import pytest

import neuralab
from neuralab import gradcheck as gc
from neuralab.initializers import Orthogonal
from neuralab.keras import Input, Model, Sequential, layers
from neuralab.layers.base import CallState

from . import test_layer_calls as contract
from .conftest import require_torch

N, T, D, H = 3, 4, 3, 3
H_STEP = 3e-3  # step of the extrapolated centred differences (see numerical_gradient)

RNNS = {"SimpleRNN": layers.SimpleRNN, "LSTM": layers.LSTM, "GRU": layers.GRU}
OPTIONS = [{}, {"return_sequences": True}, {"go_backwards": True},
           {"return_sequences": True, "go_backwards": True}]


def randomize(layer, rng, scale=0.5):
    """Random weights (biases too), so every path of the gradient is exercised."""
    for p in layer.parameters():
        p.data[...] = scale * rng.standard_normal(p.data.shape)
    return layer


def built(layer, rng, shape=(None, T, D)):
    layer.build(shape)
    return randomize(layer, rng)


def state_douts(rng, ys, used):
    """Upstream gradients for a list of outputs, ``None`` where ``used[k]`` is False."""
    return [rng.standard_normal(y.shape) if u else None for y, u in zip(ys, used)]


def numerical_gradient(f, array):
    """dL/d(array) by Richardson-extrapolated centred differences, ``(4 D(h/2) - D(h)) / 3``.

    Plain centred differences (error ~h^2) leave ~1e-11 of round-off or truncation on every
    entry, which is 1e-7 relative for the 1e-5-sized entries backprop through time yields;
    the extrapolation (error ~h^4) allows a step of 3e-3, where round-off is ~1e-13.
    """
    return (4 * gc.numerical_gradient(f, array, H_STEP / 2) - gc.numerical_gradient(f, array, H_STEP)) / 3


def check_gradients(layer, x, douts=None, seed=0):
    """Relative errors of dL/dx and dL/dW for L = sum_k sum(douts[k] * y_k) (one output, or
    a list of outputs with ``None`` for unused ones); random douts for one output.
    ``x`` may be a list ``[x, *initial_states]``: then each gets its entry ``x0, x1, ...``."""
    x = [v.copy() for v in x] if isinstance(x, list) else x.copy()
    noisy = [a for a in [layer, *layer._sublayers()] if getattr(a, "rng", None) is not None]
    noise = [a.rng.bit_generator.state for a in noisy]

    def run():  # the same dropout masks in every evaluation
        for a, state in zip(noisy, noise):
            a.rng.bit_generator.state = state
        return layer.forward(x, training=True)

    ys = run()
    if douts is None:
        douts = np.random.default_rng(seed).standard_normal(ys.shape)
    listed = isinstance(douts, list)

    def loss():
        out = run()
        pairs = zip(douts, out) if listed else [(douts, out)]
        return float(sum(np.sum(d * y) for d, y in pairs if d is not None))

    loss()
    layer.zero_grad()
    dx = layer.backward(douts)
    if isinstance(x, list):
        errors = {f"x{k}": gc.rel_error(g, numerical_gradient(loss, v))
                  for k, (v, g) in enumerate(zip(x, dx, strict=True))}
    else:
        errors = {"x": gc.rel_error(dx, numerical_gradient(loss, x))}
    analytic = {p.name: p.grad.copy() for p in layer.parameters()}
    for p in layer.parameters():
        errors[p.name] = gc.rel_error(analytic[p.name], numerical_gradient(loss, p.data))
    return errors


# -- gradient checks --------------------------------------------------------------------------
@pytest.mark.parametrize("options", OPTIONS, ids=["last", "sequences", "backwards", "seq_backwards"])
@pytest.mark.parametrize("kind", list(RNNS))
def test_backward_through_time_matches_centred_differences(float64, rng, kind, options):
    layer = built(RNNS[kind](H, **options), rng)
    errors = check_gradients(layer, rng.standard_normal((N, T, D)))
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("make", [
    lambda: layers.GRU(H, reset_after=False, return_sequences=True),
    lambda: layers.GRU(H, use_bias=False),
    lambda: layers.LSTM(H, activation="softplus", recurrent_activation="tanh"),
    lambda: layers.SimpleRNN(H, activation="linear", return_sequences=True),
    lambda: layers.LSTM(H, activation="linear"),
], ids=["gru_reset_before", "gru_no_bias", "lstm_softplus_tanh", "rnn_linear", "lstm_linear"])
def test_other_activations_and_variants_match_centred_differences(float64, rng, make):
    layer = built(make(), rng)
    errors = check_gradients(layer, rng.standard_normal((N, T, D)))
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("kind", list(RNNS))
def test_return_state_gradients_with_unused_outputs_match_centred_differences(float64, rng, kind):
    layer = built(RNNS[kind](H, return_state=True, return_sequences=True, go_backwards=True), rng)
    x = rng.standard_normal((N, T, D))
    ys = layer.forward(x)
    assert len(ys) == 1 + len(layer.state_names)
    for used in ([True] * len(ys), [False] + [True] * (len(ys) - 1), [True] + [False] * (len(ys) - 1)):
        errors = check_gradients(layer, x, state_douts(rng, ys, used))
        assert max(errors.values()) <= 1e-7, (used, errors)


@pytest.mark.parametrize("options", [{}, {"return_sequences": True, "go_backwards": True,
                                          "recurrent_dropout": 0.3, "return_state": True}],
                         ids=["last", "seq_backwards_dropout_states"])
@pytest.mark.parametrize("kind", list(RNNS))
def test_initial_state_gradients_match_centred_differences(float64, rng, kind, options):
    layer = built(RNNS[kind](H, **options), rng)
    states = [rng.standard_normal((N, H)) for _ in layer.state_names]
    x = [rng.standard_normal((N, T, D)), *states]
    ys = layer.forward(x, training=True)
    douts = state_douts(rng, ys, [True] * len(ys)) if isinstance(ys, list) else None
    errors = check_gradients(layer, x, douts)
    assert set(errors) >= {"x0", "x1"} and max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merge_modes_match_centred_differences(float64, rng, merge_mode):
    layer = layers.Bidirectional(layers.LSTM(2, return_sequences=True), merge_mode=merge_mode)
    built(layer, rng)
    errors = check_gradients(layer, rng.standard_normal((N, T, D)))
    assert max(errors.values()) <= 1e-7, errors


def test_bidirectional_without_merge_and_with_states_matches_centred_differences(float64, rng):
    layer = built(layers.Bidirectional(layers.GRU(2, return_state=True), merge_mode=None), rng)
    x = rng.standard_normal((N, T, D))
    ys = layer.forward(x)
    assert [y.shape for y in ys] == [(N, 2)] * 4  # forward out, backward out, h_f, h_b
    errors = check_gradients(layer, x, state_douts(rng, ys, [True, False, True, True]))
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("make", [
    lambda: layers.SimpleRNN(H, dropout=0.4, recurrent_dropout=0.3, return_sequences=True),
    lambda: layers.LSTM(H, dropout=0.4, recurrent_dropout=0.3, go_backwards=True),
    lambda: layers.GRU(H, dropout=0.4, recurrent_dropout=0.3, return_sequences=True),
    lambda: layers.GRU(H, recurrent_dropout=0.5, reset_after=False),
    lambda: layers.Bidirectional(layers.LSTM(2, recurrent_dropout=0.5, return_sequences=True)),
], ids=["simple_rnn", "lstm", "gru", "gru_reset_before", "bidirectional_lstm"])
def test_dropout_and_recurrent_dropout_gradients_match_centred_differences(float64, rng, make):
    layer = built(make(), rng)
    errors = check_gradients(layer, rng.standard_normal((N, T, D)))
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("kind", list(RNNS))
def test_input_dropout_uses_one_mask_for_every_step_and_only_in_training(float64, rng, kind):
    layer = built(RNNS[kind](H, dropout=0.5, return_sequences=True), rng)
    twin = RNNS[kind](H, return_sequences=True)
    twin.build((None, T, D))
    twin.set_weights(layer.get_weights())
    x = rng.standard_normal((8, T, D))
    y = layer.forward(x, training=True)
    mask = layer._dropouts[0]
    assert mask.shape == (8, D) and set(np.unique(mask)) <= {0.0, 2.0} and 0 < mask.mean() < 2
    np.testing.assert_allclose(y, twin.forward(x * mask[:, None]), rtol=1e-12)
    np.testing.assert_allclose(layer.forward(x), twin.forward(x), rtol=1e-12)


def test_time_distributed_dense_matches_centred_differences(float64, rng):
    layer = built(layers.TimeDistributed(layers.Dense(2, activation="tanh")), rng)
    x = rng.standard_normal((N, T, D))
    assert layer.forward(x).shape == (N, T, 2)
    errors = check_gradients(layer, x)
    assert max(errors.values()) <= 1e-7, errors


def test_time_distributed_conv2d_runs_each_frame_through_the_same_kernel(float64, rng):
    layer = layers.TimeDistributed(layers.Conv2D(2, 3, padding="same"))
    x = rng.standard_normal((2, 3, 5, 5, 1))
    y = layer(x)
    assert y.shape == (2, 3, 5, 5, 2)
    np.testing.assert_allclose(y[1, 2], layer.layer.forward(x[1:2, 2])[0], rtol=1e-12)
    errors = check_gradients(layer, x)
    assert max(errors.values()) <= 1e-7, errors


# -- PyTorch parity ---------------------------------------------------------------------------
def gru_rows(w, units):
    """Keras GRU gate blocks (z, r, h) along the last axis -> PyTorch's (r, z, n) rows."""
    return np.concatenate([w[..., units:2 * units], w[..., :units], w[..., 2 * units:]], axis=-1).T


def torch_weights(layer):
    """``{weight_ih, weight_hh, bias_ih, bias_hh}`` for one direction from a Keras layer."""
    u = layer.units
    kernel, recurrent = layer.kernel.data, layer.recurrent_kernel.data
    bias = layer.bias.data
    if isinstance(layer, layers.GRU):
        return {"weight_ih": gru_rows(kernel, u), "weight_hh": gru_rows(recurrent, u),
                "bias_ih": gru_rows(bias[0], u), "bias_hh": gru_rows(bias[1], u)}
    return {"weight_ih": kernel.T, "weight_hh": recurrent.T, "bias_ih": bias,
            "bias_hh": np.zeros_like(bias)}


def keras_grads_from_torch(layer, grads):
    """PyTorch gradients of one direction, laid out as the layer's (kernel, rec, bias)."""
    u = layer.units
    if isinstance(layer, layers.GRU):
        def undo(g):  # PyTorch's (r, z, n) rows -> Keras' (z, r, h)
            return np.concatenate([g[u:2 * u], g[:u], g[2 * u:]], axis=0)
        return [undo(grads["weight_ih"]).T, undo(grads["weight_hh"]).T,
                np.stack([undo(grads["bias_ih"]), undo(grads["bias_hh"])])]
    return [grads["weight_ih"].T, grads["weight_hh"].T, grads["bias_ih"]]


def torch_module(torch, layer, bidirectional=None):
    cls = {layers.SimpleRNN: torch.nn.RNN, layers.LSTM: torch.nn.LSTM, layers.GRU: torch.nn.GRU}
    directions = [layer] if bidirectional is None else list(bidirectional)
    module = cls[type(layer)](layer.kernel.data.shape[0], layer.units, batch_first=True,
                              bidirectional=bidirectional is not None).double()
    with torch.no_grad():
        for suffix, direction in zip(["_l0", "_l0_reverse"], directions):
            for name, value in torch_weights(direction).items():
                getattr(module, name + suffix).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def torch_grads(module, suffix):
    return {name: getattr(module, name + suffix).grad.numpy()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def parity_error(a, b) -> float:
    """Largest difference relative to the largest magnitude (float64 round-off ~1e-16)."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1e-300, np.max(np.abs(b))))


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("kind", list(RNNS))
def test_outputs_states_and_gradients_match_pytorch(float64, rng, kind, go_backwards):
    torch = require_torch()
    layer = built(RNNS[kind](5, return_sequences=True, return_state=True,
                             go_backwards=go_backwards), rng, (None, 6, 4))
    x = rng.standard_normal((3, 6, 4))
    ys = layer.forward(x)
    douts = [rng.standard_normal(y.shape) for y in ys]
    layer.zero_grad()
    dx = layer.backward(douts)

    module = torch_module(torch, layer)
    xt = torch.tensor(x[:, ::-1].copy() if go_backwards else x, requires_grad=True)
    out, state = module(xt)
    states = list(state) if kind == "LSTM" else [state]
    torch_ys = [out] + [s[0] for s in states]
    loss = sum((t * torch.from_numpy(d)).sum() for t, d in zip(torch_ys, douts))
    loss.backward()
    torch_dx = xt.grad.numpy()[:, ::-1] if go_backwards else xt.grad.numpy()

    errors = {f"y{k}": parity_error(y, t.detach().numpy()) for k, (y, t) in enumerate(zip(ys, torch_ys))}
    errors["dx"] = parity_error(dx, torch_dx)
    expected = keras_grads_from_torch(layer, torch_grads(module, "_l0"))
    for p, g in zip(layer.parameters(), expected):
        errors[p.name] = parity_error(p.grad, g)
    assert max(errors.values()) <= 1e-10, errors


@pytest.mark.parametrize("kind", list(RNNS))
def test_initial_states_and_their_gradients_match_pytorch(float64, rng, kind):
    torch = require_torch()
    layer = built(RNNS[kind](5, return_sequences=True), rng, (None, 6, 4))
    x = rng.standard_normal((3, 6, 4))
    states = [rng.standard_normal((3, 5)) for _ in layer.state_names]
    y = layer([x, *states])
    dout = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx, *dstates = layer.backward(dout)

    module = torch_module(torch, layer)
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in states]
    out, _ = module(xt, tuple(st) if kind == "LSTM" else st[0])
    (out * torch.from_numpy(dout)).sum().backward()
    errors = {"y": parity_error(y, out.detach().numpy()), "dx": parity_error(dx, xt.grad.numpy())}
    for name, d, t in zip(layer.state_names, dstates, st):
        errors["d" + name + "0"] = parity_error(d, t.grad.numpy()[0])
    expected = keras_grads_from_torch(layer, torch_grads(module, "_l0"))
    for p, g in zip(layer.parameters(), expected):
        errors[p.name] = parity_error(p.grad, g)
    assert max(errors.values()) <= 1e-10, errors


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional_matches_pytorch_bidirectional(float64, rng, kind):
    torch = require_torch()
    layer = built(layers.Bidirectional(RNNS[kind](5, return_sequences=True)), rng, (None, 6, 4))
    x = rng.standard_normal((3, 6, 4))
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx = layer.backward(dout)

    module = torch_module(torch, layer.forward_layer, (layer.forward_layer, layer.backward_layer))
    xt = torch.tensor(x, requires_grad=True)
    out, _ = module(xt)
    (out * torch.from_numpy(dout)).sum().backward()
    errors = {"y": parity_error(y, out.detach().numpy()), "dx": parity_error(dx, xt.grad.numpy())}
    for direction, suffix in ((layer.forward_layer, "_l0"), (layer.backward_layer, "_l0_reverse")):
        expected = keras_grads_from_torch(direction, torch_grads(module, suffix))
        for p, g in zip(direction.parameters(), expected):
            errors[p.name] = parity_error(p.grad, g)
    assert max(errors.values()) <= 1e-10, errors


def test_bidirectional_last_output_is_forward_last_and_backward_first_step(float64, rng):
    seq = built(layers.Bidirectional(layers.GRU(H, return_sequences=True)), rng)
    last = layers.Bidirectional(layers.GRU(H))
    last.build((None, T, D))
    last.set_weights(seq.get_weights())
    x = rng.standard_normal((N, T, D))
    ys = seq.forward(x)
    np.testing.assert_allclose(last.forward(x), np.concatenate([ys[:, -1, :H], ys[:, 0, H:]], -1),
                               rtol=1e-12)


# -- Keras weights and initializers ---------------------------------------------------------
def test_weights_have_keras_shapes_and_initial_values(float64):
    lstm, gru, gru2 = layers.LSTM(4), layers.GRU(4), layers.GRU(4, reset_after=False)
    for layer in (lstm, gru, gru2):
        layer.build((None, 7, 3))
    assert [p.shape for p in lstm.weights] == [(3, 16), (4, 16), (16,)]
    assert [p.shape for p in gru.weights] == [(3, 12), (4, 12), (2, 12)]
    assert gru2.bias.shape == (12,)
    np.testing.assert_array_equal(lstm.bias.data, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    w = lstm.recurrent_kernel.data
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-12)  # orthogonal rows


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 3, 4)])
def test_orthogonal_initializer_gives_orthonormal_columns_or_rows(float64, shape):
    w = Orthogonal(gain=2.0, seed=1)(shape, "float64").reshape(-1, shape[-1])
    small = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(small, 4.0 * np.eye(min(w.shape)), atol=1e-12)
    # "orthogonal" resolves (to neuralab.initializers' own class once it has one)
    w = neuralab.initializers.get("orthogonal")((6, 4), "float64")
    np.testing.assert_allclose(w.T @ w, np.eye(4), atol=1e-12)


# -- per-call caches (shared layers) ----------------------------------------------------------
def _floats(shape):
    return lambda rng, n: rng.standard_normal((n,) + shape)


CALL_CASES = [
    ("simple_rnn", lambda: layers.SimpleRNN(3, return_sequences=True), _floats((4, 2))),
    ("lstm_backwards", lambda: layers.LSTM(3, go_backwards=True), _floats((4, 2))),
    ("gru", lambda: layers.GRU(3, return_sequences=True), _floats((4, 2))),
    ("gru_reset_before", lambda: layers.GRU(2, reset_after=False), _floats((3, 2))),
    ("lstm_dropout", lambda: layers.LSTM(3, dropout=0.3, recurrent_dropout=0.3,
                                         return_sequences=True), _floats((4, 2))),
    ("bidirectional_lstm", lambda: layers.Bidirectional(layers.LSTM(2, return_sequences=True)),
     _floats((4, 2))),
    ("bidirectional_gru_mul", lambda: layers.Bidirectional(layers.GRU(2), merge_mode="mul"),
     _floats((4, 2))),
    ("time_distributed_dense", lambda: layers.TimeDistributed(layers.Dense(3, activation="tanh")),
     _floats((4, 2))),
]


@pytest.mark.parametrize("case", CALL_CASES, ids=[c[0] for c in CALL_CASES])
def test_two_calls_in_one_pass_equal_two_independent_calls(float64, rng, case):
    """The contract of tests/test_layer_calls.py, run on the recurrent layers."""
    name, make, make_x = case
    contract.test_two_calls_in_one_pass_equal_two_independent_calls(
        None, rng, (name, make, make_x, True, False))
    contract.test_forward_keeps_per_call_state_only_in_declared_attributes(
        None, rng, (name, make, make_x, True, False))


def test_lstm_with_states_called_twice_backpropagates_each_call(float64, rng):
    layer = built(layers.LSTM(H, return_state=True), rng)
    twin = built(layers.LSTM(H, return_state=True), rng)
    twin.set_weights(layer.get_weights())
    x1, x2 = rng.standard_normal((N, T, D)), rng.standard_normal((2, T, D))
    s1, s2 = CallState(), CallState()
    layer.enter_call(s1)
    y1 = layer.forward(x1)
    layer.exit_call(s1)
    layer.enter_call(s2)
    y2 = layer.forward(x2)
    layer.exit_call(s2)
    d1, d2 = state_douts(rng, y1, [True, False, True]), state_douts(rng, y2, [False, True, True])
    layer.zero_grad()
    layer.resume_call(s1)
    dx1 = layer.backward(d1)
    layer.resume_call(s2)
    dx2 = layer.backward(d2)
    twin.zero_grad()
    twin.forward(x1)
    np.testing.assert_allclose(dx1, twin.backward(d1), rtol=1e-12)
    twin.forward(x2)
    np.testing.assert_allclose(dx2, twin.backward(d2), rtol=1e-12)
    for p, q in zip(layer.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)


# -- models -----------------------------------------------------------------------------------
def test_functional_model_returns_lstm_output_and_states(float64, rng):
    inp = Input((T, D))
    lstm = layers.LSTM(4, return_state=True)
    model = Model(inp, lstm(inp))
    x = rng.standard_normal((5, T, D))
    out, h, c = model.predict(x, verbose=0)
    expected = lstm.forward(x)
    for got, want in zip((out, h, c), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(out, h, rtol=1e-12)


def test_functional_model_using_the_states_trains_with_correct_gradients(float64, rng):
    inp = Input((T, D))
    seq, h, c = layers.LSTM(3, return_sequences=True, return_state=True)(inp)
    pooled = layers.GlobalAveragePooling1D()(seq)
    out = layers.Dense(1)(layers.Concatenate()([pooled, c]))  # h is left unused
    model = Model(inp, out)
    model.compile("adam", "mse")
    x, y = rng.standard_normal((6, T, D)), rng.standard_normal((6, 1))
    _, grads = model.compute_gradients(x, y)
    loss = lambda: model.compute_gradients(x, y)[0]  # noqa: E731
    errors = {p.name: gc.rel_error(g, numerical_gradient(loss, p.data))
              for p, g in zip(model.parameters(), grads)}
    assert max(errors.values()) <= 1e-7, errors
    history = model.fit(x, y, epochs=20, batch_size=6, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def seq2seq(vocab=5, units=6):
    """Keras' encoder-decoder pattern: the encoder's states start the decoder.

    Fixed lengths (3 in, 2 out): ``fit`` cannot yet take targets for an output whose time
    axis is unknown (``Input((None, vocab))``; training/data.py ``prepare_targets``)."""
    encoder_in, decoder_in = Input((3, vocab)), Input((2, vocab))
    _, h, c = layers.LSTM(units, return_state=True, name="encoder")(encoder_in)
    decoder = layers.LSTM(units, return_sequences=True, return_state=True, name="decoder")
    seq, _, _ = decoder(decoder_in, initial_state=[h, c])
    # TimeDistributed: a softmax Dense on (N, T, units) fused with the cross-entropy fails
    # in fit (its logits are kept as (N*T, vocab)), outside this module
    dense = layers.TimeDistributed(layers.Dense(vocab, activation="softmax"), name="readout")
    return Model([encoder_in, decoder_in], dense(seq)), decoder, dense


def test_seq2seq_decoder_started_from_encoder_states_has_correct_gradients(float64, rng):
    model, _, _ = seq2seq(vocab=3, units=2)
    model.compile("adam", "categorical_crossentropy")
    enc, dec = np.eye(3)[rng.integers(0, 3, (4, 3))], np.eye(3)[rng.integers(0, 3, (4, 2))]
    target = np.eye(3)[rng.integers(0, 3, (4, 2))]
    _, grads = model.compute_gradients([enc, dec], target)
    loss = lambda: model.compute_gradients([enc, dec], target)[0]  # noqa: E731
    errors = {p.name: gc.rel_error(g, numerical_gradient(loss, p.data))
              for p, g in zip(model.parameters(), grads)}
    assert {"encoder/kernel", "decoder/kernel"} <= set(errors)
    assert max(errors.values()) <= 1e-7, errors


def test_seq2seq_learns_to_reverse_and_its_decoder_is_reused_for_inference(tmp_path, rng):
    model, decoder, dense = seq2seq(units=16)
    model.compile(neuralab.keras.optimizers.Adam(0.02), "categorical_crossentropy")
    ids = rng.integers(1, 5, (256, 3))
    enc = np.eye(5, dtype="float32")[ids]
    target = np.eye(5, dtype="float32")[ids[:, :-3:-1]]  # the last two, reversed
    dec = np.concatenate([np.eye(5, dtype="float32")[np.zeros((256, 1), int)], target[:, :-1]], 1)
    history = model.fit([enc, dec], target, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    # Keras' inference decoder: the trained decoder layer called again on state Inputs
    step_in, h_in, c_in = Input((None, 5)), Input((16,)), Input((16,))
    seq, h, c = decoder(step_in, initial_state=[h_in, c_in])
    step_model = Model([step_in, h_in, c_in], [dense(seq), h, c])
    encoder = Model(model.inputs[0], model.get_layer("encoder").output[1:])
    h0, c0 = encoder.predict(enc[:8], verbose=0)
    probs, _, _ = step_model.predict([dec[:8], h0, c0], verbose=0)
    np.testing.assert_allclose(probs, model.predict([enc[:8], dec[:8]], verbose=0), rtol=1e-5)
    model.save(tmp_path / "seq2seq.zip")
    loaded = neuralab.load_model(tmp_path / "seq2seq.zip")
    np.testing.assert_array_equal(loaded.predict([enc, dec], verbose=0),
                                  model.predict([enc, dec], verbose=0))


def test_sequential_lstm_dense_fit_learns_a_toy_sequence_task(rng):
    x = rng.standard_normal((256, 8, 1)).astype("float32")
    y = x.sum(axis=1)  # the running sum: needs memory across steps
    model = Sequential([Input((8, 1)), layers.LSTM(8), layers.Dense(1)])
    model.compile(neuralab.keras.optimizers.Adam(0.02), "mse")
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.3 * losses[0], losses


def test_save_and_load_round_trip_keeps_config_and_predictions(tmp_path, rng):
    model = Sequential([
        Input((T, D)),
        layers.Bidirectional(layers.GRU(4, return_sequences=True, reset_after=False),
                             merge_mode="sum"),
        layers.TimeDistributed(layers.Dense(3, activation="relu")),
        layers.SimpleRNN(3, return_sequences=True, go_backwards=True),
        layers.LSTM(2, unit_forget_bias=False),
    ])
    x = rng.standard_normal((5, T, D)).astype("float32")
    path = tmp_path / "rnn.zip"
    model.save(path)
    loaded = neuralab.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(model.layers, loaded.layers):
        assert a.get_config() == b.get_config()


def test_functional_model_with_states_saves_and_loads(tmp_path, rng):
    inp = Input((T, D))
    out, h = layers.GRU(3, return_state=True)(inp)
    model = Model(inp, [out, layers.Dense(2)(h)])
    x = rng.standard_normal((4, T, D)).astype("float32")
    model.save(tmp_path / "states.zip")
    loaded = neuralab.load_model(tmp_path / "states.zip")
    for a, b in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda: layers.SimpleRNN(3, activation="relu", return_state=True),
    lambda: layers.LSTM(3, go_backwards=True, unit_forget_bias=False, kernel_regularizer="l2"),
    lambda: layers.GRU(3, reset_after=False, recurrent_initializer="glorot_uniform", dropout=0.1,
                       recurrent_dropout=0.2, seed=3),
    lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="ave"),
    lambda: layers.TimeDistributed(layers.Dense(2)),
])
def test_get_config_round_trips(make):
    layer = make()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


# -- errors -----------------------------------------------------------------------------------
def test_initial_states_of_the_wrong_number_or_shape_are_refused(rng):
    layer = layers.LSTM(2)
    x = rng.standard_normal((4, 5, 3))
    with pytest.raises(ValueError, match=r"2 initial state\(s\) \['h', 'c'\] of shape \(N, 2\)"):
        layer(x, initial_state=[np.zeros((4, 2))])
    with pytest.raises(ValueError, match="initial state"):
        layer(Input((5, 3)), initial_state=[Input((3,)), Input((2,))])
    with pytest.raises(ValueError, match="batch sizes"):
        layer(x, initial_state=[np.zeros((3, 2)), np.zeros((3, 2))])


def test_inputs_that_are_not_sequences_are_refused_with_the_expected_shape():
    layer = layers.LSTM(2)
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        layer(np.zeros((4, 3)))
    layer(np.zeros((4, 5, 3)))
    layer(np.zeros((2, 9, 3)))  # any length once built
    with pytest.raises(ValueError, match=r"expected input of shape \(N, T, 3\)"):
        layer(np.zeros((4, 5, 2)))


def test_keras_config_entries_with_default_values_are_accepted():
    layer = layers.LSTM(2, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                        implementation=2, use_cudnn="auto", zero_output_for_mask=False,
                        time_major=False, stateful=False)
    assert layer.get_config()["stateful"] is False
    with pytest.raises(ValueError, match="constraints"):
        layers.GRU(2, kernel_constraint="max_norm")
    with pytest.raises(ValueError, match="time_major"):
        layers.SimpleRNN(2, time_major=True)


def test_tensor_calls_run_the_hand_written_backward_and_refuse_states(float64, rng):
    layer = built(layers.GRU(H, return_sequences=True), rng)
    x = rng.standard_normal((N, T, D))
    xt = neuralab.tensor.Tensor(x.copy(), requires_grad=True)
    dout = rng.standard_normal((N, T, H))
    layer(xt).backward(dout)
    twin = built(layers.GRU(H, return_sequences=True), rng)
    twin.set_weights(layer.get_weights())
    twin.forward(x)
    np.testing.assert_allclose(xt.grad, twin.backward(dout), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="return_state"):
        layers.LSTM(2, return_state=True)(neuralab.tensor.Tensor(x))


def test_unsupported_options_are_refused():
    with pytest.raises(ValueError, match=r"recurrent_dropout must be in \[0, 1\)"):
        layers.LSTM(2, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match="stateful"):
        layers.GRU(2, stateful=True)
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer"):
        layers.Bidirectional(layers.Dense(2))
