"""User-defined layers in Keras' own files: neuralab writes them as Keras 3 writes custom
layers (``module``, ``class_name``, ``config``, ``registered_name``, ``build_config``;
weights at ``layers/<key>/vars/0..n``), so Keras 3 loads the file with its equivalent class
registered under the same name, and the reverse."""

import json
import os
import warnings
import zipfile

import numpy as np
import pytest

import neuralab
from neuralab import layers, ops
from neuralab.errors import InputError
from neuralab.models import Input, Model, Sequential

h5py = pytest.importorskip("h5py", reason="Keras files need h5py")
os.environ["KERAS_BACKEND"] = "jax"
try:
    import keras
except Exception as error:  # noqa: BLE001 - keras or its JAX backend missing or broken
    pytest.skip(f"Keras 3 with the JAX backend is not importable ({error})", allow_module_level=True)

ATOL = RTOL = 1e-6  # float32 outputs of order one
PACKAGE = "kerascustom_tests"


@neuralab.saving.register_keras_serializable(package=PACKAGE)
class Affine(layers.Layer):
    """A Dense-like layer: ``x @ w + b``."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", name="b")
        super().build(input_shape)

    def call(self, x):
        return ops.matmul(x, self.w) + self.b

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class KerasTwins:
    """Keras' classes of the same names (Keras finds a custom layer's weights under its class
    name in snake case: ``layers/affine/vars``), registered under the same names."""

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class Affine(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")
            self.b = self.add_weight(shape=(self.units,), name="b")

        def call(self, x):
            return keras.ops.matmul(x, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}


KerasAffine = KerasTwins.Affine


@neuralab.saving.register_keras_serializable(package=PACKAGE)
class Centered(layers.Layer):
    """``(x - offset) * scale``: a trainable weight, then a non-trainable one."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                      trainable=False, name="offset")
        super().build(input_shape)

    def call(self, x):
        return (x - self.offset) * self.scale


class KerasCentered:
    @keras.saving.register_keras_serializable(package=PACKAGE)
    class Centered(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
            self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                          trainable=False, name="offset")

        def call(self, x):
            return (x - self.offset) * self.scale


class Shift(layers.Layer):
    """Not registered: ``x + s``, found through ``custom_objects`` only."""

    def build(self, input_shape):
        self.s = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="s")
        super().build(input_shape)

    def call(self, x):
        return x + self.s


def neuralab_sequential():
    return Sequential([layers.InputLayer((4,)), Affine(3, name="first"), layers.Dense(5),
                       Affine(2, name="second")])


def neuralab_functional():
    inp = Input(shape=(4,), name="x")
    h = Affine(3, name="first")(inp)
    out = Affine(2, name="second")(layers.Dense(5, activation="tanh")(h))
    return Model(inp, out)


def keras_sequential():
    return keras.Sequential([keras.Input((4,)), KerasAffine(3, name="first"), keras.layers.Dense(5),
                             KerasAffine(2, name="second")])


def keras_functional():
    inp = keras.Input((4,), name="x")
    h = KerasAffine(3, name="first")(inp)
    out = KerasAffine(2, name="second")(keras.layers.Dense(5, activation="tanh")(h))
    return keras.Model(inp, out)


NEURALAB = {"sequential": neuralab_sequential, "functional": neuralab_functional}
KERAS = {"sequential": keras_sequential, "functional": keras_functional}


def randomize(model, rng):
    model.set_weights([rng.standard_normal(w.shape).astype("float32") for w in model.get_weights()])
    return model


def inputs(rng):
    return rng.standard_normal((6, 4)).astype("float32")


def keras_predict(model, x):
    return np.asarray(model(x, training=False))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", sorted(NEURALAB))
