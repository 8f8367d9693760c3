"""InternBootcamp-style test sets: a directory of JSONL files, one file per bootcamp.

Each line is InternBootcamp's test format: ``prompt`` (the full question, answer-format instruction
included), ``ground_truth`` (or ``identity`` in older exports: whatever the bootcamp's checker needs)
and ``data_source``. The file stem names the bootcamp: it becomes the ``bootcamp`` group and
``meta["bootcamp"]``, which the ``puzzle`` verifier uses to pick the registered checker. A row's
``checker`` field, else ``--checker`` (``extra["checker"]``), names an InternBootcamp-style class
``module:Class`` (or a registered checker) instead; it is imported at load time, so a missing
module or class is a usage error before anything runs.

The directory comes from ``extra["test_dir"]``, else ``--data-path bootcamp=DIR``, else
``bootcamp/`` under ``--data-dir``; a single ``.jsonl`` file is accepted too. Templates follow
InternBootcamp's ``run_eval.py`` (``r1``, ``qwen``, ``internthinker``, ``chatml``); with
``extra["api_mode"] = "completion"`` items also carry the raw prompt string (``Item.prompt_text``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from evalsuite.benchmarks.base import BenchmarkData, BenchmarkError, LoadOptions, register_benchmark
from evalsuite.benchmarks.jsonl import Loaded, Record, read_jsonl_files
from evalsuite.benchmarks.prompts import task_messages
from evalsuite.benchmarks.sources import finish, locate, make_item, template_of
from evalsuite.types import Item
from evalsuite.verify.external import CheckerNotFound, is_spec, load_checker

VERSION = "1"


def find_test_dir(options: LoadOptions) -> Path:
    """The bootcamp test directory (or file) from the options."""
    given = options.extra.get("test_dir")
    if given:
        path = Path(str(given)).expanduser()
        if not path.exists():
            raise BenchmarkError(f"--test-dir {given}: no such directory")
        return path
    found = locate("bootcamp", options, ("bootcamp",))
    if found is None:
        raise BenchmarkError(
            "bootcamp: no test directory; pass --test-dir DIR (a directory of <bootcamp>.jsonl "
            "files, e.g. InternBootcamp's examples/data/InternBootcamp_eval), or --data-path bootcamp=DIR"
        )
    return found


def read_test_dir(path: Path) -> Loaded:
    files = [path] if path.is_file() else sorted(path.glob("*.jsonl"))
    if not files:
        raise BenchmarkError(f"{path}: no .jsonl files; expected one <bootcamp>.jsonl file per bootcamp")
    return read_jsonl_files(files)


def ground_truth(record: Record) -> object:
    if record.get("ground_truth") is not None:
        return record.get("ground_truth")
    if record.get("identity") is not None:
        return record.get("identity")
    return record.field("ground_truth", hint="InternBootcamp test lines carry 'ground_truth' (or 'identity')")


def _checked(spec: str, record: Record) -> str:
    """``spec`` once it is known to load (a ``module:Class`` import, or a registered checker name)."""
    from evalsuite.verify.puzzle import checkers

    try:
        if is_spec(spec):
            load_checker(spec)
        elif spec not in checkers:
            raise CheckerNotFound(f"checker {spec!r}: not registered; known: {', '.join(checkers.names())}")
    except CheckerNotFound as exc:
        raise record.error(str(exc)) from None
    return spec


@register_benchmark("bootcamp")
def load_bootcamp(options: LoadOptions) -> BenchmarkData:
    """Every line of every ``<bootcamp>.jsonl``: ids ``<bootcamp>/<index>``, verifier ``puzzle``."""
    template = template_of(options)
    loaded = read_test_dir(find_test_dir(options))

    def items() -> Iterator[tuple[Record, Item]]:
        index: dict[str, int] = {}
        for record in loaded.records:
            stem = Path(record.source).stem
            n = index[stem] = index.get(stem, -1) + 1
            messages = task_messages(
                record.text("prompt"), template=template, system_prompt=options.system_prompt
            )
            meta = {"bootcamp": stem, "data_source": record.get("data_source")}
            checker = record.get("checker") or options.extra.get("checker")
            if checker:
                meta["checker"] = _checked(str(checker), record)
            yield (
                record,
                make_item(
                    "bootcamp",
                    f"{stem}/{n:04d}",
                    messages,
                    gold=ground_truth(record),
                    verifier="puzzle",
                    groups={"bootcamp": stem},
                    meta=meta,
                    options=options,
                    template=template,
                ),
            )

    return finish("bootcamp", VERSION, items(), loaded, template)
