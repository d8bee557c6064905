"""The hub's one schedule of detector due times.

Each hook of a detector returns the soonest due it scheduled
(:attr:`edge.contract.Found.due`); the hub notes it here under the detector's name. An
entry keeps the soonest due given since the detector's last tick: a due that moved on
later (a silence ended by a movement) leaves the entry early, which costs one tick that
finds nothing. A tick takes the entry (:meth:`Dues.take`), and the detector's ``on_tick``
gives its next due of all it still has. :attr:`Dues.soonest` is the earliest entry, or
earlier until :meth:`Dues.settle` works it out again (after the ticks).

>>> from datetime import datetime, timedelta, timezone
>>> t = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> dues = Dues()
>>> dues.note("door_open", t + timedelta(minutes=20))
>>> dues.note("inactivity", t + timedelta(hours=3))
>>> dues.note("door_open", t + timedelta(minutes=40))   # later: the entry stays at 09:20
>>> f"{dues.soonest:%H:%M}", dues.take("inactivity", t + timedelta(minutes=30))
('09:20', False)
>>> later = t + timedelta(minutes=30)
>>> dues.take("door_open", later), dues.take("door_open", later)   # the tick took it
(True, False)
>>> dues.settle(); f"{dues.soonest:%H:%M}"
'12:00'
"""

from __future__ import annotations

from datetime import datetime


class Dues:
    """Per detector (by name), the soonest event time at which it wants its ``on_tick``."""

    __slots__ = ("_at", "soonest")

    def __init__(self) -> None:
        self._at: dict[str, datetime] = {}
        self.soonest: datetime | None = None
        """The earliest entry, or earlier (an entry taken since the last :meth:`settle`)."""

    def note(self, name: str, due: datetime) -> None:
        """``name`` scheduled ``due``: its entry is the sooner of the two."""
        known = self._at.get(name)
        if known is None or due < known:
            self._at[name] = due
            soonest = self.soonest
            if soonest is None or due < soonest:
                self.soonest = due

    def take(self, name: str, now: datetime) -> bool:
        """Whether ``name``'s entry has come at ``now``; if so it is taken (the tick's
        result gives the next)."""
        due = self._at.get(name)
        if due is None or due > now:
            return False
        del self._at[name]
        return True

    def drop(self, name: str) -> None:
        """Forget ``name``'s entry (a detector quarantined for every apartment)."""
        self._at.pop(name, None)

    def settle(self) -> None:
        """Work :attr:`soonest` out again from the entries."""
        self.soonest = min(self._at.values(), default=None)
