"""``evalsuite perf``: a serving benchmark of an OpenAI-compatible endpoint.

A concurrency sweep (``--parallel 1,8,32,128``, closed loop: exactly that many requests in flight)
and/or open-loop Poisson arrivals (``--rate 2,8``), over random, benchmark or JSONL prompts of a
fixed length (``--prompt-len``, ``--max-tokens``, ``ignore_eos`` where the server takes it). Every
request is streamed and timed chunk by chunk; per level it reports time to first token, time per
output token, inter-token latency, end-to-end latency percentiles, throughput, failures and the
number of requests in flight, as a terminal table, JSON (``--json``) and HTML (``--html``).

Modules: ``load`` (client, closed and open loops), ``prompts``, ``stats``, ``sweep``, ``report``, ``cli``.
"""

from __future__ import annotations

from evalsuite.perf.cli import main

__all__ = ["main"]
