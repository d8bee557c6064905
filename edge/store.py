"""The gateway's own store: one SQLite file in WAL mode.

Tables: the raw event log (deduplicated, pruned after the retention period), the
dead-letter store (every rejected message with its reason), the signals raised, the
outbox of signals not yet confirmed by the broker, and the saved state of the apartment
model and the detectors. WAL with ``synchronous=NORMAL`` survives a killed process
without corruption or loss of committed work (a power cut may lose the last commit);
``synchronous: FULL`` in the config trades speed for that last commit too.

>>> s = Store(None, StoreConfig())
>>> s.add_dead_letter("rec.jsonl:3", "zigbee2mqtt/x", "oops", "line is not JSON")
>>> s.dead_letter_reasons()
{'line is not JSON': 1}
"""

from __future__ import annotations

import json
import logging
import sqlite3
import zlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.models import Signal

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS topics (id INTEGER PRIMARY KEY, topic TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS events (
    ts REAL NOT NULL,           -- event time, seconds since the epoch (UTC)
    topic_id INTEGER NOT NULL REFERENCES topics(id),
    digest INTEGER NOT NULL,    -- CRC-32 of the payload text, for deduplication
    received REAL NOT NULL,     -- receive time, same unit
    payload TEXT NOT NULL,
    PRIMARY KEY (ts, topic_id, digest)
) WITHOUT ROWID;                -- one B-tree in time order: dedup and retention in one
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    stored REAL,                -- stream time when it was kept (NULL: before any clock)
    source TEXT NOT NULL,       -- 'mqtt' or 'file.jsonl:LINE'
    topic TEXT,
    payload TEXT,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signals (
    id TEXT PRIMARY KEY,
    apartment TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    detected_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    signal_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    body TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS saved_state (name TEXT PRIMARY KEY, body TEXT NOT NULL);
"""


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: float = Field(30.0, gt=0, description="Raw events older than this go.")
    dead_letter_retention_days: float = Field(90.0, gt=0, description="Dead letters too.")
    dedup_window_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="The same payload on the same topic within this time is a QoS-1 repeat.",
    )
    batch_size: int = Field(
        2000, ge=1, le=100000, description="Events written per transaction in replay."
    )
    synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", description="SQLite durability: FULL also survives a power cut mid-commit."
    )
    keep_raw_events: bool = Field(True, description="Keep the raw event log at all.")


class StoreError(Exception):
    """The store cannot be opened or written."""


class Store:
    """The SQLite store; ``path=None`` keeps everything in memory (a replay without state)."""

    def __init__(self, path: Path | None, config: StoreConfig) -> None:
        self.path = path
        self.config = config
        target = ":memory:" if path is None else str(path)
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={config.synchronous}")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the store {target}: {err}") from err
        self._topics: dict[str, int] = dict(
            (t, i) for i, t in self.db.execute("SELECT id, topic FROM topics")
        )
        self._pending: list[tuple[float, int, int, float, str]] = []
        self._recent: dict[str, tuple[str, float]] = {}
        self._window = config.dedup_window_s
        self.duplicates = 0
        self.events_written = 0

    def _check_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the store was written by a newer version (schema {row[0]} > {SCHEMA_VERSION})"
            )

    # --- events ------------------------------------------------------------------------

    def is_repeat(self, topic: str, payload_text: str, received: float) -> bool:
        """True when the same payload came on the same topic within the dedup window."""
        prev = self._recent.get(topic)
        self._recent[topic] = (payload_text, received)
        if prev is not None and prev[0] == payload_text and abs(received - prev[1]) <= self._window:
            self.duplicates += 1
            return True
        return False

    def add_event(self, topic: str, ts: float, received: float, payload_text: str) -> None:
        if not self.config.keep_raw_events:
            return
        tid = self._topics.get(topic)
        if tid is None:
            cur = self.db.execute("INSERT OR IGNORE INTO topics (topic) VALUES (?)", (topic,))
            tid = cur.lastrowid if cur.rowcount else None
            if tid is None:
                tid = self.db.execute("SELECT id FROM topics WHERE topic=?", (topic,)).fetchone()[0]
            self._topics[topic] = int(tid)
            tid = int(tid)
        self._pending.append((ts, tid, zlib.crc32(payload_text.encode()), received, payload_text))
        if len(self._pending) >= self.config.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write pending events in one transaction."""
        if not self._pending:
            return
        rows = self._pending
        self._pending = []
        try:
            with self.db:
                self.db.execute("BEGIN")
                before = self.db.total_changes
                self.db.executemany(
                    "INSERT OR IGNORE INTO events (ts, topic_id, digest, received, payload) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                self.events_written += self.db.total_changes - before
        except sqlite3.Error as err:
            self._pending = rows + self._pending
            raise StoreError(f"cannot write events to {self.path}: {err}") from err

    def event_count(self) -> int:
        self.flush()
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    def prune(self, now: datetime) -> int:
        """Delete raw events and dead letters past their retention; returns rows removed."""
        self.flush()
        cutoff = (now - timedelta(days=self.config.retention_days)).timestamp()
        dl_cutoff = (now - timedelta(days=self.config.dead_letter_retention_days)).timestamp()
        with self.db:
            self.db.execute("BEGIN")
            n = self.db.execute("DELETE FROM events WHERE ts < ?", (cutoff,)).rowcount
            n += self.db.execute("DELETE FROM dead_letters WHERE stored < ?", (dl_cutoff,)).rowcount
        if n:
            logger.info("Pruned %d rows older than the retention period", n)
        return n

    # --- dead letters ------------------------------------------------------------------

    def add_dead_letter(
        self,
        source: str,
        topic: str | None,
        payload: Any,
        reason: str,
        stored: datetime | None = None,
    ) -> None:
        text = payload if isinstance(payload, str) or payload is None else _dumps(payload)
        self.db.execute(
            "INSERT INTO dead_letters (stored, source, topic, payload, reason) VALUES (?,?,?,?,?)",
            (stored.timestamp() if stored else None, source, topic, text, reason),
        )

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many dead letters there are per kind of reason (the text before any detail)."""
        counts: Counter[str] = Counter()
        for (reason,) in self.db.execute("SELECT reason FROM dead_letters"):
            counts[reason_kind(reason)] += 1
        return dict(counts.most_common())

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, stored, source, topic, payload, reason FROM dead_letters "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        keys = ("id", "stored", "source", "topic", "payload", "reason")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # --- signals and outbox ------------------------------------------------------------

    def add_signal(self, signal: Signal, topic: str) -> bool:
        """Keep a signal and queue it for MQTT; False when its id was already kept."""
        body = signal.to_json()
        self.flush()
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "INSERT OR IGNORE INTO signals (id, apartment, kind, severity, detected_at, body)"
                " VALUES (?,?,?,?,?,?)",
                (
                    signal.id,
                    signal.apartment,
                    signal.kind.value,
                    signal.severity.value,
                    signal.detected_at.timestamp(),
                    body,
                ),
            )
            if cur.rowcount == 0:
                return False
            self.db.execute(
                "INSERT OR IGNORE INTO outbox (signal_id, topic, body) VALUES (?,?,?)",
                (signal.id, topic, body),
            )
        return True

    def queue_message(self, key: str, topic: str, body: str) -> bool:
        """Put a message other than a signal (e.g. the flat's daily stats) in the outbox;
        False when ``key`` was queued before."""
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "INSERT OR IGNORE INTO outbox (signal_id, topic, body) VALUES (?,?,?)",
                (key, topic, body),
            )
        return cur.rowcount > 0

    def outbox_pending(self) -> list[tuple[str, str, str]]:
        """Undelivered signals in the order they were raised: (id, topic, body)."""
        return list(
            self.db.execute(
                "SELECT signal_id, topic, body FROM outbox WHERE delivered=0 ORDER BY seq"
            )
        )

    def outbox_delivered(self, signal_id: str) -> None:
        self.db.execute("UPDATE outbox SET delivered=1 WHERE signal_id=?", (signal_id,))

    def signal_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM signals").fetchone()[0])

    # --- saved state -------------------------------------------------------------------

    def save_state(self, parts: dict[str, Any]) -> None:
        self.flush()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO saved_state (name, body) VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in parts.items()],
            )

    def load_state(self) -> dict[str, Any]:
        return {
            name: json.loads(body)
            for name, body in self.db.execute("SELECT name, body FROM saved_state")
        }

    def integrity_ok(self) -> bool:
        return bool(self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def reason_kind(reason: str) -> str:
    """The stable part of a reason, for counting: the text before the first ':'."""
    head, sep, _ = reason.partition(":")
    return head if sep else reason
