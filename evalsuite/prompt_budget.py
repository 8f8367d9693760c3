"""``--max-prompt-tokens``: prompts cut to a token budget, the question shortened and the template kept.

A fine-tuned model trained with a cut-off length sees long inputs cut the same way. Cutting the
rendered prompt's end would drop the chat template's generation prompt (the model would not know it
should answer), so the question (the last user turn) loses its end instead, inside the template.
"""

from __future__ import annotations

from typing import Any, Protocol

from evalsuite.engines.base import EngineConfigError
from evalsuite.types import Item

MAX_ROUNDS = 4
"""Re-tokenizing a shortened text can shift a boundary token; a few rounds settle it."""


class Tokenizes(Protocol):
    """What an engine offers when it can count and cut prompt tokens locally."""

    def count_tokens(self, text: str) -> int: ...

    def truncate_text(self, text: str, max_tokens: int) -> str: ...


def tokenizing(engine: Any) -> Tokenizes:
    """``engine`` if it tokenizes locally; otherwise a usage error naming the option."""
    if not (hasattr(engine, "count_tokens") and hasattr(engine, "truncate_text")):
        raise EngineConfigError(
            f"--max-prompt-tokens needs an engine that tokenizes locally (hf, vllm), not {engine.name!r}; "
            "cut the inputs on the server side instead"
        )
    return engine  # type: ignore[no-any-return]


def truncate_prompt(engine: Tokenizes, item: Item, prompt: str, max_tokens: int) -> tuple[str, bool]:
    """``prompt`` within ``max_tokens`` tokens (question shortened), and whether it had to be cut."""
    overflow = engine.count_tokens(prompt) - max_tokens
    if overflow <= 0:
        return prompt, False
    question = item.user_prompt
    at = prompt.rfind(question) if question else -1
    for _ in range(MAX_ROUNDS):
        if at < 0 or not question:
            break
        keep = max(engine.count_tokens(question) - overflow, 0)
        shorter = engine.truncate_text(question, keep)
        prompt = prompt[:at] + shorter + prompt[at + len(question) :]
        question = shorter
        overflow = engine.count_tokens(prompt) - max_tokens
        if overflow <= 0:
            return prompt, True
    raise EngineConfigError(
        f"--max-prompt-tokens {max_tokens}: {item.nodeid} does not fit even with its question cut "
        "(the template and system prompt alone are longer); raise the limit"
    )
