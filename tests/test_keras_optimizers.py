"""neuralab.keras.optimizers: Keras 3's own optimizer tests, ported to NumPy with their golden
values and tolerances (keras/src/optimizers/{sgd,adam,adamw,rmsprop,adagrad,optimizer}_test.py),
then what neuralab adds: flat model buffers, compile/fit, save/load, Keras 2's ``decay``."""

import pickle
import warnings

import numpy as np
import pytest

import neuralab as nl
from neuralab import optimizers as torch_style
from neuralab import schedules
from neuralab.keras import optimizers
from neuralab.keras.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from neuralab.parameter import Parameter

ALL = [SGD, Adam, AdamW, RMSprop, Adagrad]


def variable(value, name=""):
    """A float32 parameter, as ``backend.Variable`` makes one."""
    return Parameter(np.array(value, dtype="float32"), name=name)


def arange_grads():
    return np.arange(0.1, 1.1, 0.1, dtype="float32")  # ops.arange(0.1, 1.1, 0.1)


def assert_close(actual, desired, rtol=1e-6, atol=1e-6):  # testing.TestCase.assertAllClose
    np.testing.assert_allclose(np.asarray(actual), desired, rtol=rtol, atol=atol)


def assert_config_round_trip(optimizer):  # run_class_serialization_test, config part
    config = optimizer.get_config()
    clone = type(optimizer).from_config(dict(config))
    assert type(clone) is type(optimizer)
    assert clone.get_config() == config
    revived = optimizers.deserialize(optimizers.serialize(optimizer))
    assert type(revived) is type(optimizer) and revived.get_config() == config


# -- test_config ------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", [
    SGD(learning_rate=0.5, momentum=0.06, nesterov=True, weight_decay=0.004),
    Adam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5, amsgrad=True),
    AdamW(learning_rate=0.5, weight_decay=0.008, beta_1=0.5, beta_2=0.67, epsilon=1e-5,
          amsgrad=True),
    RMSprop(learning_rate=0.5, rho=0.8, momentum=0.05, epsilon=1e-6, centered=True),
    Adagrad(learning_rate=0.5, initial_accumulator_value=0.2, epsilon=1e-5),
], ids=lambda o: type(o).__name__)
def test_config_round_trips(optimizer):
    assert_config_round_trip(optimizer)


# -- test_single_step -------------------------------------------------------------------
@pytest.mark.parametrize("cls, expected", [
    (SGD, [0.5, -1.0, -0.5, 3.0]),
    (Adam, [0.5, 1.5, 2.5, 3.5]),
    (AdamW, [0.4980, 1.4960, 2.494, 3.492]),
    (RMSprop, [-0.5811, 0.4189, 1.4189, 2.4189]),
    (Adagrad, [0.5233, 1.5007, 2.5005, 3.5061]),
])
def test_single_step_matches_keras(cls, expected):
    optimizer = cls(learning_rate=0.5)
    grads = np.array([1.0, 6.0, 7.0, 2.0], dtype="float32")
    var = variable([1.0, 2.0, 3.0, 4.0])
    optimizer.apply_gradients(zip([grads], [var]))
    assert_close(var.data, expected, rtol=1e-4, atol=1e-4)


# -- test_weight_decay ------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
def test_weight_decay_is_decoupled_and_exclusions_hold(cls):
    grads, var1, var2, var3 = (np.zeros((), "float32"), variable(2.0), variable(2.0, "exclude"),
                               variable(2.0))
    optimizer_1 = cls(learning_rate=1.0, weight_decay=0.004)
    optimizer_1.apply_gradients(zip([grads], [var1]))

    optimizer_2 = cls(learning_rate=1.0, weight_decay=0.004)
    optimizer_2.exclude_from_weight_decay(var_names=["exclude"])
    optimizer_2.apply_gradients(zip([grads, grads], [var1, var2]))

    optimizer_3 = cls(learning_rate=1.0, weight_decay=0.004)
    optimizer_3.exclude_from_weight_decay(var_list=[var3])
    optimizer_3.apply_gradients(zip([grads, grads], [var1, var3]))

    np.testing.assert_almost_equal(float(var1.data), 1.9760959, decimal=6)
    np.testing.assert_almost_equal(float(var2.data), 2.0, decimal=6)
    np.testing.assert_almost_equal(float(var3.data), 2.0, decimal=6)


