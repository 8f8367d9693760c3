"""The pytest plugin (entry point ``pytest11``): options, parametrization, fixtures, hook wiring.

Kept thin on purpose: the run's state lives in ``EvalRun`` (every process) and, on the process
that leads generation (the xdist controller or the lone process), in ``GenerationLeader`` and
``Recorder``.
"""

from __future__ import annotations

from typing import Any

import pytest

# The snapshot comparison lives in evalsuite.testing: rewrite it so syrupy's diff shows on failure.
pytest.register_assert_rewrite("evalsuite.testing")

from evalsuite import session as _session  # noqa: E402
from evalsuite.evalrun import EvalRun  # noqa: E402
from evalsuite.evaluate import record_result  # noqa: E402
from evalsuite.runner import SCHEDULES  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("evalsuite", "evalsuite: evaluate an LLM checkpoint")
    add = g.addoption
    # model and engine
    add("--model", dest="es_model", default=None, help="Local HF-format checkpoint directory to evaluate. Default: none (the suite's own tests run).")
    add("--adapter", dest="es_adapter", default=None, help="LoRA adapter directory applied to --model. Default: none.")
    add("--engine", dest="es_engine", default=None, help="Engine: vllm, hf, openai or fake. Default: openai with --api-url, else vllm when importable, else hf.")
    add("--engine-options", dest="es_engine_options", default=None, help="Engine-specific options, NAME=VALUE,... (e.g. batch_size=32,gpu_memory_utilization=0.8). Default: none.")
    add("--api-url", dest="es_api_url", default=None, help="Base URL of an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1). Default: none.")
    add("--api-key", dest="es_api_key", default=None, help="API key. Default: $EVALSUITE_API_KEY or $OPENAI_API_KEY. Never written to caches or reports.")
    add("--model-name", dest="es_model_name", default=None, help="Model name sent to the server. Default: the server's first model.")
    add("--api-mode", dest="es_api_mode", default="chat", choices=("chat", "completion"), help="chat or completion endpoint. Default: chat.")
    add("--max-concurrency", dest="es_max_concurrency", default=64, type=int, help="Requests in flight at once for HTTP engines. Default: 64.")
    add("--dtype", dest="es_dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"), help="Weights dtype. Default: auto (float32 on CPU, bfloat16 on GPU).")
    add("--max-model-len", dest="es_max_model_len", default=None, type=int, help="Context length cap for vLLM. Default: the model's.")
    # sampling
    add("--samples", dest="es_samples", default=1, type=int, help="Samples per item (not xdist's -n). Default: 1.")
    add("--temperature", dest="es_temperature", default=0.0, type=float, help="Sampling temperature; 0 is greedy. Default: 0.")
    add("--top-p", dest="es_top_p", default=1.0, type=float, help="Nucleus sampling mass. Default: 1.0.")
    add("--max-tokens", dest="es_max_tokens", default=512, type=int, help="Max generated tokens per sample. Default: 512.")
    add("--seed", dest="es_seed", default=0, type=int, help="Seed for the engine, shuffles and choice permutations. Default: 0.")
    add("--system-prompt", dest="es_system_prompt", default=None, help="System prompt added to every item. Default: the template's.")
    add("--sys-prompt", dest="es_system_prompt", help="Alias of --system-prompt.")
    add("--template", dest="es_template", default=None, help="Prompt template: r1, qwen, chatml, internthinker. Default: each benchmark's own.")
    # benchmarks and selection
    add("--benchmark", dest="es_benchmark", default=None, help="Comma-separated benchmark names. Default: builtin (or custom/bootcamp with --data/--test-dir).")
    add("--limit", dest="es_limit", default=None, type=int, help="First N items per benchmark. Default: all.")
    add("--items", dest="es_items", default=None, help="Comma-separated glob patterns of item ids to run. Default: all.")
    add("--shuffle", dest="es_shuffle", action="store_true", default=False, help="Shuffle items with --seed before --limit. Default: off.")
    add("--data-dir", dest="es_data_dir", default=None, help="Directory holding benchmark data files. Default: $EVALSUITE_DATA_DIR, else ./data, else ../shared/data.")
    add("--data-path", dest="es_data_path", default=None, help="Per-benchmark data files, NAME=PATH,... Default: none.")
    add("--hub", dest="es_hub", action="store_true", default=False, help="Allow downloading benchmark data from the HF hub. Default: off (offline).")
    add("--choice-rotations", dest="es_choice_rotations", default=1, type=int, help="Seeded choice permutations per multiple-choice question. Default: 1.")
    add("--lcb-release", dest="es_lcb_release", default=None, help="LiveCodeBench release version (release_v1..). Default: all.")
    add("--start-date", dest="es_start_date", default=None, help="Earliest contest date (YYYY-MM-DD) for dated benchmarks. Default: none.")
    add("--end-date", dest="es_end_date", default=None, help="Latest contest date (YYYY-MM-DD). Default: none.")
    add("--test-dir", dest="es_test_dir", default=None, help="Directory of InternBootcamp-style JSONL test sets. Default: none.")
    add("--data", dest="es_data", default=None, help="A custom JSONL file evaluated as benchmark 'custom'. Default: none.")
    add("--verifier", dest="es_verifier", default="math", help="Verifier for --data: math, choice, code, exact, text. Default: math.")
    add("--fields", dest="es_fields", default=None, help="Field mapping for --data, e.g. prompt=question,gold=answer. Default: prompt,gold,id.")
    add("--verify-schedule", dest="es_verify_schedule", default="auto", choices=SCHEDULES, help="When tests verify: 'stream' as each item's completions land, 'after' once the whole plan is generated (the engine keeps every core), 'auto' = after when the engine computes on this machine's CPUs, else stream. Default: auto.")
    add("--worker-nice", dest="es_worker_nice", default=10, type=int, help="Niceness added to xdist workers so verification yields CPU to generation. Default: 10.")
    # cache and reports
    add("--cache-dir", dest="es_cache_dir", default=None, help="Completion cache directory. Default: ./.evalsuite_cache.")
    add("--no-cache", dest="es_no_cache", action="store_true", default=False, help="Generate everything again; do not reuse cached completions. Default: off.")
    add("--rescore", dest="es_rescore", action="store_true", default=False, help="Verify cached completions again without generating anything. Default: off.")
    add("--report-dir", dest="es_report_dir", default=None, help="Where run directories are written. Default: ./reports.")
    add("--run-id", dest="es_run_id", default=None, help="Name of this run's report directory. Default: a timestamp.")
    # metrics and gates
    add("--pass-k", dest="es_pass_k", default="1", help="Comma-separated k values for pass@k. Default: 1.")
    add("--metric", dest="es_metric", default="avg@n", help="Metric the gates read: avg@n, pass@K or maj@n. Default: avg@n.")
    add("--min-score", dest="es_min_score", default=None, help="Thresholds, BENCHMARK=SCORE,... Default: none.")
    add("--baseline", dest="es_baseline", default=None, help="Earlier run directory to compare with, item by item. Default: none.")
    add("--max-drop", dest="es_max_drop", default=0.02, type=float, help="Largest tolerated drop vs --baseline. Default: 0.02.")
    add("--alpha", dest="es_alpha", default=0.05, type=float, help="Significance level of the regression test. Default: 0.05.")
    # --strict is pytest's own option (strict markers etc.); we also read it: plain pytest exit status.
    add("--regression", dest="es_regression", action="store_true", default=False, help="Compare each item's verdict with its syrupy snapshot. Default: off.")


