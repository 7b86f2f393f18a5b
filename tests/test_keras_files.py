"""Keras' own files: ``.keras`` archives and legacy ``.h5`` models both ways with real
Keras 3 (JAX backend), ``.weights.h5`` files, ``model_from_json``."""

import contextlib
import json
import os
import zipfile

import numpy as np
import pytest

import neuralab
from neuralab import layers
from neuralab.errors import InputError
from neuralab.models import Input, Model, Sequential, model_from_json

pytest.importorskip("h5py", reason="Keras files need h5py")
os.environ["KERAS_BACKEND"] = "jax"
try:
    import keras
except Exception as error:  # noqa: BLE001 - keras or its JAX backend missing or broken
    pytest.skip(f"Keras 3 with the JAX backend is not importable ({error})", allow_module_level=True)

ATOL = 1e-6  # float32 outputs of order one; RTOL covers larger ones (another summation order)
RTOL = 1e-6


def keras_predict(model, x):
    return np.asarray(model(x, training=False))


def neuralab_cnn(rng):
    model = Sequential([
        layers.InputLayer((8, 8, 3)),
        layers.Conv2D(4, 3, activation="relu", padding="same"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(3),
        layers.Activation("softmax"),
    ])
    bn = model.layers[2]
    bn.set_weights([(rng.standard_normal(w.shape) ** 2 + 0.5).astype("float32")
                    for w in bn.get_weights()])
    return model


def neuralab_cnn_from_input_shape(rng):
    """The Keras idiom: the first layer given ``input_shape``."""
    model = Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 3)),
                        layers.Flatten(), layers.Dense(3)])
    model.set_weights([0.1 * rng.standard_normal(w.shape).astype("float32") for w in model.get_weights()])
    return model


def neuralab_graph(rng):
    image = Input(shape=(6, 6, 2), name="image")
    extra = Input(shape=(5,), name="extra")
    h = layers.Conv2D(3, 3, activation="relu", name="conv")(image)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.Flatten(name="flat")(layers.MaxPooling2D(name="pool")(h))
    a = layers.Dense(5, activation="tanh", name="a")(h)
    b = layers.Dense(5, name="b")(extra)
    joint = layers.Concatenate(name="cat")([layers.Add(name="sum")([a, b]), extra])
    out = layers.Dense(2, activation="softmax", name="out")(layers.Dropout(0.2)(joint))
    model = Model([image, extra], out)
    bn = model.get_layer("bn")
    bn.set_weights([(rng.standard_normal(w.shape) ** 2 + 0.5).astype("float32")
                    for w in bn.get_weights()])
    return model


def keras_cnn(rng):
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(3),
        keras.layers.Activation("softmax"),
    ])
    model.set_weights([rng.standard_normal(w.shape).astype("float32") ** 2 + 0.1
                       for w in model.get_weights()])
    return model


def keras_graph(rng):
    image = keras.Input((6, 6, 2), name="image")
    extra = keras.Input((5,), name="extra")
    h = keras.layers.Conv2D(3, 3, padding="same", activation="relu")(image)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(h))
    a = keras.layers.Dense(5, activation="tanh")(h)
    b = keras.layers.Dense(5)(extra)
    joint = keras.layers.Concatenate()([keras.layers.Add()([a, b]), extra])
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Dropout(0.2)(joint))
    model = keras.Model([image, extra], out)
    model.set_weights([rng.standard_normal(w.shape).astype("float32") ** 2 + 0.1
                       for w in model.get_weights()])
    return model


def cnn_input(rng):
    return rng.standard_normal((4, 8, 8, 3)).astype("float32")


def graph_input(rng):
    return [rng.standard_normal((4, 6, 6, 2)).astype("float32"),
            rng.standard_normal((4, 5)).astype("float32")]


