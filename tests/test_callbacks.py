"""Callbacks: Keras hook order and each built-in callback's behaviour."""

import csv

import numpy as np
import pytest

import neuralab as nl
from neuralab import callbacks as C
from neuralab.layers import Dense

from .test_models import blobs, small_classifier


class Recorder(C.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None): self.calls.append("train_begin")
    def on_train_end(self, logs=None): self.calls.append("train_end")
    def on_epoch_begin(self, epoch, logs=None): self.calls.append(f"epoch_begin {epoch}")
    def on_epoch_end(self, epoch, logs=None): self.calls.append(f"epoch_end {epoch} {sorted(logs)}")
    def on_train_batch_begin(self, batch, logs=None): self.calls.append(f"batch_begin {batch}")
    def on_train_batch_end(self, batch, logs=None): self.calls.append(f"batch_end {batch}")


def test_hooks_run_in_keras_order_and_see_the_model():
    x, labels = blobs(40)
    model = small_classifier()
    recorder = Recorder()
    model.fit(x, labels, epochs=2, batch_size=20, validation_split=0.5, callbacks=[recorder],
              verbose=0)
    keys = "['accuracy', 'loss', 'lr', 'val_accuracy', 'val_loss']"
    assert recorder.calls == [
        "train_begin",
        "epoch_begin 0", "batch_begin 0", "batch_end 0", f"epoch_end 0 {keys}",
        "epoch_begin 1", "batch_begin 0", "batch_end 0", f"epoch_end 1 {keys}",
        "train_end"]
    assert recorder.model is model and recorder.params["epochs"] == 2


def test_stop_training_stops_after_the_current_batch():
    x, labels = blobs(100)
    model = small_classifier()
    seen = []

    def stop(batch, logs):
        seen.append(batch)
        if batch == 2:
            model.stop_training = True

    history = model.fit(x, labels, epochs=5, batch_size=10,
                        callbacks=[C.LambdaCallback(on_batch_end=stop)], verbose=0)
    assert seen == [0, 1, 2] and len(history.epoch) == 1


def test_lambda_callback_hooks():
    x, labels = blobs(40)
    counts = {"epochs": 0, "begin": 0}
    cb = C.LambdaCallback(on_epoch_end=lambda epoch, logs: counts.__setitem__("epochs", counts["epochs"] + 1),
                          on_train_begin=lambda logs: counts.__setitem__("begin", 1))
    small_classifier().fit(x, labels, epochs=3, callbacks=[cb], verbose=0)
    assert counts == {"epochs": 3, "begin": 1}
    with pytest.raises(TypeError, match="unknown hooks"):
        C.LambdaCallback(on_epoch_finish=print)


class FakeModel:
    """Just enough model for EarlyStopping: weights are the epoch number."""

    def __init__(self):
        self.weights = [np.array([-1.0])]
        self.stop_training = False

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]


def drive(cb, values):
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, value in enumerate(values):
        model.weights = [np.array([float(epoch)])]
        cb.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            break
    cb.on_train_end()
    return model, epoch


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    cb = C.EarlyStopping(patience=2, restore_best_weights=True)
    model, last = drive(cb, [1.0, 0.5, 0.6, 0.7, 0.4, 0.3])
    assert last == 3 and cb.stopped_epoch == 3
    assert model.weights[0][0] == 1.0  # the weights of epoch 1 (val_loss 0.5)


def test_early_stopping_restores_best_weights_even_without_stopping():
    cb = C.EarlyStopping(patience=10, restore_best_weights=True)
    model, last = drive(cb, [1.0, 0.2, 0.6, 0.7])
    assert last == 3 and cb.stopped_epoch == 0
    assert model.weights[0][0] == 1.0


def test_early_stopping_min_delta_and_mode():
    cb = C.EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    assert cb.mode == "max"
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, value in enumerate([0.5, 0.52, 0.53]):
        cb.on_epoch_end(epoch, {"val_accuracy": value})
    assert model.stop_training  # +0.02 and +0.03 are below min_delta


