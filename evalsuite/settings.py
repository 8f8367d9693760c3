"""Option values in, the complete and immutable settings of one run out, every mistake a usage error.

``resolve`` runs in ``pytest_configure`` of every process, before collection and before any engine
loads: a typo in a gate costs seconds, not a whole generation. Nothing downstream parses an option
string; it reads ``Settings``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evalsuite import options as _options
from evalsuite import protocols as _protocols
from evalsuite.benchmarks.base import LoadOptions
from evalsuite.engines.base import EngineConfig
from evalsuite.engines.local import config_context_length
from evalsuite.redaction import REDACTED, api_key
from evalsuite.sharding import Shard, parse_shard
from evalsuite.types import RunRecord, SamplingConfig
from evalsuite.watchdog import Deadlines

RUN_ID_KEY = "evalsuite_run_id"
"""Key of xdist's ``workerinput`` that carries the run id from the controller to its workers."""

SECRET_DESTS = ("es_api_key",)
"""Options whose values never reach a report."""


@dataclass(frozen=True)
class Selection:
    """Which benchmarks and items run."""

    benchmarks: tuple[str, ...]
    """Benchmark registry names, in the order given."""
    load: LoadOptions
    """How loaders find and format the data."""
    limit: int | None
    """First N items per benchmark (after shuffling); None for all."""
    patterns: tuple[str, ...]
    """Glob patterns of item ids (``--items``); empty for all."""
    shuffle: bool
    """Shuffle items with the seed before ``limit``."""
    seed: int
    """Seed of the shuffle."""
    mix: Mapping[str, float] = dataclasses.field(default_factory=dict)
    """``--mix``: weight per benchmark of a seeded weighted sample across them; empty for none."""
    mix_size: int | None = None
    """``--mix-size``: items the mix draws in all."""
    shard: Shard | None = None
    """``--shard I/N``: evaluate this shard of the selected items; None for all."""


@dataclass(frozen=True)
class GateSettings:
    """What decides the session's exit status."""

    pass_k: tuple[int, ...]
    """k values of pass@k in the summary."""
    metric: str
    """The metric the gates read (``avg@n``, ``pass@K``, ``maj@n``)."""
    min_score: Mapping[str, float]
    """Thresholds by benchmark."""
    baseline: RunRecord | None
    """The run compared against, read at start-up; None without ``--baseline``."""
    max_drop: float
    """Largest tolerated drop against the baseline."""
    alpha: float
    """Significance level of the paired regression test, after the correction."""
    correction: str
    """Multiple-comparison correction over the run's paired tests: holm, bonferroni or none."""
    min_group_size: int
    """Paired items a subgroup needs to be gated (smaller ones are reported only)."""
    summary_md: Path | None
    """Where the Markdown verdict summary goes (also appended to ``$GITHUB_STEP_SUMMARY``); None: nowhere."""
    strict: bool
    """Plain pytest exit status (every wrong item fails the session)."""
    regression: bool
    """Compare verdicts with syrupy snapshots (a flip fails the session)."""
    max_truncation: float | None = None
    """Largest tolerated share of truncated samples per benchmark; None: no truncation gate."""


@dataclass(frozen=True)
class Output:
    """Where completions and reports go."""

    run_id: str
    """Name of this run's report directory (shared by the controller and its workers)."""
    report_root: Path
    """Directory holding run directories."""
    cache_path: Path
    """The SQLite completion cache."""
    use_cache: bool
    """Reuse cached completions (``--no-cache`` turns it off)."""
    rescore: bool
    """Verify cached completions only; generate nothing."""

    @property
    def report_dir(self) -> Path:
        """``report_root / run_id``."""
        return self.report_root / self.run_id


