"""Keras-style subclassing, issue 13: layers with ``add_weight`` + ``call``, ``add_loss``,
custom metrics (``add_variable``), custom losses (functions and ``Loss.call``) and
subclassed models, as in the keras.io guides "Making new layers and models via
subclassing" and "Training & evaluation with the built-in methods".

Numbers are checked against independent computations: NumPy written out by hand,
PyTorch autograd in float64, or centred differences (``neuralab.gradcheck``).
"""

from __future__ import annotations

import numpy as np
import pytest

import neuralab
from neuralab import keras, ops
from neuralab.keras import Input, Model, layers

from .conftest import require_torch

TOL = 1e-10


def close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def tt(torch, array, grad=False):
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64,
                        requires_grad=grad)


# -- layers from the guides -----------------------------------------------------------------
class Linear(keras.layers.Layer):
    """keras.io: the first example, weights made in __init__ from input_dim."""

    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal",
                                 trainable=True)
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class LazyLinear(keras.layers.Layer):
    """keras.io: weights made in build(input_shape)."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True, name="kernel")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True, name="bias")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class MyDense(keras.layers.Layer):
    """Dense rewritten as a Layer subclass: add_weight + ops.matmul (+ optional tanh)."""

    def __init__(self, units, use_tanh=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.use_tanh = units, use_tanh

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        y = ops.matmul(inputs, self.kernel) + self.bias
        return ops.tanh(y) if self.use_tanh else y

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_tanh": self.use_tanh}


class ActivityRegularizationLayer(keras.layers.Layer):
    """keras.io: a layer that adds rate * sum(inputs) to the loss."""

    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(inputs))
        return inputs


class OuterLayer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(inputs)


class BinaryTruePositives(keras.metrics.Metric):
    """keras.io (Metric API): counts the true positives (threshold 0.5)."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros",
                                                name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "bool")
        y_pred = ops.greater(y_pred, 0.5)
        values = ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True))
        values = ops.cast(values, self.dtype)
        if sample_weight is not None:
            values = ops.multiply(values, ops.cast(sample_weight, self.dtype))
        self.true_positives.assign(self.true_positives + ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0)


def my_loss(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


class CustomMSE(keras.losses.Loss):
    """keras.io: mse plus a pull of the predictions towards 0.5."""

    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


class MLP(keras.Model):
    """A subclassed model made of call-only layers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = MyDense(6, use_tanh=True)
        self.out = MyDense(2)

    def call(self, x, training=None):
        return self.out(self.hidden(x))


def torch_two_layer(torch, model, x, hidden, out):
    """torch leaves (k1, b1, k2, b2) from two layers' weights and the forward tanh MLP."""
    (k1, b1), (k2, b2) = hidden.get_weights(), out.get_weights()
    params = [tt(torch, w, grad=True) for w in (k1, b1, k2, b2)]
    tk1, tb1, tk2, tb2 = params
    return params, ((tt(torch, x) @ tk1 + tb1).tanh() @ tk2 + tb2)


def t_mse(y, p):
    return ((y - p) ** 2).mean(dim=-1).mean()


# -- 1. Dense as a Layer subclass -----------------------------------------------------------
def test_dense_as_layer_subclass_equals_builtin_dense_and_torch(float64, rng):
    torch = require_torch()
    inp = Input(shape=(5,))
    custom = Model(inp, MyDense(2, name="top")(MyDense(6, use_tanh=True, name="mid")(inp)))
    inp2 = Input(shape=(5,))
    builtin = Model(inp2, layers.Dense(2)(layers.Dense(6, activation="tanh")(inp2)))
    builtin.set_weights(custom.get_weights())
    assert all(w.dtype == np.float64 for w in custom.get_weights())
    for m in (custom, builtin):
        m.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((12, 5)), rng.standard_normal((12, 2))

    loss_c, grads_c = custom.compute_gradients(x, y)
    loss_b, grads_b = builtin.compute_gradients(x, y)
    close(loss_c, loss_b)
    for gc, gb in zip(grads_c, grads_b):
        close(gc, gb)

    params, pred = torch_two_layer(torch, custom, x, custom.get_layer("mid"),
                                   custom.get_layer("top"))
    t_loss = t_mse(tt(torch, y), pred)
    t_loss.backward()
    close(loss_c, t_loss.item())
    for g, p in zip(grads_c, params):
        close(g, p.grad.numpy())


def test_subclassed_model_gradients_and_fit_match_torch_sgd(float64, rng):
    torch = require_torch()
    model = MLP()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    x, y = rng.standard_normal((24, 5)), rng.standard_normal((24, 2))
    loss, grads = model.compute_gradients(x, y)
    assert len(grads) == len(model.get_weights()) == 4

    params, pred = torch_two_layer(torch, model, x, model.hidden, model.out)
    t_loss = t_mse(tt(torch, y), pred)
    t_loss.backward()
    close(loss, t_loss.item())
    for g, p in zip(grads, params):
        close(g, p.grad.numpy())

    # fit: fixed batches of 8, no shuffle, plain SGD, 5 epochs
    params, _ = torch_two_layer(torch, model, x, model.hidden, model.out)
    history = model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0)
    opt = torch.optim.SGD(params, lr=0.05)
    expected = []
    for _ in range(5):
        values = []
        for i in range(0, 24, 8):
            opt.zero_grad()
            k1, b1, k2, b2 = params
            p = (tt(torch, x[i:i + 8]) @ k1 + b1).tanh() @ k2 + b2
            batch_loss = t_mse(tt(torch, y[i:i + 8]), p)
            batch_loss.backward()
            opt.step()
            values.append(batch_loss.item())
        expected.append(np.mean(values))
    close(history.history["loss"], expected, 1e-8)
    for w, p in zip(model.get_weights(), params):
        close(w, p.detach().numpy(), 1e-8)


