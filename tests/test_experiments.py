"""Experiments: TOML validation, sweeps, trials, the results store, resume, runners."""

import json

import numpy as np
import pytest

import neuralab as nl
from neuralab.experiments import (
    ExperimentError,
    ResultsExistError,
    expand_points,
    expand_trials,
    load_experiment,
    parse_experiment,
    run_experiment,
)
from neuralab.experiments.spec import set_path
from neuralab.experiments.store import dumps_toml
from neuralab.report import write_report

BASE = """
name = "tiny"
seed = 0

[data]
loader = "synthetic"
n_samples = 120
n_test = 80

[model]
layers = [{type = "Dense", units = 4, activation = "sigmoid"},
          {type = "Dense", units = 1, activation = "sigmoid"}]

[compile]
optimizer = {type = "adam", learning_rate = 0.03}
loss = "binary_crossentropy"
metrics = ["accuracy"]

[fit]
epochs = 5
batch_size = 40
"""


def experiment(extra: str = "", **kw):
    return parse_experiment(BASE + extra, source="tiny.toml", **kw)


# --- validation: every message names the file and the key --------------------------------------
@pytest.mark.parametrize("text, message", [
    ("[fit]\nepochs = 5\nepoch = 3", "tiny.toml: fit.epoch: unknown key; did you mean 'epochs'?"),
    ("[fit]\nepochs = 'ten'", "fit.epochs: expected a positive integer, got 'ten'"),
    ("[fit]\nepochs = 5\nvalidation = 'train'", "fit.validation: expected one of"),
    ("[model]\nlayers = [{type = 'Dense', units = 4, activaton = 'relu'}]",
     "model.layers.0 (Dense): "),
    ("[model]\nlayers = [{type = 'Dens', units = 4}]", "model.layers.0: Unknown layer class 'Dens'"),
    ("[model]\nlayers = [{units = 4}]", "model.layers.0: a layer table needs type"),
    ("[compile]\nloss = 'mse'\noptimizer = {type = 'adam', learning_rat = 0.1}",
     "compile.optimizer: Adam got unexpected keyword"),
    ("[compile]\nloss = 'crossentropi'", "compile.loss: Unknown loss 'crossentropi'"),
    ("[compile]\nloss = 'mse'\nmetrics = ['acuracy']", "compile.metrics.0: Unknown metric"),
    ("[data]\nloader = 'synthetic'\nn_sample = 10", "data: n_sample: not an option of the "
                                                    "'synthetic' loader; did you mean 'n_samples'?"),
    ("[data]\nloader = 'mnst'", "data: loader: Unknown data loader 'mnst'; did you mean 'mnist'?"),
    ("[data]\nloader = 'synthetic'\nscale = 'minmax'", "scale: expected one of"),
    ("[sweep]\n'fit.epochs' = []", "sweep.'fit.epochs': expected a non-empty list"),
    ("[sweep]\n'model.layers.7.units' = [2, 3]", "cannot set this path: index 7"),
    ("[sweep]\n'a.b,c.d' = [[1, 2], [3]]", "each value must be a list of 2"),
    ("[analysis]\nper_trial = ['decision_region']", "analysis.per_trial.0: unknown analysis "
                                                    "'decision_region'; did you mean"),
    ("[trials]\ncount = 2\nseeds = [1, 2]", "trials: give count = N or seeds = [...], not both"),
    ("[[variants]]\n'fit.epochs' = 3", "every [[variants]] table needs a name"),
    ("[fit]\nepochs = 5\ncallbacks = [{type = 'EarlyStoping'}]", "fit.callbacks.0: unknown "
                                                                 "callback 'EarlyStoping'"),
    ("nmae = 'x'", "nmae: unknown key; did you mean 'name'?"),
    ("[fit]\nepochs = 5\ncallbacks = [{type = 'tests.experiment_broken_import:Stop'}]",
     "fit.callbacks.0: callback 'tests.experiment_broken_import:Stop' could not be imported: "
     "RuntimeError: this module is broken on purpose"),
    ("[fit]\nepochs = 5\ncallbacks = [{type = 'tests.no_such_module:Stop'}]",
     "fit.callbacks.0: callback 'tests.no_such_module:Stop' could not be imported: "
     "ModuleNotFoundError: No module named 'tests.no_such_module'"),
    ("[fit]\nepochs = 5\ncallbacks = [{type = 'tests.experiment_helpers:Stop'}]",
     "fit.callbacks.0: callback 'tests.experiment_helpers:Stop' could not be imported: module "
     "'tests.experiment_helpers' has no 'Stop'"),
    # every sweep point is checked like the base: a path that names no field, or a value the
    # field does not take, fails at load time with the point and the key
    ("[sweep]\n'fit.epochz' = [1, 2]",
     "sweep point 'epochz=1': fit.epochz: unknown key; did you mean 'epochs'?"),
    ("[sweep]\n'training.epochs' = [1, 2]", "sweep point 'epochs=1': training: unknown key"),
    ("[sweep]\n'analysis.gradient_norm_evry' = [1, 2]", "sweep point 'gradient_norm_evry=1': "
     "analysis.gradient_norm_evry: unknown key; did you mean 'gradient_norm_every'?"),
    ("[sweep]\n'fit.epochs' = [2, -1]",
     "sweep point 'epochs=-1': fit.epochs: expected a positive integer, got -1"),
    ("[sweep]\n'data.n_samplez' = [10, 20]", "sweep point 'n_samplez=10': data: n_samplez: not "
                                             "an option of the 'synthetic' loader"),
    ("[sweep]\n'model.layers.0.unitz' = [2, 3]",
     "sweep point 'unitz=2': model.layers.0 (Dense): "),
    ("[sweep]\n'seed' = [1, 2]", "sweep point 'seed=1': seed: unknown key"),
    ("[[variants]]\nname = 'a'\n'fit.epochz' = 3", "sweep point 'a': fit.epochz: unknown key"),
    ("[[variants]]\nname = 'a'\n\n[[variants]]\nname = 'b'\n'fit.epochs' = 5",
     "sweep point 'b': the same settings as sweep point 'a'"),
])
def test_bad_experiment_files_name_the_bad_key(text, message):
    # later tables of the same name replace BASE's: build a document with the bad part
    import tomllib
    doc = tomllib.loads(BASE)
    doc.update(tomllib.loads(text))
    with pytest.raises(ExperimentError) as caught:
        parse_experiment(dumps_toml(doc), source="tiny.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("tiny.toml")


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ExperimentError, match=r"tiny.toml: invalid TOML: .*line 2"):
        parse_experiment("name = 'a'\n[fit\n", source="tiny.toml")
    with pytest.raises(ExperimentError, match="no such experiment file"):
        load_experiment(tmp_path / "nope.toml")


