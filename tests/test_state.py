"""Apartment state from events alone: home/away, a second person, sensors."""

from __future__ import annotations

import json

import pytest

from edge.config import Config
from edge.normalise import normalise
from edge.state import NOTHING, FlatState, StateConfig, hall_watched
from tests.helpers import at, msg


def feed(state: FlatState, *messages: object) -> None:
    for m in messages:
        ev = normalise(m).event  # type: ignore[arg-type]
        assert ev is not None
        state.advance(ev.ts)
        state.apply(ev)


def test_door_closes_and_nobody_moves_means_away_then_back_home() -> None:
    s = FlatState(StateConfig(away_after_minutes=15))
    feed(
        s,
        msg(0, "a1/hall/motion", {"occupancy": True}),
        msg(1, "a1/entrance/door", {"contact": False}),
        msg(1.5, "a1/entrance/door", {"contact": True}),
    )
    assert s.apartment("a1").presence == "home"
    s.advance(at(1.5 + 14.9))
    assert s.apartment("a1").presence == "home"
    s.advance(at(17))
    apt = s.apartment("a1")
    assert apt.presence == "away"
    assert apt.presence_since == at(1.5)
    feed(
        s,
        msg(120, "a1/entrance/door", {"contact": False}),
        msg(120.2, "a1/entrance/door", {"contact": True}),
        msg(120.5, "a1/living/motion", {"occupancy": True}),
    )
    apt = s.apartment("a1")
    assert apt.presence == "home"
    assert apt.presence_since == at(120.2)


def test_motion_after_the_door_closed_means_still_home() -> None:
    s = FlatState(StateConfig())
    feed(
        s,
        msg(0, "a1/entrance/door", {"contact": False}),
        msg(0.5, "a1/entrance/door", {"contact": True}),
        msg(2, "a1/kitchen/motion", {"occupancy": True}),
    )
    s.advance(at(60))
    assert s.apartment("a1").presence == "home"


def test_motion_right_at_the_close_is_the_leaver_not_a_stayer() -> None:
    s = FlatState(StateConfig(motion_grace_s=10))
    feed(
        s,
        msg(0, "a1/entrance/door", {"contact": False}),
        msg(0.5, "a1/entrance/door", {"contact": True}),
        msg(0.55, "a1/hall/motion", {"occupancy": True}),  # 3 s after: the resident leaving
    )
    s.advance(at(30))
    assert s.apartment("a1").presence == "away"


def test_two_rooms_at_once_is_a_second_person() -> None:
    s = FlatState(StateConfig(two_rooms_window_s=3, visitor_hold_minutes=30))
    feed(
        s,
        msg(0, "a1/kitchen/motion", {"occupancy": True}),
        msg(0.02, "a1/living/motion", {"occupancy": True}),
    )
    assert s.apartment("a1").second_person(at(10))
    assert not s.apartment("a1").second_person(at(31))


def test_walking_through_the_hall_is_one_person() -> None:
    s = FlatState(StateConfig(two_rooms_window_s=3))
    feed(
        s,
        msg(0, "a1/kitchen/motion", {"occupancy": True}),
        msg(0.02, "a1/hall/motion", {"occupancy": True}),
        msg(0.2, "a1/living/motion", {"occupancy": True}),
    )
    assert not s.apartment("a1").second_person(at(1))


@pytest.mark.parametrize("hall", ["hall", "entrance"])  # the entrance hall's sensor too
def test_two_rooms_within_seconds_with_the_hall_between_is_one_person(hall: str) -> None:
    """Up out of the chair (the living room's PIR sees it), through the hall and into the
    toilet, 2.6 s in all: one person; the same two rooms with the hall seen only before
    both are two people."""
    one = FlatState(StateConfig(two_rooms_window_s=3))
    feed(
        one,
        msg(0, "a1/living/motion", {"occupancy": True}),
        msg(0.043, f"a1/{hall}/motion", {"occupancy": True}),
        msg(0.044, "a1/toilet/motion", {"occupancy": True}),
    )
    assert not one.apartment("a1").second_person(at(1))
    two = FlatState(StateConfig(two_rooms_window_s=3))
    feed(
        two,
        msg(-0.5, f"a1/{hall}/motion", {"occupancy": True}),
        msg(0, "a1/living/motion", {"occupancy": True}),
        msg(0.044, "a1/toilet/motion", {"occupancy": True}),
    )
    assert two.apartment("a1").second_person(at(1))


