"""neuralab.registry and neuralab.saving: one lookup mechanism for every kind of object,
typo suggestions, config round trips, and Keras' custom-object rules for safe loading."""

from __future__ import annotations

import inspect
import json
import sys

import numpy as np
import pytest

import neuralab  # noqa: F401  (imports every kind, so every registry exists)
from neuralab import (
    activations,
    callbacks,
    initializers,
    losses,
    metrics,
    optimizers,
    regularizers,
    saving,
    schedules,
)
from neuralab.layers import Dense, Layer, get_layer_class
from neuralab.layers import base as layers_base
from neuralab.registry import Registry, registries
from neuralab.saving import (
    custom_object_scope,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

KINDS = ("activation", "initializer", "regularizer", "loss", "metric", "optimizer", "schedule",
         "layer", "callback")
MODULES = {"activation": activations, "initializer": initializers, "regularizer": regularizers,
           "loss": losses, "metric": metrics, "optimizer": optimizers, "schedule": schedules,
           "layer": layers_base, "callback": callbacks}


def test_every_kind_has_one_registry():
    found = registries()
    assert set(KINDS) <= set(found)
    assert all(isinstance(found[kind], Registry) for kind in KINDS)


# -- typos ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, resolve, typo, meant", [
    ("activation", activations.get, "sigmoidd", "sigmoid"),
    ("initializer", initializers.get, "glorot_unifrom", "glorot_uniform"),
    ("regularizer", regularizers.get, "l_2", "l2"),
    ("loss", losses.get, "categorical_crossentropyy", "categorical_crossentropy"),
    ("metric", metrics.get, "acuracy", "accuracy"),
    ("optimizer", optimizers.get, "adamm", "adam"),
    ("schedule", schedules.get, "ExponentialDecai", "ExponentialDecay"),
    ("layer", get_layer_class, "Dens", "Dense"),
    ("callback", callbacks.get, "EarlyStoping", "EarlyStopping"),
])
def test_unknown_name_suggests_the_closest_and_lists_the_accepted(kind, resolve, typo, meant):
    with pytest.raises(ValueError) as info:
        resolve(typo)
    message = str(info.value)
    assert message.startswith(f"Unknown {kind} ")
    assert f"{typo!r}" in message
    assert f"did you mean {meant!r}" in message
    assert "accepted: [" in message and repr(meant) in message.split("accepted: ")[1]


def test_a_name_far_from_every_known_one_gets_no_suggestion():
    with pytest.raises(ValueError) as info:
        losses.get("zzzz")
    assert "did you mean" not in str(info.value) and "accepted" in str(info.value)


def test_case_rules_per_kind():
    assert isinstance(losses.get("MSE"), losses.MeanSquaredError)
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert get_layer_class("Dense") is Dense
    with pytest.raises(ValueError, match="did you mean 'Dense'"):
        get_layer_class("dense")  # layer class names are exact, as in Keras configs


def test_none_where_the_kind_allows_it():
    assert regularizers.get(None) is None
    assert isinstance(activations.get(None), activations.Linear)
    with pytest.raises(ValueError, match="Could not interpret loss None"):
        losses.get(None)


# -- round trips of the built-ins ----------------------------------------------------------
def _named_builtins():
    for kind in ("activation", "initializer", "regularizer", "loss", "metric", "optimizer"):
        registry = registries()[kind]
        for name in [*registry.names, *registry.aliases]:
            yield pytest.param(kind, name, id=f"{kind}-{name}")


@pytest.mark.parametrize("kind, name", list(_named_builtins()))
def test_every_builtin_name_round_trips_to_an_equal_config(kind, name):
    module = MODULES[kind]
    obj = module.get(name)
    config = module.serialize(obj)
    assert json.loads(json.dumps(config)) == config  # it can go into a model file
    again = module.deserialize(config)
    assert type(again) is type(obj)
    assert module.serialize(again) == config


SCHEDULE_ARGUMENTS = {
    "Constant": {"learning_rate": 0.1},
    "StepDecay": {"initial_learning_rate": 0.1, "step_size": 10, "drop": 0.5},
    "ExponentialDecay": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
    "CosineDecay": {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.1},
    "PiecewiseConstantDecay": {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]},
}


