"""``no_wake``: the resident is not up by their usual time (plus a margin). Urgent, care.

"Up" is the first activity in the day rooms between ``day_starts`` and ``day_ends`` (motion in
the kitchen or living room, the front door, a plug in use, a button), or the bed pad
clearing for good (not back in bed within ``out_of_bed_minutes``: then it is the time
the pad cleared). Toilet and bathroom visits do not count: at night they are no waking up.
For a resident living alone with a bed pad, a day room seen while out of bed is up only
once they stay out of bed ``out_of_bed_minutes`` (then since the pad cleared): a night
visit to the kitchen before the usual hour, back to bed, is no waking up, is not learned
as a wake time, and activity before going back to bed does not count as up and about.

Each apartment's own rhythm is learned from its last ``window_days`` wake times, weekdays
and weekends apart (a weekend rhythm once ``group_days`` weekend mornings are known; until
then the whole week's). The deadline is the usual wake time of that kind of day (the
median) plus ``spread_k`` times the resident's day-to-day spread (the larger of the
standard deviation and its robust estimate, 1.4826 times the median absolute deviation:
a resident who now and then sleeps in late gets the room for it), at least
``min_late_minutes`` and
at most ``max_late_minutes`` later, plus ``margin_minutes``; each false-alarm verdict of
the signal meeting widens that lateness by a quarter (up to ``max_widen``). A regular
sleeper is looked after soon; an irregular one gets the room their rhythm needs.
For the first ``learn_days`` wake times a conservative rule holds: from ``early_days``
wake times on, their median plus ``max_late_minutes`` (the lateness the most irregular
sleeper is allowed: a few mornings cannot show the spread, so it is not trusted yet),
never before the latest of them plus ``early_late_minutes``, and never later than the
fixed ``cold_deadline``, which alone holds before that. The learned deadline never falls
before ``earliest`` nor after ``latest``.

No alarm while the apartment is away (out, on holiday, in hospital), nor when it has been
quiet for a whole day already (nobody home, or sensors down: that is for housing, through
``sensor_offline``), nor when none of the apartment's sensors reported in the last hours
(a silent sensor is not a still resident: the care alarm is held back and logged). Doubt
does not silence it, though, where the silence is what a resident still in bed looks like
(issue 18): the bed pad of a resident alone says in bed, no sensor that could hide a getting
up and went quiet is known to check in by itself (``devices.checks_in``; sensors that speak
only when used say nothing all night), and the deadline is the resident's own (the learned
or the early rule, not pulled forward by the 11:45 cap for everyone: Ordonez A's resident
sleeps until 12:37 on ordinary days, which a few mornings cannot show). Then it is raised,
the quiet sensors named ``uncertain``. No alarm either
when someone was about outside the bedroom in the last ``about_minutes``. Where there is a
bed pad its state goes into the evidence (``in_bed``). A morning it raised the alarm for
is not learned: whoever came is no wake time of the resident's.

>>> from datetime import datetime, timedelta
>>> from zoneinfo import ZoneInfo
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> tz = ZoneInfo("Europe/Amsterdam")
>>> d = NoWakeDetector(lambda apt: NoWakeSettings(enabled=True), tz=tz)
>>> state = FlatState(StateConfig())
>>> def motion(day, hour, room=Room.KITCHEN, moving=True):
...     t = datetime(2026, 1, 5, tzinfo=tz) + timedelta(days=day, hours=hour)
...     ev = SensorEvent(ts=t, received=t, apartment="a1", room=room, device="m",
...                      occupancy=moving)
...     state.apply(ev)
...     return d.on_event(ev, state)
>>> _ = [motion(day, h) for day in range(3) for h in (7.5, 12, 18, 22)]
>>> _ = motion(3, 2, Room.BEDROOM)   # a night: in the bedroom only, then nothing
>>> _ = [motion(3, h, r, moving=False)   # hourly reports: the sensors live, nobody moves
...      for h in range(3, 12) for r in (Room.KITCHEN, Room.BEDROOM, Room.HALL)]
>>> due = d.next_due(); (due.hour, due.minute)   # learning: the median of 3 wakes + 100 min
(9, 10)
>>> [(c.kind.value, c.severity.value) for c in d.on_tick(due, state).candidates]
[('no_wake', 'urgent')]
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from detectors.base import NOTHING, Candidate, Detector, DetectorSettings, Found, register
from detectors.devices import checks_in
from detectors.rhythm import device_candidate, is_watching, sensor_doubt
from detectors.text import hhmm, texts
from edge.models import COMMON_APARTMENT, Room, SensorEvent, SignalKind
from edge.state import is_pad

if TYPE_CHECKING:
    from edge.state import ApartmentState, FlatState, SensorState

logger = logging.getLogger(__name__)

_DAY_ROOMS = frozenset({Room.KITCHEN, Room.LIVING, Room.ENTRANCE, Room.BALCONY})


class NoWakeSettings(DetectorSettings):
    enabled: bool = Field(True, description="Run this detector (per flat or per apartment).")
    day_starts: time = Field(time(5, 0), description="Activity before this is still night.")
    day_ends: time = Field(
        time(14, 0),
        description="The first activity of the day after this is no wake time (the "
        "resident was out, or someone came).",
    )
    cold_deadline: time = Field(
        time(11, 45), description="While learning: not up by this time raises the signal."
    )
    learn_days: int = Field(14, ge=3, le=90, description="Wake times needed before learning.")
    early_days: int = Field(
        3,
        ge=1,
        le=90,
        description="While learning, from this many wake times: their median plus "
        "max_late_minutes is the deadline (never later than the cold deadline)...",
    )
    early_late_minutes: float = Field(
        30.0,
        ge=0,
        le=360,
        description="...and never earlier than the latest of them plus this.",
    )
    window_days: int = Field(
        42, ge=7, le=120, description="How many recent wake times are learned from."
    )
    group_days: int = Field(
        4,
        ge=2,
        le=30,
        description="Wake times of a kind of day (weekday, weekend) for its own rhythm.",
    )
    spread_k: float = Field(
        4.0, ge=1.0, le=6.0, description="The deadline: usual wake time plus this many spreads..."
    )
    min_late_minutes: float = Field(
        60.0, ge=0, le=240, description="...at least this much later..."
    )
    max_late_minutes: float = Field(
        100.0, ge=0, le=360, description="...at most this much later (before widening)..."
    )
    margin_minutes: float = Field(0.0, ge=0, le=240, description="...plus this.")
    max_widen: float = Field(
        2.0,
        ge=1.0,
        le=4.0,
        description="False-alarm verdicts widen the lateness up to this factor.",
    )
    out_of_bed_minutes: float = Field(
        30.0,
        ge=1,
        le=240,
        description="The bed pad clear this long (not back in bed): up since it cleared.",
    )
    about_minutes: float = Field(
        90.0,
        ge=0,
        le=360,
        description="Activity outside the bedroom this recently at the deadline: up and about.",
    )
    earliest: time = Field(time(6, 0), description="The deadline is never earlier...")
    latest: time = Field(time(11, 45), description="...nor later than this.")
    sensors_quiet_hours: float = Field(
        3.0,
        gt=0,
        le=48,
        description="No motion sensor heard from for this long: hold the alarm back.",
    )


# long: not yet split: the wake-time model apart is issue 19's next step
@register
class NoWakeDetector(Detector):
    name = "no_wake"
    settings_model = NoWakeSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wakes: dict[str, deque[tuple[date, float]]] = {}
        self._widen: dict[str, float] = {}
        self._pending: dict[str, datetime] = {}
        """apartment -> when its bed pad cleared this morning (up, unless back within
        ``out_of_bed_minutes``: then it was a night visit to the toilet)."""
        self._up: dict[str, date] = {}
        self._alarmed: dict[str, date] = {}
        """apartment -> the last morning it raised the alarm for (not learned from)."""
        self._deadline: dict[str, datetime] = {}
        self._retry: dict[str, datetime] = {}
        """apartment -> its own deadline this morning, looked at again after the cap."""
        self._heap: list[tuple[datetime, str]] = []
        self._scheduled: datetime | None = None
        """The soonest deadline scheduled during the current :meth:`on_event`."""

    # --- learning ----------------------------------------------------------------------

    def _minutes(self, local: datetime) -> float:
        return local.hour * 60 + local.minute + local.second / 60

    def _at(self, day: date, minutes: float) -> datetime:
        return datetime.combine(day, time(0), self.tz) + timedelta(minutes=minutes)

    def rhythm(self, apartment: str, day: date) -> tuple[float, float, int] | None:
        """The usual wake time for ``day``'s kind (minutes after midnight), the spread, and
        how many wake times it rests on; ``None`` while learning."""
        s = self.settings(apartment)
        wakes = self._wakes.get(apartment)
        if wakes is None or len(wakes) < s.learn_days:
            return None
        rows = list(wakes)[-s.window_days :]
        weekend = day.weekday() >= 5
        centre: dict[bool, float] = {}
        all_m = np.array([m for _, m in rows])
        for kind in (False, True):
            grp = [m for d, m in rows if (d.weekday() >= 5) == kind]
            centre[kind] = (
                float(np.median(grp)) if len(grp) >= s.group_days else float(np.median(all_m))
            )
        resid = np.array([m - centre[d.weekday() >= 5] for d, m in rows])
        robust = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        spread = max(5.0, robust, float(np.std(resid, ddof=1)))  # tails count too
        return centre[weekend], spread, len(rows)

    def deadline(self, apartment: str, day: date) -> tuple[datetime, float | None]:
        """Today's deadline and the usual wake time (minutes after midnight) behind it."""
        due, usual, _ = self._deadline_own(apartment, day)
        return due, usual

    def _deadline_own(self, apartment: str, day: date) -> tuple[datetime, float | None, bool]:
        """:meth:`deadline`, and whether it is the resident's own: a rule of their wake
        times (the learned or the early one) not pulled forward by the cap for everyone
        (``cold_deadline``, ``latest``)."""
        own, usual, cap = self._rule(apartment, day)
        if own is None:
            return self._at(day, cap), usual, False
        return self._at(day, min(own, cap)), usual, own <= cap

    def own_deadline(self, apartment: str, day: date) -> datetime | None:
        """The resident's learned deadline, where the cap for everyone (``latest``) pulled
        it forward; ``None`` where it did not, or while learning (a few mornings cannot
        show a late riser's spread: Ordonez A's resident is up at 10:10 one day and at
        12:40 the next)."""
        own, usual, cap = self._rule(apartment, day)
        if own is None or usual is None or own <= cap:
            return None
        return self._at(day, own)

    def _rule(self, apartment: str, day: date) -> tuple[float | None, float | None, float]:
        """(the resident's own deadline, the usual wake time behind it, the cap for
        everyone), in minutes after midnight; no own deadline while the cold rule holds."""
        s = self.settings(apartment)
        found = self.rhythm(apartment, day)
        low = s.earliest.hour * 60 + s.earliest.minute
        widen = self._widen.get(apartment, 1.0)
        if found is None:
            cold = s.cold_deadline.hour * 60 + s.cold_deadline.minute
            seen = self.early(apartment)
            if seen is None:
                return None, None, cold
            median, latest = seen
            due = max(median + s.max_late_minutes * widen, latest + s.early_late_minutes * widen)
            return max(due + s.margin_minutes, low), None, cold
        usual, spread, _ = found
        late = min(max(s.spread_k * spread, s.min_late_minutes), s.max_late_minutes)
        late = late * widen + s.margin_minutes
        return max(usual + late, low), usual, s.latest.hour * 60 + s.latest.minute

    def early(self, apartment: str) -> tuple[float, float] | None:
        """While learning: the median and the latest of the wake times seen so far
        (minutes after midnight), once there are ``early_days`` of them; ``None`` before."""
        wakes = self._wakes.get(apartment)
        if not wakes or len(wakes) < self.settings(apartment).early_days:
            return None
        seen = [m for _, m in wakes]
        return float(np.median(seen)), max(seen)

    def feedback(self, apartment: str, verdict: str) -> str | None:
        """A false alarm widens this apartment's lateness by a quarter (up to ``max_widen``)."""
        if verdict != "false_alarm":
            return None
        before = self._widen.get(apartment, 1.0)
        after = min(before * 1.25, self.settings(apartment).max_widen)
        if after == before:
            return None
        self._widen[apartment] = after
        self._deadline.pop(apartment, None)  # rescheduled with the wider margin
        return f"lateness x{before:.2f} -> x{after:.2f}"

    def scores(self) -> dict[str, dict[str, float]]:
        """Per apartment: the usual wake time, the last one, and how late that was in
        units of the allowed lateness (minutes after midnight; 1 = the deadline)."""
        out: dict[str, dict[str, float]] = {}
        for apt, wakes in sorted(self._wakes.items()):
            if not wakes:
                continue
            day, last = wakes[-1]
            found = self.rhythm(apt, day)
            if found is None:
                continue
            due, _ = self.deadline(apt, day)
            allowed = self._minutes(due.astimezone(self.tz)) - found[0]
            out[apt] = {
                "baseline": round(found[0], 1),
                "observed": round(last, 1),
                "score": round((last - found[0]) / allowed, 3) if allowed > 0 else 0.0,
            }
        return out

    def _schedule(self, apartment: str, after: datetime) -> None:
        local = after.astimezone(self.tz)
        day = local.date()
        due, _ = self.deadline(apartment, day)
        if due <= after or self._up.get(apartment) == day:
            due, _ = self.deadline(apartment, day + timedelta(days=1))
        if self._deadline.get(apartment) != due:
            self._deadline[apartment] = due
            heapq.heappush(self._heap, (due, apartment))
            if self._scheduled is None or due < self._scheduled:
                self._scheduled = due

    # --- the hooks ---------------------------------------------------------------------

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        self._see(event, state)
        due = self._scheduled
        if due is None:
            return NOTHING
        self._scheduled = None
        return Found(due=due)

    def _see(self, event: SensorEvent, state: FlatState) -> None:
        apt = event.apartment
        if apt == COMMON_APARTMENT:
            return
        if apt not in self._deadline:
            self._schedule(apt, event.ts)
        pending = self._pending.get(apt)
        if pending is not None and event.ts - pending >= timedelta(
            minutes=self.settings(apt).out_of_bed_minutes
        ):
            self._got_up(apt, pending)  # stayed out of bed: up since the pad cleared
            pending = None
        if event.occupancy is not None and is_pad(event.device, self.roles.get(event.sensor_id)):
            sensor = state.apartments[apt].sensors.get(event.sensor_id)
            if sensor is None or sensor.last_change != event.ts:
                return  # a report of the same state
            if event.occupancy:
                self._pending.pop(apt, None)  # back to bed: a visit to the toilet at night
            elif event.room is Room.BEDROOM and self._morning(apt, event.ts):
                self._pending[apt] = event.ts
            return
        if self._is_up(event, state) and self._morning(apt, event.ts):
            if pending is not None:
                return  # out of bed a short while: up once it lasts (a night visit, else)
            pad = self._bed_pad(apt, state.apartments[apt])
            if pad is not None and pad.occupied is False and pad.last_change is not None:
                # alone, out of bed: up only if not back in bed within out_of_bed_minutes
                # (a night kitchen visit before the usual hour is no waking up)
                self._pending[apt] = pad.last_change
                return
            self._got_up(apt, event.ts)

    def _bed_pad(self, apt: str, st: ApartmentState) -> SensorState | None:
        """The bed pad of a resident living alone (the one pad in the bedroom), else
        ``None``: with a partner, a pad tells one person's rest, not the home's."""
        if self.residents(apt) != 1:
            return None
        pads = [
            sensor
            for sid, sensor in st.sensors.items()
            if sid.split("/")[1] == Room.BEDROOM.value
            and is_pad(sid.rsplit("/", 1)[-1], self.roles.get(sid))
        ]
        return pads[0] if len(pads) == 1 else None

    def _morning(self, apt: str, ts: datetime) -> bool:
        """``ts`` is in the morning (from ``day_starts`` to ``day_ends``) of a day on which the
        resident has not been seen getting up yet."""
        local = ts.astimezone(self.tz)
        return (
            self._up.get(apt) != local.date()
            and self.settings(apt).day_starts <= local.time() < self.settings(apt).day_ends
        )

    def _got_up(self, apt: str, ts: datetime) -> None:
        self._pending.pop(apt, None)
        local = ts.astimezone(self.tz)
        if self._up.get(apt) == local.date():
            return
        self._up[apt] = local.date()
        if self._alarmed.get(apt) == local.date():
            # whoever came after the alarm is no wake time of the resident's (a helper at
            # 11:00 would teach a spread that delays every later alarm); a false alarm
            # widens the lateness through the meeting's verdict instead
            self._schedule(apt, ts)
            return
        keep = self.settings(apt).window_days
        wakes = self._wakes.setdefault(apt, deque(maxlen=keep))
        wakes.append((local.date(), round(self._minutes(local), 2)))
        self._schedule(apt, ts)

    def _is_up(self, event: SensorEvent, state: FlatState) -> bool:
        """Activity in a day room (or a plug, a button): up and about."""
        if event.room not in _DAY_ROOMS and event.power is None and event.action is None:
            return False
        apt_state = state.apartments.get(event.apartment)
        last = apt_state.last_activity if apt_state else None
        return last == event.ts  # the state counted this event as activity

    def next_due(self) -> datetime | None:
        heap = self._heap
        while heap and self._deadline.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # rescheduled since
        return heap[0][0] if heap else None

    def on_tick(self, now: datetime, state: FlatState) -> Found:
        out: list[Candidate] = []
        while self._heap and self._heap[0][0] <= now:
            due, apt = heapq.heappop(self._heap)
            if self._deadline.get(apt) != due:
                continue  # rescheduled since
            day = due.astimezone(self.tz).date()
            pending = self._pending.get(apt)
            if pending is not None:
                if due - pending >= timedelta(minutes=self.settings(apt).out_of_bed_minutes):
                    self._got_up(apt, pending)
                else:
                    self._up[apt] = day  # just out of bed: not this morning's alarm
            own = self._retry.pop(apt, None) == due
            if self._up.get(apt) != day:
                found = self._check(apt, due, day, state, own)
                if any(c.kind is SignalKind.NO_WAKE for c in found):
                    self._alarmed[apt] = day
                out.extend(found)
                later = None if own or found else self._look_again(apt, due, day, state)
                if later is not None:
                    self._retry[apt] = self._deadline[apt] = later
                    heapq.heappush(self._heap, (later, apt))
                    continue
            self._schedule(apt, due)
        self._scheduled = None  # (its next due is returned whole)
        return Found(tuple(out), due=self.next_due())

    def _look_again(self, apt: str, due: datetime, day: date, state: FlatState) -> datetime | None:
        """The cap for everyone (``latest``, ``cold_deadline``) came before this resident's
        own deadline, and the silence held the alarm back: when to look again (their own
        deadline, where the silence of a resident still in bed no longer silences it), or
        ``None``. A late riser in a home whose sensors speak only when used is otherwise
        never paged: at the cap the night's silence holds the alarm back, and after it the
        next morning is scheduled (Ordonez A's resident, up around 11:00-12:30)."""
        later = self.own_deadline(apt, day)
        st = state.apartments.get(apt)
        if later is None or later <= due or st is None or st.presence == "away":
            return None
        pad = self._bed_pad(apt, st)
        return later if pad is not None and pad.occupied is True else None

    # long: the morning's rules in their order, each with its reason
    def _check(
        self, apt: str, due: datetime, day: date, state: FlatState, own: bool = False
    ) -> list[Candidate]:
        """The alarm for ``apt`` not up at ``due``, if it stands; ``own``: ``due`` is the
        resident's own deadline, looked at again after the cap (:meth:`_look_again`)."""
        st = state.apartments.get(apt)
        if st is None or st.presence == "away":
            return []
        if st.last_activity is None or due - st.last_activity > timedelta(hours=24):
            return []  # nobody has been about for a day: empty, or for housing
        s = self.settings(apt)
        recent = due - timedelta(minutes=s.about_minutes)
        pad = self._bed_pad(apt, st)
        if pad is not None and pad.occupied and pad.last_change is not None:
            recent = max(recent, pad.last_change)  # back in bed since: that was a night visit
        if any(
            room != Room.BEDROOM.value and ts >= recent for room, ts in st.room_activity.items()
        ):
            return []  # up and about (bathroom, hall), just not in the day rooms yet
        found = self.rhythm(apt, day)
        hold, quiet, _ = sensor_doubt(st, due, Room.BEDROOM.value, self.roles)
        own = own or self._deadline_own(apt, day)[2]
        if own and self._doubt_only(st, pad, quiet, due):
            hold = False  # doubt delays, it does not silence: raised, quiet ones named
        elif not _sensors_alive(st, due, timedelta(hours=s.sensors_quiet_hours)):
            logger.info("no_wake held back for %s: its sensors are silent", apt)
            return []
        if hold:
            logger.info("no_wake held back for %s: quiet sensors %s", apt, quiet)
            return [
                device_candidate(st, sid, due, "a care alarm (no_wake)", self.tz)
                for sid in quiet
                if st.sensors[sid].usual_gap() is not None
            ]
        early = None if found else self.early(apt)
        usual = found[0] if found else (early[0] if early else None)
        start = self._at(day, usual) if usual is not None else due
        in_bed = [
            bool(sensor.occupied)
            for sid, sensor in st.sensors.items()
            if sid.split("/")[1] == Room.BEDROOM.value
            and is_pad(sid.rsplit("/", 1)[-1], self.roles.get(sid))
        ]
        evidence: dict[str, Any] = {
            "deadline": due.isoformat(),
            "usual_wake": hhmm(start.astimezone(self.tz)) if usual is not None else None,
            "baseline_minutes": round(usual, 1) if usual is not None else None,
            "spread_minutes": round(found[1], 1) if found else None,
            "observed": "not up",
            "window": [min(start, due).isoformat(), due.isoformat()],
            "weekend": day.weekday() >= 5,
            "learned_from_days": len(self._wakes.get(apt, ())),
            "rule": "learned" if found else ("early" if early is not None else "cold"),
            "latest_wake": hhmm(self._at(day, early[1])) if early is not None else None,
            "last_activity": st.last_activity.isoformat(),
            "in_bed": any(in_bed) if in_bed else None,
            "presence": st.presence,
        }
        if quiet:
            evidence["uncertain"] = quiet
        return [
            Candidate(
                kind=SignalKind.NO_WAKE,
                apartment=apt,
                start=min(start, due),
                detected_at=due,
                summary=texts(
                    "Bewoner is om {time} nog niet opgestaan (anders rond {usual}): ga kijken.",
                    "Resident is not up at {time} (usually around {usual}): go and check.",
                    time=hhmm(due.astimezone(self.tz)),
                    usual=evidence["usual_wake"] or "-",
                ),
                evidence=evidence,
                key=day.isoformat(),
            )
        ]

    def _doubt_only(
        self, st: ApartmentState, pad: SensorState | None, quiet: list[str], due: datetime
    ) -> bool:
        """The silence is what a resident still in bed looks like, not a sensor that died:
        the bed pad of a resident alone says in bed (and is not quiet by its own rhythm),
        and no sensor that could hide a getting up (a motion sensor, a pad, the front door)
        and is quiet, or silent for ``sensors_quiet_hours``, is known to check in by itself
        (:func:`detectors.devices.checks_in`). Sensors that speak only when used say nothing
        while the resident lies in bed; one that checks in and went quiet died, and then the
        alarm is held back as before."""
        if pad is None or pad.occupied is not True or pad.quiet(due):
            return False
        limit = timedelta(hours=self.settings(st.apartment).sensors_quiet_hours)
        silent = [
            sid
            for sid, x in st.sensors.items()
            if due - x.last_seen > limit and is_watching(sid, x, self.roles.get(sid))
        ]  # (a pendant or a plug cannot hide a getting up)
        return not any(checks_in(st.sensors[sid]) for sid in {*quiet, *silent})

    # --- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "wake_days": {
                k: [[d.isoformat(), m] for d, m in v] for k, v in sorted(self._wakes.items())
            },
            "widen": dict(sorted(self._widen.items())),
            "pending": {k: v.isoformat() for k, v in sorted(self._pending.items())},
            "up": {k: v.isoformat() for k, v in sorted(self._up.items())},
            "alarmed": {k: v.isoformat() for k, v in sorted(self._alarmed.items())},
            "deadline": {k: v.isoformat() for k, v in sorted(self._deadline.items())},
            "retry": {k: v.isoformat() for k, v in sorted(self._retry.items())},
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self._wakes = {
            k: deque(
                ((date.fromisoformat(d), float(m)) for d, m in v),
                maxlen=self.settings(k).window_days,
            )
            for k, v in data.get("wake_days", {}).items()
        }  # (the older "wakes", without their days, are not carried over)
        self._widen = {k: float(v) for k, v in data.get("widen", {}).items()}
        self._pending = {k: datetime.fromisoformat(v) for k, v in data.get("pending", {}).items()}
        self._up = {k: date.fromisoformat(v) for k, v in data.get("up", {}).items()}
        self._alarmed = {k: date.fromisoformat(v) for k, v in data.get("alarmed", {}).items()}
        self._deadline = {k: datetime.fromisoformat(v) for k, v in data.get("deadline", {}).items()}
        self._retry = {k: datetime.fromisoformat(v) for k, v in data.get("retry", {}).items()}
        self._heap = [(v, k) for k, v in self._deadline.items()]
        heapq.heapify(self._heap)


def _sensors_alive(st: ApartmentState, now: datetime, quiet: timedelta) -> bool:
    """At least one of the apartment's sensors reported within ``quiet`` (heartbeats count)."""
    return any(now - s.last_seen <= quiet and s.available for s in st.sensors.values())