@pytest.mark.parametrize(
    ("sensors", "watched"),
    [
        (["hall/motion"], True),
        (["entrance/motion"], True),  # the entrance hall's sensor, named by its room
        (["entrance/door"], False),  # a contact sees no walk
        (["hall/chair_pad", "living/motion"], False),
    ],
)
def test_the_hall_is_watched_by_a_motion_sensor_in_the_hall_or_entrance(
    sensors: list[str], watched: bool
) -> None:
    s = FlatState(StateConfig())
    for n, sensor in enumerate(sensors):
        field = "contact" if sensor.endswith("door") else "occupancy"
        feed(s, msg(n, f"a1/{sensor}", {field: True}))
    assert hall_watched(s.apartment("a1"), {}) is watched


def test_motion_elsewhere_while_the_bed_is_occupied_is_a_second_person() -> None:
    s = FlatState(StateConfig())
    feed(
        s,
        msg(0, "a1/bedroom/bed_pad", {"occupancy": True}),
        msg(30, "a1/kitchen/motion", {"occupancy": True}),
    )
    assert s.apartment("a1").second_person(at(31))


def test_sensors_last_message_battery_linkquality_and_room_activity() -> None:
    s = FlatState(StateConfig())
    feed(
        s,
        msg(0, "a1/hall/motion", {"occupancy": True, "battery": 80, "linkquality": 90}),
        msg(5, "a1/hall/motion", {"occupancy": False, "battery": 79}),
        msg(6, "a1/toilet/motion/availability", {"state": "offline"}),
    )
    apt = s.apartment("a1")
    hall = apt.sensors["a1/hall/motion"]
    assert (hall.last_seen, hall.battery, hall.linkquality, hall.messages) == (at(5), 79, 90, 2)
    assert apt.room_activity == {"hall": at(0)}
    assert apt.sensors["a1/toilet/motion"].available is False


def test_a_configured_front_door_outside_the_entrance_room() -> None:
    config = Config.model_validate(
        {"apartments": {"a1": {"devices": {"hall/door": {"role": "front_door"}}}}}
    )
    roles = {"a1/hall/door": "front_door"}
    assert config.device_override("a1/hall/door") is not None
    s = FlatState(StateConfig(), roles)
    feed(s, msg(0, "a1/hall/door", {"contact": False}), msg(0.2, "a1/hall/door", {"contact": True}))
    s.advance(at(30))
    assert s.apartment("a1").presence == "away"


def test_state_round_trips() -> None:
    s = FlatState(StateConfig())
    feed(
        s,
        msg(0, "a1/kitchen/motion", {"occupancy": True, "battery": 50}),
        msg(1, "a1/entrance/door", {"contact": False}),
        msg(1.2, "a1/entrance/door", {"contact": True}),
    )
    restored = FlatState(StateConfig())
    restored.load(s.to_dict())
    assert restored.to_dict() == s.to_dict()
    # the saved text, made one apartment at a time, is that of the whole dict
    assert s.to_json() == json.dumps(s.to_dict(), sort_keys=True)
    restored.advance(at(60))
    assert restored.apartment("a1").presence == "away"


def test_heartbeats_are_not_activity() -> None:
    """A door or fridge contact repeating its state is the sensor saying it is alive."""
    s = FlatState(StateConfig())
    feed(
        s,
        msg(0, "a1/entrance/door", {"contact": False}),
        msg(0.3, "a1/entrance/door", {"contact": True}),
    )
    s.advance(at(30))
    assert s.apartment("a1").presence == "away"
    feed(
        s,
        msg(60, "a1/entrance/door", {"contact": True, "battery": 90}),
        msg(61, "a1/kitchen/fridge", {"contact": True, "battery": 80}),
        msg(62, "a1/kitchen/fridge", {"contact": True, "battery": 80}),
    )
    apt = s.apartment("a1")
    assert apt.presence == "away"
    assert apt.last_activity == at(0.3)
    feed(s, msg(63, "a1/kitchen/fridge", {"contact": False}))
    assert s.apartment("a1").last_activity == at(63)


