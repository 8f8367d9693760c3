"""--protocol presets, --max-tokens auto, --mix and the position-bias report, through the fake engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GPQA_FIXTURE = REPO / "fixtures" / "data" / "gpqa_diamond.csv"
TINY = REPO / "fixtures" / "models" / "tiny-r1"


def eval_args(fake_run) -> dict:
    (run_dir,) = fake_run.reports()
    return json.loads((run_dir / "eval_args.json").read_text())


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_preset_sets_parameters_prints_them_and_the_override(fake_run):
    result = fake_run.run(
        "--protocol", "deepseek-r1", "--samples", "2", "--items", "builtin/add/level1/000[0-1]"
    )
    result.stdout.fnmatch_lines(
        [
            "evalsuite: --protocol deepseek-r1 (https://github.com/deepseek-ai/DeepSeek-R1/*): *temperature=0.6 top_p=0.95*",
            "evalsuite: --protocol deepseek-r1: --samples 64 (preset) overridden by 2",
        ]
    )
    args = eval_args(fake_run)
    assert args["protocol"]["name"] == "deepseek-r1"
    assert args["protocol"]["overrides"] == [{"option": "samples", "preset": 64, "given": 2}]
    assert (args["options"]["temperature"], args["options"]["top_p"], args["options"]["max_tokens"]) == (
        0.6,
        0.95,
        32768,
    )
    assert args["sampling"]["samples"] == 2 and args["sampling"]["think_prefix"] == "<think>\n"
    calls = fake_run.calls()
    assert len(calls) == 4  # 2 items x 2 samples
    # Thinking forced open: the rendered prompt ends with the assistant turn, then "<think>\n".
    assert all(c["prompt"].endswith("<|assistant|>\n<think>\n") for c in calls)


def test_open_r1_uses_lighteval_prompt_and_its_samples_per_task(fake_run):
    data = write_jsonl(
        fake_run.pytester.path / "math500.jsonl",
        [
            {
                "problem": f"What is {a} + {10 - a}?",
                "answer": "10",
                "subject": "Algebra",
                "level": 1,
                "unique_id": f"test/algebra/{a}.json",
            }
            for a in (3, 4)
        ],
    )
    result = fake_run.run("--protocol", "open-r1", "--benchmark", "math500", "--data-path", f"math500={data}")
    result.assert_outcomes(passed=2)
    calls = fake_run.calls()
    assert len(calls) == 2 * 4  # open-r1 draws 4 samples per MATH-500 problem
    assert all(
        c["prompt"].startswith("<|user|>\nSolve the following math problem efficiently and clearly.")
        for c in calls
    )
    args = eval_args(fake_run)
    assert args["sampling"]["samples_by_benchmark"] == {"math500": 4}
    assert args["options"]["template"] == "lighteval" and args["options"]["dtype"] == "bfloat16"


def test_without_max_tokens_requests_fill_the_context_but_builtin_keeps_its_budget(fake_run):
    fake_run.write({"default": "\\boxed{10}", "context_length": 100})
    data = write_jsonl(
        fake_run.pytester.path / "q.jsonl", [{"prompt": "What is 4 + 6?", "gold": "10", "id": "q1"}]
    )
    fake_run.run("--data", str(data))
    (call,) = fake_run.calls()
    assert call["max_tokens"] == 100 - len(call["prompt"].split())
    fake_run.write({"default": "\\boxed{10}"})  # context unknown: the builtin benchmark's own 512
    fake_run.run("--items", "builtin/add/level1/0000")
    assert fake_run.calls()[-1]["max_tokens"] == 512
    fake_run.run("--items", "builtin/add/level1/0000", "--max-tokens", "64")
    assert fake_run.calls()[-1]["max_tokens"] == 64


def test_max_tokens_beyond_the_context_is_a_usage_error_naming_both(fake_run, pytester):
    fake_run.write({"default": "\\boxed{10}", "context_length": 100})
    result = fake_run.run("--items", "builtin/add/level1/0000", "--max-tokens", "500")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--max-tokens 500: larger than the model's context length 100*"])
    assert fake_run.calls() == []
    # A local checkpoint: checked from its config.json at start, before any engine loads.
    local = pytester.runpytest_subprocess(
        "--model", str(TINY), "--max-tokens", "5000", "-p", "no:cacheprovider"
    )
    assert local.ret == pytest.ExitCode.USAGE_ERROR
    local.stderr.fnmatch_lines(["*--max-tokens 5000: larger than the model's context length 1024*"])


def test_mix_draws_a_seeded_weighted_sample_across_benchmarks(fake_run):
    data = write_jsonl(
        fake_run.pytester.path / "q.jsonl",
        [{"prompt": f"q{i}", "gold": "1", "id": f"q{i}"} for i in range(5)],
    )
    args = ("--mix", "builtin=3,custom=1", "--mix-size", "8", "--data", str(data), "--collect-only", "-q")
    first = fake_run.run(*args)
    ids = [line for line in first.outlines if "test_item[" in line]
    assert sum("[builtin/" in i for i in ids) == 6 and sum("[custom/" in i for i in ids) == 2
    assert [line for line in fake_run.run(*args).outlines if "test_item[" in line] == ids
    bad = fake_run.run("--mix", "builtin=3", "--collect-only")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--mix builtin=3: needs --mix-size N as well*"])


def test_position_bias_of_a_model_that_always_answers_a(fake_run):
    fake_run.write({"default": "Answer: A"})
    result = fake_run.run(
        "--benchmark",
        "gpqa_diamond",
        "--data-path",
        f"gpqa_diamond={GPQA_FIXTURE}",
        "--choice-rotations",
        "4",
    )
    result.stdout.fnmatch_lines(
        [
            "gpqa_diamond position bias (picked/gold/accuracy): A 100%/25%/100%  B 0%/25%/0%*p=*same option in every order: 0/8 questions",
        ]
    )
    (run_dir,) = fake_run.reports()
    bias = json.loads((run_dir / "summary.json").read_text())["position_bias"]["gpqa_diamond"]
    assert [r["picked"] for r in bias["letters"]] == [32, 0, 0, 0]
    assert [r["gold"] for r in bias["letters"]] == [8, 8, 8, 8]
    assert bias["p_value"] < 1e-6 and bias["consistency"] == 0.0
    assert '"position_bias"' in (run_dir / "report.html").read_text()


def test_internbootcamp_protocol_writes_run_evals_output_layout(fake_run):
    fake_run.write({"default": "<think>\nok\n</think>\nFinal Answer: \\boxed{8+8+7+4}", "responses": {"1 2 3 4": "\\boxed{1+2+3+4}"}})
    bootcamp = REPO / "fixtures" / "data" / "bootcamp"
    result = fake_run.run("--protocol", "internbootcamp", "--test-dir", str(bootcamp), "--max-tokens", "64")
    assert result.ret in (0, 1)
    (run_dir,) = fake_run.reports()
    (layout,) = (run_dir / "internbootcamp").iterdir()
    assert re.fullmatch(r".+_bootcamp_\d{8}_\d{6}", layout.name), layout.name
    details = {p.stem: [json.loads(line) for line in p.read_text().splitlines()] for p in (layout / "details").glob("*.jsonl")}
    assert set(details) == {"game24", "sudoku"}
    row = next(r for r in details["game24"] if "1 2 3 4" in r["prompt"])
    assert set(row) == {"id", "prompt", "output_len", "score", "extracted_output", "ground_truth", "output"}
    assert row["score"] == 1.0 and row["ground_truth"] == {"puzzle": "1 2 3 4", "target": 10}
    meta = [json.loads(line) for line in (layout / "meta.jsonl").read_text().splitlines()]
    assert {m["bootcamp"] for m in meta} == {"game24", "sudoku"}
    assert all(0 <= m["avg_score"] <= 1 for m in meta)
    progress = (layout / "progress.log").read_text().splitlines()
    assert progress[0].startswith("Main Progress: 2/2") and all("Completed" in line for line in progress)
    assert json.loads((layout / "eval_args.json").read_text())["protocol"] == "internbootcamp"
