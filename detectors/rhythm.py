"""Shared pieces of the detectors that learn a resident's rhythm (``inactivity``,
``fall_silence``, ``long_bathroom``, ``no_wake``).

- :func:`is_movement`: what counts as the resident doing something. Motion detected by a
  PIR, a door or cupboard opening or closing, getting on or off a bed or chair pad, a plug
  switched on, a button. Not: a sensor's periodic report, a pad that stays occupied, a TV
  that keeps drawing power (someone may lie on the floor while it plays).
- :class:`Silence`: per apartment, the last movement, where it was, and whether the resident
  was away or had a visitor since (such a silence teaches nothing and alarms nobody).
- :func:`covered`: silence means stillness only in a home whose hall has a motion sensor
  (every walk between rooms passes it). Where it has none (as in the public recordings,
  which watch a few rooms only) a silence may be someone in a room nobody watches, and the
  silence detectors raise nothing (``needs_hall_motion``).
- Unseen stays (:class:`UnseenStays`, :meth:`RhythmDetector.allowance`): a PIR misses
  walks now and then (the real recordings show 0-21 % of activities with no activation of
  their room's PIR), a seated resident may not trip one for an hour, and a chair or bed
  pad sees only the chair or bed it is under. So a silence that begins in a room people
  pass through (hall, kitchen, toilet, bathroom: :data:`TRANSIT`) may be the resident gone
  back to the armchair or to bed unseen, not someone on the floor. Each home shows how
  often that happens: a silence that began in a transit room and ended with the resident
  seen in another room (not the hall or the entrance, which a walk out of the room would
  pass) at least ``unseen_walk_minutes`` later was such an unseen stay. Per apartment and
  per part of the day (night: 22:00-07:00, the hours a night visit ends back in bed) the
  detectors keep those of the last ``window_days`` days: how often they come (``n`` a
  month) and how long they last past the walk (mean ``mu`` minutes; an exponential tail,
  the waiting time until the next PIR trip or pad change). A silence in a transit room
  then is an alarm only past ``walk + mu * ln(n / unseen_budget)`` minutes: the length
  unseen stays of this home outlast less than ``unseen_budget`` times a month. In a home
  whose PIRs see every walk, or where a pad sees the return to the chair or the bed, the
  stays are few and short and the allowance is small or none; in a home whose PIRs miss
  walks, a silence in the kitchen is read as the resident elsewhere, and a fall there is
  found as any long silence is (``inactivity``), later.
- :func:`sensor_doubt`: a silent sensor is not a still resident. Before a care alarm the
  detectors ask which of the apartment's motion sensors and pads (and the front door) are quiet by
  their own reporting rhythm (:meth:`edge.state.SensorState.quiet`). The alarm is held back
  when a quiet sensor could be the reason nothing is seen: it watches the room of the last
  movement, or the hall (every walk passes it), or the last movement was in the hall;
  otherwise it is raised with the quiet sensors named in its evidence (``uncertain``).
  A quiet sensor that checks in by itself, or whose last battery level was low
  (``flat_battery_pct``, :func:`presumed_dead`), is presumed dead and holds the alarm
  back for as long as it is quiet; one that speaks only when used, with no such sign,
  only delays it (``doubt_factor``). A sensor that could explain it and is merely
  overdue (silent longer than its usual longest, not yet quiet) makes the alarm wait for
  its next message or its silence.
  A held-back alarm raises the device problem for housing at once (when the sensor's own
  rhythm is known; otherwise ``sensor_offline`` raises it after its 25 h)
  (:func:`device_candidate`, kind ``sensor_offline``, the same id the ``sensor_offline``
  detector gives that silence later, so it is one signal in the register).

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> t = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> state = FlatState(StateConfig())
>>> def ev(minutes, room, device, **kw):
...     ts = t + timedelta(minutes=minutes)
...     e = SensorEvent(ts=ts, received=ts, apartment="a1", room=room, device=device, **kw)
...     state.apply(e)
...     return is_movement(e, state.apartments["a1"].sensors[e.sensor_id])
>>> ev(0, Room.KITCHEN, "motion", occupancy=True), ev(1, Room.KITCHEN, "motion", battery=80)
(True, False)
>>> ev(2, Room.LIVING, "tv", power=80.0), ev(30, Room.LIVING, "tv", power=81.0)
(True, False)
>>> ev(3, Room.LIVING, "chair_pad", occupancy=True), ev(9, Room.LIVING, "chair_pad", occupancy=True)
(True, False)
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from detectors.base import (
    NOTHING,
    Candidate,
    Detector,
    DetectorSettings,
    EventStep,
    Found,
    StepGroup,
)
from detectors.devices import checks_in
from detectors.text import texts
from edge.models import COMMON_APARTMENT, Room, SensorEvent, SignalKind
from edge.state import hall_watched, is_front_door, is_pad

if TYPE_CHECKING:
    from edge.state import ApartmentState, FlatState, SensorState

logger = logging.getLogger(__name__)

CONNECTING = frozenset({Room.HALL.value, Room.ENTRANCE.value})
TRANSIT = frozenset({Room.HALL.value, Room.KITCHEN.value, Room.TOILET.value, Room.BATHROOM.value})
"""Rooms people pass through or visit briefly: a silence there is not rest."""
NIGHT_FROM = 22
NIGHT_UNTIL = 7
"""Local hours of the night, for unseen stays (a night visit ends back in bed)."""
DAYS_PER_MONTH = 30.44
WAIT_MINUTES = 10.0
"""How often an alarm waiting on an overdue sensor looks again."""
_LEARN_MAX = timedelta(hours=30)
"""A silence ended by movement is learned from only when it lasted at most this long."""


def is_movement(event: SensorEvent, sensor: SensorState | None, role: str | None = None) -> bool:
    """Did the resident (or someone) do something? ``sensor`` is the state after the event."""
    if sensor is None or event.available is not None:
        return False
    if event.action is not None or event.vibration:
        return True
    if event.occupancy is not None:
        if is_pad(event.device, role):
            return sensor.last_change == event.ts  # got on or off
        return event.occupancy  # a PIR reports each detection
    if event.contact is not None or event.power is not None:
        return sensor.last_change == event.ts  # opened/closed, or switched on
    return False


def is_watching(sid: str, sensor: SensorState, role: str | None) -> bool:
    """A sensor whose silence could hide the resident: a PIR or a bed or chair pad (both
    report occupancy; a pad says whether a silence is rest), or the front door contact."""
    if sensor.occupied is not None:
        return True
    return sensor.contact is not None and is_front_door(sid.split("/")[1], role)


@dataclass(slots=True)
class Silence:
    """One apartment's current silence: since the last movement, where it was."""

    last: datetime
    room: str
    away: bool = False
    visitor: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"last": self.last.isoformat(), "room": self.room, "away": self.away,
                "visitor": self.visitor}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Silence:
        return cls(datetime.fromisoformat(d["last"]), d["room"], d["away"], d["visitor"])

    def note(self, st: ApartmentState, now: datetime) -> None:
        """Remember that the resident was away, or not alone, during this silence."""
        if st.presence == "away":
            self.away = True
        if st.second_person(now):
            self.visitor = True

    @property
    def clean(self) -> bool:
        """Alone at home throughout: worth learning from, and worth an alarm."""
        return not (self.away or self.visitor)


