"""What the hub knows about each apartment right now, built from events alone.

- home / away: the front door (the contact in ``entrance``) closes; motion after that
  means someone is home, no motion for ``away_after_minutes`` means the resident left;
- a second person present: activity in two rooms at once (two non-hall rooms within a
  few seconds, unless the hall saw someone between the two: one person walking from one
  room to the next trips both PIRs within seconds; or motion elsewhere while the bed or
  chair pad is occupied);
- last activity per room; each sensor's last message, battery, link quality, availability,
  and its own reporting rhythm (the recent silences between its messages, so a detector
  can tell a silent sensor from a still resident: :meth:`SensorState.quiet`).

State changes that follow from time passing (the away decision) are made in
:meth:`FlatState.advance` at their due time, so replay and live agree.

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> t = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> def ev(room, device, minutes, **kw):
...     ts = t + timedelta(minutes=minutes)
...     return SensorEvent(ts=ts, received=ts, apartment="a1", room=room, device=device, **kw)
>>> s = FlatState(StateConfig())
>>> s.apply(ev(Room.LIVING, "motion", 0, occupancy=True)) == ONSET
True
>>> s.apply(ev(Room.ENTRANCE, "door", 1, contact=False)) == ACTIVE
True
>>> s.apply(ev(Room.ENTRANCE, "door", 1.2, contact=True)) == ACTIVE
True
>>> s.apply(ev(Room.ENTRANCE, "door", 2, contact=True, battery=90)) == NOTHING  # heartbeat
True
>>> s.advance(t + timedelta(minutes=30))
>>> s.apartment("a1").presence, s.apartment("a1").presence_since == t + timedelta(minutes=1.2)
('away', True)
>>> _ = s.apply(ev(Room.ENTRANCE, "door", 90, contact=False))
>>> _ = s.apply(ev(Room.HALL, "motion", 90.5, occupancy=True))
>>> s.apartment("a1").presence
'home'
"""

from __future__ import annotations

import json
import logging
import re
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edge.models import COMMON_APARTMENT, Room, SensorEvent

logger = logging.getLogger(__name__)

NOTHING, ACTIVE, ONSET = 0, 1, 2
"""What an event meant, as :meth:`FlatState.apply` returns it."""

CONNECTING_ROOMS = frozenset({Room.HALL, Room.ENTRANCE})
GAPS_KEPT = 48
"""Silences (between two messages of one sensor) kept per sensor: about two days."""
GAP_MIN_S = 300.0
"""Shorter silences say nothing about a sensor's reporting rhythm and are not kept."""
QUIET_FLOOR = timedelta(hours=2)
QUIET_UNKNOWN = timedelta(hours=3)
OVERDUE_UNKNOWN = timedelta(minutes=70)
_ENTRANCE = Room.ENTRANCE
_CONNECTING_NAMES = frozenset({Room.HALL.value, Room.ENTRANCE.value})
_HALL_NAME = Room.HALL.value
_ENTRANCE_NAME = Room.ENTRANCE.value
_WALK_TO_DOOR = timedelta(seconds=60)
"""Movement in the hall this soon before a front-door report: someone walked to the door."""


class StateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    away_after_minutes: float = Field(
        15.0, gt=0, le=24 * 60, description="No motion this long after the door closed: away."
    )
    motion_grace_s: float = Field(
        10.0,
        ge=0,
        le=600,
        description="Motion this soon after the door closed may be the leaver: not counted.",
    )
    two_rooms_window_s: float = Field(
        3.0,
        ge=0,
        le=120,
        description="Motion starting in two non-hall rooms this close together: two people.",
    )
    visitor_hold_minutes: float = Field(
        30.0, gt=0, le=24 * 60, description="How long 'a second person present' holds."
    )
    active_power_w: float = Field(
        5.0, ge=0, description="A plug drawing more than this is in use (activity)."
    )