CASES = {"sequential": (neuralab_cnn, keras_cnn, cnn_input),
         "sequential_input_shape": (neuralab_cnn_from_input_shape, keras_cnn, cnn_input),
         "functional": (neuralab_graph, keras_graph, graph_input)}


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_neuralab_model_file_loads_in_keras_with_the_same_predictions(tmp_path, rng, kind, suffix):
    build, _, data = CASES[kind]
    model, x = build(rng), data(rng)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(keras_predict(loaded, x), model.predict(x, verbose=0), atol=ATOL, rtol=RTOL)
    assert [layer.name for layer in loaded.layers if layer.weights] == \
        [layer.name for layer in model.layers if layer.weights]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_keras_model_file_loads_in_neuralab_with_the_same_predictions(tmp_path, rng, kind, suffix):
    _, build, data = CASES[kind]
    model, x = build(rng), data(rng)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    loaded = neuralab.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), keras_predict(model, x), atol=ATOL, rtol=RTOL)
    assert type(loaded).__name__ == ("Model" if kind == "functional" else "Sequential")


def test_keras_archive_holds_config_metadata_and_weights(tmp_path, rng):
    path = tmp_path / "m.keras"
    neuralab_cnn(rng).save(path)
    with zipfile.ZipFile(path) as zf:
        assert {"config.json", "metadata.json", "model.weights.h5"} <= set(zf.namelist())
        config = json.loads(zf.read("config.json"))
    assert config["class_name"] == "Sequential"
    assert [spec["class_name"] for spec in config["config"]["layers"]][:3] == \
        ["InputLayer", "Conv2D", "BatchNormalization"]
    assert config["config"]["layers"][1]["module"] == "keras.layers"


@pytest.mark.parametrize("kind", sorted(CASES))
def test_weights_h5_files_move_between_neuralab_and_keras(tmp_path, rng, kind):
    build, _, data = CASES[kind]
    model, x = build(rng), data(rng)
    model.save(tmp_path / "arch.keras")
    twin = keras.saving.load_model(tmp_path / "arch.keras", compile=False)
    twin.set_weights([w * 0 for w in twin.get_weights()])
    model.save_weights(tmp_path / "w.weights.h5")
    twin.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(keras_predict(twin, x), model.predict(x, verbose=0), atol=ATOL, rtol=RTOL)

    twin.set_weights([0.1 * rng.standard_normal(w.shape).astype("float32") ** 2 + 0.1  # BN variance > 0
                      for w in twin.get_weights()])
    twin.save_weights(tmp_path / "k.weights.h5")
    model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_predict(twin, x), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_model_from_json_rebuilds_the_architecture(rng, kind):
    build = CASES[kind][0]
    model = build(rng)
    rebuilt = model_from_json(model.to_json())
    assert rebuilt.to_json() == model.to_json()
    assert [w.shape for w in rebuilt.get_weights()] == [w.shape for w in model.get_weights()]
    assert neuralab.keras.models.model_from_json is model_from_json


def test_model_from_json_reads_keras_json(rng):
    model = keras_graph(rng)
    rebuilt = model_from_json(model.to_json())
    assert [layer.name for layer in rebuilt.layers if layer.weights] == \
        [layer.name for layer in model.layers if layer.weights]
    assert [w.shape for w in rebuilt.get_weights()] == [w.shape for w in model.get_weights()]


def test_keras_archive_without_config_json_names_the_file(tmp_path, rng):
    path = tmp_path / "broken.keras"
    keras_cnn(rng).save(path)
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(damaged, "w") as dst:
        for name in src.namelist():
            if name != "config.json":
                dst.writestr(name, src.read(name))
    with pytest.raises(InputError, match=r"damaged\.keras.*config\.json"):
        neuralab.load_model(damaged)


def test_unknown_keras_layer_is_named_with_the_file(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                              keras.layers.LayerNormalization(name="norm")])
    path = tmp_path / "norm.keras"
    model.save(path)
    with pytest.raises(InputError, match=r"norm\.keras.*'norm'.*LayerNormalization"):
        neuralab.load_model(path)


