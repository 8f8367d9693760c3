"""InternBootcamp-style checker classes loaded by name: ``module:Class`` from any importable module.

InternBootcamp's documented interface (``internbootcamp/bootcamp/base.py``, ``Basebootcamp``) is two
class-level methods: ``extract_output(output)`` (the candidate solution in a full response, or
None) and ``verify_score(model_output, identity, format_score=0, short_penalty=..., ...)`` (a score
in [0, 1] for the *full* response against the task instance ``identity``). An evaluation scores
answers, not training-time formatting: ``verify_score`` is called with ``format_score=0`` and the
short-output and format penalties off, keywords the class does not accept left out.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

EVAL_KEYWORDS: dict[str, Any] = {"format_score": 0, "short_penalty": False, "format_penalty": False}
"""Keywords passed to ``verify_score`` (only those its signature accepts)."""


class CheckerNotFound(ValueError):
    """A ``module:Class`` checker that cannot be imported; the message names what is missing."""


@dataclass(frozen=True)
class ExternalChecker:
    """A loaded InternBootcamp-style class, judged through its own ``verify_score``."""

    spec: str
    """Where it came from, ``module:Class``."""
    cls: Any
    """The class (its methods are static/class methods; an instance works too)."""

    def extract_output(self, output: str) -> Any:
        """The class's ``extract_output`` on the full response."""
        return self.cls.extract_output(output)

    def score_output(self, output: str, identity: Any) -> float:
        """The class's ``verify_score`` on the full response (it extracts on its own)."""
        verify = self.cls.verify_score
        try:
            accepted = inspect.signature(verify).parameters
            kwargs = {k: v for k, v in EVAL_KEYWORDS.items() if k in accepted}
        except (TypeError, ValueError):  # no signature (a C function): the documented keywords
            kwargs = dict(EVAL_KEYWORDS)
        return float(verify(output, identity, **kwargs))


def is_spec(name: str) -> bool:
    """Whether a checker name is a ``module:Class`` reference rather than a registered name."""
    return ":" in name


@functools.lru_cache(maxsize=256)
def load_checker(spec: str) -> ExternalChecker:
    """Import ``module:Class`` (``Class`` may be dotted: ``module:Outer.Inner``).

    Raises:
        CheckerNotFound: the module cannot be imported, the class is not in it, or it lacks
            ``extract_output``/``verify_score``; the message says which and how to fix it.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CheckerNotFound(f"checker {spec!r}: expected module:Class, e.g. internbootcamp:Game24bootcamp")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CheckerNotFound(
            f"checker {spec!r}: cannot import module {module_name!r} ({exc}); install it (e.g. "
            f"pip install -e <your InternBootcamp checkout>) or put its directory on PYTHONPATH"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CheckerNotFound(f"checker {spec!r}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    missing = [m for m in ("extract_output", "verify_score") if not callable(getattr(obj, m, None))]
    if missing:
        raise CheckerNotFound(
            f"checker {spec!r}: {attr} lacks {' and '.join(missing)}; an InternBootcamp checker "
            "defines extract_output(output) and verify_score(model_output, identity, ...)"
        )
    return ExternalChecker(spec, obj)
