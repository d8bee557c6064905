"""The shared base of every detector: the contract and the registry (:mod:`edge.contract`,
kept in the core, which runs detectors through it alone), re-exported here for the
detectors, and :func:`registry`, which first imports every built-in detector.

A detector sees typed sensor events and the apartment state, and explicit clock ticks; it
never reads the wall clock. The hub calls three hooks, :meth:`Detector.on_event`,
:meth:`Detector.on_tick` and :meth:`Detector.on_day`, and each returns what it found as
one :class:`Found` (candidates to raise, resolutions, the next ``due``); most calls find
nothing and return :data:`NOTHING`. The whole contract is told in :mod:`edge.contract`;
a toy detector, from an event to its signal:

>>> from datetime import UTC, datetime, timedelta
>>> from detectors.text import texts
>>> from edge.models import Room, SensorEvent, SignalKind
>>> class Knocked(Detector):   # a toy: a fall, raised a minute after the sensor said so
...     name, settings_model = "knocked", DetectorSettings
...     def on_event(self, event, state):
...         if not event.fall:
...             return NOTHING                      # the hot path: nothing allocated
...         self.due = event.ts + timedelta(minutes=1)
...         return Found(due=self.due)              # look again in a minute
...     def on_tick(self, now, state):
...         c = Candidate(kind=SignalKind.FALL, apartment="a1", start=self.due,
...                       detected_at=self.due, summary=texts("Val.", "A fall."))
...         return Found((c,))                      # raised; nothing more scheduled
>>> t = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
>>> d = Knocked(lambda apt: DetectorSettings())
>>> found = d.on_event(SensorEvent(ts=t, received=t, apartment="a1", room=Room.HALL,
...                                device="radar", fall=True), None)
>>> found.candidates, f"{found.due:%H:%M}"
((), '14:01')
>>> (c,) = d.on_tick(found.due, None).candidates
>>> f"{c.detected_at:%H:%M}", c.domain.value, c.severity.value   # the kind's (edge.models.KINDS)
('14:01', 'care', 'urgent')
"""

from __future__ import annotations

from edge.contract import (
    _REGISTRY,
    NOTHING,
    Candidate,
    Detector,
    DetectorSettings,
    EventStep,
    Found,
    Resolution,
    SettingsLookup,
    StepGroup,
    register,
    registered,
    spliced_json,
)

__all__ = [
    "NOTHING",
    "_REGISTRY",
    "Candidate",
    "Detector",
    "DetectorSettings",
    "EventStep",
    "Found",
    "Resolution",
    "SettingsLookup",
    "StepGroup",
    "all_settings_models",
    "register",
    "registry",
    "spliced_json",
]


def registry() -> dict[str, type[Detector]]:
    """All registered detectors by name, in the order of their names (whatever imported
    them first), the built-in ones discovered and imported first."""
    import detectors.builtin  # noqa: F401  (registers them)

    return registered()


def all_settings_models() -> dict[str, type[DetectorSettings]]:
    return {name: cls.settings_model for name, cls in registry().items()}
