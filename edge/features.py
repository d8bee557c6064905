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
| ``night_toilet_visits`` | toilet visits in the night that ended this day: with one bed pad, |
| | motion onsets in toilet or bathroom (10 min apart) while out of bed between lying |
| | down (18:00-06:00) and getting up (out of bed for 45 min); else 00:00-06:00 |
| ``outings`` | times the apartment went from home to away |
| ``time_out_minutes`` | minutes away that day |
| ``kitchen_minutes`` | minutes with activity in the kitchen |
| ``kitchen_openings`` | openings of kitchen contacts (fridge, cupboards) |
| ``appliance_uses`` | kitchen plugs switched on (kettle, microwave, toaster) |
| ``visitor_minutes`` | minutes with a second person present (activity in two rooms at once) |
| ``common_room_minutes`` | minutes away from home while the flat's common room shows movement |
| ``transition_seconds`` | median seconds from motion in the hall to motion in the next room, on |
| | walks from one room to another (0 without ``transitions``) |
| ``transitions`` | such walks seen |
| ``night_roaming_minutes`` | minutes 00:00-06:00 with activity in hall, kitchen, living room, |
| | front door or balcony (not bed, toilet or bathroom) |
| ``sensors_silent`` | the apartment's sensors *down* at some time of the day: reported |
| | offline, or a sensor that checks in by itself silent for more than 6 hours |
| | (see below); the rooms they are in are :attr:`DayFeatures.silent_rooms` |

**Down, or just not used.** A sensor that checks in by itself (heard at least every
:data:`CHECK_IN_GAP` for :data:`LEARN_CHECK_IN`) and then falls silent for more than
:data:`SILENT_AFTER` is down: its readings that day are missing. A sensor that reports only
when used (a kettle or TV plug, a fridge door, a PIR without heartbeat) says nothing by
its silence: a kettle not used that day is a zero reading, not a missing one. Neither
Zigbee2MQTT's ``offline`` nor the silence of one device makes the other rooms' readings
missing: the trend detectors each look only at the rooms their features come from.

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
>>> days[0].values["night_roaming_minutes"], days[0].values["sensors_silent"]
(0.0, 0.0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from edge.models import COMMON_APARTMENT, Room, SensorEvent
from edge.state import ACTIVE, NOTHING, ONSET, ApartmentState, StateConfig, is_pad

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
    "kitchen_minutes",
    "kitchen_openings",
    "appliance_uses",
    "visitor_minutes",
    "common_room_minutes",
    "transition_seconds",
    "transitions",
    "night_roaming_minutes",
    "sensors_silent",
)
CHECK_IN_GAP = timedelta(hours=3)
"""A sensor never silent longer than this (for :data:`LEARN_CHECK_IN`) checks in by itself."""
LEARN_CHECK_IN = timedelta(hours=48)
"""How long a sensor must keep that rhythm before its silence counts as down."""
_NIGHT_END = time(6, 0)
_VISIT_GAP = timedelta(minutes=10)
_TOILETS = frozenset({Room.TOILET, Room.BATHROOM})
_ROAMING = frozenset({Room.HALL, Room.KITCHEN, Room.LIVING, Room.ENTRANCE, Room.BALCONY})
_WALK_ROOMS = frozenset({Room.BEDROOM, Room.BATHROOM, Room.TOILET, Room.KITCHEN, Room.LIVING})
_WALK_MAX = timedelta(seconds=120)
_WALK_NAMES = frozenset(r.value for r in _WALK_ROOMS)
_ACTIVE_W = StateConfig().active_power_w
SILENT_AFTER = timedelta(hours=6)
"""A sensor that checks in by itself, not heard from this long, is down (unless the hub's
learned rhythm for it, :attr:`DailyFeatures.quiet_limit`, allows longer silences)."""
FORGET_AFTER = timedelta(days=14)
"""A sensor not heard from this long was taken away: it no longer makes days 'down'."""
UP_FOR_GOOD = timedelta(minutes=45)
"""Out of bed this long during the night: the resident got up (the night is over); back
in bed sooner, the toilet visits meanwhile were night visits."""
BEDTIME_FROM = time(18, 0)
"""Lying down on the bed pad from this local time until :data:`_NIGHT_END` starts a night
(earlier it is a nap)."""


