"""``python -m evalsuite.tiny.lora``: a seeded LoRA fine-tune of tiny-r1 that measurably changes it.

The adapter continues training on the same trace format, but only on the cells where the base model
is weak (``add`` and ``sub`` at levels 2-3), with a data seed of its own and the benchmark's questions
excluded. It exists to exercise ``--adapter`` (peft in the hf engine, LoRARequest in vLLM) and the
base-vs-fine-tuned merge gate on a checkpoint whose two sides really differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalsuite.tiny.data import Example, iter_examples

DEFAULT_BASE = "fixtures/models/tiny-r1"
DEFAULT_OUT = "fixtures/adapters/tiny-r1-lora"
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Every linear layer of a Qwen2 decoder block (embeddings and the tied head stay frozen)."""


@dataclass(frozen=True)
class LoraConfig:
    """What decides the adapter's weights."""

    seed: int = 1
    """Seeds torch (LoRA init) and the example stream (``iter_examples(seed + 1000)``)."""
    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 32
    """Examples per step."""
    lr: float = 2e-3
    """Peak AdamW learning rate (linear warm-up, cosine decay to 10%)."""
    warmup: int = 15
    """Warm-up steps."""
    r: int = 8
    """LoRA rank."""
    alpha: int = 16
    """LoRA alpha (scale = alpha / r)."""
    tasks: tuple[str, ...] = ("add", "sub")
    """Built-in tasks trained on."""
    levels: tuple[int, ...] = (2, 3)
    """Built-in levels trained on."""


def focused_examples(cfg: LoraConfig) -> Iterator[Example]:
    """The tiny model's training stream with a fresh seed, kept to ``cfg.tasks`` x ``cfg.levels``."""
    return (e for e in iter_examples(cfg.seed + 1000) if e.task in cfg.tasks and e.level in cfg.levels)


def train_adapter(base: Path, out: Path, cfg: LoraConfig, *, log=print) -> dict[str, float]:
    """Wrap ``base`` in a fresh LoRA, train it on :func:`focused_examples`, save it to ``out``."""
    import torch
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalsuite.tiny.train import TrainConfig, train

    torch.manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft_cfg = PeftLoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=0.0,
        target_modules=list(TARGET_MODULES),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, peft_cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"LoRA r={cfg.r}: {trainable:,} trainable parameters")
    # The base loop is reused as is: frozen weights get no gradient, so AdamW leaves them alone.
    train_cfg = TrainConfig(
        seed=cfg.seed,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        warmup=cfg.warmup,
        weight_decay=0.0,
    )
    stats = train(
        model,
        focused_examples(cfg),
        lambda s: tok(s, add_special_tokens=False)["input_ids"],
        train_cfg,
        pad_id=tok.pad_token_id,
        log=log,
    )
    model.save_pretrained(out, safe_serialization=True)
    stats["trainable_params"] = trainable
    return stats


def adapter_greedy_results(base: Path, adapter: Path | None):
    """:func:`evalsuite.tiny.reference.hf_greedy_results` with ``adapter`` applied through peft."""
    from evalsuite.tiny.reference import hf_greedy_results

    return hf_greedy_results(base, adapter=adapter)