def test_toml_writer_round_trips_experiment_documents():
    import tomllib
    doc = experiment('\n[sweep]\n"compile.optimizer.learning_rate" = [0.1, 1e-5]\n'
                     '\n[[variants]]\nname = "a <b>"\n"fit.epochs" = 2\n').document
    assert tomllib.loads(dumps_toml(doc)) == doc


# --- sweeps ---------------------------------------------------------------------------------------
def test_grid_variants_and_seeds_expand_in_file_order():
    exp = experiment("""
[sweep]
"compile.optimizer.learning_rate" = [0.1, 0.01]
"model.layers.0.units,fit.batch_size" = [[2, 10], [8, 20]]

[[variants]]
name = "plain"

[[variants]]
name = "momentum"
"compile.optimizer" = {type = "sgd", momentum = 0.9}

[trials]
seeds = [3, 7]
""")
    points = expand_points(exp)
    assert [p.name for p in points][:4] == [
        "plain, learning_rate=0.1, units=2, batch_size=10",
        "plain, learning_rate=0.1, units=8, batch_size=20",
        "plain, learning_rate=0.01, units=2, batch_size=10",
        "plain, learning_rate=0.01, units=8, batch_size=20"]
    trials = expand_trials(exp)
    assert len(trials) == 2 * 2 * 2 * 2
    last = trials[-1]
    assert last.seed == 7 and last.config["seed"] == 7
    assert last.config["compile"]["optimizer"] == {"type": "sgd", "momentum": 0.9,
                                                   "learning_rate": 0.01}
    assert last.config["model"]["layers"][0]["units"] == 8 and last.config["fit"]["batch_size"] == 20
    assert len({t.id for t in trials}) == len(trials) and len({t.key for t in trials}) == len(trials)
    # the base experiment is not modified by the overrides
    assert exp.base["model"]["layers"][0]["units"] == 4


def test_set_path_promotes_names_to_tables_and_checks_indices():
    doc = {"compile": {"optimizer": "adam"}, "model": {"layers": [{"type": "Dense"}]}}
    set_path(doc, "compile.optimizer.learning_rate", 0.5)
    assert doc["compile"]["optimizer"] == {"type": "adam", "learning_rate": 0.5}
    with pytest.raises(KeyError, match="outside a list of 1"):
        set_path(doc, "model.layers.3.units", 2)


def test_quick_and_command_line_overrides():
    exp = experiment('\n[quick]\n"fit.epochs" = 2\n"trials.count" = 3\n', quick=True,
                     overrides={"data.n_samples": 60})
    assert exp.base["fit"]["epochs"] == 2 and exp.seeds == [0, 1, 2]
    assert exp.base["data"]["n_samples"] == 60


