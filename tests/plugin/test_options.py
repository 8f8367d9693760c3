"""Every option is checked at start-up: a bad value is a usage error naming the option, before any
engine starts and before anything is written; the option table feeds pytest and argparse alike."""

from __future__ import annotations

import argparse

import pytest

# Imported here, so in-process pytester sessions (which drop modules they import) reuse numpy/scipy.
import evalsuite.gates  # noqa: F401
import evalsuite.reports  # noqa: F401
from evalsuite.options import GROUPS, OPTIONS, add_to_argparse


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-score", "builtin=abc"], "*--min-score builtin=abc: *'abc' for 'builtin' is not a number*"),
        (["--min-score", "builtin=1.5"], "*--min-score builtin=1.5: *outside [[]0, 1[]]*"),
        (["--metric", "best@7"], "*--metric best@7: Unknown metric 'best@7'*"),
        (["--metric", "pass@4"], "*--metric pass@4: needs at least 4 samples per item*"),
        (["--pass-k", "x"], "*--pass-k x: expected positive integers*"),
        (["--pass-k", "0"], "*--pass-k 0: expected positive integers*"),
        (["--pass-k", "1,8"], "*--pass-k 1,8: k larger than --samples 1*"),
        (["--temperature", "-1"], "*--temperature -1.0: must be a finite number >= 0*"),
        (["--temperature", "nan"], "*--temperature nan: must be a finite number >= 0*"),
        (["--top-p", "0"], "*--top-p 0.0: must be in (0, 1]*"),
        (["--top-p", "1.5"], "*--top-p 1.5: must be in (0, 1]*"),
        (["--max-tokens", "0"], "*--max-tokens 0: must be at least 1*"),
        (["--samples", "0"], "*--samples 0: must be at least 1*"),
        (["--limit", "0"], "*--limit 0: must be at least 1*"),
        (["--alpha", "1"], "*--alpha 1.0: must be in (0, 1)*"),
        (["--max-drop", "-0.1"], "*--max-drop -0.1: must be a finite number >= 0*"),
        (["--max-concurrency", "0"], "*--max-concurrency 0: must be at least 1*"),
        (["--stall-timeout", "0"], "*--stall-timeout 0.0: must be a finite number > 0*"),
        (["--stall-timeout", "nan"], "*--stall-timeout nan: must be a finite number > 0*"),
        (["--load-timeout", "-5"], "*--load-timeout -5.0: must be a finite number > 0*"),
        (["--choice-rotations", "0"], "*--choice-rotations 0: must be at least 1*"),
        (["--engine-options", "batch_size"], "*--engine-options batch_size: expected NAME=VALUE*"),
        (["--baseline", "no/such/run"], "*--baseline no/such/run: *not an evalsuite run directory*"),
        (["--data-dir", "no/such/dir"], "*--data-dir no/such/dir: no such directory*"),
        (["--adapter", "no/such/adapter"], "*--adapter no/such/adapter: no such directory*"),
        (["--api-mode", "raw"], "*argument --api-mode: invalid choice: 'raw'*"),
        (["--correction", "fdr"], "*--correction fdr: expected one of holm, bonferroni, none*"),
        (["--min-group-size", "0"], "*--min-group-size 0: must be at least 1*"),
        (["--min-score", "builtin/expr=2"], "*--min-score builtin/expr=2: *outside [[]0, 1[]]*"),
        (["--summary-md", "no/such/dir/x.md"], "*--summary-md no/such/dir/x.md: its directory */no/such/dir does not exist*"),
        (["--group-by", "subject"], "*--group-by subject: groups items of a custom JSONL file; pass it with --data FILE*"),
        (["--adapter", "base=."], "*--adapter base=.: the name 'base' must be*not 'base'*"),
        (["--adapter", "t=no/such"], "*--adapter t=no/such: no such directory*"),
        (["--prefill-adapters", "a"], "*--prefill-adapters a: expected NAME=VALUE*"),
        (["--merge-adapter"], "*--merge-adapter*needs --adapter PATH*"),
        (["--repetition-penalty", "0"], "*--repetition-penalty 0.0: must be a finite number > 0*"),
        (["--template", "raw", "--prompt-format", "Q:"], "*--prompt-format Q:: must contain {question}*"),
        (["--prompt-format", "Q: {question}"], "*--prompt-format 'Q: {question}': applies to --template raw only*"),
    ],
)
def test_bad_value_is_a_usage_error_before_anything_runs(fake_run, args, message):
    result = fake_run.run(*args, subprocess=False)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert fake_run.calls() == []  # the engine generated nothing
    assert not (fake_run.pytester.path / "reports").exists()
    assert not (fake_run.pytester.path / ".evalsuite_cache").exists()


def test_baseline_of_other_benchmarks_is_refused_at_start(fake_run):
    base = fake_run.run("--run-id", "base", subprocess=False)
    assert base.ret == pytest.ExitCode.OK
    result = fake_run.run(
        "--benchmark", "custom", "--data", str(fake_run.pytester.makefile(".jsonl", '{"prompt": "1+1?", "gold": "2"}')),
        "--baseline", "reports/base", subprocess=False,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--baseline reports/base: its benchmarks (builtin) share none with this run's (custom)*"])


def test_every_option_has_a_group_a_documented_default_and_one_flag():
    flags = [f for o in OPTIONS for f in (o.flag, *o.aliases)]
    assert len(flags) == len(set(flags))
    for option in OPTIONS:
        assert option.group in GROUPS, option.flag
        assert option.help[0].isupper() and "Default:" in option.help, option.flag
        assert option.dest.startswith("es_")


def test_argparse_and_pytest_parse_an_option_alike(pytester):
    parser = argparse.ArgumentParser()
    add_to_argparse(parser)
    args = ["--temperature", "0.6", "--samples", "4", "--shuffle", "--sys-prompt", "be brief"]
    parsed = parser.parse_args(args)
    config = pytester.parseconfig(*args)
    for dest in ("es_temperature", "es_samples", "es_shuffle", "es_system_prompt", "es_metric"):
        assert getattr(parsed, dest) == config.getoption(dest)
