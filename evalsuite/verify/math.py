"""Math answer verification: normalise LaTeX, compare with math-verify.

Extraction (``evalsuite.verify.answer``) and normalisation are ours (cheap string work, done in the
calling process); parsing
and symbolic comparison are math-verify's (latex2sympy2_extended + sympy), run in a killable worker
process (``evalsuite.verify.timeout``) because sympy can hang on inputs like ``9^{9^{9^9}}`` and
math-verify's own ``signal.alarm`` timeout does not work outside the main thread.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from evalsuite.types import Item
from evalsuite.verify.answer import extract_answer, gold_answer
from evalsuite.verify.base import Verdict, no_answer, register_verifier
from evalsuite.verify.timeout import DEFAULT_TIMEOUT_S, VerifierCrash, VerifierTimeout, pool_for

# --- normalisation -------------------------------------------------------------------------------

_UNIT_WORDS = r"(?:[a-zA-Z]{2,}|[a-zA-Z]{2,}\^[23]|m|g|s)"
_NUMBER = r"[-+]?\d+(?:\.\d+)?|[-+]?\.\d+"


def normalize(answer: str) -> str:
    """Canonical string form of an answer: LaTeX spacing, units, %, degrees, separators removed."""
    s = answer.strip()
    s = re.sub(r"^\$+|\$+$", "", s).strip()
    s = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle", "", s)
    s = re.sub(r"(?<!\\)\\[!,;:> ]|~", " ", s)  # thin spaces, not the "\\\\" row separator
    s = s.replace("{,}", "")
    s = re.sub(r"\^\s*\{?\\circ\}?|°|\\degree", "", s)
    s = re.sub(r"\\?%|\\\$|\\\\?euro|€|£", "", s)
    s = re.sub(r"\\(?:text|textbf|textit|mathrm|mbox|operatorname)\{\s*\}", "", s)
    # A number followed by unit words: "10\text{ cm}^2", "25 dollars", "5.4 \text{ cents}".
    unit = re.match(
        rf"^({_NUMBER}|\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?)\s*(?:\\(?:text|mbox|mathrm)\{{[^{{}}]*\}}(?:\^\{{?\d\}}?)?|\s+{_UNIT_WORDS}(?:\s+{_UNIT_WORDS})*)\s*$",
        s,
    )
    if unit:
        s = unit.group(1)
    s = re.sub(r"\\(?:text|textbf|textit|mathrm|mbox)\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    if re.fullmatch(r"[-+]?\d{1,3}(?:\s?,\s?\d{3})+(?:\.\d+)?", s):  # thousands separators
        s = re.sub(r"\s?,\s?", "", s)
    sci = re.fullmatch(rf"({_NUMBER})\s*[eE]\s*([-+]?\d+)", s)
    if sci:
        s = f"{sci.group(1)}\\times 10^{{{sci.group(2)}}}"
    repeating = re.fullmatch(r"([-+]?)(\d*)\.(\d*)\\overline\{(\d+)\}", s)
    if repeating:  # 3.1\overline{6} = 3 + (16 - 1) / 90
        sign, whole, fixed, period = repeating.groups()
        value = Fraction(int(whole or 0)) + Fraction(
            int(fixed + period) - int(fixed or 0), 10 ** len(fixed) * (10 ** len(period) - 1)
        )
        s = f"{sign}\\frac{{{value.numerator}}}{{{value.denominator}}}"
    if re.fullmatch(r"[-+]?0+\d+", s):  # AIME "025"
        s = re.sub(r"^([-+]?)0+(?=\d)", r"\1", s)
    return s


_WORDS = re.compile(r"\(?[A-Za-z][A-Za-z ]*\)?")
_BASE = re.compile(r"([0-9A-Za-z]+)_\{?(\d{1,2})\}?")


def _as_decimal(s: str) -> Decimal | None:
    if not re.fullmatch(_NUMBER, s):
        return None
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def _quick_compare(pred: str, gold: str) -> bool | None:
    """Decide the cases that need no sympy (None when sympy must decide)."""
    if pred == gold:
        return True
    gold_words = _WORDS.fullmatch(gold)
    if gold_words and len(gold.strip("()")) > 1 or re.fullmatch(r"\([A-Za-z]\)", gold):
        # Words ("Evelyn", "east", "(C)"): sympy would read them as products of symbols (anagrams equal).
        key = lambda t: re.sub(r"[\s()]", "", t).lower()  # noqa: E731
        return key(pred) == key(gold)
    gold_base, pred_base = _BASE.fullmatch(gold), _BASE.fullmatch(pred)
    if gold_base:
        digits, base = gold_base.group(1).upper(), int(gold_base.group(2))
        if pred_base:
            try:
                return int(pred_base.group(1), int(pred_base.group(2))) == int(digits, base)
            except ValueError:
                return False
        return pred.upper().lstrip("0") == digits.lstrip("0")
    a, b = _as_decimal(pred), _as_decimal(gold)
    if a is not None and b is not None:
        return a == b
    return None


# --- comparison in the worker process ----------------------------------------------------------


def warm_worker() -> None:
    """Import and exercise math-verify once, so the first timed comparison pays no import cost."""
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns that we disabled its timeout
    compare_answers("\\frac{1}{2}", "0.5")


def compare_answers(pred: str, gold: str) -> bool:
    """math-verify's equivalence of two normalised answers (runs in the worker; no time limit here)."""
    from math_verify import parse, verify

    # Timeouts off: the caller kills this process when it overruns (signals would not fire in threads).
    gold_parsed = _imaginary_unit(parse(f"${gold}$", parsing_timeout=None))  # type: ignore[arg-type]
    pred_parsed = _imaginary_unit(parse(f"${pred}$", parsing_timeout=None))  # type: ignore[arg-type]
    # Relation vs set both ways: "-1<x<1" answers "(-1, 1)" as well as the reverse.
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None, allow_set_relation_comp=True))