def test_a_late_door_message_does_not_reopen_the_door() -> None:
    """The door's "open" arrives after its "close" (a late message): the door is shut."""
    s = FlatState(StateConfig())
    feed(
        s,
        msg(0, "a1/hall/motion", {"occupancy": True}),
        msg(0.5, "a1/entrance/door", {"contact": True, "battery": 90}),  # its hourly report
        msg(1.2, "a1/entrance/door", {"contact": True}),
        msg(1.0, "a1/entrance/door", {"contact": False}),  # sent first, arrived last
    )
    assert s.apartment("a1").door_open is not True
    assert s.apartment("a1").sensors["a1/entrance/door"].contact is True


def test_a_late_door_opening_is_still_a_way_out() -> None:
    """The "open" overtaken by its "close" still says the door opened: with nobody moving
    after it the resident went out (a silence is not a still resident at home)."""
    s = FlatState(StateConfig(away_after_minutes=15))
    feed(
        s,
        msg(0, "a1/entrance/door", {"contact": True, "battery": 90}),
        msg(0.9, "a1/hall/motion", {"occupancy": True}),
        msg(1.2, "a1/entrance/door", {"contact": True}),
        msg(1.0, "a1/entrance/door", {"contact": False}),  # sent first, arrived last
    )
    apt = s.apartment("a1")
    assert apt.door_open is False
    assert apt.last_activity == at(1.0)
    s.advance(at(1.2 + 15.1))
    assert apt.presence == "away"
    assert apt.presence_since == at(1.2)


def test_a_late_door_opening_after_movement_inside_keeps_the_resident_home() -> None:
    """The late "open" arrives after the resident was already seen moving again."""
    s = FlatState(StateConfig(away_after_minutes=15))
    feed(
        s,
        msg(0, "a1/entrance/door", {"contact": True, "battery": 90}),
        msg(1.2, "a1/entrance/door", {"contact": True}),
        msg(2.0, "a1/kitchen/motion", {"occupancy": True}),
        msg(1.0, "a1/entrance/door", {"contact": False}),  # overtaken by both
    )
    s.advance(at(30))
    assert s.apartment("a1").presence == "home"


def test_an_unreadable_front_door_message_and_no_movement_after_means_out() -> None:
    """A door message nobody could read may have been the way out: as after a close."""
    s = FlatState(StateConfig(away_after_minutes=15))
    feed(
        s,
        msg(0, "a1/entrance/door", {"contact": True, "battery": 90}),
        msg(1, "a1/hall/motion", {"occupancy": True}),
    )
    s.unreadable("a1/entrance/door", at(1.1))
    feed(s, msg(1.3, "a1/entrance/door", {"contact": True}))  # closed, as it was
    s.advance(at(1.1 + 14.9))
    assert s.apartment("a1").presence == "home"
    s.advance(at(1.1 + 15.1))
    assert s.apartment("a1").presence == "away"


def _door_checking_in(s: FlatState, hours: int) -> None:
    """The front door's hourly reports (55 min apart), the resident about in the living room."""
    for k in range(hours):
        feed(
            s,
            msg(k * 55, "a1/entrance/door", {"contact": True, "battery": 90}),
            msg(k * 55 + 5, "a1/living/motion", {"occupancy": True}),
        )


@pytest.mark.parametrize(
    ("walk", "report", "presence"),
    [
        (0.5, 1.0, "away"),  # hall at +30 s, "closed" at +60 s: the "open" was lost
        (None, 1.0, "home"),  # nobody walked to the door: a report, not a way out
        (0.5, 2.0, "home"),  # the walk was 90 s before: too long ago
    ],
)
def test_a_closed_front_door_right_after_a_walk_to_it_is_a_lost_opening(
    walk: float | None, report: float, presence: str
) -> None:
    """Zigbee messages get lost. A front door that says "closed" while it was closed, long
    before its next hourly report and within a minute of someone in the hall, opened and
    closed: as after a door seen closing, no movement for 15 minutes means out."""
    s = FlatState(StateConfig(away_after_minutes=15))
    _door_checking_in(s, 9)
    t0 = 8 * 55 + 15  # 15 minutes after the door's last report
    if walk is not None:
        feed(s, msg(t0 + walk, "a1/hall/motion", {"occupancy": True}))
    feed(s, msg(t0 + report, "a1/entrance/door", {"contact": True, "battery": 90}))
    s.advance(at(t0 + report + 15.5))
    assert s.apartment("a1").presence == presence