@pytest.mark.parametrize("class_name", registries()["schedule"].names)
def test_every_schedule_round_trips_to_an_equal_config(class_name):
    schedule = get_registered_object(class_name) or registries()["schedule"].classes[class_name]
    schedule = schedule(**SCHEDULE_ARGUMENTS[class_name])
    config = schedules.serialize(schedule)
    again = schedules.deserialize(json.loads(json.dumps(config)))
    assert schedules.serialize(again) == config
    assert [again(step) for step in (0, 5, 15, 25)] == [schedule(s) for s in (0, 5, 15, 25)]


# a value for each constructor argument a built-in layer requires
LAYER_ARGUMENTS = {"activation": "relu", "units": 3, "filters": 2, "kernel_size": 3, "axes": 1,
                   "rate": 0.25, "input_dim": 10, "output_dim": 4, "target_shape": (2, 2),
                   "shape": (4,), "scale": 0.5}


def _required(cls) -> list[str]:
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _layer_cases():
    for name, cls in sorted(registries()["layer"].classes.items()):
        if issubclass(cls, neuralab.Model):  # models round-trip through save/load (test_models)
            continue
        required = _required(cls) + (["shape"] if name == "InputLayer" else [])
        missing = [arg for arg in required if arg not in LAYER_ARGUMENTS]
        reason = f"needs {missing}: no JSON-able test value"
        marks = [pytest.mark.skip(reason=reason)] if missing else []
        yield pytest.param(name, {arg: LAYER_ARGUMENTS[arg] for arg in required if
                                  arg in LAYER_ARGUMENTS}, marks=marks, id=name)


@pytest.mark.parametrize("class_name, arguments", list(_layer_cases()))
def test_every_builtin_layer_round_trips_to_an_equal_config(class_name, arguments):
    layer = get_layer_class(class_name)(**arguments)
    config = layers_base.serialize(layer)
    assert config["class_name"] == class_name and "registered_name" not in config
    again = layers_base.deserialize(config)
    assert type(again) is type(layer)
    assert layers_base.serialize(again) == config


def test_callbacks_resolve_by_class_name_and_config():
    assert isinstance(callbacks.get("EarlyStopping"), callbacks.EarlyStopping)
    stop = callbacks.deserialize({"class_name": "EarlyStopping", "config": {"patience": 3}})
    assert isinstance(stop, callbacks.EarlyStopping) and stop.patience == 3


# -- custom objects --------------------------------------------------------------------------
@register_keras_serializable(package="test_registry")
class Cube(activations.Activation):
    """``x**3``; dy/dx = 3 x**2 = 3 y**(2/3)."""

    name = "cube"

    def forward(self, x, out=None):
        return np.power(x, 3, out=out)

    def backward(self, dout, y, out=None):
        return np.multiply(dout, 3 * np.cbrt(y) ** 2, out=out)


@register_keras_serializable(package="test_registry")
class ScaledMSE(losses.Loss):
    def __init__(self, scale: float = 2.0, name=None):
        super().__init__(name=name)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * ((y_pred - y_true) ** 2).reshape(len(y_pred), -1).mean(axis=1)

    def get_config(self):
        return {"scale": self.scale}


@register_keras_serializable(package="test_registry")
class CountTrue(metrics.Metric):
    name = "count_true"

    def reset_state(self):
        self.count = 0

    def update_state(self, y_true, y_pred):
        self.count += int(np.sum(np.asarray(y_true) > 0.5))

    def result(self):
        return float(self.count)


@register_keras_serializable(package="test_registry")
class Fives(initializers.Initializer):
    def sample(self, shape, rng):
        return np.full(shape, 5.0)


@register_keras_serializable(package="test_registry")
class Absolute(regularizers.Regularizer):
    def __init__(self, factor: float = 0.1):
        self.factor = factor

    def __call__(self, w):
        return self.factor * float(np.abs(w).sum())

    def gradient(self, w):
        return self.factor * np.sign(w)

    def get_config(self):
        return {"factor": self.factor}


@register_keras_serializable(package="test_registry")
class Scale(Layer):
    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, x, training=False):
        return self.factor * x

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@register_keras_serializable(package="test_registry")
def threes(shape, dtype):
    return np.full(shape, 3.0, dtype=dtype)


