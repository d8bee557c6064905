"""``no_wake``: the resident is not up by their usual time (plus a margin). Urgent, care.

"Up" is the first activity in the day rooms between ``day_starts`` and noon (motion in
the kitchen or living room, the front door, a plug in use, a button), or the bed pad
clearing. Toilet and bathroom visits do not count: at night they are no waking up.
Each apartment's own rhythm is learned from the last four weeks of wake times:
the deadline is the late end of that rhythm (the ``quantile``) plus ``margin_minutes``.
For the first ``learn_days`` days a conservative fixed deadline holds (``cold_deadline``).

No alarm while the apartment is away (out, on holiday, in hospital), nor when it has been
quiet for a whole day already (nobody home, or sensors down: that is for housing, through
``sensor_offline``), nor when none of the apartment's sensors reported in the last hours
(a silent sensor is not a still resident: the care alarm is held back and logged).

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
...     return list(d.on_event(ev, state))
>>> _ = [motion(day, h) for day in range(3) for h in (7.5, 12, 18, 22)]
>>> _ = motion(3, 2, Room.BEDROOM)   # a night: in the bedroom only, then nothing
>>> _ = motion(3, 9, moving=False)   # the kitchen sensor's hourly report: alive, no motion
>>> due = d.next_due(); (due.hour, due.minute)   # cold start: 11:30
(11, 30)
>>> [(c.kind.value, c.severity.value) for c in d.on_tick(due, state)]
[('no_wake', 'urgent')]
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from detectors.base import Candidate, Detector, DetectorSettings, register
from detectors.text import hhmm, texts
from edge.models import COMMON_APARTMENT, Domain, Room, SensorEvent, Severity, SignalKind
from edge.state import is_pad

if TYPE_CHECKING:
    from edge.state import ApartmentState, FlatState

logger = logging.getLogger(__name__)

_NOON = time(12, 0)
_DAY_ROOMS = frozenset({Room.KITCHEN, Room.LIVING, Room.ENTRANCE, Room.BALCONY})


class NoWakeSettings(DetectorSettings):
    enabled: bool = Field(
        False,
        description="Off until its false-alarm rate meets the goal (docs/detectors.md); "
        "switch it on per flat or per apartment to try it.",
    )
    day_starts: time = Field(time(5, 0), description="Activity before this is still night.")
    cold_deadline: time = Field(
        time(11, 30), description="While learning: not up by this time raises the signal."
    )
    learn_days: int = Field(14, ge=3, le=90, description="Wake times needed before learning.")
    quantile: float = Field(
        1.0, ge=0.5, le=1.0, description="The late end of the usual wake times (1: latest)."
    )
    margin_minutes: float = Field(
        20.0, ge=0, le=240, description="Added to that late end: the deadline."
    )
    about_minutes: float = Field(
        90.0,
        ge=0,
        le=360,
        description="Activity outside the bedroom this recently at the deadline: up and about.",
    )
    earliest: time = Field(time(6, 0), description="The deadline is never earlier...")
    latest: time = Field(time(11, 30), description="...nor later than this.")
    sensors_quiet_hours: float = Field(
        3.0,
        gt=0,
        le=48,
        description="No motion sensor heard from for this long: hold the alarm back.",
    )


@register
class NoWakeDetector(Detector):
    name = "no_wake"
    settings_model = NoWakeSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wakes: dict[str, deque[float]] = {}
        self._up: dict[str, date] = {}
        self._deadline: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    # --- learning ----------------------------------------------------------------------

    def _minutes(self, local: datetime) -> float:
        return local.hour * 60 + local.minute + local.second / 60

    def _at(self, day: date, minutes: float) -> datetime:
        return datetime.combine(day, time(0), self.tz) + timedelta(minutes=minutes)

    def deadline(self, apartment: str, day: date) -> tuple[datetime, float | None]:
        """Today's deadline and the usual wake time (minutes after midnight) behind it."""
        s = self.settings(apartment)
        wakes = self._wakes.get(apartment)
        if wakes is None or len(wakes) < s.learn_days:
            cold = s.cold_deadline
            return self._at(day, cold.hour * 60 + cold.minute), None
        arr = np.fromiter(wakes, dtype=float)
        late = float(np.quantile(arr, s.quantile)) + s.margin_minutes
        low = s.earliest.hour * 60 + s.earliest.minute
        high = s.latest.hour * 60 + s.latest.minute
        return self._at(day, min(max(late, low), high)), float(np.median(arr))

    def _schedule(self, apartment: str, after: datetime) -> None:
        local = after.astimezone(self.tz)
        day = local.date()
        due, _ = self.deadline(apartment, day)
        if due <= after or self._up.get(apartment) == day:
            due, _ = self.deadline(apartment, day + timedelta(days=1))
        if self._deadline.get(apartment) != due:
            self._deadline[apartment] = due
            heapq.heappush(self._heap, (due, apartment))

    # --- the hooks ---------------------------------------------------------------------

    def on_event(self, event: SensorEvent, state: FlatState) -> Iterable[Candidate]:
        apt = event.apartment
        if apt == COMMON_APARTMENT:
            return ()
        if apt not in self._deadline:
            self._schedule(apt, event.ts)
        if not self._is_up(event, state):
            return ()
        local = event.ts.astimezone(self.tz)
        s = self.settings(apt)
        if not (s.day_starts <= local.time() < _NOON) or self._up.get(apt) == local.date():
            return ()
        self._up[apt] = local.date()
        self._wakes.setdefault(apt, deque(maxlen=28)).append(self._minutes(local))
        self._schedule(apt, event.ts)
        return ()

    def _is_up(self, event: SensorEvent, state: FlatState) -> bool:
        role = self.roles.get(event.sensor_id)
        if event.occupancy is not None and is_pad(event.device, role):
            return event.occupancy is False  # the bed pad cleared
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

    def on_tick(self, now: datetime, state: FlatState) -> Iterable[Candidate]:
        out: list[Candidate] = []
        while self._heap and self._heap[0][0] <= now:
            due, apt = heapq.heappop(self._heap)
            if self._deadline.get(apt) != due:
                continue  # rescheduled since
            day = due.astimezone(self.tz).date()
            if self._up.get(apt) != day:
                cand = self._check(apt, due, day, state)
                if cand is not None:
                    out.append(cand)
            self._schedule(apt, due)
        return out

    def _check(self, apt: str, due: datetime, day: date, state: FlatState) -> Candidate | None:
        st = state.apartments.get(apt)
        if st is None or st.presence == "away":
            return None
        if st.last_activity is None or due - st.last_activity > timedelta(hours=24):
            return None  # nobody has been about for a day: empty, or for housing
        s = self.settings(apt)
        recent = due - timedelta(minutes=s.about_minutes)
        if any(
            room != Room.BEDROOM.value and ts >= recent for room, ts in st.room_activity.items()
        ):
            return None  # up and about (bathroom, hall), just not in the day rooms yet
        if not _sensors_alive(st, due, timedelta(hours=s.sensors_quiet_hours)):
            logger.info("no_wake held back for %s: its sensors are silent", apt)
            return None
        _, usual = self.deadline(apt, day)
        start = self._at(day, usual) if usual is not None else due
        evidence: dict[str, Any] = {
            "deadline": due.isoformat(),
            "usual_wake": hhmm(start.astimezone(self.tz)) if usual is not None else None,
            "learned_from_days": len(self._wakes.get(apt, ())),
            "last_activity": st.last_activity.isoformat(),
            "presence": st.presence,
        }
        return Candidate(
            kind=SignalKind.NO_WAKE,
            domain=Domain.CARE,
            severity=Severity.URGENT,
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

    # --- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "wakes": {k: list(v) for k, v in sorted(self._wakes.items())},
            "up": {k: v.isoformat() for k, v in sorted(self._up.items())},
            "deadline": {k: v.isoformat() for k, v in sorted(self._deadline.items())},
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self._wakes = {k: deque(v, maxlen=28) for k, v in data.get("wakes", {}).items()}
        self._up = {k: date.fromisoformat(v) for k, v in data.get("up", {}).items()}
        self._deadline = {k: datetime.fromisoformat(v) for k, v in data.get("deadline", {}).items()}
        self._heap = [(v, k) for k, v in self._deadline.items()]
        heapq.heapify(self._heap)


def _sensors_alive(st: ApartmentState, now: datetime, quiet: timedelta) -> bool:
    """At least one of the apartment's sensors reported within ``quiet`` (heartbeats count)."""
    return any(now - s.last_seen <= quiet and s.available for s in st.sensors.values())