# -- 2. the guides' examples ----------------------------------------------------------------
def test_guide_linear_layer_computes_and_trains(float64, rng):
    torch = require_torch()
    x = rng.standard_normal((16, 2))
    linear = Linear(4, 2)
    assert [w.shape for w in linear.weights] == [(2, 4), (4,)]
    assert linear.weights[0] is linear.w and linear.weights[1] is linear.b
    w, b = linear.get_weights()
    close(linear(x), x @ w + b)

    lazy = LazyLinear(3)
    assert not lazy.weights
    out = lazy(x)
    assert [v.shape for v in lazy.trainable_weights] == [(2, 3), (3,)]
    close(out, x @ lazy.w.data + lazy.b.data)

    inp = Input(shape=(2,))
    model = Model(inp, LazyLinear(1)(Linear(4, 2)(inp)))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    y = rng.standard_normal((16, 1))
    k1, b1, k2, b2 = [tt(torch, w, grad=True) for w in model.get_weights()]
    history = model.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
    opt = torch.optim.SGD([k1, b1, k2, b2], lr=0.1)
    expected = []
    for _ in range(5):
        opt.zero_grad()
        loss = t_mse(tt(torch, y), (tt(torch, x) @ k1 + b1) @ k2 + b2)
        loss.backward()
        opt.step()
        expected.append(loss.item())
    close(history.history["loss"], expected, 1e-8)
    assert expected[-1] < expected[0]


def test_guide_add_loss_is_reset_at_each_call():
    layer = OuterLayer()
    assert len(layer.losses) == 0
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1  # not accumulated across calls


