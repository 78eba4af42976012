"""The explicit list of user classes that ``load_model`` may rebuild.

A model file names its classes; glassnet never imports a name read from a file. It rebuilds
only its own layers (``glassnet.nn.layers.LAYER_CLASSES``), ``Sequential``, and the classes
registered here by the code that defines them::

    @glassnet.register                 # saved under "MyNet"
    class MyNet(glassnet.nn.Module):
        def __init__(self, hidden=16):
            super().__init__()
            self.hidden = hidden
            self.fc1 = Dense(hidden, input_dim=4)
            self.fc2 = Dense(3, input_dim=hidden)

        def forward(self, x):
            return self.fc2(self.fc1(x))

        def get_config(self):          # JSON-friendly constructor arguments
            return {"hidden": self.hidden}

    @glassnet.register(name="lab.Net")  # an explicit name, stable across renames
    class Net(glassnet.nn.Module): ...

A registered class must

* implement ``get_config()`` returning JSON-friendly constructor keyword arguments (dicts,
  lists, strings, numbers, booleans, None), and
* create all its parameters when constructed (give Dense layers ``input_dim``), so that the
  weights in the file have somewhere to go.

``load_model`` rebuilds it with ``cls.from_config(config)`` if the class defines that
classmethod, else ``cls(**config)``. The config comes from the file, which may come from a
stranger: a ``from_config`` should check what it receives. Registered Layer subclasses can also
be used inside a Sequential model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..errors import InvalidArgumentError, UnknownNameError
from ..nn.layers import LAYER_CLASSES
from ..nn.losses import Loss
from ..nn.module import Module

__all__ = [
    "register",
    "unregister",
    "get_registered",
    "registered_name",
    "registered_classes",
    "from_config",
    "RESERVED_NAMES",
]

M = TypeVar("M", bound=type)

#: Names glassnet's own classes use in files; a registered class cannot take them.
RESERVED_NAMES = frozenset({"Sequential", "Functional", *LAYER_CLASSES})

_BY_NAME: dict[str, type[Any]] = {}
_BY_CLASS: dict[type, str] = {}


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(
            f"register: name must be a non-empty string, received name={name!r}"
        )
    if name in RESERVED_NAMES:
        raise InvalidArgumentError(
            f"register: name {name!r} is a built-in glassnet class; "
            f"choose another name, e.g. name='my.{name}'"
        )
    return name


def _register(cls: Any, name: str | None) -> Any:
    if not isinstance(cls, type) or not issubclass(cls, (Module, Loss)):
        raise InvalidArgumentError(
            f"register: expected a subclass of glassnet.nn.Module or of glassnet.losses.Loss, "
            f"received {cls!r}"
        )
    key = _check_name(cls.__name__ if name is None else name)
    existing = _BY_NAME.get(key)
    if existing is not None and existing is not cls:
        same_definition = (existing.__module__, existing.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )
        if not same_definition:
            raise InvalidArgumentError(
                f"register: the name {key!r} is already taken by "
                f"{existing.__module__}.{existing.__qualname__}; pass another name, e.g. "
                f"@register(name='{cls.__module__}.{cls.__qualname__}')"
            )
        # The same class defined again (a re-run notebook cell or a reloaded module).
        _BY_CLASS.pop(existing, None)
    old = _BY_CLASS.get(cls)
    if old is not None and old != key:
        del _BY_NAME[old]
    _BY_NAME[key] = cls
    _BY_CLASS[cls] = key
    return cls


@overload
def register(cls: M, *, name: str | None = None) -> M: ...


@overload
def register(cls: str | None = None, *, name: str | None = None) -> Callable[[M], M]: ...


def register(cls: Any = None, *, name: str | None = None) -> Any:
    """Record a Module subclass (or a custom Loss: a model compiled with it then loads
    compiled) so ``load_model`` can rebuild it from a file.

    Use as ``@register``, ``@register(name="MyNet")`` or ``@register("MyNet")``; returns the
    class unchanged. The name (default: the class's ``__name__``) is what files store.
    """
    if isinstance(cls, str):
        if name is not None:
            raise InvalidArgumentError(
                "register: give the name once, as register('Name') or register(name='Name')"
            )
        cls, name = None, cls
    if cls is None:

        def decorator(c: M) -> M:
            return _register(c, name)  # type: ignore[no-any-return]

        return decorator
    return _register(cls, name)


def unregister(cls_or_name: type | str) -> None:
    """Forget a registration (by class or by name); unknown ones are an error."""
    if isinstance(cls_or_name, str):
        cls = _BY_NAME.get(cls_or_name)
        key: str | None = cls_or_name if cls is not None else None
    else:
        key = _BY_CLASS.get(cls_or_name)
        cls = cls_or_name
    if key is None or cls is None:
        raise UnknownNameError(f"unregister: {cls_or_name!r} is not registered")
    del _BY_NAME[key]
    _BY_CLASS.pop(cls, None)


def get_registered(name: str) -> type[Any] | None:
    """The class registered under ``name``, or None."""
    return _BY_NAME.get(name)


def registered_name(cls: type) -> str | None:
    """The name ``cls`` itself was registered under (subclasses do not inherit it), or None."""
    return _BY_CLASS.get(cls)


def registered_classes() -> dict[str, type[Any]]:
    """A copy of the registry: name → class."""
    return dict(_BY_NAME)


def from_config(cls: type, config: dict[str, Any]) -> Any:
    """Rebuild a registered class: ``cls.from_config(config)`` if it has one, else
    ``cls(**config)``."""
    factory = getattr(cls, "from_config", None)
    if callable(factory):
        return factory(config)
    return cls(**config)


# What the training layer hands io at import, so that io never imports training: the class of
# a plain Sequential and the metric lookup (name → Metric) that load_model needs.
_BUILTINS: dict[str, Any] = {}


def provide(name: str, value: Any) -> None:
    """Record a built-in that io needs from the layers above it ("Sequential", "metric")."""
    _BUILTINS[name] = value


def builtin(name: str) -> Any:
    """A built-in recorded by ``provide`` (``import glassnet`` records them all)."""
    return _BUILTINS[name]
