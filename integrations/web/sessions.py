"""Sessions and login limits of ``thuisplus serve``, kept in the server's memory.

A session is a random 256-bit token in a cookie (``Secure``, ``HttpOnly``,
``SameSite=Strict``; ``__Host-`` prefixed over TLS) naming a record here: who is logged
in, the session's CSRF token, when it started and was last used. It ends after
``session_minutes``, after ``idle_minutes`` unused, on logging out, and when the account
is removed or its password or role changes. A restart of the server ends every session.
A login makes a new session (no token from before the login lives on).

Login limits: after ``attempts`` failed logins for one account, or ``per_address`` from
one address (higher: an office's computers may share one), within ``window`` seconds,
further logins for it are refused until the oldest failure leaves the window (the
password is not even checked meanwhile).

>>> limits = LoginLimiter(attempts=2, per_address=3, window_s=60)
>>> limits.failed("anouk", "10.0.0.5", now=0); limits.failed("anouk", "10.0.0.6", now=1)
>>> limits.blocked("anouk", "10.0.0.7", now=30), limits.blocked("anouk", "10.0.0.7", now=61)
(True, False)
>>> limits.failed("bram", "10.0.0.5", now=2); limits.failed("carla", "10.0.0.5", now=3)
>>> limits.blocked("dirk", "10.0.0.5", now=4), limits.blocked("dirk", "10.0.0.8", now=4)
(True, False)
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

MAX_SESSIONS = 10_000
"""Anonymous sessions (a login form shown) are made freely: beyond this the oldest go."""


@dataclass
class Session:
    token: str
    csrf: str
    started: float
    seen: float
    user: str | None = None
    role: str | None = None
    changed: str | None = None
    """The account's ``changed`` stamp at login: a newer one ends the session."""
    lang: str | None = None


@dataclass
class Sessions:
    max_age_s: float
    idle_s: float
    _by_token: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new(self, now: float, lang: str | None = None) -> Session:
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, lang=lang)
        with self._lock:
            if len(self._by_token) >= MAX_SESSIONS:
                oldest = min(self._by_token.values(), key=lambda x: x.seen)
                del self._by_token[oldest.token]
            self._by_token[s.token] = s
        return s

    def get(self, token: str | None, now: float) -> Session | None:
        if not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
            if s is None:
                return None
            if now - s.started > self.max_age_s or now - s.seen > self.idle_s:
                del self._by_token[token]
                return None
            s.seen = now
            return s

    def end(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)

    def __len__(self) -> int:
        return len(self._by_token)


@dataclass
class LoginLimiter:
    attempts: int
    per_address: int
    window_s: float
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> int:
        times = self._failures.get(key)
        if times is None:
            return 0
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0
        return len(times)

    def blocked(self, name: str, address: str, now: float) -> bool:
        with self._lock:
            return any(self._recent(k, now) >= self.attempts for k in (f"u:{name}", f"a:{address}"))

    def failed(self, name: str, address: str, now: float) -> None:
        with self._lock:
            if len(self._failures) > MAX_SESSIONS:  # names typed at random: keep it bounded
                self._failures.clear()
            for key, most in ((f"u:{name}", self.attempts), (f"a:{address}", self.per_address)):
                self._failures.setdefault(key, deque(maxlen=most)).append(now)
        logger.warning("Failed login for %r from %s", name[:32], address)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{name}", None)