@dataclass(frozen=True)
class DayFeatures:
    apartment: str
    day: date
    values: dict[str, float]
    silent_rooms: frozenset[str] = frozenset()
    """The rooms with a sensor down that day (``sensors_silent`` counts the sensors): a
    trend detector leaves the day out only when one of its own rooms is among them."""


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
    kitchen_minutes: set[int] = field(default_factory=set)
    kitchen_openings: int = 0
    appliance_uses: int = 0
    visitor_minutes: float = 0.0
    visitor_since: datetime | None = None
    visitor_until: datetime | None = None
    away_spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    walks: list[float] = field(default_factory=list)
    roaming: set[int] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    bed_nights: int = 0
    """Nights measured on the bed pad that ended this day."""
    bed_visits: int = 0
    """Toilet visits in those nights."""


@dataclass
class _Apartment:
    """What carries over midnight for one apartment: the last hall motion and room (for
    walks between rooms), kitchen plugs in use, when each sensor was last heard."""

    hall: datetime | None = None
    room: str | None = None
    plugs_on: set[str] = field(default_factory=set)
    heard: dict[str, datetime] = field(default_factory=dict)
    regular: dict[str, datetime] = field(default_factory=dict)
    """Per sensor: heard at least every :data:`CHECK_IN_GAP` since then."""
    rooms: dict[str, str] = field(default_factory=dict)
    """Per sensor: its room."""
    beds: set[str] = field(default_factory=set)
    """Bed pads seen: the night is measured on the pad when there is exactly one."""
    in_bed: bool = False
    night: datetime | None = None
    """Lay down for the night at (``None``: not in a night)."""
    up: datetime | None = None
    """Out of bed during the night since."""
    visits: int = 0
    """The night's toilet visits, confirmed by going back to bed."""
    pending: int = 0
    """Toilet visits since getting out of bed (night visits if back in bed in time)."""
    onset: datetime | None = None
    """The last toilet motion onset while out of bed at night (visits 10 min apart)."""