def test_neuralab_custom_layer_loads_in_keras_with_the_same_predictions(tmp_path, rng, kind, suffix):
    model, x = randomize(NEURALAB[kind](), rng), inputs(rng)
    path = tmp_path / f"custom{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to neuralab's zip
        model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert [type(layer) for layer in loaded.layers if layer.weights] == \
        [KerasAffine, keras.layers.Dense, KerasAffine]
    np.testing.assert_allclose(keras_predict(loaded, x), model.predict(x, verbose=0),
                               atol=ATOL, rtol=RTOL)


def test_custom_layer_entry_is_what_keras_writes(tmp_path, rng):
    """The entry and weight groups Keras 3 writes for its own custom layer, field by field."""
    ours, theirs = tmp_path / "ours.keras", tmp_path / "theirs.keras"
    neuralab_sequential().save(ours)
    keras_sequential().save(theirs)
    entries, groups = [], []
    for path in (ours, theirs):
        with zipfile.ZipFile(path) as zf:
            entries.append(json.loads(zf.read("config.json"))["config"]["layers"][1])
            with h5py.File(zf.open("model.weights.h5"), "r") as f:
                found: list[str] = []
                f["layers"].visit(found.append)
                groups.append(sorted(found))
    ours_entry, keras_entry = entries
    assert ours_entry["class_name"] == keras_entry["class_name"] == "Affine"
    assert ours_entry["registered_name"] == keras_entry["registered_name"] == f"{PACKAGE}>Affine"
    assert ours_entry["build_config"] == keras_entry["build_config"] == {"input_shape": [None, 4]}
    assert ours_entry["module"] == __name__ == keras_entry["module"]
    assert ours_entry["config"]["units"] == keras_entry["config"]["units"] == 3
    assert groups[0] == groups[1]  # layers/affine/vars/0, 1; layers/dense/...; layers/affine_1/...
    assert "affine_1/vars/1" in groups[0]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", sorted(KERAS))
def test_keras_custom_layer_loads_in_neuralab_with_the_same_predictions(tmp_path, rng, kind, suffix):
    model, x = randomize(KERAS[kind](), rng), inputs(rng)
    path = tmp_path / f"keras_custom{suffix}"
    model.save(path)
    loaded = neuralab.load_model(path)
    assert [type(layer) for layer in loaded.layers if layer.weights] == \
        [Affine, layers.Dense, Affine]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), keras_predict(model, x),
                               atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", sorted(NEURALAB))
def test_custom_layer_round_trips_through_neuralab(tmp_path, rng, kind, suffix):
    model, x = randomize(NEURALAB[kind](), rng), inputs(rng)
    model.save(tmp_path / f"m{suffix}")
    loaded = neuralab.load_model(tmp_path / f"m{suffix}")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [layer.name for layer in loaded.layers if layer.weights] == \
        [layer.name for layer in model.layers if layer.weights]


def test_unregistered_custom_layer_loads_through_custom_objects(tmp_path, rng):
    model = randomize(Sequential([layers.InputLayer((4,)), Shift(name="shift"), layers.Dense(2)]), rng)
    x = inputs(rng)
    path = tmp_path / "shift.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        entry = json.loads(zf.read("config.json"))["config"]["layers"][1]
    assert entry["registered_name"] == "Shift"  # Keras' name for an unregistered class
    loaded = neuralab.load_model(path, custom_objects={"Shift": Shift})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_unknown_custom_layer_names_the_class_and_the_ways_to_register_it(tmp_path, rng):
    path = tmp_path / "shift.keras"
    Sequential([layers.InputLayer((4,)), Shift(name="shift")]).save(path)
    with pytest.raises(InputError, match=r"(?s)shift\.keras.*'Shift'.*custom_objects.*"
                                         r"register_keras_serializable"):
        neuralab.load_model(path)


