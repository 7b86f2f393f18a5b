"""Rich display in notebooks: model and History HTML, History.plot, the per-epoch progress
bar in a (simulated) Jupyter kernel, the live learning curve and a results folder's report."""

import html
import inspect
import io
import re

import numpy as np
import pytest

import neuralab as nl
from neuralab import callbacks as callbacks_module
from neuralab.callbacks import LiveLearningCurve
from neuralab.keras import Input, Model, layers
from neuralab.layers import Dense
from neuralab.training import display

PNG = b"\x89PNG\r\n\x1a\n"


def _lecture_model():
    """The lecture's 2-4-1 network: 2*4+4 = 12 and 4*1+1 = 5 parameters, 17 in all."""
    return nl.Sequential([Dense(4, activation="sigmoid", input_shape=(2,), name="hidden"),
                          Dense(1, activation="sigmoid", name="output")])


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, (x[:, 0] * x[:, 1] > 0).astype(float)[:, None]


def _fitted(epochs=4, **fit):
    nl.set_seed(0)
    model = _lecture_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x, y = _data()
    history = model.fit(x, y, epochs=epochs, batch_size=20, verbose=0, validation_split=0.25,
                        **fit)
    return model, history


def _rows(page: str) -> list[list[str]]:
    return [[html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page)]


# -- Model._repr_html_ ---------------------------------------------------------------------
def test_sequential_html_rows_hold_each_layers_output_shape_and_count_params():
    model = _lecture_model()
    rows = _rows(model._repr_html_())
    assert rows[0] == ["Layer (type)", "Output Shape", "Param #"]
    assert rows[1] == ["hidden (Dense)", "(None, 4)", str(model.layers[0].count_params())]
    assert rows[2] == ["output (Dense)", "(None, 1)", str(model.layers[1].count_params())]
    assert [r[2] for r in rows[1:3]] == ["12", "5"]  # 2*4+4 and 4+1, by hand
    totals = {r[0]: r[1] for r in rows[3:]}
    assert totals == {"Total params": "17", "Trainable params": "17",
                      "Non-trainable params": "0"}
    assert model.count_params() == 17


def test_frozen_layers_count_as_non_trainable_in_the_html_totals():
    model = _lecture_model()
    model.layers[0].trainable = False
    totals = {r[0]: r[1] for r in _rows(model._repr_html_())[3:]}
    assert totals == {"Total params": "17", "Trainable params": "5",
                      "Non-trainable params": "12"}


def test_graph_model_html_has_a_connected_to_column():
    a, b = Input(shape=(8,), name="a"), Input(shape=(4,), name="b")
    h = layers.Dense(16, activation="relu", name="dense_a")(a)
    merged = layers.Concatenate(name="merge")([h, b])
    out = layers.Dense(3, activation="softmax", name="label")(merged)
    model = Model([a, b], out, name="two_inputs")
    page = model._repr_html_()
    rows = _rows(page)
    assert rows[0] == ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    by_name = {r[0]: r for r in rows[1:] if len(r) == 4}
    assert by_name["dense_a (Dense)"][2:] == [str(8 * 16 + 16), "a[0][0]"]
    assert by_name["merge (Concatenate)"][1:] == ["(None, 20)", "0", "dense_a[0][0], b[0][0]"]
    assert by_name["label (Dense)"][2] == str(20 * 3 + 3)
    assert {r[0]: r[1] for r in rows if len(r) == 3}["Total params"] == \
        f"{model.count_params():,}"
    assert 'Model: "two_inputs"' in html.unescape(page)


def test_unbuilt_model_html_says_so():
    model = nl.Sequential([Dense(3)])
    page = model._repr_html_()
    assert "(unbuilt)" in page and "not built yet" in page


# -- History ---------------------------------------------------------------------------------
def test_history_plot_draws_train_and_validation_of_loss_and_metric():
    pytest.importorskip("matplotlib", reason="History.plot needs neuralab[plots]")
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    _, history = _fitted(epochs=5)
    fig = history.plot()
    try:
        loss_ax, acc_ax = fig.axes
        assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            assert [line.get_label() for line in ax.get_lines()] == ["train", "validation"]
            train, val = ax.get_lines()
            np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4, 5])
            np.testing.assert_allclose(train.get_ydata(), history.history[key])
            np.testing.assert_allclose(val.get_ydata(), history.history["val_" + key])
        assert loss_ax.get_yscale() == "log"
        only = history.plot(metrics=["accuracy"])
        assert len(only.axes) == 1 and len(only.axes[0].get_lines()) == 2
        plt.close(only)
        with pytest.raises(ValueError, match="no 'f1'.*recorded: loss, accuracy"):
            history.plot(metrics="f1")
    finally:
        plt.close("all")


def test_history_html_lists_every_epoch_with_its_values():
    _, history = _fitted(epochs=3)
    rows = _rows(history._repr_html_())
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    for row, i in zip(rows[1:], range(3)):
        assert float(row[1]) == pytest.approx(history.history["loss"][i], rel=1e-3)
        assert float(row[4]) == pytest.approx(history.history["val_accuracy"][i], rel=1e-3)


def test_history_html_elides_the_middle_of_long_runs_and_handles_no_epochs():
    history = callbacks_module.History()
    assert "no epochs recorded" in history._repr_html_()
    history.history = {"loss": [float(i) for i in range(30, 0, -1)]}
    history.epoch = list(range(30))
    rows = _rows(history._repr_html_())
    assert [r[0] for r in rows[1:7]] == ["1", "2", "3", "4", "5", "6"]
    assert "18 more epochs" in rows[7][0]
    assert [r[0] for r in rows[8:]] == ["25", "26", "27", "28", "29", "30"]