def test_a_closed_front_door_at_its_hourly_report_is_no_way_out() -> None:
    s = FlatState(StateConfig(away_after_minutes=15))
    _door_checking_in(s, 9)
    feed(s, msg(9 * 55 - 0.5, "a1/hall/motion", {"occupancy": True}))
    feed(s, msg(9 * 55, "a1/entrance/door", {"contact": True, "battery": 89}))  # on time
    s.advance(at(9 * 55 + 30))
    assert s.apartment("a1").presence == "home"


def test_an_unreadable_front_door_message_then_movement_is_still_home() -> None:
    s = FlatState(StateConfig(away_after_minutes=15))
    feed(s, msg(0, "a1/entrance/door", {"contact": True, "battery": 90}))
    s.unreadable("a1/entrance/door", at(1.1))
    s.unreadable("a1/kitchen/fridge", at(1.2))  # not the door: no matter
    feed(s, msg(3, "a1/living/motion", {"occupancy": True}))
    s.advance(at(60))
    assert s.apartment("a1").presence == "home"


@pytest.mark.parametrize(
    ("sensor", "field", "was", "now"),
    [
        # the fridge's "closed" was lost; its hourly report says closed
        ("a1/kitchen/fridge", "contact", False, True),
        # the chair pad's "empty" was lost; its next report says empty: the resident got
        # up then, not at the report (in bed by now, the report must not look like the
        # living room waking up)
        ("a1/living/chair_pad", "occupancy", True, False),
    ],
)
def test_a_state_after_an_unreadable_message_is_no_activity(
    sensor: str, field: str, was: bool, now: bool
) -> None:
    """A report that only catches up with a lost change: nobody acted at the report."""
    s = FlatState(StateConfig())
    feed(s, msg(0, sensor, {field: was}))
    s.unreadable(sensor, at(30))  # the lost change
    feed(s, msg(75, sensor, {field: now, "battery": 90}))
    state = s.apartment("a1").sensors[sensor]
    assert (state.contact if field == "contact" else state.occupied) is now
    assert state.last_change == at(0)  # the first change, not the report that caught up
    assert s.apartment("a1").last_activity == at(0)
    if field == "occupancy":
        feed(s, msg(90, sensor, {field: True}))  # sits down again: now
        assert state.last_change == at(90)


def test_a_pad_back_from_offline_reports_its_state_as_a_catch_up_not_a_change() -> None:
    """Issue 18 (leaky-pir, seed 33): a chair pad's battery died while occupied; four days
    later it is back (``availability`` online) and its first report says empty. That is
    no getting up at 04:53 (the resident was in bed): the change happened some time while
    it was away. Its next change is a change again, and a pad that never went offline
    changes as ever."""
    s = FlatState(StateConfig())
    feed(
        s,
        msg(0, "a1/living/chair_pad", {"occupancy": True}),
        msg(60, "a1/living/chair_pad/availability", {"state": "offline"}),
        msg(4 * 24 * 60, "a1/living/chair_pad/availability", {"state": "online"}),
    )
    pad = s.apartment("a1").sensors["a1/living/chair_pad"]
    assert pad.stale
    assert pad.last_change == at(0)
    back = normalise(msg(4 * 24 * 60 + 20, "a1/living/chair_pad", {"occupancy": False})).event
    assert back is not None
    assert s.apply(back) == NOTHING
    assert pad.occupied is False
    assert pad.last_change == at(0)
    assert not pad.stale
    feed(s, msg(4 * 24 * 60 + 90, "a1/living/chair_pad", {"occupancy": True}))
    assert pad.last_change == at(4 * 24 * 60 + 90)
    other = FlatState(StateConfig())
    feed(
        other,
        msg(0, "a1/living/chair_pad", {"occupancy": True}),
        msg(20, "a1/living/chair_pad", {"occupancy": False}),
    )
    assert other.apartment("a1").sensors["a1/living/chair_pad"].last_change == at(20)
