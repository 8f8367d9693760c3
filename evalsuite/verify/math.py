"""Math answer verification: extract the final answer, normalise LaTeX, compare with math-verify.

Extraction and normalisation are ours (cheap string work, done in the calling process); parsing
and symbolic comparison are math-verify's (latex2sympy2_extended + sympy), run in a killable worker
process (``evalsuite.verify.timeout``) because sympy can hang on inputs like ``9^{9^{9^9}}`` and
math-verify's own ``signal.alarm`` timeout does not work outside the main thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from evalsuite.types import Item
from evalsuite.verify.base import Verdict, answer_regions, no_answer, register_verifier
from evalsuite.verify.timeout import DEFAULT_TIMEOUT_S, VerifierCrash, VerifierTimeout, pool_for

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def _closing_braces(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of the ``}`` that closes it (unclosed ones absent).

    One pass over the braces: scanning forward from every ``\\boxed{`` instead is quadratic,
    minutes on a response that opens thousands of boxes and closes none.
    """
    closing: dict[int, int] = {}
    opened: list[int] = []
    for m in re.finditer(r"[{}]", text):
        if m.group(0) == "{":
            opened.append(m.start())
        elif opened:
            closing[opened.pop()] = m.start()
    return closing


def _boxes(text: str) -> Iterator[str]:
    """Contents of every complete ``\\boxed{...}`` / ``\\fbox{...}`` (or ``\\boxed 5``), last first."""
    starts = sorted(
        (m for c in _BOX_COMMANDS for m in re.finditer(re.escape(c) + r"(?![a-zA-Z])", text)),
        key=lambda m: m.start(),
        reverse=True,
    )
    closing: dict[int, int] | None = None
    for m in starts:
        rest = m.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if rest < len(text) and text[rest] == "{":
            closing = _closing_braces(text) if closing is None else closing
            if rest in closing:
                yield text[rest + 1 : closing[rest]]
        elif rest > m.end():  # "\boxed 5": the argument runs to the next space or "$"
            token = re.match(r"[^\s$]+", text[rest : rest + 1000])
            if token:
                yield token.group(0)


def last_boxed(text: str, *, skip_empty: bool = False) -> str | None:
    """Content of the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (or ``\\boxed 5``) in ``text``.

    With ``skip_empty``, a box with nothing in it (``\\boxed{}`` copied from the instruction) is
    passed over for the one before it.
    """
    for content in _boxes(text):
        if content.strip() or not skip_empty:
            return content
    return None


# "Final Answer: The final answer is $5$. I hope it is correct." (Minerva), "the answer is 5",
# "Answer: 5", GSM8K's "#### 5". The capture stops at the end of the line.
_ANSWER_PHRASE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=)\s*:?|^\s*####",
    re.IGNORECASE | re.MULTILINE,
)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_TRAILING_NOISE = re.compile(r"(?:\s*I hope it is correct\.?|\s*\*+|[.;,\s])+$", re.IGNORECASE)
# ", which is odd", ", since ...": a clause after the stated answer, not part of it.
_CLAUSE = re.compile(r",\s+(?:which|since|because|so|as|that|meaning|therefore|thus|where|and\s+so)\b.*$")
_EMPTY_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{\s*\}")
# A plain "=" (not part of <=, >=, !=, :=, ==, \leq ...).
_EQUALS = re.compile(r"(?<![<>!:=\\])=(?!=)")
_NUMBER_IN_TEXT = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _value_of_calculation(answer: str) -> str:
    """ "9 * 9 = 81" -> "81": the value after the last "=" when what precedes it is arithmetic.

    An equation with a variable ("x = 5", "y = 2x + 3") is kept whole: it may be the answer itself,
    and the comparison reads an equation against a value by its right-hand side.
    """
    parts = _EQUALS.split(answer)
    if len(parts) < 2 or not parts[-1].strip():
        return answer
    left = re.sub(r"\\[a-zA-Z]+", "", "=".join(parts[:-1]))
    if re.search(r"[a-zA-Z]", left):
        return answer
    return parts[-1].strip()