PAD_PARTS = ("pad", "stoel", "matras", "mattress", "fauteuil", "zetel", "kussen")
"""Parts that make a device name a pad's anywhere in it, compounds too (``relaxstoel``,
``bedpad``, ``zitkussen``)."""
PAD_WORDS = frozenset(
    {
        # English: what the pad is, or what it lies on or under
        "bed", "chair", "armchair", "seat", "sofa", "couch", "recliner",
        "mat", "pressure", "cushion", "sleep",
        # Dutch: sofa, pressure mat, bed sensor, bed mat
        "bank", "drukmat", "bedsensor", "bedmat",
    }
)  # fmt: skip
"""Whole words of a device name that make an ``occupancy`` sensor a bed or chair pad
(``bed_occupancy``, ``pressure_mat``; ``bedroom_motion`` is not)."""
_WORDS = re.compile(r"[a-z]+")


@lru_cache(maxsize=4096)
def _pad_name(name: str) -> bool:
    low = name.lower()
    return any(p in low for p in PAD_PARTS) or any(w in PAD_WORDS for w in _WORDS.findall(low))


def is_pad(device: str, role: str | None = None) -> bool:
    """Bed and chair pressure pads report ``occupancy`` too; the role says so, or the
    device's name (:data:`PAD_PARTS`, :data:`PAD_WORDS`). Another installer's names are
    common (``bed_occupancy``, ``armchair``, ``drukmat``), so the name is read word by word.

    >>> [is_pad(d) for d in ("bed_pad", "bed_occupancy", "Pressure Mat", "armchair_2")]
    [True, True, True, True]
    >>> [is_pad(d) for d in ("relaxstoel", "Zetel links", "stoelkussen", "Bedmatras")]
    [True, True, True, True]
    >>> [is_pad(d) for d in ("motion", "bedroom_motion", "presence", "door")]
    [False, False, False, False]
    >>> is_pad("motion", "bed_pad")
    True
    """
    if role in ("bed_pad", "chair_pad"):
        return True
    return _pad_name(device)


def hall_watched(st: ApartmentState, roles: dict[str, str]) -> bool:
    """The hall has a motion sensor (not a pad): a resident walking from one room to
    another is seen (the silence detectors need it; ``thuisplus doctor`` names homes
    without it). A motion sensor in the entrance counts as well: in these flats the
    entrance is the hall (``entree/hal``), and installers put its sensor under either."""
    return any(
        sid.split("/")[1] in _CONNECTING_NAMES
        and s.occupied is not None
        and not is_pad(sid.rsplit("/", 1)[-1], roles.get(sid))
        for sid, s in st.sensors.items()
    )


def is_front_door(room: str, role: str | None = None) -> bool:
    """The apartment's front-door contact: its role says so, or it is in the entrance."""
    return role == "front_door" or (role is None and room == _ENTRANCE.value)


