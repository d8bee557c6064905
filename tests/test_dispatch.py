"""Per-kind dispatch (issue 19): the hub calls a detector's ``on_event`` only for the events
whose readings (and room) it subscribes to (``Detector.takes``, ``Detector.takes_rooms``);
a detector that declares nothing takes every event, and isolation works as before."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import detectors.base
from detectors.base import NOTHING, Detector, DetectorSettings, Found, registry
from detectors.fall import FallDetector
from edge.app import build_hub
from edge.config import Config
from edge.models import Room, SensorEvent
from edge.pipeline import READINGS, Hub
from edge.state import FlatState
from edge.store import Store
from tests.helpers import msg


class Seen(Detector):
    """Notes every event it is called for (its device ids), takes every event."""

    name = "seen_all"
    settings_model = DetectorSettings
    calls: ClassVar[list[str]] = []

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        self.calls.append(event.sensor_id)
        return NOTHING


class FrontDoor(Seen):
    """Takes only contact readings of the entrance."""

    name = "seen_door"
    takes = frozenset({"contact"})
    takes_rooms = frozenset({Room.ENTRANCE})


class Buttons(Seen):
    """Takes only button presses; fails on those of a012."""

    name = "seen_buttons"
    takes = frozenset({"action"})

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        super().on_event(event, state)
        if event.apartment == "a012":
            raise KeyError("a012")
        return NOTHING


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Hub:
    for cls in (Seen, FrontDoor, Buttons):
        monkeypatch.setitem(detectors.base._REGISTRY, cls.name, cls)
        monkeypatch.setattr(cls, "calls", [], raising=False)
    config = Config(flat="f1")
    return build_hub(config, Store(None, config.store), detectors=[*registry()])


def stream() -> list[Any]:
    return [
        msg(0, "a012/hall/motion", {"occupancy": True, "battery": 90}),
        msg(1, "a012/entrance/door", {"contact": False, "battery": 90}),
        msg(2, "a012/bedroom/window", {"contact": True}),
        msg(3, "a012/living/pendant", {"action": "sos"}),
        msg(4, "a013/living/pendant", {"action": "sos"}),
        msg(5, "a012/living/pendant", {"action": "sos"}),
        msg(6, "a013/entrance/door", {"battery": 80, "linkquality": 90}),
        msg(7, "a013/living/pendant", {"action": "single"}),
    ]


def test_a_detector_is_called_only_for_the_kinds_and_rooms_it_takes(hub: Hub) -> None:
    out = []
    for m in stream():
        out += hub.handle(m)
    assert len(Seen.calls) == 8  # takes every event
    assert FrontDoor.calls == ["a012/entrance/door"]  # not the window, not a battery report
    # the press in a012 failed: quarantined there (not called again), still called in a013
    assert Buttons.calls == ["a012/living/pendant", "a013/living/pendant", "a013/living/pendant"]
    assert list(hub.quarantine.pairs) == [("seen_buttons", "a012")]
    # and the SOS of both apartments came out all the same
    assert sorted((s.kind.value, s.apartment) for s in out if s.kind.value == "sos") == [
        ("sos", "a012"),
        ("sos", "a013"),
    ]


def test_a_built_in_detector_that_subscribes_is_not_called_for_other_kinds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real = FallDetector.on_event

    def counted(self: FallDetector, event: SensorEvent, state: FlatState) -> Found:
        calls.append(event.sensor_id)
        return real(self, event, state)

    monkeypatch.setattr(FallDetector, "on_event", counted)
    config = Config(flat="f1")
    hub = build_hub(config, Store(None, config.store))
    out = hub.handle(msg(0, "a012/hall/motion", {"occupancy": True, "battery": 90}))
    out += hub.handle(msg(1, "a012/bathroom/radar", {"fall": True, "linkquality": 50}))
    assert calls == ["a012/bathroom/radar"]
    assert [s.kind.value for s in out] == ["fall"]


def test_every_built_in_subscription_names_readings() -> None:
    for name, cls in registry().items():
        assert cls.takes is None or (cls.takes and cls.takes <= READINGS), name
        assert cls.takes_rooms is None or cls.takes_rooms <= set(Room), name


def test_a_reading_that_does_not_exist_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Typo(Seen):
        name = "typo"
        takes = frozenset({"contacts"})

    monkeypatch.setitem(detectors.base._REGISTRY, "typo", Typo)
    config = Config(flat="f1")
    with pytest.raises(ValueError, match="contacts"):
        build_hub(config, Store(None, config.store), detectors=["typo"])
