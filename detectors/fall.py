"""``fall``: a fall sensor (radar or wearable) reports a fall. Urgent, at once.

One signal per fall: a sensor that keeps reporting the fall state raises it again only
after it reported "no fall" in between, or after ``repeat_after_minutes``.

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> t = datetime(2026, 1, 5, 3, 12, tzinfo=timezone.utc)
>>> d = FallDetector(lambda apt: FallSettings())
>>> state = FlatState(StateConfig())
>>> def ev(minutes, fall):
...     ts = t + timedelta(minutes=minutes)
...     return SensorEvent(ts=ts, received=ts, apartment="a012", room=Room.BATHROOM,
...                        device="radar", fall=fall)
>>> [c.severity.value for c in d.on_event(ev(0, True), state).candidates]
['urgent']
>>> d.on_event(ev(1, True), state).candidates   # the same fall, still reported
()
>>> _ = d.on_event(ev(2, False), state); len(d.on_event(ev(3, True), state).candidates)
1
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from detectors.base import NOTHING, Candidate, Detector, DetectorSettings, Found, register
from detectors.text import hhmm, texts
from edge.models import SensorEvent, SignalKind

if TYPE_CHECKING:
    from edge.state import FlatState

logger = logging.getLogger(__name__)


class FallSettings(DetectorSettings):
    repeat_after_minutes: float = Field(
        10.0,
        gt=0,
        le=24 * 60,
        description="A fall state still reported after this long counts as a new fall.",
    )


@register
class FallDetector(Detector):
    name = "fall"
    settings_model = FallSettings
    takes = frozenset({"fall"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fallen: dict[str, datetime] = {}
        self._sensors: set[str] = set()
        """The sensors that report falls (for the installer's coverage check)."""

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        if event.fall is None:
            return NOTHING
        sid = event.sensor_id
        self._sensors.add(sid)
        if not event.fall:
            self._fallen.pop(sid, None)
            return NOTHING
        since = self._fallen.get(sid)
        repeat = timedelta(minutes=self.settings(event.apartment).repeat_after_minutes)
        if since is not None and event.ts - since < repeat:
            return NOTHING
        self._fallen[sid] = event.ts
        local = self.local(event.ts)
        return Found(
            (
                Candidate(
                    kind=SignalKind.FALL,
                    apartment=event.apartment,
                    start=event.ts,
                    detected_at=event.ts,
                    summary=texts(
                        "Valsensor in {room} meldt om {time} een val: ga direct kijken.",
                        "Fall sensor in {room} reported a fall at {time}: go and check now.",
                        room=event.room.value,
                        time=hhmm(local),
                    ),
                    evidence={"sensor": sid, "room": event.room.value, "source": "fall_sensor"},
                    key=sid,
                ),
            )
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "fallen": {k: v.isoformat() for k, v in self._fallen.items()},
            "sensors": sorted(self._sensors),
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self._fallen = {k: datetime.fromisoformat(v) for k, v in data.get("fallen", {}).items()}
        self._sensors = set(data.get("sensors", []))
