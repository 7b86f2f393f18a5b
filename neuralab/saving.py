"""Custom objects for saving and loading, with Keras 3's names and rules.

Loading never imports a module named in a file. A saved config names a class
(``{"class_name": "MyLayer", "registered_name": "Custom>MyLayer", "config": {...}}``) and
neuralab finds it among the built-ins or among the objects you made known, in this order
(Keras' precedence):

1. a :func:`custom_object_scope` that is open (the innermost one first);
2. objects registered with :func:`register_keras_serializable` (or put into
   :func:`get_custom_objects`);
3. the ``custom_objects={...}`` argument of ``load_model`` / ``deserialize``;
4. the built-ins of that kind (``"Dense"``, ``"mse"``, ...).

Each kind's ``deserialize`` (layers, losses, metrics, activations, initializers,
regularizers, optimizers, schedules, callbacks) looks here, so a class registered once is
found everywhere. Example::

    @register_keras_serializable(package="my_lab")
    class Scale(neuralab.layers.Layer):
        ...

    get_registered_name(Scale)            # 'my_lab>Scale'
    get_registered_object("my_lab>Scale")  # Scale

This module depends on nothing else in neuralab, so every registry can use it.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["register_keras_serializable", "get_registered_name", "get_registered_object",
           "get_custom_objects", "custom_object_scope", "CustomObjectScope", "load_scope"]

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_scope_state = threading.local()  # per thread, as Keras keeps its scope in global_state


def _same_definition(a: Any, b: Any) -> bool:
    """The same class or function definition run again (a notebook cell rerun,
    ``importlib.reload``): same module and qualified name."""
    if not all(inspect.isclass(x) or inspect.isfunction(x) for x in (a, b)):
        return False
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def register_keras_serializable(package: str = "Custom", name: str | None = None
                                ) -> Callable[[Any], Any]:
    """Decorator: make a class or function loadable as ``"package>name"`` (Keras API).

    ``name`` defaults to the object's ``__name__``. A class must define ``get_config``.

    Raises:
        ValueError: if ``"package>name"`` already belongs to another object, or the object
            is already registered under another name (tf.keras' rule: one object, one
            name). Running the same definition again (a notebook cell, a module reload)
            replaces the earlier one.
    """

    def decorator(obj: Any) -> Any:
        key = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__} as {key!r}: a registered class "
                             "needs a get_config() method")
        existing = _GLOBAL_CUSTOM_OBJECTS.get(key)
        if existing is not None and existing is not obj and not _same_definition(existing, obj):
            raise ValueError(f"{key!r} is already registered to {existing!r}; choose another "
                             "package or name for " + repr(obj))
        previous_key = _GLOBAL_CUSTOM_NAMES.get(obj)
        if previous_key is not None and previous_key != key:
            raise ValueError(f"{obj!r} is already registered as {previous_key!r}")
        if existing is not None:
            _GLOBAL_CUSTOM_NAMES.pop(existing, None)
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    """``"package>name"`` for a registered object, else its ``__name__`` (Keras API)."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def is_registered(obj: Any) -> bool:
    """Whether ``obj`` was registered with :func:`register_keras_serializable`."""
    try:
        return obj in _GLOBAL_CUSTOM_NAMES
    except TypeError:  # unhashable
        return False


def get_custom_objects() -> dict[str, Any]:
    """The live global dictionary of registered objects (Keras API): ``{key: object}``.

    Objects of an open :func:`custom_object_scope` are not in it.
    """
    return _GLOBAL_CUSTOM_OBJECTS


def scope_objects() -> dict[str, Any]:
    """The objects of the open custom object scopes (empty outside any scope)."""
    return getattr(_scope_state, "objects", {})


def get_registered_object(name: str, custom_objects: Mapping[str, Any] | None = None,
                          module_objects: Mapping[str, Any] | None = None) -> Any | None:
    """The object known as ``name``, or ``None``: scope, then registered, then
    ``custom_objects``, then ``module_objects`` (Keras API and precedence)."""
    for table in (scope_objects(), _GLOBAL_CUSTOM_OBJECTS, custom_objects or {},
                  module_objects or {}):
        if name in table:
            return table[name]
    return None


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}): load_model(path)`` (Keras API).

    Inside the block every ``deserialize`` and ``load_model`` finds these objects by name.
    Scopes nest: an inner scope adds to the outer one and wins on equal names.
    """

    def __init__(self, custom_objects: Mapping[str, Any] | None = None):
        self.custom_objects = dict(custom_objects or {})
        self._backup: dict[str, Any] | None = None

    def __enter__(self) -> CustomObjectScope:
        self._backup = scope_objects()
        _scope_state.objects = {**self._backup, **self.custom_objects}
        return self

    def __exit__(self, *exc_info) -> None:
        _scope_state.objects = self._backup


custom_object_scope = CustomObjectScope


def load_scope(custom_objects: Mapping[str, Any] | None) -> CustomObjectScope:
    """The scope a loader opens around a whole load: ``custom_objects`` become visible to
    every lookup inside (nested configs included) while open scopes and registered objects
    keep precedence over them, as in Keras::

        with load_scope(custom_objects):
            model = Sequential.from_config(config)
    """
    return CustomObjectScope({key: obj for key, obj in (custom_objects or {}).items()
                              if get_registered_object(key) is None})
