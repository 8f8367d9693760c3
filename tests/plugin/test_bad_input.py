"""Bad options give one clear usage error naming the option, and touch nothing of earlier runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

# Imported here, so in-process pytester sessions (which drop modules they import) reuse numpy/scipy.
import evalsuite.gates  # noqa: F401
import evalsuite.reports  # noqa: F401


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


# --- broken checkpoints, adapters and data files: refused before any engine starts --------------

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "models" / "tiny-r1"
ADAPTER = Path(__file__).resolve().parents[2] / "fixtures" / "adapters" / "tiny-r1-lora"


def _model_without_weights(root: Path) -> list[str]:
    (root / "m").mkdir()
    (root / "m" / "config.json").write_text('{"model_type": "qwen2"}')
    return ["--engine", "hf", "--model", "m"]


def _truncated_weights(root: Path) -> list[str]:
    (root / "m").mkdir()
    (root / "m" / "config.json").write_text('{"model_type": "qwen2"}')
    (root / "m" / "model.safetensors").write_bytes((TINY / "model.safetensors").read_bytes()[:5000])
    return ["--engine", "hf", "--model", "m"]


def _missing_shard(root: Path) -> list[str]:
    (root / "m").mkdir()
    (root / "m" / "config.json").write_text('{"model_type": "qwen2"}')
    (root / "m" / "model-00001-of-00002.safetensors").write_bytes((TINY / "model.safetensors").read_bytes())
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (root / "m" / "model.safetensors.index.json").write_text(json.dumps(index))
    return ["--engine", "hf", "--model", "m"]


def _adapter(root: Path, config: bytes | None, weights: bool) -> list[str]:
    (root / "a").mkdir()
    if config is not None:
        (root / "a" / "adapter_config.json").write_bytes(config)
    if weights:
        (root / "a" / "adapter_model.safetensors").write_bytes((ADAPTER / "adapter_model.safetensors").read_bytes())
    return ["--engine", "hf", "--model", str(TINY), "--adapter", "a"]


def _data(content: bytes) -> Callable[[Path], list[str]]:
    def make(root: Path) -> list[str]:
        (root / "d.jsonl").write_bytes(content)
        return ["--engine", "fake", "--data", "d.jsonl"]

    return make


GOOD_ADAPTER_CONFIG = (ADAPTER / "adapter_config.json").read_bytes() if ADAPTER.is_dir() else b"{}"


@pytest.mark.skipif(not (TINY / "model.safetensors").is_file(), reason="tiny model absent")
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_model_without_weights, "*--model m: no weights in m (no *.safetensors, *.bin, *.pt, *.pth, *.gguf file)*"),
        (_truncated_weights, "*--model m: m/model.safetensors is not a readable safetensors file (*truncated)*"),
        (_missing_shard, "*--model m: weight shards listed in model.safetensors.index.json are missing: model-00002*"),
        (lambda r: _adapter(r, b'{"peft_type": "LORA",\n "r": 8,,}', True), "*--adapter a: a/adapter_config.json:2: invalid JSON*"),
        (lambda r: _adapter(r, b'{"r": 8}', True), "*--adapter a: a/adapter_config.json:1: not a peft adapter config*"),
        (lambda r: _adapter(r, b'{"peft_type": "LORA"\xff}', True), "*--adapter a: a/adapter_config.json is not UTF-8 text*"),
        (lambda r: _adapter(r, GOOD_ADAPTER_CONFIG, False), "*--adapter a: no weights in a (no adapter_model*.safetensors*"),
        (_data(b'{"prompt": "1+1?", "gold": "2"}\n{"prompt": "caf\xe9", "gold": "1"}\n'), "*d.jsonl:2: not valid UTF-8*"),
        (_data(b'{"prompt": "1+1?", "gold": "2"}\n{"prompt": "2+2?", "gol'), "*d.jsonl:2: invalid JSON*"),
        (_data(b""), "*d.jsonl: empty file*"),
    ],
    ids=[
        "model-without-weights", "truncated-weights", "missing-shard", "adapter-bad-json", "adapter-not-peft",
        "adapter-not-utf8", "adapter-without-weights", "data-not-utf8", "data-truncated", "data-empty",
    ],
)  # fmt: skip
def test_broken_inputs_are_refused_before_any_engine_starts(fake_run, make, message):
    """One message naming the file (and line), exit 4, and the earlier run's reports untouched."""
    earlier = fake_run.run("-m", "add and level1", "--run-id", "earlier", subprocess=False)
    assert earlier.ret == pytest.ExitCode.OK
    before = {p: p.read_bytes() for p in (fake_run.pytester.path / "reports").rglob("*") if p.is_file()}
    calls = len(fake_run.calls())

    args = make(fake_run.pytester.path)
    if "--engine" in args and args[args.index("--engine") + 1] == "fake":
        args += ["--model", str(fake_run.script)]
    result = fake_run.pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert len(fake_run.calls()) == calls  # no engine generated anything
    after = {p: p.read_bytes() for p in (fake_run.pytester.path / "reports").rglob("*") if p.is_file()}
    assert after == before  # no new run directory, the earlier one unchanged
