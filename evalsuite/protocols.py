"""Published evaluation protocols as data: ``--protocol NAME`` sets what the named harness sets.

A ``Preset`` holds the option values a harness uses (sampling, context, prompt template, endpoint),
the samples per task it draws to estimate pass@1, and where each value comes from (a pinned
source). ``apply`` merges a preset under the user's options: a value the user gave wins, and the
override is reported. Nothing here parses option strings: ``settings.resolve`` calls ``apply``
with the raw values and reads the result.

Every preset scores pass@1 as the mean accuracy over an item's samples, which is this suite's
``avg@n`` (lighteval's ``pass@1:n_samples``, EvalScope's ``AveragePass@1``, DeepSeek's pass@1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OPEN_R1_SOURCE = (
    "https://github.com/huggingface/open-r1/blob/1416fa0cf21595d2083b399a2a0bbddd7f6e9563/README.md"
    "#evaluating-models (lighteval tasks: https://github.com/huggingface/lighteval/blob/"
    "05c5b0ed90e0e9d9a3fd4435047c6f837f3af76f/src/lighteval/tasks/default_prompts.py)"
)
EVALSCOPE_SOURCE = (
    "https://github.com/modelscope/evalscope/blob/fde259d2a32ab8a4cdb3af44dc8b18f504f1e277/docs/en/"
    "best_practice/deepseek_r1_distill.md (prompts: evalscope/benchmarks/*/ at "
    "4fa609bdf58f39eac6bdde607b4e22c49500a507)"
)
INTERNBOOTCAMP_SOURCE = (
    "https://github.com/InternLM/InternBootcamp/blob/18a552597a5cb2e690ceeb3088ba84246f983bb3/"
    "examples/unittests/run_eval.py"
)
DEEPSEEK_R1_SOURCE = (
    "https://github.com/deepseek-ai/DeepSeek-R1/blob/0cf78561f1d51c84a21b2190626b21116d5c68bb/README.md"
    "#usage-recommendations"
)


@dataclass(frozen=True)
class TaskProtocol:
    """How a harness runs one benchmark."""

    samples: int
    """Samples per item the harness draws to estimate pass@1."""
    metric: str = "avg@n"
    """This suite's metric equal to the harness's (pass@1 over the samples is ``avg@n``)."""
    note: str = ""
    """The harness's own name for the task and metric, for the README and the run record."""


@dataclass(frozen=True)
class Preset:
    """One harness's protocol."""

    name: str
    """The ``--protocol`` value."""
    source: str
    """Where every value below was read (pinned to a commit)."""
    values: Mapping[str, Any]
    """Option values by option name without dashes (``temperature``, ``max_tokens``...)."""
    tasks: Mapping[str, TaskProtocol] = field(default_factory=dict)
    """Per benchmark: samples and metric; benchmarks not listed use ``values["samples"]``."""
    think_prefix: str | None = None
    """Text every response is forced to start with (appended to the rendered prompt)."""
    notes: str = ""
    """What the preset cannot reproduce here, in one sentence."""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="open-r1",
            source=OPEN_R1_SOURCE,
            values={
                "dtype": "bfloat16",
                "max_model_len": 32768,
                "max_tokens": 32768,
                "temperature": 0.6,
                "top_p": 0.95,
                "template": "lighteval",
                "metric": "avg@n",
                "pass_k": "1",
                "samples": 1,
            },
            tasks={
                "aime24": TaskProtocol(64, note="lighteval|aime24|0|0, pass@1 over 64 samples"),
                "math500": TaskProtocol(4, note="lighteval|math_500|0|0, pass@1 over 4 samples"),
                "gpqa_diamond": TaskProtocol(8, note="lighteval|gpqa:diamond|0|0, pass@1 over 8 samples"),
                "livecodebench": TaskProtocol(
                    16, note="extended|lcb:codegeneration|0|0, pass@1 over 16 samples"
                ),
            },
            notes="lighteval shuffles GPQA's options with an unseeded random.randint; here they are seeded",
        ),
        Preset(
            name="evalscope-r1",
            source=EVALSCOPE_SOURCE,
            values={
                "max_tokens": 20000,
                "temperature": 0.6,
                "top_p": 0.95,
                "samples": 5,
                "template": "evalscope",
                "metric": "avg@n",
                "pass_k": "1",
            },
            tasks={
                name: TaskProtocol(5, note=f"{harness}, AveragePass@1 over n=5")
                for name, harness in (
                    ("math500", "math_500"),
                    ("aime24", "aime24"),
                    ("gpqa_diamond", "gpqa (0-shot)"),
                    ("gsm8k", "gsm8k (0-shot)"),
                )
            },
            notes="the mixed collection R1-Distill-Math-Test-v2 is math500+gpqa_diamond+aime24 in full; "
            "--mix NAME=W,... --mix-size N draws EvalScope's WeightedSampler sample instead",
        ),
        Preset(
            name="internbootcamp",
            source=INTERNBOOTCAMP_SOURCE,
            values={
                "max_tokens": 32768,
                "temperature": 0.0,
                "top_p": 1.0,
                "samples": 1,
                "api_mode": "completion",
                "template": "chatml",
                "metric": "avg@n",
                "pass_k": "1",
            },
            notes="run_eval.py's defaults (--api_mode completion --template chatml); with --test-dir its output "
            "layout is written too: reports/<run-id>/internbootcamp/{model}_{test_dir}_{timestamp}/",
        ),
        Preset(
            name="deepseek-r1",
            source=DEEPSEEK_R1_SOURCE,
            values={
                "max_tokens": 32768,
                "temperature": 0.6,
                "top_p": 0.95,
                "samples": 64,
                "template": "r1",
                "metric": "avg@n",
                "pass_k": "1",
            },
            think_prefix="<think>\n",
            notes="chat endpoints (--api-url with --api-mode chat) template on the server: the <think> "
            "prefix is not forced there; use --api-mode completion",
        ),
    )
}
"""Every preset by name."""

