"""Prompt templates used by published evaluations of reasoning models.

A *template* decides how a benchmark's text becomes chat messages (which instruction goes in which
turn) and, for completion-mode engines, how those messages become one raw prompt string. The four
first four names follow InternBootcamp's ``run_eval.py`` (``r1``, ``qwen``, ``internthinker``, ``chatml``),
so a bootcamp score here is comparable with one from that script; ``lighteval`` and ``evalscope`` are
the prompts of those harnesses (``evalsuite.protocols`` names the sources).
"""

from __future__ import annotations

from collections.abc import Sequence

from evalsuite.types import Message

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

QWEN_DEFAULT_SYSTEM = "You are a helpful assistant."

INTERNTHINKER_SYSTEM = (
    "You are an expert reasoner with extensive experience in mathematical and code competitions. "
    "You approach problems through systematic thinking and rigorous reasoning. Your response should "
    "reflect deep understanding and precise logical thinking, making your solution path and reasoning "
    "clear to others. Please put your thinking process within <think>...</think> tags."
)

LIGHTEVAL_MATH = (
    "Solve the following math problem efficiently and clearly.  The last line of your response should be of the "
    "following format: 'Therefore, the final answer is: $\\boxed{{ANSWER}}$. I hope it is correct' (without "
    "quotes) where ANSWER is just the final number or expression that solves the problem. Think step by step "
    "before answering.\n\n{question}"
)
"""lighteval's MATH-500/AIME prompt (``default_prompts.math_500``/``aime_prompt_fn``, after simple-evals)."""

LIGHTEVAL_LCB_INTRO = (
    "You will be given a question (problem specification) and will generate a correct Python program that "
    "matches the specification and passes all tests.\n\n"
)
"""The opening of lighteval's ``lcb:codegeneration`` prompt (``extended/lcb/main.py: prepare_prompt``)."""

EVALSCOPE_GPQA_PREFIX = "What is the correct answer to this question:"
"""EvalScope's 0-shot GPQA question prefix (``benchmarks/gpqa/gpqa_adapter.py``)."""

TEMPLATES = ("r1", "qwen", "internthinker", "chatml", "lighteval", "evalscope", "raw")
"""``raw``: no chat template at all; the prompt is ``--prompt-format`` with ``{question}`` filled in."""

# DeepSeek-R1's raw prompt format (full-width bars and the U+2581 block are part of the tokens).
_R1_BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
_R1_USER = "<\uff5cUser\uff5c>"
_R1_ASSISTANT = "<\uff5cAssistant\uff5c>"

COMPLETION_STOP: dict[str, tuple[str, ...]] = {
    "r1": ("<\uff5cend\u2581of\u2581sentence\uff5c>",),
    "qwen": ("<|im_end|>", "<|endoftext|>"),
    "internthinker": ("<|im_end|>", "<|endoftext|>"),
    "chatml": ("<|im_end|>", "<|endoftext|>"),
    "lighteval": ("<|im_end|>", "<|endoftext|>"),
    "evalscope": ("<|im_end|>", "<|endoftext|>"),
}
"""Stop strings a completion-mode request needs with each template (the chat template's end of turn)."""


def _check(template: str) -> None:
    if template not in TEMPLATES:
        raise ValueError(f"unknown prompt template {template!r}; known: {', '.join(TEMPLATES)}")


def _with_system(msgs: list[Message], system_prompt: str | None) -> tuple[Message, ...]:
    if system_prompt is not None:
        msgs = [m for m in msgs if m.role != "system"]
        msgs.insert(0, Message("system", system_prompt))
    return tuple(msgs)


