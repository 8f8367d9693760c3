"""Bad options give one clear usage error naming the option, and touch nothing of earlier runs."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "does/not/exist", "--engine", "hf"], "*--model does/not/exist: no such directory*"),
        (["--model", ".", "--engine", "hf"], "*--model .: not an HF-format checkpoint*"),
        (["--model", ".", "--engine", "nope"], "*--engine nope: unknown engine 'nope'; known engines: fake, hf, *"),
        (["--engine", "fake", "--benchmark", "nope"], "*--benchmark nope: unknown benchmark; known: *builtin*"),
        (["--engine", "fake", "--samples", "4"], "*--samples 4 with --temperature 0*"),
        (["--engine", "fake", "--data-path", "oops"], "*--data-path oops: expected NAME=VALUE*"),
    ],
)
def test_usage_errors(pytester, args, message):
    pytester.makepyfile(test_eval="def test_item(evaluation):\n    pass\n")
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (pytester.path / "reports").exists()


def test_unreachable_server(pytester):
    pytester.makepyfile(test_eval="def test_item(evaluation):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--api-url", "http://127.0.0.1:9/v1", "--wait-for-server", "1", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--api-url http://127.0.0.1:9*unreachable*"])