@dataclass(frozen=True)
class Settings:
    """Everything one evaluation run needs to know, resolved and checked."""

    engine_name: str
    """Registry name of the engine (``vllm``, ``hf``, ``openai``, ``fake``)."""
    engine: EngineConfig
    """How to start it."""
    sampling: SamplingConfig
    """Decoding parameters of every request."""
    samples: int
    """Samples per item."""
    selection: Selection
    """Benchmarks and item selection."""
    schedule: str
    """``--verify-schedule``: auto, stream or after."""
    deadlines: Deadlines
    """Stall and start-up timeouts of generation (``--stall-timeout``, ``--load-timeout``)."""
    worker_nice: int
    """Niceness xdist workers add to themselves."""
    gates: GateSettings | None
    """Metrics and gates; None in xdist workers, which apply none (the controller checked them)."""
    output: Output
    """Cache and reports."""
    options: Mapping[str, Any]
    """The plain option values as given (secrets redacted), for ``eval_args.json``."""
    verbose: int = 0
    """pytest's verbosity: above 0 the engine's own logs stay on the terminal."""
    strict_format: bool = False
    """Verifiers accept only the answer format the prompt asks for (``--strict-format``)."""
    protocol: _protocols.Applied | None = None
    """The ``--protocol`` preset as applied (values in effect, overrides); None without one."""
    samples_by_benchmark: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Samples per item for benchmarks whose protocol sets their own count (else ``samples``)."""
    max_tokens_given: bool = False
    """``--max-tokens`` was given explicitly: every request asks for exactly it (else it is a cap
    fitted to the context, or auto)."""
    notes: tuple[str, ...] = ()
    """Lines the leader prints at start (the protocol's parameters, overrides, adjustments)."""

    def samples_for(self, benchmark: str) -> int:
        """Samples per item of ``benchmark``."""
        return self.samples_by_benchmark.get(benchmark, self.samples)

    @property
    def think_prefix(self) -> str | None:
        """Text every response must start with (the protocol's), appended to rendered prompts."""
        return self.protocol.preset.think_prefix if self.protocol else None
    adapter: str | None = None
    """Name of the LoRA adapter that answers this run's requests (``--adapter``); None: the base model
    (or, with ``--merge-adapter``, the merged weights)."""
    prefill_adapters: tuple[str, ...] = ()
    """Adapters (in ``engine.adapters``) whose completions this run's engine load also generates."""
    max_prompt_tokens: int | None = None
    """``--max-prompt-tokens``: prompts longer than this are cut (None: no limit)."""


def is_evaluating(config: pytest.Config) -> bool:
    """Whether this pytest run evaluates a model (as opposed to running the suite's own tests)."""
    opt = config.getoption
    return bool(
        opt("es_model") or opt("es_api_url") or opt("es_engine") == "fake"
        or opt("es_benchmark") or opt("es_data") or opt("es_test_dir")
    )


def is_leader(config: pytest.Config) -> bool:
    """Whether this process leads generation: the xdist controller or the lone process, when it runs tests."""
    return not hasattr(config, "workerinput") and not config.option.collectonly


def default_data_dir(cwd: Path) -> str | None:
    """``$EVALSUITE_DATA_DIR``, else ``./data``, else ``../shared/data`` (a checkout beside shared data)."""
    if os.environ.get("EVALSUITE_DATA_DIR"):
        return os.environ["EVALSUITE_DATA_DIR"]
    for candidate in (cwd / "data", cwd.parent / "shared" / "data"):
        if candidate.is_dir():
            return str(candidate)
    return None


def default_engine() -> str:
    """vLLM when it is installed (found without importing it: that takes seconds), else transformers."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def resolve(config: pytest.Config) -> Settings:
    """The run's settings from pytest's option values.

    Raises:
        pytest.UsageError: naming the option, for every value that cannot work.
    """
    given = {o.dest: config.getoption(o.dest) for o in _options.OPTIONS}
    values = {o.dest: o.default if given[o.dest] is None else given[o.dest] for o in _options.OPTIONS}
    _options.check_values(values.__getitem__)
    names = _benchmark_names(values.__getitem__)
    protocol = None
    notes: list[str] = []
    if values["es_protocol"]:
        filled, protocol = _protocols.apply(
            _protocols.PRESETS[values["es_protocol"]], {k[3:]: v for k, v in given.items()}, names
        )
        values.update({"es_" + k: v for k, v in filled.items()})
        _options.check_values(values.__getitem__)
    opt: Callable[[str], Any] = values.__getitem__
    leader = is_leader(config)
    max_tokens_given = given["es_max_tokens"] is not None
    context = _local_context(opt)
    if protocol is not None and context is not None:
        own = config_context_length(Path(opt("es_model")).expanduser(), None)
        notes += protocol.fit_to_context(values, own, max_tokens_given=max_tokens_given)
        context = _local_context(opt)
    if max_tokens_given and context is not None and opt("es_max_tokens") > context:
        raise _options.usage_error(
            "--max-tokens", opt("es_max_tokens"),
            f"larger than the model's context length {context} ({_context_source(opt)}); "
            f"pass --max-tokens {context} or less, or leave it out to generate up to the context",
        )
    sampling = _sampling(opt)
    samples = int(opt("es_samples"))
    samples_by_benchmark = dict(protocol.samples) if protocol is not None else {}
    most = max(samples_by_benchmark.get(b, samples) for b in names)
    if most > 1 and sampling.temperature == 0:
        raise pytest.UsageError(
            f"--samples {most} with --temperature 0 gives {most} identical greedy samples; "
            "set --temperature (e.g. 0.6) for sampling"
        )
    if protocol is not None:
        notes = [protocol.banner(), *(o.message(protocol.preset.name) for o in protocol.overrides), *notes]
    cache_dir = Path(opt("es_cache_dir") or config.invocation_params.dir / ".evalsuite_cache")
    engine_name, engine = _engine(opt, leader=leader, worker=hasattr(config, "workerinput"), cache_dir=cache_dir)
    if protocol is not None and protocol.preset.think_prefix and engine_name == "openai" and engine.api_mode == "chat":
        notes.append(
            f"evalsuite: --protocol {protocol.preset.name}: responses cannot be forced to start with "
            f"{protocol.preset.think_prefix!r} through --api-mode chat (the server applies the chat template); "
            "pass --api-mode completion to force it"
        )
    if leader and not (engine.model or engine.api_url or engine_name == "fake"):
        raise pytest.UsageError("nothing to evaluate: pass --model PATH (a checkpoint) or --api-url URL (a server)")
    cwd = config.invocation_params.dir
    selection = _selection(opt, cwd, names)
    workerinput = getattr(config, "workerinput", None)
    output = Output(
        run_id=workerinput[RUN_ID_KEY] if workerinput else (opt("es_run_id") or new_run_id()),
        report_root=Path(opt("es_report_dir") or cwd / "reports"),
        cache_path=cache_dir / "completions.sqlite",
        use_cache=not opt("es_no_cache"),
        rescore=bool(opt("es_rescore")),
    )
    strict = bool(config.getoption("strict", False))
    fewest = min(samples_by_benchmark.get(b, samples) for b in names)
    gates = gate_settings(opt, selection.benchmarks, fewest, strict=strict) if not hasattr(config, "workerinput") else None
    return Settings(
        engine_name=engine_name,
        engine=engine,
        sampling=sampling,
        samples=samples,
        selection=selection,
        schedule=opt("es_verify_schedule"),
        deadlines=Deadlines(stall_s=float(opt("es_stall_timeout")), load_s=float(opt("es_load_timeout"))),
        worker_nice=int(opt("es_worker_nice")),
        gates=gates,
        output=output,
        options=_plain_options(values),
        verbose=int(config.getoption("verbose", 0) or 0),
        protocol=protocol,
        samples_by_benchmark=samples_by_benchmark,
        max_tokens_given=max_tokens_given,
        notes=tuple(notes),
        strict_format=bool(opt("es_strict_format")),
        adapter=(_options.parse_adapter_name(opt("es_adapter")) if opt("es_adapter") and engine.merge_dir is None else None),
        prefill_adapters=tuple(_options.parse_kv(opt("es_prefill_adapters"))),
        max_prompt_tokens=opt("es_max_prompt_tokens"),
    )


def _sampling(opt: Callable[[str], Any]) -> SamplingConfig:
    return SamplingConfig(
        temperature=float(opt("es_temperature")),
        top_p=float(opt("es_top_p")),
        max_tokens=None if opt("es_max_tokens") is None else int(opt("es_max_tokens")),
        seed=int(opt("es_seed")),
        repetition_penalty=float(opt("es_repetition_penalty")),
    )


HTTP_FLAGS = {
    "es_wait_for_server": "wait_for_server_s",
    "es_request_timeout": "request_timeout_s",
    "es_max_retries": "max_retries",
    "es_max_retry_delay": "max_retry_delay_s",
}
"""Options of the HTTP engine: dest → its ``HttpOptions`` field (set in ``EngineConfig.options``)."""


def _engine(opt: Callable[[str], Any], *, leader: bool, worker: bool, cache_dir: Path) -> tuple[str, EngineConfig]:
    """The engine's name and config. xdist workers never start an engine, and the controller has
    refused every bad value before they start: they skip the name's lookup (which imports every
    engine module). Only the leader counts devices."""
    from evalsuite.engines.adapters import parse_adapter_specs
    from evalsuite.engines.base import EngineConfigError

    name = opt("es_engine") or ("openai" if opt("es_api_url") else default_engine())
    if not worker:
        from evalsuite.engines import engines
        from evalsuite.registry import UnknownNameError

        try:
            engines.get(name)
        except UnknownNameError as exc:
            raise _options.usage_error("--engine", name, str(exc)) from None
    engine_options = {k: _number(v) for k, v in _options.parse_kv(opt("es_engine_options")).items()}
    engine_options.update(_http_options(opt, name))
    engine_options.update(_parallelism(opt, name, check_devices=leader))
    urls = opt("es_api_url")
    specs = [opt("es_adapter")] if opt("es_adapter") else []
    specs += ["=".join(kv) for kv in _options.parse_kv(opt("es_prefill_adapters")).items()]
    try:
        adapters = {a.name: str(a.path) for a in parse_adapter_specs(specs)}
    except EngineConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if opt("es_merge_adapter") and opt("es_prefill_adapters"):
        raise _options.usage_error("--merge-adapter", "", "cannot share its engine load with --prefill-adapters (merged weights are another model)")
    if opt("es_merge_adapter") and not adapters:
        raise _options.usage_error("--merge-adapter", "", "needs --adapter PATH (the adapter to merge into --model)")
    return name, EngineConfig(
        model=opt("es_model"),
        adapters=adapters,
        merge_dir=str(cache_dir / "merged") if opt("es_merge_adapter") else None,
        api_url=",".join(urls) if urls else None,
        api_key=api_key(opt("es_api_key")),
        model_name=opt("es_model_name"),
        api_mode=opt("es_api_mode"),
        max_concurrency=int(opt("es_max_concurrency")),
        dtype=opt("es_dtype"),
        seed=int(opt("es_seed")),
        max_model_len=opt("es_max_model_len"),
        trust_remote_code=bool(opt("es_trust_remote_code")),
        options=engine_options,
    )


def _http_options(opt: Callable[[str], Any], engine_name: str) -> dict[str, Any]:
    """The HTTP engine's timeouts and retries that were given, refused for other engines."""
    given = {dest: opt(dest) for dest in HTTP_FLAGS if opt(dest) is not None}
    if given and engine_name != "openai":
        dest, value = next(iter(given.items()))
        raise _options.usage_error(
            "--" + dest[3:].replace("_", "-"), value, f"applies to servers (--api-url), not to --engine {engine_name}"
        )
    return {HTTP_FLAGS[dest]: value for dest, value in given.items()}