def pytest_configure(config: pytest.Config) -> None:
    if not _session.is_evaluating(config):
        return
    run = EvalRun.from_config(config)
    config.stash[EvalRun.KEY] = run
    config.pluginmanager.register(run, "evalsuite-run")
    for mark in run.mark_names():
        config.addinivalue_line("markers", f"{mark}: evalsuite benchmark or subgroup")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "item" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(EvalRun.KEY, None)
    if run is None:
        metafunc.parametrize("item", [pytest.param(None, marks=pytest.mark.skip(reason="no model: pass --model, --api-url or --engine fake"))], ids=["no-model"])
        return
    metafunc.parametrize("item", run.params(), ids=[i.nodeid for i in run.items])


@pytest.fixture
def completions(item: Any, request: pytest.FixtureRequest) -> list[Any]:
    """The item's completions, one per sample, once the generation leader has produced them."""
    return request.config.stash[EvalRun.KEY].completions_for(item, request)


@pytest.fixture
def evaluation(item: Any, completions: list[Any], request: pytest.FixtureRequest) -> Any:
    """The item's verified result (``ItemResult``), recorded for metrics, gates and reports."""
    run = request.config.stash[EvalRun.KEY]
    result = run.evaluate(item, completions)
    record_result(request.node, result)
    return result
