"""Keras import paths and call signatures that real scripts use: ``neuralab.utils.np_utils``,
``neuralab.keras.optimizers.schedules``, ``neuralab.keras.config``, ``neuralab.keras.datasets``
(read from the local data folder, never downloaded here) and Keras 3's initializer call
``init(shape, dtype=None)`` with ``Orthogonal`` (keras/src/initializers/random_initializers_test.py)."""

import importlib
from pathlib import Path

import numpy as np
import pytest

import neuralab as nl
from neuralab import initializers

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


# -- import paths --------------------------------------------------------------------------

def test_np_utils_paths():
    from neuralab.keras.utils import np_utils as keras_np_utils
    from neuralab.keras.utils.np_utils import to_categorical as keras_to_categorical

    from neuralab.utils import np_utils
    from neuralab.utils.np_utils import normalize, to_categorical

    assert keras_np_utils is np_utils and keras_to_categorical is to_categorical is nl.utils.to_categorical
    np.testing.assert_array_equal(to_categorical([0, 2, 1], 3), np.eye(3)[[0, 2, 1]])
    np.testing.assert_allclose(normalize(np.array([[3.0, 4.0]])), [[0.6, 0.8]])


def test_optimizer_schedules_path():
    schedules = importlib.import_module("neuralab.keras.optimizers.schedules")
    from neuralab.keras.optimizers.schedules import ExponentialDecay

    assert schedules is nl.schedules and ExponentialDecay is nl.schedules.ExponentialDecay
    import neuralab.keras as keras
    assert keras.optimizers.schedules is nl.schedules


def test_keras_config():
    import neuralab.keras as keras
    from neuralab.keras import config

    assert keras.config is config
    assert config.floatx() == "float32" and config.epsilon() == 1e-7
    assert config.image_data_format() == "channels_last" and config.backend() == "numpy"
    try:
        config.set_floatx("float64")
        assert nl.backend.floatx() == "float64"
    finally:
        config.set_floatx("float32")
    config.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="channels_last"):
        config.set_image_data_format("channels_first")


# -- datasets ---------------------------------------------------------------------------------

@pytest.fixture
def shared_data(monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA", str(SHARED))
    return SHARED


@pytest.mark.parametrize("name, first_labels", [("mnist", [5, 0, 4, 1, 9]), ("fashion_mnist", None)])
def test_keras_datasets_load_data_shapes_and_dtypes(shared_data, name, first_labels):
    if not (shared_data / name).is_dir():
        pytest.skip(f"{name} is not in {shared_data} (tests never download)")
    module = importlib.import_module(f"neuralab.keras.datasets.{name}")
    (x_train, y_train), (x_test, y_test) = module.load_data()
    assert (x_train.shape, x_train.dtype, y_train.shape, y_train.dtype) == ((60000, 28, 28), np.uint8,
                                                                            (60000,), np.uint8)
    assert (x_test.shape, y_test.shape) == ((10000, 28, 28), (10000,))
    assert set(np.unique(y_test)) == set(range(10))
    if first_labels is not None:  # MANIFEST.md: first train labels 5 0 4 1 9
        assert y_train[:5].tolist() == first_labels


def test_mnist_reads_keras_own_npz(tmp_path):
    from neuralab.keras.datasets import mnist

    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
              "y_train": np.arange(4, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "y_test": np.arange(2, dtype=np.uint8)}
    np.savez(tmp_path / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_cifar10_load_data_gives_keras_label_column(tmp_path):
    from neuralab.datasets.cifar import TEST_BATCH, TRAIN_BATCHES, write_batch
    from neuralab.keras.datasets import cifar10

    rng = np.random.default_rng(0)
    for k, name in enumerate((*TRAIN_BATCHES, TEST_BATCH)):
        write_batch(tmp_path / name, rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), [k % 10] * 3)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(tmp_path)
    n_train = 3 * len(TRAIN_BATCHES)
    assert (x_train.shape, x_train.dtype) == ((n_train, 32, 32, 3), np.uint8)
    assert (y_train.shape, y_train.dtype, y_test.shape) == ((n_train, 1), np.uint8, (3, 1))
    assert y_train[:, 0].tolist() == [k for k in range(len(TRAIN_BATCHES)) for _ in range(3)]


# -- initializers -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "random_normal", "zeros", "orthogonal"])
def test_keras_call_signature_gives_a_float_convertible_value(name):
    value = initializers.get(name)(shape=(1, 1))
    assert isinstance(float(value), float) and value.shape == (1, 1)
    assert isinstance(value.numpy(), np.ndarray) and value.dtype == np.float32
    assert float(initializers.Constant(0.25)(shape=(1, 1), dtype="float64")) == 0.25


def test_neuralab_call_signature_is_unchanged():
    rng = np.random.default_rng(3)
    value = initializers.GlorotUniform()((4, 5), "float64", rng)
    assert type(value) is np.ndarray and value.dtype == np.float64
    expected = np.random.default_rng(3).uniform(-np.sqrt(6 / 9), np.sqrt(6 / 9), size=(4, 5))
    np.testing.assert_array_equal(value, expected)
    with pytest.raises(TypeError, match="one value"):
        float(initializers.Ones()(shape=(2, 1)))


def test_orthogonal_keras_golden_properties():
    # Keras' test: shape (5, 5), gain 2, seed 1234: columns of norm gain, pairwise orthogonal
    initializer = initializers.OrthogonalInitializer(gain=2.0, seed=1234)
    array = initializer(shape=(5, 5)).numpy()
    assert (initializer.seed, initializer.gain) == (1234, 2.0)
    for column in array.T:
        assert np.linalg.norm(column) == pytest.approx(2.0, abs=1e-6)
    np.testing.assert_allclose(array.T @ array, 4.0 * np.eye(5), atol=1e-5)
    clone = initializers.deserialize(initializers.serialize(initializer))
    np.testing.assert_array_equal(clone(shape=(5, 5)), array)  # seeded: same values every call


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (2, 2, 3, 4)])
def test_orthogonal_rectangular_and_conv_kernels(shape):
    w = initializers.Orthogonal(seed=0)(shape, "float64", None).reshape(-1, shape[-1])
    small = min(w.shape)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_orthogonal_needs_two_dimensions():
    with pytest.raises(ValueError, match="at least two-dimensional"):
        initializers.Orthogonal()(shape=(3,))


def test_orthogonal_by_name_in_a_layer():
    nl.set_seed(0)
    layer = nl.layers.Dense(4, kernel_initializer="orthogonal", input_shape=(4,))
    nl.Sequential([layer])
    kernel = layer.kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(kernel.T @ kernel, np.eye(4), atol=1e-5)


def test_keras_saving_save_and_load_model(tmp_path):
    """The guide's ``keras.saving.save_model`` / ``keras.saving.load_model`` round trip."""
    import neuralab as nl
    from neuralab import keras
    model = nl.Sequential([nl.layers.Dense(3, activation="relu", input_shape=(4,)),
                           nl.layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    path = tmp_path / "model.nlz"
    keras.saving.save_model(model, path)
    np.testing.assert_array_equal(keras.saving.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    with pytest.raises(FileExistsError):
        keras.saving.save_model(model, path, overwrite=False)
