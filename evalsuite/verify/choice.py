"""Multiple-choice verification (GPQA / MMLU style): which letter A-J did the model finally choose.

Only statements that mark an answer count ("Answer: (B)", "the correct option is B", ``\\boxed{B}``,
a bold letter on the last line, a bare letter as the whole reply, or the text of one option), and
the last such statement wins; without one, a finished closing sentence that names one letter and
does not hedge ("...which is (H).") counts. A statement naming several letters ("A and C") or none (a refusal)
is wrong: guessing a letter from prose would reward hedging.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from evalsuite.types import Item
from evalsuite.verify.answer import last_boxed
from evalsuite.verify.base import Verdict, answer_regions, no_answer, register_verifier

LETTERS = "ABCDEFGHIJ"

_PHRASE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:|=|would\s+be|should\s+be|must\s+be)\s*:?"
    r"|(?:I\s+(?:choose|pick|select)|I'll\s+go\s+with|I\s+would\s+go\s+with)\b",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:(?:therefore|thus|so|then|clearly|definitely|the|correct|final|best|answer|option|choice|letter|is|:|-)\s*)+",
    re.IGNORECASE,
)
_STATEMENT_CHARS = 300  # an answer statement is short; longer lines are cut for it
_CLOSING_CHARS = 600  # the closing sentence is looked for in this much of the region's end
# A sentence ends at . ! ? before a capital, but not after an option letter ("known as D. Reconstruction").
_SENTENCE_END = re.compile(r"(?<![(\s][A-J]\.)(?<!^[A-J]\.)(?<=[.!?])\s+(?=[A-Z(*])")
_HEDGE = re.compile(
    r"\b(?:not|no|none|neither|nor|incorrect|wrong|false|eliminat\w*|rul\w* out|except|unlikely|"
    r"could|might|may|maybe|perhaps|either|if|whether)\b|n't",
    re.IGNORECASE,
)
_MARKER = re.compile(r"^\s*[*_]*\(?[A-J][.)]")  # a line that starts like an option: "(B) 14", "C. text"
_LETTER = r"\(?\[?([A-J])\]?\)?"
_SEPARATOR = r"\s*(?:,|and|or|&|/|\+)\s*"


def _clean(statement: str) -> str:
    """Statement without markdown/LaTeX decoration: ``**\\text{(B)}**`` -> ``(B)``."""
    s = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\{([^{}]*)\}", r"\1", statement)
    s = re.sub(r"[*_`$]|\\\(|\\\)|\\\[|\\\]", "", s)
    return s.strip()


def _option_key(text: str) -> str:
    return re.sub(r"[^0-9a-z.\-/+^]", "", _clean(text).lower()).rstrip(".")


def letters_in(statement: str, choices: Sequence[str] | None = None) -> list[str]:
    """The letters an answer statement names, in order (empty when it names none)."""
    s = _FILLER.sub("", _clean(statement))
    valid = LETTERS[: len(choices)] if choices else LETTERS
    several = re.match(rf"^{_LETTER}(?:{_SEPARATOR}{_LETTER})+(?=[\s.:)]|$)", s)
    if several:
        found = re.findall(r"(?<![A-Za-z])\(?([A-J])\)?(?![A-Za-z])", several.group(0))
        return [x for x in dict.fromkeys(found) if x in valid]
    compact = re.fullmatch(r"\(?([A-J]{2,4})\)?\.?", s)  # "\boxed{AC}"
    if compact:
        return [x for x in dict.fromkeys(compact.group(1)) if x in valid]
    single = re.match(rf"^{_LETTER}(?=[\s.:,;)]|$)", s)
    # "I" as the first word of a sentence is the pronoun, not option I.
    if single and single.group(1) in valid and not (single.group(1) == "I" and re.match(r"^I\s+[a-z]", s)):
        return [single.group(1)]
    trailing = re.search(r"\b(?:is|be|pick|choose)\s+\(?([A-J])\)?[.!]?$", s)  # "I think it is B"
    if trailing and trailing.group(1) in valid:
        return [trailing.group(1)]
    if choices:
        key = _option_key(s)
        matched = [valid[k] for k, text in enumerate(choices) if key and _option_key(text) == key]
        if len(matched) == 1:
            return matched
    return []


def _closing_letter(region: str, choices: Sequence[str] | None) -> str | None:
    """The letter the closing sentence commits to without an answer phrase, or None.

    Real responses end "...the best advice is (C).", "...which is (H).", "This is indicated by option
    J." or "...known as D. Reconstruction." (the letter and its option's text). Only a finished last
    sentence counts; it must name one letter, once, and neither hedge nor negate ("(B) is not
    correct"). A last line that continues a walk through the options ("(C) 16" after "(B) 14",
    "(Option H)" after a line on option G) is no answer.
    """
    lines = [line for line in region[-_CLOSING_CHARS:].splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    previous = lines[-2] if len(lines) > 1 else ""
    introduced = re.search(r"\b(?:is|are|be|answer|option|choice)\s*:[*_\s]*$", previous)
    if _MARKER.match(last) and not introduced:
        return None
    sentence = _clean(_SENTENCE_END.split(last.strip())[-1])
    if not re.search(r"[.!]['\"]?$", sentence):
        return None  # unfinished: cut off mid-sentence
    valid = LETTERS[: len(choices)] if choices else LETTERS
    letters: set[str] = set()
    for m in re.finditer(r"(?:^|(?<=\s))([A-J])[.)]\s+(.+)", sentence):  # "D. Reconstruction"
        index = valid.find(m.group(1))
        option = _option_key(choices[index]) if choices and index >= 0 else ""
        if option and _option_key(m.group(2)).startswith(option):
            letters.add(m.group(1))
            sentence = sentence[: m.start(2)]  # the option's own words may say "not"
    named = re.findall(r"\(([A-J])\)|\b(?:option|choice)\s+\(?([A-J])\b", sentence, re.IGNORECASE)
    letters |= {a or b.upper() for a, b in named}
    if len(letters) != 1 or _HEDGE.search(re.split(r"\b(?:because|since)\b", sentence)[0]):
        return None
    letter = letters.pop()
    if letter not in valid or len(re.findall(rf"\b{letter}\b", sentence)) != 1:
        return None
    walk = re.findall(
        r"\(([A-J])\)|\b(?:option|choice)\s+\(?([A-J])\b|^\s*[*_-]*\s*\(?([A-J])[.)]", previous, re.I
    )
    if not introduced and any((a or b or c).upper() != letter for a, b, c in walk):
        return None  # the previous line was about another option: a walk through them
    return letter


def _statements(region: str) -> list[tuple[int, str]]:
    """(position, text) of every answer statement in a region."""
    found: list[tuple[int, str]] = []
    boxed = last_boxed(region)
    if boxed is not None:
        found.append((region.rfind("\\boxed"), boxed))
    for m in _PHRASE.finditer(region):
        # The rest of the line, at most _STATEMENT_CHARS: a whole-line copy per phrase is quadratic.
        end = region.find("\n", m.end(), m.end() + _STATEMENT_CHARS)
        found.append((m.start(), region[m.end() : end if end >= 0 else m.end() + _STATEMENT_CHARS]))
    lines = [(m.start(), m.group(0)) for m in re.finditer(r"[^\n]+", region) if m.group(0).strip()]
    if lines:
        pos, last = lines[-1]
        bold = re.fullmatch(r"\s*(?:\*\*|__)\(?([A-J])\)?(?:\*\*|__)[.:]?\s*", last) or re.fullmatch(
            r"\s*\(?([A-J])\)?[.)]?\s*", last
        )
        if bold or (len(lines) == 1 and len(last.strip()) <= 40):  # the whole reply is "D) Madrid"
            found.append((pos, last))
    return sorted(found)


def verify_choice(
    output: str,
    gold_letter: str,
    *,
    choices: Sequence[str] | None = None,
    truncated: bool = False,
) -> Verdict:
    """Judge a multiple-choice response.

    Args:
        output: The model response (``<think>`` sections are searched only when nothing follows them).
        gold_letter: The correct letter, ``"A"``-``"J"`` (``"(b)"`` is accepted).
        choices: The option texts in displayed order, so that "the answer is Paris" maps to a letter.
        truncated: The generation hit max_tokens; without an answer the verdict is "truncated".

    Returns:
        A ``Verdict`` whose ``extracted`` is the chosen letter (or the letters joined by "," when
        several were named, reason "multiple answers").
    """
    gold = gold_letter.strip().strip("()").upper()
    if len(gold) != 1 or gold not in LETTERS:
        raise ValueError(f"gold_letter must be one letter A-J, got {gold_letter!r}")
    for region in answer_regions(output, truncated=truncated):
        for _, statement in reversed(_statements(region)):
            letters = letters_in(statement, choices)
            if len(letters) > 1:
                return Verdict(False, ",".join(letters), "multiple answers")
            if letters:
                same = letters[0] == gold
                return Verdict(same, letters[0], "equivalent" if same else "not equivalent")
        closing = _closing_letter(region, choices)
        if closing is not None:
            same = closing == gold
            return Verdict(same, closing, "equivalent" if same else "not equivalent")
    return no_answer(output, truncated=truncated)


@register_verifier("choice")
def choice_item_verifier(output: str, item: Item, *, truncated: bool = False) -> Verdict:
    """Item verifier "choice": ``item.gold`` is the letter, ``item.meta["choices"]`` the option texts."""
    return verify_choice(output, str(item.gold), choices=item.meta.get("choices"), truncated=truncated)
