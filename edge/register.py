"""The signal register: each signal's life from open to closed, with an audit trail.

One open signal per apartment and kind: a repeat updates it (count, last time, latest
evidence) instead of paging again. For urgent kinds "open" means not yet acknowledged
and repeated within ``fold_minutes`` (an hour): once someone has gone to look, or an hour
after the last report, a new fall is a new signal and pages again.

A confirmed fall upgrades an open "possible fall": a fall sensor's ``fall`` (evidence not
from a silence) arriving while a ``fall`` found by silence is open does not fold away
silently. The open entry takes the stronger evidence (its body becomes the sensor's
signal, the audit says ``upgraded``) and its next alert is due at once
(:attr:`Outcome.UPGRADED`; the hub sends the signal out again). Repeats of the sensor's
fall within the open entry then fold as any repeat does, and a silence's fall folding into
an entry a sensor opened leaves the sensor's evidence in place (or the sensor's next
repeat would page again as an upgrade). An SOS or a sensor's fall while an
``inactivity`` signal is open is another kind, so a new signal that pages anyway.

Statuses: ``open`` -> ``acknowledged`` -> ``discussed`` -> ``assigned`` -> ``closed``
(steps may be skipped; nothing moves back from ``closed``). Assignments name a domain
(care, welfare, housing) and a role, never a person. Closing takes the meeting's verdict.
Every change is kept in the audit trail: who (a role), when (wall time: people act in
wall time), what.

>>> from datetime import datetime, timezone
>>> from edge.models import Domain, Severity, Signal, SignalKind
>>> from edge.store import Store, StoreConfig
>>> reg = Register(Store(None, StoreConfig()))
>>> t = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
>>> s = Signal(id="s1", flat="f", apartment="a012", kind=SignalKind.LOW_BATTERY,
...            domain=Domain.HOUSING, severity=Severity.ATTENTION, start=t, detected_at=t,
...            summary="Batterij bijna leeg")
>>> reg.raise_signal(s).value
'new'
>>> reg.raise_signal(s.model_copy(update={"id": "s2"})).value
'repeat'
>>> e = reg.assign("s1", "housing", "caretaker", by="coordinator")
>>> (e.status, e.assigned_domain, e.repeats)
('assigned', 'housing', 1)
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from edge.models import Domain, Signal
from edge.readonly import COLUMNS as _COLUMNS
from edge.readonly import Entry, RegisterError, RegisterReader
from edge.readonly import entry_of as _entry
from edge.readonly import ts as _ts
from edge.store import Store

__all__ = ["Entry", "Outcome", "Register", "RegisterError", "stronger"]

logger = logging.getLogger(__name__)

STATUSES = ("open", "acknowledged", "discussed", "assigned", "closed")
VERDICTS = ("confirmed", "false_alarm", "not_relevant")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS register (
    id TEXT PRIMARY KEY,
    apartment TEXT NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    opened REAL NOT NULL,          -- event time of the first detection
    last_detected REAL NOT NULL,   -- event time of the latest repeat
    repeats INTEGER NOT NULL DEFAULT 0,
    assigned_domain TEXT,
    assigned_role TEXT,
    verdict TEXT,
    notes TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    alerts_sent INTEGER NOT NULL DEFAULT 0,
    next_alert REAL,               -- event time of the next alert while unacknowledged
    body TEXT NOT NULL             -- the latest signal, as published
);
CREATE INDEX IF NOT EXISTS register_open ON register (apartment, kind, status);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    signal_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_signal ON audit (signal_id);
"""


class Outcome(StrEnum):
    NEW = "new"
    REPEAT = "repeat"
    KNOWN = "known"
    UPGRADED = "upgraded"
    """A repeat with stronger evidence than the open entry's: it alerts again at once."""


def _from_silence(body: str) -> bool:
    """Was the signal kept as ``body`` found by silence alone (a "possible fall")?"""
    evidence = json.loads(body).get("evidence") or {}
    return bool(evidence.get("source") == "silence")


def stronger(signal: Signal, open_body: str) -> bool:
    """Does ``signal`` confirm what the open entry (its ``body``) only suspected: a sensor's
    fall over a fall found by silence?"""
    return signal.evidence.get("source") != "silence" and _from_silence(open_body)


