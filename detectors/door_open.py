"""``door_open``: the front door stands open for longer than ``open_minutes``. Care,
attention (on the signal meeting's agenda, nobody is paged).

Why care and not housing: a front door left open is first a question about the resident
(forgetting it, confusion, going out at night and leaving it open; the care team knows
whether that fits a pattern such as night wandering), and the team member who goes to
look also finds a door that will not close, which then goes to housing. A contact that
keeps saying "open" because it broke shows up as a repeat at the same door; its silence
is ``sensor_offline``'s.

The front door is the contact with role ``front_door``, or the one in room ``entrance``
when no role is set (as the apartment state reads it). Raised once per opening, stamped
with the moment it came due; the common entrance is not watched (it is not one resident's).
When a message of the door sensor could not be read after the opening (it may have been
the "closed"), the signal waits for the sensor's next readable report, which says either.

When the door is closed again after the signal was raised, the detector says so (a
:class:`~detectors.base.Resolution`, "Deur weer dicht om 14:32", unless ``auto_close`` is
off for the apartment): the hub closes the signal if nobody has acknowledged or taken it
on yet, so the next time the door is left open is a signal of its own.

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> t0 = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
>>> d = DoorOpenDetector(lambda apt: DoorOpenSettings())
>>> state = FlatState(StateConfig())
>>> def door(minutes, closed):
...     ts = t0 + timedelta(minutes=minutes)
...     e = SensorEvent(ts=ts, received=ts, apartment="a1", room=Room.ENTRANCE, device="door",
...                     contact=closed)
...     state.apply(e)
...     return d.on_event(e, state)
>>> _ = door(0, True); due = door(1, False).due   # opened at 14:01
>>> f"{due:%H:%M}"
'14:21'
>>> [(c.kind.value, c.domain.value, c.severity.value) for c in d.on_tick(due, state).candidates]
[('door_open', 'care', 'attention')]
>>> d.on_tick(due + timedelta(hours=1), state).candidates   # once per opening
()
>>> [(r.kind.value, r.reason["nl"]) for r in door(95, True).resolutions]   # closed at 15:35
[('door_open', 'Deur weer dicht om 15:35 (94 min open).')]
"""

from __future__ import annotations

import heapq
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from detectors.base import (
    NOTHING,
    Candidate,
    Detector,
    DetectorSettings,
    Found,
    Resolution,
    register,
)
from detectors.text import hhmm, texts
from edge.models import COMMON_APARTMENT, Room, SensorEvent, SignalKind

if TYPE_CHECKING:
    from edge.state import FlatState

logger = logging.getLogger(__name__)

WAIT_MINUTES = 10.0
"""How often an opening whose close may have been lost is looked at again."""


class DoorOpenSettings(DetectorSettings):
    open_minutes: float = Field(
        20.0, ge=1, le=24 * 60, description="Open this long (event time) raises the signal."
    )
    auto_close: bool = Field(
        True,
        description="Close the signal by itself when the door is closed again, unless "
        "someone acknowledged or took it on already.",
    )


