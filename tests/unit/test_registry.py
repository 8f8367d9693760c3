"""The extension registry: a name belongs to one extension; a clash is an error, not an overwrite."""

from __future__ import annotations

import types

import pytest

from evalsuite.registry import DuplicateNameError, Registry, UnknownNameError
from evalsuite.verify import verifiers


def make(source: str, module: str = "plugin_a") -> object:
    """The function ``f`` defined by ``source`` in a fresh module called ``module``."""
    namespace = types.ModuleType(module).__dict__
    exec(compile(source, f"<{module}>", "exec"), namespace)
    return namespace["f"]


def test_a_second_extension_cannot_take_a_registered_name() -> None:
    registry: Registry[object] = Registry("engine", [])
    first, second = make("def f(): return 1"), make("def f(): return 2", module="plugin_b")
    registry.register("fast")(first)
    with pytest.raises(
        DuplicateNameError, match=r"engine 'fast' is already registered by plugin_a\.f; plugin_b\.f"
    ):
        registry.register("fast")(second)
    assert registry.get("fast") is first


def test_a_built_in_cannot_be_shadowed() -> None:
    assert verifiers.get("math").__module__ == "evalsuite.verify.math"  # the built-ins are loaded
    with pytest.raises(
        DuplicateNameError, match="verifier 'math' is already registered by evalsuite.verify.math"
    ):
        verifiers.register("math")(make("def f(output, item, *, truncated=False): return None"))
    assert verifiers.get("math").__module__ == "evalsuite.verify.math"


def test_the_same_definition_imported_again_replaces_itself() -> None:
    registry: Registry[object] = Registry("engine", [])
    old, new = make("def f(): return 1"), make("def f(): return 1")  # the module executed twice
    registry.register("fast")(old)
    registry.register("fast")(new)
    assert registry.get("fast") is new
    with pytest.raises(UnknownNameError, match="unknown engine 'slow'; known engines: fast"):
        registry.get("slow")
