"""benchmarks/peers.py's pure logic: lm-eval's task file, the sample identity check, the ratio table.

No lm-eval, no engine: the script is imported from its path and only its helpers run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "peers.py"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("bench_peers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.mark.parametrize(("prompts", "field"), [("chat", "{{user}}"), ("verbatim", "{{prompt}}")])
def test_task_yaml_is_greedy_eos_only_over_the_file(peers, tmp_path: Path, prompts: str, field: str) -> None:
    data = tmp_path / 'odd "dir"' / "items.jsonl"
    task = yaml.safe_load(peers.task_yaml(data, 123, prompts))
    assert task["task"] == peers.TASK
    assert task["dataset_path"] == "json"
    assert task["dataset_kwargs"] == {"data_files": {"test": str(data)}}
    assert task["output_type"] == "generate_until"
    assert task["doc_to_text"] == field
    assert task["generation_kwargs"] == {
        "until": [],
        "do_sample": False,
        "temperature": 0.0,
        "max_gen_toks": 123,
    }
    regex = task["filter_list"][0]["filter"][0]["regex_pattern"]
    assert regex == peers.BOXED_REGEX
    assert re.search(regex, r"so \boxed{42}.").group(1) == "42"


def test_constraints_pin_installed_versions_only(peers) -> None:
    freeze = "torch==2.13.0+cpu\n-e git+https://x/y#egg=evalsuite\nfoo @ file:///tmp/foo.whl\n# comment\nvllm-cpu==0.32.0\n"
    assert peers.constraints(freeze) == "torch==2.13.0+cpu\nvllm-cpu==0.32.0\n"


def test_vllm_dist_info_carries_the_cpu_local_version(peers, tmp_path: Path) -> None:
    import importlib.metadata

    info = peers.vllm_dist_info(tmp_path, "0.32.0")
    assert info.name == "vllm-0.32.0+cpu.dist-info"
    dist = next(importlib.metadata.distributions(name="vllm", path=[str(tmp_path)]))
    assert dist.version == "0.32.0+cpu"
    assert peers.vllm_dist_info(tmp_path, "0.32.0+cpu").name == "vllm-0.32.0+cpu.dist-info"


def test_samples_are_read_from_both_tools_files(peers, tmp_path: Path) -> None:
    ours = tmp_path / "gsm8k.jsonl"
    ours.write_text(
        json.dumps({"id": "0000", "index": 0, "prompt": "P0", "output": "O0"}) + "\n"
        + json.dumps({"id": "0000", "index": 1, "prompt": "P0", "output": "second sample"}) + "\n"
        + json.dumps({"id": "0001", "index": 0, "prompt": "P1", "output": "O1"}) + "\n"
    )  # fmt: skip
    theirs = tmp_path / "samples.jsonl"
    theirs.write_text(
        "".join(
            json.dumps({"doc_id": i, "doc": {"id": f"000{i}"}, "arguments": {"gen_args_0": {"arg_0": f"P{i}", "arg_1": {}}},
                        "resps": [[f"O{i}"]], "filtered_resps": ["[invalid]"]}) + "\n"
            for i in (1, 0)
        )
    )  # fmt: skip
    assert peers.evalsuite_samples(ours) == {"0000": ("P0", "O0"), "0001": ("P1", "O1")}
    assert peers.lmeval_samples(theirs) == peers.evalsuite_samples(ours)


def test_identity_counts_and_names_the_first_difference(peers) -> None:
    ours = {"a": ("p", "same"), "b": ("p", "x = 1\nthe answer"), "c": ("q", "o"), "d": ("p", "o")}
    theirs = {"a": ("p", "same"), "b": ("p", "x = 2\nthe answer"), "c": ("Q", "o"), "e": ("p", "o")}
    result = peers.compare_samples(ours, theirs)
    assert (result.compared, result.same_prompt, result.same_output) == (3, 2, 2)
    assert (result.only_ours, result.only_theirs) == (["d"], ["e"])
    assert not result.identical
    assert (
        result.first_mismatch
        == "item b output at char 4 (lengths 16/16): evalsuite 'x = 1\\nthe answer' vs lm-eval 'x = 2\\nthe answer'"
    )
    line = result.line()
    assert "prompts identical 2/3, outputs identical 2/3" in line
    assert "only in evalsuite: 1, only in lm-eval: 1" in line
    assert "first difference: item b output" in line


def test_identity_of_equal_samples_and_of_a_prefix(peers) -> None:
    same = {"a": ("p", "o"), "b": ("p", "o2")}
    assert peers.compare_samples(same, dict(same)).identical
    assert not peers.compare_samples({}, {}).identical  # nothing compared proves nothing
    cut = peers.compare_samples({"a": ("p", "abc")}, {"a": ("p", "abcdef")})
    assert cut.first_mismatch == "item a output at char 3 (lengths 3/6): evalsuite 'abc' vs lm-eval 'abcdef'"


def test_ratio_table_medians_ranges_and_verdicts(peers) -> None:
    walls = {
        "cold": {"lm-eval": [50.0, 60.0, 55.0], "evalsuite": [40.0, 30.0, 50.0]},
        "merge decision": {"lm-eval": [100.0, 110.0, 90.0], "evalsuite": [70.0, 60.0, 65.0]},
    }
    lines = peers.ratio_table(walls).splitlines()
    assert lines[1].split() == ["cold", "lm-eval", "55.0", "[50.0-60.0]"]
    assert lines[2].split() == ["cold", "evalsuite", "40.0", "[30.0-50.0]"]
    assert lines[4].split() == ["merge", "decision", "evalsuite", "65.0", "[60.0-70.0]"]
    # cold: 40 / 55 = 0.73 (rounds 0.80, 0.50, 0.91); merge: 65 / 100 = 0.65 (0.70, 0.55, 0.72)
    assert lines[-2].split() == ["cold", "0.73", "[0.50-0.91]", "<=0.8", "met"]
    assert lines[-1].split() == ["merge", "decision", "0.65", "[0.55-0.72]", "<=0.6", "missed"]
