"""``python -m evalsuite.tiny --out fixtures/models/tiny-r1``: build, train, save and evaluate the tiny model."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from evalsuite.tiny import DEFAULT_OUT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults are the ones the shipped checkpoint was made with)."""
    from evalsuite.tiny.train import TrainConfig

    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m evalsuite.tiny", description=__doc__)
    p.add_argument(
        "--out", type=Path, default=Path(DEFAULT_OUT), help=f"Output directory (default {DEFAULT_OUT})."
    )
    p.add_argument("--seed", type=int, default=d.seed, help=f"Seed of data and weights (default {d.seed}).")
    p.add_argument("--steps", type=int, default=d.steps, help=f"Optimizer steps (default {d.steps}).")
    p.add_argument(
        "--minutes", type=float, default=None, help="Stop training after this many minutes (default: no cap)."
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads, fixed for determinism (default 1).")
    p.add_argument("--vocab-size", type=int, default=1024, help="BPE vocabulary cap (default 1024).")
    p.add_argument("--no-eval", action="store_true", help="Skip the 300-item greedy evaluation.")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the tokenizer, train the model, save both in HF format, evaluate and write the model card."""
    args = parse_args(argv)
    import tokenizers
    import torch
    import transformers
    from transformers import GenerationConfig

    from evalsuite.benchmarks.builtin import LEVELS, TASKS
    from evalsuite.tiny.card import write_model_card
    from evalsuite.tiny.data import iter_examples
    from evalsuite.tiny.reference import hf_greedy_results, pass_rates, rates_table
    from evalsuite.tiny.tokenizer import IM_END, save_hf_tokenizer, train_tokenizer
    from evalsuite.tiny.train import TrainConfig, build_model, train

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    cfg = TrainConfig(seed=args.seed, steps=args.steps, max_minutes=args.minutes)

    corpus = (e.prompt + e.completion for e in itertools.islice(iter_examples(args.seed + 1), 5000))
    tok = train_tokenizer(corpus, vocab_size=args.vocab_size)
    save_hf_tokenizer(tok, args.out)
    eos_id = tok.token_to_id(IM_END)
    print(f"tokenizer: {tok.get_vocab_size()} tokens -> {args.out}", flush=True)

    model = build_model(cfg, tok.get_vocab_size(), eos_id=eos_id)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters", flush=True)
    stats = train(
        model,
        iter_examples(args.seed),
        lambda s: tok.encode(s).ids,
        cfg,
        pad_id=eos_id,
        log=lambda m: print(m, flush=True),
    )
    model.generation_config = GenerationConfig(
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id, do_sample=False
    )
    model.save_pretrained(args.out, safe_serialization=True)

    rates = None
    if not args.no_eval:
        rates = pass_rates(hf_greedy_results(args.out))
        print(rates_table(rates, TASKS, LEVELS), flush=True)
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }
    command = "python -m evalsuite.tiny " + " ".join(sys.argv[1:] if argv is None else argv)
    write_model_card(
        args.out,
        cfg=cfg,
        command=command,
        n_params=n_params,
        vocab_size=tok.get_vocab_size(),
        train_stats=stats,
        rates=rates,
        versions=versions,
        threads=args.threads,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