def test_one_adam_weight_decay_step_gives_keras_1_992_not_pytorch_coupled_value():
    keras_var, torch_var = variable(2.0), variable(2.0)
    Adam(learning_rate=1.0, weight_decay=0.004).apply_gradients([(np.zeros((), "float32"),
                                                                  keras_var)])
    torch_style.Adam(learning_rate=1.0, weight_decay=0.004).apply_gradients(
        [(np.zeros((), "float32"), torch_var)])
    np.testing.assert_almost_equal(float(keras_var.data), 1.992, decimal=6)
    np.testing.assert_almost_equal(float(torch_var.data), 1.0000125, decimal=5)


def test_adamw_refuses_weight_decay_none():
    with pytest.raises(ValueError, match="Argument `weight_decay` must be a float. "
                                         "Received: weight_decay=None"):
        AdamW(learning_rate=1.0, weight_decay=None)


def test_exclusions_are_fixed_once_the_optimizer_has_stepped():
    optimizer = SGD(weight_decay=0.1)
    optimizer.apply_gradients([(np.ones(2, "float32"), variable([1.0, 2.0]))])
    with pytest.raises(ValueError, match="before the optimizer is built"):
        optimizer.exclude_from_weight_decay(var_names=["bias"])


# -- test_correctness_with_golden ---------------------------------------------------------
GOLDEN = {
    "sgd": (lambda: SGD(nesterov=True), np.array(
        [[0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999],
         [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
         [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
         [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
         [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599]])),
    "adam_amsgrad": (lambda: Adam(amsgrad=True), np.tile(
        [[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))),
    "adamw": (lambda: AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2), np.array(
        [[0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998],
         [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
         [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
         [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
         [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159]])),
    "rmsprop_centered": (lambda: RMSprop(centered=True), np.tile(
        [[0.9967], [0.9933], [0.9908], [0.9885], [0.9864]], (1, 10))),
    "adagrad": (lambda: Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6),
                np.array(
        [[0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963],
         [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
         [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
         [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
         [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825]])),
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_trajectory_matches_keras_golden_values(case):
    make, golden = GOLDEN[case]
    optimizer = make()
    x = variable(np.ones([10]))
    grads, first_grads = arange_grads(), np.full((10,), 0.01, "float32")
    optimizer.apply_gradients(zip([first_grads], [x]))
    for i in range(5):
        assert_close(x.data, golden[i], rtol=5e-4, atol=5e-4)
        optimizer.apply_gradients(zip([grads], [x]))


# -- test_clip_norm / test_clip_value (optimizer_test too) -------------------------------
@pytest.mark.parametrize("cls", ALL)
def test_clipnorm_rescales_each_gradient(cls):
    var = variable([0.0, 0.0])
    cls(clipnorm=1).apply_gradients([(np.array([100.0, 100.0], "float32"), var)])
    assert_close(var.grad, [2**0.5 / 2, 2**0.5 / 2])  # neuralab clips p.grad in place


@pytest.mark.parametrize("cls", ALL)
def test_clipvalue_clips_each_element(cls):
    var = variable([0.0, 0.0])
    cls(clipvalue=1).apply_gradients([(np.array([100.0, 100.0], "float32"), var)])
    assert_close(var.grad, [1.0, 1.0])


def test_global_clipnorm_rescales_all_gradients_together():
    grad = np.array([50.0, 100.0], dtype="float32")
    var = variable([0.0, 0.0])
    SGD(global_clipnorm=1).apply_gradients([(grad, var)])
    assert_close(var.grad, grad / np.linalg.norm(grad))


def test_clip_args_are_kept_and_at_most_one_is_allowed():
    assert SGD(learning_rate=1.0, clipnorm=0.1).clipnorm == 0.1
    assert SGD(learning_rate=1.0, clipvalue=0.1).clipvalue == 0.1
    assert SGD(learning_rate=1.0, global_clipnorm=0.1).global_clipnorm == 0.1
    message = "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can"
    with pytest.raises(ValueError, match=message):
        SGD(learning_rate=1.0, clipnorm=0.1, clipvalue=0.1)
    with pytest.raises(ValueError, match=message):
        SGD(learning_rate=1.0, clipnorm=0.1, global_clipnorm=0.1)


# -- optimizer_test.py ------------------------------------------------------------------
def test_iterations_count_applied_steps():
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    grads = np.ones((2, 2), "float32")
    optimizer = Adam(learning_rate=1.0)
    assert optimizer.iterations == 0
    optimizer.apply_gradients([(grads, v)])
    assert optimizer.iterations == 1
    optimizer.apply_gradients([(grads, v)])
    assert optimizer.iterations == 2


def test_empty_gradients_are_refused_or_skipped_with_a_warning():
    v = variable([[3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(ValueError, match="No gradients provided for any variable."):
        SGD(learning_rate=1.0).apply_gradients([(None, v)])
    v2 = variable([[3.0, 4.0], [5.0, 6.0]])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        SGD(learning_rate=1.0).apply_gradients([(None, v), (np.ones((2, 2), "float32"), v2)])
    assert_close(v.data, [[3.0, 4.0], [5.0, 6.0]])
    assert_close(v2.data, [[2.0, 3.0], [4.0, 5.0]])


def test_sgd_momentum_must_lie_in_0_1():
    for momentum in (-1.0, 2.0):
        with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]."):
            SGD(momentum=momentum)


def test_ema_keeps_an_average_and_overwrites_every_frequency_steps():
    v = variable([[3.0, 4.0], [5.0, 6.0]])
    grads = np.ones((2, 2), "float32")
    optimizer = SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=3)
    optimizer.apply_gradients([(grads, v)])
    assert_close(v.data, [[2.0, 3.0], [4.0, 5.0]])
    assert_close(optimizer.get_slot(v, "average"), [[2.0, 3.0], [4.0, 5.0]])  # first step copies
    optimizer.apply_gradients([(grads, v)])
    assert_close(v.data, [[1.0, 2.0], [3.0, 4.0]])
    assert_close(optimizer.get_slot(v, "average"), [[1.9, 2.9], [3.9, 4.9]])
    optimizer.apply_gradients([(grads, v)])
    assert_close(v.data, [[1.71, 2.71], [3.71, 4.71]])  # overwritten with the average
    assert_close(optimizer.get_slot(v, "average"), [[1.71, 2.71], [3.71, 4.71]])


def test_adam_ema_and_finalize_variable_values():
    optimizer = Adam(learning_rate=1.0, use_ema=True, ema_momentum=0.9)
    var = variable([1.0, 2.0])
    grads = np.array([0.1, 0.2], "float32")
    optimizer.apply_gradients([(grads, var)])
    v1 = var.data.copy()
    assert_close(optimizer.get_slot(var, "average"), v1)
    optimizer.apply_gradients([(grads, var)])
    v2 = var.data.copy()
    expected_ema = 0.9 * v1 + 0.1 * v2
    assert_close(optimizer.get_slot(var, "average"), expected_ema)
    optimizer.finalize_variable_values([var])
    assert_close(var.data, expected_ema)


def test_adam_ema_overwrite_frequency():
    optimizer = Adam(learning_rate=1.0, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=2)
    optimizer_no_ema = Adam(learning_rate=1.0)
    var, var_no_ema = variable([1.0, 2.0]), variable([1.0, 2.0])
    grads = np.array([0.1, 0.2], "float32")
    optimizer.apply_gradients([(grads, var)])
    optimizer_no_ema.apply_gradients([(grads, var_no_ema)])
    v1 = var_no_ema.data.copy()
    assert_close(var.data, v1)
    optimizer.apply_gradients([(grads, var)])
    optimizer_no_ema.apply_gradients([(grads, var_no_ema)])
    expected_ema = 0.9 * v1 + 0.1 * var_no_ema.data
    assert_close(var.data, expected_ema)
    assert_close(optimizer.get_slot(var, "average"), expected_ema)


def test_ema_with_model_fit_golden():
    optimizer = SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.9)
    model = nl.Sequential([nl.layers.Dense(2, kernel_initializer="ones", use_bias=False)])
    model.compile(loss="mse", optimizer=optimizer)
    # Keras broadcasts y of shape (1, 1) against (1, 2) predictions; neuralab wants (1, 2)
    model.fit(np.ones((1, 1), "float32"), np.zeros((1, 2), "float32"), batch_size=1, epochs=2,
              verbose=0)
    kernel = model.trainable_weights[0]
    assert_close(optimizer.get_slot(kernel, "average"), [[0.891, 0.891]], atol=1e-5)
    optimizer.finalize_variable_values(model.trainable_weights)  # Keras' fit does this itself
    assert_close(kernel.data, [[0.891, 0.891]], atol=1e-5)


def test_callable_learning_rate_is_called_without_arguments():
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer = SGD(learning_rate=lambda: 0.1)
    assert optimizer.iterations == 0
    optimizer.apply_gradients([(np.ones((2, 2), "float32"), v)])
    assert_close(v.data, [[0.9, 1.9], [2.9, 3.9]])
    assert optimizer.iterations == 1


def test_get_resolves_keras_names_to_these_classes():
    assert isinstance(optimizers.get("sgd"), SGD)
    assert isinstance(optimizers.get("adamw"), AdamW)
    assert optimizers.get(None) is None
    with pytest.raises(ValueError):
        optimizers.get("typo")
    assert type(optimizers.get({"class_name": "Adam", "config": {"learning_rate": 0.5}})) is Adam


@pytest.mark.parametrize("cls", ALL)
def test_optimizers_pickle(cls):
    optimizer = cls()
    assert pickle.loads(pickle.dumps(optimizer)).get_config() == optimizer.get_config()


# -- beyond Keras' tests ----------------------------------------------------------------
def test_nesterov_without_momentum_is_plain_sgd():
    var = variable([1.0, 2.0])
    SGD(learning_rate=0.5, nesterov=True).apply_gradients([(np.array([1.0, 2.0], "float32"), var)])
    assert_close(var.data, [0.5, 1.0])


def test_rmsprop_docstring_example_and_momentum():
    var = variable(10.0)
    RMSprop(learning_rate=0.1).apply_gradients([(np.array(10.0, "float32"), var)])
    assert_close(var.data, 9.683772)  # keras' RMSprop docstring: var1 9.683772
    var, momentum = variable([1.0]), RMSprop(learning_rate=0.1, momentum=0.5)
    for _ in range(2):
        momentum.apply_gradients([(np.array([1.0], "float32"), var)])
    step1 = 0.1 / np.sqrt(0.1 + 1e-7)
    step2 = 0.1 / np.sqrt(0.9 * 0.1 + 0.1 + 1e-7)
    assert_close(var.data, [1.0 - step1 - (0.5 * step1 + step2)], rtol=1e-5)


def test_legacy_decay_is_keras_2_inverse_time_decay():
    var = variable([0.0])
    optimizer = SGD(learning_rate=1.0, decay=0.5)
    for _ in range(3):
        optimizer.apply_gradients([(np.array([1.0], "float32"), var)])
    assert_close(var.data, [-(1.0 + 1 / 1.5 + 1 / 2.0)])
    assert optimizer.learning_rate == 1.0 and optimizer.get_config()["decay"] == 0.5


def test_schedule_is_evaluated_at_iterations_and_round_trips():
    schedule = schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    var, optimizer = variable([0.0]), SGD(learning_rate=schedule)
    for _ in range(3):
        optimizer.apply_gradients([(np.array([1.0], "float32"), var)])
    assert_close(var.data, [-1.75])
    assert_config_round_trip(optimizer)
    with pytest.raises(TypeError, match="not settable"):
        optimizer.learning_rate = 0.1


def test_weight_decay_on_a_flat_model_buffer_with_excluded_biases():
    model = nl.Sequential([nl.layers.Dense(3), nl.layers.Dense(1)])
    model.build((None, 4))
    model.flatten_parameters()
    params = model.trainable_weights
    before = [p.data.copy() for p in params]
    optimizer = SGD(learning_rate=0.5, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    for p in params:
        p.grad = np.zeros_like(p.data)
    optimizer.step(params)
    for p, old in zip(params, before):
        assert_close(p.data, old if "bias" in p.name else old * (1 - 0.05))


@pytest.mark.parametrize("cls", ALL)
def test_compiled_model_trains_and_save_load_round_trips(cls, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    model = nl.Sequential([nl.layers.Dense(8, activation="relu"), nl.layers.Dense(1)])
    model.compile(optimizer=cls(learning_rate=0.01, use_ema=True, weight_decay=1e-3), loss="mse")
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = nl.models.load_model(path)
    assert type(loaded.optimizer) is cls
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    for p, q in zip(model.optimizer_parameters(), loaded.optimizer_parameters()):
        for name in model.optimizer.slot_names:
            assert_close(loaded.optimizer.get_slot(q, name), model.optimizer.get_slot(p, name))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_neuralab_names_keep_the_pytorch_rules():
    assert nl.optimizers.get("adam").__class__ is torch_style.Adam
    assert torch_style.deserialize(torch_style.serialize(torch_style.Adam())).__class__ \
        is torch_style.Adam
    assert torch_style.serialize(Adam())["registered_name"] == "keras>Adam"


def test_refused_arguments_say_why():
    with pytest.raises(ValueError, match="loss_scale_factor"):
        Adam(loss_scale_factor=128.0)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        Adam(gradient_accumulation_steps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Adam(lr=0.01)  # Keras 2's spelling stays accepted


# -- against Keras 3 itself (JAX backend, the conftest fixture), where it is installed ------
PARITY = {  # name: (neuralab.keras.optimizers class, keyword arguments), the same for Keras
    "sgd": ("SGD", {"learning_rate": 0.1}),
    "sgd_momentum": ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    "sgd_nesterov_no_momentum": ("SGD", {"learning_rate": 0.1, "nesterov": True}),
    "sgd_global_clipnorm_decay": ("SGD", {"learning_rate": 0.1, "momentum": 0.5,
                                          "global_clipnorm": 0.5, "weight_decay": 0.1}),
    "adam": ("Adam", {"learning_rate": 0.01}),
    "adam_amsgrad_decay": ("Adam", {"learning_rate": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    "adam_clipnorm": ("Adam", {"learning_rate": 0.01, "clipnorm": 0.5}),
    "adam_ema": ("Adam", {"learning_rate": 0.05, "use_ema": True, "ema_momentum": 0.8,
                          "ema_overwrite_frequency": 3}),
    "adamw": ("AdamW", {"learning_rate": 0.01}),
    "adamw_big_epsilon": ("AdamW", {"learning_rate": 0.1, "weight_decay": 0.5, "epsilon": 0.3}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "rmsprop_centered_momentum": ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5,
                                              "centered": True, "epsilon": 1e-3}),
    "rmsprop_clipvalue": ("RMSprop", {"learning_rate": 0.01, "clipvalue": 0.05}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1, "epsilon": 1e-3}),
    "adagrad_decay": ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.0,
                                  "weight_decay": 0.2}),
}


@pytest.mark.parametrize("case", sorted(PARITY))
def test_eight_steps_match_keras_3(case, keras):
    name, kwargs = PARITY[case]
    rng = np.random.default_rng(7)
    shapes = {"kernel": (3, 4), "bias": (4,)}
    start = {k: rng.standard_normal(s).astype("float32") for k, s in shapes.items()}
    ours = [Parameter(start[k].copy(), name=k) for k in shapes]
    theirs = [keras.Variable(start[k].copy(), name=k) for k in shapes]
    our_opt = getattr(optimizers, name)(**kwargs)
    their_opt = getattr(keras.optimizers, name)(**kwargs)
    if kwargs.get("weight_decay") or name == "AdamW":
        our_opt.exclude_from_weight_decay(var_names=["bias"])
        their_opt.exclude_from_weight_decay(var_names=["bias"])
    for _ in range(8):
        grads = [rng.standard_normal(s).astype("float32") for s in shapes.values()]
        our_opt.apply_gradients(zip([g.copy() for g in grads], ours))
        their_opt.apply_gradients(zip(grads, theirs))
        for p, v in zip(ours, theirs):
            assert_close(p.data, np.asarray(v), rtol=1e-5, atol=1e-6)
    if kwargs.get("use_ema"):
        for p, average in zip(ours, their_opt._model_variables_moving_average):
            assert_close(our_opt.get_slot(p, "average"), np.asarray(average), rtol=1e-5, atol=1e-6)


def test_exponential_decay_schedule_matches_keras_3(keras):
    rng = np.random.default_rng(3)
    start = rng.standard_normal(5).astype("float32")
    ours, theirs = Parameter(start.copy()), keras.Variable(start.copy())
    our_opt = SGD(learning_rate=schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5),
                  momentum=0.5)
    their_opt = keras.optimizers.SGD(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), momentum=0.5)
    for _ in range(6):
        grad = rng.standard_normal(5).astype("float32")
        our_opt.apply_gradients([(grad.copy(), ours)])
        their_opt.apply_gradients([(grad, theirs)])
    assert_close(ours.data, np.asarray(theirs), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras' own
def test_configs_written_by_keras_3_load_as_these_optimizers(keras):
    made = [keras.optimizers.Adam(0.5, amsgrad=True, weight_decay=0.01, clipnorm=1.0),
            keras.optimizers.SGD(0.5, momentum=0.06, nesterov=True, use_ema=True),
            keras.optimizers.AdamW(), keras.optimizers.RMSprop(centered=True),
            keras.optimizers.Adagrad(epsilon=1e-5)]
    for theirs in made:
        ours = optimizers.deserialize(keras.optimizers.serialize(theirs))
        assert type(ours) is getattr(optimizers, type(theirs).__name__)
        assert ours.get_config() == theirs.get_config()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    ours = optimizers.deserialize(keras.optimizers.serialize(keras.optimizers.Adam(schedule)))
    assert isinstance(ours.schedule, schedules.ExponentialDecay) and ours.schedule(2) == 0.05


def test_backend_set_value_changes_the_learning_rate_as_in_keras_guides():
    optimizer = Adam(learning_rate=0.01)
    nl.backend.set_value(optimizer.learning_rate, 0.5)
    assert nl.backend.get_value(optimizer.learning_rate) == 0.5


def test_fit_ends_with_the_moving_average_of_the_weights_when_use_ema():
    """Keras' fit calls finalize_variable_values after the last epoch: with use_ema the
    weights become their exponential moving average."""
    import neuralab as nl
    from neuralab.keras import optimizers as kopt
    from neuralab.layers import Dense
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    model = nl.Sequential([Dense(2, input_shape=(3,)), Dense(1)])
    optimizer = kopt.SGD(0.05, use_ema=True, ema_momentum=0.9)
    model.compile(optimizer=optimizer, loss="mse")
    seen = []
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[nl.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append([w.copy() for w in model.get_weights()]))])
    averages = [optimizer.get_slot(p, "average").copy() for p in model.trainable_weights]
    for w, average, last in zip(model.get_weights(), averages, seen[-1]):
        np.testing.assert_array_equal(w, average)
        assert not np.array_equal(w, last)  # the raw weights were replaced
