"""``evalsuite perf`` vs EvalScope's ``evalscope perf`` on the same vLLM server, prompts and levels.

    python benchmarks/perf_vs_evalscope.py [--parallel 1,8,32,128] [--max-tokens 128] [--out DIR]

Installs ``evalscope`` into its own virtualenv (``--venv``, default /tmp/evalscope-venv, made with
``--system-site-packages`` so torch and vLLM are reused, never touched) and prints "skipped" and
exits 0 when it cannot. Starts the shipped tiny model on a loopback vLLM OpenAI server (seeded
engine; ``--api-url`` uses a running one instead) and stops it at the end. Both tools get the same
prompts (the built-in benchmark's rendered prompts, one JSON line each), the same concurrency
levels, requests, warm-up and ``--max-tokens`` with ``ignore_eos``; they run one after the other at
each level, the order alternating between levels.

Each tool runs each level twice: straight to the server (the timings reported), then through
``inflight_proxy.py``, a loopback proxy that counts the requests actually in flight (peak and
time-weighted mean over the run). The proxy is kept off the timed runs because on a small machine
its own CPU use would slow the server it shares cores with.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = ROOT / "fixtures" / "models" / "tiny-r1"


def evalscope_binary(venv: Path) -> Path | None:
    """The venv's ``evalscope`` script, installing it first if needed; ``None`` when that fails."""
    binary = venv / "bin" / "evalscope"
    if binary.exists():
        return binary
    try:
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "evalscope"], check=True, timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"skipped: cannot install evalscope into {venv}: {exc}")
        return None
    return binary if binary.exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_vllm(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A loopback vLLM server of the tiny model (seeded engine); its process and base URL."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(TINY_MODEL),
        "--dtype", "float32", "--max-model-len", "1024", "--enforce-eager", "--seed", "0",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"vLLM exited with {proc.returncode}; log: {log}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop(proc)
    raise SystemExit(f"vLLM not up after 900 s; log: {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL after 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class Proxy:
    """``inflight_proxy.py`` in a subprocess in front of ``upstream``."""

    def __init__(self, upstream: str) -> None:
        port = free_port()
        script = Path(__file__).with_name("inflight_proxy.py")
        cmd = [sys.executable, str(script), "--port", str(port), "--upstream", upstream.removesuffix("/v1")]
        self.proc = subprocess.Popen(cmd, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}/v1"
        self._stats = f"http://127.0.0.1:{port}/__inflight"
        for _ in range(100):
            try:
                httpx.get(self._stats, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("the in-flight proxy did not start")

    def reset(self) -> None:
        httpx.post(self._stats, timeout=5)

    def summary(self) -> dict[str, float]:
        return httpx.get(self._stats, timeout=5).json()


def write_prompts(path: Path) -> int:
    """The built-in benchmark's prompts as the tiny model sees them (R1 template), one JSON object a line."""
    sys.path.insert(0, str(ROOT))
    from evalsuite.perf.prompts import dataset_sources

    prompts = [s.prompt().text for s in dataset_sources("builtin")]
    path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    return len(prompts)


def run_ours(
    url: str, prompts: Path, parallel: int, requests: int, warmup: int, args: argparse.Namespace, out: Path
) -> dict:
    cmd = [
        sys.executable, "-m", "evalsuite.perf", "--api-url", url, "--api-mode", "completion", "--dataset", str(prompts),
        "--parallel", str(parallel), "--requests", str(requests), "--warmup", str(warmup),
        "--max-tokens", str(args.max_tokens), "--ignore-eos", "on", "--json", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1) or not out.exists():  # 1: some requests failed, figures still written
        raise RuntimeError(
            f"evalsuite perf failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    level = json.loads(out.read_text())["levels"][0]

    def ms(key: str, field: str = "p50") -> float | None:
        return None if level[key] is None else 1000 * level[key][field]

    return {
        "ok": level["completed"], "failed": level["failed"], "wall_s": level["wall_s"],
        "req_s": level["request_throughput"], "out_tok_s": level["output_throughput"],
        "ttft_ms": ms("ttft_s"), "ttft_p99_ms": ms("ttft_s", "p99"), "tpot_ms": ms("tpot_s"),
        "itl_ms": ms("itl_s"), "latency_ms": ms("latency_s"), "client_in_flight_max": level["peak_in_flight"],
    }  # fmt: skip


def run_evalscope(
    binary: Path,
    url: str,
    model: str,
    prompts: Path,
    parallel: int,
    requests: int,
    warmup: int,
    args: argparse.Namespace,
    out: Path,
) -> dict:
    cmd = [
        str(binary), "perf", "--url", f"{url}/completions", "--api", "openai", "--model", model,
        "--parallel", str(parallel), "--number", str(requests), "--warmup-num", str(warmup),
        "--max-tokens", str(args.max_tokens), "--extra-args", json.dumps({"ignore_eos": True}),
        "--dataset", "line_by_line", "--dataset-path", str(prompts), "--stream", "--temperature", "0",
        "--outputs-dir", str(out), "--no-timestamp", "--name", f"p{parallel}",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=out.parent, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"evalscope failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    summary = next(out.rglob("benchmark_summary.json"), None)
    percentiles = next(out.rglob("benchmark_percentile.json"), None)
    if summary is None or percentiles is None:
        raise RuntimeError(f"no benchmark_summary.json under {out}:\n{done.stdout[-2000:]}")
    s = json.loads(summary.read_text())
    rows = {row["Percentiles"]: row for row in json.loads(percentiles.read_text())}
    p50, p99 = rows["50%"], rows["99%"]
    return {
        "ok": s["Success Requests"], "failed": s["Failed Requests"], "wall_s": s["Test Duration (s)"],
        "req_s": s["Req Throughput (req/s)"], "out_tok_s": s["Output Throughput (tok/s)"],
        "ttft_ms": p50["TTFT (ms)"], "ttft_p99_ms": p99["TTFT (ms)"], "tpot_ms": p50["TPOT (ms)"],
        "itl_ms": p50["ITL (ms)"], "latency_ms": 1000 * p50["Latency (s)"], "client_in_flight_max": None,
    }  # fmt: skip


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", default="1,8,32,128", help="Concurrency levels (default: 1,8,32,128)")
    parser.add_argument(
        "--requests-per-slot", type=int, default=4, help="Requests per level = this x parallel, at least 16"
    )
    parser.add_argument("--max-tokens", type=int, default=128, help="Output tokens per request (ignore_eos)")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/evalscope-venv"))
    parser.add_argument("--api-url", help="Use this running vLLM server instead of starting one")
    parser.add_argument("--out", type=Path, default=Path("/tmp/perf-vs-evalscope"))
    args = parser.parse_args(argv)
    binary = evalscope_binary(args.venv)
    if binary is None:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    prompts = args.out / "prompts.jsonl"
    print(f"{write_prompts(prompts)} prompts in {prompts}")
    proc = proxy = None
    if args.api_url:
        url = args.api_url.rstrip("/")
    else:
        proc, url = start_vllm(args.out / "vllm.log")
    try:
        model = httpx.get(f"{url}/models", timeout=10).json()["data"][0]["id"]
        proxy = Proxy(url)
        rows = []
        for index, parallel in enumerate(int(p) for p in args.parallel.split(",")):
            requests = max(16, args.requests_per_slot * parallel)
            tools = ["evalsuite", "evalscope"][:: 1 if index % 2 == 0 else -1]
            for tool in tools:
                runs = []
                # Timed runs warm up with `parallel` requests; counted runs send none, so that the
                # proxy's span holds exactly the measured requests of both tools.
                for via, base, warmup in (("direct", url, parallel), ("proxy", proxy.url, 0)):
                    proxy.reset()
                    out = args.out / f"{tool}-{parallel}-{via}"
                    if tool == "evalsuite":
                        json_out = out.with_suffix(".json")
                        runs.append(run_ours(base, prompts, parallel, requests, warmup, args, json_out))
                    else:
                        runs.append(
                            run_evalscope(binary, base, model, prompts, parallel, requests, warmup, args, out)
                        )
                counted = proxy.summary()
                at_parallel = sum(t for n, t in counted["seconds_at"].items() if int(n) >= parallel)
                row = {
                    **runs[0], "tool": tool, "parallel": parallel, "requests": requests,
                    "proxy_peak": counted["peak"], "proxy_mean": counted["mean"],
                    "proxy_out_tok_s": runs[1]["out_tok_s"],
                    "proxy_share_at_parallel": at_parallel / counted["span_s"] if counted["span_s"] else 0.0,
                    "proxy_seconds_at": counted["seconds_at"],
                    "proxy_requests": counted["requests"],
                }  # fmt: skip
                rows.append(row)
                print(
                    f"{tool:>9} p={parallel:<4} ok {fmt(row['ok'], '.0f')} failed {fmt(row['failed'], '.0f')} "
                    f"| {fmt(row['out_tok_s'])} tok/s {fmt(row['req_s'], '.2f')} req/s | TTFT p50 {fmt(row['ttft_ms'])} "
                    f"p99 {fmt(row['ttft_p99_ms'])} ms TPOT {fmt(row['tpot_ms'], '.2f')} ms ITL {fmt(row['itl_ms'], '.2f')} ms "
                    f"latency {fmt(row['latency_ms'])} ms | in flight (proxy) peak {row['proxy_peak']} "
                    f"mean {row['proxy_mean']:.1f}, {100 * row['proxy_share_at_parallel']:.0f}% of the time at {parallel}, "
                    f"{row['proxy_requests']} requests",
                    flush=True,
                )
        (args.out / "comparison.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
        print(f"wrote {args.out / 'comparison.json'}")
    finally:
        if proxy is not None:
            stop(proxy.proc)
        if proc is not None:
            stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
