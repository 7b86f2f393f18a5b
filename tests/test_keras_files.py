"""Keras' own files: ``.keras`` archives and legacy ``.h5`` models both ways with real
Keras 3 (JAX backend), ``.weights.h5`` files, ``model_from_json``."""

import json
import os
import warnings
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


def neuralab_text(rng):
    """Padded ids through every recurrent layer and wrapper, with a mask."""
    model = Sequential([
        layers.InputLayer((7,)),
        layers.Embedding(11, 4, mask_zero=True),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
        layers.TimeDistributed(layers.Dense(4, activation="tanh")),
        layers.GRU(3, return_sequences=True, go_backwards=True),
        layers.SimpleRNN(3),
        layers.Dense(2, activation="softmax"),
    ])
    model.set_weights([0.5 * rng.standard_normal(w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def keras_text(rng):
    ids = keras.Input((7,))
    h = keras.layers.Embedding(11, 4, mask_zero=True)(ids)
    h = keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True), merge_mode="ave")(h)
    h = keras.layers.TimeDistributed(keras.layers.Dense(4, activation="tanh"))(h)
    h = keras.layers.LSTM(3, go_backwards=True)(h)
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(h))
    model.set_weights([0.5 * rng.standard_normal(w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def text_input(rng):
    ids = rng.integers(1, 11, (4, 7))
    ids[0, 4:] = 0
    ids[1, 1:] = 0
    return ids


def cnn_input(rng):
    return rng.standard_normal((4, 8, 8, 3)).astype("float32")


def graph_input(rng):
    return [rng.standard_normal((4, 6, 6, 2)).astype("float32"),
            rng.standard_normal((4, 5)).astype("float32")]


CASES = {"sequential": (neuralab_cnn, keras_cnn, cnn_input),
         "sequential_input_shape": (neuralab_cnn_from_input_shape, keras_cnn, cnn_input),
         "functional": (neuralab_graph, keras_graph, graph_input),
         "recurrent": (neuralab_text, keras_text, text_input)}


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
@pytest.mark.parametrize("kind", ["functional", "sequential", "recurrent"])
def test_keras_model_file_loads_in_neuralab_with_the_same_predictions(tmp_path, rng, kind, suffix):
    _, build, data = CASES[kind]
    model, x = build(rng), data(rng)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    loaded = neuralab.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), keras_predict(model, x), atol=ATOL, rtol=RTOL)
    assert type(loaded).__name__ == ("Sequential" if isinstance(model, keras.Sequential) else "Model")


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



def _rewrite_archive(src_path, dst_path, change, compression=zipfile.ZIP_STORED):
    """A copy of the archive at ``src_path`` with each member's bytes passed through ``change``."""
    with zipfile.ZipFile(src_path) as src, zipfile.ZipFile(dst_path, "w", compression) as dst:
        for name in src.namelist():
            dst.writestr(name, change(name, src.read(name)))


def test_keras_archive_with_truncated_weights_names_the_file(tmp_path):
    path = tmp_path / "model.keras"
    Sequential([Input((3,)), layers.Dense(2)]).save(path)
    cut = tmp_path / "cut.keras"
    _rewrite_archive(path, cut, lambda name, data: data[:len(data) // 2]
                     if name == "model.weights.h5" else data)
    with pytest.raises(InputError, match=r"cut\.keras.*model\.weights\.h5.*not a readable HDF5"):
        neuralab.load_model(cut)


def test_keras_archive_with_a_damaged_compressed_member_names_the_file(tmp_path):
    path = tmp_path / "model.keras"
    Sequential([Input((3,)), layers.Dense(2)]).save(path)
    deflated = tmp_path / "deflated.keras"
    _rewrite_archive(path, deflated, lambda name, data: data, zipfile.ZIP_DEFLATED)
    raw = bytearray(deflated.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 40] = bytes(b ^ 0xFF for b in raw[middle:middle + 40])
    damaged = tmp_path / "flipped.keras"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"flipped\.keras"):
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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(tmp_path / f"c{suffix}")
    # a .keras archive carries the optimizer's variables, so Keras skips none of them
    assert not [w for w in caught if "optimizer" in str(w.message)]
    assert type(loaded.optimizer).__name__ == "RMSprop"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.005)
    x, y = rng.standard_normal((4, 4)).astype("float32"), np.eye(3, dtype="float32")[[2, 1, 0, 0]]
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-5)



