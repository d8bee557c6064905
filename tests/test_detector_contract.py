"""One contract, checked over every registered detector (as river checks its estimators):
no alarm from an empty baseline on ordinary life, state that round-trips through JSON,
event time only, documented settings and a runnable example, and due times returned
that are all the hub needs to drive it."""

from __future__ import annotations

import ast
import inspect
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.base import Candidate, Detector, registry
from edge.config import Config
from edge.models import KINDS, Message, SensorEvent
from edge.normalise import normalise
from edge.state import FlatState, StateConfig
from tests.helpers import T0

DETECTORS = sorted(registry().items())
WALL_CLOCK_CALLS = {"now", "utcnow", "today"}  # datetime.now(), date.today(), ...
TIME_MODULE_CALLS = {"time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"}


def ordinary_days(days: int = 3) -> list[SensorEvent]:
    """Two apartments living ordinary days: up at 7, about the home, out for shopping,
    to bed at 23; every sensor reports at least hourly; batteries healthy."""
    out: list[Message] = []
    for day in range(days):
        base = T0 + timedelta(days=day) - timedelta(hours=6)  # local midnight
        for apt in ("a001", "a002"):
            for hour in range(24):
                for dev in ("hall/motion", "bedroom/motion", "kitchen/motion", "bathroom/motion"):
                    t = base + timedelta(hours=hour, minutes=5)
                    out.append(
                        Message(
                            t,
                            f"zigbee2mqtt/{apt}/{dev}",
                            {"occupancy": False, "battery": 90, "linkquality": 120},
                        )
                    )
                out.append(
                    Message(
                        base + timedelta(hours=hour, minutes=7),
                        f"zigbee2mqtt/{apt}/entrance/door",
                        {"contact": True, "battery": 88},
                    )
                )
            for minute in range(7 * 60, 23 * 60, 20):
                room = ("kitchen", "living", "bathroom", "hall")[minute // 20 % 4]
                if 10 * 60 <= minute < 11 * 60:
                    continue  # out shopping
                out.append(
                    Message(
                        base + timedelta(minutes=minute),
                        f"zigbee2mqtt/{apt}/{room}/motion",
                        {"occupancy": True},
                    )
                )
            out.append(
                Message(
                    base + timedelta(hours=9, minutes=59),
                    f"zigbee2mqtt/{apt}/entrance/door",
                    {"contact": False},
                )
            )
            out.append(
                Message(
                    base + timedelta(hours=9, minutes=59, seconds=20),
                    f"zigbee2mqtt/{apt}/entrance/door",
                    {"contact": True},
                )
            )
            out.append(
                Message(
                    base + timedelta(hours=11, seconds=1),
                    f"zigbee2mqtt/{apt}/entrance/door",
                    {"contact": False},
                )
            )
            out.append(
                Message(
                    base + timedelta(hours=11, seconds=30),
                    f"zigbee2mqtt/{apt}/entrance/door",
                    {"contact": True},
                )
            )
            out.append(
                Message(
                    base + timedelta(hours=12, minutes=30),
                    f"zigbee2mqtt/{apt}/kitchen/kettle",
                    {"power": 2000.0},
                )
            )
    out.sort(key=lambda m: m.received)
    events = [normalise(m).event for m in out]
    return [e for e in events if e is not None]


def run(det: Detector, events: list[SensorEvent], state: FlatState) -> list[Candidate]:
    raised: list[Candidate] = []
    for ev in events:
        due = det.next_due()
        if due is not None and due <= ev.ts:
            raised += det.on_tick(ev.ts, state).candidates
        state.advance(ev.ts)
        state.apply(ev)
        raised += det.on_event(ev, state).candidates
    return raised


def make(cls: type[Detector]) -> Detector:
    config = Config()
    return cls(lambda apt: config.detector_settings(cls.name, apt), tz=config.tz)


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_no_alarm_from_an_empty_baseline_on_ordinary_life(name: str, cls: type[Detector]) -> None:
    assert run(make(cls), ordinary_days(), FlatState(StateConfig())) == []


def key(c: Candidate) -> tuple[Any, ...]:
    return (c.kind, c.apartment, c.start, c.detected_at, c.key, json.dumps(c.evidence))


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_state_round_trips_and_carries_on_the_same(name: str, cls: type[Detector]) -> None:
    events = ordinary_days(4)
    # a sensor falls silent, a battery runs low, a fall and a call: every detector has work
    extra = [
        Message(
            T0 + timedelta(days=1, hours=3),
            "zigbee2mqtt/a003/hall/motion",
            {"occupancy": True, "battery": 9},
        ),
        Message(T0 + timedelta(days=2, hours=3), "zigbee2mqtt/a001/bathroom/radar", {"fall": True}),
        Message(
            T0 + timedelta(days=2, hours=4), "zigbee2mqtt/a002/living/pendant", {"action": "sos"}
        ),
    ]
    extra_events = [e for e in (normalise(m).event for m in extra) if e is not None]
    events = sorted(events + extra_events, key=lambda e: e.ts)
    half = len(events) // 2
    first, state = make(cls), FlatState(StateConfig())
    run(first, events[:half], state)
    saved = json.loads(json.dumps(first.state_dict()))
    second = make(cls)
    second.load_state(saved)
    assert second.state_dict() == first.state_dict()
    state_copy = FlatState(StateConfig())
    state_copy.load(json.loads(json.dumps(state.to_dict())))
    a = [key(c) for c in run(first, events[half:], state)]
    b = [key(c) for c in run(second, events[half:], state_copy)]
    assert a == b


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_event_time_only(name: str, cls: type[Detector]) -> None:
    """No detector reads the wall clock: replay and live must give the same signals."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))  # type: ignore[arg-type]
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if node.func.attr in WALL_CLOCK_CALLS or (
                isinstance(owner, ast.Name)
                and owner.id == "time"
                and node.func.attr in TIME_MODULE_CALLS
            ):
                calls.add(node.func.attr)
    assert not calls, f"{name} reads the wall clock: {calls}"


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_settings_are_documented_and_have_an_example(name: str, cls: type[Detector]) -> None:
    module = inspect.getmodule(cls)
    assert module is not None
    assert ">>>" in (module.__doc__ or ""), f"{name}: no runnable example in its docstring"
    for field, info in cls.settings_model.model_fields.items():
        assert info.description, f"{name}.{field} has no description"
    assert cls.settings_model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_every_signal_carries_evidence_and_both_languages(name: str, cls: type[Detector]) -> None:
    """What a detector raises explains itself: evidence, and a summary in Dutch and English.
    Its ``scores`` are numbers per apartment (for the history)."""
    events = ordinary_days(2)
    extra = [
        Message(
            T0 + timedelta(hours=3),
            "zigbee2mqtt/a003/hall/motion",
            {"occupancy": True, "battery": 9},
        ),
        Message(T0 + timedelta(hours=4), "zigbee2mqtt/a001/bathroom/radar", {"fall": True}),
        Message(T0 + timedelta(hours=5), "zigbee2mqtt/a002/living/pendant", {"action": "sos"}),
        Message(T0 + timedelta(hours=6), "zigbee2mqtt/a001/entrance/door", {"contact": False}),
    ]
    extra_events = [e for e in (normalise(m).event for m in extra) if e is not None]
    events = sorted(events + extra_events, key=lambda e: e.ts)
    det = make(cls)
    raised = run(det, events, FlatState(StateConfig()))
    raised += det.on_tick(events[-1].ts + timedelta(days=2), FlatState(StateConfig())).candidates
    for c in raised:
        owners = KINDS[c.kind].detectors  # (a device signal names sensor_offline, its owner)
        assert c.evidence.get("detector", name) in owners, f"{name}: {c.kind} not in KINDS"
        assert c.summary.get("nl"), f"{name}: {c.kind} has no Dutch summary"
        assert c.summary.get("en"), f"{name}: {c.kind} has no English summary"
        assert c.evidence, f"{name}: {c.kind} carries no evidence"
        json.dumps(c.evidence)
    documented = _documented_score_fields()
    for apt, values in det.scores().items():
        allowed = documented.get(name, {"baseline", "observed", "score"})
        assert set(values) <= allowed, (name, apt, values, "see docs/history.md")
        assert all(isinstance(v, float) for v in values.values()), (name, apt, values)


def _documented_score_fields() -> dict[str, set[str]]:
    """Detectors whose scores are not baseline/observed/score, with the fields the table
    in docs/history.md names for them (the dashboards read those names)."""
    doc = (Path(__file__).parent.parent / "docs" / "history.md").read_text()
    out: dict[str, set[str]] = {}
    for line in doc.splitlines():
        m = re.match(r"\| `(\w+)` \| (.*) \|$", line)
        if m:
            out[m.group(1)] = set(re.findall(r"`(\w+)`", m.group(2)))
    return out


def test_detectors_are_discovered_and_each_module_bears_its_detectors_name() -> None:
    import pkgutil

    import detectors
    from detectors.builtin import HELPERS, MODULES

    on_disk = {m.name for m in pkgutil.iter_modules(detectors.__path__)} - HELPERS
    assert set(MODULES) == on_disk
    for key, cls in registry().items():
        if cls.__module__.startswith("detectors."):
            assert cls.__module__ == f"detectors.{key}", key
    assert list(registry()) == sorted(registry())  # one order, whatever imported first


def test_a_detector_registered_under_another_name_than_its_module_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from detectors import base, builtin

    class Misnamed:
        __module__ = "detectors.fall"

    monkeypatch.setitem(base._REGISTRY, "falls", Misnamed)  # type: ignore[arg-type]
    with pytest.raises(ImportError, match=r"detectors\.fall registers the detector 'falls'"):
        builtin._discover()


def run_by_returned_dues(det: Detector, events: list[SensorEvent], state: FlatState) -> Any:
    """``run`` as the hub drives a detector (edge/dues.py): ``next_due`` asked once, at the
    start; after that ``on_tick`` only once event time reaches the soonest due its hooks
    returned, and a tick takes that entry (its result gives the next)."""
    raised: list[Candidate] = []
    entry = det.next_due()
    for ev in events:
        if entry is not None and entry <= ev.ts:
            found = det.on_tick(ev.ts, state)
            raised += found.candidates
            entry = found.due
        state.advance(ev.ts)
        state.apply(ev)
        found = det.on_event(ev, state)
        raised += found.candidates
        if found.due is not None and (entry is None or found.due < entry):
            entry = found.due
    return raised


def troubled_days() -> list[SensorEvent]:
    """Four ordinary days in which a001's front door is left open one afternoon, and from
    20:00 of the second day nobody moves in a002 (its sensors still report) and its
    bathroom sensor falls silent: door_open, sensor_offline and the silence detectors all
    have due times to keep."""
    stop = T0 + timedelta(days=1, hours=14)  # (local 20:00)

    def kept(e: SensorEvent) -> bool:
        if e.apartment != "a002" or e.ts < stop:
            return True
        reports = e.occupancy is False or e.contact is True  # (nobody opens the door)
        return reports and e.sensor_id != "a002/bathroom/motion"

    door = Message(T0 + timedelta(hours=8, minutes=8), "zigbee2mqtt/a001/entrance/door",
                   {"contact": False})  # fmt: skip
    events = [e for e in ordinary_days(4) if kept(e)]
    return sorted([*events, *(e for e in [normalise(door).event] if e is not None)],
                  key=lambda e: e.ts)  # fmt: skip


TIMED = {"door_open", "sensor_offline", "inactivity", "no_wake"}
"""Detectors that raise something in :func:`troubled_days` at a due time."""


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_the_dues_it_returns_are_all_the_hub_needs(name: str, cls: type[Detector]) -> None:
    """Driven only by the dues its hooks return (as the hub's one schedule drives it), a
    detector raises exactly what it raises when asked for its next due before every
    event: no due it keeps is left unsaid."""
    asked = [key(c) for c in run(make(cls), troubled_days(), FlatState(StateConfig()))]
    told = [
        key(c) for c in run_by_returned_dues(make(cls), troubled_days(), FlatState(StateConfig()))
    ]
    assert told == asked
    assert bool(asked) == (name in TIMED), asked
