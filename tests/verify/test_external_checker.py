"""InternBootcamp-style checkers loaded as module:Class, through the puzzle verifier and the bootcamp loader."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from evalsuite.benchmarks import BenchmarkError, LoadOptions, load_benchmark
from evalsuite.verify import verifiers, verify_puzzle
from evalsuite.verify.external import CheckerNotFound, load_checker

# The shape of internbootcamp/bootcamp/base.py's Basebootcamp: static extract_output, classmethod
# verify_score on the *full* output with training-time penalties that an evaluation must switch off.
MODULE = '''
import re


class Basebootcamp:
    @staticmethod
    def extract_output(output):
        raise NotImplementedError

    @classmethod
    def _verify_correction(cls, solution, identity):
        raise NotImplementedError

    @classmethod
    def verify_score(cls, model_output, identity, format_score=0, short_penalty=True, short_threshold=100,
                     format_penalty=True):
        if format_penalty and ("<think>" not in model_output or "</think>" not in model_output):
            return 0.0
        solution = cls.extract_output(model_output)
        if solution is None:
            return 0.0
        score = cls._verify_correction(solution, identity)
        score = float(score)
        if short_penalty and len(model_output) < short_threshold:
            return score * len(model_output) / short_threshold
        return score


class Sortbootcamp(Basebootcamp):
    """Sort the numbers ascending; answer [[a, b, c]]."""

    @staticmethod
    def extract_output(output):
        found = re.findall(r"\\[\\[([^\\[\\]]*)\\]\\]", output)
        return found[-1] if found else None

    @classmethod
    def _verify_correction(cls, solution, identity):
        return [int(x) for x in solution.split(",")] == sorted(identity["numbers"])


class Old:
    @staticmethod
    def extract_output(output):
        return output.strip() or None

    @staticmethod
    def verify_score(model_output, identity):  # an older signature without the keywords
        return float(model_output.strip() == identity)


class NoScore:
    @staticmethod
    def extract_output(output):
        return output
'''


@pytest.fixture
def bootcamp_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_bootcamps.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    load_checker.cache_clear()
    return "my_bootcamps"


@pytest.mark.parametrize(
    ("output", "correct", "reason"),
    [
        ("Sorted: [[1, 2, 3]]", True, "solved"),  # short, no <think>: the penalties are off
        ("<think>hm</think>[[3, 2, 1]]", False, "score 0"),
        ("<think>hm</think>I refuse.", False, "no answer found"),
        ("<think>[[1, 2, 3]] maybe", False, "truncated"),
        ("[[1, two, 3]]", False, "checker error"),  # the class raises: an error, not a wrong answer
    ],
)
def test_an_internbootcamp_class_judges_correct_wrong_and_malformed(bootcamp_module, output, correct, reason):
    from evalsuite.types import Item, Message

    item = Item(
        "bootcamp",
        "sort/0000",
        (Message("user", "q"),),
        {"numbers": [3, 1, 2]},
        verifier="puzzle",
        meta={"bootcamp": "sort", "checker": f"{bootcamp_module}:Sortbootcamp"},
    )
    verdict = verifiers.get("puzzle")(output, item)
    assert (verdict.correct, verdict.reason) == (correct, reason), verdict
    assert (verdict.error is not None) is (reason == "checker error")


def test_a_class_with_an_older_signature_gets_only_what_it_accepts(bootcamp_module):
    assert verify_puzzle("yes", f"{bootcamp_module}:Old", "yes").correct
    assert not verify_puzzle("no", f"{bootcamp_module}:Old", "yes").correct


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:Game24bootcamp", "cannot import module 'no_such_module_xyz'"),
        ("my_bootcamps:Missing", "module 'my_bootcamps' has no 'Missing'"),
        ("my_bootcamps:NoScore", "NoScore lacks verify_score"),
        ("my_bootcamps:", "expected module:Class"),
    ],
)
def test_a_missing_module_or_class_is_named(bootcamp_module, spec, message):
    with pytest.raises(CheckerNotFound, match=message.replace("(", r"\(")):
        load_checker(spec)


def _test_dir(tmp_path: Path, rows: list[dict]) -> Path:
    data = tmp_path / "tests"
    data.mkdir(parents=True)
    (data / "sort.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def test_the_loader_takes_the_checker_from_the_row_or_the_option(bootcamp_module, tmp_path):
    row = {"prompt": "Sort 3 1 2.", "ground_truth": {"numbers": [3, 1, 2]}, "data_source": "Sort"}
    data = _test_dir(tmp_path, [{**row, "checker": f"{bootcamp_module}:Sortbootcamp"}, row])
    items = load_benchmark("bootcamp", LoadOptions(extra={"test_dir": str(data)})).items
    assert items[0].meta["checker"] == "my_bootcamps:Sortbootcamp" and "checker" not in items[1].meta
    extra = {"test_dir": str(data), "checker": f"{bootcamp_module}:Old"}
    items = load_benchmark("bootcamp", LoadOptions(extra=extra)).items
    assert [i.meta["checker"] for i in items] == ["my_bootcamps:Sortbootcamp", "my_bootcamps:Old"]


def test_the_loader_refuses_a_checker_it_cannot_load(bootcamp_module, tmp_path):
    row = {"prompt": "Sort.", "ground_truth": {"numbers": [1]}, "checker": "my_bootcamps:Nope"}
    data = _test_dir(tmp_path, [row])
    with pytest.raises(BenchmarkError, match=r"sort\.jsonl:1: checker 'my_bootcamps:Nope'"):
        load_benchmark("bootcamp", LoadOptions(extra={"test_dir": str(data)}))
    plain = _test_dir(tmp_path / "plain", [{k: v for k, v in row.items() if k != "checker"}])
    with pytest.raises(BenchmarkError, match="checker 'sorting': not registered; known: .*game24"):
        load_benchmark("bootcamp", LoadOptions(extra={"test_dir": str(plain), "checker": "sorting"}))
