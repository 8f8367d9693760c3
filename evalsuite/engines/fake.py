"""A scripted engine for tests of plugin logic: instant, deterministic, observable.

``--engine fake --model SCRIPT.json`` where the script is::

    {"responses": {"<substring of the prompt>": "<output>", ...},
     "default": "<output when no substring matches>",
     "errors": ["<substring whose requests fail>"],
     "length": ["<substring whose outputs end with finish_reason=length>"],
     "context_length": <tokens of prompt + output; prompts count one token per word>,
     "delay_s": <seconds each completion takes (a slow engine, to kill a run mid-way)>,
     "hang_after": <N: after N completions block forever, a wedged engine>,
     "hang_on_load": <true: start-up never finishes>}

Adapters (``EngineConfig.adapters``) are further script files: a request naming an adapter is
answered from that adapter's script, so base-vs-adapter logic is testable without weights.

``EVALSUITE_FAKE_CRASH_AFTER=N`` makes the engine die after N completions (a crash half-way).
Every generated request is appended to ``SCRIPT.json.calls`` (one prompt per line) so tests can
assert what was generated, e.g. that a rerun generated nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from evalsuite.engines.base import (
    EngineConfig,
    EngineConfigError,
    EngineError,
    register_engine,
)
from evalsuite.types import Completion, FinishReason, Message, Request

FAULT_KEYS = ("delay_s", "hang_after", "hang_on_load")
"""Script keys that inject faults; they are not part of the fingerprint."""


class FakeEngine:
    name = "fake"

    def __init__(self, script_path: Path | None, adapters: Mapping[str, Path] | None = None) -> None:
        self.script_path = script_path
        self.script = json.loads(script_path.read_text()) if script_path else {}
        self.adapters = dict(adapters or {})
        self.adapter_scripts = {name: json.loads(p.read_text()) for name, p in self.adapters.items()}

    def fingerprint(self) -> str:
        if self.script_path is None:
            return "fake-default"
        # Faults change when and whether answers come, not what they are: a rerun without the
        # fault finds what the faulty run stored.
        answers = {k: v for k, v in self.script.items() if k not in FAULT_KEYS}
        return "fake-" + hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()[:16]

    def adapter_identity(self, name: str) -> str:
        if name not in self.adapters:
            raise EngineConfigError(
                f"adapter {name!r} was not given to the engine (known: {', '.join(self.adapters) or 'none'})"
            )
        return f"{name}:fake-" + hashlib.sha256(self.adapters[name].read_bytes()).hexdigest()[:16]

    def render(self, messages: Sequence[Message]) -> str:
        return "".join(f"<|{m.role}|>\n{m.content}\n" for m in messages) + "<|assistant|>\n"

    def _respond(self, prompt: str, adapter: str | None) -> tuple[str, FinishReason]:
        if adapter is not None:
            self.adapter_identity(adapter)  # an unknown name fails here, clearly
        script = self.script if adapter is None else self.adapter_scripts[adapter]
        if any(s in prompt for s in script.get("errors", [])):
            return "", "error"
        text = next(
            (out for sub, out in script.get("responses", {}).items() if sub in prompt),
            script.get("default", "<think>\n</think>\n\\boxed{0}"),
        )
        reason: FinishReason = "length" if any(s in prompt for s in script.get("length", [])) else "stop"
        return text, reason

    def context_length(self) -> int | None:
        value = self.script.get("context_length")
        return int(value) if value is not None else None

    def count_tokens(self, prompt: str) -> int:
        return len(prompt.split())

    def truncate_text(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])

    def computes_on_cpu(self) -> bool:
        return False  # instant: nothing to yield to

    def load(self) -> None:
        if self.script.get("hang_on_load"):
            threading.Event().wait()  # scripted: a start-up that never finishes

    def generate(self, requests: Sequence[Request], on_completion: Callable[[Completion], None]) -> None:
        calls = Path(f"{self.script_path}.calls") if self.script_path else None
        crash_after = int(os.environ.get("EVALSUITE_FAKE_CRASH_AFTER", "-1"))
        hang_after = self.script.get("hang_after")
        for n, req in enumerate(requests):
            if n == crash_after:
                raise EngineError(f"fake engine crashed after {n} completions")
            if n == hang_after:
                threading.Event().wait()  # scripted: a wedged engine, no progress ever again
            if self.script.get("delay_s"):
                time.sleep(float(self.script["delay_s"]))
            text, reason = self._respond(req.prompt, req.adapter)
            if calls is not None:
                with calls.open("a") as fh:
                    call = {"prompt": req.prompt, "sample": req.sample_index, "max_tokens": req.sampling.max_tokens,
                            "adapter": req.adapter}
                    fh.write(json.dumps(call) + "\n")
            if reason == "error":
                on_completion(Completion(req.key, "", "error", error="scripted failure"))
            else:
                on_completion(
                    Completion(
                        req.key,
                        text,
                        reason,
                        prompt_tokens=len(req.prompt.split()),
                        output_tokens=len(text.split()),
                    )
                )

    def close(self) -> None:
        pass


@register_engine("fake")
def create_fake_engine(config: EngineConfig) -> FakeEngine:
    if config.model is None:
        return FakeEngine(None)
    path = Path(config.model)
    if not path.is_file():
        raise EngineConfigError(f"--model {config.model}: the fake engine needs a JSON script file")
    adapters = {name: Path(p) for name, p in config.adapters.items()}
    for name, p in adapters.items():
        if not p.is_file():
            raise EngineConfigError(f"--adapter {name}={p}: the fake engine's adapters are JSON script files")
    return FakeEngine(path, adapters)
