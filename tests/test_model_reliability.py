"""Issue 14, model side: bad input and faults give clear errors and lose nothing."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pytest

import neuralab as nl
from neuralab.errors import InputError
from neuralab.layers import Dense
from neuralab.training import TrainingDivergedWarning


def _classifier(units: int = 8):
    model = nl.Sequential([Dense(units, activation="relu", input_shape=(4,)),
                           Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_evaluate_on_empty_data_raises():
    model = _classifier()
    with pytest.raises(ValueError, match="empty dataset"):
        model.evaluate(np.zeros((0, 4), np.float32), np.zeros(0, int), verbose=0)


def test_empty_validation_data_raises_instead_of_logging_zero():
    model = _classifier()
    x, y = _data()
    with pytest.raises(ValueError, match="validation_data is empty"):
        model.fit(x, y, epochs=1, verbose=0,
                  validation_data=(np.zeros((0, 4), np.float32), np.zeros(0, int)))


def test_divergence_restores_weights_that_give_finite_predictions():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 4)) * 1e3
    y = rng.standard_normal((64, 1)) * 1e3
    model = nl.Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(1)])
    model.compile(optimizer=nl.optimizers.SGD(10.0), loss="mse")
    with pytest.warns(TrainingDivergedWarning, match="restored"):
        history = model.fit(x, y, epochs=50, batch_size=16, verbose=0)
    assert history.diverged is not None
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(x, verbose=0)).all()
    assert np.isfinite(model.evaluate(x, y, verbose=0))


def test_predict_warns_when_outputs_are_not_finite():
    model = nl.Sequential([Dense(1, input_shape=(2,))])
    model.set_weights([np.full((2, 1), 1e38, np.float32), np.zeros(1, np.float32)])
    with pytest.warns(RuntimeWarning, match="NaN or infinite"):
        model.predict(np.full((3, 2), 1e3, np.float32))


def test_bool_labels_are_class_ids_for_sparse_crossentropy():
    model = nl.Sequential([Dense(2, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _data()
    loss_bool = model.evaluate(x, y > 0, verbose=0)
    loss_int = model.evaluate(x, (y > 0).astype(int), verbose=0)
    assert loss_bool == loss_int


def test_complex_inputs_are_refused_not_truncated():
    model = _classifier()
    x, y = _data()
    with pytest.raises(TypeError, match="complex"):
        model.fit(x + 1j, y, verbose=0)


def _rewrite_config(path, edit) -> None:
    """Rewrite config.json inside a saved model file through ``edit(config)``."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(members["config.json"])
    result = edit(config)
    members["config.json"] = result if isinstance(result, bytes) else json.dumps(config).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buffer.getvalue())


@pytest.fixture
def saved(tmp_path):
    model = _classifier()
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "net.nlz"
    model.save(path)
    return path


_HUGE_LOAD = """
import resource, sys
import neuralab as nl
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    nl.load_model(sys.argv[1])
except nl.errors.InputError as error:
    print("ERROR", error)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("GROWTH_KB", after - before)
"""


@pytest.mark.parametrize("declared", [True, False])
def test_huge_layer_in_a_small_file_is_refused_without_using_its_memory(saved, declared):
    """A 5 KB file whose config asks for 2**26 units (1.75 GiB of weights) is refused
    before those weights are initialized: resident memory grows by a few MB at most."""
    import subprocess
    import sys

    def grow(config):
        config["model"]["config"]["layers"][0]["config"]["units"] = 2**26
        if not declared:  # a file without declared shapes: the built layers are compared
            config.pop("weight_shapes")
    _rewrite_config(saved, grow)
    assert saved.stat().st_size < 20_000
    result = subprocess.run([sys.executable, "-c", _HUGE_LOAD, str(saved)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ERROR" in result.stdout and str(saved) in result.stdout
    growth_kb = int(result.stdout.split("GROWTH_KB")[1])
    assert growth_kb < 200 * 1024, result.stdout


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["compile"].update(loss=["os.system"]), "compile settings"),
    (lambda c: c.pop("model"), "no 'model' entry"),
    (lambda c: b"{not json", "not valid JSON"),
    (lambda c: c["model"].update(class_name="os.system"), "cannot rebuild the model"),
])
def test_damaged_model_files_name_the_file_and_the_problem(saved, edit, message):
    _rewrite_config(saved, edit)
    with pytest.raises(InputError, match=message) as info:
        nl.load_model(saved)
    assert str(saved) in str(info.value)


def test_declared_shapes_are_compared_with_the_stored_arrays(saved):
    _rewrite_config(saved, lambda c: c["weight_shapes"][0].__setitem__(1, 20000))
    with pytest.raises(InputError, match="declares weights of shapes"):
        nl.load_model(saved)


def test_a_loaded_model_continues_like_the_original(saved):
    x, y = _data()
    a, b = nl.load_model(saved), nl.load_model(saved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a.fit(x, y, epochs=1, verbose=0)
        b.fit(x, y, epochs=1, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
