"""evalsuite: a pytest-native evaluation suite for LLM checkpoints.

The pipeline of one run, and the module that holds each step::

    options      options.py      every flag declared once (pytest, argparse, loaders' error messages)
                 protocols.py    --protocol presets: a published harness's option values, as data
      -> settings   settings.py     resolved, checked, immutable Settings; every usage error happens here
      -> benchmarks benchmarks/     registry of loaders -> Items;  selection.py: --items/--shuffle/--limit,
                                    then --shard (sharding.py: the cost-balanced hash split)
      -> cases      cases.py        per process: parametrize, wait for an item's completions, verify it
      -> leader     leader.py       only where generation is led: engine, generation, recorder hooks
      -> generation generation.py   plan every item x sample, stream it to the engine (engines/)
      -> cache      cache.py        SQLite: each completion stored the moment it finishes
      -> scoring    scoring.py      verifiers (verify/) on each sample -> ItemResult, sent to the leader
      -> recorder   recorder.py     collects results -> metrics.py (estimators, CIs), position_bias.py
      -> comparison comparison.py   a run paired with a baseline per benchmark and subgroup, one correction
      -> gates      gates.py        --min-score, --baseline regressions -> the exit status
      -> reports    reports/        JUnit, HTML, JSONL details, summary JSON, xlsx, Markdown
                                    (markdown.py), flipped items (flips.py); compare.py

``plugin.py`` wires these into pytest; ``cli.py`` is ``evalsuite run|merge|serve|compare|perf|report|make-tiny``;
``merge.py`` joins ``--shard`` runs through the recorder's ``conclude``; ``serve.py`` keeps one engine warm
(vLLM's own server, or ``openai_server.py`` around our transformers engine);
``gaterun.py`` is ``evalsuite gate`` (base and candidates, one engine load, gated and summarised);
``watchdog.py`` bounds every wait (stalled engine, silent leader); ``prompt_budget.py`` cuts prompts to
``--max-prompt-tokens``; ``engine_log.py`` sends engine logs to the run's ``engine.log``;
``redaction.py`` keeps API keys out of everything written;
``suite/itemtest.py`` is the test function itself; ``tiny/`` trains and measures the shipped tiny model.
"""

from __future__ import annotations

__version__ = "0.1.0"