# -- the progress bar ------------------------------------------------------------------------
class _RecordingBar:
    """Stands in for ``tqdm.auto.tqdm``: a real tqdm writing to a buffer, remembered."""

    made: list = []

    def __new__(cls, *args, **kwargs):
        from tqdm.std import tqdm
        kwargs["file"] = io.StringIO()
        bar = tqdm(*args, **kwargs)
        cls.made.append(bar)
        return bar


def test_fit_in_a_notebook_shows_one_bar_per_epoch_with_its_logs(monkeypatch, capsys):
    auto = pytest.importorskip("tqdm.auto", reason="the progress bar needs tqdm")
    monkeypatch.setattr(display, "in_notebook", lambda: True)
    monkeypatch.setattr(auto, "tqdm", _RecordingBar)
    _RecordingBar.made = []
    nl.set_seed(0)
    model = _lecture_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(60)
    history = model.fit(x, y, epochs=3, batch_size=10, verbose=1, validation_split=0.5)
    bars = _RecordingBar.made
    assert len(bars) == 3  # one bar per epoch, never one per batch
    for epoch, bar in enumerate(bars):
        assert bar.desc == f"Epoch {epoch + 1}/3"
        assert bar.total == 3 and bar.n == 3  # 30 training samples in batches of 10
        assert bar.leave  # the bar stays as the epoch's record
        val_loss = history.history["val_loss"][epoch]
        assert f"val_loss: {val_loss:.4f}" in bar.postfix
    assert "Epoch 1/3" not in capsys.readouterr().out  # no extra text lines


def test_fit_outside_a_notebook_still_prints_one_line_per_epoch(capsys):
    assert not display.in_notebook()
    nl.set_seed(0)
    model = _lecture_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(40)
    model.fit(x, y, epochs=2, batch_size=10, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("4/4 - ") and "loss: " in out[1]
    assert len(out) == 4


# -- the live learning curve -----------------------------------------------------------------
class _FakeHandle:
    def __init__(self):
        self.shown = []

    def update(self, obj):
        self.shown.append(obj)


def test_live_curve_updates_its_display_handle_every_epoch():
    pytest.importorskip("matplotlib", reason="LiveLearningCurve draws with matplotlib")
    handle = _FakeHandle()
    live = LiveLearningCurve(handle=handle)
    _, history = _fitted(epochs=4, callbacks=[live])
    assert len(handle.shown) == 4 and live.draws == 4
    assert all(obj._repr_png_().startswith(PNG) for obj in handle.shown)
    loss_ax, acc_ax = live.figure.axes
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), history.history["loss"])
    np.testing.assert_allclose(acc_ax.get_lines()[1].get_ydata(),
                               history.history["val_accuracy"])


def test_live_curve_every_n_epochs_still_draws_the_last_one():
    pytest.importorskip("matplotlib", reason="LiveLearningCurve draws with matplotlib")
    handle = _FakeHandle()
    live = LiveLearningCurve(metrics=["loss"], every=2, handle=handle)
    _fitted(epochs=5, callbacks=[live])
    assert len(handle.shown) == 3  # after epochs 2, 4 and 5
    assert len(live.figure.axes) == 1 and len(live.figure.axes[0].get_lines()[0].get_xdata()) == 5


def test_live_curve_outside_a_notebook_draws_nothing_and_says_so_once(monkeypatch):
    monkeypatch.setattr(LiveLearningCurve, "_told", False)
    live = LiveLearningCurve()
    with pytest.warns(UserWarning, match="only in a Jupyter notebook"):
        _fitted(epochs=2, callbacks=[live])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fitted(epochs=2, callbacks=[LiveLearningCurve()])
    assert live.figure is None and live.draws == 0


def test_live_curve_rejects_a_bad_every():
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        LiveLearningCurve(every=0)


# -- a results folder's report ---------------------------------------------------------------
EXPERIMENT = """
name = "tiny <xor>"
seed = 0
[data]
loader = "synthetic"
n_samples = 60
n_test = 30
[model]
layers = [{type = "Dense", units = 3, activation = "tanh"},
          {type = "Dense", units = 1, activation = "sigmoid"}]
[compile]
optimizer = {type = "adam", learning_rate = 0.05}
loss = "binary_crossentropy"
metrics = ["accuracy"]
[fit]
epochs = 3
batch_size = 30
"""


def test_results_report_shows_inline_in_a_sandboxed_iframe(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="reports with figures need neuralab[plots]")
    from neuralab.experiments import parse_experiment, run_experiment
    from neuralab.report import Report, show
    summary = run_experiment(parse_experiment(EXPERIMENT, source="tiny.toml"),
                             tmp_path / "results", executor="local", log=None)
    page = Report(summary.output)._repr_html_()  # running never imports the report
    assert page.startswith('<iframe srcdoc="') and 'sandbox=""' in page
    srcdoc = html.unescape(re.match(r'<iframe srcdoc="([^"]*)"', page)[1])
    assert srcdoc == (tmp_path / "results" / "report.html").read_text(encoding="utf-8")
    assert "<h1>tiny &lt;xor&gt;</h1>" in srcdoc
    show(tmp_path / "results")  # outside a notebook: the page's path
    assert capsys.readouterr().out.strip() == str(tmp_path / "results" / "report.html")
    with pytest.raises(ValueError, match="not a neuralab results folder"):
        Report(tmp_path)


def test_live_curve_warning_points_at_the_users_fit_line(monkeypatch):
    monkeypatch.setattr(LiveLearningCurve, "_told", False)
    model = _lecture_model()
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    x, y = _data()
    with pytest.warns(UserWarning, match="only in a Jupyter notebook") as record:
        fit_line = inspect.currentframe().f_lineno + 1
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LiveLearningCurve()])
    assert (record[0].filename, record[0].lineno) == (__file__, fit_line)
