"""The device model (issue 18): whether a sensor's silence says anything about the sensor.

Used by device health (``sensor_offline``) and by the silence detectors' doubt
(:func:`detectors.rhythm.sensor_doubt`): a sensor without check-ins is silent for hours
whenever nobody uses it, so its silence is judged by its use, and it may delay a care
alarm but not hold it back for good (:func:`checks_in`).

- :class:`UseModel`: for a sensor without check-ins, its *use rate*: on how many of the
  apartment's active days (days with movement: the resident home, its other sensors
  alive) it spoke, and its longest run of active days unused. ``sensor_offline`` judges
  its silence in active days by that (:meth:`UseModel.limit_days`): a holiday, a stay in
  hospital or a dead gateway counts no days.

>>> m = UseModel()
>>> for day in range(10):                  # a kettle used every other day, the flat active
...     m.active("a1", day)
...     if day % 2 == 0:
...         m.used("a1", "a1/kitchen/kettle", day)
>>> m.rate("a1", "a1/kitchen/kettle", 8, 28), m.longest_run("a1/kitchen/kettle", 8, 28)
((5, 9), 1)
>>> round(m.limit_days("a1", "a1/kitchen/kettle", 8, 28, 0.01, 2.0, 3), 1)   # p = 6/11: 2 x 5.9
11.7
>>> m.silent_days("a1", 8, 10)   # day 9 was active
1
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right, insort
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.state import SensorState

CHECK_IN_S = 2 * 3600.0
"""The longest silence of a sensor that checks in (as ``sensor_offline``'s check_in_hours)."""
OUTAGE_S = 24 * 3600.0
"""A silence over a day in a checking-in sensor's record: an outage, not its rhythm."""
KNOWN_S = 12 * 3600.0
"""Known to check in once its kept silences cover half a day (a night in it: a PIR that
reports only movement is silent for hours every night)."""
RUNS_KEPT = 64
KEEP_DAYS = 400
"""Active days kept per apartment (a silence is counted in them)."""
_NONE: array[int] = array("l")
"""No days (never changed)."""


def checks_in(sensor: SensorState) -> bool:
    """Known to check in by itself: the hub state's record of its silences covers half a
    day, none over two hours but at most one outage of over a day. Only then is its
    silence of hours a sign that it died; for one that speaks only when used, silence is
    just what a still resident looks like.

    >>> from array import array
    >>> from datetime import datetime, timezone
    >>> from edge.state import SensorState
    >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> def sensor(gaps): return SensorState(last_seen=t, gaps=array("d", gaps))
    >>> checks_in(sensor([3600.0] * 14))   # hourly for 14 h
    True
    >>> checks_in(sensor([3600.0] * 8))    # not watched half a day
    False
    >>> checks_in(sensor([900.0] * 40 + [9 * 3600.0]))  # a night unseen
    False
    >>> checks_in(sensor([3600.0] * 20 + [40 * 3600.0]))  # one outage
    True
    """
    gaps = sensor.gaps
    if sum(gaps) < KNOWN_S:
        return False
    outages = 0
    for g in gaps:
        if g > OUTAGE_S:
            outages += 1
        elif g > CHECK_IN_S:
            return False
    return outages <= 1


class UseModel:
    """Per apartment the active days (day ordinals with movement), per sensor the days it
    spoke and its runs of active days unused. Day ordinals are local dates, kept in
    arrays of C longs (8 bytes a day where a list of ints takes 36)."""

    def __init__(self) -> None:
        self._active: dict[str, array[int]] = {}
        self._used: dict[str, array[int]] = {}
        self._runs: dict[str, list[tuple[int, int]]] = {}

    def active(self, apt: str, day: int) -> None:
        days = self._active.get(apt)
        if days is None:
            days = self._active[apt] = array("l")
        if days and days[-1] == day:
            return
        i = bisect_left(days, day)
        if i < len(days) and days[i] == day:
            return
        days.insert(i, day)
        if days[0] < days[-1] - KEEP_DAYS:
            del days[: bisect_left(days, days[-1] - KEEP_DAYS)]

    def used(self, apt: str, sid: str, day: int, keep_days: int = 366) -> None:
        """``sid`` spoke on ``day``: a run of unused active days before it is learned."""
        days = self._used.get(sid)
        if days is None:
            days = self._used[sid] = array("l")
        if days and day <= days[-1]:
            if day not in days[-8:] and day > days[-1] - keep_days:
                insort(days, day)  # (a late message of an earlier day)
            return
        if days:
            run = self.silent_days(apt, days[-1], day)
            if run > 0:
                runs = self._runs.setdefault(sid, [])
                runs.append((day, run))
                del runs[:-RUNS_KEPT]
        days.append(day)
        if days[0] < day - keep_days:
            del days[: bisect_left(days, day - keep_days)]

    def silent_days(self, apt: str, last: int, today: int) -> int:
        """Active days after ``last`` and before ``today``."""
        days = self._active.get(apt, _NONE)
        return max(0, bisect_left(days, today) - bisect_right(days, last))

    def rate(self, apt: str, sid: str, last: int, window: int) -> tuple[int, int]:
        """(days it spoke, active days) in the ``window`` days up to ``last``."""
        lo = last - window + 1
        used = self._used.get(sid, _NONE)
        u = bisect_right(used, last) - bisect_left(used, lo)
        act = self._active.get(apt, _NONE)
        a = bisect_right(act, last) - bisect_left(act, lo)
        return u, max(a, u)

    def longest_run(self, sid: str, last: int, window: int) -> int:
        """Its longest run of unused active days ending within ``window`` days up to ``last``."""
        return max(
            (r for end, r in self._runs.get(sid, ()) if last - window < end <= last), default=0
        )

    def limit_days(
        self,
        apt: str,
        sid: str,
        last: int,
        window: int,
        chance: float,
        margin: float,
        min_use: int,
    ) -> float | None:
        """How many active days ``sid`` may stay unused after ``last``: ``margin`` times the
        larger of its longest unused run and the run its own use rate makes only ``chance``
        likely (use on a day with probability p, Laplace's estimate from the window before
        its silence: unused k days running with (1 - p)^k). ``None``: spoken on fewer
        than ``min_use`` days, its use is not known (an SOS pendant pressed now and then):
        silence cannot judge it."""
        u, a = self.rate(apt, sid, last, window)
        if u < min_use:
            return None
        p = (u + 1) / (a + 2)
        geometric = math.log(chance) / math.log(1.0 - p)
        return margin * max(geometric, float(self.longest_run(sid, last, window)))

    def to_dict(self) -> dict[str, object]:
        return {
            "active": {k: list(v) for k, v in sorted(self._active.items())},
            "used": {k: list(v) for k, v in sorted(self._used.items())},
            "runs": {k: [list(r) for r in v] for k, v in sorted(self._runs.items())},
        }

    def load(self, data: dict[str, object]) -> None:
        def table(key: str) -> dict[str, array[int]]:
            raw = data.get(key, {})
            if not isinstance(raw, dict):
                return {}
            return {k: array("l", [int(d) for d in v]) for k, v in raw.items()}

        self._active = table("active")
        self._used = table("used")
        raw = data.get("runs", {})
        self._runs = (
            {k: [(int(e), int(r)) for e, r in v] for k, v in raw.items()}
            if isinstance(raw, dict)
            else {}
        )
