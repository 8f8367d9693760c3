"""Formats fine-tuning teams use: raw prompts without a chat template, answers after a delimiter,
a repetition penalty that is part of the cache identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.cache import request_key
from evalsuite.types import SamplingConfig

FORMAT = "### 问题：{question}\n### 答案："


def test_raw_template_sends_the_prompt_format_and_reads_the_answer_after_the_delimiter(fake_run) -> None:
    # Right answer after the delimiter, a wrong number before it: only the part after counts.
    fake_run.write({"default": "推理 99 ... ### 答案：10", "responses": {"What is 4 + 6?": "### 答案：10"}})
    result = fake_run.run(
        "--template", "raw", "--prompt-format", FORMAT, "--answer-after", "### 答案：",
        "--items", "builtin/add/level1/000*", "--run-id", "raw",
    )  # fmt: skip
    calls = fake_run.calls()
    assert calls and all(c["prompt"].startswith("### 问题：What is ") for c in calls)
    assert all(c["prompt"].endswith("\n### 答案：") and "boxed" not in c["prompt"] for c in calls)
    details = Path(fake_run.pytester.path / "reports" / "raw" / "details" / "builtin.jsonl").read_text()
    rows = [json.loads(line) for line in details.splitlines()]
    extracted = {r["id"]: r["extracted_output"] for r in rows}
    assert set(extracted.values()) == {"10"}, extracted  # never the 99 before the delimiter
    assert result.ret == 0


def test_answer_after_without_the_delimiter_is_wrong(fake_run) -> None:
    fake_run.write({"default": "The answer is \\boxed{10}."})
    fake_run.run("--answer-after", "### 答案：", "--items", "builtin/add/level1/000*", "--run-id", "nodelim")
    rows = (
        (fake_run.pytester.path / "reports" / "nodelim" / "details" / "builtin.jsonl")
        .read_text()
        .splitlines()
    )
    reasons = {json.loads(r)["reason"] for r in rows}
    assert reasons == {"no '### 答案：' in the output"}


def test_repetition_penalty_is_in_the_cache_key_only_when_used() -> None:
    """Keys of earlier runs (no penalty) stay valid; a penalty is a cache entry of its own."""
    common = {"fingerprint": "f", "adapter": None, "prompt": "p", "sample_index": 0}
    plain = request_key(sampling=SamplingConfig(), **common)
    assert plain == request_key(sampling=SamplingConfig(repetition_penalty=1.0), **common)
    assert plain != request_key(sampling=SamplingConfig(repetition_penalty=1.2), **common)


TINY = Path(__file__).resolve().parents[2] / "fixtures" / "models" / "tiny-r1"


@pytest.mark.slow
@pytest.mark.skipif(not (TINY / "config.json").is_file(), reason="tiny model absent")
def test_hf_engine_applies_the_repetition_penalty() -> None:
    pytest.importorskip("transformers")
    from evalsuite.benchmarks.prompts import math_messages
    from evalsuite.engines.base import EngineConfig, engines
    from evalsuite.types import Request

    engine = engines.get("hf")(EngineConfig(model=str(TINY), dtype="float32"))
    msgs = math_messages("What is 123 + 456?")
    texts = {}
    for penalty in (1.0, 3.0):
        sampling = SamplingConfig(max_tokens=48, repetition_penalty=penalty)
        got = []
        engine.generate([Request(str(penalty), "x", 0, msgs, engine.render(msgs), sampling)], got.append)
        texts[penalty] = got[0].text
    engine.close()
    assert texts[1.0] != texts[3.0], texts


def test_max_prompt_tokens_cuts_the_question_keeps_the_template_and_counts(fake_run) -> None:
    """The fake engine's tokens are words: 2 for its template, 17 for the r1 user turn of "What is a + b?"."""
    result = fake_run.run("--max-prompt-tokens", "8", "--items", "builtin/add/level1/000*", "--run-id", "cut")
    prompts = [c["prompt"] for c in fake_run.calls()]
    assert prompts and all(len(p.split()) <= 8 for p in prompts)
    assert all(p.startswith("<|user|>\nWhat is ") and p.endswith("<|assistant|>\n") for p in prompts)
    result.stdout.fnmatch_lines(["prompts truncated to --max-prompt-tokens: 10"])
    meta = json.loads((fake_run.pytester.path / "reports" / "cut" / "summary.json").read_text())["meta"]
    assert meta["generation"]["truncated_prompts"] == 10
    roomy = fake_run.run(
        "--max-prompt-tokens", "500", "--items", "builtin/add/level1/000*", "--run-id", "roomy"
    )
    assert "prompts truncated" not in roomy.stdout.str()
