"""The gateway's own store: one SQLite file in WAL mode.

Tables: the raw event log (deduplicated, pruned after the retention period), the
dead-letter store (every rejected message with its reason), the signals raised, the
outbox of signals not yet confirmed by the broker, and the saved state of the apartment
model and the detectors. WAL with ``synchronous=NORMAL`` survives a killed process
without corruption or loss of committed work (a power cut may lose the last commit);
``synchronous: FULL`` in the config trades speed for that last commit too.

A live hub moves SQLite's WAL checkpoints (copying the log back into the file, with an
fsync: milliseconds on a PC, more on an SD card) off the path a message takes: a
:class:`Checkpointer` thread with its own connection runs them every few seconds, so a
fall's signal never waits for one (:meth:`Store.checkpoint_in_background`).

When the file cannot be written (disk full, the file system gone read-only after an SD
card error) the store does not stop the hub: :attr:`Store.fault` says why, raw events and
dead letters wait in memory (at most ``max_pending``; beyond that the oldest are dropped
and counted in :attr:`Store.dropped`), and :meth:`Store.retry` (the live hub calls it
every few seconds) reopens the file and writes what waited.

>>> s = Store(None, StoreConfig())
>>> s.add_dead_letter("rec.jsonl:3", "zigbee2mqtt/x", "oops", "line is not JSON")
>>> s.dead_letter_reasons()
{'line is not JSON': 1}
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field

from edge.models import Signal
from edge.readonly import SCHEMA_VERSION, check_version
from edge.readonly import StoreError as StoreError  # (where it was, for its users)

logger = logging.getLogger(__name__)

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


def state_json(value: Any) -> str:
    """JSON text as the saved state keeps it (keys sorted)."""
    return json.dumps(value, sort_keys=True)


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
    max_pending: int = Field(
        200_000,
        ge=1000,
        le=10_000_000,
        description="While the file cannot be written, at most this many events and dead "
        "letters wait in memory; beyond that the oldest are dropped and counted.",
    )


CHECKPOINT_EVERY_S = 2.0


class Checkpointer(threading.Thread):
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection every ``every_s``
    seconds. PASSIVE never waits for the hub's writes and never makes them wait: SQLite
    lets one checkpoint run beside one writer. The sqlite3 module releases the GIL while
    SQLite works, so the hub's thread goes on handling messages meanwhile. A failure (the
    disk full, the file read-only) is logged once and tried again at the next turn."""

    def __init__(self, path: Path, every_s: float = CHECKPOINT_EVERY_S) -> None:
        super().__init__(name="thuisplus-checkpoint", daemon=True)
        self.path = path
        self.every_s = every_s
        self.checkpoints = 0
        self.frames = 0
        self.error: str | None = None
        self._stop_event = threading.Event()
        self._db: sqlite3.Connection | None = None

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            self.checkpoint()
        if self._db is not None:
            self._db.close()

    def checkpoint(self) -> None:
        try:
            if self._db is None:
                self._db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None
                )
            row = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except (sqlite3.Error, OSError) as err:
            if self.error is None:
                logger.warning(
                    "WAL checkpoint failed (%s); trying again in %g s", err, self.every_s
                )
            self.error = str(err)
            if self._db is not None:
                self._db.close()
                self._db = None
            return
        if self.error is not None:
            logger.info("WAL checkpoints work again")
            self.error = None
        self.checkpoints += 1
        self.frames += int(row[2]) if row and row[2] > 0 else 0

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)


WRITE_ERRORS = (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)