NAMES = tuple(PRESETS)
"""The allowed ``--protocol`` values."""


@dataclass(frozen=True)
class Override:
    """A preset value the user's option replaced."""

    option: str
    """Option name without dashes."""
    preset_value: Any
    """What the preset would have set."""
    value: Any
    """What the user gave."""

    def message(self, preset: str) -> str:
        flag = "--" + self.option.replace("_", "-")
        return (
            f"evalsuite: --protocol {preset}: {flag} {self.preset_value} (preset) overridden by {self.value}"
        )


@dataclass(frozen=True)
class Applied:
    """A preset merged under the user's options: what the run records and prints."""

    preset: Preset
    """The preset."""
    values: Mapping[str, Any]
    """The preset values in effect (those the user did not override)."""
    overrides: tuple[Override, ...]
    """Preset values the user replaced."""
    samples: Mapping[str, int]
    """Samples per selected benchmark the preset sets (empty when the user gave ``--samples``)."""

    def banner(self) -> str:
        """One line: the preset and every parameter it sets in this run."""
        shown = {**self.values, **{f"samples[{b}]": n for b, n in self.samples.items()}}
        if self.preset.think_prefix:
            shown["think_prefix"] = self.preset.think_prefix
        params = " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in shown.items())
        return f"evalsuite: --protocol {self.preset.name} ({self.preset.source.split(' ')[0]}): {params}"

    def fit_to_context(
        self, values: dict[str, Any], context: int | None, *, max_tokens_given: bool
    ) -> list[str]:
        """Shrink preset lengths the model cannot hold (in ``values``, keyed by option dest); the notes to print.

        A preset ``--max-model-len`` beyond the model's positions gives way to the model's own; a
        preset ``--max-tokens`` is a cap: each request also stops at the context minus its prompt.
        """
        notes = []
        name = self.preset.name
        if "max_model_len" in self.values and context is not None and values["es_max_model_len"] > context:
            notes.append(
                f"evalsuite: --protocol {name}: --max-model-len {values['es_max_model_len']} (preset) is beyond "
                f"the model's {context} positions; the model's own length is used"
            )
            values["es_max_model_len"] = None
        if not max_tokens_given and "max_tokens" in self.values:
            notes.append(
                f"evalsuite: --protocol {name}: --max-tokens {values['es_max_tokens']} (preset) is a cap: "
                "each request also stops at the context length minus its prompt"
            )
        return notes

    def record(self) -> dict[str, Any]:
        """For the run's ``meta["protocol"]`` (``eval_args.json``)."""
        return {
            "name": self.preset.name,
            "source": self.preset.source,
            "values": dict(self.values),
            "samples": dict(self.samples),
            "think_prefix": self.preset.think_prefix,
            "tasks": {
                b: {"samples": t.samples, "metric": t.metric, "note": t.note}
                for b, t in self.preset.tasks.items()
            },
            "overrides": [
                {"option": o.option, "preset": o.preset_value, "given": o.value} for o in self.overrides
            ],
            "notes": self.preset.notes,
        }


def apply(
    preset: Preset, given: Mapping[str, Any], benchmarks: tuple[str, ...]
) -> tuple[dict[str, Any], Applied]:
    """Merge ``preset`` under the options the user gave.

    Args:
        preset: The protocol.
        given: Option name (no dashes) -> the value given on the command line, None when not given.
        benchmarks: The selected benchmarks (for per-task samples).

    Returns:
        The option values the preset fills in (name -> value), and the record of what applied.
    """
    filled: dict[str, Any] = {}
    overrides = []
    for name, value in preset.values.items():
        if given.get(name) is None:
            filled[name] = value
        elif given[name] != value:
            overrides.append(Override(name, value, given[name]))
    samples: dict[str, int] = {}
    if given.get("samples") is None:
        samples = {b: preset.tasks[b].samples for b in benchmarks if b in preset.tasks}
    return filled, Applied(preset, filled, tuple(overrides), samples)
