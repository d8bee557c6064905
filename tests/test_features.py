"""Daily features: counted in event time per local day, heartbeats not counted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from edge.app import build_hub
from edge.config import Config, load_config_text
from edge.features import FEATURES, DayFeatures
from edge.replay import replay
from edge.store import Store
from tests.helpers import T0, msg, write_recording

# T0 is 06:00 local on Monday 5 January 2026; minutes below count from there


class Days:
    def __init__(self) -> None:
        self.days: list[DayFeatures] = []
        self.closed: list[date] = []

    def features(self, day: DayFeatures) -> None:
        self.days.append(day)

    def day_closed(self, day: date) -> None:
        self.closed.append(day)


def day_of_life() -> list[object]:
    m = [
        msg(-4 * 60, "a1/toilet/motion", {"occupancy": True}),  # 02:00 a night visit
        msg(-4 * 60 + 5, "a1/toilet/motion", {"occupancy": True}),  # still the same visit
        msg(-2 * 60, "a1/toilet/motion", {"occupancy": False}),
        msg(-2 * 60 + 1, "a1/toilet/motion", {"occupancy": True}),  # 04:01 a second visit
        msg(90, "a1/kitchen/motion", {"occupancy": True, "linkquality": 96}),  # 07:30
        msg(91, "a1/kitchen/kettle", {"power": 2100.0}),
        msg(100, "a1/kitchen/fridge", {"contact": True, "battery": 90}),  # heartbeat
        msg(240, "a1/entrance/door", {"contact": False}),  # 10:00 out
        msg(240.3, "a1/entrance/door", {"contact": True}),
        msg(330, "a1/entrance/door", {"contact": False}),  # 11:30 back
        msg(330.2, "a1/entrance/door", {"contact": True}),
        msg(331, "a1/hall/motion", {"occupancy": True}),
        msg(600, "a1/living/motion", {"occupancy": True}),  # 16:00
        msg(60 * 24, "a1/bedroom/motion", {"occupancy": True}),  # next day 06:00
    ]
    return m


def test_a_day_of_life_in_numbers(tmp_path: Path) -> None:
    config = Config()
    days = Days()
    hub = build_hub(config, Store(None, config.store), feature_sinks=[days])
    replay([write_recording(tmp_path / "r.jsonl", day_of_life())], hub)  # type: ignore[arg-type]
    (day,) = days.days
    assert day.apartment == "a1"
    assert day.day.isoformat() == "2026-01-05"
    assert set(day.values) == set(FEATURES)
    v = day.values
    assert v["night_toilet_visits"] == 2
    assert v["outings"] == 1
    assert 89 <= v["time_out_minutes"] <= 90.5
    assert v["kitchen_events"] == 2  # motion and kettle; the fridge heartbeat is not
    assert v["rooms_visited"] == 5  # toilet, kitchen, entrance, hall, living
    assert v["active_hours"] == 6  # 02, 04, 07, 10, 11 and 16 h
    assert v["messages"] == 13
    assert T0.date() == day.day
    assert days.closed == [day.day]


def test_features_survive_a_restart(tmp_path: Path) -> None:
    """Half the day in one run, the rest after a restart: the same numbers."""
    lines = day_of_life()
    config = Config()
    whole = Days()
    replay(
        [write_recording(tmp_path / "all.jsonl", lines)],  # type: ignore[arg-type]
        build_hub(config, Store(None, config.store), feature_sinks=[whole]),
    )
    state = tmp_path / "db.sqlite"
    halves = Days()
    for n, part in enumerate((lines[:7], lines[7:])):
        hub = build_hub(config, Store(state, config.store), feature_sinks=[halves])
        replay([write_recording(tmp_path / f"{n}.jsonl", part)], hub)  # type: ignore[arg-type]
        hub.store.close()
    assert [d.values for d in halves.days] == [d.values for d in whole.days]


def test_a_sensor_that_checks_in_is_down_when_silent_one_used_only_when_needed_is_not(
    tmp_path: Path,
) -> None:
    """The kitchen sensor reports only when someone is there (no heartbeat): six times a
    day and silent 10.5 hours every night, and the kettle only on days it is used (every
    third day): their silences are no outage, from the first day on. The hall sensor
    checks in every half hour: 6.5 silent hours on day 12 are an outage, of the hall
    only."""
    lines = []
    for day in range(14):
        start = day * 24 * 60  # 06:00 local
        for minute in (60, 120, 390, 420, 720, 870):  # 07:00 ... 20:30
            lines.append(msg(start + minute, "a1/kitchen/motion", {"occupancy": True}))
        if day % 3 == 0:
            lines.append(msg(start + 61, "a1/kitchen/kettle", {"power": 2000.0}))
            lines.append(msg(start + 64, "a1/kitchen/kettle", {"power": 0.0}))
        for minute in range(0, 24 * 60, 30):
            if day == 12 and 60 <= minute < 7 * 60 + 30:
                continue  # the hall sensor is down from 07:00 to 13:30
            lines.append(msg(start + minute + 1, "a1/hall/motion", {"occupancy": False}))
    lines.sort(key=lambda m: m.received)
    config = Config()
    days = Days()
    replay(
        [write_recording(tmp_path / "r.jsonl", lines)],  # type: ignore[arg-type]
        build_hub(config, Store(None, config.store), feature_sinks=[days]),
    )
    first = min(d.day for d in days.days)
    silent = {(d.day - first).days: d.values["sensors_silent"] for d in days.days}
    assert {n: v for n, v in silent.items() if n != 12} == dict.fromkeys(
        (n for n in silent if n != 12), 0.0
    )
    assert silent[12] == 1.0
    (outage,) = [d for d in days.days if (d.day - first).days == 12]
    assert outage.silent_rooms == frozenset({"hall"})
    uses = [d.values["appliance_uses"] for d in sorted(days.days, key=lambda d: d.day)]
    assert uses[:6] == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]  # an unused kettle reads zero


def test_a_sensor_that_checked_in_and_fell_silent_is_down_until_heard_again(
    tmp_path: Path,
) -> None:
    """A bathroom sensor checks in hourly for three days, then nothing for two days (a
    dead battery): those days and the day it is back have the bathroom down; the kitchen,
    used only when needed, never."""
    lines = []
    for hour in range(8 * 24):
        if not 3 * 24 <= hour < 5 * 24 + 6:
            lines.append(msg(hour * 60 + 5, "a1/bathroom/motion", {"occupancy": False}))
        if hour % 24 in (2, 7, 12):
            lines.append(msg(hour * 60 + 20, "a1/kitchen/motion", {"occupancy": True}))
    config = Config()
    days = Days()
    replay(
        [write_recording(tmp_path / "r.jsonl", lines)],  # type: ignore[arg-type]
        build_hub(config, Store(None, config.store), feature_sinks=[days]),
    )
    first = min(d.day for d in days.days)
    rooms = {(d.day - first).days: d.silent_rooms for d in days.days}
    down = {n for n, r in rooms.items() if r}
    assert down == {3, 4, 5}  # T0 is 06:00: silent from 06:00 on day 3 to 12:00 on day 5
    assert all(r == frozenset({"bathroom"}) for r in rooms.values() if r)


def owl_night(pad: str | None) -> list[object]:
    """A night owl: to bed at 01:45, three toilet visits in the night (03:00, 07:30, 08:40),
    up at 10:00 and straight to the toilet, a nap with a toilet visit in the afternoon."""
    m: list[object] = []

    def bed(minute: float, occupied: bool) -> None:
        if pad is not None:
            m.append(msg(minute, pad, {"occupancy": occupied}))

    def toilet(minute: float) -> None:
        m.append(msg(minute, "a1/toilet/motion", {"occupancy": True}))
        m.append(msg(minute + 3, "a1/toilet/motion", {"occupancy": False}))

    bed(-255, True)  # 01:45 lies down
    for out in (-182, 88, 158):  # 02:58, 07:28, 08:38 out of bed
        bed(out, False)
        toilet(out + 2)
        bed(out + 8, True)
    bed(240, False)  # 10:00 up for the day
    toilet(242)  # the morning visit is not a night visit
    m.append(msg(250, "a1/kitchen/motion", {"occupancy": True}))
    bed(480, True)  # 14:00 a nap
    bed(500, False)
    toilet(502)
    bed(510, True)
    bed(540, False)
    m.append(msg(600, "a1/living/motion", {"occupancy": True}))
    m.append(msg(60 * 24, "a1/living/motion", {"occupancy": True}))  # next day 06:00
    return m


def night_visits(tmp_path: Path, lines: list[object], config: Config | None = None) -> float:
    config = config or Config()
    days = Days()
    hub = build_hub(config, Store(None, config.store), feature_sinks=[days])
    replay([write_recording(tmp_path / "r.jsonl", lines)], hub)  # type: ignore[arg-type]
    (day,) = days.days
    return day.values["night_toilet_visits"]


def test_night_toilet_visits_between_lying_down_and_getting_up(tmp_path: Path) -> None:
    """With a bed pad the night is the resident's own: all three visits of a night owl
    count (02:58 to 08:45), the visit after getting up and the nap's do not."""
    assert night_visits(tmp_path, owl_night("a1/bedroom/bed_pad")) == 3
    # a pad named otherwise counts through its role
    conf = load_config_text(
        "apartments:\n  a1:\n    devices:\n      bedroom/mat: {role: bed_pad}\n", "<test>"
    )
    assert night_visits(tmp_path, owl_night("a1/bedroom/mat"), conf) == 3