@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("saver", ["keras", "neuralab"])
def test_weighted_metrics_survive_a_keras_file_both_ways(tmp_path, rng, saver, suffix):
    lib = keras if saver == "keras" else neuralab.keras
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    path = tmp_path / f"w{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' legacy-.h5 notice
        model.save(path)
        theirs, ours = keras.saving.load_model(path), neuralab.load_model(path)
    x = rng.standard_normal((8, 4)).astype("float32")
    y = (rng.random((8, 1)) > 0.5).astype("float32")
    weight = rng.random(8).astype("float32")
    expected = theirs.evaluate(x, y, sample_weight=weight, verbose=0, return_dict=True)
    got = ours.evaluate(x, y, sample_weight=weight, verbose=0, return_dict=True)
    # weighted_accuracy was dropped on saving and on loading
    assert set(got) == set(expected) == {"loss", "accuracy", "weighted_accuracy"}
    for name in expected:
        assert got[name] == pytest.approx(expected[name], rel=1e-5), name

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


# -- optimizer state in .keras archives ---------------------------------------------------------
def dense_stack(rng):
    """A functional model without randomness in training (no dropout), BN included."""
    x = Input(shape=(5,), name="x")
    h = layers.Dense(4, activation="tanh", name="d1")(x)
    h = layers.BatchNormalization(name="bn")(h)
    out = layers.Dense(2, name="d2")(layers.Concatenate(name="cat")([h, x]))
    model = Model(x, out)
    model.set_weights([0.3 * rng.standard_normal(w.shape).astype("float32") + (w.ndim == 1 and w.size == 4)
                       for w in model.get_weights()])
    return model


def regression_data(rng, n=24):
    x = rng.standard_normal((n, 5)).astype("float32")
    return x, np.stack([x[:, 0] - x[:, 1], x[:, 2] * x[:, 3]], axis=1).astype("float32")


def keras_optimizers():
    """``{label: (neuralab.keras optimizer factory, Keras optimizer factory)}``: the same
    settings under both, Keras' update rules in both."""
    from neuralab.keras import optimizers as nko
    return {
        "sgd_nesterov": (lambda: nko.SGD(0.05, momentum=0.9, nesterov=True),
                         lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)),
        "adam_amsgrad": (lambda: nko.Adam(0.01, amsgrad=True),
                         lambda: keras.optimizers.Adam(0.01, amsgrad=True)),
        "adamw_ema": (lambda: nko.AdamW(0.01, weight_decay=0.05, use_ema=True),
                      lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05, use_ema=True)),
        "rmsprop_centered": (lambda: nko.RMSprop(0.01, momentum=0.5, centered=True),
                             lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True)),
        "adagrad": (lambda: nko.Adagrad(0.1), lambda: keras.optimizers.Adagrad(0.1)),
    }


# Keras' own lists of slot variables, one entry per trainable variable, and neuralab's slot
KERAS_SLOT_LISTS = {"SGD": [("momentums", "velocity")],
                    "Adam": [("_momentums", "m"), ("_velocities", "v"), ("_velocity_hats", "v_hat")],
                    "AdamW": [("_momentums", "m"), ("_velocities", "v"), ("_velocity_hats", "v_hat")],
                    "RMSprop": [("_velocities", "velocity"), ("_momentums", "momentum"),
                                ("_average_gradients", "average_gradient")],
                    "Adagrad": [("_accumulators", "accumulator")]}


def paired_slots(keras_model, model):
    """``(Keras slot value, neuralab slot value, neuralab slot name)`` for every slot Keras
    keeps, matched through Keras' own per-variable lists and the weights' paths."""
    optimizer = keras_model.optimizer
    by_path = {p.name: p for p in model.trainable_weights}
    lists = list(KERAS_SLOT_LISTS[type(optimizer).__name__])
    if optimizer.use_ema:
        lists.append(("_model_variables_moving_average", "average"))
    pairs = []
    for variable in keras_model.trainable_variables:
        index = optimizer._get_variable_index(variable)
        for keras_list, slot in lists:
            values = getattr(optimizer, keras_list, None)
            if values:
                pairs.append((np.asarray(values[index]),
                              model.optimizer.get_slot(by_path[variable.path], slot), slot))
    return pairs