def _could_hide(sid: str, last_room: str) -> bool:
    """Could this sensor's silence explain not seeing the resident last seen in ``last_room``?"""
    room = sid.split("/")[1]
    return room == last_room or room in CONNECTING or last_room in CONNECTING


def sensor_doubt(
    st: ApartmentState,
    now: datetime,
    last_room: str,
    roles: dict[str, str],
    worth_waiting: Callable[[SensorState], bool] = checks_in,
) -> tuple[bool, list[str], bool]:
    """``(hold_back, quiet, wait)``: the apartment's quiet watching sensors, whether they
    could explain the silence (see the module docstring), and whether one that could is
    overdue (silent longer than usual, not yet quiet: its next message, or its silence,
    will tell; the alarm waits for that). Only a sensor ``worth_waiting`` for is overdue
    in that sense, by default one known to check in by itself: one that speaks only when
    used is silent just as a still resident is, and waiting for it waits for the resident
    to move."""
    quiet: list[str] = []
    wait = False
    for sid, s in st.sensors.items():
        if not is_watching(sid, s, roles.get(sid)):
            continue
        if s.quiet(now):
            quiet.append(sid)
        elif not wait and s.overdue(now) and _could_hide(sid, last_room) and worth_waiting(s):
            wait = True
    quiet.sort()
    hold = any(_could_hide(sid, last_room) for sid in quiet)
    return hold, quiet, wait


