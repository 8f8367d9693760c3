"""Check that vLLM loads the tiny checkpoint and agrees with transformers on the built-in benchmark.

    VLLM_CPU_KVCACHE_SPACE=1 python -m evalsuite.tiny.check_vllm fixtures/models/tiny-r1 [--compare-hf]

Prints the load time, the greedy pass rate, generated tokens per second and (with ``--compare-hf``)
the transformers pass rate and the number of items whose outputs differ.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from evalsuite.tiny.reference import MAX_NEW_TOKENS, ItemResult, builtin_prompts, cut_at_eos, pass_rates
from evalsuite.verify.math import verify_math


def vllm_greedy_results(
    model_dir: Path, *, enforce_eager: bool = True
) -> tuple[list[ItemResult], dict[str, float]]:
    """Greedy-decode all built-in items with ``vllm.LLM``; returns results and timings."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    t0 = time.perf_counter()
    llm = LLM(
        model=str(model_dir),
        dtype="float32",
        gpu_memory_utilization=0.3,
        enforce_eager=enforce_eager,
        seed=0,
        max_model_len=1024,
    )
    load_s = time.perf_counter() - t0
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = builtin_prompts(tokenizer)
    params = SamplingParams(temperature=0.0, max_tokens=MAX_NEW_TOKENS, skip_special_tokens=False)
    t1 = time.perf_counter()
    outs = llm.generate([p for _, _, p, _ in rows], params)
    gen_s = time.perf_counter() - t1
    n_tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    results = []
    for (task, level, _, gold), o in zip(rows, outs, strict=True):
        text = cut_at_eos(o.outputs[0].text, tokenizer.eos_token)
        results.append(ItemResult(task, level, verify_math(text, gold).correct, text))
    return results, {"load_s": load_s, "gen_s": gen_s, "tokens": n_tokens, "tokens_per_s": n_tokens / gen_s}


def main() -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", type=Path)
    p.add_argument(
        "--compare-hf", action="store_true", help="Also run transformers and compare (default off)."
    )
    p.add_argument(
        "--no-enforce-eager", action="store_true", help="Let vLLM compile (default: enforce_eager)."
    )
    args = p.parse_args()
    results, timing = vllm_greedy_results(args.model_dir, enforce_eager=not args.no_enforce_eager)
    rates = pass_rates(results)
    print(
        f"vLLM: load {timing['load_s']:.1f}s, generate {timing['gen_s']:.1f}s, {timing['tokens']} tokens,"
        f" {timing['tokens_per_s']:.0f} tokens/s; pass rate {rates['all']:.3f}",
        flush=True,
    )
    print({k: round(v, 2) for k, v in sorted(rates.items()) if "/" not in k}, flush=True)
    if args.compare_hf:
        from evalsuite.tiny.reference import hf_greedy_results

        hf = hf_greedy_results(args.model_dir)
        differ = sum(a.output != b.output for a, b in zip(results, hf, strict=True))
        print(f"transformers: pass rate {pass_rates(hf)['all']:.3f}; {differ}/300 outputs differ", flush=True)


if __name__ == "__main__":
    main()