def vllm_greedy_results(base: Path, adapter: Path, *, max_lora_rank: int = 8):
    """Greedy-decode the built-in items with ``vllm.LLM`` twice (base, then ``adapter`` through ``LoRARequest``).

    Returns (base results, adapter results, load seconds). Call it from a ``__main__``-guarded script:
    vLLM starts worker processes that re-import the main module.
    """
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    from evalsuite.tiny.reference import MAX_NEW_TOKENS, ItemResult, builtin_prompts, cut_at_eos
    from evalsuite.verify.math import verify_math

    t0 = time.perf_counter()
    llm = LLM(
        model=str(base),
        enable_lora=True,
        max_lora_rank=max_lora_rank,
        dtype="float32",
        enforce_eager=True,
        compilation_config={"mode": 0},
        gpu_memory_utilization=0.3,
        seed=0,
        max_model_len=1024,
    )
    load_s = time.perf_counter() - t0
    tokenizer = AutoTokenizer.from_pretrained(base)
    rows = builtin_prompts(tokenizer)
    params = SamplingParams(temperature=0.0, max_tokens=MAX_NEW_TOKENS, skip_special_tokens=False)
    runs = []
    for lora in (None, LoRARequest("tiny-r1-lora", 1, str(adapter))):
        outs = llm.generate([p for _, _, p, _ in rows], params, lora_request=lora)
        results = []
        for (task, level, _, gold), o in zip(rows, outs, strict=True):
            text = cut_at_eos(o.outputs[0].text, tokenizer.eos_token)
            results.append(ItemResult(task, level, verify_math(text, gold).correct, text))
        runs.append(results)
    return runs[0], runs[1], load_s


def write_card(
    out: Path, *, cfg: LoraConfig, command: str, stats: dict, base_rates, lora_rates, versions
) -> None:
    """README.md of the adapter: how it was made and its measured effect."""
    from evalsuite.benchmarks.builtin import LEVELS, TASKS
    from evalsuite.tiny.reference import rates_table

    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file() and f.name != "README.md")
    lines = [
        "# tiny-r1-lora: a LoRA adapter for tiny-r1",
        "",
        "A peft LoRA adapter on `fixtures/models/tiny-r1` that changes its behaviour measurably, so the",
        "`--adapter` path (peft in `--engine hf`, `LoRARequest` in `--engine vllm`) and the base-vs-fine-tuned",
        "merge gate can be tested on two checkpoints that really differ.",
        "",
        "## How it was made",
        "",
        f"    {command}",
        "",
        f"- code: `evalsuite/tiny/lora.py`; seed {cfg.seed} (torch and LoRA init), data seed {cfg.seed + 1000}",
        f"- LoRA r={cfg.r}, alpha={cfg.alpha}, dropout 0, on {', '.join(TARGET_MODULES)};"
        f" {int(stats['trainable_params']):,} trainable parameters; {size / 1e3:.0f} kB on disk",
        f"- data: the tiny model's trace format (`evalsuite/tiny/data.py`), kept to tasks {', '.join(cfg.tasks)}"
        f" at levels {', '.join(map(str, cfg.levels))}; benchmark questions excluded",
        f"- {int(stats['steps_done'])}/{cfg.steps} steps of batch {cfg.batch_size}, AdamW lr {cfg.lr}"
        f" (warm-up {cfg.warmup}, cosine to 10%), final loss {stats['final_loss']:.4f}",
        f"- training time: {stats['seconds'] / 60:.1f} min on CPU, 1 torch thread (shared, busy machine)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]
    if base_rates is not None:
        lines += [
            "",
            "## Greedy pass rate on the built-in benchmark (r1 template, transformers + peft, max_new_tokens 160)",
            "",
            f"Overall: base **{base_rates['all']:.3f}**, with the adapter **{lora_rates['all']:.3f}** (300 items).",
            "",
            "Base (tiny-r1):",
            "",
            rates_table(base_rates, TASKS, LEVELS),
            "",
            "With the adapter:",
            "",
            rates_table(lora_rates, TASKS, LEVELS),
        ]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults are the ones the shipped adapter was made with)."""
    d = LoraConfig()
    p = argparse.ArgumentParser(prog="python -m evalsuite.tiny.lora", description=__doc__)
    p.add_argument(
        "--base", type=Path, default=Path(DEFAULT_BASE), help=f"Base model (default {DEFAULT_BASE})."
    )
    p.add_argument(
        "--out", type=Path, default=Path(DEFAULT_OUT), help=f"Output directory (default {DEFAULT_OUT})."
    )
    p.add_argument("--seed", type=int, default=d.seed, help=f"Seed (default {d.seed}).")
    p.add_argument("--steps", type=int, default=d.steps, help=f"Optimizer steps (default {d.steps}).")
    p.add_argument("--threads", type=int, default=1, help="torch threads, fixed for determinism (default 1).")
    p.add_argument("--no-eval", action="store_true", help="Skip the base-vs-adapter 300-item evaluation.")
    p.add_argument(
        "--check-vllm",
        action="store_true",
        help="Train nothing: evaluate base and --out adapter with vLLM and compare with peft (default off).",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Train and save the adapter, evaluate base and adapter, write the README."""
    args = parse_args(argv)
    import peft
    import torch
    import transformers

    from evalsuite.benchmarks.builtin import LEVELS, TASKS
    from evalsuite.tiny.reference import pass_rates, rates_table

    if args.check_vllm:
        return check_vllm(args.base, args.out)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    cfg = LoraConfig(seed=args.seed, steps=args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    stats = train_adapter(args.base, args.out, cfg, log=lambda m: print(m, flush=True))
    base_rates = lora_rates = None
    if not args.no_eval:
        t0 = time.perf_counter()
        base_rates = pass_rates(adapter_greedy_results(args.base, None))
        lora_rates = pass_rates(adapter_greedy_results(args.base, args.out))
        print(f"evaluated base and adapter in {time.perf_counter() - t0:.0f}s", flush=True)
        print("base:\n" + rates_table(base_rates, TASKS, LEVELS), flush=True)
        print("adapter:\n" + rates_table(lora_rates, TASKS, LEVELS), flush=True)
        (args.out / "rates.json").write_text(
            json.dumps({"base": base_rates, "adapter": lora_rates}, indent=1)
        )
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }
    command = "python -m evalsuite.tiny.lora " + " ".join(sys.argv[1:] if argv is None else argv)
    write_card(
        args.out,
        cfg=cfg,
        command=command,
        stats=stats,
        base_rates=base_rates,
        lora_rates=lora_rates,
        versions=versions,
    )
    return 0