def test_custom_layer_holding_layers_falls_back_to_neuralab_format(tmp_path, rng):
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(3)

        def build(self, input_shape):
            self.inner.build(input_shape)
            super().build(input_shape)

        def call(self, x):
            return self.inner(x)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 3)

    model = Sequential([layers.InputLayer((4,)), Block(name="block")])
    x = inputs(rng)
    model.predict(x, verbose=0)
    with pytest.warns(UserWarning, match="neuralab's own format.*'block'.*holds layers"):
        model.save(tmp_path / "block.keras")
    loaded = neuralab.load_model(tmp_path / "block.keras", custom_objects={"Block": Block})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_non_trainable_weights_of_a_custom_layer_move_both_ways(tmp_path, rng):
    x = inputs(rng)
    ours = randomize(Sequential([layers.InputLayer((4,)), Centered(name="c"), Affine(2)]), rng)
    ours.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras", compile=False)
    np.testing.assert_array_equal(np.asarray(theirs.layers[0].non_trainable_weights[0]),
                                  ours.get_layer("c").offset.data)
    np.testing.assert_allclose(keras_predict(theirs, x), ours.predict(x, verbose=0),
                               atol=ATOL, rtol=RTOL)
    randomize(theirs, rng).save(tmp_path / "theirs.keras")
    back = neuralab.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), keras_predict(theirs, x),
                               atol=ATOL, rtol=RTOL)


def test_compiled_model_with_a_custom_layer_keeps_its_optimizer_state_in_keras(tmp_path, rng):
    model = randomize(neuralab_sequential(), rng)
    model.compile(optimizer=neuralab.keras.optimizers.Adam(0.01), loss="mse")
    x, y = inputs(rng), rng.standard_normal((6, 2)).astype("float32")
    model.fit(x, y, epochs=2, batch_size=3, verbose=0)  # 4 steps
    model.save(tmp_path / "trained.keras")
    loaded = keras.saving.load_model(tmp_path / "trained.keras")
    assert int(loaded.optimizer.iterations) == 4
    assert loaded.optimizer.variables[2].shape == (4, 3)  # Adam's first moment of first.w
    assert np.abs(np.asarray(loaded.optimizer.variables[2])).max() > 0
    np.testing.assert_allclose(keras_predict(loaded, x), model.predict(x, verbose=0),
                               atol=ATOL, rtol=RTOL)


def test_custom_layer_with_a_frozen_weight_first_falls_back_to_neuralab_format(tmp_path, rng):
    class FrozenFirst(layers.Layer):
        def build(self, input_shape):
            self.offset = self.add_weight(shape=(input_shape[-1],), trainable=False, name="offset")
            self.scale = self.add_weight(shape=(input_shape[-1],), name="scale")
            super().build(input_shape)

        def call(self, x):
            return (x - self.offset) * self.scale

    model = randomize(Sequential([layers.InputLayer((4,)), FrozenFirst(name="ff")]), rng)
    x = inputs(rng)
    with pytest.warns(UserWarning, match="'ff'.*non-trainable weight before a trainable one"):
        model.save(tmp_path / "ff.keras")
    loaded = neuralab.load_model(tmp_path / "ff.keras", custom_objects={"FrozenFirst": FrozenFirst})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_h5_of_a_model_with_custom_layers_move_between_neuralab_and_keras(tmp_path, rng):
    ours, theirs, x = randomize(neuralab_functional(), rng), keras_functional(), inputs(rng)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_allclose(keras_predict(theirs, x), ours.predict(x, verbose=0),
                               atol=ATOL, rtol=RTOL)
    randomize(theirs, rng).save_weights(tmp_path / "theirs.weights.h5")
    ours.load_weights(tmp_path / "theirs.weights.h5")
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras_predict(theirs, x),
                               atol=ATOL, rtol=RTOL)


def test_model_from_json_reads_keras_json_with_custom_layers():
    rebuilt = neuralab.models.model_from_json(keras_functional().to_json())
    assert [type(layer) for layer in rebuilt.layers if layer.weights] == [Affine, layers.Dense, Affine]
    assert [rebuilt.get_layer(name).units for name in ("first", "second")] == [3, 2]
    assert [w.shape for w in rebuilt.get_weights()] == [(4, 3), (3,), (3, 5), (5,), (5, 2), (2,)]