def test_early_stopping_in_training_restores_weights_of_the_best_epoch():
    nl.set_seed(3)
    x, labels = blobs(60, features=6, seed=5)
    x_val, y_val = blobs(60, features=6, seed=6)
    model = nl.Sequential([Dense(64, activation="relu", input_shape=(6,)),
                           Dense(3, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    snapshots = []
    keep = C.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    history = model.fit(x, labels, epochs=40, batch_size=10, validation_data=(x_val, y_val),
                        callbacks=[keep, C.EarlyStopping(patience=40, restore_best_weights=True)],
                        verbose=0)
    best = int(np.argmin(history.history["val_loss"]))
    assert best < len(history.epoch) - 1, "the scenario should overfit before the end"
    for a, b in zip(model.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_keeps_the_best_model(tmp_path):
    x, labels = blobs(80)
    model = small_classifier()
    path = tmp_path / "best-{epoch:02d}.nlz"
    cb = C.ModelCheckpoint(str(path), monitor="loss", save_best_only=True)
    history = model.fit(x, labels, epochs=3, callbacks=[cb], verbose=0)
    saved = sorted(p.name for p in tmp_path.iterdir())
    improving = [i for i, v in enumerate(history.history["loss"])
                 if v == min(history.history["loss"][: i + 1])]
    assert saved == [f"best-{i + 1:02d}.nlz" for i in improving]
    reloaded = nl.load_model(tmp_path / saved[-1])
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), rtol=1e-6)


def test_learning_rate_scheduler_sets_each_epoch_rate():
    x, labels = blobs(40)
    model = small_classifier()
    history = model.fit(x, labels, epochs=4, verbose=0, callbacks=[
        C.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)])
    assert history.history["lr"] == [0.1, 0.05, 0.025, 0.0125]
    history = model.fit(x, labels, epochs=2, verbose=0, callbacks=[
        C.LearningRateScheduler(lambda epoch: 0.2)])
    assert history.history["lr"] == [0.2, 0.2]


def test_reduce_lr_on_plateau_divides_the_rate():
    x, labels = blobs(40)
    model = small_classifier(lr=0.1)
    cb = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=100.0, min_lr=0.02)
    history = model.fit(x, labels, epochs=7, verbose=0, callbacks=[cb])
    # epoch 0 sets the baseline; after every 2 epochs without a 100-point improvement the
    # rate halves; "lr" records the rate each epoch trained with
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.02)  # floored at min_lr


def test_terminate_on_nan_stops_on_invalid_loss():
    cb = C.TerminateOnNaN()
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": float("nan")})
    assert model.stop_training


def test_csv_logger_writes_the_history(tmp_path):
    x, labels = blobs(40)
    path = tmp_path / "log.csv"
    history = small_classifier().fit(x, labels, epochs=3, verbose=0,
                                     callbacks=[C.CSVLogger(str(path))])
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], history.history["loss"])
    assert list(tmp_path.iterdir()) == [path]


def test_stop_at_target_stops_when_accuracy_is_reached(capsys):
    x, labels = blobs(200)
    history = small_classifier(lr=0.05).fit(
        x, labels, epochs=50, verbose=0, callbacks=[C.StopAtTarget("accuracy", 0.95)])
    assert history.history["accuracy"][-1] >= 0.95
    assert all(a < 0.95 for a in history.history["accuracy"][:-1])
    assert len(history.epoch) < 50
    assert "Reached target accuracy (95.00%), stopping training!" in capsys.readouterr().out


def test_non_callback_objects_are_refused():
    x, labels = blobs(20)
    with pytest.raises(TypeError, match="Callback instances"):
        small_classifier().fit(x, labels, callbacks=[print], verbose=0)


def test_gradient_norm_records_the_norm_of_the_batch_gradient():
    """The first record is ||dL/dW|| of the first batch at the initial weights, which
    compute_gradients gives independently; records come every ``every`` batches."""
    x, y = blobs(n=120)
    nl.set_seed(3)
    model = small_classifier()
    model.build((None, 6))
    initial = model.get_weights()
    reference = small_classifier()
    reference.build((None, 6))
    reference.set_weights(initial)
    _, grads = reference.compute_gradients(x[:20], y[:20])
    recorder = C.GradientNorm(every=2, parameter=0)
    model.fit(x, y, epochs=2, batch_size=20, shuffle=False, verbose=0, callbacks=[recorder])
    assert recorder.steps == list(range(0, 12, 2))
    assert recorder.parameter_name == model.trainable_weights[0].name
    assert recorder.norms[0] == pytest.approx(float(np.linalg.norm(grads[0])), rel=1e-5)
    assert len(recorder.losses) == len(recorder.norms) and all(np.isfinite(recorder.losses))