def _parallelism(opt: Callable[[str], Any], engine_name: str, *, check_devices: bool) -> dict[str, Any]:
    """vLLM's parallelism arguments, checked against the devices there are (on the leader only)."""
    from evalsuite.engines.base import EngineConfigError
    from evalsuite.engines.parallel import Parallelism, check_parallelism, count_devices

    tp, pp, dp = (int(opt(d)) for d in ("es_tensor_parallel_size", "es_pipeline_parallel_size", "es_data_parallel_size"))
    backend = opt("es_distributed_executor_backend")
    layout = Parallelism(tp, pp, dp, backend)
    if layout == Parallelism():
        return {}
    flag = "--distributed-executor-backend" if (tp, pp, dp) == (1, 1, 1) else "--tensor-parallel-size x --pipeline-parallel-size x --data-parallel-size"
    shown = backend if (tp, pp, dp) == (1, 1, 1) else f"{tp}x{pp}x{dp}"
    if engine_name != "vllm":
        raise _options.usage_error(
            flag, shown,
            f"applies to --engine vllm, not {engine_name}; a server takes it on its own command line "
            "(vllm serve MODEL --tensor-parallel-size N ...), see docs/scaling.md",
        )
    if not check_devices:
        return layout.llm_kwargs()
    try:
        return check_parallelism(tp, pp, dp, backend, count_devices(backend)).llm_kwargs()
    except EngineConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def _benchmark_names(opt: Callable[[str], Any]) -> tuple[str, ...]:
    """``--benchmark``, else the benchmarks ``--mix`` weighs, else those --data/--test-dir name, else builtin."""
    from evalsuite.benchmarks import benchmarks

    spec = opt("es_benchmark")
    mix = _options.parse_mix(opt("es_mix")) if opt("es_mix") else {}
    if bool(mix) != (opt("es_mix_size") is not None):
        missing = "--mix-size N" if mix else "--mix NAME=WEIGHT,..."
        flag, value = ("--mix", opt("es_mix")) if mix else ("--mix-size", opt("es_mix_size"))
        raise _options.usage_error(flag, value, f"needs {missing} as well")
    if spec:
        names = tuple(n.strip() for n in spec.split(",") if n.strip())
        if mix and set(mix) != set(names):
            raise _options.usage_error(
                "--mix", opt("es_mix"), f"weighs {', '.join(mix)} but --benchmark selects {', '.join(names)}; "
                "leave --benchmark out (the mix names the benchmarks) or name the same ones",
            )
    elif mix:
        names = tuple(mix)
    else:  # --data and --test-dir name their own benchmarks; otherwise the built-in one
        flags = (("custom", opt("es_data")), ("bootcamp", opt("es_test_dir")))
        names = tuple(name for name, given in flags if given) or ("builtin",)
    for name in names:
        if name not in benchmarks:
            flag = "--mix" if mix and not spec else "--benchmark"
            raise _options.usage_error(flag, name, f"unknown benchmark; known: {', '.join(benchmarks.names())}")
    return names


