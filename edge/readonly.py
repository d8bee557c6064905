"""The signal register read with the standard library alone (issue 19).

``thuisplus signals list`` and ``signals show`` only look: they open the hub's store
read-only through :func:`open_read_only` and read it with :class:`RegisterReader`, so they
start without pydantic, the detectors or numpy (``tests/test_startup.py`` keeps them out).
:class:`edge.register.Register` is a :class:`RegisterReader` on the hub's own connection:
the same queries and the same :class:`Entry` rows whichever way a command comes in.

>>> import sqlite3
>>> reader = RegisterReader(sqlite3.connect(":memory:"))
>>> reader.entries()
Traceback (most recent call last):
...
sqlite3.OperationalError: no such table: register
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.models import Signal

SCHEMA_VERSION = 1
"""The store's schema (``meta``'s ``schema``); edge/store.py writes it, both refuse a newer."""


class StoreError(Exception):
    """The store cannot be opened or written."""


class RegisterError(Exception):
    """An action the register refuses: unknown signal, closed already, unknown verdict..."""


@dataclass(frozen=True)
class Entry:
    id: str
    apartment: str
    kind: str
    domain: str
    severity: str
    status: str
    opened: datetime
    last_detected: datetime
    repeats: int
    assigned_domain: str | None
    assigned_role: str | None
    verdict: str | None
    notes: str | None
    escalation_level: int
    alerts_sent: int
    next_alert: datetime | None
    body: str

    @property
    def signal(self) -> Signal:
        from edge.models import Signal  # (pydantic: only where the whole signal is needed)

        return Signal.model_validate_json(self.body)


COLUMNS = (
    "id, apartment, kind, domain, severity, status, opened, last_detected, repeats, "
    "assigned_domain, assigned_role, verdict, notes, escalation_level, alerts_sent, "
    "next_alert, body"
)


def ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def entry_of(row: tuple[Any, ...]) -> Entry:
    values = list(row)
    values[6] = ts(values[6])
    values[7] = ts(values[7])
    values[15] = ts(values[15])
    return Entry(*values)


def check_version(db: sqlite3.Connection) -> str | None:
    """The store's schema version as written (``None``: none yet); a newer one than this
    code knows is refused."""
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if row is not None and int(row[0]) > SCHEMA_VERSION:
        raise StoreError(
            f"the store was written by a newer version (schema {row[0]} > {SCHEMA_VERSION})"
        )
    return None if row is None else str(row[0])


def open_read_only(path: Path) -> sqlite3.Connection | None:
    """The store at ``path`` opened read-only (never created, never changed), or ``None``
    when it has no register yet (the writing :class:`edge.register.Register` makes one).
    Raises :class:`StoreError` with the reason when it cannot be read."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except (sqlite3.Error, OSError) as err:
        raise StoreError(f"cannot open the store {path}: {err}") from err
    try:
        db.execute("PRAGMA busy_timeout=5000")  # (the live hub may be writing)
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if {"meta", "register", "audit"} - tables:
            db.close()
            return None
        check_version(db)
    except sqlite3.Error as err:
        db.close()
        raise StoreError(f"cannot open the store {path}: {err}") from err
    except StoreError:
        db.close()
        raise
    return db


class RegisterReader:
    """Reading the register: one entry, a listing, an audit trail."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @property
    def db(self) -> sqlite3.Connection:
        return self._db

    def get(self, signal_id: str) -> Entry | None:
        row = self.db.execute(
            f"SELECT {COLUMNS} FROM register WHERE id=?",  # noqa: S608  (fixed columns)
            (signal_id,),
        ).fetchone()
        return entry_of(row) if row else None

    def find(self, prefix: str) -> Entry:
        """An entry by its id or a unique prefix of it (as people type ids)."""
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM register WHERE id LIKE ? || '%' LIMIT 2",  # noqa: S608
            (prefix,),
        ).fetchall()
        if not rows:
            raise RegisterError(f"no signal {prefix!r} in the register")
        if len(rows) > 1:
            raise RegisterError(f"{prefix!r} matches more than one signal: type more of the id")
        return entry_of(rows[0])

    def entries(
        self, status: str | None = None, apartment: str | None = None, domain: str | None = None
    ) -> list[Entry]:
        where, args = [], []
        for column, value in (("status", status), ("apartment", apartment), ("domain", domain)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        sql = f"SELECT {COLUMNS} FROM register"  # noqa: S608  (values bound)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [entry_of(r) for r in self.db.execute(sql + " ORDER BY opened, id", args)]

    def audit_trail(self, signal_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT at, actor, action, details FROM audit WHERE signal_id=? ORDER BY id",
            (signal_id,),
        )
        return [
            {"at": at, "actor": actor, "action": action, "details": json.loads(details)}
            for at, actor, action, details in rows
        ]


def summary_and_evidence(entry: Entry) -> tuple[str, dict[str, Any]]:
    """What ``signals show`` prints of the signal kept in ``entry`` (its ``body``, as the
    hub published it), read as JSON without validating it again."""
    body = json.loads(entry.body)
    return str(body["summary"]), dict(body.get("evidence") or {})
