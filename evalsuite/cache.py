"""The on-disk completion cache (SQLite, WAL) that makes runs resumable and verdicts re-checkable.

Three tables:
- ``completions``: successful completions by cache key, kept across runs;
- ``plan``: for each run, which cache keys answer which (item, sample) — workers read it, so they
  need neither the engine nor the tokenizer to find their completions;
- ``failures`` and ``runs``: per-run infrastructure errors and the leader's state, so a waiting
  test learns that generation failed instead of hanging. Failures are not cached across runs: a
  rerun tries them again. ``runs.updated`` is the leader's heartbeat: a waiting test whose leader
  stopped beating (killed, hung) ends with an error instead of waiting forever.

And ``claims``: cache keys some run is generating now, with a lease its leader renews while it
beats. Two runs sharing the cache generate a shared completion once; a dead claimer's lease
expires and the other run takes the key over.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from evalsuite.types import Completion, Request, SamplingConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY, text TEXT NOT NULL, finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER, output_tokens INTEGER, latency_s REAL, ttft_s REAL, created REAL
);
CREATE TABLE IF NOT EXISTS plan (
    run_id TEXT NOT NULL, item TEXT NOT NULL, sample INTEGER NOT NULL, key TEXT NOT NULL, prompt TEXT,
    PRIMARY KEY (run_id, item, sample)
);
CREATE TABLE IF NOT EXISTS failures (
    run_id TEXT NOT NULL, key TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, state TEXT NOT NULL, message TEXT, updated REAL, schedule TEXT
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner);
"""

class RunState(NamedTuple):
    state: str
    """``planning`` → ``generating`` → ``done`` | ``failed``."""
    message: str
    """Why the run failed (empty otherwise)."""
    schedule: str | None
    """When tests verify: ``stream`` (as completions land) or ``after`` (once generation ended)."""
    updated: float
    """The leader's last heartbeat or state change (``time.time()``)."""


KEY_VERSION = "1"
SCHEMA_VERSION = 4
"""Bumped when a table changes. Per-run tables (plan, failures, runs) are simply recreated; the
completions table only ever gains columns, so cached generations survive upgrades."""