@pytest.mark.parametrize("kind", ["functional", "subclassed"])
def test_add_loss_term_is_in_training_loss_and_gradients(float64, rng, kind):
    torch = require_torch()
    rate = 0.01
    if kind == "functional":
        inp = Input(shape=(3,))
        h = layers.Dense(4, activation="tanh", name="hidden")(inp)
        h = ActivityRegularizationLayer(rate)(h)
        model = Model(inp, layers.Dense(1, name="out")(h))
        hidden, out = model.get_layer("hidden"), model.get_layer("out")
    else:
        class Regularized(keras.Model):
            def __init__(self):
                super().__init__()
                self.hidden = layers.Dense(4, activation="tanh")
                self.reg = ActivityRegularizationLayer(rate)
                self.out = layers.Dense(1)

            def call(self, x):
                return self.out(self.reg(self.hidden(x)))

        model = Regularized()
        model.build((None, 3))
        hidden, out = model.hidden, model.out
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 1))

    (k1, b1), (k2, b2) = hidden.get_weights(), out.get_weights()
    h = np.tanh(x @ k1 + b1)
    data_loss = np.mean((y - (h @ k2 + b2)) ** 2)
    loss, grads = model.compute_gradients(x, y)
    close(loss, data_loss + rate * h.sum())

    params = [tt(torch, w, grad=True) for w in (k1, b1, k2, b2)]
    tk1, tb1, tk2, tb2 = params
    th = (tt(torch, x) @ tk1 + tb1).tanh()
    t_loss = t_mse(tt(torch, y), th @ tk2 + tb2) + rate * th.sum()
    t_loss.backward()
    close(loss, t_loss.item())
    by_param = {p.name: g for p, g in zip(model.weights, grads)}
    for p, tp in zip(hidden.weights + out.weights, params):
        close(by_param[p.name], tp.grad.numpy())

    history = model.fit(x, y, epochs=1, batch_size=10, shuffle=False, verbose=0)
    close(history.history["loss"][0], data_loss + rate * h.sum())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(
        np.mean((y - model.predict(x, verbose=0)) ** 2)
        + rate * np.tanh(x @ hidden.get_weights()[0] + hidden.get_weights()[1]).sum(), rel=1e-10)


def test_custom_true_positives_metric_logs_numpy_count(rng):
    x = rng.standard_normal((40, 3)).astype("float32")
    y = (rng.random((40, 1)) < 0.5).astype("float32")
    inp = Input(shape=(3,))
    model = Model(inp, layers.Dense(1, activation="sigmoid")(layers.Dense(4, activation="relu")(inp)))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy",
                  metrics=[BinaryTruePositives()])

    def count():
        return float(np.sum((model.predict(x, verbose=0) > 0.5) & (y == 1)))

    metric = BinaryTruePositives()
    metric.update_state(y, model.predict(x, verbose=0))
    assert float(metric.result()) == count()
    metric.reset_state()
    assert float(metric.result()) == 0.0

    # learning rate 0: the weights stay, so every epoch counts the same positives, summed
    # over its 4 batches and reset between epochs
    history = model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    assert count() > 0
    assert history.history["binary_true_positives"] == [count(), count()]

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="binary_crossentropy",
                  metrics=[BinaryTruePositives()])
    before = count()
    history = model.fit(x, y, epochs=1, batch_size=40, shuffle=False, verbose=0)
    assert history.history["binary_true_positives"] == [before]  # counted before the step
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["binary_true_positives"] == count()


@pytest.mark.parametrize("loss", [my_loss, CustomMSE(regularization_factor=0.0)],
                         ids=["function", "Loss_subclass"])
def test_custom_loss_equals_builtin_mse_and_torch(float64, rng, loss):
    torch = require_torch()
    model = MLP()
    model.build((None, 5))
    ref = MLP()
    ref.build((None, 5))
    ref.set_weights(model.get_weights())
    model.compile(optimizer="sgd", loss=loss)
    ref.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((9, 5)), rng.standard_normal((9, 2))
    value, grads = model.compute_gradients(x, y)
    ref_value, ref_grads = ref.compute_gradients(x, y)
    close(value, ref_value)
    for g, r in zip(grads, ref_grads):
        close(g, r)

    params, pred = torch_two_layer(torch, model, x, model.hidden, model.out)
    t_loss = t_mse(tt(torch, y), pred)
    t_loss.backward()
    close(value, t_loss.item())
    for g, p in zip(grads, params):
        close(g, p.grad.numpy())


