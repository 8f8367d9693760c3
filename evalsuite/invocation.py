"""How pytest reads an evaluation's command line, and the two ways it goes wrong.

1. pytest finds its rootdir and ini file *before* it loads plugins, so it does not know our options
   yet: the value of ``--model /ckpt`` or ``--data /tmp/q.jsonl`` looks like a test path to it when
   the path exists. The rootdir then becomes ``/ckpt`` and the project's ini file (its ``addopts``,
   markers, ``testpaths``) and its root ``conftest.py`` are silently ignored, in the controller and
   in every xdist worker. ``--model=/ckpt`` (one argument) is read right. ``evalsuite run`` glues
   every value to its flag (``glued``); under plain pytest the plugin warns (``misread_paths``).
2. Installed plugins an evaluation never uses still load in every process (``UNUSED_PLUGINS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from evalsuite.options import OPTIONS

UNUSED_PLUGINS = ("hypothesispytest", "benchmark", "anyio")
"""Installed plugins an evaluation never uses; hypothesis alone costs seconds per xdist worker at
session end, anyio's imports trio (selenium's dependency), which imports hypothesis (pyproject's
addopts names the same ones for runs inside this project)."""

LEAN_PYTEST_ARGS = tuple(arg for name in ("cacheprovider", *UNUSED_PLUGINS) for arg in ("-p", f"no:{name}"))

_VALUED = {flag for o in OPTIONS if not o.flag_only for flag in (o.flag, *o.aliases)}


def glued(argv: Sequence[str]) -> list[str]:
    """``argv`` with each of our options' values joined to its flag (``--model=PATH``)."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            out += [arg, *args]
            break
        if arg in _VALUED:
            value = next(args, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def _separate_path_values(args: Sequence[str], cwd: Path) -> list[tuple[str, str]]:
    """(flag, value) of our options given as two arguments whose value is an existing path."""
    return [
        (flag, value)
        for flag, value in zip(args, args[1:], strict=False)
        if flag in _VALUED and not value.startswith("-") and _exists(cwd / value)
    ]


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _ini_above(directory: Path) -> Path | None:
    """The ini file pytest finds from ``directory`` upwards when no test path is given."""
    markers = {"pytest.ini": None, ".pytest.ini": None, "pyproject.toml": "[tool.pytest", "tox.ini": "[pytest]",
               "setup.cfg": "[tool:pytest]"}
    for folder in (directory, *directory.parents):
        for name, section in markers.items():
            path = folder / name
            if path.is_file() and (section is None or section in path.read_text(encoding="utf-8", errors="replace")):
                return path
    return None


def misread_paths(config: pytest.Config) -> str | None:
    """Why pytest ignored the project's ini file, when one of our option values misled it; else None."""
    cwd = config.invocation_params.dir
    misread = _separate_path_values([str(a) for a in config.invocation_params.args], cwd)
    if not misread:
        return None
    expected = _ini_above(cwd)
    if expected is None or (config.inipath is not None and Path(config.inipath) == expected):
        return None
    flag, value = misread[0]
    return (
        f"{flag} {value}: pytest took this value for a test path while looking for its rootdir (it reads "
        f"the command line before plugins add their options), so it chose rootdir {config.rootpath} and "
        f"ignored {expected} (its addopts, markers and the conftest.py beside it); write {flag}={value}"
    )
