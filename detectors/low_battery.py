"""``low_battery``: a sensor's battery runs low. For housing, on the meeting's agenda.

Raised once per sensor when the level drops below ``threshold_pct``; raised again only
after the level rose to ``rearm_pct`` (a new battery) and dropped once more. A device that
reports no level, only Zigbee2MQTT's ``battery_low``, raises it when that turns true, and
again only after it said false for ``rearm_hours`` (a flag that flickers near the limit
is one signal, not one a day).

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> t = datetime(2026, 1, 5, 3, 12, tzinfo=timezone.utc)
>>> d = LowBatteryDetector(lambda apt: LowBatterySettings())
>>> def level(day, pct):
...     ts = t + timedelta(days=day)
...     return SensorEvent(ts=ts, received=ts, apartment="a012", room=Room.HALL,
...                        device="motion", battery=pct)
>>> [len(d.on_event(level(n, p), FlatState(StateConfig())).candidates)
...  for n, p in enumerate([40, 14, 12, 100, 9])]
[0, 1, 0, 0, 1]
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from detectors.base import NOTHING, Candidate, Detector, DetectorSettings, Found, register
from detectors.text import texts
from edge.models import SensorEvent, SignalKind

if TYPE_CHECKING:
    from edge.state import FlatState

logger = logging.getLogger(__name__)


class LowBatterySettings(DetectorSettings):
    threshold_pct: float = Field(15.0, gt=0, le=100, description="Below this: low.")
    rearm_pct: float = Field(
        50.0, gt=0, le=100, description="At or above this again: the battery was replaced."
    )

    rearm_hours: float = Field(
        24.0, gt=0, le=24 * 90, description="battery_low false this long: a new battery."
    )

    @model_validator(mode="after")
    def _order(self) -> LowBatterySettings:
        if self.rearm_pct <= self.threshold_pct:
            raise ValueError("rearm_pct must be above threshold_pct")
        return self


@register
class LowBatteryDetector(Detector):
    name = "low_battery"
    settings_model = LowBatterySettings
    takes = frozenset({"battery", "battery_low"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._low: set[str] = set()
        self._ok_since: dict[str, datetime] = {}
        """battery_low devices said false again since: the first false after the low."""

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        level = event.battery
        if level is None:
            return NOTHING if event.battery_low is None else self._flag(event)
        sid = event.sensor_id
        s = self.settings(event.apartment)
        if sid in self._low:
            if level >= s.rearm_pct:
                self._low.discard(sid)
            return NOTHING
        if level >= s.threshold_pct:
            return NOTHING
        return self._raise(
            event,
            texts(
                "Batterij van sensor '{device}' in {room} is bijna leeg ({level:.0f}%): vervangen.",
                "Battery of sensor '{device}' in {room} is almost empty ({level:.0f}%): "
                "replace it.",
                room=event.room.value,
                device=event.device,
                level=level,
            ),
            {"sensor": sid, "battery_pct": level, "threshold_pct": s.threshold_pct},
        )

    def _flag(self, event: SensorEvent) -> Found:
        """A device with only ``battery_low``: raised when it turns true; re-armed after it
        has said false for ``rearm_hours`` since the first false."""
        sid = event.sensor_id
        if sid in self._low:
            if event.battery_low:
                self._ok_since.pop(sid, None)
                return NOTHING
            first = self._ok_since.setdefault(sid, event.ts)
            hours = self.settings(event.apartment).rearm_hours
            if (event.ts - first).total_seconds() >= hours * 3600:
                self._low.discard(sid)
                del self._ok_since[sid]
            return NOTHING
        if not event.battery_low:
            return NOTHING
        return self._raise(
            event,
            texts(
                "Batterij van sensor '{device}' in {room} is bijna leeg (de sensor meldt "
                "zelf 'batterij laag'): vervangen.",
                "Battery of sensor '{device}' in {room} is almost empty (the sensor itself "
                "reports 'battery low'): replace it.",
                room=event.room.value,
                device=event.device,
            ),
            {"sensor": sid, "battery_low": True},
        )

    def _raise(
        self, event: SensorEvent, summary: dict[str, str], evidence: dict[str, Any]
    ) -> Found:
        """The event's sensor is low now: noted (raised once until re-armed) and raised."""
        self._low.add(event.sensor_id)
        return Found(
            (
                Candidate(
                    kind=SignalKind.LOW_BATTERY,
                    apartment=event.apartment,
                    start=event.ts,
                    detected_at=event.ts,
                    summary=summary,
                    evidence=evidence,
                    key=event.sensor_id,
                ),
            )
        )

    def state_dict(self) -> dict[str, Any]:
        ok = {k: v.isoformat() for k, v in sorted(self._ok_since.items())}
        return {"low": sorted(self._low), "ok_since": ok}

    def load_state(self, data: dict[str, Any]) -> None:
        self._low = set(data.get("low", []))
        self._ok_since = {k: datetime.fromisoformat(v) for k, v in data.get("ok_since", {}).items()}
