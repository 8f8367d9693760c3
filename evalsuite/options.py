"""Every command-line option of an evaluation, declared once.

One row per option: flag, type, default, help, and the check its value must pass. From this table
come the pytest options (``pytest_addoption``), ``evalsuite``'s argparse commands (``add_to_argparse``),
the flag named in benchmark loaders' errors (``load_key``), and the checks ``settings.resolve`` runs
before anything starts. Values stay plain strings/numbers/bools: xdist ships them to workers.

To add an option: append an ``Option`` to ``OPTIONS`` (in its group), read it in ``settings.resolve``
through ``Settings``. Nothing else parses option strings.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from evalsuite.engines.base import API_MODES
from evalsuite.protocols import NAMES as PROTOCOLS

SCHEDULES = ("auto", "stream", "after")
"""Values of ``--verify-schedule``: see ``evalsuite.generation``."""

GROUPS = {
    "engine": "model and engine",
    "sampling": "sampling",
    "selection": "benchmarks and selection",
    "cache": "cache and reports",
    "gates": "metrics and gates",
}
"""Option groups, in help order."""


@dataclass(frozen=True)
class Option:
    """One command-line option."""

    flag: str
    """The long flag, e.g. ``--max-tokens``."""
    group: str
    """Key of ``GROUPS``."""
    help: str
    """Help text: starts with a capital, ends with ``Default: ...``."""
    default: Any = None
    """Value when the option is not given."""
    type: Callable[[str], Any] | None = None
    """Parses the command-line string (``int``, ``float``); None keeps the string."""
    check: Callable[[Any], None] | None = None
    """Raises ``ValueError`` with a fix-it message when the parsed value is unusable."""
    choices: tuple[str, ...] | None = None
    """The allowed values, when the set is closed."""
    flag_only: bool = False
    """A switch (``store_true``) without a value."""
    aliases: tuple[str, ...] = ()
    """Other spellings of the flag."""
    load_key: str | None = None
    """Key of ``LoadOptions.extra`` the value is passed to benchmark loaders under."""
    repeat: bool = False
    """May be given several times; the value is then the list of the values given."""

    @property
    def dest(self) -> str:
        """The attribute on ``config.option``: ``es_`` + the flag in snake case."""
        return "es_" + self.flag.lstrip("-").replace("-", "_")


# --- checks: each raises ValueError saying what is expected -----------------------------------


def at_least(minimum: float) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is not None and not value >= minimum:
            raise ValueError(f"must be at least {minimum:g}")

    return check


def _temperature(value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError("must be a finite number >= 0 (0 is greedy)")


def _top_p(value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError("must be in (0, 1]")


def _probability(value: float) -> None:
    if not 0 < value < 1:
        raise ValueError("must be in (0, 1), e.g. 0.05")


def _non_negative(value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError("must be a finite number >= 0")


def _fraction(value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError("must be a fraction in [0, 1], e.g. 0.05 for 5%")


def parse_pass_k(spec: str) -> tuple[int, ...]:
    """``"1,8,16"`` → ``(1, 8, 16)``."""
    try:
        ks = tuple(int(k) for k in str(spec).split(",") if k.strip())
    except ValueError:
        raise ValueError('expected positive integers separated by commas, e.g. "1,8,16"') from None
    if not ks or min(ks) < 1:
        raise ValueError('expected positive integers separated by commas, e.g. "1,8,16"')
    return ks


def parse_kv(spec: str | None) -> dict[str, str]:
    """``a=1,b=2`` → ``{"a": "1", "b": "2"}``."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        if "=" not in part:
            raise ValueError("expected NAME=VALUE pairs separated by commas")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _kv(spec: str | None) -> None:
    parse_kv(spec)


def _positive(value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("must be a finite number > 0")


def _api_urls(values: list[str]) -> None:
    from evalsuite.engines.base import EngineConfigError
    from evalsuite.engines.openai_options import endpoint_urls

    try:
        endpoint_urls(values)
    except EngineConfigError as exc:  # "--api-url URL: why" -> "why", as usage_error names both
        raise ValueError(str(exc).removeprefix("--api-url ").removeprefix(",".join(values) + ": ")) from None


def parse_mix(spec: str) -> dict[str, float]:
    """``math500=2,aime24=1`` → ``{"math500": 2.0, "aime24": 1.0}``; weights positive."""
    weights: dict[str, float] = {}
    for name, value in parse_kv(spec).items():
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"weight of {name} is {value!r}; expected NAME=WEIGHT with a positive number") from None
        if not (weight > 0 and math.isfinite(weight)):
            raise ValueError(f"weight of {name} must be a positive number")
        weights[name] = weight
    if not weights:
        raise ValueError("expected NAME=WEIGHT pairs, e.g. math500=3,gsm8k=1,aime24=1")
    return weights