def _imaginary_unit(parsed: list) -> list:
    """Read a free symbol ``i`` as the imaginary unit.

    math-verify makes ``i`` complex only when it stands alone (``2 i``) and a real symbol in ``2i``,
    so the two never compare equal; MATH-style answers always mean the imaginary unit.
    """
    import sympy

    out = []
    for x in parsed:
        symbols = [s for s in getattr(x, "free_symbols", ()) if getattr(s, "name", "") == "i"]
        out.append(x.subs({s: sympy.I for s in symbols}) if symbols else x)
    return out


def verify_math(
    output: str,
    gold: object,
    *,
    truncated: bool = False,
    strict_format: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Verdict:
    """Judge a full model response against a gold answer (MATH-500, AIME, GSM8K conventions).

    Args:
        output: The response, with or without ``<think>...</think>``.
        gold: The reference answer: LaTeX (``\\frac{1}{2}``), an AIME integer (``"025"``), a GSM8K
            answer (``"... #### 1,234"``) or a solution containing ``\\boxed{}``.
        truncated: The generation hit max_tokens; without a final answer the verdict is "truncated"
            (as it is for an unclosed ``<think>``, whatever the finish reason).
        strict_format: Accept only an answer in the format the instruction asked for (the last
            ``\\boxed{}``, or an "answer is" statement taken whole); see ``extract_answer``.
        timeout_s: Hard limit for the symbolic comparison, enforced from any thread.

    Returns:
        A ``Verdict``; reason "timeout" or "verifier error" come with ``error`` set.
    """
    extracted = extract_answer(output, truncated=truncated, strict_format=strict_format)
    if extracted is None:
        return no_answer(output, truncated=truncated)
    pred, ref = normalize(extracted), normalize(gold_answer(gold))
    if not pred:
        return Verdict(False, extracted, "no answer found")
    quick = _quick_compare(pred, ref)
    if quick is not None:
        return Verdict(quick, extracted, "equivalent" if quick else "not equivalent")
    try:
        same = pool_for(["evalsuite.verify.math"]).call(
            "evalsuite.verify.math:compare_answers", pred, ref, timeout_s=timeout_s
        )
    except VerifierTimeout as e:
        return Verdict(False, extracted, "timeout", error=str(e))
    except VerifierCrash as e:
        return Verdict(False, extracted, "verifier error", error=str(e))
    return Verdict(bool(same), extracted, "equivalent" if same else "not equivalent")


@register_verifier("math")
def math_item_verifier(output: str, item: Item, *, truncated: bool = False) -> Verdict:
    """Item verifier "math": ``item.gold`` is the answer; ``item.meta`` may set ``timeout_s`` (the
    comparison's limit) and ``strict_format`` (see ``verify_math``)."""
    return verify_math(
        output,
        item.gold,
        truncated=truncated,
        strict_format=bool(item.meta.get("strict_format", False)),
        timeout_s=float(item.meta.get("timeout_s", DEFAULT_TIMEOUT_S)),
    )
