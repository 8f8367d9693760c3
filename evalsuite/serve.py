"""``evalsuite serve --model PATH``: one warm engine that later ``pytest --api-url`` runs reuse.

A developer iterating on a verifier or a benchmark reruns evaluations many times; with the model
served once, each run pays HTTP round trips instead of the model load. ``--engine vllm`` replaces
this process with vLLM's own OpenAI server (``vllm.entrypoints.openai.api_server``), started with the
arguments our in-process vLLM engine would give ``vllm.LLM`` (dtype, seed, context length, CPU
defaults, LoRA); ``--engine hf`` serves our transformers engine through ``evalsuite.openai_server``.
Loopback by default: the endpoint has no authentication.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ENGINE_FLAGS = (
    "--model", "--adapter", "--dtype", "--seed", "--max-model-len", "--trust-remote-code", "--engine-options",
    "--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size", "--distributed-executor-backend",
)  # fmt: skip
"""Options of an evaluation that ``serve`` takes too, with the same meaning and checks."""

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def build_parser() -> argparse.ArgumentParser:
    from evalsuite import options

    parser = argparse.ArgumentParser(
        prog="evalsuite serve",
        description="Start one warm engine behind an OpenAI-compatible endpoint; evaluate against it with "
        "pytest --api-url http://HOST:PORT/v1 as often as needed without loading the model again.",
    )
    parser.add_argument(
        "--engine",
        choices=("vllm", "hf"),
        default=None,
        help="vllm: exec vLLM's OpenAI server; hf: our transformers engine behind a small "
        "server. Default: vllm when importable, else hf.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="Address to listen on. Default: 127.0.0.1 (loopback)."
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="Port; 0 picks a free one (hf). Default: 8000."
    )
    parser.add_argument(
        "--served-model-name",
        default=None,
        help="Model name clients send. Default: the --model directory's name.",
    )
    options.add_flags(parser, ENGINE_FLAGS)
    return parser


def engine_config(args: argparse.Namespace) -> Any:
    from evalsuite import options
    from evalsuite.engines.adapters import parse_adapter_specs
    from evalsuite.engines.base import EngineConfig
    from evalsuite.engines.parallel import Parallelism
    from evalsuite.settings import _number

    values = options.checked_values(vars(args))
    args = argparse.Namespace(**{**vars(args), **values})
    if not args.es_model:
        raise ValueError("--model is required: the checkpoint directory to serve")
    engine_options = {k: _number(v) for k, v in options.parse_kv(args.es_engine_options).items()}
    layout = Parallelism(
        int(args.es_tensor_parallel_size),
        int(args.es_pipeline_parallel_size),
        int(args.es_data_parallel_size),
        args.es_distributed_executor_backend,
    )
    if layout != Parallelism() and args.engine == "hf":
        raise ValueError(
            "--tensor/pipeline/data-parallel-size and --distributed-executor-backend need --engine vllm"
        )
    engine_options = {**layout.llm_kwargs(), **engine_options}  # vLLM's server checks the devices itself
    return EngineConfig(
        model=args.es_model,
        adapters={a.name: str(a.path) for a in parse_adapter_specs([args.es_adapter] if args.es_adapter else [])},
        dtype=args.es_dtype,
        seed=int(args.es_seed),
        max_model_len=args.es_max_model_len,
        trust_remote_code=bool(args.es_trust_remote_code),
        options=engine_options,
    )


def vllm_command(config: Any, *, host: str, port: int, served_name: str) -> list[str]:
    """The ``vllm.entrypoints.openai.api_server`` command line for ``config``.

    Built from the in-process engine's ``vllm.LLM`` arguments (``VLLMEngine.engine_kwargs``), so a
    served model decodes as ``--engine vllm`` does: same dtype, seed, context length and CPU defaults.
    """
    from evalsuite.engines.vllm import VLLMEngine

    kwargs = VLLMEngine(config).engine_kwargs()
    argv = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--host",
        host,
        "--port",
        str(port),
        "--served-model-name",
        served_name,
    ]
    for key, value in kwargs.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False or value is None:
            continue
        else:
            argv += [flag, json.dumps(value) if isinstance(value, dict) else str(value)]
    for name, path in config.adapters.items():
        argv += ["--lora-modules", f"{name}={path}"]
    return argv


def serve_hf(
    config: Any, *, host: str, port: int, served_name: str, stop: threading.Event | None = None
) -> int:
    """Load the transformers engine, serve it until SIGINT/SIGTERM (or ``stop``), then close it."""
    from evalsuite.engines.base import engines
    from evalsuite.openai_server import EngineServer

    engine = engines.get("hf")(config)
    t0 = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - t0
    card = {"root": str(config.model), "parent": ",".join(config.adapters.values()) or None}
    server = EngineServer(
        engine,
        model_name=served_name,
        host=host,
        port=port,
        seed=config.seed,
        card={k: v for k, v in card.items() if v},
    ).start()
    stop = stop or threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(
        f"evalsuite serve: hf engine loaded {config.model} in {load_s:.1f}s; ready at {server.url}\n"
        f"  evaluate with: pytest --api-url {server.url} [options]   (Ctrl-C stops the server)",
        flush=True,
    )
    try:
        while not stop.wait(timeout=0.5):
            pass
    finally:
        server.stop()
        engine.close()
    return 0


def main(argv: Sequence[str]) -> int:
    """``evalsuite serve``: see ``build_parser``."""
    import pytest

    from evalsuite.engines.base import EngineConfigError
    from evalsuite.settings import default_engine

    args = build_parser().parse_args(list(argv))
    try:
        config = engine_config(args)
        engine = args.engine or default_engine()
        served_name = args.served_model_name or Path(str(config.model).rstrip("/")).name
        if args.host not in LOOPBACK:
            print(
                f"evalsuite serve: listening on {args.host}, beyond this machine, without authentication",
                file=sys.stderr,
            )
        if engine == "vllm":
            command = vllm_command(config, host=args.host, port=args.port, served_name=served_name)
            print("evalsuite serve: exec " + " ".join(command), flush=True)
            os.execv(command[0], command)
        return serve_hf(config, host=args.host, port=args.port, served_name=served_name)
    except (ValueError, EngineConfigError, OSError, pytest.UsageError) as exc:
        print(f"evalsuite serve: {exc}", file=sys.stderr)
        return 2