@dataclass(slots=True)
class SensorState:
    last_seen: datetime
    messages: int = 0
    battery: float | None = None
    linkquality: int | None = None
    available: bool = True
    occupied: bool | None = None
    contact: bool | None = None
    last_change: datetime | None = None
    powered: bool | None = None
    """A plug: drawing more than the active threshold (its switching on is activity)."""
    unreadable: datetime | None = None
    """When a message of this sensor last could not be read (it may have been a change)."""
    stale: bool = False
    """Its state is not known to be current: it went offline (Zigbee2MQTT's availability)
    and has not reported its state since. Its first state report is a catch-up: a change
    it shows happened some time while it was away, not now (a chair pad back after a dead
    battery saying "empty" is not the resident getting up)."""
    gaps: array[float] = field(default_factory=lambda: array("d"))
    """The last :data:`GAPS_KEPT` silences of at least :data:`GAP_MIN_S` between its messages
    (seconds; an array of doubles: a third of a list of floats' memory)."""

    def usual_gap(self) -> timedelta | None:
        """Its usual longest silence: the 90th percentile of its recent ones (so one outage
        does not stretch it); ``None`` while too little is known."""
        if len(self.gaps) < 6:
            return None
        return timedelta(seconds=sorted(self.gaps)[int(0.9 * (len(self.gaps) - 1))])

    def quiet_limit(self) -> timedelta:
        """How long this sensor may be silent before it counts as quiet: half again its
        usual longest silence, at least two hours; three hours while too little is known."""
        usual = self.usual_gap()
        return QUIET_UNKNOWN if usual is None else max(QUIET_FLOOR, 1.5 * usual)

    def quiet(self, now: datetime) -> bool:
        """Unavailable, or silent for longer than its own rhythm allows."""
        return not self.available or now - self.last_seen > self.quiet_limit()

    def overdue(self, now: datetime) -> bool:
        """Silent for longer than usual, not yet quiet: its next message will tell."""
        usual = self.usual_gap() or OVERDUE_UNKNOWN
        return now - self.last_seen > usual and not self.quiet(now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_seen": self.last_seen.isoformat(),
            "messages": self.messages,
            "battery": self.battery,
            "linkquality": self.linkquality,
            "available": self.available,
            "occupied": self.occupied,
            "contact": self.contact,
            "last_change": self.last_change.isoformat() if self.last_change else None,
            "powered": self.powered,
            "unreadable": self.unreadable.isoformat() if self.unreadable else None,
            "gaps": [round(g) for g in self.gaps],
            **({"stale": True} if self.stale else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SensorState:
        lc = d.get("last_change")
        return cls(
            last_seen=datetime.fromisoformat(d["last_seen"]),
            messages=int(d.get("messages", 0)),
            battery=d.get("battery"),
            linkquality=d.get("linkquality"),
            available=bool(d.get("available", True)),
            occupied=d.get("occupied"),
            contact=d.get("contact"),
            last_change=datetime.fromisoformat(lc) if lc else None,
            powered=d.get("powered"),
            unreadable=datetime.fromisoformat(d["unreadable"]) if d.get("unreadable") else None,
            gaps=array("d", [float(g) for g in d.get("gaps", [])]),
            stale=bool(d.get("stale", False)),
        )


@dataclass(slots=True)
class ApartmentState:
    apartment: str
    presence: str = "unknown"  # home | away | unknown
    presence_since: datetime | None = None
    door_open: bool | None = None
    door_changed: datetime | None = None
    door_closed_pending: datetime | None = None
    last_activity: datetime | None = None
    room_activity: dict[str, datetime] = field(default_factory=dict)
    room_onset: dict[str, datetime] = field(default_factory=dict)
    second_person_until: datetime | None = None
    sensors: dict[str, SensorState] = field(default_factory=dict)
    silence_alarm: datetime | None = None
    """The start of the silence a care alarm was raised for (by any of the silence
    detectors): one silence pages once, whichever detector saw it first."""

    def second_person(self, now: datetime) -> bool:
        return self.second_person_until is not None and now <= self.second_person_until

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "presence": self.presence,
            "presence_since": iso(self.presence_since),
            "door_open": self.door_open,
            "door_changed": iso(self.door_changed),
            "door_closed_pending": iso(self.door_closed_pending),
            "last_activity": iso(self.last_activity),
            "room_activity": {k: v.isoformat() for k, v in self.room_activity.items()},
            "room_onset": {k: v.isoformat() for k, v in self.room_onset.items()},
            "second_person_until": iso(self.second_person_until),
            "silence_alarm": iso(self.silence_alarm),
            "sensors": {k: v.to_dict() for k, v in self.sensors.items()},
        }

    @classmethod
    def from_dict(cls, apartment: str, d: dict[str, Any]) -> ApartmentState:
        def dt(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        return cls(
            apartment=apartment,
            presence=d.get("presence", "unknown"),
            presence_since=dt(d.get("presence_since")),
            door_open=d.get("door_open"),
            door_changed=dt(d.get("door_changed")),
            door_closed_pending=dt(d.get("door_closed_pending")),
            last_activity=dt(d.get("last_activity")),
            room_activity={k: datetime.fromisoformat(v) for k, v in d["room_activity"].items()},
            room_onset={k: datetime.fromisoformat(v) for k, v in d["room_onset"].items()},
            second_person_until=dt(d.get("second_person_until")),
            silence_alarm=dt(d.get("silence_alarm")),
            sensors={k: SensorState.from_dict(v) for k, v in d["sensors"].items()},
        )


# long: not yet split: presence, rooms and sensor health (issue 19)
class FlatState:
    """The state of every apartment of the flat (and of ``common``, its shared spaces)."""

    def __init__(self, config: StateConfig, roles: dict[str, str] | None = None) -> None:
        self.config = config
        self.roles = roles or {}
        self.apartments: dict[str, ApartmentState] = {}
        self._away_after = timedelta(minutes=config.away_after_minutes)
        self._grace = timedelta(seconds=config.motion_grace_s)
        self._two_rooms = timedelta(seconds=config.two_rooms_window_s)
        self._hold = timedelta(minutes=config.visitor_hold_minutes)
        self._pending: dict[str, datetime] = {}
        self._pads: dict[str, tuple[str, bool]] = {}  # sensor id -> (room, is a bed/chair pad)

    def apartment(self, apartment: str) -> ApartmentState:
        st = self.apartments.get(apartment)
        if st is None:
            st = self.apartments[apartment] = ApartmentState(apartment)
        return st

    def next_due(self) -> datetime | None:
        return min(self._pending.values()) if self._pending else None

    def unreadable(self, sensor_id: str, ts: datetime) -> None:
        """A message of ``sensor_id`` (``apartment/room/device``, the place the hub's names
        give its topic) could not be read: note it on that sensor, if known (a lost "door
        closed" must not leave the door open for good)."""
        parts = sensor_id.split("/")
        if len(parts) != 3:
            return
        st = self.apartments.get(parts[0])
        sensor = st.sensors.get(sensor_id) if st else None
        if sensor is not None and (sensor.unreadable is None or ts > sensor.unreadable):
            sensor.unreadable = ts
            role = self.roles.get(sensor_id)
            if is_front_door(parts[1], role) and st is not None and ts >= sensor.last_seen:
                # the front door said something nobody could read: perhaps it opened and
                # closed
                self._perhaps_out(st, ts)

    def _perhaps_out(self, st: ApartmentState, ts: datetime) -> None:
        """The front door may have opened and closed at ``ts`` unseen: if no movement
        follows, the resident went out (as after a door seen closing); a movement proves
        them home as before."""
        if st.presence == "home" and not st.door_open and st.door_closed_pending is None:
            st.door_closed_pending = ts
            self._pending[st.apartment] = ts + self._away_after

    @staticmethod
    def _lost_opening(
        st: ApartmentState, ts: datetime, prev_seen: datetime | None, sensor: SensorState
    ) -> bool:
        """A front door's "closed" while it was closed is a check-in, or the end of an
        opening whose "open" was lost (Zigbee messages do get lost). The second when it
        comes well before its next check-in (sooner than three quarters of its median
        silence between messages: a door that checks in hourly, within 40 minutes of its
        last message) and within a minute of movement in the hall or the entrance
        (someone walked to the door)."""
        if prev_seen is None:
            return False
        gaps = sensor.gaps
        if len(gaps) >= 6:
            typical = sorted(gaps)[len(gaps) // 2]  # its check-in rhythm, as a rule
            if (ts - prev_seen).total_seconds() >= 0.75 * typical:
                return False
        walked = [
            t
            for name in _CONNECTING_NAMES
            if (t := st.room_activity.get(name)) is not None and t <= ts
        ]
        return bool(walked) and ts - max(walked) <= _WALK_TO_DOOR

    def advance(self, now: datetime) -> None:
        """Event time reached ``now``: decide 'away' where the door closed long enough ago."""
        if not self._pending:
            return
        for apt, due in list(self._pending.items()):
            if due <= now:
                del self._pending[apt]
                st = self.apartments[apt]
                if st.door_closed_pending is not None:
                    st.presence = "away"
                    st.presence_since = st.door_closed_pending
                    st.door_closed_pending = None
                    st.second_person_until = None

    # long: one event's effect on the state, rule by rule in their order
    def apply(self, ev: SensorEvent) -> int:
        """Update the state with one accepted event.

        Returns what the event meant: :data:`NOTHING` (a report, a heartbeat),
        :data:`ACTIVE` (someone did something: a door, a plug, a button, motion going on)
        or :data:`ONSET` (motion started in a room)."""
        st = self.apartment(ev.apartment)
        ts = ev.ts
        sid = ev.sensor_id
        sensor = st.sensors.get(sid)
        late = False
        prev_seen = sensor.last_seen if sensor is not None else None
        # an unreadable message since this sensor's last one may have been a change: a
        # state that differs now only catches up with it (not someone acting now)
        catchup = (
            sensor is not None
            and sensor.unreadable is not None
            and sensor.unreadable > sensor.last_seen
        )
        if sensor is None:
            sensor = st.sensors[sid] = SensorState(last_seen=ts)
        elif ts < sensor.last_seen:
            late = True  # a newer message of this sensor came first
        elif ts > sensor.last_seen:
            gap = (ts - sensor.last_seen).total_seconds()
            if gap >= GAP_MIN_S:
                gaps = sensor.gaps
                gaps.append(gap)
                if len(gaps) > GAPS_KEPT:
                    del gaps[0]
            sensor.last_seen = ts
        sensor.messages += 1
        if ev.battery is not None:
            sensor.battery = ev.battery
        if ev.linkquality is not None:
            sensor.linkquality = ev.linkquality
        if ev.available is not None:
            sensor.available = ev.available
            if not ev.available:
                sensor.stale = True
            return NOTHING
        if not sensor.available:
            sensor.available = True  # a state message means it is back on the mesh
        if sensor.stale and (ev.occupancy is not None or ev.contact is not None):
            sensor.stale = False
            catchup = True  # its first state since it was offline: not a change now

        role = self.roles.get(sid)
        room = ev.room
        changed_contact = False
        if ev.contact is not None:
            was_contact = sensor.contact
            # a state older than the sensor's newest message arrived late: overtaken
            stale = late
            if not stale:
                sensor.contact = ev.contact
            # a repeated state is a heartbeat; the first report counts only when open
            changed_contact = (
                not stale and was_contact != ev.contact and not (was_contact is None and ev.contact)
            )
            if changed_contact and catchup:
                if role == "front_door" or (room is _ENTRANCE and role is None):
                    self._door(st, ev.contact, ts)
                return NOTHING
            if changed_contact:
                sensor.last_change = ts
            if role == "front_door" or (room is _ENTRANCE and role is None):
                if (
                    stale
                    and not ev.contact
                    and sensor.contact
                    and (sensor.last_change is None or ts > sensor.last_change)
                ):
                    # the door opened, and its "closed" (newer) overtook the "open": a way
                    # out or in that is learnt late, but not to be missed (the presence)
                    sensor.last_change = ts
                    self._door(st, False, ts)
                    self._door(st, True, sensor.last_seen)
                    self._activity(st, room, ts, onset=False)
                    self._moved_since_close(st)
                    return ACTIVE
                if changed_contact:
                    self._door(st, ev.contact, ts)
                    self._activity(st, room, ts, onset=False)
                    return ACTIVE
                if (
                    ev.contact
                    and was_contact
                    and not stale
                    and self._lost_opening(st, ts, prev_seen, sensor)
                ):
                    # "closed" again, not at its check-in, just after a walk to the door: it
                    # opened and closed, and the "open" was lost (as after an unreadable one)
                    self._perhaps_out(st, ts)
                return NOTHING

        active = changed_contact
        onset = False
        if ev.occupancy is not None:
            was = sensor.occupied
            sensor.occupied = ev.occupancy
            if catchup and was is not None and was != ev.occupancy and is_pad(ev.device, role):
                return NOTHING  # a pad's report catching up with a lost change: not now
            if ev.occupancy:
                active = True
                onset = was is not True
                if was is not True:
                    sensor.last_change = ts
                if is_pad(ev.device, role):
                    onset = False  # lying still is not motion
                    active = False
                    self._touch(st, room, ts)
            elif was:
                sensor.last_change = ts
        if ev.vibration or ev.action is not None:
            active = True
        if ev.power is not None:
            on = ev.power > self.config.active_power_w
            if on:
                active = True
                if sensor.powered is not True:
                    sensor.last_change = ts  # switched on: someone did it
            sensor.powered = on
        if active:
            self._activity(st, room, ts, onset=onset)
        if onset and st.apartment != COMMON_APARTMENT:
            self._second_person(st, room, ts, sid)
        return ONSET if onset else ACTIVE if active else NOTHING

    def _touch(self, st: ApartmentState, room: Room, ts: datetime) -> None:
        prev = st.room_activity.get(room.value)
        if prev is None or ts > prev:
            st.room_activity[room.value] = ts
        if st.last_activity is None or ts > st.last_activity:
            st.last_activity = ts

    def _activity(self, st: ApartmentState, room: Room, ts: datetime, onset: bool) -> None:
        self._touch(st, room, ts)
        if onset:
            st.room_onset[room.value] = ts
        if room is _ENTRANCE:
            return
        pending = st.door_closed_pending
        if pending is not None:
            if ts > pending + self._grace:
                st.door_closed_pending = None
                self._pending.pop(st.apartment, None)
                if st.presence != "home":
                    st.presence = "home"
                    st.presence_since = st.door_changed or ts
        elif st.presence != "home":
            st.presence = "home"
            st.presence_since = ts

    def _moved_since_close(self, st: ApartmentState) -> None:
        """A door close learnt late: movement already seen after it proves someone home."""
        pending = st.door_closed_pending
        if (
            pending is not None
            and st.last_activity is not None
            and st.last_activity > pending + self._grace
        ):
            st.door_closed_pending = None
            self._pending.pop(st.apartment, None)

    def _door(self, st: ApartmentState, closed: bool, ts: datetime) -> None:
        if st.door_open is (not closed) and st.door_changed is not None and ts <= st.door_changed:
            return
        st.door_open = not closed
        st.door_changed = ts
        if closed:
            st.door_closed_pending = ts
            self._pending[st.apartment] = ts + self._away_after
        else:
            st.door_closed_pending = None
            self._pending.pop(st.apartment, None)

    def _second_person(self, st: ApartmentState, room: Room, ts: datetime, sid: str) -> None:
        if room in CONNECTING_ROOMS:
            return
        seen = False
        hall = st.room_activity.get(_HALL_NAME)
        entrance = st.room_activity.get(_ENTRANCE_NAME)  # the entrance hall's sensor
        if entrance is not None and (hall is None or entrance > hall):
            hall = entrance
        for other, onset in st.room_onset.items():
            if other == room.value or other in _CONNECTING_NAMES:
                continue
            if abs(ts - onset) <= self._two_rooms:
                if hall is not None and min(ts, onset) <= hall <= max(ts, onset):
                    continue  # the hall between the two: one person walking through
                seen = True
                break
        if not seen:
            pads = self._pads
            for other_id, sensor in st.sensors.items():
                if other_id == sid or not sensor.occupied:
                    continue
                found = pads.get(other_id)
                if found is None:
                    _, other_room, device = other_id.split("/", 2)
                    found = pads[other_id] = (other_room, is_pad(device, self.roles.get(other_id)))
                if found[1] and found[0] != room.value:
                    seen = True
                    break
        if seen:
            until = ts + self._hold
            if st.second_person_until is None or until > st.second_person_until:
                st.second_person_until = until

    # --- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "apartments": {k: v.to_dict() for k, v in self.apartments.items()},
            "pending": {k: v.isoformat() for k, v in self._pending.items()},
        }

    def to_json(self) -> str:
        """The text of ``json.dumps(self.to_dict(), sort_keys=True)``, made one apartment
        at a time (the whole flat's state as dicts at once was a save's peak memory)."""
        apts = ", ".join(
            f"{json.dumps(k)}: {json.dumps(self.apartments[k].to_dict(), sort_keys=True)}"
            for k in sorted(self.apartments)
        )
        pending = json.dumps({k: v.isoformat() for k, v in self._pending.items()}, sort_keys=True)
        return f'{{"apartments": {{{apts}}}, "pending": {pending}}}'

    def load(self, data: dict[str, Any]) -> None:
        self.apartments = {
            k: ApartmentState.from_dict(k, v) for k, v in data.get("apartments", {}).items()
        }
        self._pending = {k: datetime.fromisoformat(v) for k, v in data.get("pending", {}).items()}
