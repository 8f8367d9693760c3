"""Prompts for the load: random words, any registered benchmark's items, or a JSONL file.

With ``--prompt-len N`` every prompt's user turn is cut or repeated to about N tokens as the
server counts them: two probe requests of different lengths give the server's tokens per
character and the fixed cost of its template, and each user turn is sized from those.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalsuite.benchmarks.prompts import completion_prompt
from evalsuite.perf.load import Prompt
from evalsuite.types import Message

_COMMON_WORDS = (
    "time year people way day man thing woman life child world school state family student group "
    "country problem hand part place case week company system program question work government number "
    "night point home water room mother area money story fact month lot right study book eye job word "
    "business issue side kind head house service friend father power hour game line end member law car"
)
WORDS = tuple(_COMMON_WORDS.split())
PROBE_CHARS = (64, 256)
"""User-turn lengths of the two probes that measure the server's tokens per character."""


class PromptError(ValueError):
    """A dataset that cannot be read; the message says which file or name and how to fix it."""


@dataclass(frozen=True)
class PromptSource:
    """A prompt whose user turn can be resized."""

    content: str
    """The last user turn."""
    head: tuple[Message, ...] = ()
    """Messages before it (a system prompt, earlier turns)."""
    template: str | None = None
    """Chat template rendering the raw prompt (``r1``, ``chatml``...); ``None`` sends the user turn as is."""

    def prompt(self, content: str | None = None) -> Prompt:
        """The prompt, with ``content`` instead of the user turn when given."""
        messages = (*self.head, Message("user", self.content if content is None else content))
        text = completion_prompt(messages, template=self.template) if self.template else messages[-1].content
        return Prompt(text=text, messages=messages)


def random_sources(count: int, *, seed: int, chars: int = 1024) -> list[PromptSource]:
    """``count`` different prompts of random common words, each opening with its number (no shared prefix)."""
    rng = random.Random(seed)
    sources = []
    for i in range(count):
        words = [f"{i}:"]
        length = len(words[0])
        while length < chars:
            words.append(rng.choice(WORDS))
            length += 1 + len(words[-1])
        sources.append(PromptSource(" ".join(words)))
    return sources


def dataset_sources(dataset: str, *, data_dir: str | None = None, seed: int = 0) -> list[PromptSource]:
    """The prompts of a registered benchmark (by name) or of a JSONL file (by path)."""
    path = Path(dataset)
    if path.suffix == ".jsonl" or path.is_file():
        return jsonl_sources(path)
    from evalsuite.benchmarks.base import BenchmarkError, LoadOptions, load_benchmark
    from evalsuite.registry import UnknownNameError

    try:
        data = load_benchmark(dataset, LoadOptions(data_dir=data_dir, seed=seed))
    except (UnknownNameError, BenchmarkError, OSError) as exc:
        raise PromptError(f"--dataset {dataset}: {exc} (or pass 'random', or a .jsonl file)") from None
    sources = []
    for item in data.items:
        *head, last = item.messages
        if item.prompt_text is not None:  # a raw prompt of its own: send it verbatim
            sources.append(PromptSource(item.prompt_text))
        else:
            sources.append(PromptSource(last.content, tuple(head), data.template))
    if not sources:
        raise PromptError(f"--dataset {dataset}: the benchmark has no items")
    return sources


def jsonl_sources(path: Path) -> list[PromptSource]:
    """One prompt per line: a JSON string, or an object with ``prompt``, ``question``, ``text`` or ``messages``."""
    if not path.is_file():
        raise PromptError(f"--dataset {path}: no such file")
    sources = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise PromptError(f"{path}:{number}: not JSON ({exc})") from None
        if isinstance(record, dict) and isinstance(record.get("messages"), list):
            messages = tuple(Message(m["role"], m["content"]) for m in record["messages"])
            if not messages or messages[-1].role != "user":
                raise PromptError(f"{path}:{number}: 'messages' must end with a user turn")
            sources.append(PromptSource(messages[-1].content, messages[:-1], "chatml"))
            continue
        text = record if isinstance(record, str) else None
        if isinstance(record, dict):
            text = next(
                (record[k] for k in ("prompt", "question", "text") if isinstance(record.get(k), str)), None
            )
        if text is None:
            raise PromptError(
                f"{path}:{number}: expected a string or an object with 'prompt', 'question', 'text' or 'messages'"
            )
        sources.append(PromptSource(text))
    if not sources:
        raise PromptError(f"--dataset {path}: the file holds no prompts")
    return sources


def resized(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters, or repeated (blank-line separated) up to them."""
    if not text:
        return text
    out = text
    while len(out) < chars:
        out = f"{out}\n\n{text}"
    return out[: max(1, chars)]


async def fit_prompt_length(
    sources: Sequence[PromptSource], prompt_len: int, count_tokens: Callable[[Prompt], Awaitable[int]]
) -> list[Prompt]:
    """The prompts with each user turn sized so that the server counts about ``prompt_len`` tokens.

    ``count_tokens`` asks the server for a prompt's length (twice, on the first source). A server
    that reports no usage gets a character per token.
    """
    short, long = (sources[0].prompt(resized(sources[0].content, n)) for n in PROBE_CHARS)
    t_short, t_long = await count_tokens(short), await count_tokens(long)
    if t_long > t_short > 0:
        per_char = (t_long - t_short) / (PROBE_CHARS[1] - PROBE_CHARS[0])
        overhead = t_short - per_char * PROBE_CHARS[0]
    else:
        per_char, overhead = 1.0, 0.0
    chars = max(1, round((prompt_len - overhead) / per_char))
    return [s.prompt(resized(s.content, chars)) for s in sources]