def worth_waiting(s: RhythmSettings) -> Callable[[SensorState], bool]:
    """Which overdue sensor a silence alarm waits for: one that may have died
    (:func:`presumed_dead`), or any where doubt is to hold (``doubt_factor`` over 1)."""
    return lambda sensor: s.doubt_factor > 1 or presumed_dead(sensor, s.flat_battery_pct)


def presumed_dead(sensor: SensorState, flat_pct: float) -> bool:
    """Is this quiet sensor's silence a sign that it died: it checks in by itself
    (:func:`detectors.devices.checks_in`), or its last reported battery level was
    ``flat_pct`` or less (a battery that low goes flat any day; a sensor that speaks only
    when used gives no other sign)?"""
    return checks_in(sensor) or (sensor.battery is not None and sensor.battery <= flat_pct)


def device_candidate(
    st: ApartmentState, sid: str, at: datetime, because: str, tz: tzinfo
) -> Candidate:
    """The housing signal for a quiet sensor that held a care alarm back."""
    sensor = st.sensors[sid]
    since = sensor.last_seen
    _, room, device = sid.split("/", 2)
    return Candidate(
        kind=SignalKind.SENSOR_OFFLINE,
        apartment=st.apartment,
        start=since,
        detected_at=at,
        summary=texts(
            "Sensor '{device}' in {room} geeft sinds {time} geen signaal meer: controleren "
            "(een zorgmelding is daarom achtergehouden).",
            "Sensor '{device}' in {room} has been silent since {time}: check it "
            "(a care alarm was held back because of it).",
            room=room,
            device=device,
            time=f"{since.astimezone(tz):%d-%m %H:%M}",
        ),
        evidence={
            "detector": "sensor_offline",  # the meeting's verdict on a device goes there
            "sensor": sid,
            "last_seen": since.isoformat(),
            "how": "held back " + because,
            "silent_hours": round((at - since).total_seconds() / 3600, 1),
            "usual_limit_hours": round(sensor.quiet_limit().total_seconds() / 3600, 1),
        },
        key=sid,
    )


def quantile(values: Any, q: float) -> float:
    """The ``q`` quantile of a bounded window (numpy's default linear interpolation)."""
    return float(np.quantile(np.asarray(values, dtype=float), q))


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


