"""``evalsuite perf`` prompts: random, benchmark and JSONL sources, and sizing them to --prompt-len."""

from __future__ import annotations

import pytest

from evalsuite.perf.prompts import (
    PromptError,
    dataset_sources,
    fit_prompt_length,
    jsonl_sources,
    random_sources,
    resized,
)


def test_random_sources_are_seeded_distinct_and_long_enough():
    sources = random_sources(50, seed=1, chars=300)
    assert sources == random_sources(50, seed=1, chars=300)
    assert len({s.content for s in sources}) == 50
    assert all(len(s.content) >= 300 and s.content.startswith(f"{i}: ") for i, s in enumerate(sources))
    assert sources[0].prompt().text == sources[0].content, "no template: the words are the prompt"


@pytest.mark.parametrize(
    ("text", "chars", "expected"),
    [("abcdef", 3, "abc"), ("ab", 7, "ab\n\nab\n"), ("abc", 3, "abc")],
)
def test_resized(text, chars, expected):
    assert resized(text, chars) == expected


def test_builtin_benchmark_prompts_render_with_its_template():
    sources = dataset_sources("builtin")
    assert len(sources) == 300
    prompt = sources[0].prompt()
    assert prompt.messages[-1].content == sources[0].content and "What is" in sources[0].content
    assert prompt.text.endswith("<think>\n") and sources[0].content in prompt.text, "r1 template"
    shorter = sources[0].prompt("What is 1 + 1?")
    assert "What is 1 + 1?" in shorter.text and sources[0].content not in shorter.text


def test_unknown_benchmark_names_the_known_ones():
    with pytest.raises(PromptError, match="known benchmarks: .*builtin"):
        dataset_sources("no-such-benchmark")


def test_jsonl_sources_take_strings_fields_and_messages(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '"plain"\n\n{"prompt": "p"}\n{"question": "q", "answer": 1}\n'
        '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}\n'
    )
    sources = jsonl_sources(path)
    assert [s.content for s in sources] == ["plain", "p", "q", "hi"]
    chat = sources[3].prompt()
    assert [m.role for m in chat.messages] == ["system", "user"]
    assert (
        chat.text
        == "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"p.jsonl:1: not JSON"),
        ('{"answer": 1}', "expected a string or an object with 'prompt'"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(PromptError, match=message):
        dataset_sources(str(path))


@pytest.mark.asyncio
async def test_fit_prompt_length_sizes_prompts_to_the_servers_token_count():
    # A server whose template costs 12 tokens and whose tokenizer makes a token of 3 characters.
    def tokens(text: str) -> int:
        return 12 + len(text) // 3

    asked: list[str] = []

    async def count_tokens(prompt):
        asked.append(prompt.text)
        return tokens(prompt.text)

    sources = random_sources(5, seed=0, chars=100)
    prompts = await fit_prompt_length(sources, 200, count_tokens)
    assert len(asked) == 2, "two probes"
    assert all(abs(tokens(p.text) - 200) <= 1 for p in prompts)
    assert [p.text[:3] for p in prompts] == [s.content[:3] for s in sources], "each keeps its own opening"


@pytest.mark.asyncio
async def test_fit_prompt_length_without_usage_assumes_a_character_per_token():
    async def no_usage(prompt):
        return 0

    prompts = await fit_prompt_length(random_sources(2, seed=0), 40, no_usage)
    assert [len(p.text) for p in prompts] == [40, 40]