CUSTOM_OBJECTS = [
    ("activation", Cube()), ("loss", ScaledMSE(scale=3.0)), ("metric", CountTrue(name="pos")),
    ("initializer", Fives()), ("regularizer", Absolute(0.5)), ("layer", Scale(4.0, name="s")),
]


@pytest.mark.parametrize("kind, obj", CUSTOM_OBJECTS, ids=[kind for kind, _ in CUSTOM_OBJECTS])
def test_a_registered_class_of_every_kind_loads_without_custom_objects(kind, obj):
    module = MODULES[kind]
    config = module.serialize(obj)
    assert config["class_name"] == type(obj).__name__
    assert config["registered_name"] == f"test_registry>{type(obj).__name__}"
    again = module.deserialize(json.loads(json.dumps(config)))
    assert type(again) is type(obj) and module.serialize(again) == config


def test_registered_names_follow_keras():
    assert get_registered_name(Scale) == "test_registry>Scale"
    assert get_registered_object("test_registry>Scale") is Scale
    assert get_registered_name(Dense) == "Dense"  # not registered: its own name
    assert get_registered_object("Scale") is None
    assert saving.get_custom_objects()["test_registry>Scale"] is Scale


def test_a_registered_name_is_usable_wherever_a_name_is():
    assert isinstance(losses.get("test_registry>ScaledMSE"), ScaledMSE)
    dense = Dense(2, activation="test_registry>Cube", kernel_initializer="test_registry>Fives")
    assert isinstance(dense.activation, Cube) and isinstance(dense.kernel_initializer, Fives)


def test_a_registered_function_initializer_saves_as_its_name():
    initializer = initializers.get(threes)
    assert initializers.serialize(initializer) == "test_registry>threes"
    again = initializers.deserialize("test_registry>threes")
    np.testing.assert_array_equal(again((2, 2), "float64"), np.full((2, 2), 3.0))


def test_a_class_saved_without_its_registered_name_is_still_found():
    # configs written by code that did not record "registered_name" name the bare class
    loss = losses.deserialize({"class_name": "ScaledMSE", "config": {"scale": 1.5}})
    assert isinstance(loss, ScaledMSE) and loss.scale == 1.5


def test_a_class_of_another_kind_is_refused():
    with pytest.raises(TypeError, match="not a Loss"):
        losses.deserialize(layers_base.serialize(Scale()))


class Unregistered(losses.Loss):
    def call(self, y_true, y_pred):
        return np.abs(y_pred - y_true).reshape(len(y_pred), -1).mean(axis=1)


def test_an_unknown_class_names_the_two_ways_to_make_it_known():
    config = losses.serialize(Unregistered())
    assert config == {"class_name": "Unregistered", "config": {}}
    with pytest.raises(ValueError) as info:
        losses.deserialize(config)
    message = str(info.value)
    assert "Unknown loss class 'Unregistered'" in message
    assert "custom_objects={'Unregistered': Unregistered}" in message
    assert "@register_keras_serializable()" in message


def test_custom_objects_argument_and_scope_make_a_class_known():
    config = losses.serialize(Unregistered())
    assert isinstance(losses.deserialize(config, custom_objects={"Unregistered": Unregistered}),
                      Unregistered)
    with custom_object_scope({"Unregistered": Unregistered}):
        assert isinstance(losses.deserialize(config), Unregistered)
        assert isinstance(losses.get("Unregistered"), Unregistered)
    with pytest.raises(ValueError, match="Unknown loss class"):
        losses.deserialize(config)  # the scope is closed again


def test_custom_objects_reach_the_configs_nested_inside():
    class Square(activations.Activation):
        def forward(self, x, out=None):
            return np.square(x, out=out)

    config = layers_base.serialize(Dense(2, activation=Square(), name="d"))
    assert config["config"]["activation"] == {"class_name": "Square", "config": {}}
    with pytest.raises(ValueError, match="Unknown activation class 'Square'"):
        layers_base.deserialize(config)
    dense = layers_base.deserialize(config, custom_objects={"Square": Square})
    assert isinstance(dense.activation, Square)