def request_key(
    *, fingerprint: str, adapter: str | None, prompt: str, sampling: SamplingConfig, sample_index: int
) -> str:
    """Hash of everything that changes a completion.

    The seed is part of ``sampling``; the sample index separates samples of one prompt. Anything
    left out here would silently reuse a stale completion, so when in doubt a field goes in.
    """
    key: dict[str, object] = {
        "v": KEY_VERSION,
        "model": fingerprint,
        "adapter": adapter,
        "prompt": prompt,
        "sampling": [sampling.temperature, sampling.top_p, sampling.max_tokens, sampling.seed, sampling.stop],
        "sample": sample_index,
    }
    if sampling.repetition_penalty != 1.0:  # only when used: the keys of every earlier run stay valid
        key["repetition_penalty"] = sampling.repetition_penalty
    payload = json.dumps(key, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class CompletionCache:
    """Thread- and process-safe access to one cache file; one SQLite connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            conn.executescript("DROP TABLE IF EXISTS plan; DROP TABLE IF EXISTS failures; DROP TABLE IF EXISTS runs; "
                "DROP TABLE IF EXISTS claims;")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    # completions -----------------------------------------------------------------------------

    def put(self, completion: Completion, *, run_id: str) -> None:
        """Store a completion the moment it finishes (and drop its claim); errors go to this run's failures only."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._put(conn, completion, run_id)
            conn.execute("DELETE FROM claims WHERE key = ?", (completion.key,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @staticmethod
    def _put(conn: sqlite3.Connection, completion: Completion, run_id: str) -> None:
        if completion.finish_reason == "error":
            conn.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?)",
                (run_id, completion.key, completion.error or "unknown engine error"),
            )
            return
        conn.execute(
            "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                completion.key,
                completion.text,
                completion.finish_reason,
                completion.prompt_tokens,
                completion.output_tokens,
                completion.latency_s,
                completion.ttft_s,
                time.time(),
            ),
        )

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        """Cached completions among ``keys``."""
        found: dict[str, Completion] = {}
        conn = self._conn()
        for chunk in _chunks(list(keys), 500):
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                "SELECT key, text, finish_reason, prompt_tokens, output_tokens, latency_s, ttft_s "
                f"FROM completions WHERE key IN ({marks})",
                chunk,
            ):
                found[row[0]] = Completion(
                    key=row[0],
                    text=row[1],
                    finish_reason=row[2],
                    prompt_tokens=row[3] or 0,
                    output_tokens=row[4] or 0,
                    latency_s=row[5] or 0.0,
                    ttft_s=row[6],
                )
        return found

    def failures(self, run_id: str, keys: Sequence[str]) -> dict[str, str]:
        """This run's infrastructure errors among ``keys``."""
        conn = self._conn()
        out: dict[str, str] = {}
        for chunk in _chunks(list(keys), 500):
            marks = ",".join("?" * len(chunk))
            for key, error in conn.execute(
                f"SELECT key, error FROM failures WHERE run_id = ? AND key IN ({marks})", [run_id, *chunk]
            ):
                out[key] = error
        return out

    # plan and run state ----------------------------------------------------------------------

    def write_plan(self, run_id: str, requests: Iterable[Request]) -> None:
        conn = self._conn()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT OR REPLACE INTO plan VALUES (?, ?, ?, ?, ?)",
            [(run_id, r.item_nodeid, r.sample_index, r.key, r.prompt if r.sample_index == 0 else None) for r in requests],
        )
        conn.execute("COMMIT")

    def plan_keys(self, run_id: str, item_nodeid: str) -> list[str]:
        """Cache keys of an item's samples in sample order (empty until the leader wrote the plan)."""
        rows = self._conn().execute(
            "SELECT key FROM plan WHERE run_id = ? AND item = ? ORDER BY sample", (run_id, item_nodeid)
        )
        return [r[0] for r in rows]

    def plan_prompt(self, run_id: str, item_nodeid: str) -> str | None:
        """The rendered prompt the leader sent for this item (workers have no tokenizer to render it)."""
        row = self._conn().execute(
            "SELECT prompt FROM plan WHERE run_id = ? AND item = ? AND sample = 0", (run_id, item_nodeid)
        ).fetchone()
        return row[0] if row else None

    def set_state(self, run_id: str, state: str, message: str = "", *, schedule: str | None = None) -> None:
        """Record the leader's state (see ``RunState``); a ``schedule`` once set is kept."""
        self._conn().execute(
            "INSERT INTO runs (run_id, state, message, updated, schedule) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, message = excluded.message, "
            "updated = excluded.updated, schedule = COALESCE(excluded.schedule, runs.schedule)",
            (run_id, state, message, time.time(), schedule),
        )

    def state(self, run_id: str) -> RunState | None:
        row = self._conn().execute(
            "SELECT state, message, schedule, updated FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return RunState(row[0], row[1] or "", row[2], row[3] or 0.0) if row else None

    def fail_unless_ended(self, run_id: str, message: str) -> bool:
        """Set ``failed`` unless the run already ended (done or failed); whether it was set."""
        cur = self._conn().execute(
            "UPDATE runs SET state = 'failed', message = ?, updated = ? WHERE run_id = ? "
            "AND state NOT IN ('done', 'failed')",
            (message, time.time(), run_id),
        )
        return cur.rowcount > 0

    # heartbeat and claims --------------------------------------------------------------------

    def beat(self, run_id: str, *, lease_s: float) -> None:
        """The leader is alive: refresh its heartbeat and renew its claims' lease."""
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE runs SET updated = ? WHERE run_id = ?", (now, run_id))
        conn.execute("UPDATE claims SET expires = ? WHERE owner = ?", (now + lease_s, run_id))
        conn.execute("COMMIT")

    def claim(self, keys: Sequence[str], *, owner: str, lease_s: float) -> list[str]:
        """Claim the ``keys`` nobody else holds (or whose claimer's lease expired); the ones now ``owner``'s.

        Keys already completed are not claimed: whoever held them finished them.
        """
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM claims WHERE expires < ?", (now,))
            done = set(self.get_many(keys))
            mine = []
            for chunk in _chunks([k for k in keys if k not in done], 500):
                conn.executemany(
                    "INSERT OR IGNORE INTO claims VALUES (?, ?, ?)", [(k, owner, now + lease_s) for k in chunk]
                )
                marks = ",".join("?" * len(chunk))
                mine += [
                    r[0] for r in conn.execute(
                        f"SELECT key FROM claims WHERE owner = ? AND key IN ({marks})", [owner, *chunk]
                    )
                ]
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return mine

    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (its run ended, whatever it finished is stored)."""
        self._conn().execute("DELETE FROM claims WHERE owner = ?", (owner,))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _chunks(seq: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