def math_messages(
    question: str, *, template: str = "r1", system_prompt: str | None = None
) -> tuple[Message, ...]:
    """Messages for a boxed-answer math question.

    ``r1``: the DeepSeek-R1 evaluation prompt (instruction appended to the user turn, no system).
    ``qwen``: the Qwen2.5-Math prompt (instruction as the system turn).
    ``internthinker``: InternThinker's system turn, instruction appended to the user turn.
    ``chatml``: the question alone.
    ``lighteval``: lighteval's MATH/AIME prompt as the user turn.
    ``evalscope``: EvalScope's (the ``r1`` prompt).
    """
    _check(template)
    if template == "lighteval":
        msgs = [Message("user", LIGHTEVAL_MATH.format(question=question))]
    elif template in ("r1", "evalscope"):
        msgs = [Message("user", f"{question}\n{BOXED_INSTRUCTION}")]
    elif template == "qwen":
        msgs = [Message("system", BOXED_INSTRUCTION), Message("user", question)]
    elif template == "internthinker":
        msgs = [Message("system", INTERNTHINKER_SYSTEM), Message("user", f"{question}\n{BOXED_INSTRUCTION}")]
    else:
        msgs = [Message("user", question)]
    return _with_system(msgs, system_prompt)


def task_messages(
    user_text: str,
    *,
    template: str = "r1",
    system: str | None = None,
    system_prompt: str | None = None,
) -> tuple[Message, ...]:
    """Messages for a prompt that already carries its own answer-format instruction.

    Args:
        user_text: The full user turn (question plus the benchmark's format instructions).
        template: ``r1`` puts everything in the user turn (DeepSeek-R1's usage advice: no system
            prompt), ``system`` first; ``qwen`` uses ``system`` (or Qwen's default) as the system
            turn; ``internthinker`` uses InternThinker's system turn and puts ``system`` in the user
            turn; ``chatml`` and ``lighteval`` send ``user_text`` alone; ``evalscope`` is ``r1``.
        system: The benchmark's own system message (e.g. LiveCodeBench's), if it has one.
        system_prompt: A user-supplied system prompt that replaces any system turn.
    """
    _check(template)
    prefixed = f"{system}\n\n{user_text}" if system else user_text
    if template in ("r1", "evalscope"):
        msgs = [Message("user", prefixed)]
    elif template == "qwen":
        msgs = [Message("system", system or QWEN_DEFAULT_SYSTEM), Message("user", user_text)]
    elif template == "internthinker":
        msgs = [Message("system", INTERNTHINKER_SYSTEM), Message("user", prefixed)]
    else:
        msgs = [Message("user", user_text)]
    return _with_system(msgs, system_prompt)


def lighteval_lcb_prompt(content: str, starter_code: str) -> str:
    """lighteval's LiveCodeBench code-generation prompt (its own wording, spacing included)."""
    query = f"{LIGHTEVAL_LCB_INTRO}Question: {content}\n\n"
    if starter_code:
        query += (
            "You will use the following starter code to write the solution to the problem and enclose your "
            f"code within delimiters.```python\n{starter_code}\n```\n\n"
        )
    else:
        query += (
            "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test "
            "on the sample inputs). Enclose your code within delimiters as follows.```python\n# YOUR CODE HERE\n```\n\n"
        )
    return query


def evalscope_gpqa_prompt(question: str, choices: Sequence[str]) -> str:
    """EvalScope's 0-shot GPQA prompt: prefix, question, ``Choices:`` as ``(A) ...``, the boxed instruction."""
    options = "".join(f"({letter}) {text}\n" for letter, text in zip("ABCD", choices, strict=True))
    return f"{EVALSCOPE_GPQA_PREFIX}{question}\nChoices:\n{options}\n{BOXED_INSTRUCTION}"


def completion_prompt(messages: Sequence[Message], *, template: str) -> str:
    """Render chat messages as one raw prompt for completion-mode APIs.

    ``r1`` gives DeepSeek-R1's format, opened ``<think>`` included; the others give ChatML. With the
    messages from ``task_messages`` the result equals InternBootcamp's template strings.
    """
    _check(template)
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns = [m for m in messages if m.role != "system"]
    if template == "r1":
        out = [_R1_BOS, system]
        for m in turns:
            out.append(f"{_R1_USER}{m.content}" if m.role == "user" else f"{_R1_ASSISTANT}{m.content}")
        out.append(f"{_R1_ASSISTANT}<think>\n")
        return "".join(out)
    out = [f"<|im_start|>system\n{system}<|im_end|>\n"] if system else []
    out += [f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in turns]
    out.append("<|im_start|>assistant\n")
    return "".join(out)