def test_night_toilet_visits_without_a_bed_pad_use_the_fixed_night(tmp_path: Path) -> None:
    """No bed pad, or two (a couple: whose night?): 00:00-06:00, one visit of the owl's."""
    assert night_visits(tmp_path, owl_night(None)) == 1
    two = owl_night("a1/bedroom/bed_pad")
    two.insert(0, msg(-300, "a1/bedroom/bed_pad_2", {"occupancy": True}))
    assert night_visits(tmp_path, two) == 1


def test_walks_through_the_entrance_hall_are_timed_as_through_the_hall(tmp_path: Path) -> None:
    """An installer who put the hall's motion sensor under ``entrance`` (the entrance hall):
    the walks between rooms are timed as through the hall; the front door's contact is
    no walk (coming home)."""
    values = {}
    for hall in ("hall", "entrance"):
        lines = [
            msg(60, "a1/bedroom/motion", {"occupancy": True}),
            msg(61, f"a1/{hall}/motion", {"occupancy": True}),
            msg(61.2, "a1/kitchen/motion", {"occupancy": True}),  # 12 s from the hall
            msg(90, f"a1/{hall}/motion", {"occupancy": True}),
            msg(90.3, "a1/living/motion", {"occupancy": True}),  # 18 s
            msg(200, "a1/entrance/door", {"contact": False}),
            msg(200.1, "a1/kitchen/motion", {"occupancy": True}),  # after the door: no walk
            msg(60 * 24, "a1/bedroom/motion", {"occupancy": True}),
        ]
        config = Config()
        days = Days()
        hub = build_hub(config, Store(None, config.store), feature_sinks=[days])
        replay([write_recording(tmp_path / f"{hall}.jsonl", lines)], hub)  # type: ignore[arg-type]
        (day,) = days.days
        values[hall] = (day.values["transitions"], day.values["transition_seconds"])
    assert values["hall"] == (2.0, 15.0)
    assert values["entrance"] == values["hall"]
