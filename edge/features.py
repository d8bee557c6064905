"""Daily features per apartment: the numbers behind slow trends and the history views.

Counted per local day (the flat's time zone) in event time, from what each event meant to
the apartment state (a heartbeat is not activity). When event time passes local
midnight, the finished day of every apartment seen that day is handed to the sinks
(InfluxDB, and the trend detectors that learn from them).

| feature | meaning |
|---|---|
| ``messages`` | sensor messages accepted |
| ``activity_events`` | motion onsets, doors, plugs in use, buttons, vibration |
| ``active_hours`` | hours of the day with any activity |
| ``rooms_visited`` | rooms with activity |
| ``kitchen_events`` | activity in the kitchen (motion, fridge, kettle) |
| ``night_toilet_visits`` | motion onsets in toilet or bathroom 00:00-06:00, 10 min apart |
| ``outings`` | times the apartment went from home to away |
| ``time_out_minutes`` | minutes away that day |

>>> from datetime import datetime, timedelta
>>> from zoneinfo import ZoneInfo
>>> from edge.models import Room, SensorEvent
>>> from edge.state import ACTIVE, ONSET, FlatState, StateConfig
>>> tz = ZoneInfo("Europe/Amsterdam")
>>> f = DailyFeatures(tz)
>>> t = datetime(2026, 1, 5, 2, 10, tzinfo=tz)
>>> s = FlatState(StateConfig())
>>> ev = SensorEvent(ts=t, received=t, apartment="a1", room=Room.TOILET, device="m",
...                  occupancy=True)
>>> f.observe(ev, ONSET, s.apartment("a1"))
>>> days = f.advance(t + timedelta(days=1))
>>> days[0].apartment, days[0].day.isoformat(), days[0].values["night_toilet_visits"]
('a1', '2026-01-05', 1.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from edge.models import Room, SensorEvent
from edge.state import ACTIVE, NOTHING, ONSET, ApartmentState

logger = logging.getLogger(__name__)

FEATURES = (
    "messages",
    "activity_events",
    "active_hours",
    "rooms_visited",
    "kitchen_events",
    "night_toilet_visits",
    "outings",
    "time_out_minutes",
)
_NIGHT_END = time(6, 0)
_VISIT_GAP = timedelta(minutes=10)
_TOILETS = frozenset({Room.TOILET, Room.BATHROOM})


@dataclass(frozen=True)
class DayFeatures:
    apartment: str
    day: date
    values: dict[str, float]


@dataclass
class _Day:
    messages: int = 0
    activity: int = 0
    hours: set[int] = field(default_factory=set)
    rooms: set[str] = field(default_factory=set)
    kitchen: int = 0
    night_visits: int = 0
    last_night_onset: datetime | None = None
    outings: int = 0
    away_since: datetime | None = None
    away_minutes: float = 0.0
    presence: str = "unknown"


class DailyFeatures:
    """Counts each apartment's day; :meth:`advance` closes days at local midnight."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._days: dict[str, _Day] = {}
        self._day: date | None = None
        self._next: datetime | None = None

    def next_due(self) -> datetime | None:
        return self._next

    def observe(self, event: SensorEvent, meant: int, state: ApartmentState) -> None:
        """Count one accepted event (``meant`` as :meth:`FlatState.apply` returned it)."""
        if self._next is None:
            self._start(event.ts)
        day = self._days.get(event.apartment)
        if day is None:
            day = self._days[event.apartment] = _Day(presence=state.presence)
            if state.presence == "away":
                day.away_since = self._midnight_before(event.ts)
        day.messages += 1
        if state.presence != day.presence:
            self._presence(day, state, event.ts)
        if meant == NOTHING:
            return
        local = event.ts.astimezone(self.tz)
        room = event.room
        day.activity += 1
        day.hours.add(local.hour)
        day.rooms.add(room.value)
        if room is Room.KITCHEN:
            day.kitchen += 1
        if meant == ONSET and room in _TOILETS and local.time() < _NIGHT_END:
            last = day.last_night_onset
            if last is None or event.ts - last >= _VISIT_GAP:
                day.night_visits += 1
            day.last_night_onset = event.ts

    def _presence(self, day: _Day, state: ApartmentState, now: datetime) -> None:
        if state.presence == "away":
            day.outings += 1
            day.away_since = state.presence_since or now
        elif day.presence == "away" and day.away_since is not None:
            back = state.presence_since or now
            day.away_minutes += max(0.0, (back - day.away_since).total_seconds() / 60)
            day.away_since = None
        day.presence = state.presence

    def advance(self, now: datetime) -> list[DayFeatures]:
        """Event time reached ``now``: the days that ended, one record per apartment."""
        out: list[DayFeatures] = []
        while self._next is not None and now >= self._next:
            out.extend(self._close(self._next))
        return out

    def _start(self, ts: datetime) -> None:
        self._day = ts.astimezone(self.tz).date()
        self._next = self._midnight_after(ts)

    def _midnight_after(self, ts: datetime) -> datetime:
        local = ts.astimezone(self.tz).date() + timedelta(days=1)
        return datetime.combine(local, time(0), self.tz)

    def _midnight_before(self, ts: datetime) -> datetime:
        return datetime.combine(ts.astimezone(self.tz).date(), time(0), self.tz)

    def _close(self, midnight: datetime) -> list[DayFeatures]:
        if self._day is None:
            raise RuntimeError("a day was closed before any event was seen")
        out = []
        carried: dict[str, _Day] = {}
        for apt, d in sorted(self._days.items()):
            away = d.away_minutes
            if d.away_since is not None:  # still out at midnight
                away += max(0.0, (midnight - d.away_since).total_seconds() / 60)
                carried[apt] = _Day(presence="away", away_since=midnight)
            values: dict[str, float] = {
                "messages": float(d.messages),
                "activity_events": float(d.activity),
                "active_hours": float(len(d.hours)),
                "rooms_visited": float(len(d.rooms)),
                "kitchen_events": float(d.kitchen),
                "night_toilet_visits": float(d.night_visits),
                "outings": float(d.outings),
                "time_out_minutes": round(away, 1),
            }
            out.append(DayFeatures(apt, self._day, values))
        self._days = carried
        self._day = midnight.date()
        self._next = datetime.combine(self._day + timedelta(days=1), time(0), self.tz)
        return out

    def state_dict(self) -> dict[str, Any]:
        """The running day's counts, so a restart carries on counting the same day."""

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "day": self._day.isoformat() if self._day else None,
            "apartments": {
                apt: {
                    "messages": d.messages,
                    "activity": d.activity,
                    "hours": sorted(d.hours),
                    "rooms": sorted(d.rooms),
                    "kitchen": d.kitchen,
                    "night_visits": d.night_visits,
                    "last_night_onset": iso(d.last_night_onset),
                    "outings": d.outings,
                    "away_since": iso(d.away_since),
                    "away_minutes": d.away_minutes,
                    "presence": d.presence,
                }
                for apt, d in sorted(self._days.items())
            },
        }

    def load_state(self, data: dict[str, Any]) -> None:
        if not data.get("day"):
            return
        self._day = date.fromisoformat(data["day"])
        self._next = datetime.combine(self._day + timedelta(days=1), time(0), self.tz)

        def dt(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        self._days = {
            apt: _Day(
                messages=d["messages"],
                activity=d["activity"],
                hours=set(d["hours"]),
                rooms=set(d["rooms"]),
                kitchen=d["kitchen"],
                night_visits=d["night_visits"],
                last_night_onset=dt(d["last_night_onset"]),
                outings=d["outings"],
                away_since=dt(d["away_since"]),
                away_minutes=d["away_minutes"],
                presence=d["presence"],
            )
            for apt, d in data.get("apartments", {}).items()
        }


__all__ = ["ACTIVE", "FEATURES", "DailyFeatures", "DayFeatures"]
