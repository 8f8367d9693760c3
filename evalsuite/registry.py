"""One explicit registry per kind of extension (engines, benchmarks, verifiers).

Built-ins register exactly as third parties do: a decorator on import, plus the ``evalsuite``
entry-point group for installed plugins. Heavy dependencies are imported by the registered object
only when it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that no registered extension answers to."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0])


class DuplicateNameError(ValueError):
    """A second, different extension registered under a name that is already taken."""


def _origin(obj: object) -> str:
    """Where ``obj`` was defined: ``module.qualname``."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


class Registry(Generic[T]):
    """Name -> factory, filled by decorators in the built-in modules and by entry points."""

    def __init__(self, kind: str, builtin_modules: Iterable[str]) -> None:
        self.kind = kind
        self._builtin_modules = tuple(builtin_modules)
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a name already taken by another object
        is refused (a silent overwrite would let a plugin shadow a built-in). The same definition
        executed again (a module imported anew) replaces its earlier self."""

        def decorator(obj: T) -> T:
            old = self._entries.get(name)
            if old is not None and _origin(old) != _origin(obj):
                raise DuplicateNameError(
                    f"{self.kind} {name!r} is already registered by {_origin(old)}; {_origin(obj)} "
                    f"cannot take the name too: register it under another name"
                )
            self._entries[name] = obj
            return obj

        return decorator

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtin_modules:
            importlib.import_module(module)
        for ep in entry_points(group=f"evalsuite.{self.kind}s"):
            ep.load()

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries
