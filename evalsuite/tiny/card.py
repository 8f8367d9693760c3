"""The model card (README.md) written next to the tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

from evalsuite.benchmarks.builtin import LEVELS, TASKS, VERSION
from evalsuite.tiny.data import PROMPT_STYLES
from evalsuite.tiny.reference import rates_table
from evalsuite.tiny.train import TrainConfig


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.name != "README.md")


def write_model_card(
    out: Path,
    *,
    cfg: TrainConfig,
    command: str,
    n_params: int,
    vocab_size: int,
    train_stats: dict[str, float],
    rates: dict[str, float] | None,
    versions: dict[str, str],
    threads: int,
) -> None:
    """Write ``out/README.md``: how the checkpoint was made and its greedy pass rates."""
    size_mb = _dir_size(out) / 1e6
    complete = train_stats["steps_done"] == cfg.steps
    lines = [
        "# tiny-r1: the embedded default checkpoint",
        "",
        "A ~1M-parameter `Qwen2ForCausalLM` (the architecture of DeepSeek-R1-Distill-Qwen) trained from",
        "scratch on CPU to answer the built-in benchmark's questions like a reasoning model:",
        "`<think>` + column-by-column arithmetic + `</think>` + `The answer is \\boxed{N}.`",
        "It exists so that the suite can be run and tested offline with a real engine",
        "(transformers or vLLM) and get graded, non-trivial scores. It knows nothing else.",
        "",
        "## How it was made",
        "",
        f"    {command}",
        "",
        f"- code: `evalsuite/tiny/` (tokenizer.py, data.py, train.py); seed {cfg.seed},"
        f" {train_stats['steps_done']}/{cfg.steps} steps of batch {cfg.batch_size},"
        f" AdamW lr {cfg.lr} (warm-up {cfg.warmup}, cosine to 10%), final loss {train_stats['final_loss']:.4f}",
        f"- training time: {train_stats['seconds'] / 60:.1f} min on CPU with {threads} torch thread(s)"
        " (deterministic for a given thread count and CPU; the build machine was shared and busy)"
        + ("" if complete else " -- STOPPED EARLY by --minutes, not reproducible"),
        f"- model: {cfg.num_layers} layers, hidden {cfg.hidden_size}, {cfg.num_heads} heads x head_dim"
        f" {cfg.hidden_size // cfg.num_heads}, {cfg.num_heads} KV heads, MLP {cfg.intermediate_size},"
        f" tied embeddings, max positions 1024, float32; {n_params:,} parameters; {size_mb:.1f} MB on disk",
        f"- tokenizer: byte-level BPE, {vocab_size} tokens, one token per digit; `<|im_end|>` is eos and pad;"
        " ChatML chat template (Qwen style) in tokenizer_config.json",
        "- data: questions from `evalsuite.benchmarks.builtin.make_problem` drawn with a seed of its own;"
        " every question of the benchmark itself is excluded. Prompt styles: "
        + ", ".join(f"{k} {v:.0%}" for k, v in PROMPT_STYLES.items())
        + " (`r1-raw` is `completion_prompt(..., template='r1')`, for completion-mode engines);"
        " loss on the completion only.",
        f"- versions: {', '.join(f'{k} {v}' for k, v in versions.items())}",
        "",
    ]
    if rates is not None:
        lines += [
            f"## Greedy pass rate on the built-in benchmark (v{VERSION}, r1 template, transformers)",
            "",
            rates_table(rates, TASKS, LEVELS),
            "",
            f"Overall: **{rates['all']:.3f}** on 300 items (temperature 0, max_new_tokens 160).",
            "",
        ]
    (out / "README.md").write_text("\n".join(lines))
