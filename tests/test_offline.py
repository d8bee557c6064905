"""``sensor_offline`` knows its sensors (issue 18): one that checks in by itself is
offline after ``after_hours``; one that speaks only when used is judged by its own
use on the days the resident is home; Zigbee2MQTT's availability is trusted where a device has it; a
flapping device is one open signal for housing, not one per silence."""

from __future__ import annotations

from typing import Any

from edge.app import build_hub
from edge.config import Config
from edge.models import Message
from edge.pipeline import Hub
from edge.store import Store
from tests.helpers import at, msg

H = 60  # minutes


def hub(extra: dict[str, Any] | None = None) -> Hub:
    config = Config.model_validate({"detectors": {"sensor_offline": extra or {}}})
    return build_hub(config, Store(None, config.store), detectors=["sensor_offline"])


def feed(h: Hub, messages: list[Message]) -> list[Any]:
    out: list[Any] = []
    for m in sorted(messages, key=lambda m: m.received):
        out += h.handle(m)
    return out


def clock(until_min: int, sensor: str = "a9/hall/motion") -> list[Message]:
    """A sensor elsewhere that checks in every half hour: event time moves on."""
    return [msg(m, sensor, {"battery": 90}) for m in range(0, until_min, 30)]


def offline(out: list[Any]) -> list[tuple[str, Any]]:
    return [(s.evidence["sensor"], s.detected_at) for s in out if s.kind.value == "sensor_offline"]


def test_a_sensor_that_checks_in_hourly_is_offline_after_25_hours() -> None:
    last = 30 * H
    checkins = [msg(m, "a1/kitchen/motion", {"battery": 90}) for m in range(0, last + 1, H)]
    out = feed(hub(), checkins + clock(60 * H))
    assert offline(out) == [("a1/kitchen/motion", at(last + 25 * H))]


def test_one_watched_less_than_a_day_is_not_yet_known_to_check_in() -> None:
    last = 12 * H
    checkins = [msg(m, "a1/kitchen/motion", {"battery": 90}) for m in range(0, last + 1, H)]
    out = feed(hub(), checkins + clock(60 * H))
    assert offline(out) == []  # (a week for a sensor whose rhythm is not known yet)


def home(days: range, apt: str = "a1") -> list[Message]:
    """The resident at home: the hall motion sees them every morning of ``days``."""
    return [
        msg(d * 24 * H + 9 * H + m, f"{apt}/hall/motion", {"occupancy": True})
        for d in days
        for m in (0, 40)
    ]


def test_an_event_only_device_is_judged_by_its_use_on_days_at_home() -> None:
    """A TV plug used every evening, then three days away (not counted: nobody home), used
    again, then unused while the resident is home: an outage once its silence is past a
    week of days at home (its own use rate would allow far less; the floor holds)."""
    days = 10
    uses = [msg(d * 24 * H + 20 * H, "a1/living/tv", {"power": 80}) for d in range(days)]
    uses += [msg((days + 3 + d) * 24 * H + 20 * H, "a1/living/tv", {"power": 80}) for d in range(3)]
    last_day = days + 5
    at_home = home(range(days)) + home(range(days + 3, last_day + 12))
    out = feed(hub(), uses + at_home + clock((last_day + 12) * 24 * H))
    raised = offline(out)
    assert [s for s, _ in raised] == ["a1/living/tv"]
    (when,) = [t for _, t in raised]
    silent_days = (when - at(last_day * 24 * H)).total_seconds() / 86400
    assert 7 <= silent_days <= 9  # a week of days at home unused, judged at a midnight
    assert when.astimezone(Config().tz).hour == 0


def test_an_event_only_device_is_not_judged_while_nobody_is_home() -> None:
    uses = [msg(d * 24 * H + 20 * H, "a1/living/tv", {"power": 80}) for d in range(10)]
    out = feed(hub(), uses + home(range(10)) + clock(30 * 24 * H))
    assert offline(out) == []  # 20 days unused, and nobody home to use it


def test_an_event_only_device_with_too_little_use_is_not_judged_by_silence() -> None:
    """An alarm pendant pressed twice: its use is not known; silence cannot judge it."""
    presses = [msg(d * 24 * H + 12 * H, "a1/living/pendant", {"action": "single"}) for d in (1, 4)]
    out = feed(hub(), presses + home(range(40)) + clock(40 * 24 * H))
    assert offline(out) == []


def test_availability_is_trusted_where_the_device_has_it() -> None:
    z2m = [msg(0, "a1/kitchen/fridge/availability", {"state": "online"})]
    z2m += [msg(5, "a1/kitchen/fridge", {"contact": True})]
    z2m += [msg(100 * H, "a1/kitchen/fridge/availability", {"state": "offline"})]
    out = feed(hub(), z2m + clock(120 * H))
    # 100 h of silence said nothing (Z2M watched it); its offline report raised it at once
    assert offline(out) == [("a1/kitchen/fridge", at(100 * H))]


def test_a_flapping_device_is_one_open_signal_not_one_per_silence() -> None:
    h = hub({"after_hours": 2, "event_only_hours": 2})
    messages = clock(30 * 24 * H)
    t = 0
    for _ in range(6):  # speaks for a day, then silent for 5 h, six times
        messages += [msg(t + m, "a1/hall/door", {"contact": True}) for m in range(0, 24 * H, 30)]
        t += 24 * H + 5 * H
    out = feed(h, messages)
    raised = offline(out)
    entries = [e for e in h.register.entries() if e.kind == "sensor_offline"]
    # the first silence is raised and closed when it speaks again; from the second on it
    # flaps: one signal stays open for housing, each later silence folds into it
    assert len(raised) == 2
    assert [e.status for e in sorted(entries, key=lambda e: e.opened)] == ["closed", "open"]
    still_open = next(e for e in entries if e.status == "open")
    assert still_open.repeats == 4


def first_evening(apt: str, device: str, payload: dict[str, Any]) -> list[Message]:
    """Heard three times on the first evening, then not again."""
    return [msg(20 * H + m, f"{apt}/{device}", payload) for m in (0, 5, 10)]


def test_a_new_device_silent_since_its_first_evening_is_judged_as_its_kind_is() -> None:
    """Three kettles in the flat are used every few days (their silences say they speak
    only when used); a fourth, heard on the first evening only, is one of them: its use
    is not known, silence does not judge it (before, a week of silence raised it). A
    motion sensor heard on the first evening only, where the others check in hourly,
    is still offline after a week."""
    kettles = [
        msg(d * 24 * H + 8 * H + m, f"a{n}/kitchen/kettle", {"power": 1800})
        for n in (1, 2, 3)
        for d in range(0, 20, 3)
        for m in (0, 4)
    ]
    checkins = [
        msg(m, f"a{n}/kitchen/motion", {"battery": 90})
        for n in (1, 2, 3)
        for m in range(0, 20 * 24 * H, H)
    ]
    new = first_evening("a4", "kitchen/kettle", {"power": 1800})
    new += first_evening("a4", "kitchen/motion", {"occupancy": True, "battery": 90})
    h = hub()
    out = feed(h, kettles + checkins + new + home(range(20), "a4") + clock(20 * 24 * H))
    assert offline(out) == [("a4/kitchen/motion", at(20 * H + 10 + 168 * H))]
    (det,) = [d for d in h.detectors if d.name == "sensor_offline"]
    assert det.scores()["a4"]["offline_sensors"] == 1  # (the kettle is not)
    assert det.not_judged("a4") == ["a4/kitchen/kettle"]  # (thuisplus doctor names it)