@register
class DoorOpenDetector(Detector):
    name = "door_open"
    settings_model = DoorOpenSettings
    takes = frozenset({"contact"})  # (the front door: by its role or the entrance)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: dict[str, datetime] = {}
        """apartment -> since when its front door is open (not yet raised)."""
        self._heap: list[tuple[datetime, str]] = []
        self._door: dict[str, str] = {}
        """apartment -> its front door's sensor id."""
        self._wait: dict[str, datetime] = {}
        """apartment -> when to look again at an opening whose close may have been lost."""
        self._longest: dict[str, float] = {}
        """apartment -> the longest opening seen (minutes), for :meth:`scores`."""
        self._raised: dict[str, datetime] = {}
        """apartment -> since when its front door is open, raised and not yet closed."""

    def _is_front_door(self, event: SensorEvent) -> bool:
        role = self.roles.get(event.sensor_id)
        return role == "front_door" or (role is None and event.room is Room.ENTRANCE)

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        apt = event.apartment
        if event.contact is None or apt == COMMON_APARTMENT or not self._is_front_door(event):
            return NOTHING
        st = state.apartments[apt]
        self._door[apt] = event.sensor_id
        since = self._open.get(apt)
        raised = self._raised.get(apt)
        if st.door_open and st.door_changed is not None:
            if since != st.door_changed and raised != st.door_changed:
                self._open[apt] = st.door_changed
                self._raised.pop(apt, None)  # its close was lost: nothing to say about it
                self._wait.pop(apt, None)
                due = self._due(apt, st.door_changed)
                heapq.heappush(self._heap, (due, apt))
                return Found(due=due)
        elif since is not None:
            del self._open[apt]
            self._wait.pop(apt, None)
            took = (event.ts - since).total_seconds() / 60
            self._longest[apt] = max(self._longest.get(apt, 0.0), round(took, 1))
        elif raised is not None and st.door_open is False:
            del self._raised[apt]
            closed = st.door_changed or event.ts
            took = (closed - raised).total_seconds() / 60
            self._longest[apt] = max(self._longest.get(apt, 0.0), round(took, 1))
            if not self.settings(apt).auto_close:
                return NOTHING
            res = Resolution(
                kind=SignalKind.DOOR_OPEN,
                apartment=apt,
                start=raised,
                key=raised.isoformat(),
                at=closed,
                reason=texts(
                    "Deur weer dicht om {at} ({took:.0f} min open).",
                    "Door closed again at {at} (open {took:.0f} min).",
                    at=hhmm(self.local(closed)),
                    took=took,
                ),
            )
            return Found(resolutions=(res,))
        return NOTHING

    def _due(self, apt: str, since: datetime) -> datetime:
        wait = self._wait.get(apt)
        return (
            wait if wait is not None else since + timedelta(minutes=self.settings(apt).open_minutes)
        )

    def next_due(self) -> datetime | None:
        heap = self._heap
        while heap and (
            (since := self._open.get(heap[0][1])) is None
            or self._due(heap[0][1], since) != heap[0][0]
        ):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def on_tick(self, now: datetime, state: FlatState) -> Found:
        out: list[Candidate] = []
        while self.next_due() is not None and self._heap[0][0] <= now:
            due, apt = heapq.heappop(self._heap)
            since = self._open[apt]
            st = state.apartments.get(apt)
            door = self._door.get(apt)
            sensor = st.sensors.get(door) if st and door else None
            if (
                sensor is not None
                and sensor.unreadable is not None
                and sensor.unreadable >= since
                and sensor.last_seen <= sensor.unreadable
            ):
                # a message after the opening could not be read (it may have been "closed"):
                # wait for the sensor's next readable report to tell
                self._wait[apt] = due + timedelta(minutes=WAIT_MINUTES)
                heapq.heappush(self._heap, (self._wait[apt], apt))
                continue
            del self._open[apt]
            self._wait.pop(apt, None)
            self._raised[apt] = since
            out.append(self._candidate(apt, since, due, st.presence if st else "unknown"))
        return Found(tuple(out), due=self.next_due())

    def _candidate(self, apt: str, since: datetime, due: datetime, presence: str) -> Candidate:
        limit = self.settings(apt).open_minutes
        return Candidate(
            kind=SignalKind.DOOR_OPEN,
            apartment=apt,
            start=since,
            detected_at=due,
            summary=texts(
                "De voordeur staat sinds {since} open (langer dan {limit} min): "
                "even kijken of alles goed is.",
                "The front door has been open since {since} (longer than {limit} "
                "min): check that all is well.",
                since=hhmm(self.local(since)),
                limit=f"{limit:.0f}",
            ),
            evidence={
                "baseline_minutes": limit,
                "observed_minutes": round((due - since).total_seconds() / 60, 1),
                "window": [since.isoformat(), due.isoformat()],
                "presence": presence,
            },
            key=since.isoformat(),
        )

    def scores(self) -> dict[str, dict[str, float]]:
        """Per apartment: the limit, the longest opening so far and that over the limit."""
        return {
            apt: {
                "baseline": self.settings(apt).open_minutes,
                "observed": m,
                "score": round(m / self.settings(apt).open_minutes, 3),
            }
            for apt, m in sorted(self._longest.items())
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "open": {k: v.isoformat() for k, v in sorted(self._open.items())},
            "longest": dict(sorted(self._longest.items())),
            "door": dict(sorted(self._door.items())),
            "wait": {k: v.isoformat() for k, v in sorted(self._wait.items())},
            "raised": {k: v.isoformat() for k, v in sorted(self._raised.items())},
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self._open = {k: datetime.fromisoformat(v) for k, v in data.get("open", {}).items()}
        self._longest = {k: float(v) for k, v in data.get("longest", {}).items()}
        self._door = dict(data.get("door", {}))
        self._wait = {k: datetime.fromisoformat(v) for k, v in data.get("wait", {}).items()}
        self._raised = {k: datetime.fromisoformat(v) for k, v in data.get("raised", {}).items()}
        self._heap = [(self._due(k, v), k) for k, v in self._open.items()]
        heapq.heapify(self._heap)