@pytest.mark.parametrize("label", sorted(keras_optimizers()))
def test_optimizer_state_reaches_keras_and_training_continues_alike(tmp_path, rng, label):
    ours, _ = keras_optimizers()[label]
    model = dense_stack(rng)
    model.compile(optimizer=ours(), loss="mse")
    x, y = regression_data(rng)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert int(loaded.optimizer.iterations) == model.optimizer.iterations == 6
    pairs = paired_slots(loaded, model)
    assert len(pairs) >= len(model.trainable_weights)
    for theirs, mine, _ in pairs:
        np.testing.assert_array_equal(theirs, mine)
    # one more epoch each from the saved state: the same weights (Keras' rules in both)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for theirs, mine in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(theirs, mine, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("label", ["sgd", "rmsprop"])
def test_pytorch_style_momentum_reaches_keras_in_keras_units(tmp_path, rng, label):
    """neuralab.optimizers keep SGD's ``v = m v + g`` and RMSprop's ``v = m v + g / d``;
    Keras reads ``-lr v`` and ``lr v``."""
    optimizer, slot, scale = {"sgd": (neuralab.optimizers.SGD(0.05, momentum=0.9), "velocity", -0.05),
                              "rmsprop": (neuralab.optimizers.RMSprop(0.01, momentum=0.5),
                                          "momentum", 0.01)}[label]
    model = dense_stack(rng)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(*regression_data(rng), batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    pairs = [(theirs, mine) for theirs, mine, name in paired_slots(loaded, model) if name == slot]
    assert len(pairs) == len(model.trainable_weights)
    for theirs, mine in pairs:
        assert np.abs(mine).max() > 0
        np.testing.assert_allclose(theirs, np.float32(scale) * mine, rtol=1e-6)


@pytest.mark.parametrize("label", ["sgd_momentum", "adam_amsgrad", "rmsprop_momentum", "adagrad"])
def test_keras_optimizer_state_reaches_neuralab(tmp_path, rng, label):
    """Keras' files rebuild neuralab.optimizers (PyTorch's rules): SGD's velocity comes back
    as ``-u / lr`` and RMSprop's momentum as ``u / lr``; the other slots as they are."""
    factory = {"sgd_momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
               "adam_amsgrad": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
               "rmsprop_momentum": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5),
               "adagrad": lambda: keras.optimizers.Adagrad(0.1)}[label]
    model = keras_graph(rng)
    model.compile(optimizer=factory(), loss="categorical_crossentropy")
    x = graph_input(rng)
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, len(x[0]))]
    model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    model.save(tmp_path / "k.keras")
    loaded = neuralab.load_model(tmp_path / "k.keras")
    assert type(loaded.optimizer).__module__ == "neuralab.optimizers"
    assert loaded.optimizer.iterations == int(model.optimizer.iterations) > 0
    lr = float(np.float32(model.optimizer.learning_rate))
    scale = {"sgd_momentum": {"velocity": -lr}, "rmsprop_momentum": {"momentum": lr}}.get(label, {})
    pairs = paired_slots(model, loaded)
    assert len(pairs) >= len(loaded.trainable_weights)
    for theirs, mine, slot in pairs:
        np.testing.assert_allclose(mine * scale.get(slot, 1.0), theirs, rtol=1e-6, atol=1e-9)