# --- running: results equal a hand-written fit, bit for bit ---------------------------------------
def test_a_trial_reproduces_a_hand_written_fit_exactly(tmp_path):
    summary = run_experiment(experiment(), tmp_path / "out", executor="local", log=None)
    assert summary.ran == 1 and summary.failed == 0
    history = json.loads((tmp_path / "out/trials/p00-default-s0/history.json").read_text())

    from neuralab.datasets import make_lecture_synthetic
    x, y = make_lecture_synthetic(200, seed=np.random.default_rng(0))
    nl.clear_session()
    nl.set_seed(0)
    model = nl.Sequential([nl.layers.Input(shape=(2,)), nl.layers.Dense(4, activation="sigmoid"),
                           nl.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=nl.optimizers.Adam(learning_rate=0.03), loss="binary_crossentropy",
                  metrics=["accuracy"])
    expected = model.fit(x[:120].astype(np.float32), y[:120], epochs=5, batch_size=40, verbose=0,
                         validation_data=(x[120:].astype(np.float32), y[120:])).history
    assert history["loss"] == expected["loss"]
    assert history["val_accuracy"] == expected["val_accuracy"]
    result = json.loads((tmp_path / "out/trials/p00-default-s0/result.json").read_text())
    assert result["metrics"]["test_accuracy"] == pytest.approx(expected["val_accuracy"][-1])
    assert result["metrics"]["params"] == 17 and result["metrics"]["watched"] == "test"
    # the stored model is the trained one
    loaded = nl.load_model(tmp_path / "out/trials/p00-default-s0/model.nlab")
    np.testing.assert_array_equal(loaded.predict(x[120:].astype(np.float32)),
                                  model.predict(x[120:].astype(np.float32)))
    csv_lines = (tmp_path / "out/trials/p00-default-s0/history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,loss,accuracy") and len(csv_lines) == 6


def test_failed_and_diverging_trials_are_recorded_and_the_sweep_completes(tmp_path):
    exp = experiment("""
[[variants]]
name = "fine"

[[variants]]
name = "bad shape"
"model.layers" = [{type = "Reshape", target_shape = [3]}, {type = "Dense", units = 1}]

[[variants]]
name = "too fast"
"model.layers.1.activation" = "linear"
"compile.optimizer" = {type = "sgd", learning_rate = 1e30}
"compile.loss" = "mse"
""")
    summary = run_experiment(exp, tmp_path / "out", executor="local", log=None)
    assert (summary.ran, summary.failed, summary.diverged) == (3, 1, 1)
    records = {r["point"]: r for r in json.loads((tmp_path / "out/index.json").read_text())["trials"]}
    assert records["fine"]["status"] == "ok"
    bad = records["bad shape"]
    assert bad["status"] == "failed" and "Traceback" in bad["error"] and "Cannot reshape" in bad["error"]
    assert (tmp_path / "out/trials" / bad["id"] / "error.txt").is_file()
    fast = records["too fast"]
    assert fast["status"] == "diverged" and "learning rate" in fast["error"]
    assert all(v is None or np.isfinite(v) for v in fast["metrics"].values()
               if isinstance(v, float))
    html = write_report(summary.output).read_text()
    assert "Failures and warnings" in html and "diverged" in html


def test_existing_results_need_resume_or_overwrite(tmp_path):
    exp = experiment()
    run_experiment(exp, tmp_path / "out", executor="local", log=None)
    with pytest.raises(ResultsExistError, match="--resume"):
        run_experiment(exp, tmp_path / "out", executor="local", log=None)
    again = run_experiment(exp, tmp_path / "out", executor="local", resume=True, log=None)
    assert (again.reused, again.ran) == (1, 0)
    # a changed setting is a different trial: rerun, not reused
    changed = experiment(overrides={"fit.epochs": 6})
    third = run_experiment(changed, tmp_path / "out", executor="local", resume=True, log=None)
    assert (third.reused, third.ran) == (0, 1)


def test_missing_data_stops_before_any_trial(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA", str(tmp_path / "empty"))
    exp = experiment(overrides={"data": {"loader": "cat_vs_car"}})
    from neuralab.experiments import DataUnavailableError
    with pytest.raises(DataUnavailableError, match="assign2_data1.h5 not found"):
        run_experiment(exp, tmp_path / "out", executor="local", log=None)
    assert not list((tmp_path / "out").glob("trials/*"))


def test_a_callback_module_that_fails_to_import_is_one_line_from_the_cli(tmp_path, capsys):
    from neuralab.cli import main
    file = tmp_path / "exp.toml"
    file.write_text(BASE.replace("epochs = 5", "epochs = 5\ncallbacks = [{type = "
                                 "'tests.experiment_broken_import:Stop'}]"))
    assert main(["run", str(file), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"neuralab: error: {file}: fit.callbacks.0: callback "
                   "'tests.experiment_broken_import:Stop' could not be imported: RuntimeError: "
                   "this module is broken on purpose\n")
    assert not (tmp_path / "out").exists()