def _role(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or not all(c.isalnum() or c in "_-. " for c in value):
        raise RegisterError(f"{what} must be a role such as 'on_call' (1-64 letters, digits, _-.)")
    return value


# long: not yet split: the register's rules, fold, escalate and close together
class Register(RegisterReader):
    """The register on the hub's store (same SQLite file, same connection); its reading
    (:meth:`get`, :meth:`find`, :meth:`entries`, :meth:`audit_trail`) is
    :class:`edge.readonly.RegisterReader`'s."""

    def __init__(self, store: Store, fold_minutes: float = 60.0) -> None:
        self.store = store
        self.fold = fold_minutes * 60.0
        self.db.executescript(_SCHEMA)

    @property
    def db(self) -> sqlite3.Connection:
        # the store's connection, which it replaces when it reopens the file after a fault
        return self.store.db

    # --- raising -----------------------------------------------------------------------

    def raise_signal(self, signal: Signal, next_alert: datetime | None = None) -> Outcome:
        """Record a raised signal: a new entry, or a repeat of an open one."""
        if self.get(signal.id) is not None:
            return Outcome.KNOWN
        urgent = signal.severity.value == "urgent"
        open_states = ("open",) if urgent else STATUSES[:-1]
        marks = ",".join("?" * len(open_states))
        detected = signal.detected_at.timestamp()
        # an urgent repeat folds in only while it is the same emergency: a fall an hour
        # after the last one pages again, acknowledged or not
        since = detected - self.fold if urgent else float("-inf")
        row = self.db.execute(
            f"SELECT id, body FROM register WHERE apartment=? AND kind=? AND status IN ({marks}) "  # noqa: S608  (values bound)
            "AND last_detected >= ? ORDER BY opened DESC LIMIT 1",
            (signal.apartment, signal.kind.value, *open_states, since),
        ).fetchone()
        body = signal.to_json()
        with self.store.transaction():
            if row is not None:
                if urgent and stronger(signal, row[1]):
                    self.db.execute(
                        "UPDATE register SET repeats=repeats+1, last_detected=max(last_detected, "
                        "?), body=?, next_alert=? WHERE id=?",
                        (detected, body, detected, row[0]),
                    )
                    details = {"signal": signal.id, "evidence": signal.evidence.get("source")}
                    self._audit(row[0], "hub", "upgraded", details, signal.detected_at)
                    return Outcome.UPGRADED
                if signal.evidence.get("source") == "silence" and not _from_silence(row[1]):
                    body = row[1]  # (a sensor's fall stays the evidence: a silence is weaker)
                self.db.execute(
                    "UPDATE register SET repeats=repeats+1, last_detected=max(last_detected, ?),"
                    " body=? WHERE id=?",
                    (detected, body, row[0]),
                )
                self._audit(row[0], "hub", "repeat", {"signal": signal.id}, signal.detected_at)
                return Outcome.REPEAT
            self.db.execute(
                f"INSERT INTO register ({_COLUMNS}) VALUES "  # noqa: S608  (values bound)
                "(?,?,?,?,?, 'open', ?,?, 0, NULL, NULL, NULL, NULL, 0, 0, ?, ?)",
                (
                    signal.id,
                    signal.apartment,
                    signal.kind.value,
                    signal.domain.value,
                    signal.severity.value,
                    detected,
                    detected,
                    next_alert.timestamp() if next_alert else None,
                    body,
                ),
            )
            self._audit(signal.id, "hub", "raised", {}, signal.detected_at)
        return Outcome.NEW

    # --- people's actions --------------------------------------------------------------

    def acknowledge(self, signal_id: str, by: str, at: datetime | None = None) -> Entry:
        entry = self._require(signal_id)
        if entry.status != "open":
            raise RegisterError(f"signal {signal_id} is {entry.status}, not open")
        return self._move(entry, "acknowledged", by, "acknowledged", {}, at)

    def discuss(self, signal_id: str, by: str, notes: str, at: datetime | None = None) -> Entry:
        entry = self._require(signal_id)
        self._not_closed(entry)
        return self._move(entry, "discussed", by, "discussed", {"notes": notes}, at, notes=notes)

    def assign(
        self, signal_id: str, domain: str, role: str, by: str, at: datetime | None = None
    ) -> Entry:
        entry = self._require(signal_id)
        self._not_closed(entry)
        if domain not in {d.value for d in Domain}:
            raise RegisterError(f"domain must be care, welfare or housing, not {domain!r}")
        role = _role(role, "the assignee")
        with self.store.transaction():
            self.db.execute(
                "UPDATE register SET assigned_domain=?, assigned_role=? WHERE id=?",
                (domain, role, signal_id),
            )
        return self._move(entry, "assigned", by, "assigned", {"domain": domain, "role": role}, at)

    def close(
        self, signal_id: str, verdict: str, by: str, notes: str = "", at: datetime | None = None
    ) -> Entry:
        entry = self._require(signal_id)
        self._not_closed(entry)
        if verdict not in VERDICTS:
            raise RegisterError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
        with self.store.transaction():
            self.db.execute("UPDATE register SET verdict=? WHERE id=?", (verdict, signal_id))
        details = {"verdict": verdict, "notes": notes} if notes else {"verdict": verdict}
        return self._move(entry, "closed", by, "closed", details, at, notes=notes or None)

    # --- the hub closing a signal whose condition cleared --------------------------------

    def resolve_auto(
        self,
        signal_id: str,
        apartment: str,
        kind: str,
        at: datetime,
        reason: dict[str, str],
        lang: str = "nl",
    ) -> Entry | None:
        """The condition behind raised signal ``signal_id`` cleared by itself (the door is
        closed again, the sensor reports again): note it in the audit trail (``cleared``) of
        the entry that holds it (its own, or the one it was folded into as a repeat). When
        that entry is still ``open`` and every signal folded into it has cleared, the hub
        closes it like a person would (action ``closed`` by ``hub``, no verdict, the reason
        in both languages, ``auto``); acknowledged, discussed or assigned entries stay with
        the people handling them. Stamped in event time. Returns the entry when it was
        closed now, else ``None``."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM register WHERE apartment=? AND kind=? AND status!='closed'"  # noqa: S608  (values bound)
            " ORDER BY opened DESC",
            (apartment, kind),
        ).fetchall()
        for row in rows:
            entry = _entry(row)
            held: set[str | None] = {entry.id}
            cleared: set[str | None] = set()
            for action, details in self.db.execute(
                "SELECT action, details FROM audit WHERE signal_id=? AND action IN "
                "('repeat', 'cleared')",
                (entry.id,),
            ):
                (held if action == "repeat" else cleared).add(json.loads(details).get("signal"))
            if signal_id not in held:
                continue
            cleared.add(signal_id)
            text = reason.get(lang) or reason["nl"]
            closing = entry.status == "open" and held <= cleared
            with self.store.transaction():
                self._audit(entry.id, "hub", "cleared", {"signal": signal_id, "reason": text}, at)
                if closing:
                    self.db.execute(
                        "UPDATE register SET status='closed', notes=? WHERE id=?", (text, entry.id)
                    )
                    details = {"from": "open", "auto": True, "reason": reason.get("nl", text)}
                    details["reason_en"] = reason.get("en", text)
                    self._audit(entry.id, "hub", "closed", details, at)
            if not closing:
                return None
            logger.info("Signal %s closed by the hub: %s", entry.id, text)
            return self._require(entry.id)
        return None

    # --- escalation bookkeeping ------------------------------------------------------------

    def due_alerts(self, now: datetime) -> list[Entry]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM register WHERE status='open' AND next_alert IS NOT NULL "  # noqa: S608  (values bound)
            "AND next_alert <= ? ORDER BY next_alert, id",
            (now.timestamp(),),
        )
        return [_entry(r) for r in rows]

    def next_alert(self) -> datetime | None:
        row = self.db.execute("SELECT min(next_alert) FROM register WHERE status='open'").fetchone()
        return _ts(row[0]) if row else None

    def alerted(
        self, signal_id: str, level: int, next_at: datetime | None, target: str, at: datetime
    ) -> None:
        with self.store.transaction():
            self.db.execute(
                "UPDATE register SET escalation_level=?, alerts_sent=alerts_sent+1, next_alert=? "
                "WHERE id=?",
                (level, next_at.timestamp() if next_at else None, signal_id),
            )
            self._audit(signal_id, "hub", "alerted", {"target": target, "level": level}, at)

    def closed_since(self, audit_id: int) -> list[tuple[int, Entry, str]]:
        """Verdicts given after audit row ``audit_id``: (audit id, entry, verdict)."""
        rows = self.db.execute(
            "SELECT id, signal_id, details FROM audit WHERE action='closed' AND id > ? ORDER BY id",
            (audit_id,),
        ).fetchall()
        out = []
        for row_id, signal_id, details in rows:
            entry = self.get(signal_id)
            verdict = json.loads(details).get("verdict")
            if entry is not None and isinstance(verdict, str):
                out.append((int(row_id), entry, verdict))
        return out

    def note(
        self, signal_id: str, action: str, details: dict[str, Any], at: datetime | None
    ) -> None:
        """An audit line by the hub itself (e.g. what feedback changed)."""
        with self.store.transaction():
            self._audit(signal_id, "hub", action, details, at)

    # --- internals ---------------------------------------------------------------------

    def _require(self, signal_id: str) -> Entry:
        entry = self.get(signal_id)
        if entry is None:
            raise RegisterError(f"no signal {signal_id!r} in the register")
        return entry

    @staticmethod
    def _not_closed(entry: Entry) -> None:
        if entry.status == "closed":
            raise RegisterError(f"signal {entry.id} is closed already")

    def _move(
        self,
        entry: Entry,
        status: str,
        by: str,
        action: str,
        details: dict[str, Any],
        at: datetime | None,
        notes: str | None = None,
    ) -> Entry:
        by = _role(by, "who acts")
        with self.store.transaction():
            if notes is not None:
                self.db.execute(
                    "UPDATE register SET status=?, notes=? WHERE id=?", (status, notes, entry.id)
                )
            else:
                self.db.execute("UPDATE register SET status=? WHERE id=?", (status, entry.id))
            self._audit(entry.id, by, action, {"from": entry.status, **details}, at)
        logger.info("Signal %s: %s by %s", entry.id, action, by)
        return self._require(entry.id)

    def _audit(
        self,
        signal_id: str,
        actor: str,
        action: str,
        details: dict[str, Any],
        at: datetime | None = None,
    ) -> None:
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        self.db.execute(
            "INSERT INTO audit (signal_id, at, actor, action, details) VALUES (?,?,?,?,?)",
            (signal_id, when, actor, action, json.dumps(details, default=str, sort_keys=True)),
        )