# long: one SQLite file's tables and their migrations in one place
class Store:
    """The SQLite store; ``path=None`` keeps everything in memory (a replay without state)."""

    def __init__(self, path: Path | None, config: StoreConfig) -> None:
        self.path = path
        self.config = config
        self.checkpointer: Checkpointer | None = None
        self.db = self._connect()
        self._topics: dict[str, int] = dict(
            (t, i) for i, t in self.db.execute("SELECT id, topic FROM topics")
        )
        self._pending: list[tuple[float, Any, int, float, str]] = []
        self._in_transaction = False
        self._recent: dict[str, tuple[str, float]] = {}
        self._window = config.dedup_window_s
        self.duplicates = 0
        self.events_written = 0
        self.fault: str | None = None
        self.dropped = 0
        self._pending_dead: list[tuple[float | None, str, str | None, str | None, str]] = []
        self._delivered_later: set[str] = set()

    def _connect(self, create: bool = True) -> sqlite3.Connection:
        """Open the file; ``create=False`` (reopening after a fault) never makes a new,
        empty store where the old one should be (e.g. its file system is not mounted)."""
        path = self.path
        target = ":memory:" if path is None else str(path)
        try:
            if path is not None and create:
                path.parent.mkdir(parents=True, exist_ok=True)
            if path is not None and not create:
                db = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=rw",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.config.synchronous}")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
            if self.checkpointer is not None:
                db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer does them
            db.executescript(_SCHEMA)
            self.db = db
            self._check_version()
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open the store {target}: {err}") from err
        return db

    # --- faults ------------------------------------------------------------------------

    def failed(self, err: BaseException, what: str) -> None:
        """A write failed: keep the hub going, say so loudly (once per fault)."""
        reason = f"cannot write {what} to {self.path or 'memory'}: {err}"
        if self.fault is None:
            logger.error("Store fault: %s; keeping new data in memory until it can write", reason)
        self.fault = reason

    @property
    def waiting(self) -> int:
        """Events and dead letters waiting in memory for the file to be writable."""
        return len(self._pending) + len(self._pending_dead)

    def _bound(self) -> None:
        over = self.waiting - self.config.max_pending
        if over > 0:
            drop_dead = min(over, len(self._pending_dead))
            del self._pending_dead[:drop_dead]
            del self._pending[: over - drop_dead]
            if self.dropped == 0:
                logger.error(
                    "Store fault goes on: more than %d rows waiting; dropping the oldest (counted)",
                    self.config.max_pending,
                )
            self.dropped += over

    def retry(self) -> bool:
        """Reopen the file and write what waited; True when the store is healthy again."""
        if self.fault is None:
            return True
        if self.path is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                logger.debug("closing the failed connection failed too")
            try:
                self._connect(create=False)
            except StoreError as err:
                self.fault = str(err)
                return False
        # topic ids handed out just before the fault may not have reached the file: rows
        # waiting name their topic again where the file does not know the id
        try:
            known = dict((t, int(i)) for i, t in self.db.execute("SELECT id, topic FROM topics"))
        except WRITE_ERRORS as err:
            self.failed(err, "anything (cannot read the topics)")
            return False
        ids = {i: t for t, i in known.items()}
        cached = {i: t for t, i in self._topics.items()}
        self._pending = [
            r
            if not isinstance(r[1], int) or ids.get(r[1]) == cached.get(r[1])
            else (r[0], cached[r[1]], r[2], r[3], r[4])
            for r in self._pending
        ]
        self._topics = known
        waiting = self.waiting
        self.fault = None
        self.flush()
        self._flush_dead()
        self._flush_delivered()
        if self.fault is not None:
            return False
        logger.warning(
            "Store writable again: wrote %d rows that waited in memory%s",
            waiting,
            f"; {self.dropped} were dropped while it could not write" if self.dropped else "",
        )
        return True

    def _check_version(self) -> None:
        if check_version(self.db) is None:
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # --- the hub's own starts (crash loops, docs/faults.md) -----------------------------

    def note_start(self, wall: float, keep_s: float) -> list[tuple[float, bool]]:
        """Record that the hub starts at ``wall`` (seconds since the epoch); returns the
        starts kept from the last ``keep_s`` seconds, this one last, each with whether the
        run before it ended without a clean stop (a crash, a kill, the watchdog).

        >>> s = Store(None, StoreConfig())
        >>> s.note_start(100.0, 60.0)
        [(100.0, False)]
        >>> s.note_start(110.0, 60.0)   # (no note_stop: the first run did not stop cleanly)
        [(100.0, False), (110.0, True)]
        >>> s.note_stop(); s.note_start(120.0, 60.0)[-1]
        (120.0, False)
        """
        rows = dict(
            self.db.execute("SELECT key, value FROM meta WHERE key IN ('starts', 'running')")
        )
        try:
            starts = [(float(t), bool(u)) for t, u in json.loads(rows.get("starts", "[]"))]
        except (ValueError, TypeError):
            starts = []  # (a damaged note: start counting again)
        unclean = rows.get("running") == "1"
        starts = [(t, u) for t, u in starts if wall - keep_s < t <= wall][-100:]
        starts.append((wall, unclean))
        try:
            with self.transaction():
                self.db.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [("starts", json.dumps(starts)), ("running", "1")],
                )
        except WRITE_ERRORS as err:
            self.failed(err, "the note of the hub's start")
        return starts

    def note_stop(self) -> None:
        """The hub stops cleanly: its next start is not counted as a restart after a crash."""
        try:
            with self.transaction():
                self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('running', '0')")
        except WRITE_ERRORS as err:
            self.failed(err, "the note of the hub's stop")

    # --- events ------------------------------------------------------------------------

    def is_repeat(self, topic: str, payload_text: str, received: float) -> bool:
        """True when the same payload came on the same topic within the dedup window."""
        prev = self._recent.get(topic)
        self._recent[topic] = (payload_text, received)
        if prev is not None and prev[0] == payload_text and abs(received - prev[1]) <= self._window:
            self.duplicates += 1
            return True
        return False

    def add_event(
        self, topic: str, ts: float, received: float, payload_text: str, raw: bytes | None = None
    ) -> None:
        """Keep one raw event (``raw``: ``payload_text`` as UTF-8, if the caller has it)."""
        if not self.config.keep_raw_events:
            return
        tid: Any = self._topics.get(topic)
        if tid is None:
            try:
                cur = self.db.execute("INSERT OR IGNORE INTO topics (topic) VALUES (?)", (topic,))
                tid = cur.lastrowid if cur.rowcount else None
                if tid is None:
                    tid = self.db.execute(
                        "SELECT id FROM topics WHERE topic=?", (topic,)
                    ).fetchone()[0]
                self._topics[topic] = tid = int(tid)
            except WRITE_ERRORS as err:
                self.failed(err, "a new topic")
                tid = topic  # resolved when the row is written
        crc = zlib.crc32(raw if raw is not None else payload_text.encode())
        self._pending.append((ts, tid, crc, received, payload_text))
        if self.fault is not None:
            self._bound()
        elif len(self._pending) >= self.config.batch_size:
            self.flush()

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[None]:
        """One write transaction: committed at the end, rolled back on an error. Used
        inside another, it joins that one (a signal's register entry, its row and its
        outbox entry are kept all together or not at all). ``immediate`` takes the write
        lock at once (waiting up to the busy timeout for another process's write), so a
        transaction that reads before it writes cannot find its reads overtaken."""
        if self._in_transaction:
            yield
            return
        db = self.db
        with db:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            self._in_transaction = True
            try:
                yield
            finally:
                self._in_transaction = False

    def flush(self) -> None:
        """Write pending events in one transaction."""
        if not self._pending:
            return
        if self.fault is not None:
            return  # waits for retry()
        rows = self._pending
        self._pending = []
        try:
            with self.transaction():
                before = self.db.total_changes
                self.db.executemany(
                    "INSERT OR IGNORE INTO events (ts, topic_id, digest, received, payload) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [self._resolved(r) for r in rows],
                )
                self.events_written += self.db.total_changes - before
        except WRITE_ERRORS as err:
            self._pending = rows + self._pending
            self.failed(err, f"{len(rows)} events")
            self._bound()

    def _resolved(
        self, row: tuple[float, Any, int, float, str]
    ) -> tuple[float, int, int, float, str]:
        tid = row[1]
        if isinstance(tid, int):
            return row
        found = self._topics.get(tid)
        if found is None:
            self.db.execute("INSERT OR IGNORE INTO topics (topic) VALUES (?)", (tid,))
            found = self._topics[tid] = int(
                self.db.execute("SELECT id FROM topics WHERE topic=?", (tid,)).fetchone()[0]
            )
        return (row[0], found, row[2], row[3], row[4])

    def events_after(
        self, ts: float | None, received: float | None = None
    ) -> list[tuple[str, float, str]]:
        """The raw events with an event time after ``ts`` (all when ``None``) and, when
        ``received`` is given, received after it, in the order they were received:
        (topic, received, payload text)."""
        self.flush()
        rows = self.db.execute(
            "SELECT t.topic, e.received, e.payload FROM events e JOIN topics t ON t.id = e.topic_id"
            " WHERE e.ts > ? AND e.received > ? ORDER BY e.received",
            (
                float("-inf") if ts is None else ts,
                float("-inf") if received is None else received,
            ),
        )
        return [(str(a), float(b), str(c)) for a, b, c in rows]

    def event_count(self) -> int:
        self.flush()
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    def prune(self, now: datetime) -> int:
        """Delete raw events and dead letters past their retention; returns rows removed."""
        self.flush()
        if self.fault is not None:
            return 0
        cutoff = (now - timedelta(days=self.config.retention_days)).timestamp()
        dl_cutoff = (now - timedelta(days=self.config.dead_letter_retention_days)).timestamp()
        try:
            with self.transaction():
                n = self.db.execute("DELETE FROM events WHERE ts < ?", (cutoff,)).rowcount
                n += self.db.execute(
                    "DELETE FROM dead_letters WHERE stored < ?", (dl_cutoff,)
                ).rowcount
        except WRITE_ERRORS as err:
            self.failed(err, "the pruning of old rows")
            return 0
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
        text = payload if isinstance(payload, str) or payload is None else _dead_text(payload)
        if text is not None and len(text) > DEAD_LETTER_KEEP:
            text = (
                f"{text[:DEAD_LETTER_KEEP]}... ({len(text):,} characters in all; the rest not kept)"
            )
        self._pending_dead.append(
            (
                stored.timestamp() if stored else None,
                writable(source),
                writable(topic),
                writable(text),
                writable(reason),
            )
        )
        if self.fault is None:
            self._flush_dead()
        else:
            self._bound()

    def _flush_dead(self) -> None:
        if not self._pending_dead or self.fault is not None:
            return
        rows = self._pending_dead
        self._pending_dead = []
        try:
            with self.transaction():
                self.db.executemany(
                    "INSERT INTO dead_letters (stored, source, topic, payload, reason) "
                    "VALUES (?,?,?,?,?)",
                    rows,
                )
        except WRITE_ERRORS as err:
            self._pending_dead = rows + self._pending_dead
            self.failed(err, "dead letters")

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
        with self.transaction():
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
                "INSERT OR IGNORE INTO outbox (signal_id, topic, body, delivered) VALUES (?,?,?,?)",
                (signal.id, topic, body, int(signal.id in self._delivered_later)),
            )
        self._delivered_later.discard(signal.id)
        return True

    def queue_message(self, key: str, topic: str, body: str) -> bool:
        """Put a message other than a signal (e.g. the flat's daily stats) in the outbox;
        False when ``key`` was queued before."""
        with self.transaction():
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
        try:
            cur = self.db.execute("UPDATE outbox SET delivered=1 WHERE signal_id=?", (signal_id,))
            if cur.rowcount == 0:  # sent while the store could not keep it: marked when it can
                self._delivered_later.add(signal_id)
        except WRITE_ERRORS as err:
            self._delivered_later.add(signal_id)
            self.failed(err, "a delivery mark")

    def _flush_delivered(self) -> None:
        """Delivery marks that could not be written go to the rows already in the outbox
        (a signal the broker took during the fault is not sent again after a restart);
        marks of signals not yet in it wait for :meth:`add_signal`."""
        if not self._delivered_later or self.fault is not None:
            return
        done: set[str] = set()
        try:
            with self.transaction():
                for sid in sorted(self._delivered_later):
                    cur = self.db.execute("UPDATE outbox SET delivered=1 WHERE signal_id=?", (sid,))
                    if cur.rowcount:
                        done.add(sid)
        except WRITE_ERRORS as err:
            self.failed(err, "delivery marks")
            return
        self._delivered_later -= done

    def signal_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM signals").fetchone()[0])

    # --- saved state -------------------------------------------------------------------

    def save_state(self, parts: dict[str, Any]) -> None:
        """Save each part (JSON-able values) under its name, in one transaction."""
        self.save_state_texts({k: partial(state_json, v) for k, v in parts.items()})

    def save_state_texts(self, parts: Mapping[str, Callable[[], str]]) -> None:
        """Save each part as the JSON text its function makes, one part after another in
        one transaction: only one part's values need be alive at a time (a large flat's
        whole state as Python objects at once was a third of the hub's peak memory)."""
        self.flush()
        if self.fault is not None:
            return  # saved again once the store can write
        try:
            with self.transaction():
                self.db.executemany(
                    "INSERT OR REPLACE INTO saved_state (name, body) VALUES (?, ?)",
                    ((k, make()) for k, make in parts.items()),
                )
        except WRITE_ERRORS as err:
            self.failed(err, "the saved state")

    def load_state(self) -> dict[str, Any]:
        return {
            name: json.loads(body)
            for name, body in self.db.execute("SELECT name, body FROM saved_state")
        }

    def integrity_ok(self) -> bool:
        return bool(self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def checkpoint_in_background(self, every_s: float = CHECKPOINT_EVERY_S) -> None:
        """Live: WAL checkpoints in a thread of their own, not at a commit of the hub's
        (about 1 commit in 50 used to wait several milliseconds for one)."""
        if self.path is None or self.checkpointer is not None:
            return
        self.checkpointer = Checkpointer(self.path, every_s)
        try:
            self.db.execute("PRAGMA wal_autocheckpoint=0")
        except WRITE_ERRORS as err:
            logger.warning("Keeping SQLite's own WAL checkpoints: %s", err)
            self.checkpointer = None
            return
        self.checkpointer.start()
        logger.info("WAL checkpoints run in their own thread, every %g s", every_s)

    def checkpoints_stopped(self) -> bool:
        """The checkpoint thread died (a bug): SQLite's own checkpoints take over again,
        so the log cannot grow without end. True when that happened now."""
        cp = self.checkpointer
        if cp is None or cp.is_alive():
            return False
        self.checkpointer = None
        logger.error("The WAL checkpoint thread stopped; SQLite checkpoints at commits again")
        try:
            self.db.execute("PRAGMA wal_autocheckpoint=1000")
        except WRITE_ERRORS as err:
            self.failed(err, "the checkpoint setting")
        return True

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()  # (closing the connection checkpoints the rest)
            self.checkpointer = None
        try:
            self.flush()
            self._flush_dead()
            if self.waiting:
                logger.error(
                    "Closing the store with %d rows never written (%s)", self.waiting, self.fault
                )
        finally:
            self.db.close()


@overload
def writable(text: str) -> str: ...
@overload
def writable(text: None) -> None: ...
def writable(text: str | None) -> str | None:
    """``text`` as it can be written (to SQLite, a log, a terminal): a lone surrogate, which
    a JSON escape such as ``"\\ud800"`` gives and UTF-8 cannot hold, as ``\\ud800``."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


DEAD_LETTER_KEEP = 80_000
"""At most this much of a dead letter's payload is kept (the input limits refuse larger
messages before they get here; this bounds what any other caller hands over)."""


def _dead_text(value: Any) -> str:
    """A rejected payload as text, whatever it is: JSON where it can be, else its repr."""
    try:
        return _dumps(value)
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:DEAD_LETTER_KEEP]


def reason_kind(reason: str) -> str:
    """The stable part of a reason, for counting: the text before the first ':'."""
    head, sep, _ = reason.partition(":")
    return head if sep else reason
