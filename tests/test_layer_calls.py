"""A layer called twice in one pass keeps each call's cache apart (shared layers).

The executor of a graph model runs, per call (graph node) of a layer::

    layer.enter_call(state); y = layer.forward(x, training); layer.exit_call(state)
    ...
    layer.resume_call(state); dx = layer.backward(dout)

Every built-in layer must then give, for two interleaved calls, exactly what two
independent single-call runs on copies of the layer give: the same outputs, the same dx,
and parameter gradients that add up.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest

import neuralab.layers as L
from neuralab import gradcheck as gc
from neuralab.layers.base import LAYERS, CallState, Layer

N1, N2 = 3, 2  # two calls with different batch sizes: shape caches must differ too


def floats(shape):
    return lambda rng, n: rng.standard_normal((n,) + shape)


def ids(shape, vocab):
    return lambda rng, n: rng.integers(0, vocab, (n,) + shape)


def floats_list(*shapes):
    return lambda rng, n: [rng.standard_normal((n,) + s) for s in shapes]


# (id, layer factory, input maker, training, backward through backward_logits)
CASES = [
    ("dense_tanh", lambda: L.Dense(4, activation="tanh"), floats((5,)), True, False),
    ("dense_3d_linear", lambda: L.Dense(3), floats((2, 5)), True, False),
    ("dense_softmax_logits", lambda: L.Dense(4, activation="softmax"), floats((5,)), True, True),
    ("activation_sigmoid", lambda: L.Activation("sigmoid"), floats((6,)), True, False),
    ("activation_softmax_logits", lambda: L.Activation("softmax"), floats((6,)), True, True),
    ("relu", L.ReLU, floats((6,)), True, False),
    ("leaky_relu", lambda: L.LeakyReLU(0.2), floats((6,)), True, False),
    ("elu", L.ELU, floats((2, 3)), True, False),
    ("softmax", L.Softmax, floats((6,)), True, False),
    ("conv_shift_c_lt_f", lambda: L.Conv2D(3, 3, activation="relu"), floats((6, 6, 2)), True,
     False),
    ("conv_shift_c_ge_f_same", lambda: L.Conv2D(2, 3, padding="same", activation="tanh"),
     floats((5, 5, 4)), True, False),
    ("conv_shift_c_ge_f_linear", lambda: L.Conv2D(2, 3, padding="same"), floats((5, 5, 4)),
     True, False),
    ("conv_dilated", lambda: L.Conv2D(3, 2, dilation_rate=2), floats((6, 6, 2)), True, False),
    ("conv_strided", lambda: L.Conv2D(3, 3, strides=2, padding="same"), floats((7, 7, 2)), True,
     False),
    ("conv_sigmoid_logits", lambda: L.Conv2D(2, 3, activation="sigmoid"), floats((5, 5, 3)),
     True, True),
    ("conv_strided_logits", lambda: L.Conv2D(2, 3, strides=2, activation="sigmoid"),
     floats((7, 7, 3)), True, True),
    ("max_pool", lambda: L.MaxPooling2D(2), floats((4, 6, 3)), True, False),
    ("max_pool_overlap_same", lambda: L.MaxPooling2D(3, strides=2, padding="same"),
     floats((5, 5, 2)), True, False),
    ("avg_pool", lambda: L.AveragePooling2D(2), floats((4, 6, 3)), True, False),
    ("avg_pool_same", lambda: L.AveragePooling2D(3, strides=1, padding="same"),
     floats((4, 5, 2)), True, False),
    ("global_avg_pool", L.GlobalAveragePooling2D, floats((3, 4, 2)), True, False),
    ("global_max_pool_keepdims", lambda: L.GlobalMaxPooling2D(keepdims=True), floats((3, 4, 2)),
     True, False),
    ("batchnorm_train", L.BatchNormalization, floats((4,)), True, False),
    ("batchnorm_train_images", lambda: L.BatchNormalization(momentum=0.5), floats((3, 3, 2)),
     True, False),
    ("batchnorm_inference", L.BatchNormalization, floats((4,)), False, False),
    ("dropout_train", lambda: L.Dropout(0.4, seed=3), floats((8,)), True, False),
    ("dropout_inference", lambda: L.Dropout(0.4, seed=3), floats((8,)), False, False),
    ("spatial_dropout_train", lambda: L.SpatialDropout2D(0.5, seed=5), floats((3, 3, 4)), True,
     False),
    ("embedding", lambda: L.Embedding(10, 3), ids((4,), 10), True, False),
    ("flatten", L.Flatten, floats((2, 3, 2)), True, False),
    ("reshape", lambda: L.Reshape((3, 4)), floats((12,)), True, False),
    ("input_layer", lambda: L.InputLayer(input_shape=(5,)), floats((5,)), True, False),
    ("conv2d_transpose_strided_same", lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same",
                                                                activation="tanh"),
     floats((3, 2, 3)), True, False),
    ("conv2d_transpose_logits", lambda: L.Conv2DTranspose(2, 2, activation="sigmoid"),
     floats((3, 3, 2)), True, True),
    ("normalization_given", lambda: L.Normalization(mean=[1.0, -2.0, 0.5],
                                                   variance=[4.0, 1.0, 0.25]),
     floats((3,)), True, False),
    ("conv1d_causal_dilated", lambda: L.Conv1D(3, 3, padding="causal", dilation_rate=2,
                                               activation="tanh"), floats((9, 2)), True, False),
    ("conv1d_strided_same", lambda: L.Conv1D(2, 3, strides=2, padding="same"), floats((8, 4)),
     True, False),
    ("conv1d_logits", lambda: L.Conv1D(2, 3, activation="sigmoid"), floats((7, 3)), True, True),
    ("max_pool_1d", lambda: L.MaxPooling1D(3, strides=2, padding="same"), floats((7, 2)), True,
     False),
    ("avg_pool_1d", lambda: L.AveragePooling1D(2), floats((6, 3)), True, False),
    ("global_max_pool_1d", L.GlobalMaxPooling1D, floats((5, 3)), True, False),
    ("global_avg_pool_1d_keepdims", lambda: L.GlobalAveragePooling1D(keepdims=True),
     floats((5, 3)), True, False),
    ("zero_padding_2d", lambda: L.ZeroPadding2D(((1, 0), (2, 1))), floats((3, 2, 2)), True,
     False),
    ("upsampling_2d", lambda: L.UpSampling2D((2, 3)), floats((2, 3, 2)), True, False),
    ("rescaling", lambda: L.Rescaling(0.5, offset=-1.0), floats((4,)), True, False),
    # no step equals the mask value: a centred difference at a masked step would unmask it
    ("masking", lambda: L.Masking(mask_value=0.0), floats((5, 3)), True, False),
    ("layer_norm", L.LayerNormalization, floats((5,)), True, False),
    ("layer_norm_images", lambda: L.LayerNormalization(axis=[1, 2]), floats((3, 2, 2)), True,
     False),
    ("add_broadcast", L.Add, floats_list((3, 4), (4,), (3, 1)), True, False),
    ("subtract", L.Subtract, floats_list((5,), (5,)), True, False),
    ("multiply", L.Multiply, floats_list((2, 3), (3,), (2, 3)), True, False),
    ("average", L.Average, floats_list((4,), (4,)), True, False),
    ("maximum", L.Maximum, floats_list((3, 4), (4,), (3, 1)), True, False),
    ("minimum", L.Minimum, floats_list((5,), (5,)), True, False),
    ("concatenate", lambda: L.Concatenate(axis=1), floats_list((2, 3), (1, 3)), True, False),
    ("dot_normalize", lambda: L.Dot(axes=(1, 2), normalize=True), floats_list((3, 4), (2, 3)),
     True, False),
    ("simple_rnn_sequences", lambda: L.SimpleRNN(3, return_sequences=True), floats((4, 2)), True,
     False),
    ("lstm_backwards_dropout", lambda: L.LSTM(3, go_backwards=True, dropout=0.3,
                                              recurrent_dropout=0.3), floats((4, 2)), True, False),
    ("gru_sequences", lambda: L.GRU(3, return_sequences=True), floats((4, 2)), True, False),
    ("bidirectional_lstm", lambda: L.Bidirectional(L.LSTM(2, return_sequences=True)),
     floats((4, 2)), True, False),
    ("time_distributed_dense", lambda: L.TimeDistributed(L.Dense(3, activation="tanh")),
     floats((4, 2)), True, False),
]
CASES_BY_ID = {case[0]: case for case in CASES}


def _shapes(x):
    return [(None,) + a.shape[1:] for a in x] if isinstance(x, list) else (None,) + x.shape[1:]


def _backward(layer, dout, logits):
    return layer.backward_logits(dout) if logits else layer.backward(dout)


def _copy(value):
    if value is None:
        return None
    if isinstance(value, list):
        return [np.array(v) for v in value]
    return np.array(value)


def _assert_same(actual, expected, what):
    if expected is None:
        assert actual is None, what
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), what
        for k, (a, e) in enumerate(zip(actual, expected)):
            _assert_same(a, e, f"{what}[{k}]")
        return
    assert actual.shape == expected.shape, what
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14, err_msg=what)


def _douts(rng, y1, y2):
    return rng.standard_normal(np.shape(y1)), rng.standard_normal(np.shape(y2))


def _single_run(layer, x, dout, training, logits):
    y = _copy(layer.forward(x, training=training))
    dx = _copy(_backward(layer, dout, logits))
    return y, dx


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_two_calls_in_one_pass_equal_two_independent_calls(float64, rng, case):
    _, make, make_x, training, logits = case
    layer = make()
    x1, x2 = make_x(rng, N1), make_x(rng, N2)
    layer.build(_shapes(x1))
    layer.keep_logits = logits
    layer.set_buffer_reuse(True)
    first_copy = copy.deepcopy(layer)

    s1, s2 = CallState(), CallState()
    layer.enter_call(s1)
    y1 = layer.forward(x1, training=training)
    layer.exit_call(s1)
    # the second call sees the layer as the first call left it (moving statistics,
    # the dropout generator): so does its reference copy
    second_copy = copy.deepcopy(layer)
    layer.enter_call(s2)
    y2 = layer.forward(x2, training=training)
    layer.exit_call(s2)
    d1, d2 = _douts(rng, y1, y2)
    layer.resume_call(s2)
    dx2 = _backward(layer, d2, logits)
    layer.resume_call(s1)
    dx1 = _backward(layer, d1, logits)

    ref_y1, ref_dx1 = _single_run(first_copy, x1, d1, training, logits)
    ref_y2, ref_dx2 = _single_run(second_copy, x2, d2, training, logits)
    _assert_same(y1, ref_y1, "first call's output")
    _assert_same(y2, ref_y2, "second call's output")
    _assert_same(dx1, ref_dx1, "first call's dx")
    _assert_same(dx2, ref_dx2, "second call's dx")
    for p, p1, p2 in zip(layer.parameters(), first_copy.parameters(), second_copy.parameters()):
        if p.trainable:
            _assert_same(p.grad, p1.grad + p2.grad, f"gradient of {p.name}")
        else:  # moving statistics: updated once per call, as in Keras
            _assert_same(p.data, p2.data, f"value of {p.name}")


def _built_in_layer_classes():
    return {cls for cls in LAYERS.classes.values()
            if cls.__module__.startswith("neuralab.layers.") and not inspect.isabstract(cls)}


def test_every_built_in_layer_class_is_in_the_table(float64):
    # Lambda has no hand-written backward: its gradient comes from the ops it records
    covered = {type(case[1]()) for case in CASES} | {L.Lambda}
    missing = sorted(cls.__name__ for cls in _built_in_layer_classes() - covered)
    assert not missing, f"add these layers to CASES: {missing}"


def _undeclared_call_state(layer: Layer, x, training) -> set[str]:
    """Attributes that forward (re)binds on the instance without declaring them in
    ``_cache_attrs``: per-call state that a second call would overwrite."""
    before = dict(vars(layer))
    layer.forward(x, training=training)
    changed = {k for k, v in vars(layer).items() if k not in before or before[k] is not v}
    return changed - set(layer._cache_attrs)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_keeps_per_call_state_only_in_declared_attributes(float64, rng, case):
    _, make, make_x, training, logits = case
    layer = make()
    x = make_x(rng, N1)
    layer.build(_shapes(x))
    layer.keep_logits = logits
    assert not _undeclared_call_state(layer, x, training)


# -- numerical gradient of a layer used twice ----------------------------------------------
# (smooth or piecewise-linear layers: with tanh, tiny dx entries sit at the centred
# differences' truncation error)
TWICE = ["dense_tanh", "conv_shift_c_lt_f", "conv_shift_c_ge_f_linear", "conv_strided",
         "max_pool_overlap_same", "avg_pool_same", "global_max_pool_keepdims", "batchnorm_train",
         "dropout_train", "embedding", "reshape", "multiply", "maximum", "concatenate",
         "dot_normalize", "conv1d_causal_dilated", "max_pool_1d", "global_max_pool_1d",
         "zero_padding_2d", "upsampling_2d", "layer_norm_images", "simple_rnn_sequences",
         "lstm_backwards_dropout", "gru_sequences", "bidirectional_lstm", "time_distributed_dense"]


@pytest.mark.parametrize("name", TWICE)
def test_layer_used_twice_matches_centred_differences(float64, rng, name):
    """L = sum(w1 * f(x1)) + sum(w2 * f(x2)) with one layer f called twice."""
    _, make, make_x, training, _ = CASES_BY_ID[name]
    layer = make()
    x1, x2 = make_x(rng, N1), make_x(rng, N2)
    layer.build(_shapes(x1))
    layer.set_buffer_reuse(True)
    generator = getattr(layer, "rng", None)
    noise = None if generator is None else generator.bit_generator.state
    s1, s2 = CallState(), CallState()

    def forward_both():
        if noise is not None:
            generator.bit_generator.state = noise
        ys = []
        for state, x in ((s1, x1), (s2, x2)):
            layer.enter_call(state)
            ys.append(layer.forward(x, training=training))
            layer.exit_call(state)
        return ys

    y1, y2 = forward_both()
    w1, w2 = _douts(rng, y1, y2)

    def loss():
        y1, y2 = forward_both()
        return float(np.sum(w1 * y1) + np.sum(w2 * y2))

    loss()
    layer.zero_grad()
    layer.resume_call(s1)
    dx1 = layer.backward(w1)
    layer.resume_call(s2)
    dx2 = layer.backward(w2)
    errors = {}
    for call, (x, dx) in enumerate(((x1, dx1), (x2, dx2)), start=1):
        xs, dxs = (x, dx) if isinstance(x, list) else ([x], [dx])
        for k, (xk, dxk) in enumerate(zip(xs, dxs)):
            if np.issubdtype(xk.dtype, np.floating):
                errors[f"call {call} x{k}"] = gc.rel_error(dxk, gc.numerical_gradient(loss, xk))
    analytic = {p.name: p.grad.copy() for p in layer.parameters() if p.trainable}
    for p in layer.parameters():
        if p.trainable:
            errors[p.name] = gc.rel_error(analytic[p.name], gc.numerical_gradient(loss, p.data))
    assert errors and max(errors.values()) <= 1e-7, errors