def check_vllm(base: Path, adapter: Path) -> int:
    """Print vLLM's base and adapter pass rates next to peft's (from ``rates.json``); 1 if they disagree by > 5 points."""
    from evalsuite.tiny.reference import pass_rates

    base_res, lora_res, load_s = vllm_greedy_results(base, adapter)
    vl = {"base": pass_rates(base_res), "adapter": pass_rates(lora_res)}
    hf = json.loads((adapter / "rates.json").read_text())
    keys = ["all", "add", "sub", "level1", "level2", "level3"]
    section = [
        "## Checked with vLLM (measured separately, not rewritten by training)",
        "",
        f"    VLLM_CPU_KVCACHE_SPACE=1 python -m evalsuite.tiny.lora --base {base} --out {adapter} --check-vllm",
        "",
        f"`LLM(enable_lora=True, max_lora_rank=8, dtype='float32', enforce_eager=True, compilation_config={{'mode': 0}})`"
        f" loaded in {load_s:.1f}s; greedy, max_tokens 160, adapter through `LoRARequest`. Pass rates, vLLM / peft:",
        "",
        "| side | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    worst = 0.0
    for side in ("base", "adapter"):
        section.append(
            f"| {side} | " + " | ".join(f"{vl[side][k]:.3f} / {hf[side][k]:.3f}" for k in keys) + " |"
        )
        worst = max(worst, abs(vl[side]["all"] - hf[side]["all"]))
    differ = sum(
        a.output != b.output for a, b in zip(lora_res, adapter_greedy_results(base, adapter), strict=True)
    )
    section += ["", f"Adapter outputs that differ from peft's: {differ}/300."]
    print(f"vLLM with enable_lora loaded in {load_s:.1f}s", *section[7:], sep="\n", flush=True)
    readme = adapter / "README.md"
    kept = readme.read_text().split("## Checked with vLLM")[0].rstrip("\n")
    readme.write_text(kept + "\n\n" + "\n".join(section) + "\n")
    return int(worst > 0.05)


if __name__ == "__main__":
    raise SystemExit(main())
