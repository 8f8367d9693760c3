"""Greedy pass rate of a checkpoint on the built-in benchmark, with transformers (the reference figure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.benchmarks.builtin import iter_problems
from evalsuite.benchmarks.prompts import math_messages
from evalsuite.verify.math import verify_math

MAX_NEW_TOKENS = 160
"""Enough for the longest trace (3-digit ``expr``: about 125 tokens)."""


@dataclass(frozen=True)
class ItemResult:
    """The greedy outcome of one built-in item."""

    task: str
    """Built-in task name."""
    level: int
    """Built-in difficulty level."""
    correct: bool
    """Whether ``verify_math`` accepted the output."""
    output: str
    """Generated text up to (not including) ``<|im_end|>``."""


def builtin_prompts(tokenizer, *, template: str = "r1") -> list[tuple[str, int, str, str]]:
    """(task, level, rendered prompt, gold) for the 300 built-in items, rendered with ``tokenizer``'s template."""
    rows = []
    for task, level, _, question, answer in iter_problems():
        messages = [
            {"role": m.role, "content": m.content} for m in math_messages(question, template=template)
        ]
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        rows.append((task, level, prompt, str(answer)))
    return rows


def cut_at_eos(text: str, eos: str) -> str:
    """``text`` up to the first ``eos`` (batched generation pads finished rows with eos)."""
    return text.split(eos, 1)[0]


def hf_greedy_results(
    model_dir: Path, *, adapter: Path | None = None, batch_size: int = 100, max_new_tokens: int = MAX_NEW_TOKENS
) -> list[ItemResult]:
    """Greedy-decode all built-in items with transformers (left padding, batched) and verify them.

    ``adapter``: a LoRA adapter directory applied through peft.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    model = model.eval()
    rows = builtin_prompts(tokenizer)
    results: list[ItemResult] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        enc = tokenizer(
            [p for _, _, p, _ in chunk], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.inference_mode():
            out = model.generate(
                **enc, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id
            )
        texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=False)
        for (task, level, _, gold), text in zip(chunk, texts, strict=True):
            text = cut_at_eos(text, tokenizer.eos_token)
            results.append(ItemResult(task, level, verify_math(text, gold).correct, text))
    return results


def pass_rates(results: Iterable[ItemResult]) -> dict[str, float]:
    """Pass rate overall (``all``), per task, per ``level<N>`` and per ``task/level<N>``."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        for key in ("all", r.task, f"level{r.level}", f"{r.task}/level{r.level}"):
            groups[key].append(r.correct)
    return {k: sum(v) / len(v) for k, v in groups.items()}


def rates_table(rates: dict[str, float], tasks: Sequence[str], levels: Sequence[int]) -> str:
    """A Markdown table: one row per task, one column per level, plus totals."""
    head = "| task | " + " | ".join(f"level {lv}" for lv in levels) + " | all |"
    lines = [head, "|" + "---|" * (len(levels) + 2)]
    for task in (*tasks, None):
        name = task or "**all**"
        cells = [rates[f"{task}/level{lv}" if task else f"level{lv}"] for lv in levels]
        total = rates[task or "all"]
        lines.append(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + f" | {total:.2f} |")
    return "\n".join(lines)
