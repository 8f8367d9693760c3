"""The data that flows through one run: items, requests, completions, per-item results.

All of them are frozen dataclasses so that they can be hashed, cached and shipped between
xdist workers as plain JSON (``dataclasses.asdict``; ``item_result_from_dict`` reads one back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    """Who speaks: system, user or assistant."""
    content: str
    """The message text."""


@dataclass(frozen=True)
class Item:
    """One benchmark item: one parametrized pytest case."""

    benchmark: str
    """Registry name of the benchmark, e.g. ``math500``."""
    id: str
    """Readable id inside the benchmark, e.g. ``algebra/level5/test-algebra-1234``."""
    messages: tuple[Message, ...]
    """The prompt as chat messages (the benchmark's template already applied)."""
    gold: Any
    """The reference answer, as the verifier expects it (str, letter, test cases, ...)."""
    verifier: str = "math"
    """Registry name of the verifier that judges outputs of this item."""
    groups: Mapping[str, str] = field(default_factory=dict)
    """Subgroups this item belongs to (``subject``, ``level``, ``bootcamp``...), for breakdowns and marks."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Anything else the verifier or report needs (choice permutation, code tests, ...)."""
    prompt_text: str | None = None
    """Raw prompt for completion-mode engines; ``None`` renders ``messages`` with the chat template."""

    @property
    def nodeid(self) -> str:
        """The pytest parameter id: ``<benchmark>/<id>``."""
        return f"{self.benchmark}/{self.id}"

    @property
    def user_prompt(self) -> str:
        """The last user message (what a human reads as "the question")."""
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")


@dataclass(frozen=True)
class SamplingConfig:
    """Decoding parameters shared by every request of a run."""

    temperature: float = 0.0
    """Softmax temperature; 0 means greedy."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_tokens: int | None = 512
    """Upper bound on generated tokens per sample; None: up to the model's context minus the prompt
    (the generation plan fills it per request where the engine can count, else the server does)."""
    seed: int = 0
    """Seed of the run (engines are seeded with it; per-sample seeds derive from it)."""
    stop: tuple[str, ...] = ()
    """Extra stop strings (EOS always stops)."""
    repetition_penalty: float = 1.0
    """Penalty on tokens already in the prompt or output (1.0: none; CTRL-style, as transformers and vLLM apply it)."""


@dataclass(frozen=True)
class Request:
    """One generation: one item, one sample index."""

    key: str
    """Cache key: hash of everything that changes the completion."""
    item_nodeid: str
    """``Item.nodeid`` this request belongs to."""
    sample_index: int
    """0-based sample number (``--samples N`` gives 0..N-1)."""
    messages: tuple[Message, ...]
    """Chat messages, as the item gives them."""
    prompt: str
    """The rendered prompt text the engine sees (chat template applied)."""
    sampling: SamplingConfig
    """Decoding parameters."""
    adapter: str | None = None
    """Name of the LoRA adapter that answers (a key of the engine's ``adapters``); ``None``: the base model."""


FinishReason = Literal["stop", "length", "error"]


@dataclass(frozen=True)
class Completion:
    """The engine's answer to one ``Request``."""

    key: str
    """The request's cache key."""
    text: str
    """Generated text (empty on error)."""
    finish_reason: FinishReason
    """``stop`` (EOS/stop string), ``length`` (hit max_tokens) or ``error`` (infrastructure failure)."""
    prompt_tokens: int = 0
    """Tokens in the prompt."""
    output_tokens: int = 0
    """Tokens generated."""
    latency_s: float = 0.0
    """Seconds from submission to the last token."""
    ttft_s: float | None = None
    """Seconds to the first token, when the engine streams."""
    error: str | None = None
    """What went wrong, when ``finish_reason == "error"``."""


TRUNCATED = "truncated"
"""``reason`` of a sample cut off before its final answer: an unclosed ``<think>``, or no answer in an
output that hit the token limit. Metrics count such a sample as incorrect and also report the score
without it."""


@dataclass(frozen=True)
class SampleResult:
    """The verdict on one sample of one item."""

    index: int
    """Sample index."""
    output: str
    """Full generated text."""
    correct: bool
    """Whether the verifier accepted it."""
    score: float
    """Verifier score in [0, 1] (1.0/0.0 for boolean verifiers)."""
    extracted: str | None
    """What the verifier took from the output as the answer."""
    reason: str
    """Why, in a few words ("equivalent", "no answer found", "truncated", "timeout", ...)."""
    finish_reason: str
    """The completion's finish reason."""
    output_tokens: int
    """Generated tokens."""
    error: str | None = None
    """Infrastructure error (engine or verifier), counted apart from wrong answers."""

    @property
    def truncated(self) -> bool:
        """The output was cut off before its final answer (reason ``TRUNCATED``, no infrastructure error)."""
        return self.reason == TRUNCATED and not self.error


@dataclass(frozen=True)
class ItemResult:
    """Everything recorded about one item: what reports, metrics and gates read."""

    benchmark: str
    """Benchmark name."""
    item_id: str
    """Item id inside the benchmark."""
    groups: Mapping[str, str]
    """Subgroups of the item."""
    prompt: str
    """Rendered prompt."""
    gold: Any
    """Reference answer."""
    samples: tuple[SampleResult, ...]
    """One entry per sample."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Item metadata worth keeping in reports (e.g. choice permutation)."""

    @property
    def nodeid(self) -> str:
        return f"{self.benchmark}/{self.item_id}"

    @property
    def passed(self) -> bool:
        """An item passes when any sample is correct (pass@n)."""
        return any(s.correct for s in self.samples)

    @property
    def errored(self) -> bool:
        return any(s.error for s in self.samples)

    @property
    def truncated(self) -> bool:
        """Every sample without infrastructure error was cut off before its answer (so none is correct).

        Such an item is reported apart from wrong ones (pytest: "truncated at N tokens").
        """
        valid = [s for s in self.samples if not s.error]
        return bool(valid) and all(s.truncated for s in valid)

    @property
    def truncated_at(self) -> int:
        """The most generated tokens among the item's truncated samples (0 when none is truncated)."""
        return max((s.output_tokens for s in self.samples if s.truncated), default=0)


def truncation_reason(result: ItemResult) -> str | None:
    """Why an item counts as truncated, for pytest's xfail-like outcome; None when it does not."""
    if not result.truncated:
        return None
    if any(s.finish_reason == "length" for s in result.samples if s.truncated):
        return f"truncated at {result.truncated_at} tokens"
    return f"truncated at {result.truncated_at} tokens (unclosed <think>)"


def item_result_from_dict(d: Mapping[str, Any]) -> ItemResult:
    """Inverse of ``dataclasses.asdict`` for ``ItemResult``."""
    d = dict(d)
    d["samples"] = tuple(SampleResult(**s) for s in d["samples"])
    return ItemResult(**d)


@dataclass(frozen=True)
class RunRecord:
    """One finished (or partial) run: what reports are written from and what ``--baseline`` reads back."""

    run_id: str
    """Unique id, also the report directory name (``reports/<run_id>``)."""
    meta: Mapping[str, Any]
    """Reproduction data: options (API keys redacted), model fingerprint, adapter, sampling params,
    seed, benchmark versions/hashes/templates, package versions, git commit."""
    items: tuple[ItemResult, ...]
    """Per-item results, in collection order."""
