"""One lookup table per kind of object: names to classes, identifiers to objects, configs.

Every kind (activation, initializer, regularizer, loss, metric, optimizer, schedule, layer,
callback) keeps one :class:`Registry`; the module's ``get`` / ``serialize`` /
``deserialize`` are thin uses of it. A registry resolves

* a name: Keras aliases (``"mse"``) and snake_case names (``"mean_squared_error"``), matched
  without regard to case unless the kind is case-sensitive (layers), and exact class names
  (``"MeanSquaredError"``);
* an instance of the kind's base class (returned as is) or a subclass (instantiated);
* a config ``{"class_name": ..., "config": {...}}`` (see :meth:`Registry.deserialize`);
* ``None``, where the kind allows it (regularizers; activations map it to ``"linear"``).

Custom objects come first, as in Keras: an open :func:`~neuralab.saving.custom_object_scope`,
then :func:`~neuralab.saving.register_keras_serializable`, then ``custom_objects=``, then the
built-ins. A name nobody knows is a ``ValueError`` that suggests the closest names::

    Unknown activation 'sigmoidd'; did you mean 'sigmoid'? accepted: ['elu', ...] or None

Loading never imports a module named in a config: an unknown class names the two ways to
make it known.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from . import saving

__all__ = ["Registry", "registries"]

_REGISTRIES: dict[str, Registry] = {}


def registries() -> dict[str, Registry]:
    """Every registry created so far, by kind (``{"loss": ..., "layer": ...}``)."""
    return dict(_REGISTRIES)


def _quoted_choices(names: list[str]) -> str:
    """``['a', 'b', 'c']`` -> ``"'a', 'b' or 'c'"``."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class Registry:
    """Names and classes of one kind of object, with Keras-style lookups.

    Args:
        kind: what the objects are, for messages (``"loss"``).
        base: their base class; instances pass through ``get``, subclasses are instantiated.
        names: ``{name: class or factory}`` of the built-in names (``{"mse": ...}``).
        classes: classes known by their class name only (layers, schedules, callbacks).
        aliases: ``{alias: name}``; the alias ``None`` says what ``get(None)`` means.
        case_sensitive: match names exactly (layers) instead of lower-casing them.
        allow_none: ``get(None)`` returns ``None`` (regularizers).
        wrap_function: turns a plain function into an object of the kind (initializers
            accept ``f(shape, dtype)``); without it a function is refused.

    Example::

        LOSSES = Registry("loss", Loss, {"mean_squared_error": MeanSquaredError},
                          aliases={"mse": "mean_squared_error"})
        LOSSES.get("MSE")          # MeanSquaredError()
    """

    def __init__(self, kind: str, base: type, names: Mapping[str, Any] | None = None, *,
                 classes: Iterable[type] = (), aliases: Mapping[str | None, str] | None = None,
                 case_sensitive: bool = False, allow_none: bool = False,
                 wrap_function: Callable[[Callable], Any] | None = None):
        self.kind = kind
        self.base = base
        self.case_sensitive = case_sensitive
        self.allow_none = allow_none
        self.wrap_function = wrap_function
        self._names: dict[str, Any] = {}
        self._classes: dict[str, type] = {}
        self._aliases: dict[str | None, str] = {
            (None if alias is None else self._key(alias)): self._key(name)
            for alias, name in (aliases or {}).items()}
        for cls in classes:
            self.register(cls)
        for name, obj in (names or {}).items():
            self.register(obj, name)
        _REGISTRIES[kind] = self

    # -- the tables ---------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return name if self.case_sensitive else name.lower()

    def register(self, obj: Any = None, *names: str) -> Any:
        """Add a built-in under its class name and ``names``; usable as a decorator
        (``@REG.register`` or ``@REG.register("name", "alias")``).

        Raises:
            ValueError: if a name already belongs to another object (see
                :func:`neuralab.saving.register_keras_serializable` for user classes).
        """
        if obj is None or isinstance(obj, str):
            names = names if obj is None else (obj, *names)
            return lambda target: self.register(target, *names)
        if inspect.isclass(obj):
            self._claim(self._classes, obj.__name__, obj)
        for name in names:
            self._claim(self._names, self._key(name), obj)
        return obj

    def _claim(self, table: dict[str, Any], name: str, obj: Any) -> None:
        existing = table.get(name)
        if existing is not None and existing is not obj and \
                not saving._same_definition(existing, obj):
            raise ValueError(f"{self.kind} name {name!r} is already registered to {existing!r}; "
                             f"cannot register {obj!r} under it")
        table[name] = obj

    @property
    def names(self) -> list[str]:
        """The built-in names, sorted (class names where the kind has no other names)."""
        return sorted(self._names) if self._names else sorted(self._classes)

    @property
    def aliases(self) -> dict[str, str]:
        return {alias: name for alias, name in self._aliases.items() if alias is not None}

    @property
    def classes(self) -> dict[str, type]:
        """``{class name: class}`` of the built-ins."""
        return dict(self._classes)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._builtin(name) is not None

    def is_builtin(self, obj: Any) -> bool:
        return any(obj is known for known in (*self._names.values(), *self._classes.values()))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._classes)} classes, {len(self._names)} names)"

    # -- looking names up ---------------------------------------------------------------
    def _builtin_name(self, name: str) -> Any | None:
        key = self._key(name)
        return self._names.get(self._aliases.get(key, key))

    def _builtin(self, name: str) -> Any | None:
        found = self._builtin_name(name)
        return found if found is not None else self._classes.get(name)

    def _fits(self, obj: Any) -> bool:
        """Whether ``obj`` can stand for an object of this kind."""
        if inspect.isclass(obj):
            return issubclass(obj, self.base)
        return isinstance(obj, self.base) or (callable(obj) and self.wrap_function is not None)

    def _registered_by_class_name(self, name: str) -> Any | None:
        """A class saved without its registered name: the one registered ``"pkg>name"``."""
        found = [obj for key, obj in saving.get_custom_objects().items()
                 if key.rpartition(">")[2] == name and self._fits(obj)]
        return found[0] if len(found) == 1 else None

    def named(self, name: str) -> Any | None:
        """The built-in behind a snake_case name or alias, or ``None`` (also when a custom
        object of that name takes precedence)."""
        if saving.get_registered_object(name) is not None:
            return None
        return self._builtin_name(name)

    def lookup(self, name: str, custom_objects: Mapping[str, Any] | None = None, *,
               registered_name: str | None = None, as_class: bool = False) -> Any:
        """The class (or function) known as ``name``: custom objects first, then built-ins.

        ``registered_name`` (``"pkg>Name"``, from a saved config) is tried before ``name``.
        ``as_class`` words the error for a class named in a config.

        Raises:
            ValueError: unknown name, with the closest names and the accepted ones.
        """
        for candidate in (registered_name, name):
            if candidate is not None:
                found = saving.get_registered_object(candidate, custom_objects)
                if found is not None:
                    return found
        for found in (self._builtin(name), self._registered_by_class_name(name)):
            if found is not None:
                return found
        raise ValueError(self._unknown_message(name, custom_objects, as_class))

    def get_class(self, name: str, custom_objects: Mapping[str, Any] | None = None) -> type:
        """The class named ``name`` (a ``base`` subclass), for loaders that build it."""
        cls = self.lookup(name, custom_objects, as_class=True)
        if not (inspect.isclass(cls) and issubclass(cls, self.base)):
            raise TypeError(f"{name!r} is {cls!r}, not a {self.base.__name__} subclass")
        return cls

    def _suggestion_pool(self, custom_objects: Mapping[str, Any] | None,
                         as_class: bool) -> list[str]:
        """Names worth suggesting: the kind's names and aliases (its class names where it has
        no other names, or for a class named in a config), and the custom objects that fit."""
        builtin = [*self._names, *self.aliases]
        if as_class or not builtin:
            builtin = [*self._classes, *builtin]
        custom = {**(custom_objects or {}), **saving.get_custom_objects(),
                  **saving.scope_objects()}
        return [*builtin, *(key for key, obj in custom.items() if self._fits(obj))]

    def suggest(self, name: str, custom_objects: Mapping[str, Any] | None = None, *,
                as_class: bool = False) -> list[str]:
        """Up to three known names closest to ``name`` (``difflib``), best first."""
        pool: dict[str, str] = {}
        for candidate in self._suggestion_pool(custom_objects, as_class):
            pool.setdefault(self._key(candidate), candidate)
        close = difflib.get_close_matches(self._key(name), list(pool), n=3, cutoff=0.6)
        return [pool[key] for key in close]

    def _unknown_message(self, name: str, custom_objects, as_class: bool) -> str:
        close = self.suggest(name, custom_objects, as_class=as_class)
        hint = f"; did you mean {_quoted_choices(close)}? " if close else "; "
        if not as_class:
            aliases = f", aliases {sorted(self.aliases)}" if self.aliases else ""
            none = " or None" if self.allow_none or None in self._aliases else ""
            return f"Unknown {self.kind} {name!r}{hint}accepted: {self.names}{aliases}{none}"
        return (f"Unknown {self.kind} class {name!r}{hint}neuralab never imports code named "
                f"in a saved config; make the class known with custom_objects={{{name!r}: "
                f"{name}}} (load_model or deserialize) or by decorating it with "
                f"@register_keras_serializable() (neuralab.saving); accepted: "
                f"{sorted(self._classes) or self.names}")

    # -- identifiers to objects ---------------------------------------------------------
    def _build(self, obj: Any, name: str, config: dict | None = None) -> Any:
        """An object of this kind from what a name resolved to, given its config."""
        if inspect.isclass(obj):
            if not issubclass(obj, self.base):
                raise TypeError(f"{self.kind} {name!r} resolves to {obj.__name__}, which is not "
                                f"a {self.base.__name__}")
            if config is None:
                return obj()
            from_config = getattr(obj, "from_config", None)
            return from_config(config) if from_config is not None else obj(**config)
        if isinstance(obj, self.base):
            return obj
        if callable(obj) and self.wrap_function is not None:
            return self.wrap_function(obj)
        raise TypeError(f"{self.kind} {name!r} resolves to {obj!r}, which is not a "
                        f"{self.base.__name__} (class or instance)")

    def _expected(self) -> str:
        parts = [f"a name from {self.names}", f"an instance or subclass of {self.base.__name__}",
                 "a {'class_name': ..., 'config': ...} dict"]
        if self.allow_none or None in self._aliases:
            parts.append("None")
        if self.wrap_function is not None:
            parts.append("a function")
        return ", ".join(parts[:-1]) + " or " + parts[-1]

    def get(self, identifier: Any, custom_objects: Mapping[str, Any] | None = None) -> Any:
        """An object of this kind from a name, instance, class, config dict or ``None``.

        Raises:
            ValueError: for unknown names (with suggestions) and uninterpretable values.
        """
        if identifier is None:
            if None in self._aliases:
                return self.get(self._aliases[None], custom_objects)
            if self.allow_none:
                return None
        elif isinstance(identifier, self.base):
            return identifier
        elif isinstance(identifier, str):
            return self._build(self.lookup(identifier, custom_objects), identifier)
        elif isinstance(identifier, Mapping) and "class_name" in identifier:
            return self.deserialize(identifier, custom_objects)
        elif inspect.isclass(identifier) and issubclass(identifier, self.base):
            return identifier()
        elif callable(identifier) and not inspect.isclass(identifier) and self.wrap_function:
            return self.wrap_function(identifier)
        raise ValueError(f"Could not interpret {self.kind} {identifier!r}: expected "
                         f"{self._expected()}")

    def serialize(self, obj: Any) -> dict:
        """``{"class_name": ..., "config": obj.get_config()}``, plus ``"registered_name"``
        (``"pkg>Name"``) for a class registered with ``register_keras_serializable``."""
        if not has_config(obj):
            raise TypeError(f"Cannot serialize {self.kind} {obj!r}: it needs a get_config() "
                            "method")
        return serialize_object(obj)

    def deserialize(self, config: Any, custom_objects: Mapping[str, Any] | None = None) -> Any:
        """Rebuild an object from :meth:`serialize`'s dict (or a name, or ``None``).

        The class is found by ``registered_name`` then ``class_name`` (custom objects first,
        see the module docstring) and built with ``from_config`` when it has one, else
        ``cls(**config)``. ``custom_objects`` stay visible to the configs nested inside
        (a layer's activation, an optimizer's schedule).

        Raises:
            ValueError: unknown class, naming ``custom_objects`` and
                ``register_keras_serializable`` as the ways to make it known.
        """
        if config is None or isinstance(config, str):
            return self.get(config, custom_objects)
        if not (isinstance(config, Mapping) and "class_name" in config):
            raise ValueError(f"Could not deserialize {self.kind} {config!r}: expected a "
                             "{'class_name': ..., 'config': {...}} dict")
        name = config["class_name"]
        obj = self.lookup(name, custom_objects, registered_name=config.get("registered_name"),
                          as_class=True)
        with saving.load_scope(custom_objects):
            return self._build(obj, name, dict(config.get("config") or {}))


def has_config(obj: Any) -> bool:
    """Whether ``obj`` is an instance (not a class) with a ``get_config()`` method."""
    return not inspect.isclass(obj) and callable(getattr(obj, "get_config", None))


def serialize_object(obj: Any) -> dict:
    """``{"class_name": ..., "config": obj.get_config()}``, plus ``"registered_name"``
    (``"pkg>Name"``) when its class is registered with ``register_keras_serializable``."""
    cls = type(obj)
    config = {"class_name": cls.__name__, "config": obj.get_config()}
    if saving.is_registered(cls):
        config["registered_name"] = saving.get_registered_name(cls)
    return config
