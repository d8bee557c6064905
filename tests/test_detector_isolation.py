"""A detector's fault never silences another detector, least of all an SOS or a fall
(issue 19): every call into a detector is isolated, the failing one is quarantined for
that apartment (its state kept), every other one runs, and the urgent sources first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import detectors.base
from detectors.base import Detector, DetectorSettings, Found, registry
from detectors.low_battery import LowBatteryDetector as LowBattery
from edge.app import build_hub
from edge.config import Config
from edge.models import SensorEvent
from edge.replay import replay
from edge.state import FlatState
from edge.store import Store
from tests.helpers import at, msg, write_recording


class Broken(Detector):
    """Raises from every hook the hub calls: on each event, each tick, each day, and when
    its state is saved."""

    name = "broken"
    settings_model = DetectorSettings

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        raise KeyError("battery")

    def on_tick(self, now: datetime, state: FlatState) -> Found:
        raise RuntimeError("tick")

    def next_due(self) -> datetime | None:
        return at(90)  # (after the SOS and the fall: its on_tick fails then)

    def on_day(self, day: Any, state: FlatState) -> Found:
        raise ValueError("day")

    def state_dict(self) -> dict[str, Any]:
        raise TypeError("not JSON")


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The built-in detectors and ``broken``, listed first (the hub puts sos and fall
    before it all the same)."""
    monkeypatch.setitem(detectors.base._REGISTRY, "broken", Broken)
    return ["broken", *(n for n in registry() if n != "broken")]


def urgent_stream() -> list[Any]:
    """Ordinary motion, an SOS press in a012, a radar fall in a013, and two days more of
    reports (day ends, ticks)."""
    out = []
    for minute in range(0, 60, 5):
        for apt in ("a012", "a013"):
            out.append(msg(minute, f"{apt}/hall/motion", {"occupancy": True, "battery": 90}))
    out.append(msg(61, "a012/living/pendant", {"action": "sos", "battery": 80}))
    out.append(msg(62, "a013/bathroom/radar", {"fall": True}))
    for minute in range(65, 2 * 24 * 60, 30):
        for apt in ("a012", "a013"):
            out.append(msg(minute, f"{apt}/hall/motion", {"occupancy": True, "battery": 90}))
    return out


def kinds(signals: list[Any]) -> list[tuple[str, str]]:
    return [(s.kind.value, s.apartment) for s in signals]


def test_a_detector_raising_on_every_call_silences_nothing(broken: list[str]) -> None:
    config = Config(flat="f1")
    hub = build_hub(config, Store(None, config.store), detectors=broken)
    assert [d.name for d in hub.detectors][:2] == ["sos", "fall"]
    out: list[Any] = []
    for m in urgent_stream():
        out += hub.handle(m)
    urgent = [k for k in kinds(out) if k[0] in ("sos", "fall")]
    assert urgent.count(("sos", "a012")) == 1
    assert urgent.count(("fall", "a013")) == 1
    assert ("broken", "a012") in hub.quarantine.pairs
    assert ("broken", "a013") in hub.quarantine.pairs
    assert hub.quarantine.pairs[("broken", "a012")] == "on_event: KeyError: 'battery'"
    assert ("broken", "*") in hub.quarantine.pairs  # on_tick: every apartment at once
    hub.save()  # its state_dict raises: the others' state is still saved
    saved = hub.store.load_state()["detectors"]
    assert "broken" not in saved
    assert {"fall", "sos", "low_battery"} <= set(saved)
    assert hub.quarantine.errors["broken"] >= 3


def test_the_same_through_a_replay_which_runs_to_the_end(
    broken: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config(flat="f1")
    signals: list[Any] = []

    class Sink:
        def emit(self, signal: Any) -> None:
            signals.append(signal)

    hub = build_hub(config, Store(None, config.store), [Sink()], detectors=broken)
    rec = write_recording(tmp_path / "rec.jsonl", urgent_stream())
    lines = replay([rec], hub)
    assert lines == len(urgent_stream())
    assert kinds(signals).count(("sos", "a012")) == 1
    assert kinds(signals).count(("fall", "a013")) == 1


def test_the_issues_case_a_key_error_in_low_battery(monkeypatch: pytest.MonkeyPatch) -> None:
    """#19's finding: a KeyError in ``low_battery`` dropped the SOS. Now the SOS comes out
    once, low_battery is quarantined for that apartment alone and still works next door."""
    real = LowBattery.on_event

    def buggy(self: LowBattery, event: SensorEvent, state: FlatState) -> Found:
        if event.apartment == "a012":
            raise KeyError("a012")
        return real(self, event, state)

    monkeypatch.setattr(LowBattery, "on_event", buggy)
    config = Config(flat="f1")
    hub = build_hub(config, Store(None, config.store))
    out: list[Any] = []
    out += hub.handle(msg(0, "a012/living/pendant", {"action": "sos", "battery": 5}))
    out += hub.handle(msg(1, "a013/hall/motion", {"occupancy": True, "battery": 5}))
    out += hub.handle(msg(2, "a012/hall/motion", {"occupancy": True, "battery": 5}))
    assert kinds(out).count(("sos", "a012")) == 1
    assert ("low_battery", "a013") in kinds(out)
    assert ("low_battery", "a012") not in kinds(out)
    assert list(hub.quarantine.pairs) == [("low_battery", "a012")]


def test_a_shared_silence_step_that_fails_quarantines_only_the_detector_at_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The silence detectors run as one shared step; when one of them fails in it, each
    runs by itself again and only the one at fault is quarantined."""
    from detectors.inactivity import InactivityDetector

    real = InactivityDetector._movement

    def buggy(self: Any, apt: str, *args: Any) -> None:
        if apt == "a012":
            raise IndexError("inactivity")
        real(self, apt, *args)

    monkeypatch.setattr(InactivityDetector, "_movement", buggy)
    config = Config(flat="f1")
    hub = build_hub(config, Store(None, config.store))
    for minute in range(0, 30, 5):
        hub.handle(msg(minute, "a012/hall/motion", {"occupancy": True}))
        hub.handle(msg(minute, "a013/hall/motion", {"occupancy": True}))
    assert list(hub.quarantine.pairs) == [("inactivity", "a012")]
    silence = [d for d in hub.detectors if d.name in ("fall_silence", "long_bathroom")]
    assert silence
    for det in silence:  # they still learn from a012's movements
        assert "a012" in det._sil  # type: ignore[attr-defined]


def test_a_damaged_saved_state_starts_that_detector_afresh(tmp_path: Path) -> None:
    config = Config(flat="f1")
    path = tmp_path / "s.sqlite"
    hub = build_hub(config, Store(path, config.store))
    hub.handle(msg(0, "a012/hall/motion", {"occupancy": True}))
    hub.close()
    hub.store.close()
    store = Store(path, config.store)
    saved = store.load_state()
    saved["detectors"]["low_battery"] = {"levels": "not what it expects"}
    saved["detectors"]["sos"] = ["not", "a", "dict"]
    store.save_state(saved)
    store.close()
    hub = build_hub(config, Store(path, config.store))  # starts: the alarm is not down
    out = hub.handle(msg(5, "a012/living/pendant", {"action": "sos"}))
    assert kinds(out) == [("sos", "a012")]
    assert hub.quarantine.errors["sos"] == 1
