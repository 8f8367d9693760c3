"""Presets as data, their merge under the user's options, the mix sampler, context lengths from config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.benchmarks.prompts import TEMPLATES
from evalsuite.engines.local import config_context_length
from evalsuite.metrics import check_metric_name
from evalsuite.options import BY_FLAG, parse_mix
from evalsuite.protocols import PRESETS, apply
from evalsuite.selection import mix_counts, mix_items
from evalsuite.types import Item, Message


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_sets_known_options_with_valid_values(name):
    preset = PRESETS[name]
    assert preset.source.startswith("https://github.com/") and "/blob/" in preset.source  # pinned
    for option, value in preset.values.items():
        flag = BY_FLAG["--" + option.replace("_", "-")]
        if flag.check is not None:
            flag.check(value)
        if flag.choices is not None:
            assert value in flag.choices
    assert preset.values.get("template") in TEMPLATES
    for task in preset.tasks.values():
        check_metric_name(task.metric)
        assert task.samples >= 1


def test_apply_fills_what_is_not_given_and_reports_overrides():
    filled, applied = apply(
        PRESETS["open-r1"], {"temperature": 0.0, "top_p": 0.95, "samples": None}, ("math500", "builtin")
    )
    assert "temperature" not in filled and "top_p" not in filled  # given: the user's value stays
    assert filled["max_tokens"] == 32768 and filled["dtype"] == "bfloat16"
    assert [(o.option, o.preset_value, o.value) for o in applied.overrides] == [("temperature", 0.6, 0.0)]
    assert applied.overrides[0].message("open-r1") == (
        "evalsuite: --protocol open-r1: --temperature 0.6 (preset) overridden by 0.0"
    )
    assert applied.samples == {"math500": 4}  # builtin is not an open-r1 task: values["samples"]
    assert "samples[math500]=4" in applied.banner() and "temperature" not in applied.banner()


def test_explicit_samples_replace_the_per_task_counts():
    _, applied = apply(PRESETS["open-r1"], {"samples": 2}, ("aime24",))
    assert applied.samples == {} and applied.overrides[0].option == "samples"
    record = applied.record()
    assert record["tasks"]["aime24"]["samples"] == 64 and record["overrides"][0]["given"] == 2


def test_mix_counts_follow_evalscopes_weighted_sampler():
    assert mix_counts({"math500": 3, "gsm8k": 1, "aime24": 1}, 10) == {"math500": 6, "gsm8k": 2, "aime24": 2}
    assert mix_counts({"a": 1, "b": 1, "c": 1}, 10) == {"a": 3, "b": 3, "c": 4}  # the last takes the rest
    with pytest.raises(ValueError, match="positive"):
        parse_mix("a=0")
    with pytest.raises(ValueError, match="NAME=WEIGHT"):
        parse_mix("a=x")


def _items(bench: str, n: int) -> list[Item]:
    return [Item(bench, f"q{i}", (Message("user", f"{bench} {i}"),), "1") for i in range(n)]


def test_mix_items_is_seeded_and_caps_at_the_benchmark_size():
    items = _items("a", 20) + _items("b", 2)
    first = mix_items(items, {"a": 1, "b": 1}, 10, seed=0)
    assert [i.benchmark for i in first].count("a") == 5 and [i.benchmark for i in first].count("b") == 2
    assert mix_items(items, {"a": 1, "b": 1}, 10, seed=0) == first
    assert mix_items(items, {"a": 1, "b": 1}, 10, seed=1) != first


def test_context_length_from_config_json(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"text_config": {"max_position_embeddings": 4096}}))
    assert config_context_length(tmp_path) == 4096
    assert config_context_length(tmp_path, 1024) == 1024  # --max-model-len caps it
    assert config_context_length(tmp_path, 8192) == 4096
    assert config_context_length(tmp_path / "missing") is None
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    assert config_context_length(tmp_path, 512) == 512


def test_preset_lengths_beyond_the_models_context_give_way():
    filled, applied = apply(PRESETS["open-r1"], {}, ("builtin",))
    values = {"es_" + k: v for k, v in filled.items()}
    notes = applied.fit_to_context(values, 1024, max_tokens_given=False)
    assert values["es_max_model_len"] is None  # the model's own 1024 positions, not 32768
    assert notes[0].endswith(
        "--max-model-len 32768 (preset) is beyond the model's 1024 positions; the model's own length is used"
    )
    assert "--max-tokens 32768 (preset) is a cap" in notes[1]
    values = {"es_" + k: v for k, v in filled.items()}
    assert applied.fit_to_context(values, 65536, max_tokens_given=True) == []
    assert values["es_max_model_len"] == 32768


def test_harness_prompts_in_the_loaders():
    from evalsuite.benchmarks import LoadOptions, load_benchmark
    from evalsuite.benchmarks.prompts import BOXED_INSTRUCTION, math_messages

    gpqa = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "gpqa_diamond.csv"
    options = LoadOptions(paths={"gpqa_diamond": str(gpqa)}, template="evalscope")
    item = load_benchmark("gpqa_diamond", options).items[0]
    text = item.user_prompt
    assert text.startswith("What is the correct answer to this question:") and "\nChoices:\n(A) " in text
    assert text.endswith(f"\n\n{BOXED_INSTRUCTION}") and len(item.messages) == 1
    (message,) = math_messages("What is 1 + 1?", template="lighteval")
    assert message.role == "user" and message.content.startswith(
        "Solve the following math problem efficiently and clearly.  The last line of your response"
    )
    assert "'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct'" in message.content
    assert message.content.endswith("Think step by step before answering.\n\nWhat is 1 + 1?")
