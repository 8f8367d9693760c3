"""GPQA-Diamond from the user's own copy of the official CSV (its authors ask that it not be republished).

Each question's four options are shuffled with a per-item seed derived from ``options.seed`` and the
record id, so the order is stable across runs and independent of item order. With
``extra["choice_rotations"] = K`` every question is asked K times (ids ``.../rot0`` .. ``rotK-1``):
rotation ``k`` takes the seeded order number ``k // 4`` and rotates it by ``k % 4`` places, so K=4
puts the correct answer once under each letter. Every item has a ``gold_position`` group, so reports
show accuracy by the correct letter (a model that favours "D" shows up there).

The prompt is simple-evals' (also lighteval's ``gpqa:diamond``): the answer is read from the last
line ``Answer: $LETTER``; with ``--template evalscope`` it is EvalScope's (a boxed letter).
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Iterator
from pathlib import Path

from evalsuite.benchmarks.base import (
    BenchmarkData,
    BenchmarkError,
    LoadOptions,
    hash_bytes,
    register_benchmark,
)
from evalsuite.benchmarks.jsonl import Loaded, Record, decode_utf8
from evalsuite.benchmarks.prompts import evalscope_gpqa_prompt, task_messages
from evalsuite.benchmarks.sources import (
    extra_int,
    finish,
    load_records,
    make_item,
    records_from_datasets,
    slug,
    template_of,
)
from evalsuite.types import Item

VERSION = "1"
FILES = ("gpqa_diamond.csv", "gpqa/gpqa_diamond.csv", "dataset/gpqa_diamond.csv")
HUB_ID = "Idavidrein/gpqa"
LETTERS = "ABCD"
OPTION_COLUMNS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
REQUIRED_COLUMNS = ("Question", *OPTION_COLUMNS)

QUERY_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be of the "
    "following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by "
    "step before answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)


def read_csv(path: Path) -> Loaded:
    """Rows of the official GPQA CSV as records (line numbers count physical lines; fields may span lines)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BenchmarkError(f"{path}: cannot read ({exc.strerror}); check the path") from None
    text = decode_utf8(raw, str(path))
    if not text.strip():
        raise BenchmarkError(f"{path}: empty file; expected the GPQA CSV with a header row")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BenchmarkError(
            f"{path}:1: missing column(s) {', '.join(map(repr, missing))} (header has: {', '.join(header)}); "
            "use the official gpqa_diamond.csv"
        )
    records = []
    start = reader.line_num + 1
    try:
        for row in reader:
            records.append(Record(str(path), start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise BenchmarkError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if not records:
        raise BenchmarkError(f"{path}: no rows after the header")
    return Loaded(tuple(records), hash_bytes([raw]), str(path))


def permutation(seed: int, record_id: str, rotation: int = 0) -> list[int]:
    """Displayed order: ``perm[i]`` is the index (0 = correct) of the option shown under letter ``i``."""
    base = random.Random(f"gpqa/{seed}/{record_id}/{rotation // 4}").sample(range(4), 4)
    shift = rotation % 4
    return base[shift:] + base[:shift]


def _record_id(record: Record, question: str) -> str:
    rid = str(record.get("Record ID") or "").strip()
    return rid or "q" + hashlib.sha256(question.encode()).hexdigest()[:10]


@register_benchmark("gpqa_diamond")
def load_gpqa_diamond(options: LoadOptions) -> BenchmarkData:
    """GPQA-Diamond: 198 four-option questions, verifier ``choice``, gold = the letter."""
    template = template_of(options)
    rotations = extra_int(options, "choice_rotations", 1, minimum=1)
    loaded = load_records(
        "gpqa_diamond",
        options,
        FILES,
        read=read_csv,
        hub_id=f"{HUB_ID} (gpqa_diamond)",
        hub=lambda: records_from_datasets(HUB_ID, name="gpqa_diamond", split="train"),
    )

    def items() -> Iterator[tuple[Record, Item]]:
        for record in loaded.records:
            question = record.text("Question").strip()
            options_text = [record.text(c).strip() for c in OPTION_COLUMNS]
            rid = _record_id(record, question)
            domain = slug(record.get("High-level domain") or "unknown")
            subdomain = slug(record.get("Subdomain") or "unknown")
            for k in range(rotations):
                perm = permutation(options.seed, rid, k)
                shown = [options_text[i] for i in perm]
                gold = LETTERS[perm.index(0)]
                if template == "evalscope":  # EvalScope's own wording; every other template: simple-evals'
                    prompt = evalscope_gpqa_prompt(question, shown)
                else:
                    prompt = QUERY_TEMPLATE.format(question=question, **dict(zip(LETTERS, shown, strict=True)))
                item_id = f"{domain}/{rid}" + (f"/rot{k}" if rotations > 1 else "")
                meta = {
                    "record_id": rid,
                    "rotation": k,
                    "permutation": perm,
                    "choices": shown,
                    "correct_answer": options_text[0],
                    "subdomain": record.get("Subdomain"),
                }
                messages = task_messages(prompt, template=template, system_prompt=options.system_prompt)
                groups = {"domain": domain, "subdomain": subdomain, "gold_position": gold}
                yield (
                    record,
                    make_item(
                        "gpqa_diamond",
                        item_id,
                        messages,
                        gold=gold,
                        verifier="choice",
                        groups=groups,
                        meta=meta,
                        options=options,
                        template=template,
                    ),
                )

    return finish("gpqa_diamond", VERSION, items(), loaded, template)
