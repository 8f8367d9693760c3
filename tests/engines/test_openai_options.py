"""The HTTP engine's and vLLM's scaling options through pytest: bad values are usage errors before
anything starts; several --api-url endpoints serve one run."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

# Imported here, so in-process pytester sessions (which drop modules they import) reuse numpy/scipy,
# and torch (which the device count of --tensor-parallel-size imports, and which cannot be imported twice).
import evalsuite.gates  # noqa: F401
import evalsuite.reports  # noqa: F401

with contextlib.suppress(ImportError):
    import torch  # noqa: F401

EVAL_MODULE = """
from evalsuite.testing import check_item

def test_item(evaluation, request):
    check_item(evaluation, request)
"""
TINY = Path(__file__).resolve().parents[2] / "fixtures" / "models" / "tiny-r1"
SERVER = ["--api-url", "http://127.0.0.1:9/v1"]
VLLM = ["--engine", "vllm", "--model", str(TINY)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*SERVER, "--max-retries", "-1"], "*--max-retries -1: must be at least 0*"),
        ([*SERVER, "--max-retries", "two"], "*argument --max-retries: invalid int value: 'two'*"),
        ([*SERVER, "--request-timeout", "0"], "*--request-timeout 0.0: must be a finite number > 0*"),
        ([*SERVER, "--wait-for-server", "-5"], "*--wait-for-server -5.0: must be a finite number >= 0*"),
        ([*SERVER, "--max-retry-delay", "nan"], "*--max-retry-delay nan: must be a finite number >= 0*"),
        (["--api-url", "ftp://x/v1"], "*--api-url ftp://x/v1: expected an http(s) URL such as*"),
        (
            ["--api-url", "http://127.0.0.1:9/v1", "--api-url", "http://127.0.0.1:9"],
            "*--api-url http://127.0.0.1:9/v1,http://127.0.0.1:9: lists http://127.0.0.1:9 more than once*",
        ),
        (
            ["--engine", "fake", "--model", "x", "--max-retries", "2"],
            "*--max-retries 2: applies to servers (--api-url), not to --engine fake*",
        ),
        ([*SERVER, "--tensor-parallel-size", "0"], "*--tensor-parallel-size 0: must be at least 1*"),
        (
            [*SERVER, "--tensor-parallel-size", "2"],
            "*--tensor-parallel-size x --pipeline-parallel-size x --data-parallel-size 2x1x1: applies to --engine vllm, not openai*",
        ),
        (
            [*SERVER, "--distributed-executor-backend", "slurm"],
            "*argument --distributed-executor-backend: invalid choice: 'slurm'*",
        ),
        ([*VLLM, "--tensor-parallel-size", "64"], "*needs 64 devices (GPUs; CPU cores on a machine without one) but this machine has *; lower the sizes*"),
        (
            [*VLLM, "--data-parallel-size", "2"],
            "*--data-parallel-size 2: vLLM's in-process engine does not run data parallel*",
        ),
    ],
)
def test_bad_value_is_a_usage_error_before_anything_runs(pytester, args, message):
    pytester.makepyfile(test_eval=EVAL_MODULE)
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (pytester.path / "reports").exists()
    assert not (pytester.path / ".evalsuite_cache").exists()


@pytest.mark.parametrize("repeated", [True, False], ids=["repeated", "comma-separated"])
def test_a_run_spreads_over_several_endpoints(pytester, fake_openai, repeated):
    a, b = fake_openai(token_delay_s=0.002), fake_openai(token_delay_s=0.002)
    urls = ["--api-url", a.url, "--api-url", b.url] if repeated else ["--api-url", f"{a.url},{b.url}"]
    pytester.makepyfile(test_eval=EVAL_MODULE)
    result = pytester.runpytest(
        *urls, "--limit", "12", "--max-tokens", "8", "--max-retries", "1", "--request-timeout", "30",
        "--wait-for-server", "5", "--run-id", "two", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-2000:]
    received = a.generation_requests() + b.generation_requests()
    assert min(len(a.generation_requests()), len(b.generation_requests())) > 0, "both endpoints served"
    # 12 items, fewer distinct prompts (repeated questions share one generation), each sent once.
    assert 0 < len(received) == len({json.dumps(r.body, sort_keys=True) for r in received}) <= 12
    args = json.loads((pytester.path / "reports" / "two" / "eval_args.json").read_text())
    assert args["api_url"] == f"{a.url},{b.url}", "both spellings give one endpoint list"
