"""The Keras callback contract: every hook gets a logs dict, validation inside ``fit`` runs the
``on_test_*`` hooks, predict reports its batches, and ``backend.get_value``/``set_value`` drive
the learning rate as in the Keras guide "Writing your own callbacks". The scheduler tests are
ported from keras/src/callbacks/learning_rate_scheduler_test.py."""

import pickle

import numpy as np
import pytest

import neuralab as nl
from neuralab import backend, callbacks

HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin",
         "on_test_batch_end", "on_predict_begin", "on_predict_end", "on_predict_batch_begin",
         "on_predict_batch_end"]


class Recorder(callbacks.Callback):
    """Every hook call as (hook, logs): the guide's CustomCallback, recording instead of printing."""

    def __init__(self):
        super().__init__()
        self.calls = []


def _recording(hook):
    def record(self, *args):
        self.calls.append((hook, dict(args[-1]) if isinstance(args[-1], dict) else args[-1]))
    return record


for _hook in HOOKS:
    setattr(Recorder, _hook, _recording(_hook))


def _model(units=2, seed=0):
    nl.set_seed(seed)
    model = nl.Sequential([nl.layers.Dense(units, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype("float32"), rng.standard_normal((n, 2)).astype("float32")


def _names(calls):
    return [name for name, _ in calls]


def test_every_hook_gets_a_dict():
    x, y = _data()
    model, rec = _model(), Recorder()
    model.fit(x, y, batch_size=5, epochs=1, verbose=0, validation_data=(x, y), callbacks=[rec])
    model.evaluate(x, y, batch_size=5, verbose=0, callbacks=[rec])
    model.predict(x, batch_size=5, callbacks=[rec])
    assert rec.calls and all(isinstance(logs, dict) for _, logs in rec.calls)
    begins = {name: logs for name, logs in rec.calls if name in ("on_test_begin", "on_predict_begin")}
    assert begins == {"on_test_begin": {}, "on_predict_begin": {}}


def test_validation_inside_fit_runs_the_test_hooks_before_epoch_end():
    x, y = _data()
    model, rec = _model(), Recorder()
    model.fit(x, y, batch_size=5, epochs=1, verbose=0, validation_data=(x[:6], y[:6]),
              validation_batch_size=3, callbacks=[rec])
    assert _names(rec.calls) == [
        "on_train_begin", "on_epoch_begin",
        "on_train_batch_begin", "on_train_batch_end", "on_train_batch_begin", "on_train_batch_end",
        "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_batch_begin",
        "on_test_batch_end", "on_test_end", "on_epoch_end", "on_train_end"]
    test_end = dict(rec.calls)["on_test_end"]
    epoch_end = dict(rec.calls)["on_epoch_end"]
    assert set(test_end) == {"loss"} and epoch_end["val_loss"] == test_end["loss"]
    # the validation loss is the model's evaluate loss on the same data
    assert test_end["loss"] == pytest.approx(model.evaluate(x[:6], y[:6], verbose=0), rel=1e-6)


def test_no_test_hooks_without_validation_or_on_skipped_epochs():
    x, y = _data()
    model, rec = _model(), Recorder()
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, validation_data=(x, y), validation_freq=2,
              callbacks=[rec])
    assert _names(rec.calls).count("on_test_begin") == 1
    epoch_ends = [logs for name, logs in rec.calls if name == "on_epoch_end"]
    assert "val_loss" not in epoch_ends[0] and "val_loss" in epoch_ends[1]


def test_predict_batches_report_their_outputs():
    x, _ = _data(n=7)
    model, rec = _model(), Recorder()
    predictions = model.predict(x, batch_size=4, callbacks=[rec])
    assert _names(rec.calls) == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                                 "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"]
    outputs = [logs["outputs"] for name, logs in rec.calls if name == "on_predict_batch_end"]
    np.testing.assert_array_equal(np.concatenate(outputs), predictions)
    assert [len(o) for o in outputs] == [4, 3]


def test_evaluate_batch_logs_carry_the_running_loss():
    x, y = _data(n=8)
    model, rec = _model(), Recorder()
    loss = model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[rec])
    batch_ends = [logs for name, logs in rec.calls if name == "on_test_batch_end"]
    assert len(batch_ends) == 2 and batch_ends[-1]["loss"] == pytest.approx(loss)
    assert dict(rec.calls)["on_test_end"]["loss"] == pytest.approx(loss)


# -- get_value / set_value -------------------------------------------------------------------

def test_get_value_and_set_value_on_the_learning_rate():
    opt = nl.optimizers.SGD(learning_rate=0.1)
    assert float(backend.get_value(opt.learning_rate)) == pytest.approx(0.1)
    backend.set_value(opt.learning_rate, 0.05)
    assert float(opt.learning_rate) == 0.05
    backend.set_value(opt.lr, 0.02)  # Keras 2's name
    assert opt.learning_rate.value == 0.02


