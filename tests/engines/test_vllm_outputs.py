"""vLLM's per-request outputs become completions: finish reasons map to stop/length, anything else is an error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from evalsuite.engines.vllm import _completion
from evalsuite.types import Request, SamplingConfig


def _out(finish_reason: str | None) -> SimpleNamespace:
    sample = SimpleNamespace(text="The answer is \\boxed{4}", finish_reason=finish_reason, token_ids=[1, 2, 3])
    return SimpleNamespace(outputs=[sample], prompt_token_ids=[7, 8], metrics=None)


REQUEST = Request("k", "builtin/x", 0, (), "prompt", SamplingConfig())


@pytest.mark.parametrize("reason", ["stop", "length"])
def test_finished_requests_keep_their_text_and_reason(reason):
    c = _completion(REQUEST, _out(reason), 0.5)
    assert (c.finish_reason, c.text, c.output_tokens, c.prompt_tokens) == (reason, "The answer is \\boxed{4}", 3, 2)


@pytest.mark.parametrize("reason", ["abort", None])
def test_aborted_or_unfinished_requests_are_errors_not_answers(reason):
    c = _completion(REQUEST, _out(reason), 0.5)
    assert c.finish_reason == "error" and c.text == "" and repr(reason) in (c.error or "")