def test_loss_subclass_with_regularization_matches_hand_written_and_torch(float64, rng):
    torch = require_torch()
    loss = CustomMSE(regularization_factor=0.1)
    y, p = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    expected = np.mean(np.mean((y - p) ** 2, axis=-1) + 0.1 * np.mean((0.5 - p) ** 2, axis=-1))
    close(loss(y, p), expected)

    model = MLP()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=loss)
    x, y = rng.standard_normal((8, 5)), rng.standard_normal((8, 2))
    value, grads = model.compute_gradients(x, y)
    params, pred = torch_two_layer(torch, model, x, model.hidden, model.out)
    ty = tt(torch, y)
    t_loss = (((ty - pred) ** 2).mean(-1) + 0.1 * ((0.5 - pred) ** 2).mean(-1)).mean()
    t_loss.backward()
    close(value, t_loss.item())
    for g, p in zip(grads, params):
        close(g, p.grad.numpy())
    history = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(t_loss.item(), rel=1e-10)
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- 4. numerical gradient check of a subclassed model --------------------------------------
def test_check_model_on_subclassed_model_with_call_only_layer(float64, rng):
    model = MLP()
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((6, 5)), rng.standard_normal((6, 2))
    model.build((None, 5))
    errors = neuralab.gradcheck.check_model(model, x, y)
    assert len(errors) == 4
    assert max(errors.values()) < 1e-6, errors


# -- 5. a layer with neither call nor forward -----------------------------------------------
class NoMaths(keras.layers.Layer):
    pass


def test_layer_without_call_or_forward_raises_not_implemented(rng):
    x = rng.standard_normal((2, 3)).astype("float32")
    with pytest.raises(NotImplementedError, match="call"):
        NoMaths()(x)
    with pytest.raises(NotImplementedError, match="call"):
        NoMaths()(Input(shape=(3,)))


# -- more of the guide: composition, sharing, saving ----------------------------------------
class MLPBlock(keras.layers.Layer):
    """keras.io: layers are recursively composable."""

    def __init__(self):
        super().__init__()
        self.linear_1 = LazyLinear(32)
        self.linear_2 = LazyLinear(32)
        self.linear_3 = LazyLinear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = ops.relu(x)
        x = self.linear_2(x)
        x = ops.relu(x)
        return self.linear_3(x)


def test_nested_layers_track_weights_and_compute(rng):
    mlp = MLPBlock()
    y = mlp(ops.ones(shape=(3, 64)))
    assert tuple(y.shape) == (3, 1)
    assert len(mlp.weights) == 6 and len(mlp.trainable_weights) == 6
    x = rng.standard_normal((3, 64)).astype("float32")
    w = [v.data for v in mlp.weights]
    h = np.maximum(x @ w[0] + w[1], 0)
    h = np.maximum(h @ w[2] + w[3], 0)
    np.testing.assert_allclose(mlp(x), h @ w[4] + w[5], rtol=1e-5, atol=1e-5)


def test_call_only_layer_shared_by_two_graph_nodes(float64, rng):
    torch = require_torch()
    left, right = Input(shape=(4,)), Input(shape=(4,))
    shared = MyDense(3, use_tanh=True, name="shared")
    out = layers.Dense(1, name="score")(layers.Add()([shared(left), shared(right)]))
    model = Model([left, right], out)
    assert len(model.get_weights()) == 4
    model.compile(optimizer="sgd", loss="mse")
    xl, xr, y = (rng.standard_normal((8, 4)), rng.standard_normal((8, 4)),
                 rng.standard_normal((8, 1)))
    loss, grads = model.compute_gradients([xl, xr], y)

    k, b, k2, b2 = [tt(torch, w, grad=True) for w in
                    shared.get_weights() + model.get_layer("score").get_weights()]
    s = (tt(torch, xl) @ k + b).tanh() + (tt(torch, xr) @ k + b).tanh()
    t_loss = t_mse(tt(torch, y), s @ k2 + b2)
    t_loss.backward()
    close(loss, t_loss.item())
    by_name = {p.name: g for p, g in zip(model.weights, grads)}
    for p, tp in zip(shared.weights + model.get_layer("score").weights, (k, b, k2, b2)):
        close(by_name[p.name], tp.grad.numpy())