class UnseenStays:
    """Per apartment, the unseen stays of the last days and since when they are watched
    (see the module docstring): silences that began in a transit room and ended with the
    resident seen in another room (not the hall or the entrance) a walk's time or more
    later."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.kept: dict[str, list[tuple[datetime, float, bool]]] = {}
        """apt -> unseen stays (when it ended, minutes, begun at night), oldest first."""
        self.since: dict[str, datetime] = {}
        """apt -> its first movement seen (how long unseen stays have been watched for)."""

    def night(self, at: datetime) -> bool:
        hour = at.astimezone(self.tz).hour
        return hour >= NIGHT_FROM or hour < NIGHT_UNTIL

    def note(
        self, apt: str, sil: Silence, event: SensorEvent, walk: float, window_days: int
    ) -> None:
        """Keep the silence ``sil`` ended by ``event`` if it was an unseen stay. (A silence
        someone was paged for counts too: seen again in another room, the resident was
        not on the floor where the silence began.)"""
        room = event.room.value
        if sil.room not in TRANSIT or room == sil.room or room in CONNECTING:
            return
        m = minutes(event.ts - sil.last)
        if m < walk:
            return
        kept = self.kept.setdefault(apt, [])
        kept.append((event.ts, round(m, 1), self.night(sil.last)))
        cut = event.ts - timedelta(days=window_days)
        while kept and kept[0][0] < cut:
            kept.pop(0)

    def allowance(
        self, apt: str, since: datetime, window_days: int, walk: float, budget: float
    ) -> float:
        """Minutes a silence begun in a transit room at ``since`` must last before it is
        more likely a fall than the resident gone on unseen (0: no allowance):
        ``walk + mu * ln(n / budget)`` over this part of the day's stays."""
        kept = self.kept.get(apt)
        first = self.since.get(apt)
        if not kept or first is None:
            return 0.0
        night = self.night(since)
        cut = since - timedelta(days=window_days)
        stays = [m for end, m, n in kept if n == night and end >= cut]
        if not stays:
            return 0.0
        days = max(1.0, min(float(window_days), (since - first).total_seconds() / 86400))
        per_month = len(stays) / days * DAYS_PER_MONTH
        if per_month <= budget:
            return 0.0
        mu = sum(m - walk for m in stays) / len(stays)
        return round(walk + mu * math.log(per_month / budget), 1)

    def state_dict(self) -> dict[str, Any]:
        return {
            "unseen": {
                k: [[e.isoformat(), m, n] for e, m, n in v] for k, v in sorted(self.kept.items())
            },
            "since": {k: v.isoformat() for k, v in sorted(self.since.items())},
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self.kept = {
            k: [(datetime.fromisoformat(e), float(m), bool(n)) for e, m, n in v]
            for k, v in data.get("unseen", {}).items()
        }
        self.since = {k: datetime.fromisoformat(v) for k, v in data.get("since", {}).items()}


class RhythmSettings(DetectorSettings):
    """Settings every silence-based detector shares."""

    learn_days: int = Field(
        14, ge=3, le=90, description="Days of data before the learned rule replaces the cold one."
    )
    window_days: int = Field(28, ge=7, le=120, description="How many recent days are learned from.")
    max_widen: float = Field(
        2.0,
        ge=1.0,
        le=4.0,
        description="Each false-alarm verdict widens the margin by a quarter, up to this factor.",
    )
    needs_hall_motion: bool = Field(
        True,
        description="Raise only where the hall (which every walk passes) has a motion sensor.",
    )
    recheck_minutes: float = Field(
        30.0,
        gt=0,
        le=240,
        description="An alarm held back by a quiet sensor is looked at again this often.",
    )
    unseen_walk_minutes: float = Field(
        5.0,
        ge=1.0,
        le=60.0,
        description="A silence from a transit room ended in another room (not the hall) at "
        "least this long after: the resident was there unseen (walks take seconds).",
    )
    unseen_budget: float = Field(
        0.01,
        gt=0.0,
        le=1.0,
        description="A silence in a transit room alarms only past the length this home's "
        "unseen stays outlast less often than this many times a month (per part of the "
        "day). 0.01: four such budgets (day and night, fall_silence and long_bathroom) "
        "stay within the 0.05 false urgent signals a month the project allows.",
    )
    flat_battery_pct: float = Field(
        15.0,
        ge=0.0,
        le=100.0,
        description="A quiet sensor whose last battery level was this or less is presumed "
        "dead and holds a care alarm back as one that checks in does (low_battery's "
        "threshold).",
    )
    doubt_factor: float = Field(
        1.0,
        ge=1.0,
        le=10.0,
        description="A quiet sensor not known to check in by itself holds a care alarm "
        "back until the silence is this many times as long as when the alarm was first "
        "held; then it is raised, marked uncertain (such doubt delays an alarm, it does "
        "not silence it; 1: no delay). One presumed dead (it checks in, or its battery "
        "was low) holds it back.",
    )


class RhythmDetector(Detector):
    """The skeleton of ``inactivity``, ``fall_silence`` and ``long_bathroom``: follow each
    apartment's silence, learn from clean ones that paged nobody (:meth:`learn`), schedule
    the moment the current one would be too long (:meth:`due`), and at that moment check
    home, alone and the sensors before raising (:meth:`alarm`). One alarm per silence; a
    restart carries on.

    A movement returns the due it scheduled (movements come many times a minute: the hub
    need not ask all three detectors for their next due after each one)."""

    unseen_stays = True
    """Whether this detector keeps unseen stays (:meth:`allowance`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sil: dict[str, Silence] = {}
        self._due: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []
        self._widen: dict[str, float] = {}
        self._devices: set[str] = set()
        self._held: dict[str, tuple[datetime, datetime]] = {}
        """apt -> (the silence's start, when its alarm was first held back)."""
        self._exact: set[str] = set()
        """Apartments whose scheduled due is exact (not :meth:`soonest`'s bound)."""
        self._unseen = UnseenStays(self.tz)

    # --- for subclasses ---------------------------------------------------------------

    def learn(self, apt: str, sil: Silence, end: datetime, event: SensorEvent) -> None:
        """A clean silence ended at ``end`` (by ``event``)."""

    def moved(self, apt: str, event: SensorEvent, st: ApartmentState) -> None:
        """A movement (after :meth:`learn`, before the new silence is scheduled)."""

    def overtaken(self, apt: str, event: SensorEvent, st: ApartmentState) -> bool:
        """A movement that arrived after a newer one (it ends no silence): whether what it
        changed in the state changes the running silence's due (then it is worked out
        again). By default nothing does."""
        return False

    def due(self, apt: str, sil: Silence, st: ApartmentState) -> datetime | None:
        """When the silence ``sil`` becomes too long to ignore (``None``: never)."""
        raise NotImplementedError

    def soonest(self, apt: str, sil: Silence) -> timedelta | None:
        """A cheap lower bound of ``due - sil.last`` (``None``: :meth:`due` at once).
        Movements come many times a minute; the exact due is worked out only when this
        bound has passed without one."""
        return None

    def alarm(self, apt: str, sil: Silence, at: datetime, st: ApartmentState) -> Candidate | None:
        """The care signal for a silence found too long at ``at`` (``None``: not this one)."""
        raise NotImplementedError

    def widen(self, apt: str) -> float:
        return self._widen.get(apt, 1.0)

    # --- the hooks --------------------------------------------------------------------

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        return silence_step((self,), event, state)

    def _movement(
        self, apt: str, event: SensorEvent, st: ApartmentState, noting: bool
    ) -> datetime | None:
        """A movement in ``apt`` (its silence already noted): learn from the silence it
        ended, begin the next one and schedule when that would be too long (returned:
        the due it scheduled, if any)."""
        ts = event.ts
        sil = self._sil.get(apt)
        if sil is not None:
            if ts <= sil.last:
                # a late arrival: the silence it ended is already over, but what it changed
                # (a pad sat on) may change the running silence's due
                if self.overtaken(apt, event, st):
                    bound = self.soonest(apt, sil)
                    due = self._set_due(
                        apt, self.due(apt, sil, st) if bound is None else sil.last + bound
                    )
                    self._exact.discard(apt)
                    return due
                return None
            if self.unseen_stays and sil.clean and ts - sil.last <= _LEARN_MAX:
                s = self.settings(apt)
                self._unseen.note(apt, sil, event, s.unseen_walk_minutes, s.window_days)
            if sil.clean and ts - sil.last <= _LEARN_MAX and st.silence_alarm != sil.last:
                # (a silence someone was paged for teaches nothing: a fall's three hours
                # learned as "usual" would hide the next one for weeks; a false alarm
                # widens the margin through the meeting's verdict instead)
                self.learn(apt, sil, ts, event)
        self._unseen.since.setdefault(apt, ts)
        self.moved(apt, event, st)
        new = self._sil[apt] = Silence(ts, str(event.room))
        if noting:
            new.note(st, ts)
        bound = self.soonest(apt, new)
        due = self._set_due(apt, self.due(apt, new, st) if bound is None else ts + bound)
        self._exact.discard(apt)
        return due

    def allowance(self, apt: str, since: datetime) -> float:
        """Minutes a silence begun in a transit room at ``since`` must last before it is
        more likely a fall than the resident gone on unseen (:class:`UnseenStays`)."""
        s = self.settings(apt)
        return self._unseen.allowance(apt, since, s.window_days, s.unseen_walk_minutes,
                                     s.unseen_budget)  # fmt: skip

    def _set_due(self, apt: str, due: datetime | None) -> datetime | None:
        """Schedule ``apt``'s silence at ``due``; returns it when it is a new due time."""
        if due is None:
            self._due.pop(apt, None)
            return None
        if self._due.get(apt) != due:
            self._due[apt] = due
            heapq.heappush(self._heap, (due, apt))
            return due
        return None

    def next_due(self) -> datetime | None:
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def on_tick(self, now: datetime, state: FlatState) -> Found:
        out: list[Candidate] = []
        while self._heap and self._heap[0][0] <= now:
            due, apt = heapq.heappop(self._heap)
            if self._due.get(apt) != due:
                continue
            del self._due[apt]
            out.extend(self._check(apt, due, state))
        return Found(tuple(out), due=self.next_due())

    def _check(self, apt: str, due: datetime, state: FlatState) -> list[Candidate]:
        sil = self._sil[apt]
        st = state.apartments.get(apt)
        if st is None:
            return []
        if apt not in self._exact:
            self._exact.add(apt)
            exact = self.due(apt, sil, st)
            if exact is None:
                return []
            if exact > due:
                self._set_due(apt, exact)  # on_tick's loop takes it if it has passed too
                return []
        sil.note(st, due)
        if not self.settings(apt).enabled:
            return []  # switched off here: leave the silence to the others
        if not sil.clean or st.presence == "away" or sil.room == Room.ENTRANCE.value:
            return []  # out, away, or not alone: nothing to raise for this silence
        if st.silence_alarm == sil.last:
            return []  # another silence detector paged for this silence already
        s = self.settings(apt)
        if s.needs_hall_motion and not hall_watched(st, self.roles):
            return []  # a silence here may be someone in a room no sensor sees
        hold, quiet, wait = sensor_doubt(st, due, sil.room, self.roles, worth_waiting(s))
        if (
            hold
            and not any(
                presumed_dead(st.sensors[sid], s.flat_battery_pct) and _could_hide(sid, sil.room)
                for sid in quiet
            )
            and self._doubted_long_enough(apt, sil, due, s.doubt_factor)
        ):
            hold = wait = False  # (quiet only by use, long enough: raised, quiet ones named)
        if wait and not hold:
            self._set_due(apt, due + timedelta(minutes=WAIT_MINUTES))
            return []
        if hold:
            logger.info("%s held back for %s: quiet sensors %s", self.name, apt, quiet)
            out = []
            for sid in quiet:
                if st.sensors[sid].usual_gap() is None:
                    continue  # its rhythm is not known yet: sensor_offline's 25 h will tell
                mark = f"{sid}|{st.sensors[sid].last_seen.isoformat()}"
                if mark not in self._devices:
                    self._devices.add(mark)
                    out.append(
                        device_candidate(st, sid, due, f"a care alarm ({self.name})", self.tz)
                    )
            if due - sil.last < timedelta(hours=24):
                self._set_due(apt, due + timedelta(minutes=s.recheck_minutes))
            return out
        cand = self.alarm(apt, sil, due, st)
        if cand is None:
            return []
        st.silence_alarm = sil.last
        if quiet:
            cand.evidence["uncertain"] = quiet
        return [cand]

    def _doubted_long_enough(self, apt: str, sil: Silence, due: datetime, factor: float) -> bool:
        """Whether a hold for quiet sensors has lasted long enough: the silence is now
        ``factor`` times as long as when its alarm was first held back."""
        held = self._held.get(apt)
        if held is None or held[0] != sil.last:
            self._held[apt] = (sil.last, due)
            return factor <= 1.0
        first = held[1]
        return due - sil.last >= (first - sil.last) * factor

    def feedback(self, apartment: str, verdict: str) -> str | None:
        """A false alarm widens this apartment's margin by a quarter (up to ``max_widen``)."""
        if verdict != "false_alarm":
            return None
        before = self.widen(apartment)
        after = min(before * 1.25, self.settings(apartment).max_widen)
        if after == before:
            return None
        self._widen[apartment] = after
        return f"margin x{before:.2f} -> x{after:.2f}"

    def state_dict(self) -> dict[str, Any]:
        return {
            "silence": {k: v.to_dict() for k, v in sorted(self._sil.items())},
            "due": {k: v.isoformat() for k, v in sorted(self._due.items())},
            "widen": dict(sorted(self._widen.items())),
            "devices": sorted(self._devices),
            "held": {k: [a.isoformat(), b.isoformat()] for k, (a, b) in sorted(self._held.items())},
            "exact": sorted(self._exact),
            **self._unseen.state_dict(),
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self._sil = {k: Silence.from_dict(v) for k, v in data.get("silence", {}).items()}
        self._due = {k: datetime.fromisoformat(v) for k, v in data.get("due", {}).items()}
        self._widen = {k: float(v) for k, v in data.get("widen", {}).items()}
        self._devices = set(data.get("devices", []))
        self._held = {
            k: (datetime.fromisoformat(a), datetime.fromisoformat(b))
            for k, (a, b) in data.get("held", {}).items()
        }
        self._exact = set(data.get("exact", []))
        self._unseen.load_state(data)
        self._heap = [(v, k) for k, v in self._due.items()]
        heapq.heapify(self._heap)


def silence_step(
    detectors: Sequence[RhythmDetector], event: SensorEvent, state: FlatState
) -> Found:
    """One event for silence detectors that share their device roles: whether it is a
    movement, and whether the state has anything to note on a silence (away, a visitor),
    is worked out once for all of them; each then notes its own silence, and on a
    movement learns and schedules (:meth:`RhythmDetector._movement`). Most events are
    reports, not movements, with nothing to note: they cost one look. Nothing is raised
    here (alarms come at due times, from :meth:`RhythmDetector.on_tick`); returned is the
    soonest due a movement scheduled, for all of them (a detector whose own due is later
    is looked at once in vain)."""
    apt = event.apartment
    if apt == COMMON_APARTMENT:
        return NOTHING
    st = state.apartments[apt]
    noting = st.presence == "away" or st.second_person_until is not None
    if noting:
        ts = event.ts
        for det in detectors:
            sil = det._sil.get(apt)
            if sil is not None:
                sil.note(st, ts)
    sid = event.sensor_id
    if not is_movement(event, st.sensors.get(sid), detectors[0].roles.get(sid)):
        return NOTHING
    soonest = None
    for det in detectors:
        due = det._movement(apt, event, st, noting)
        if due is not None and (soonest is None or due < soonest):
            soonest = due
    return NOTHING if soonest is None else Found(due=soonest)


class SharedSilence(StepGroup):
    """Stands in the pipeline's per-event list for the silence detectors of one apartment
    (:func:`share_silence`): one call per event instead of one per detector."""

    name = "silence"
    detectors: tuple[RhythmDetector, ...]

    def __init__(self, detectors: Sequence[RhythmDetector]) -> None:
        self.detectors = tuple(detectors)

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        return silence_step(self.detectors, event, state)


def share_silence(steps: Sequence[EventStep]) -> list[EventStep]:
    """``steps`` (an apartment's per-event detectors, in order) with its silence detectors
    taken together into one :class:`SharedSilence`, where the first of them stood. Only
    those with the same device roles as the first (in a hub: all). Their per-event step
    raises nothing and changes nothing the others read, so taking them together does not
    change what any detector sees or does."""
    silent = [s for s in steps if isinstance(s, RhythmDetector)]
    shared = [d for d in silent if d.roles == silent[0].roles] if silent else []
    if len(shared) < 2:
        return list(steps)
    out: list[EventStep] = []
    for step in steps:
        if step is shared[0]:
            out.append(SharedSilence(shared))
        elif not any(step is d for d in shared):
            out.append(step)
    return out
