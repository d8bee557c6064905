"""``sos``: a call for help from a pendant or button. Urgent, at once.

An ``action`` of ``sos`` or ``emergency`` is a call; so is any press of a device whose
role in the config is ``sos_button`` (a plain button given to a resident as an alarm).
Presses within ``repeat_after_s`` of the last call of the same apartment are one call.

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> t = datetime(2026, 1, 5, 3, 12, tzinfo=timezone.utc)
>>> d = SosDetector(lambda apt: SosSettings())
>>> def press(s, action):
...     ts = t + timedelta(seconds=s)
...     return SensorEvent(ts=ts, received=ts, apartment="a012", room=Room.LIVING,
...                        device="pendant", action=action)
>>> [len(d.on_event(press(s, a), FlatState(StateConfig())).candidates)
...  for s, a in [(0, "sos"), (5, "sos"), (200, "single"), (300, "emergency")]]
[1, 0, 0, 1]
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

SOS_ACTIONS = frozenset({"sos", "emergency", "panic", "alarm"})
RELEASES = frozenset({"release", "brightness_stop", "off_release"})


class SosSettings(DetectorSettings):
    repeat_after_s: float = Field(
        60.0, ge=0, le=3600, description="Presses closer together than this are one call."
    )


@register
class SosDetector(Detector):
    name = "sos"
    settings_model = SosSettings
    takes = frozenset({"action"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last: dict[str, datetime] = {}

    def _is_call(self, event: SensorEvent) -> bool:
        action = event.action
        if action is None:
            return False
        if action in SOS_ACTIONS:
            return True
        return self.roles.get(event.sensor_id) == "sos_button" and action not in RELEASES

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        if not self._is_call(event):
            return NOTHING
        apt = event.apartment
        last = self._last.get(apt)
        window = timedelta(seconds=self.settings(apt).repeat_after_s)
        self._last[apt] = event.ts
        if last is not None and timedelta(0) <= event.ts - last < window:
            return NOTHING
        return Found(
            (
                Candidate(
                    kind=SignalKind.SOS,
                    apartment=apt,
                    start=event.ts,
                    detected_at=event.ts,
                    summary=texts(
                        "Alarmknop ingedrukt om {time} ({room}): ga direct kijken.",
                        "Alarm button pressed at {time} ({room}): go and check now.",
                        room=event.room.value,
                        time=hhmm(self.local(event.ts)),
                    ),
                    evidence={"sensor": event.sensor_id, "action": event.action},
                    key=event.sensor_id,
                ),
            )
        )

    def state_dict(self) -> dict[str, Any]:
        return {"last": {k: v.isoformat() for k, v in self._last.items()}}

    def load_state(self, data: dict[str, Any]) -> None:
        self._last = {k: datetime.fromisoformat(v) for k, v in data.get("last", {}).items()}