class Siamese(keras.Model):
    def __init__(self):
        super().__init__()
        self.encode = layers.Dense(3, activation="tanh")
        self.head = layers.Dense(1)

    def call(self, inputs):
        a, b = inputs
        return self.head(ops.abs(self.encode(a) - self.encode(b)) + self.encode(a) * 0.5)


def test_builtin_layer_shared_in_subclassed_call(float64, rng):
    torch = require_torch()
    model = Siamese()
    model.compile(optimizer="sgd", loss="mse")
    xa, xb, y = (rng.standard_normal((8, 4)), rng.standard_normal((8, 4)),
                 rng.standard_normal((8, 1)))
    loss, grads = model.compute_gradients([xa, xb], y)
    assert len(grads) == 4
    k, b, k2, b2 = [tt(torch, w, grad=True) for w in model.get_weights()]
    ea, eb = (tt(torch, xa) @ k + b).tanh(), (tt(torch, xb) @ k + b).tanh()
    t_loss = t_mse(tt(torch, y), ((ea - eb).abs() + ea * 0.5) @ k2 + b2)
    t_loss.backward()
    close(loss, t_loss.item())
    for g, p in zip(grads, (k, b, k2, b2)):
        close(g, p.grad.numpy())
    pred = model.predict([xa, xb], verbose=0)
    close(pred, (((ea - eb).abs() + ea * 0.5) @ k2 + b2).detach().numpy())


def test_save_and_load_graph_with_custom_layer(tmp_path, rng):
    inp = Input(shape=(4,))
    h = MyDense(5, use_tanh=True, name="mine")(inp)
    out = layers.Dense(2)(h + layers.Dense(5)(h))
    model = Model(inp, out)
    x = rng.standard_normal((6, 4)).astype("float32")
    model.save(tmp_path / "custom.keras")
    loaded = neuralab.load_model(tmp_path / "custom.keras", custom_objects={"MyDense": MyDense})
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_add_loss_in_subclassed_model_call(float64, rng):
    torch = require_torch()

    class Penalized(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            y = self.dense(x)
            self.add_loss(0.1 * ops.sum(ops.square(y)))
            return y

    model = Penalized()
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    loss, grads = model.compute_gradients(x, y)
    assert len(model.losses) == 1
    k, b = [tt(torch, w, grad=True) for w in model.get_weights()]
    p = tt(torch, x) @ k + b
    t_loss = t_mse(tt(torch, y), p) + 0.1 * (p ** 2).sum()
    t_loss.backward()
    close(loss, t_loss.item())
    close(grads[0], k.grad.numpy())
    close(grads[1], b.grad.numpy())


def test_sequential_with_call_only_layer_trains_like_torch(float64, rng):
    torch = require_torch()
    model = keras.Sequential([Input(shape=(5,)), MyDense(6, use_tanh=True), MyDense(2)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    x, y = rng.standard_normal((16, 5)), rng.standard_normal((16, 2))
    params = [tt(torch, w, grad=True) for w in model.get_weights()]
    history = model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0)
    opt = torch.optim.SGD(params, lr=0.05)
    expected = []
    for _ in range(4):
        opt.zero_grad()
        k1, b1, k2, b2 = params
        loss = t_mse(tt(torch, y), (tt(torch, x) @ k1 + b1).tanh() @ k2 + b2)
        loss.backward()
        opt.step()
        expected.append(loss.item())
    close(history.history["loss"], expected, 1e-8)


def test_subclassed_multi_output_predict_returns_list(float64, rng):
    class TwoHeads(keras.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = layers.Dense(2), layers.Dense(1)

        def call(self, x):
            return [self.a(x), self.b(x)]

    model = TwoHeads()
    x = rng.standard_normal((5, 3))
    out = model.predict(x, verbose=0)
    assert isinstance(out, list) and [o.shape for o in out] == [(5, 2), (5, 1)]
    ka, ba, kb, bb = model.get_weights()
    close(out[0], x @ ka + ba)
    close(out[1], x @ kb + bb)


def test_keras_namespace_exposes_ops():
    """Keras code says ``from keras import ops``; the port says ``from neuralab.keras
    import ops``."""
    from neuralab.keras import ops as keras_ops
    assert keras_ops is ops