def _local_context(opt: Callable[[str], Any]) -> int | None:
    """The context length of a local ``--model`` (config.json, capped by --max-model-len); None if unknown."""
    if opt("es_engine") in ("openai", "fake") or opt("es_api_url") or not opt("es_model"):
        return None
    return config_context_length(Path(opt("es_model")).expanduser(), opt("es_max_model_len"))


def _context_source(opt: Callable[[str], Any]) -> str:
    own = config_context_length(Path(opt("es_model")).expanduser(), None)
    if opt("es_max_model_len") and (own is None or opt("es_max_model_len") < own):
        return "--max-model-len"
    return f"{opt('es_model')}/config.json"


def _selection(opt: Callable[[str], Any], cwd: Path, names: tuple[str, ...]) -> Selection:
    extra = {o.load_key: opt(o.dest) for o in _options.OPTIONS if o.load_key}
    load = LoadOptions(
        data_dir=opt("es_data_dir") or default_data_dir(cwd),
        paths=_options.parse_kv(opt("es_data_path")),
        seed=int(opt("es_seed")),
        template=opt("es_template"),
        system_prompt=opt("es_system_prompt"),
        extra={k: v for k, v in extra.items() if v is not None},
    )
    if opt("es_group_by") and "custom" not in names:
        raise _options.usage_error(
            "--group-by", opt("es_group_by"), "groups items of a custom JSONL file; pass it with --data FILE"
        )
    if opt("es_prompt_format") and opt("es_template") != "raw":
        raise _options.usage_error("--prompt-format", opt("es_prompt_format"), "applies to --template raw only; add --template raw")
    patterns = tuple(p.strip() for p in (opt("es_items") or "").split(",") if p.strip())
    mix = _options.parse_mix(opt("es_mix")) if opt("es_mix") else {}
    shard = parse_shard(opt("es_shard")) if opt("es_shard") else None
    return Selection(
        names, load, opt("es_limit"), patterns, bool(opt("es_shuffle")), int(opt("es_seed")),
        mix=mix, mix_size=opt("es_mix_size"), shard=shard,
    )


