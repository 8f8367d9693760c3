"""Where the final answer of a response is: boxes, answer phrases, the last value of the final region.

Pure string work in the calling process, linear in the response's length: a response can be
megabytes of unclosed ``\\boxed{`` or ``$`` (a model looping until the token limit), so no scan
restarts from every opener (the property tests in ``tests/verify/test_verify_properties.py``
feed such text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from evalsuite.verify.base import answer_regions

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
# Math openers; a display environment closes with its own \end{...}.
_MATH_OPENER = re.compile(r"\$\$|\$|\\\(|\\\[|\\begin\{((?:align|equation|gather|eqnarray|multline)\*?)\}")
_CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}


def math_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of each ``$$..$$``, ``$..$``, ``\\(..\\)``, ``\\[..\\]`` and display
    environment (``align*``...), left to right, non-empty, not nested.

    Linear: an opener whose closer never comes marks its kind closed for the rest of the text,
    where a lazy regex would rescan to the end from every one of thousands of unclosed ``\\[``.
    """
    spans: list[tuple[int, int, str]] = []
    unclosed: set[str] = set()
    pos = 0
    while (m := _MATH_OPENER.search(text, pos)) is not None:
        opener = m.group(0)
        if opener == "$$" and "$$" in unclosed:
            opener = "$"
        closer = f"\\end{{{m.group(1)}}}" if m.group(1) else _CLOSER[opener]
        start = m.start() + len(opener)
        if closer in unclosed:
            pos = start
            continue
        end = text.find(closer, start + 1)  # content of at least one character
        if end < 0:
            unclosed.add(closer)
            pos = start
            continue
        spans.append((m.start(), end + len(closer), text[start:end]))
        pos = end + len(closer)
    return spans


def _without(text: str, opener: str, closer: str) -> str:
    """``text`` without its ``opener ... closer`` blocks (an unclosed one is kept)."""
    out, pos = [], 0
    while (start := text.find(opener, pos)) >= 0 and (end := text.find(closer, start)) >= 0:
        out.append(text[pos:start])
        pos = end + len(closer)
    out.append(text[pos:])
    return "".join(out)


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
        inner = math_spans(line)
        # The first math span, else the sentence (a period then a space: not a decimal point).
        line = inner[0][2] if inner else re.split(r"\.(?:\s|$)", line, maxsplit=1)[0]
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


def _values(text: str) -> list[tuple[bool, str]]:
    """``(is_math, text)`` of every math span and every number outside them, left to right."""
    found: list[tuple[bool, str]] = []
    pos = 0
    for start, end, content in [*math_spans(text), (len(text), len(text), "")]:
        found += [(False, n) for n in _NUMBER_IN_TEXT.findall(text, pos, start)]
        if content.strip("$"):
            found.append((True, content))
        pos = end
    return found


def _last_value(region: str) -> str | None:
    """The last number or math expression of the final answer region, as the flexible extraction
    of lm-eval and math-verify's unanchored patterns take it.

    A final line such as "So she makes $18 every day.", or "3 + 4 = 7" followed by an empty
    ``\\boxed{}``; of an expression or display block, the value after its last "=" (math-verify's
    last-equation rule). Asymptote drawings are not text.
    """
    for is_math, value in reversed(_values(_without(_EMPTY_BOX.sub("", region), "[asy]", "[/asy]"))):
        value = value.strip()
        if not is_math:  # a bare number in prose
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
