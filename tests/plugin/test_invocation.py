"""pytest's rootdir detection and our option values: the warning, and ``evalsuite run``'s gluing."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.invocation import glued

WARNING = "pytest took this value for a test path"


def test_glued_joins_our_valued_options_only() -> None:
    argv = ["--model", "/m", "-n", "2", "--rescore", "--data", "q.jsonl", "-k", "add", "--", "--model", "x"]
    assert glued(argv) == ["--model=/m", "-n", "2", "--rescore", "--data=q.jsonl", "-k", "add", "--", "--model", "x"]
    assert glued(["--max-tokens=64", "--model"]) == ["--max-tokens=64", "--model"]


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake-engine script in a directory outside the project (as a checkpoint usually is)."""
    script = tmp_path_factory.mktemp("elsewhere") / "script.json"
    script.write_text('{"default": "The answer is \\\\boxed{10}."}')
    return script


def _project(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nmarkers = ["ours: from the project ini"]\n')
    pytester.makepyfile(test_eval="def test_item(evaluation):\n    pass\n")


def test_separate_path_value_warns_naming_the_option_and_the_fix(pytester: pytest.Pytester, outside: Path) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess("--engine", "fake", "--model", str(outside), "--limit", "2",
                                           "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*--model {outside}: {WARNING}*ignored {pytester.path / 'pyproject.toml'}*"
                                 f"write --model={outside}"])
    result.assert_outcomes(passed=2, warnings=1)


def test_glued_value_keeps_the_project_ini(pytester: pytest.Pytester, outside: Path) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess("--engine", "fake", f"--model={outside}", "--limit", "2",
                                           "-p", "no:cacheprovider")
    assert WARNING not in result.stdout.str()
    result.stdout.fnmatch_lines(["configfile: pyproject.toml*"])
    result.assert_outcomes(passed=2)
