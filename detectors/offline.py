"""``sensor_offline``: a sensor stopped reporting. For housing, on the meeting's agenda.

Two ways to notice: Zigbee2MQTT says the device is ``offline`` (its availability topic),
or the hub has not heard from the sensor for ``after_hours`` of event time (Zigbee
sensors report at least every hour or so, even when nothing happens). Raised once per
sensor until it is heard from again. The signal is stamped with the time it came due,
whatever tick noticed it, so replay and live agree.

When the sensor reports again, the detector says so (:meth:`Detector.resolved`, "Sensor
meldt zich weer om 14:32"): the hub closes the signal if nobody has acknowledged or taken
it on yet (``auto_close``, on by default). The same goes for the device signal a silence
detector raised early for a quiet sensor (same id): a sensor heard from again after a
silence of :data:`MAYBE_RAISED` or more may have had one.

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> t = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)
>>> d = SensorOfflineDetector(lambda apt: SensorOfflineSettings(after_hours=2))
>>> st = FlatState(StateConfig())
>>> _ = list(d.on_event(SensorEvent(ts=t, received=t, apartment="a012", room=Room.HALL,
...                                 device="motion", battery=80), st))
>>> d.next_due() == t + timedelta(hours=2)
True
>>> [(c.kind.value, c.detected_at == t + timedelta(hours=2)) for c in
...  d.on_tick(t + timedelta(hours=5), st)]
[('sensor_offline', True)]
>>> list(d.on_tick(t + timedelta(hours=9), st))   # raised once
[]
>>> back = t + timedelta(hours=10, minutes=5)
>>> _ = list(d.on_event(SensorEvent(ts=back, received=back, apartment="a012",
...                                 room=Room.HALL, device="motion", battery=80), st))
>>> [(r.kind.value, r.start == t, r.reason["en"]) for r in d.cleared]
[('sensor_offline', True, 'Sensor reports again at 13:05 (silent 10.1 h).')]
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from detectors.base import Candidate, Detector, DetectorSettings, Resolution, register
from detectors.text import hhmm, texts
from edge.models import Domain, SensorEvent, Severity, SignalKind

if TYPE_CHECKING:
    from edge.state import FlatState

logger = logging.getLogger(__name__)


MAX_WIDEN = 3.0
MAYBE_RAISED = timedelta(hours=2)
"""A silence this long may have raised the early device signal of a silence detector
(its quiet limit is at least this): when the sensor is heard again, that signal is looked
for too."""


class SensorOfflineSettings(DetectorSettings):
    after_hours: float = Field(
        25.0,
        gt=0,
        le=24 * 14,
        description="Silence this long (event time) means the sensor is offline.",
    )
    auto_close: bool = Field(
        True,
        description="Close the signal by itself when the sensor reports again, unless "
        "someone acknowledged or took it on already.",
    )


@register
class SensorOfflineDetector(Detector):
    name = "sensor_offline"
    settings_model = SensorOfflineSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last: dict[str, datetime] = {}
        self._offline: set[str] = set()
        self._queued: set[str] = set()
        self._heap: list[tuple[datetime, str]] = []
        self._widen: dict[str, float] = {}
        self._since: dict[str, datetime] = {}
        """sensor -> the start of its raised signal (last heard, or the offline report)."""

    def _after(self, sid: str) -> timedelta:
        apt = sid.split("/", 1)[0]
        return timedelta(hours=self.settings(apt).after_hours * self._widen.get(apt, 1.0))

    def feedback(self, apartment: str, verdict: str) -> str | None:
        """A false alarm widens this apartment's silence limit by half (at most 3x):
        some sensors report less often than the flat's limit assumes."""
        if verdict != "false_alarm":
            return None
        before = self._widen.get(apartment, 1.0)
        after = min(before * 1.5, MAX_WIDEN)
        if after == before:
            return None
        self._widen[apartment] = after
        base = self.settings(apartment).after_hours
        return f"silence limit {base * before:.0f} h -> {base * after:.0f} h"

    def on_event(self, event: SensorEvent, state: FlatState) -> Iterable[Candidate]:
        sid = event.sensor_id
        last = self._last.get(sid)
        newer = last is None or event.ts > last
        if newer:
            self._last[sid] = event.ts
        if event.available is False:
            if sid in self._offline:
                return ()
            self._offline.add(sid)
            self._since[sid] = event.ts
            return (self._candidate(event.apartment, sid, event.ts, event.ts, "availability"),)
        if sid in self._offline:
            self._offline.discard(sid)
            since = self._since.pop(sid, last)
            if newer and since is not None:
                self._back(event.apartment, sid, since, event.ts)
        elif newer and last is not None and event.ts - last >= MAYBE_RAISED:
            self._back(event.apartment, sid, last, event.ts)
        if sid not in self._queued:
            self._queued.add(sid)
            heapq.heappush(self._heap, (self._last[sid] + self._after(sid), sid))
        return ()

    def _back(self, apartment: str, sid: str, since: datetime, at: datetime) -> None:
        hours = (at - since).total_seconds() / 3600
        self.resolved(
            Resolution(
                kind=SignalKind.SENSOR_OFFLINE,
                apartment=apartment,
                start=since,
                key=sid,
                at=at,
                reason=texts(
                    "Sensor meldt zich weer om {at} ({hours:.1f} uur stil).",
                    "Sensor reports again at {at} (silent {hours:.1f} h).",
                    at=hhmm(self.local(at)),
                    hours=hours,
                ),
            )
        )

    def next_due(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def on_tick(self, now: datetime, state: FlatState) -> Iterable[Candidate]:
        out: list[Candidate] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, sid = heapq.heappop(heap)
            real_due = self._last[sid] + self._after(sid)
            if real_due > due:  # heard from since: look again later
                heapq.heappush(heap, (real_due, sid))
                continue
            self._queued.discard(sid)
            if sid not in self._offline:
                self._offline.add(sid)
                self._since[sid] = self._last[sid]
                out.append(
                    self._candidate(sid.split("/", 1)[0], sid, self._last[sid], due, "silence")
                )
        return out

    def scores(self) -> dict[str, dict[str, float]]:
        """Per apartment: the silence limit in hours as learned so far (the setting, widened
        by false alarms), how many of its sensors the detector knows and how many of them
        are offline now.

        >>> from datetime import timezone
        >>> d = SensorOfflineDetector(lambda apt: SensorOfflineSettings(after_hours=20))
        >>> d._last = {"a012/hall/motion": datetime(2026, 1, 5, tzinfo=timezone.utc),
        ...            "a012/toilet/motion": datetime(2026, 1, 5, tzinfo=timezone.utc)}
        >>> d._offline = {"a012/hall/motion"}
        >>> d.feedback("a012", "false_alarm")
        'silence limit 20 h -> 30 h'
        >>> d.scores()
        {'a012': {'silence_limit_h': 30.0, 'sensors': 2.0, 'offline_sensors': 1.0}}
        """
        out: dict[str, dict[str, float]] = {}
        for sid in self._last:
            apt = sid.split("/", 1)[0]
            row = out.get(apt)
            if row is None:
                limit = self.settings(apt).after_hours * self._widen.get(apt, 1.0)
                row = out[apt] = {"silence_limit_h": limit, "sensors": 0.0, "offline_sensors": 0.0}
            row["sensors"] += 1
            if sid in self._offline:
                row["offline_sensors"] += 1
        return dict(sorted(out.items()))

    def _candidate(
        self, apartment: str, sid: str, since: datetime, at: datetime, how: str
    ) -> Candidate:
        _, room, device = sid.split("/", 2)
        return Candidate(
            kind=SignalKind.SENSOR_OFFLINE,
            domain=Domain.HOUSING,
            severity=Severity.ATTENTION,
            apartment=apartment,
            start=since,
            detected_at=at,
            summary=texts(
                "Sensor '{device}' in {room} geeft sinds {time} geen signaal meer: controleren.",
                "Sensor '{device}' in {room} has been silent since {time}: check it.",
                room=room,
                device=device,
                time=f"{self.local(since):%d-%m %H:%M}",
            ),
            evidence={
                "sensor": sid,
                "last_seen": since.isoformat(),
                "how": how,
                "silent_hours": round((at - since).total_seconds() / 3600, 1),
            },
            key=sid,
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "last": {k: v.isoformat() for k, v in self._last.items()},
            "offline": sorted(self._offline),
            "widen": dict(sorted(self._widen.items())),
            "since": {k: v.isoformat() for k, v in sorted(self._since.items())},
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self._last = {k: datetime.fromisoformat(v) for k, v in data.get("last", {}).items()}
        self._offline = set(data.get("offline", []))
        self._widen = {k: float(v) for k, v in data.get("widen", {}).items()}
        self._since = {k: datetime.fromisoformat(v) for k, v in data.get("since", {}).items()}
        self._heap = [
            (t + self._after(s), s) for s, t in self._last.items() if s not in self._offline
        ]
        heapq.heapify(self._heap)
        self._queued = {s for _, s in self._heap}
