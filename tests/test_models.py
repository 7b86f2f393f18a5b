"""Sequential: structure, summary, weights, training loop, save/load, determinism."""

import os
import tracemalloc

import numpy as np
import pytest

import neuralab as nl
from neuralab import gradcheck as gc
from neuralab.callbacks import Callback
from neuralab.datasets import make_lecture_synthetic
from neuralab.layers import BatchNormalization, Dense, Dropout, Flatten
from neuralab.training import TrainingDivergedWarning


def blobs(n=300, features=6, classes=3, seed=0):
    """Separable Gaussian clusters: a quick classification problem."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, features)) * 3
    labels = rng.integers(0, classes, n)
    x = centers[labels] + rng.standard_normal((n, features))
    return x.astype(np.float32), labels


def small_classifier(features=6, classes=3, hidden=16, lr=0.01):
    model = nl.Sequential([Dense(hidden, activation="relu", input_shape=(features,)),
                           Dense(classes, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


# --- structure and summary -------------------------------------------------------------------
@pytest.mark.parametrize("sizes, total", [((120, 256, 10), 33546), ((2, 4, 1), 17),
                                          ((5, 20, 3), 183)])
def test_parameter_counts_from_the_seeds(sizes, total):
    model = nl.Sequential([Dense(sizes[1], activation="sigmoid", input_shape=(sizes[0],)),
                           Dense(sizes[2], activation="softmax")])
    assert model.count_params() == total
    assert [layer.count_params() for layer in model.layers] == [
        sizes[1] * (sizes[0] + 1), sizes[2] * (sizes[1] + 1)]


def test_summary_prints_the_keras_table():
    model = nl.Sequential()
    model.add(Dense(256, activation="sigmoid", input_shape=(120,)))
    model.add(Dense(10, activation="softmax"))
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert text.splitlines()[0] == 'Model: "sequential"'
    header = [line for line in text.splitlines() if line.startswith("Layer (type)")][0]
    assert header.index("Output Shape") == 29 and header.index("Param #") == 55
    rows = [line.split() for line in text.splitlines() if "(Dense)" in line]
    assert rows == [["dense", "(Dense)", "(None,", "256)", "30976"],
                    ["dense_1", "(Dense)", "(None,", "10)", "2570"]]
    assert "Total params: 33,546 (131.04 KB)" in text
    assert "Trainable params: 33,546 (131.04 KB)" in text
    assert "Non-trainable params: 0 (0.00 Byte)" in text


def test_summary_counts_frozen_and_batchnorm_weights_as_non_trainable():
    model = nl.Sequential([Dense(4, input_shape=(3,)), BatchNormalization(), Dense(2)])
    model.layers[0].trainable = False
    text = []
    model.summary(print_fn=text.append)
    # frozen dense: 16, BN moving stats: 8, trainable: BN gamma/beta 8 + dense_1 10
    assert "Non-trainable params: 24 " in text[0] and "Trainable params: 18 " in text[0]


def test_layers_are_built_lazily_on_first_data():
    model = nl.Sequential([Dense(3), Dense(1)])
    assert not model.built
    with pytest.raises(ValueError, match="not built"):
        model.count_params()
    model.predict(np.zeros((2, 5)))
    assert model.built and model.count_params() == 5 * 3 + 3 + 4


def test_input_tensor_as_first_element_and_names():
    model = nl.Sequential([nl.Input(shape=(784,)), Dense(64, activation="relu"),
                           Dense(5, activation="softmax")])
    assert model.count_params() == 50565  # mlp1 of the EE449 homework
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert model.get_layer("dense_1") is model.layers[1]
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("hidden")
    nl.clear_session()
    assert Dense(2).name == "dense"


def test_get_and_set_weights_use_keras_layout():
    model = nl.Sequential([Dense(3, input_shape=(2,)), Dense(1)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(2, 3), (3,), (3, 1), (1,)]
    new = [np.full(s, i, dtype=np.float32) for i, s in enumerate(shapes)]
    model.set_weights(new)
    np.testing.assert_array_equal(model.layers[1].kernel.data, 2)
    x = np.ones((1, 2), dtype=np.float32)
    assert model.predict(x)[0, 0] == pytest.approx(3 * (0 * 2 + 1) * 2 + 3)
    with pytest.raises(ValueError, match="expects 4 weight arrays"):
        model.set_weights(new[:3])
    with pytest.raises(ValueError, match=r"expected shape \(2, 3\)"):
        model.set_weights([np.zeros((3, 3))] + new[1:])


def test_sub_model_view_returns_hidden_activations_and_shares_weights():
    x, y = make_lecture_synthetic(200, seed=1)
    model = nl.Sequential([Dense(4, activation="sigmoid", input_shape=(2,), name="hidden"),
                           Dense(1, activation="sigmoid", name="output")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    hidden = nl.Model(inputs=model.input, outputs=model.get_layer("hidden").output)
    grid = np.random.default_rng(0).random((10, 2)).astype(np.float32)
    kernel, bias = model.get_layer("hidden").get_weights()
    np.testing.assert_allclose(hidden.predict(grid), 1 / (1 + np.exp(-(grid @ kernel + bias))),
                               rtol=1e-5)
    model.fit(x, y, epochs=3, batch_size=50, verbose=0)
    kernel, bias = model.get_layer("hidden").get_weights()  # training moved them...
    np.testing.assert_allclose(hidden.predict(grid), 1 / (1 + np.exp(-(grid @ kernel + bias))),
                               rtol=1e-5)  # ...and the view sees the new values
    assert hidden.count_params() == 12


def test_functional_chain_model():
    inputs = nl.Input(shape=(3,))
    h = Dense(5, activation="relu")(inputs)
    outputs = Dense(2, activation="softmax")(h)
    model = nl.Model(inputs, outputs)
    assert model.output_shape == (None, 2)
    assert model.predict(np.ones((4, 3))).shape == (4, 2)


# --- gradients and freezing -------------------------------------------------------------------
def test_compute_gradients_align_with_weights_and_are_correct(float64):
    x, labels = blobs(20, 4, 3)
    model = nl.Sequential([Dense(5, activation="tanh", input_shape=(4,)),
                           BatchNormalization(), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss, grads = model.compute_gradients(x.astype(np.float64), labels)
    assert [g.shape for g in grads] == [w.shape for w in model.get_weights()]
    moving = [g for g, p in zip(grads, model.weights) if not p.trainable]
    assert len(moving) == 2 and all(np.all(g == 0) for g in moving)
    errors = gc.check_model(model, x.astype(np.float64), labels)
    assert max(errors.values()) < 1e-6, errors


def test_frozen_hidden_layer_fits_only_the_output_layer():
    x, labels = blobs()
    model = small_classifier()
    model.layers[0].trainable = False
    before = model.get_weights()
    model.fit(x, labels, epochs=2, batch_size=32, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert np.abs(after[2] - before[2]).max() > 1e-3


def test_low_level_forward_backward_equals_compute_gradients(float64):
    x, labels = blobs(10, 4, 3)
    x = x.astype(np.float64)
    model = nl.Sequential([Dense(6, activation="relu", input_shape=(4,)), Dense(3)])
    model.compile(optimizer="sgd", loss=nl.losses.SparseCategoricalCrossentropy(from_logits=True))
    _, grads = model.compute_gradients(x, labels)
    model.zero_grad()
    logits = model.forward(x, training=True)
    dlogits = model.loss.gradient(labels, logits)
    model.backward(dlogits)
    for g, p in zip(grads, model.weights):
        np.testing.assert_allclose(p.grad, g, rtol=1e-12)


# --- the fit loop ------------------------------------------------------------------------------
def test_history_holds_loss_metrics_validation_and_lr():
    x, labels = blobs()
    model = small_classifier()
    history = model.fit(x, labels, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.history["lr"] == [0.01] * 3
    # validation_split takes the last 20 % of the samples, as Keras does
    val = model.evaluate(x[240:], labels[240:], verbose=0)
    assert val == pytest.approx([history.history["val_loss"][-1],
                                 history.history["val_accuracy"][-1]], rel=1e-6)


class RecordBatches(Callback):
    def __init__(self, model_layer):
        super().__init__()
        self.layer = model_layer
        self.sizes, self.firsts = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.sizes.append(len(self.layer.x))
        self.firsts.append(float(self.layer.x[0, 0]))


def test_each_epoch_reshuffles_and_uses_the_last_partial_batch():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.zeros((10, 1), dtype=np.float32)
    model = nl.Sequential([Dense(1, input_shape=(1,))])
    model.compile(optimizer="sgd", loss="mse")
    recorder = RecordBatches(model.layers[0])
    model.fit(x, y, epochs=3, batch_size=4, callbacks=[recorder], verbose=0)
    assert recorder.sizes == [4, 4, 2] * 3
    assert len({tuple(recorder.firsts[i:i + 3]) for i in (0, 3, 6)}) > 1  # orders differ
    recorder = RecordBatches(model.layers[0])
    model.fit(x, y, epochs=2, batch_size=4, shuffle=False, callbacks=[recorder], verbose=0)
    assert recorder.firsts == [0.0, 4.0, 8.0] * 2


def test_fit_does_not_copy_the_training_set():
    x = np.random.default_rng(0).standard_normal((20000, 100)).astype(np.float32)  # 8 MB
    labels = np.random.default_rng(1).integers(0, 10, 20000)
    model = nl.Sequential([Dense(32, activation="relu", input_shape=(100,)),
                           Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:100], labels[:100], epochs=1, verbose=0)  # warm up lazy allocations
    tracemalloc.start()
    model.fit(x, labels, epochs=2, batch_size=128, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < x.nbytes / 8, f"peak {peak} bytes for an {x.nbytes}-byte training set"


def test_evaluate_and_predict_agree_with_a_manual_computation():
    x, labels = blobs()
    model = small_classifier()
    model.fit(x, labels, epochs=2, verbose=0)
    probs = model.predict(x, batch_size=7)
    np.testing.assert_allclose(probs, model(x), rtol=1e-6)
    manual_loss = -np.log(probs[np.arange(len(x)), labels]).mean()
    loss, acc = model.evaluate(x, labels, batch_size=50, verbose=0)
    assert loss == pytest.approx(manual_loss, rel=1e-5)
    assert acc == pytest.approx((probs.argmax(1) == labels).mean())
    assert model.evaluate(x, labels, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}


def test_train_and_test_on_batch():
    x, labels = blobs(64)
    model = small_classifier()
    before = model.get_weights()
    loss, acc = model.train_on_batch(x, labels)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, model.get_weights()))
    logs = model.train_on_batch(x[:32], labels[:32], reset_metrics=False, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    test_loss = model.test_on_batch(x, labels)
    assert test_loss[0] == pytest.approx(model.evaluate(x, labels, verbose=0)[0], rel=1e-6)


# --- save / load ---------------------------------------------------------------------------------
def test_save_load_gives_identical_predictions_and_next_steps(tmp_path):
    x, labels = blobs()
    model = nl.Sequential([Dense(16, activation="relu", input_shape=(6,)), Dropout(0.3),
                           BatchNormalization(), Dense(3, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(0.01, amsgrad=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, batch_size=32, verbose=0)
    path = tmp_path / "net.nlz"
    model.save(path)
    loaded = nl.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    # the next training steps (with dropout and Adam state) are identical
    model.fit(x, labels, epochs=1, batch_size=32, verbose=0)
    loaded.fit(x, labels, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not [p for p in tmp_path.iterdir() if p.name != "net.nlz"]  # no temp files left


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    x, labels = blobs()
    model = small_classifier()
    path = tmp_path / "net.nlz"
    model.save(path)
    original = path.read_bytes()
    import neuralab.models.saving as saving

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(saving.zipfile.ZipFile, "writestr", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["net.nlz"]


def test_loading_a_non_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.nlz"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="not a neuralab model file"):
        nl.load_model(bad)


def test_weights_only_round_trip(tmp_path):
    model = small_classifier()
    other = small_classifier()
    model.save_weights(tmp_path / "w.npz")
    other.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- determinism -----------------------------------------------------------------------------------
def test_same_seed_same_history_and_weights_bit_for_bit():
    def run():
        nl.set_seed(7)
        x, labels = blobs()
        model = nl.Sequential([Dense(16, activation="relu", input_shape=(6,)), Dropout(0.2),
                               Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x, labels, epochs=3, batch_size=20, validation_split=0.1, verbose=0)
        return history.history, model.get_weights()

    (h1, w1), (h2, w2) = run(), run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


# --- reliability and clear errors ---------------------------------------------------------------------
def test_diverging_training_stops_with_a_message_and_finite_weights():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)).astype(np.float32) * 100
    y = (x @ np.array([[1.0], [2.0], [3.0]], dtype=np.float32)) ** 2
    model = nl.Sequential([Dense(8, activation="relu", input_shape=(3,)), Dense(1)])
    model.compile(optimizer=nl.optimizers.SGD(1e3), loss="mse")
    with pytest.warns(TrainingDivergedWarning, match=r"epoch \d+, batch \d+/\d+.*learning rate"):
        history = model.fit(x, y, epochs=50, batch_size=20, verbose=0)
    assert history.diverged is not None
    assert len(history.history.get("loss", [])) <= history.diverged["epoch"] + 1
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_fit_before_compile_is_refused():
    model = nl.Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(ValueError, match="compile"):
        model.fit(np.zeros((4, 2)), np.zeros(4))


@pytest.mark.parametrize("x, y, error, message", [
    (np.zeros((10, 6)), np.zeros(9, dtype=int), ValueError, "same number of samples"),
    (np.zeros((10, 7)), np.zeros(10, dtype=int), ValueError, r"expected input of shape \(N, 6\)"),
    (np.array([["a"] * 6] * 10), np.zeros(10, dtype=int), TypeError, "numeric"),
    (np.full((10, 6), np.nan), np.zeros(10, dtype=int), ValueError, "NaN"),
    (np.zeros((10, 6)), np.full(10, 3), ValueError, r"integers in \[0, 3\)"),
    (np.zeros((10, 6)), np.zeros((10, 3)), ValueError, "categorical_crossentropy"),
])
def test_bad_training_data_is_refused_with_a_clear_message(x, y, error, message):
    model = small_classifier()
    with pytest.raises(error, match=message):
        model.fit(x, y, epochs=1, verbose=0)


def test_unknown_names_in_compile_are_refused():
    model = small_classifier()
    with pytest.raises(ValueError, match="Unknown optimizer"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile(optimizer="adam", loss="mean_square_error")
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])


# --- console output -----------------------------------------------------------------------------------
def test_verbose_two_prints_one_keras_line_per_epoch(capsys):
    x, labels = blobs(100)
    model = small_classifier()
    model.fit(x, labels, epochs=2, batch_size=32, validation_split=0.2, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("3/3 - ")
    keys = [part.split(":")[0] for part in out[1].split(" - ")[3:]]
    assert keys == ["loss", "accuracy", "val_loss", "val_accuracy"]


def test_verbose_one_without_a_terminal_does_not_draw_bars(capsys):
    x, labels = blobs(100)
    small_classifier().fit(x, labels, epochs=2, batch_size=10, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and out.count("\n") == 4


def test_verbose_zero_is_silent(capsys):
    x, labels = blobs(100)
    small_classifier().fit(x, labels, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


# --- learning checks ---------------------------------------------------------------------------------------
def test_lecture_synthetic_problem_reaches_085():
    nl.set_seed(0)
    x, y = make_lecture_synthetic(400, seed=0)
    model = nl.Sequential([Dense(4, activation="sigmoid", input_shape=(2,)),
                           Dense(1, activation="sigmoid")])
    model.compile(optimizer=nl.optimizers.Adam(0.03), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=1000, batch_size=100, verbose=0)
    assert history.history["accuracy"][-1] >= 0.85


def test_mnist_784_100_10_reaches_096_in_five_epochs():
    from neuralab.datasets.mnist import load_mnist

    from .conftest import shared_data
    (x_train, y_train), (x_test, y_test) = load_mnist(shared_data("mnist"))

    def scale(images):  # the lecture's transforms.Normalize((0.1307,), (0.3081,))
        return (images.astype(np.float32) / 255 - 0.1307) / 0.3081

    nl.set_seed(0)
    model = nl.Sequential([Flatten(input_shape=(28, 28)), Dense(100, activation="sigmoid"),
                           Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(scale(x_train), y_train, epochs=5, batch_size=100, verbose=0)
    _, accuracy = model.evaluate(scale(x_test), y_test, verbose=0)
    assert accuracy >= 0.96


# --- parity with a PyTorch reference loop -------------------------------------------------------------------
@pytest.mark.parametrize("floatx, tol", [("float64", 1e-10), ("float32", 1e-5)])
def test_fit_losses_match_a_pytorch_loop(floatx, tol):
    torch = pytest.importorskip("torch")
    nl.set_floatx(floatx)
    x, labels = blobs(90, 5, 4)
    x = x.astype(floatx)
    model = nl.Sequential([Dense(8, activation="tanh", input_shape=(5,)),
                           Dense(4, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    weights = model.get_weights()
    history = model.fit(x, labels, epochs=4, batch_size=32, shuffle=False, verbose=0)

    dtype = getattr(torch, floatx)
    W1, b1, W2, b2 = [torch.tensor(w, dtype=dtype, requires_grad=True) for w in weights]
    opt = torch.optim.Adam([W1, b1, W2, b2], lr=0.01, eps=1e-7)
    xt, yt = torch.tensor(x, dtype=dtype), torch.tensor(labels)
    for epoch in range(4):
        total = 0.0
        for start in range(0, 90, 32):
            xb, yb = xt[start:start + 32], yt[start:start + 32]
            loss = torch.nn.functional.cross_entropy(torch.tanh(xb @ W1 + b1) @ W2 + b2, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        assert history.history["loss"][epoch] == pytest.approx(total / 90, rel=tol, abs=tol)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_train_step_refuses_one_non_finite_gradient_element_silently(monkeypatch, bad):
    """The divergence check sees one bad element of the flat gradient (the loss is finite),
    without a NumPy RuntimeWarning, and leaves the weights untouched."""
    import warnings

    from neuralab.training import TrainingDiverged
    model = nl.Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2)])
    model.compile(optimizer=nl.optimizers.SGD(0.1), loss="mse")
    model.prepare_training()
    real = model.forward_backward
    target = model.trainable_weights[2]  # the second kernel, in the middle of the flat buffer

    def poisoned(*args, **kwargs):
        value = real(*args, **kwargs)
        target.grad[1, 0] = bad
        return value

    monkeypatch.setattr(model, "forward_backward", poisoned)
    before = model.get_weights()
    x, y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged, match="gradient is NaN or infinite"):
            model.train_step([x], [y])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)