def gate_settings(opt: Callable[[str], Any], benchmarks: Sequence[str], samples: int, *, strict: bool) -> GateSettings:
    """The gates options (``opt(dest)``) of a run of ``benchmarks`` with ``samples`` per item.

    Also what ``evalsuite merge`` gates with. Raises ``pytest.UsageError`` naming the option.
    """
    from evalsuite.gates import parse_thresholds

    metric = opt("es_metric")
    if metric.startswith("pass@") and int(metric[5:]) > samples:
        raise _options.usage_error("--metric", metric, f"needs at least {metric[5:]} samples per item; pass --samples {metric[5:]} or more")
    pass_k = _options.parse_pass_k(opt("es_pass_k"))
    if max(pass_k) > samples:
        raise _options.usage_error("--pass-k", opt("es_pass_k"), f"k larger than --samples {samples} cannot be estimated")
    try:
        min_score = parse_thresholds(opt("es_min_score")) if opt("es_min_score") else {}
    except ValueError as exc:
        raise _options.usage_error("--min-score", opt("es_min_score"), str(exc)) from None
    baseline = _read_baseline(opt("es_baseline"), benchmarks) if opt("es_baseline") else None
    return GateSettings(
        pass_k=pass_k,
        metric=metric,
        min_score=min_score,
        baseline=baseline,
        max_drop=float(opt("es_max_drop")),
        alpha=float(opt("es_alpha")),
        correction=str(opt("es_correction")),
        min_group_size=int(opt("es_min_group_size")),
        summary_md=Path(opt("es_summary_md")).expanduser() if opt("es_summary_md") else None,
        strict=strict,
        regression=bool(opt("es_regression")),
        max_truncation=opt("es_max_truncation"),
    )


def _read_baseline(path: str, benchmarks: Sequence[str]) -> RunRecord:
    """The baseline run, checked to share a benchmark with this run."""
    from evalsuite.reports import read_run

    try:
        record = read_run(Path(path))
    except (OSError, ValueError) as exc:
        raise _options.usage_error("--baseline", path, str(exc)) from None
    theirs = sorted({it.benchmark for it in record.items})
    if not set(theirs) & set(benchmarks):
        raise _options.usage_error(
            "--baseline", path,
            f"its benchmarks ({', '.join(theirs) or 'none'}) share none with this run's "
            f"({', '.join(benchmarks)}); compare runs of the same benchmark",
        )
    return record


def _plain_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """The option values in effect (table defaults and protocol values filled in), secrets redacted."""
    values = {o.dest[3:]: given[o.dest] for o in _options.OPTIONS}
    for dest in SECRET_DESTS:
        if values.get(dest[3:]):
            values[dest[3:]] = REDACTED
    return values


def _number(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)
