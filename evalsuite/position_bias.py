"""Position bias of multiple-choice answers: does the model prefer a letter, whatever the question?

For a benchmark whose gold answers are letters (GPQA-Diamond, a ``--verifier choice`` JSONL), count
per letter how often the model picks it against how often the right answer sits there, and how
accurate it is there. A chi-square goodness-of-fit test asks whether the picks follow the gold
positions (no preference) or lean to some letter. With ``--choice-rotations K`` the same question
is asked with its options in K orders (``meta["record_id"]``, ``meta["permutation"]``): an
unbiased model names the same *option* in every order; ``consistency`` is the share of questions
where it does.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalsuite.types import ItemResult, SampleResult

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class LetterStats:
    """One answer letter."""

    letter: str
    """The letter."""
    picked: int
    """Valid samples whose answer is this letter."""
    picked_rate: float
    """``picked`` over the samples that named one letter."""
    gold: int
    """Valid samples whose right answer is under this letter."""
    gold_rate: float
    """``gold`` over all valid samples."""
    accuracy: float | None
    """Share of the ``gold`` samples answered right (None when the letter is never right)."""


@dataclass(frozen=True)
class PositionBias:
    """Position bias on one multiple-choice benchmark."""

    benchmark: str
    """Benchmark name."""
    letters: tuple[LetterStats, ...]
    """Per letter, in order."""
    samples: int
    """Valid samples (no infrastructure error)."""
    answered: int
    """Valid samples that named exactly one of ``letters``."""
    chi_square: float | None
    """Chi-square statistic of the picks against the gold positions, over the letters that are right
    somewhere (None below 2 such letters or without an answer)."""
    dof: int
    """Degrees of freedom of the test."""
    p_value: float | None
    """Probability of picks this uneven without a letter preference (small: the model prefers letters)."""
    rotated_questions: int
    """Questions asked in two or more option orders."""
    consistent_questions: int
    """Of those, questions whose answers named the same option in every order."""

    @property
    def consistency(self) -> float | None:
        """``consistent_questions / rotated_questions``; None without rotations."""
        return self.consistent_questions / self.rotated_questions if self.rotated_questions else None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "consistency": self.consistency}


def is_choice_benchmark(items: Sequence[ItemResult]) -> bool:
    """Whether every gold answer is one letter A-J (a multiple-choice benchmark)."""
    return bool(items) and all(
        isinstance(it.gold, str) and len(it.gold) == 1 and it.gold in LETTERS for it in items
    )


def _letter(sample: SampleResult) -> str | None:
    text = (sample.extracted or "").strip().upper()
    return text if len(text) == 1 and text in LETTERS else None


def _valid(item: ItemResult) -> list[SampleResult]:
    return [s for s in item.samples if not s.error]


def position_bias(benchmark: str, items: Sequence[ItemResult]) -> PositionBias:
    """The position-bias table of one benchmark's items (all of whose golds are letters)."""
    from scipy import stats  # scipy is imported by metrics anyway; only when a report is written

    width = max(
        [len(it.meta["choices"]) for it in items if isinstance(it.meta.get("choices"), list)]
        + [LETTERS.index(it.gold) + 1 for it in items],
        default=0,
    )
    letters = LETTERS[:width]
    picked: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    right: Counter[str] = Counter()
    samples = 0
    for it in items:
        for s in _valid(it):
            samples += 1
            gold[it.gold] += 1
            right[it.gold] += bool(s.correct)
            letter = _letter(s)
            if letter is not None and letter in letters:
                picked[letter] += 1
    answered = sum(picked.values())
    rows = tuple(
        LetterStats(
            letter=x,
            picked=picked[x],
            picked_rate=picked[x] / answered if answered else 0.0,
            gold=gold[x],
            gold_rate=gold[x] / samples if samples else 0.0,
            accuracy=right[x] / gold[x] if gold[x] else None,
        )
        for x in letters
    )
    chi2 = p = None
    tested = [x for x in letters if gold[x]]  # letters that are right somewhere: a finite expectation
    dof = max(len(tested) - 1, 0)
    picks = [picked[x] for x in tested]
    if sum(picks) and dof:
        total_gold = sum(gold[x] for x in tested)
        result = stats.chisquare(picks, [sum(picks) * gold[x] / total_gold for x in tested])
        chi2, p = float(result.statistic), float(result.pvalue)
    rotated, consistent = _consistency(items)
    return PositionBias(benchmark, rows, samples, answered, chi2, dof, p, rotated, consistent)


def _consistency(items: Sequence[ItemResult]) -> tuple[int, int]:
    """(questions asked in 2+ orders, those answered with the same option in every order)."""
    by_question: dict[str, list[ItemResult]] = {}
    for it in items:
        if "record_id" in it.meta and isinstance(it.meta.get("permutation"), list):
            by_question.setdefault(str(it.meta["record_id"]), []).append(it)
    rotated = consistent = 0
    for rotations in by_question.values():
        if len(rotations) < 2:
            continue
        rotated += 1
        options = set()
        for it in rotations:
            perm = it.meta["permutation"]
            for s in _valid(it):
                letter = _letter(s)
                index = LETTERS.index(letter) if letter else None
                # The original option (0 = the correct one) under the chosen letter; None: no answer.
                options.add(perm[index] if index is not None and index < len(perm) else None)
        consistent += len(options) == 1 and None not in options
    return rotated, consistent


def position_biases(items: Sequence[ItemResult]) -> dict[str, PositionBias]:
    """Position bias of every multiple-choice benchmark among ``items``, in first-seen order."""
    by_benchmark: dict[str, list[ItemResult]] = {}
    for it in items:
        by_benchmark.setdefault(it.benchmark, []).append(it)
    return {b: position_bias(b, its) for b, its in by_benchmark.items() if is_choice_benchmark(its)}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def bias_lines(biases: Mapping[str, PositionBias]) -> list[str]:
    """Terminal lines: per benchmark, picks vs gold positions vs accuracy per letter, the test, consistency."""
    lines = []
    for name, b in biases.items():
        cells = "  ".join(
            f"{r.letter} {_pct(r.picked_rate)}/{_pct(r.gold_rate)}/{_pct(r.accuracy)}" for r in b.letters
        )
        test = (
            "chi-square n/a"
            if b.chi_square is None
            else f"chi-square {b.chi_square:.1f} ({b.dof} dof) p={b.p_value:.2g}"
        )
        line = f"{name} position bias (picked/gold/accuracy): {cells}  {test}"
        if b.rotated_questions:
            line += f", same option in every order: {b.consistent_questions}/{b.rotated_questions} questions"
        lines.append(line)
    return lines