def test_weights_files_carry_the_optimizer_state_both_ways(tmp_path, rng):
    """Keras writes a compiled model's optimizer variables into ``.weights.h5`` too, and
    reads them into an optimizer that is built."""
    ours, theirs = keras_optimizers()["adam_amsgrad"]
    x, y = regression_data(rng)
    model = dense_stack(rng)
    model.compile(optimizer=ours(), loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model.save_weights(tmp_path / "ours.weights.h5")
    twin = keras.saving.load_model(_saved(model, tmp_path / "twin.keras"), compile=False)
    twin.compile(optimizer=theirs(), loss="mse")
    twin.optimizer.build(twin.trainable_variables)
    twin.load_weights(tmp_path / "ours.weights.h5")
    assert int(twin.optimizer.iterations) == model.optimizer.iterations == 3
    for keras_value, value, _ in paired_slots(twin, model):
        np.testing.assert_array_equal(keras_value, value)
    twin.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    twin.save_weights(tmp_path / "theirs.weights.h5")
    model.load_weights(tmp_path / "theirs.weights.h5")
    assert model.optimizer.iterations == 6
    for keras_value, value, _ in paired_slots(twin, model):
        np.testing.assert_array_equal(keras_value, value)


def _saved(model, path):
    model.save(path)
    return path


def test_keras_model_compiled_but_never_trained_gives_a_fresh_optimizer(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.save(tmp_path / "k.keras")  # only iteration and learning_rate are saved
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = neuralab.load_model(tmp_path / "k.keras")
    assert loaded.optimizer.iterations == 0
    assert np.float32(loaded.optimizer.learning_rate) == np.float32(0.02)  # a float32 in Keras


def resume_cases():
    from neuralab.keras import optimizers as nko
    return {"adam": lambda: neuralab.optimizers.Adam(0.01),
            "adagrad": lambda: neuralab.optimizers.Adagrad(0.1),
            "rmsprop_centered": lambda: neuralab.optimizers.RMSprop(0.01, centered=True),
            "keras_sgd_momentum": lambda: nko.SGD(0.05, momentum=0.9),
            "keras_adam_ema": lambda: nko.Adam(0.01, use_ema=True, ema_overwrite_frequency=5)}


@pytest.mark.parametrize("label", sorted(resume_cases()))
def test_training_resumed_from_a_keras_file_equals_uninterrupted_training(tmp_path, label):
    """Bit for bit. With ``use_ema`` the reference is two ``fit`` calls without the file,
    because (as in Keras) the end of ``fit`` copies the averages into the weights."""
    factory = resume_cases()[label]
    x, y = regression_data(np.random.default_rng(3))
    runs = []
    for _ in range(2):
        model = dense_stack(np.random.default_rng(5))
        model.compile(optimizer=factory(), loss="mse")
        runs.append(model)
    uninterrupted, first = runs
    for epochs in ((2, 2) if "ema" in label else (4,)):
        uninterrupted.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    first.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    first.save(tmp_path / "half.keras")
    resumed = neuralab.load_model(tmp_path / "half.keras")
    assert type(resumed.optimizer) is type(first.optimizer)
    resumed.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations == 12
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_pytorch_style_sgd_momentum_resumes_up_to_float32_rounding(tmp_path):
    """neuralab.optimizers.SGD keeps ``v = m v + g``; the file keeps Keras' ``-lr v``, so the
    round trip may move the velocity's last bit."""
    x, y = regression_data(np.random.default_rng(3))
    runs = []
    for _ in range(2):
        model = dense_stack(np.random.default_rng(5))
        model.compile(optimizer=neuralab.optimizers.SGD(0.05, momentum=0.9), loss="mse")
        runs.append(model)
    uninterrupted, first = runs
    uninterrupted.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0)
    first.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    first.save(tmp_path / "half.keras")
    resumed = neuralab.load_model(tmp_path / "half.keras")
    for p, q in zip(resumed.trainable_weights, first.trainable_weights):
        np.testing.assert_allclose(resumed.optimizer.get_slot(p, "velocity"),
                                   first.optimizer.get_slot(q, "velocity"), rtol=1e-6)
    resumed.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_an_optimizer_state_of_another_size_is_skipped_with_a_warning(tmp_path, rng):
    import h5py

    model = dense_stack(rng)
    model.compile(optimizer=neuralab.optimizers.Adam(0.01), loss="mse")
    model.fit(*regression_data(rng), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")

    def drop_last_variable(path):
        with zipfile.ZipFile(path) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        (tmp_path / "w.h5").write_bytes(members["model.weights.h5"])
        with h5py.File(tmp_path / "w.h5", "a") as f:
            group = f["optimizer/vars"]
            del group[str(len(group) - 1)]
        members["model.weights.h5"] = (tmp_path / "w.h5").read_bytes()
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    drop_last_variable(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="skipping the optimizer state: the file has 13 optimizer "
                                         "variables, Adam with these settings keeps 14"):
        loaded = neuralab.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.iterations == 0


def test_a_masked_recurrent_keras_model_resumes_training_in_neuralab_alike(tmp_path, rng):
    """Keras trains a padded-text model with momentum SGD and saves it; neuralab loads the
    file (the mask ops of Keras' graph left out, the velocities in Keras' weight order) and
    one more epoch in each library gives the same weights. (SGD: a Keras file's Adam comes
    back as neuralab's, PyTorch's epsilon placement, which differs where v is tiny.)"""
    model = keras_text(rng)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.concatenate([text_input(rng) for _ in range(4)])
    y = rng.integers(0, 2, len(x))
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    model.save(tmp_path / "text.keras")
    loaded = neuralab.load_model(tmp_path / "text.keras")
    assert loaded.optimizer.iterations == int(model.optimizer.iterations) == 8
    theirs = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    mine = loaded.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(mine["loss"], theirs["loss"], rtol=1e-4)
    np.testing.assert_allclose(mine["accuracy"], theirs["accuracy"])
    for k_w, n_w in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(n_w, np.asarray(k_w), rtol=1e-4, atol=1e-5)
