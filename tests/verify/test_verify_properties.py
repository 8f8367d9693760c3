"""Property tests: arbitrary text into every extractor, normaliser and verifier (issue 11).

Huge inputs, deeply nested LaTeX, control characters, lone surrogates, ``<think>`` tags in odd
places: no exception escapes and every call ends within its time limit. Each call runs in a worker
of ``evalsuite.verify.timeout`` (the verifiers' own hard-limit machinery), so a hang is a
``VerifierTimeout`` and an exception a ``VerifierCrash`` that names the input; the assertions are
on what comes back, never on wall time.

The hypothesis pytest plugin is disabled in this project (``-p no:hypothesispytest``); ``@given``
works without it. Examples are derandomized (the same every run) and not stored; set
``EVALSUITE_FUZZ_SEED=<n>`` to explore other examples, ``EVALSUITE_FUZZ_EXAMPLES`` for more.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from evalsuite.verify.timeout import VerifierCrash, VerifierTimeout, WorkerPool

EXAMPLES = int(os.environ.get("EVALSUITE_FUZZ_EXAMPLES", "200"))
CALL_LIMIT_S = 60.0  # a hang guard for one call (a fresh worker imports sympy first), not a timing
EXPLORE_SEED = os.environ.get("EVALSUITE_FUZZ_SEED")

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXPLORE_SEED is None,
    suppress_health_check=list(HealthCheck),
)


def explore(test):
    return seed(int(EXPLORE_SEED))(test) if EXPLORE_SEED else test


# --- strategies ------------------------------------------------------------------------------------

ATOMS = st.sampled_from(
    [
        "0",
        "7",
        "-3",
        "025",
        "1,234",
        "3.14",
        "1/2",
        "x",
        "\\pi",
        "\\infty",
        "i",
        "e",
        "\\frac",
        "\\dfrac",
        "\\boxed",
        "\\boxed{}",
        "\\fbox",
        "\\sqrt",
        "\\text{",
        "\\overline{",
        "\\left(",
        "\\right)",
        "\\begin{align*}",
        "\\end{align*}",
        "&=",
        "\\\\",
        "\\,",
        "\\!",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        "$",
        "$$",
        "\\(",
        "\\)",
        "\\[",
        "\\]",
        "^",
        "_",
        "=",
        "<=",
        "%",
        "\\%",
        "^\\circ",
        "e5",
        "answer is",
        "Answer:",
        "The final answer is",
        "####",
        "I hope it is correct.",
        "<think>",
        "</think>",
        "(B)",
        "**C**",
        "I choose",
        "the answer is (A) and (D)",
        "```python\n",
        "```",
        "\n",
        "\r",
        "\t",
        " ",
        "\x00",
        "\x1b[31m",
        "\x0c",
        "\u202e",
        "\ufeff",
        "\udc80",
        "é",
        "∞",
        "×",
        "÷",
        "[asy]",
        "[/asy]",
        "9^{9^{9^9}}",
        "10^{10^{10}}",
    ]
)

latex = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        inner.map(lambda a: "{" + a + "}"),
        st.tuples(inner, inner).map(lambda ab: f"\\frac{{{ab[0]}}}{{{ab[1]}}}"),
        inner.map(lambda a: f"\\boxed{{{a}}}"),
        inner.map(lambda a: f"${a}$"),
        st.tuples(inner, inner).map(lambda ab: f"{ab[0]}^{{{ab[1]}}}"),
        st.lists(inner, max_size=6).map("".join),
    ),
    max_leaves=30,
)


def _huge(parts: tuple[str, int, str]) -> str:
    fragment, n, shape = parts
    n = min(n, 300_000 // len(fragment))  # a few hundred kB: big enough for any quadratic to show
    if shape == "repeat":
        return fragment * n
    if shape == "nest":  # deeply nested: \boxed{\boxed{...}} n levels
        return "\\boxed{" * n + fragment + "}" * n
    if shape == "frac":
        return "\\frac{1}{" * n + fragment + "}" * n
    if shape == "open":  # never closed
        return "$\\boxed{" + "{" * n + fragment
    return "<think>" + fragment * n  # an endless unclosed thought


huge = st.tuples(
    st.lists(ATOMS, min_size=1, max_size=6).map("".join),
    st.integers(min_value=500, max_value=20_000),
    st.sampled_from(["repeat", "nest", "frac", "open", "think"]),
).map(_huge)

surrogate_text = st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape"))

outputs = st.one_of(
    st.text(max_size=300),
    surrogate_text,
    latex,
    huge,
    st.tuples(latex, latex).map(lambda ab: f"<think>{ab[0]}</think>{ab[1]}"),
)

# --- the worker pool that bounds each call ------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    """Workers that can import ``fuzz_targets`` (this directory on their PYTHONPATH)."""
    here = str(Path(__file__).parent)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p))
        workers = WorkerPool(["evalsuite.verify.math"])
        yield workers
        workers.close()


COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print("\nhypothesis examples per target: " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))


def call(pool: WorkerPool, target: str, fn: str, *args: object) -> object:
    COUNTS[target] += 1
    try:
        return pool.call(fn, *args, timeout_s=CALL_LIMIT_S)
    except VerifierTimeout:
        pytest.fail(f"{target}: no result within {CALL_LIMIT_S:g} s on {_shown(args)}")
    except VerifierCrash as exc:
        pytest.fail(f"{target}: raised {exc} on {_shown(args)}")


def _shown(args: tuple[object, ...]) -> str:
    return ", ".join(
        repr(a)[:300] + (f"... ({len(a)} chars)" if isinstance(a, str) and len(a) > 300 else "") for a in args
    )


# --- extractors and normalisers -------------------------------------------------------------------

TEXT_FUNCTIONS = {
    "answer.extract_answer": ("evalsuite.verify.answer:extract_answer", (str, type(None))),
    "answer.last_boxed": ("evalsuite.verify.answer:last_boxed", (str, type(None))),
    "answer.gold_answer": ("evalsuite.verify.answer:gold_answer", (str,)),
    "math.normalize": ("evalsuite.verify.math:normalize", (str,)),
    "choice.letters_in": ("evalsuite.verify.choice:letters_in", (list,)),
    "text.final_text": ("evalsuite.verify.text:final_text", (str, type(None))),
    "text.normalize_text": ("evalsuite.verify.text:normalize_text", (str,)),
    "code.extract_code": ("evalsuite.verify.code:extract_code", (str, type(None))),
}


@pytest.mark.parametrize("target", sorted(TEXT_FUNCTIONS))
@FUZZ
@given(text=outputs)
@explore
def test_extractors_and_normalisers_return_for_any_text(pool, target, text):
    fn, types = TEXT_FUNCTIONS[target]
    assert isinstance(call(pool, target, fn, text), types)


@pytest.mark.parametrize("checker", ["game24", "sudoku", "boxed"])
@FUZZ
@given(text=outputs)
@explore
def test_puzzle_checkers_extract_from_any_text(pool, checker, text):
    assert isinstance(
        call(pool, f"checker.{checker}", "fuzz_targets:checker_extract", checker, text), (str, type(None))
    )


# --- every verifier -----------------------------------------------------------------------------

INFRASTRUCTURE = {"timeout", "verifier error", "checker error"}


def _check_verdict(target: str, v: dict) -> None:
    assert isinstance(v["correct"], bool) and isinstance(v["reason"], str) and v["reason"], v
    assert v.get("value", 1.0 if v["correct"] else 0.0) is not None, v
    if v["error"] is not None:  # allowed only as an infrastructure outcome, never as a wrong answer
        assert v["reason"] in INFRASTRUCTURE and not v["correct"], v
    if v["truncated"]:
        assert not v["correct"] and v["extracted"] is None, v


@pytest.mark.parametrize(
    "target",
    [
        t
        for t in (
            "math",
            "math-strict",
            "choice",
            "exact",
            "text",
            "puzzle-game24",
            "puzzle-sudoku",
            "puzzle-boxed",
        )
    ],
)
@FUZZ
@given(text=outputs, truncated=st.booleans())
@explore
def test_every_verifier_returns_a_verdict_for_any_text(pool, target, text, truncated):
    _check_verdict(target, call(pool, target, "fuzz_targets:verdict", target, text, truncated))


@FUZZ
@given(text=outputs, gold=st.one_of(latex, st.text(max_size=40)))
@explore
def test_math_verifier_takes_any_gold(pool, text, gold):
    _check_verdict("math(gold)", call(pool, "math(gold)", "fuzz_targets:gold_of", text, gold))


@settings(FUZZ, max_examples=max(1, EXAMPLES // 4))
@given(
    text=st.one_of(outputs, st.tuples(outputs, outputs).map(lambda ab: f"{ab[0]}\n```python\n{ab[1]}\n```\n"))
)
@explore
def test_code_verifier_returns_a_verdict_for_any_text(pool, text):
    # Fewer examples: each fenced program runs in the sandbox (a process per example).
    _check_verdict("code", call(pool, "code", "fuzz_targets:verdict", "code", text, False))