def test_precedence_is_scope_then_registered_then_argument_then_builtin():
    class First(ScaledMSE):
        pass

    class Second(ScaledMSE):
        pass

    config = losses.serialize(ScaledMSE())  # registered as test_registry>ScaledMSE
    key = "test_registry>ScaledMSE"
    assert type(losses.deserialize(config, custom_objects={key: First})) is ScaledMSE
    with custom_object_scope({key: Second}):
        assert type(losses.deserialize(config, custom_objects={key: First})) is Second
    builtin = {"class_name": "MeanSquaredError", "config": {}}
    assert type(losses.deserialize(builtin, custom_objects={"MeanSquaredError": Unregistered})) \
        is Unregistered
    assert type(losses.deserialize(builtin)) is losses.MeanSquaredError


def test_a_loaders_scope_keeps_registered_objects_first():
    with saving.load_scope({"test_registry>ScaledMSE": Unregistered, "Unregistered": Unregistered}):
        assert get_registered_object("test_registry>ScaledMSE") is ScaledMSE
        assert isinstance(losses.deserialize({"class_name": "Unregistered"}), Unregistered)


def test_scopes_nest_and_restore():
    class Inner(losses.MeanSquaredError):
        pass

    class Outer(losses.MeanSquaredError):
        pass

    with custom_object_scope({"X": Outer, "Y": Outer}):
        with custom_object_scope({"X": Inner}):
            assert get_registered_object("X") is Inner and get_registered_object("Y") is Outer
        assert get_registered_object("X") is Outer
    assert get_registered_object("X") is None


def test_loading_never_imports_a_module_named_in_a_config(tmp_path, monkeypatch):
    (tmp_path / "planted_module_abc.py").write_text("class Evil:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for config in ({"module": "planted_module_abc", "class_name": "Evil", "config": {}},
                   {"class_name": "planted_module_abc.Evil", "config": {}},
                   {"class_name": "planted_module_abc:Evil", "config": {}}):
        with pytest.raises(ValueError, match="Unknown layer class"):
            layers_base.deserialize(config)
    assert "planted_module_abc" not in sys.modules


# -- collisions ------------------------------------------------------------------------------
def test_registering_another_object_under_a_taken_name_is_an_error():
    class Once(losses.MeanSquaredError):
        pass

    class Other(losses.MeanSquaredError):
        pass

    register_keras_serializable("test_collision", "Thing")(Once)
    register_keras_serializable("test_collision", "Thing")(Once)  # the same object again: fine
    with pytest.raises(ValueError, match="'test_collision>Thing' is already registered"):
        register_keras_serializable("test_collision", "Thing")(Other)
    with pytest.raises(ValueError, match="already registered as 'test_collision>Thing'"):
        register_keras_serializable("test_collision", "Renamed")(Once)
    assert get_registered_object("test_collision>Thing") is Once


def test_running_the_same_definition_again_replaces_it():
    source = ("from neuralab import losses\nfrom neuralab.saving import "
              "register_keras_serializable\n@register_keras_serializable('test_rerun')\n"
              "class Again(losses.MeanSquaredError):\n    pass\n")
    first, second = {"__name__": "notebook_cell"}, {"__name__": "notebook_cell"}
    exec(source, first)  # noqa: S102
    exec(source, second)  # noqa: S102  (a notebook cell run twice)
    assert get_registered_object("test_rerun>Again") is second["Again"]


def test_a_class_without_get_config_cannot_be_registered():
    class Plain:
        pass

    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable("test_plain")(Plain)


def test_a_builtin_name_cannot_be_taken_by_another_class():
    impostor = type("Dense", (Layer,), {})
    with pytest.raises(ValueError, match="layer name 'Dense' is already registered"):
        layers_base.register(impostor)
    assert get_layer_class("Dense") is Dense


def test_keras_import_paths():
    from neuralab.keras import saving as keras_saving
    from neuralab.keras import utils as keras_utils
    for name in ("register_keras_serializable", "get_registered_name", "get_registered_object",
                 "custom_object_scope", "CustomObjectScope", "get_custom_objects"):
        assert getattr(keras_saving, name) is getattr(saving, name)
        assert getattr(keras_utils, name) is getattr(saving, name)