def _mix(spec: str | None) -> None:
    if spec:
        parse_mix(spec)


def _metric(value: str) -> None:
    from evalsuite.metric_names import check_metric_name

    check_metric_name(value)


def _existing_dir(value: str | None) -> None:
    if value and not os.path.isdir(os.path.expanduser(value)):
        raise ValueError("no such directory")


def _correction(value: str) -> None:
    from evalsuite.metric_names import CORRECTIONS

    if value not in CORRECTIONS:
        raise ValueError(f"expected one of {', '.join(CORRECTIONS)}")


def _writable_file(value: str | None) -> None:
    if value:
        parent = os.path.dirname(os.path.abspath(os.path.expanduser(value)))
        if os.path.isdir(os.path.expanduser(value)):
            raise ValueError("is a directory; give a file path, e.g. gate-summary.md")
        if not os.path.isdir(parent):
            raise ValueError(f"its directory {parent} does not exist")
def parse_adapter_name(spec: str) -> str:
    """The name of the one ``--adapter`` value (``NAME=PATH``, or the directory name of a bare ``PATH``)."""
    from evalsuite.engines.adapters import parse_adapter_specs

    return parse_adapter_specs([spec])[0].name


def _adapter(spec: str | None) -> None:
    if spec:
        from evalsuite.engines.adapters import parse_adapter_specs
        from evalsuite.engines.base import EngineConfigError

        try:
            (adapter,) = parse_adapter_specs([spec])
        except EngineConfigError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        if not adapter.path.exists():
            raise ValueError("no such directory")


def _adapters(spec: str | None) -> None:
    for part in parse_kv(spec).items():
        _adapter("=".join(part))


def _prompt_format(value: str) -> None:
    if "{question}" not in value:
        raise ValueError("must contain {question} (where the item's question goes)")