def rewrite_config(path, edit):
    """Rewrite a ``.keras`` archive's config.json with ``edit(config)``."""
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def test_keras_option_neuralab_lacks_is_refused(tmp_path, rng):
    path = tmp_path / "groups.keras"
    neuralab_cnn(rng).save(path)
    rewrite_config(path, lambda c: c["config"]["layers"][1]["config"].update(groups=2))
    with pytest.raises(InputError, match=r"groups\.keras.*Conv2D.*groups=2"):
        neuralab.load_model(path)


def test_model_keras_files_cannot_describe_is_saved_in_neuralab_format_with_a_warning(tmp_path, rng):
    inp = Input(shape=(4,))
    out = layers.Dense(2)(layers.Dense(4)(inp) + inp)
    model = Model(inp, out)
    x = rng.standard_normal((3, 4)).astype("float32")
    with pytest.warns(UserWarning, match="neuralab's own format"):
        model.save(tmp_path / "ops.keras")
    np.testing.assert_array_equal(neuralab.load_model(tmp_path / "ops.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_legacy_h5_round_trips_through_neuralab(tmp_path, rng, kind):
    build, _, data = CASES[kind]
    model, x = build(rng), data(rng)
    model.save(tmp_path / "m.h5")
    loaded = neuralab.load_model(tmp_path / "m.h5")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=ATOL, rtol=RTOL)
    names = [layer.name for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    assert [layer.name for layer in loaded.layers] == names


def test_model_from_json_reads_tf_keras_2_json():
    config = {"class_name": "Sequential", "keras_version": "2.15.0", "backend": "tensorflow",
              "config": {"name": "old", "layers": [
                  {"class_name": "Dense", "config": {
                      "name": "hidden", "trainable": True, "dtype": "float32",
                      "batch_input_shape": [None, 3], "units": 4, "activation": "relu",
                      "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform",
                                                               "config": {"seed": None}},
                      "bias_initializer": {"class_name": "Zeros", "config": {}},
                      "kernel_regularizer": None, "bias_regularizer": None,
                      "activity_regularizer": None, "kernel_constraint": None,
                      "bias_constraint": None}},
                  {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}}
    model = model_from_json(json.dumps(config))
    assert [layer.name for layer in model.layers] == ["hidden", "out"]
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4, 2), (2,)]


def test_compiled_keras_model_file_loads_in_neuralab_compiled(tmp_path, rng):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = rng.standard_normal((6, 4)).astype("float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2]]
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "trained.keras")
    loaded = neuralab.load_model(tmp_path / "trained.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), keras_predict(model, x), atol=ATOL, rtol=RTOL)
    assert type(loaded.optimizer).__name__ == "Adam"
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-5)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_compile_settings_reach_keras(tmp_path, rng, suffix):
    model = Sequential([layers.InputLayer((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=neuralab.optimizers.RMSprop(0.005), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.save(tmp_path / f"c{suffix}")
    with pytest.warns(UserWarning) if suffix == ".keras" else contextlib.nullcontext():
        loaded = keras.saving.load_model(tmp_path / f"c{suffix}")  # Keras: fresh optimizer state
    assert type(loaded.optimizer).__name__ == "RMSprop"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.005)
    x, y = rng.standard_normal((4, 4)).astype("float32"), np.eye(3, dtype="float32")[[2, 1, 0, 0]]
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-5)


def test_neuralab_zip_under_a_keras_name_still_loads(tmp_path, rng):
    from neuralab.models.saving import model_to_bytes

    model = neuralab_cnn(rng)
    (tmp_path / "old.keras").write_bytes(model_to_bytes(model))  # what save() wrote before
    x = cnn_input(rng)
    np.testing.assert_array_equal(neuralab.load_model(tmp_path / "old.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_load_model_compile_false_leaves_a_keras_file_uncompiled(tmp_path, rng):
    model = neuralab_cnn(rng)
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.keras")
    assert neuralab.load_model(tmp_path / "m.keras").compiled
    assert not neuralab.load_model(tmp_path / "m.keras", compile=False).compiled
