"""The team's accounts for ``thuisplus serve``: one per team member, with a role.

Kept in the hub's store (table ``web_users``, so a backup carries them), never in the
YAML. Passwords are hashed with scrypt from the standard library (``hashlib.scrypt``;
N=2^15, r=8, p=2: one of OWASP's equivalent settings, 32 MiB and a few tenths of a
second per login on a Raspberry Pi 4), each with its own 16-byte salt; the parameters
are kept in the hash so they can be raised later without breaking old ones.

Roles: ``care``, ``welfare`` and ``housing`` act (acknowledge, assign, close) on the
signals of their own domain, or those assigned to it; ``lead`` on all of them; every role
reads everything and may add what was discussed.

>>> from edge.store import Store, StoreConfig
>>> accounts = Accounts(Store(None, StoreConfig()))
>>> accounts.add("anouk", "care", "a long enough password")
>>> accounts.check("anouk", "a long enough password").role
'care'
>>> accounts.check("anouk", "wrong") is None
True
>>> may("care", "close", domain="care", assigned=None), may("welfare", "close", "care", None)
(True, False)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from edge.store import Store

logger = logging.getLogger(__name__)

ROLES = ("care", "welfare", "housing", "lead")
ACTIONS = ("ack", "discuss", "assign", "close")
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,          -- scrypt$N$r$p$salt$key (base64)
    changed TEXT NOT NULL        -- when the password or role last changed (UTC)
);
"""


class AccountError(Exception):
    """An account action that cannot be done: a bad name, role or password, a duplicate."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    changed: str
    """Sessions made before this stamp end (a new password, a new role)."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


@functools.cache
def _dummy() -> str:
    """Checked against when the name is unknown, so that a login takes as long either way."""
    return hash_password(secrets.token_urlsafe(16))


def may(role: str, action: str, domain: str, assigned: str | None) -> bool:
    """Whether ``role`` may do ``action`` on a signal of ``domain`` (assigned to
    ``assigned``): discussing is for everyone, the rest for the domain's own and the lead."""
    if action not in ACTIONS:
        return False
    if action == "discuss" or role == "lead":
        return True
    return role in (domain, assigned)


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise AccountError(
            f"{name[:40]!r}: an account name is 2-32 of a-z 0-9 _ . - (a short handle such "
            "as 'zorg-anouk'; it shows in the audit trail)"
        )
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(
            f"a password has at least {MIN_PASSWORD} characters (and at most {MAX_PASSWORD})"
        )
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role[:20]!r}")
    return role


class Accounts:
    """The ``web_users`` table in the hub's store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.store.db.executescript(_SCHEMA)

    def check_new(self, name: str, role: str) -> None:
        """A new account ``name`` with ``role`` can be added (its password aside)."""
        check_name(name)
        check_role(role)
        if self.get(name) is not None:
            raise AccountError(f"there is an account {name!r} already")

    def add(self, name: str, role: str, password: str) -> None:
        self.check_new(name, role)
        check_password(password)
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO web_users (name, role, hash, changed) VALUES (?,?,?,?)",
                (name, role, hash_password(password), _now()),
            )
        logger.info("Account %s added (%s)", name, role)

    def update(self, name: str, password: str | None = None, role: str | None = None) -> None:
        """A new password and/or role; the account's open sessions end."""
        if self.get(name) is None:
            raise AccountError(f"no account {name!r}")
        with self.store.transaction():
            if password is not None:
                self.store.db.execute(
                    "UPDATE web_users SET hash=? WHERE name=?",
                    (hash_password(check_password(password)), name),
                )
            if role is not None:
                self.store.db.execute(
                    "UPDATE web_users SET role=? WHERE name=?", (check_role(role), name)
                )
            self.store.db.execute("UPDATE web_users SET changed=? WHERE name=?", (_now(), name))
        logger.info("Account %s changed", name)

    def remove(self, name: str) -> None:
        with self.store.transaction():
            gone = self.store.db.execute("DELETE FROM web_users WHERE name=?", (name,)).rowcount
        if not gone:
            raise AccountError(f"no account {name!r}")
        logger.info("Account %s removed", name)

    def get(self, name: str) -> User | None:
        row = self.store.db.execute(
            "SELECT name, role, changed FROM web_users WHERE name=?", (name,)
        ).fetchone()
        return User(*row) if row else None

    def list(self) -> list[User]:
        rows = self.store.db.execute("SELECT name, role, changed FROM web_users ORDER BY name")
        return [User(*r) for r in rows]

    def check(self, name: str, password: str) -> User | None:
        """The account when ``password`` is its password, else ``None`` (as slowly)."""
        row = self.store.db.execute("SELECT hash FROM web_users WHERE name=?", (name,)).fetchone()
        if row is None or len(password) > MAX_PASSWORD:
            verify_password(password[:MAX_PASSWORD], _dummy())
            return None
        return self.get(name) if verify_password(password, row[0]) else None


def _now() -> str:
    return datetime.now(UTC).isoformat()