def _penalty(value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("must be a finite number > 0 (1.0 is no penalty)")


def _shard(spec: str | None) -> None:
    if spec:
        from evalsuite.sharding import parse_shard

        parse_shard(spec)


OPTIONS: tuple[Option, ...] = (
    # model and engine
    Option("--model", "engine", "Local HF-format checkpoint directory to evaluate. Default: none (the suite's own tests run)."),
    Option("--adapter", "engine", "LoRA adapter applied to --model: PATH, or NAME=PATH to name its run. Default: none.", check=_adapter),
    Option("--prefill-adapters", "engine", "Also generate these adapters' completions of the same items into the cache on this run's engine load, NAME=PATH,... (evalsuite gate: one load for base and adapters). Default: none.", check=_adapters),
    Option("--merge-adapter", "engine", "Evaluate --adapter merged into the base weights (peft merge_and_unload, saved once under --cache-dir/merged). Default: off (LoRA applied at run time).", default=False, flag_only=True),
    Option("--engine", "engine", "Engine: vllm, hf, openai or fake. Default: openai with --api-url, else vllm when importable, else hf."),
    Option("--engine-options", "engine", "Engine-specific options, NAME=VALUE,... (e.g. batch_size=32,gpu_memory_utilization=0.8). Default: none.", check=_kv),
    Option("--api-url", "engine", "Base URL of an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1); repeat it, or separate URLs with commas, to spread requests over several endpoints serving the same model. Default: none.", repeat=True, check=_api_urls),
    Option("--api-key", "engine", "API key. Default: $EVALSUITE_API_KEY or $OPENAI_API_KEY. Never written to caches or reports."),
    Option("--model-name", "engine", "Model name sent to the server. Default: the server's first model."),
    Option("--api-mode", "engine", "Endpoint: chat or completion. Default: chat.", default="chat", choices=API_MODES, load_key="api_mode"),
    Option("--max-concurrency", "engine", "Requests in flight at once for HTTP engines. Default: 64.", default=64, type=int, check=at_least(1)),
    Option("--dtype", "engine", "Weights dtype. Default: auto (float32 on CPU, bfloat16 on GPU).", default="auto", choices=("auto", "float32", "bfloat16", "float16")),
    Option("--max-model-len", "engine", "Context length cap (prompt + output) for vLLM and transformers. Default: the model's.", type=int, check=at_least(1)),
    Option("--trust-remote-code", "engine", "Let vLLM and transformers run the checkpoint's own modelling code. Default: off.", default=False, flag_only=True),
    Option("--wait-for-server", "engine", "Seconds to wait for --api-url to list the model at start-up (a server still loading), and for endpoints that all went away to come back. Default: 10.", type=float, check=_non_negative),
    Option("--request-timeout", "engine", "Longest time in seconds one HTTP request may take in total, streaming included. Default: 3600.", type=float, check=_positive),
    Option("--max-retries", "engine", "Further attempts of an HTTP request after a transient failure (connection lost, 429, 5xx, a cut or garbled reply). Default: 4.", type=int, check=at_least(0)),
    Option("--max-retry-delay", "engine", "Longest wait in seconds between two attempts; caps a server's Retry-After. Default: 30.", type=float, check=_non_negative),
    Option("--tensor-parallel-size", "engine", "GPUs that split every layer (vLLM). Default: 1.", default=1, type=int, check=at_least(1)),
    Option("--pipeline-parallel-size", "engine", "Pipeline stages over GPUs or nodes (vLLM). Default: 1.", default=1, type=int, check=at_least(1)),
    Option("--data-parallel-size", "engine", "Model replicas (a vLLM server's option: vllm serve --data-parallel-size N, then --api-url). Default: 1.", default=1, type=int, check=at_least(1)),
    Option("--distributed-executor-backend", "engine", "Executor of vLLM's workers: mp (processes on this node) or ray (a Ray cluster you started). Default: vLLM's choice.", choices=("mp", "ray")),
    Option("--stall-timeout", "engine", "Seconds the engine may make no progress (no completion, no token) before the run ends with an error for the items left; tests also give up on a leader silent this long. Default: 300.", default=300.0, type=float, check=_positive),
    Option("--load-timeout", "engine", "Seconds the engine's start-up (loading weights, connecting) may take before the run ends with an error. Default: 1800.", default=1800.0, type=float, check=_positive),
    # sampling
    Option("--samples", "sampling", "Samples per item (not xdist's -n). Default: 1.", default=1, type=int, check=at_least(1)),
    Option("--temperature", "sampling", "Sampling temperature; 0 is greedy. Default: 0.", default=0.0, type=float, check=_temperature),
    Option("--top-p", "sampling", "Nucleus sampling mass, in (0, 1]. Default: 1.0.", default=1.0, type=float, check=_top_p),
    Option("--max-tokens", "sampling", "Max generated tokens per sample. Default: auto (the model's context length minus the prompt; the built-in benchmark: 512).", type=int, check=at_least(1)),
    Option("--seed", "sampling", "Seed for the engine, shuffles and choice permutations. Default: 0.", default=0, type=int),
    Option("--system-prompt", "sampling", "System prompt added to every item. Default: the template's.", aliases=("--sys-prompt",)),
    Option("--template", "sampling", "Prompt template: r1, qwen, chatml, internthinker, lighteval, evalscope, or raw (no chat template: --prompt-format). Default: each benchmark's own."),
    Option("--protocol", "sampling", "A published harness's generation and scoring parameters: " + ", ".join(PROTOCOLS) + " (see the README's table); options given explicitly override it. Default: none.", choices=PROTOCOLS),
    Option("--prompt-format", "sampling", "With --template raw: the whole prompt, {question} standing for the item's question, e.g. '### 问题：{question}\n### 答案：'. Default: {question}.", check=_prompt_format, load_key="prompt_format"),
    Option("--answer-after", "sampling", "Verify only the output after its last occurrence of this delimiter (e.g. '### 答案：'); an output without it is wrong. Default: the whole output.", load_key="answer_after"),
    Option("--max-prompt-tokens", "sampling", "Cut each prompt to this many tokens (the question loses its end; the template stays); the count of cut prompts is reported. Default: no limit.", type=int, check=at_least(1)),
    Option("--repetition-penalty", "sampling", "Repetition penalty (>1 discourages repeats; hf and vllm engines). Default: 1.0 (none).", default=1.0, type=float, check=_penalty),
    # benchmarks and selection
    Option("--benchmark", "selection", "Comma-separated benchmark names. Default: builtin (or custom/bootcamp with --data/--test-dir)."),
    Option("--limit", "selection", "First N items per benchmark. Default: all.", type=int, check=at_least(1)),
    Option("--items", "selection", "Comma-separated glob patterns of item ids to run. Default: all."),
    Option("--shuffle", "selection", "Shuffle items with --seed before --limit. Default: off.", default=False, flag_only=True),
    Option("--shard", "selection", "Evaluate shard I of N (e.g. 2/4) of the items that --items/--shuffle/--limit select: a hash split balanced by expected cost; join the shards' run directories with evalsuite merge. Default: all items.", check=_shard),
    Option("--data-dir", "selection", "Directory holding benchmark data files. Default: $EVALSUITE_DATA_DIR, else ./data, else ../shared/data.", check=_existing_dir),
    Option("--data-path", "selection", "Per-benchmark data files, NAME=PATH,... Default: none.", check=_kv),
    Option("--hub", "selection", "Allow downloading benchmark data from the HF hub. Default: off (offline).", default=False, flag_only=True, load_key="hub"),
    Option("--choice-rotations", "selection", "Seeded choice permutations per multiple-choice question. Default: 1.", default=1, type=int, check=at_least(1), load_key="choice_rotations"),
    Option("--lcb-release", "selection", "LiveCodeBench release version (release_v1..). Default: all.", load_key="release_version"),
    Option("--start-date", "selection", "Earliest contest date (YYYY-MM-DD) for dated benchmarks. Default: none.", load_key="start_date"),
    Option("--end-date", "selection", "Latest contest date (YYYY-MM-DD). Default: none.", load_key="end_date"),
    Option("--test-dir", "selection", "Directory of InternBootcamp-style JSONL test sets. Default: none.", load_key="test_dir"),
    Option("--mix", "selection", "A seeded weighted sample across the benchmarks, NAME=WEIGHT,... (EvalScope's collection sampler); needs --mix-size. Default: none.", check=_mix),
    Option("--mix-size", "selection", "Items drawn by --mix in all. Default: none.", type=int, check=at_least(1)),
    Option("--checker", "selection", "InternBootcamp-style checker for --test-dir items, module:Class (extract_output and verify_score, e.g. internbootcamp:Game24bootcamp) or a registered checker name; a row's 'checker' field wins. Default: the checker registered under each file's name.", load_key="checker"),
    Option("--data", "selection", "A custom data file (JSONL, or one JSON array of objects) evaluated as benchmark 'custom'. Default: none.", load_key="data"),
    Option("--verifier", "selection", "Verifier for --data: math, choice, code, exact, text. Default: math.", default="math", load_key="verifier"),
    Option("--fields", "selection", "Field mapping for --data, e.g. prompt=question,gold=answer. Default: prompt,gold,id.", load_key="fields"),
    Option("--strict-format", "selection", "Accept only answers in the format the prompt asks for: the last \\boxed{} (an empty one is no answer) or an 'answer is' statement, nothing guessed. Default: off (math-verify's and lm-eval's fallback order: a non-empty box, an answer phrase, the last value of the final answer).", default=False, flag_only=True),
    Option("--group-by", "selection", "Comma-separated fields of --data whose values group its items (breakdowns, marks, per-subgroup gates). Default: none.", load_key="group_by"),
    Option("--verify-schedule", "selection", "When tests verify: 'stream' as each item's completions land, 'after' once the whole plan is generated (the engine keeps every core), 'auto' = after when the engine computes on this machine's CPUs, else stream. Default: auto.", default="auto", choices=SCHEDULES),
    Option("--worker-nice", "selection", "Niceness added to xdist workers so verification yields CPU to generation. Default: 10.", default=10, type=int, check=at_least(0)),
    # cache and reports
    Option("--cache-dir", "cache", "Completion cache directory. Default: ./.evalsuite_cache."),
    Option("--no-cache", "cache", "Generate everything again; do not reuse cached completions. Default: off.", default=False, flag_only=True),
    Option("--rescore", "cache", "Verify cached completions again without generating anything. Default: off.", default=False, flag_only=True),
    Option("--report-dir", "cache", "Where run directories are written. Default: ./reports."),
    Option("--run-id", "cache", "Name of this run's report directory. Default: a timestamp."),
    # metrics and gates
    Option("--pass-k", "gates", "Comma-separated k values for pass@k. Default: 1.", default="1", check=parse_pass_k),
    Option("--metric", "gates", "Metric the gates read: avg@n, pass@K or maj@n. Default: avg@n.", default="avg@n", check=_metric),
    Option("--min-score", "gates", "Thresholds, TARGET=SCORE,... where TARGET is a benchmark or one of its subgroups (builtin/expr, math500/level5, builtin/task=expr). Default: none."),  # parsed by settings (gates)
    Option("--baseline", "gates", "Earlier run directory to compare with, item by item, per benchmark and per subgroup. Default: none."),
    Option("--max-drop", "gates", "Largest tolerated drop vs --baseline, per benchmark and per subgroup. Default: 0.02.", default=0.02, type=float, check=_non_negative),
    Option("--max-truncation", "gates", "Largest tolerated share of truncated samples per benchmark (cut off before a final answer), in [0, 1]; a run above it fails. Default: none (off).", type=float, check=_fraction),
    Option("--alpha", "gates", "Significance level of the regression test, after --correction. Default: 0.05.", default=0.05, type=float, check=_probability),
    Option("--correction", "gates", "Multiple-comparison correction over the run's paired tests (every benchmark and every subgroup of --min-group-size items): holm, bonferroni or none. Default: holm.", default="holm", check=_correction),
    Option("--min-group-size", "gates", "Paired items a subgroup needs to be gated against --baseline; smaller ones are reported, not gated. Default: 20.", default=20, type=int, check=at_least(1)),
    Option("--summary-md", "gates", "Write a Markdown verdict summary (benchmarks, worst subgroups) to this file, and append it to $GITHUB_STEP_SUMMARY when that is set. Default: none.", check=_writable_file),
    # --strict is pytest's own option (strict markers etc.); we also read it: plain pytest exit status.
    Option("--regression", "gates", "Compare each item's verdict with its syrupy snapshot. Default: off.", default=False, flag_only=True),
)

BY_FLAG = {o.flag: o for o in OPTIONS}
"""Each option by its flag."""

LOAD_FLAGS = {o.load_key: o.flag for o in OPTIONS if o.load_key}
"""The flag behind each ``LoadOptions.extra`` key, so benchmark errors name what the user typed."""


def _kwargs(option: Option) -> dict[str, Any]:
    # Valued options register None, so that settings.resolve tells a value given from one not given
    # (a --protocol preset fills only those); the table's default applies there.
    default = option.default if option.flag_only else None
    kwargs: dict[str, Any] = {"dest": option.dest, "default": default, "help": option.help}
    if option.flag_only:
        kwargs["action"] = "store_true"
        return kwargs
    if option.repeat:
        kwargs["action"] = "append"
    if option.type is not None:
        kwargs["type"] = option.type
    if option.choices is not None:
        kwargs["choices"] = option.choices
    return kwargs


def add_to_pytest(parser: pytest.Parser) -> None:
    """Register every option in pytest's ``evalsuite`` group."""
    group = parser.getgroup("evalsuite", "evalsuite: evaluate an LLM checkpoint")
    for option in OPTIONS:
        group.addoption(option.flag, *option.aliases, **_kwargs(option))


def add_to_argparse(parser: argparse.ArgumentParser, groups: Iterable[str] = tuple(GROUPS)) -> None:
    """Register the options of ``groups`` on an ``evalsuite`` subcommand's parser."""
    wanted = set(groups)
    for key, title in GROUPS.items():
        if key not in wanted:
            continue
        group = parser.add_argument_group(title)
        for option in (o for o in OPTIONS if o.group == key):
            group.add_argument(option.flag, *option.aliases, **_kwargs(option))


def with_defaults(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option's value by dest: ``given[dest]``, else its default (parsers leave unset ones None)."""
    return {o.dest: o.default if given.get(o.dest) is None else given[o.dest] for o in OPTIONS}


def checked_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """``with_defaults(given)`` after every option's check (a bad value raises ``pytest.UsageError``)."""
    values = with_defaults(given)
    check_values(values.__getitem__)
    return values


def add_flags(parser: argparse.ArgumentParser, flags: Iterable[str]) -> None:
    """Register the named options (e.g. ``--model``, ``--dtype``) on a command that takes only a few."""
    for flag in flags:
        option = BY_FLAG[flag]
        kwargs = _kwargs(option)
        if not option.flag_only and option.choices is None:
            kwargs["metavar"] = option.flag.lstrip("-").replace("-", "_").upper()
        parser.add_argument(option.flag, *option.aliases, **kwargs)


def usage_error(option: Option | str, value: Any, message: str) -> pytest.UsageError:
    """``--flag VALUE: message``, the one shape of every option error."""
    flag = option if isinstance(option, str) else option.flag
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)  # a repeated option
    shown = text if text and not any(c.isspace() for c in text) else repr(text)
    return pytest.UsageError(f"{flag} {shown}: {message}")


def check_values(values: Callable[[str], Any]) -> None:
    """Run every option's check on its value (``values(dest)``); the first failure is a usage error."""
    for option in OPTIONS:
        value = values(option.dest)
        if option.check is None or value is None:
            continue
        try:
            option.check(value)
        except ValueError as exc:
            raise usage_error(option, value, str(exc)) from None