# long: not yet split: one accumulator per feature is issue 19's next step
class DailyFeatures:
    """Counts each apartment's day; :meth:`advance` closes days at local midnight."""

    def __init__(
        self, tz: tzinfo, active_power_w: float = _ACTIVE_W, roles: dict[str, str] | None = None
    ) -> None:
        self.tz = tz
        self.active_power_w = active_power_w
        self.roles = roles or {}
        """Device roles by sensor id (a pad with role ``bed_pad`` is a bed pad anywhere)."""
        self._days: dict[str, _Day] = {}
        self._day: date | None = None
        self._next: datetime | None = None
        self._apts: dict[str, _Apartment] = {}
        self._common: set[int] = set()  # minutes of the day with movement in the common room
        self.quiet_limit: Callable[[str, str], timedelta | None] | None = None
        """(apartment, sensor id) -> how long that sensor may be silent by its own learned
        reporting rhythm (the hub's :meth:`edge.state.SensorState.quiet_limit`): a sensor
        that checks in by itself counts as down only when silent longer than that, and
        never sooner than :data:`SILENT_AFTER`. A sensor that reports only when something
        happens (no heartbeat) is never down by its silence alone."""

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
        apt = self._apts.get(event.apartment)
        if apt is None:
            apt = self._apts[event.apartment] = _Apartment()
        ts = event.ts
        sid = event.sensor_id
        self._heard(day, apt, event.apartment, sid, ts)
        apt.rooms[sid] = event.room.value
        if event.available is False:
            day.silent.add(sid)
        if state.presence != day.presence:
            self._presence(day, state, ts)
        if event.room is Room.KITCHEN and event.power is not None:
            self._plug(day, apt, sid, event.power > self.active_power_w)
        if apt.up is not None and ts - apt.up >= UP_FOR_GOOD:
            self._got_up(day, apt)
        if event.occupancy is not None and self._is_bed(event):
            self._bed(day, apt, sid, event.occupancy, ts)
        if meant == NOTHING:
            return
        local = ts.astimezone(self.tz)
        room = event.room
        minute = local.hour * 60 + local.minute
        day.activity += 1
        day.hours.add(local.hour)
        day.rooms.add(room.value)
        if event.apartment == COMMON_APARTMENT:
            if room is Room.COMMON_ROOM:
                self._common.add(minute)
            return
        if room is Room.KITCHEN:
            day.kitchen += 1
            day.kitchen_minutes.add(minute)
            if event.contact is False:
                day.kitchen_openings += 1
        if local.time() < _NIGHT_END and room in _ROAMING:
            day.roaming.add(minute)
        self._walk(day, apt, room, ts, meant, event.occupancy)
        self._visitor(day, state, ts)
        if meant == ONSET and room in _TOILETS:
            if local.time() < _NIGHT_END:
                last = day.last_night_onset
                if last is None or event.ts - last >= _VISIT_GAP:
                    day.night_visits += 1
                day.last_night_onset = event.ts
            if apt.up is not None:  # out of bed in the night
                if apt.onset is None or ts - apt.onset >= _VISIT_GAP:
                    apt.pending += 1
                apt.onset = ts

    def _is_bed(self, event: SensorEvent) -> bool:
        role = self.roles.get(event.sensor_id)
        if role is not None:
            return role == "bed_pad"
        return event.room is Room.BEDROOM and is_pad(event.device)

    def _bed(self, day: _Day, apt: _Apartment, sid: str, occupied: bool, ts: datetime) -> None:
        """A bed pad's report: lying down starts a night (from the evening), getting out of
        bed may be a toilet visit or getting up; back in bed, it was a visit."""
        apt.beds.add(sid)
        if len(apt.beds) != 1 or occupied == apt.in_bed:
            return  # two beds: the fixed night; a repeated state is a heartbeat
        apt.in_bed = occupied
        if not occupied:
            if apt.night is not None:
                apt.up, apt.pending = ts, 0
            return
        if apt.night is not None and apt.up is not None:
            apt.visits += apt.pending  # back in bed in time: those were night visits
            apt.up, apt.pending = None, 0
        elif apt.night is None:
            local = ts.astimezone(self.tz).time()
            if local >= BEDTIME_FROM or local < _NIGHT_END:
                apt.night, apt.visits, apt.up, apt.pending = ts, 0, None, 0

    @staticmethod
    def _got_up(day: _Day, apt: _Apartment) -> None:
        """Out of bed for good: the night is over, counted for the day it ended."""
        day.bed_nights += 1
        day.bed_visits += apt.visits
        apt.night, apt.up, apt.visits, apt.pending, apt.onset = None, None, 0, 0, None

    def _presence(self, day: _Day, state: ApartmentState, now: datetime) -> None:
        if state.presence == "away":
            day.outings += 1
            day.away_since = state.presence_since or now
        elif day.presence == "away" and day.away_since is not None:
            back = state.presence_since or now
            day.away_minutes += max(0.0, (back - day.away_since).total_seconds() / 60)
            day.away_spans.append((day.away_since, back))
            day.away_since = None
        day.presence = state.presence

    def _plug(self, day: _Day, apt: _Apartment, sid: str, on: bool) -> None:
        if on and sid not in apt.plugs_on:
            day.appliance_uses += 1
            apt.plugs_on.add(sid)
        elif not on:
            apt.plugs_on.discard(sid)

    def _walk(
        self, day: _Day, apt: _Apartment, room: Room, ts: datetime, meant: int, moving: bool | None
    ) -> None:
        """A walk from one room through the hall into another: hall motion, then the next
        room's motion starting within two minutes, coming from a different room. Motion in
        the entrance is the hall's (the entrance hall; the front door's contact is not)."""
        if room is Room.HALL or (room is Room.ENTRANCE and moving is not None):
            if moving:
                apt.hall = ts
            return
        if room not in _WALK_ROOMS:
            apt.room = room.value  # the front door: coming home is no walk between rooms
            apt.hall = None
            return
        if meant == ONSET and apt.hall is not None and apt.room not in (None, room.value):
            gap = ts - apt.hall
            if timedelta(0) < gap <= _WALK_MAX and apt.room in _WALK_NAMES:
                day.walks.append(gap.total_seconds())
        apt.room = room.value
        apt.hall = None

    def _visitor(self, day: _Day, state: ApartmentState, ts: datetime) -> None:
        until = state.second_person_until
        if until is None or until < ts:
            return
        if day.visitor_until is not None and ts <= day.visitor_until:
            day.visitor_until = max(day.visitor_until, until)
            return
        self._visitor_close(day)
        day.visitor_since, day.visitor_until = ts, until

    @staticmethod
    def _visitor_close(day: _Day, midnight: datetime | None = None) -> None:
        if day.visitor_since is None or day.visitor_until is None:
            return
        end = day.visitor_until if midnight is None else min(day.visitor_until, midnight)
        day.visitor_minutes += max(0.0, (end - day.visitor_since).total_seconds() / 60)
        day.visitor_since = day.visitor_until = None

    def _heard(self, day: _Day, apt: _Apartment, apartment: str, sid: str, ts: datetime) -> None:
        """A message of ``sid``: was it down before (a sensor that checks in, silent too
        long)? Its check-in rhythm starts afresh after any silence over :data:`CHECK_IN_GAP`."""
        heard = apt.heard.get(sid)
        if heard is None:
            apt.heard[sid] = apt.regular[sid] = ts
            return
        if ts <= heard:
            return
        if self._down(apt, apartment, sid, heard, ts):
            day.silent.add(sid)
        if ts - heard > CHECK_IN_GAP:
            apt.regular[sid] = ts
        apt.heard[sid] = ts

    def _down(
        self, apt: _Apartment, apartment: str, sid: str, heard: datetime, at: datetime
    ) -> bool:
        """Silent from ``heard`` to ``at``: down? Only a sensor that checks in by itself
        (regular for :data:`LEARN_CHECK_IN` before it fell silent), silent more than
        :data:`SILENT_AFTER` and longer than the hub's learned rhythm for it allows."""
        silence = at - heard
        if silence <= SILENT_AFTER:
            return False
        since = apt.regular.get(sid, heard)
        if heard - since < LEARN_CHECK_IN:
            return False  # reports when used (or not known yet): silence is no reading
        limit = self.quiet_limit(apartment, sid) if self.quiet_limit is not None else None
        return limit is None or silence > limit

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
        start = datetime.combine(self._day, time(0), self.tz)
        for apt, d in sorted(self._days.items()):
            away = d.away_minutes
            spans = list(d.away_spans)
            if d.away_since is not None:  # still out at midnight
                away += max(0.0, (midnight - d.away_since).total_seconds() / 60)
                spans.append((d.away_since, midnight))
                carried[apt] = _Day(presence="away", away_since=midnight)
            until = d.visitor_until
            self._visitor_close(d, midnight)
            if until is not None and until > midnight:
                carried.setdefault(apt, _Day(presence=d.presence))
                carried[apt].visitor_since, carried[apt].visitor_until = midnight, until
            carry = self._apts.get(apt)
            if carry is not None and carry.up is not None and midnight - carry.up >= UP_FOR_GOOD:
                self._got_up(d, carry)
            heard = carry.heard if carry is not None else {}
            silent = set(d.silent)
            for sid, t in list(heard.items()):
                if midnight - t > FORGET_AFTER:
                    del heard[sid]  # gone for weeks: taken away, not down
                    if carry is not None:
                        carry.regular.pop(sid, None)
                        carry.rooms.pop(sid, None)
                elif carry is not None and self._down(carry, apt, sid, t, midnight):
                    silent.add(sid)
            rooms = carry.rooms if carry is not None else {}
            walks = sorted(d.walks)
            values: dict[str, float] = {
                "messages": float(d.messages),
                "activity_events": float(d.activity),
                "active_hours": float(len(d.hours)),
                "rooms_visited": float(len(d.rooms)),
                "kitchen_events": float(d.kitchen),
                "night_toilet_visits": float(d.bed_visits if d.bed_nights else d.night_visits),
                "outings": float(d.outings),
                "time_out_minutes": round(away, 1),
                "kitchen_minutes": float(len(d.kitchen_minutes)),
                "kitchen_openings": float(d.kitchen_openings),
                "appliance_uses": float(d.appliance_uses),
                "visitor_minutes": round(d.visitor_minutes, 1),
                "common_room_minutes": float(self._common_minutes(spans, start)),
                "transition_seconds": round(_median(walks), 2),
                "transitions": float(len(walks)),
                "night_roaming_minutes": float(len(d.roaming)),
                "sensors_silent": float(len(silent)),
            }
            silent_rooms = frozenset(rooms.get(sid, _room_of(sid)) for sid in silent)
            out.append(DayFeatures(apt, self._day, values, silent_rooms))
        self._days = carried
        self._common = set()
        self._day = midnight.date()
        self._next = datetime.combine(self._day + timedelta(days=1), time(0), self.tz)
        return out

    def _common_minutes(self, spans: list[tuple[datetime, datetime]], start: datetime) -> int:
        if not self._common or not spans:
            return 0
        minutes: set[int] = set()
        for a, b in spans:
            lo = max(0, int((a - start).total_seconds() // 60))
            hi = min(24 * 60, int((b - start).total_seconds() // 60) + 1)
            minutes.update(m for m in range(lo, hi) if m in self._common)
        return len(minutes)

    def state_dict(self) -> dict[str, Any]:
        """The running day's counts, so a restart carries on counting the same day."""

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "day": self._day.isoformat() if self._day else None,
            "common": sorted(self._common),
            "carry": {
                apt: {
                    "hall": iso(a.hall),
                    "room": a.room,
                    "plugs_on": sorted(a.plugs_on),
                    "heard": {k: v.isoformat() for k, v in sorted(a.heard.items())},
                    "regular": {k: v.isoformat() for k, v in sorted(a.regular.items())},
                    "rooms": dict(sorted(a.rooms.items())),
                    "beds": sorted(a.beds),
                    "in_bed": a.in_bed,
                    "night": iso(a.night),
                    "up": iso(a.up),
                    "visits": a.visits,
                    "pending": a.pending,
                    "onset": iso(a.onset),
                }
                for apt, a in sorted(self._apts.items())
            },
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
                    "kitchen_minutes": sorted(d.kitchen_minutes),
                    "kitchen_openings": d.kitchen_openings,
                    "appliance_uses": d.appliance_uses,
                    "visitor_minutes": d.visitor_minutes,
                    "visitor_since": iso(d.visitor_since),
                    "visitor_until": iso(d.visitor_until),
                    "away_spans": [[a.isoformat(), b.isoformat()] for a, b in d.away_spans],
                    "walks": list(d.walks),
                    "roaming": sorted(d.roaming),
                    "silent": sorted(d.silent),
                    "bed_nights": d.bed_nights,
                    "bed_visits": d.bed_visits,
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
                kitchen_minutes=set(d.get("kitchen_minutes", ())),
                kitchen_openings=d.get("kitchen_openings", 0),
                appliance_uses=d.get("appliance_uses", 0),
                visitor_minutes=d.get("visitor_minutes", 0.0),
                visitor_since=dt(d.get("visitor_since")),
                visitor_until=dt(d.get("visitor_until")),
                away_spans=[
                    (datetime.fromisoformat(a), datetime.fromisoformat(b))
                    for a, b in d.get("away_spans", ())
                ],
                walks=list(d.get("walks", ())),
                roaming=set(d.get("roaming", ())),
                silent=set(d.get("silent", ())),
                bed_nights=d.get("bed_nights", 0),
                bed_visits=d.get("bed_visits", 0),
            )
            for apt, d in data.get("apartments", {}).items()
        }
        self._common = set(data.get("common", ()))
        self._apts = {
            apt: _Apartment(
                hall=dt(a.get("hall")),
                room=a.get("room"),
                plugs_on=set(a.get("plugs_on", ())),
                heard={k: datetime.fromisoformat(v) for k, v in a.get("heard", {}).items()},
                regular={k: datetime.fromisoformat(v) for k, v in a.get("regular", {}).items()},
                rooms={k: str(v) for k, v in a.get("rooms", {}).items()},
                beds=set(a.get("beds", ())),
                in_bed=bool(a.get("in_bed", False)),
                night=dt(a.get("night")),
                up=dt(a.get("up")),
                visits=int(a.get("visits", 0)),
                pending=int(a.get("pending", 0)),
                onset=dt(a.get("onset")),
            )
            for apt, a in data.get("carry", {}).items()
        }


def _room_of(sid: str) -> str:
    """The room in a sensor id ``<apartment>/<room>/<device>`` (``other`` if none)."""
    parts = sid.split("/")
    return parts[1] if len(parts) >= 3 else Room.OTHER.value


def _median(values: list[float]) -> float:
    """The median of sorted ``values`` (0 when there are none)."""
    n = len(values)
    if n == 0:
        return 0.0
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


__all__ = ["ACTIVE", "FEATURES", "DailyFeatures", "DayFeatures"]