def _after_phrase(text: str, *, last_equation: bool = False) -> str | None:
    """The answer stated after the last "the answer is"/"Final Answer:"/"####" in ``text``."""
    matches = list(_ANSWER_PHRASE.finditer(text))
    for m in reversed(matches):
        end = text.find("\n", m.end())
        line = text[m.end() : end if end >= 0 else len(text)].lstrip(" *:")
        inner = _MATH_SPAN.search(line)
        if inner:
            line = next(g for g in inner.groups() if g is not None)
        else:
            line = re.split(r"\.(?:\s|$)", line, maxsplit=1)[0]  # end of sentence, not a decimal point
        line = _TRAILING_NOISE.sub("", _CLAUSE.sub("", line).strip().strip("*")).strip()
        if line and last_equation:
            line = _value_of_calculation(line)
        if line:
            return line
    return None


def stated_answer(region: str, *, strict_format: bool = False) -> str | None:
    """The answer a text explicitly states: the last ``\\boxed{}``, else the last "answer is".

    By default an empty ``\\boxed{}`` is passed over and "the answer is 9 * 9 = 81" states 81. With
    ``strict_format`` the last box counts even when empty (no answer) and a phrase is taken whole.
    """
    boxed = last_boxed(region, skip_empty=not strict_format)
    if boxed is not None:
        return boxed
    if strict_format:
        return _after_phrase(region)
    return _after_phrase(_EMPTY_BOX.sub("", region), last_equation=True)


_DISPLAY_ENV = r"\\begin\{(?:align|equation|gather|eqnarray|multline)\*?\}(.+?)\\end\{(?:align|equation|gather|eqnarray|multline)\*?\}"
_VALUE = re.compile(rf"{_DISPLAY_ENV}|{_MATH_SPAN.pattern}|(-?\d[\d,]*(?:\.\d+)?)", re.DOTALL)
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.DOTALL)


def _last_value(region: str) -> str | None:
    """The last number or math expression of the final answer region, as the flexible extraction
    of lm-eval and math-verify's unanchored patterns take it.

    A final line such as "So she makes $18 every day.", or "3 + 4 = 7" followed by an empty
    ``\\boxed{}``; of an expression or display block, the value after its last "=" (math-verify's
    last-equation rule). Asymptote drawings are not text.
    """
    found = [m for m in _VALUE.finditer(_ASY.sub("", _EMPTY_BOX.sub("", region))) if m.group(0).strip("$")]
    for m in reversed(found):
        value = next(g for g in m.groups() if g is not None).strip()
        if m.lastindex == len(m.groups()):  # a bare number in prose
            return value.rstrip(",")
        if re.search(r"[A-Za-z]{3,}", re.sub(r"\\[a-zA-Z]+(?:\{[^{}]*\})?", "", value)):
            # Prose between two currency signs ("paid $5 and got $3 back"), not math: its last number.
            numbers = _NUMBER_IN_TEXT.findall(value)
            if numbers:
                return numbers[-1].rstrip(",")
            continue
        value = re.sub(r"(?:\\\\|&|[.,;\s])+$", "", _EQUALS.split(value)[-1]).replace("&", "").strip()
        if value:
            return value
    return None


def extract_answer(output: str, *, truncated: bool = False, strict_format: bool = False) -> str | None:
    """The final answer stated in a model response, or None.

    Regions: the text after ``</think>`` first; the thinking only for an explicit statement when
    nothing follows it; an output inside an unclosed ``<think>`` has none (``answer_regions``).
    In a region, the fallback order of the published harnesses (math-verify, lm-eval's flexible
    extraction): a non-empty ``\\boxed{}``, then an explicit answer phrase, then the last number
    or expression of the final answer region (not on truncated text: a cut-off line is no answer).
    ``strict_format`` enforces the instruction's format: a box or an answer phrase, nothing guessed.
    """
    for k, region in enumerate(answer_regions(output)):
        answer = stated_answer(region, strict_format=strict_format)
        if answer is None and k == 0 and not truncated and not strict_format:
            answer = _last_value(region)
        if answer is not None:
            return answer
    return None


def gold_answer(gold: object) -> str:
    """The answer part of a gold as datasets write it: GSM8K's "... #### 1,234", a boxed solution."""
    text = str(gold).strip()
    if "####" in text:
        return text.rsplit("####", 1)[1].strip()
    boxed = last_boxed(text)
    return boxed if boxed is not None else text


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