def test_set_learning_rate_drives_the_next_step():
    # one SGD step on w with gradient g: w - lr * g, with the rate set through set_value
    w = nl.Parameter(np.array([1.0, -2.0]), name="w")
    w.grad[...] = [0.5, 1.0]
    opt = nl.optimizers.SGD(learning_rate=1.0, params=[w])
    backend.set_value(opt.learning_rate, 0.1)
    opt.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.05, -2.0 - 0.1])


def test_learning_rate_stays_a_float_for_numpy_and_pickle():
    lr = nl.optimizers.Adam(learning_rate=0.01).learning_rate
    assert (np.ones(2, np.float32) * lr).dtype == np.float32
    restored = pickle.loads(pickle.dumps({"lr": lr}))["lr"]
    assert type(restored) is float and restored == 0.01 and f"{lr:g}" == "0.01"


def test_set_value_on_parameters_and_arrays_and_refusing_plain_numbers():
    p = nl.Parameter(np.zeros(2), name="p")
    backend.set_value(p, [1.0, 2.0])
    np.testing.assert_array_equal(backend.get_value(p), [1.0, 2.0])
    a = np.zeros(3)
    backend.set_value(a, 7.0)
    assert a.tolist() == [7.0, 7.0, 7.0] and backend.get_value(a) is not a
    with pytest.raises(TypeError, match="cannot change in place"):
        backend.set_value(0.1, 0.2)


LR_SCHEDULE = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]


def lr_schedule(epoch, lr):
    """The guide's schedule: a new rate at a few epochs, else the current one."""
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for start, rate in LR_SCHEDULE:
        if epoch == start:
            return rate
    return lr


class CustomLearningRateScheduler(callbacks.Callback):
    """The guide's scheduler (Keras 2 version), verbatim apart from recording."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "lr"):
            raise ValueError('Optimizer must have a "lr" attribute.')
        lr = float(backend.get_value(self.model.optimizer.learning_rate))
        scheduled_lr = self.schedule(epoch, lr)
        backend.set_value(self.model.optimizer.lr, scheduled_lr)
        self.seen.append(scheduled_lr)


def test_the_guides_custom_learning_rate_scheduler():
    x, y = _data()
    model = _model()
    model.compile(optimizer=nl.optimizers.SGD(learning_rate=0.1), loss="mse")
    scheduler = CustomLearningRateScheduler(lr_schedule)
    history = model.fit(x, y, batch_size=5, epochs=8, verbose=0, callbacks=[scheduler])
    assert scheduler.seen == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01]
    assert float(model.optimizer.learning_rate) == 0.01
    assert all(type(v) is float for v in history.history["lr"])


# -- LearningRateScheduler (Keras' learning_rate_scheduler_test.py) ------------------------------

def _scheduler_setup():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10, 3)).astype("float32")
    y = nl.utils.to_categorical(rng.integers(0, 2, 10), 2)
    model = nl.Sequential([nl.layers.Dense(5, input_shape=(3,)), nl.layers.Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    return model, x, y


def test_scheduler_updates_learning_rate(capsys):
    model, x, y = _scheduler_setup()
    lr_scheduler = callbacks.LearningRateScheduler(lambda step: 1.0 / (2.0 + step), verbose=1)
    model.fit(x, y, callbacks=[lr_scheduler], epochs=1, verbose=0)
    assert model.optimizer.learning_rate.value == 0.5
    assert "LearningRateScheduler setting learning rate to 0.5" in capsys.readouterr().out


def test_scheduler_dependent_on_previous_learning_rate():
    model, x, y = _scheduler_setup()
    initial_lr = 0.03
    model.compile(loss="mse", optimizer=nl.optimizers.Adam(initial_lr))
    model.fit(x, y, callbacks=[callbacks.LearningRateScheduler(lambda step, lr: lr / 2)], epochs=2,
              verbose=0)
    assert model.optimizer.learning_rate.value == initial_lr / 4.0


def test_scheduler_learning_rate_in_history():
    model, x, y = _scheduler_setup()
    history = model.fit(x, y, callbacks=[callbacks.LearningRateScheduler(lambda step, lr: 0.5)],
                        epochs=1, verbose=0)
    assert "learning_rate" in history.history
    assert type(history.history["learning_rate"][0]) is float
    assert history.history["learning_rate"][0] == 0.5


@pytest.mark.parametrize("monitor, mode", [
    ("val_precision", "max"), ("recall", "max"), ("val_auc", "max"), ("f1_score", "max"),
    ("true_negatives", "max"), ("val_false_positives", "min"), ("val_loss", "min"), ("mape", "min"),
])
def test_auto_mode_follows_the_metrics_direction(monitor, mode):
    assert callbacks.EarlyStopping(monitor=monitor).mode == mode
