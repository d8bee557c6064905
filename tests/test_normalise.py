"""Normalisers: real Zigbee2MQTT payloads in, typed events out; any JSON never crashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.models import Message, Room, SensorEvent
from edge.normalise import CONVERTERS, INTERFACES_FIELDS, Topic, normalise, parse_topic

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "z2m_payloads.json").read_text())
T = datetime(2026, 1, 5, 7, 31, 2, tzinfo=UTC)


@pytest.mark.parametrize("case", FIXTURES, ids=[c["device"] for c in FIXTURES])
def test_real_payloads_become_typed_events(case: dict[str, Any]) -> None:
    result = normalise(Message(T, case["topic"], case["payload"]))
    assert result.reason == ""
    assert result.problems == []
    event = result.event
    assert event is not None
    apartment, room, device = case["topic"].split("/", 1)[1].split("/", 2)
    assert (event.apartment, event.room.value, event.device) == (apartment, room, device)
    for key, value in case["expect"].items():
        assert getattr(event, key) == value, key
    # what the fast constructor built is what full validation accepts
    assert SensorEvent.model_validate(event.model_dump()) == event


def test_last_seen_is_the_event_time() -> None:
    case = next(c for c in FIXTURES if "last_seen" in c["payload"])
    event = normalise(Message(T, case["topic"], case["payload"])).event
    assert event is not None
    assert event.ts == datetime.fromisoformat(case["payload"]["last_seen"])
    assert event.received == T


def test_epoch_millisecond_last_seen() -> None:
    event = normalise(
        Message(T, "zigbee2mqtt/a1/hall/m", {"occupancy": True, "last_seen": 1767594662120})
    ).event
    assert event is not None
    assert event.ts == datetime(2026, 1, 5, 6, 31, 2, 120000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("zigbee2mqtt/a012/garage/motion", "topic: unknown room 'garage'"),
        ("zigbee2mqtt/a012/hall", "topic: expected zigbee2mqtt/<apartment>/<room>/<device>"),
        ("zigbee2mqtt/a 12/hall/motion", "topic: apartment id"),
        ("zigbee2mqtt//hall/motion", "topic: expected"),
        ("other/a012/hall/motion", "topic: not under zigbee2mqtt/"),
    ],
)
def test_bad_topics_name_what_is_wrong(topic: str, reason: str) -> None:
    result = normalise(Message(T, topic, {"occupancy": True}))
    assert result.event is None
    assert result.reason.startswith(reason)


@pytest.mark.parametrize(
    "topic", ["zigbee2mqtt/bridge/state", "zigbee2mqtt/bridge/devices", "zigbee2mqtt/a1/hall/m/set"]
)
def test_bridge_and_command_topics_are_ignored(topic: str) -> None:
    assert normalise(Message(T, topic, {"state": "online"})).ignored


@pytest.mark.parametrize(
    ("payload", "up"),
    [
        ({"state": "online"}, True),
        ({"state": "offline"}, False),
        ("online", True),
        ("offline", False),
    ],
)
def test_availability(payload: Any, up: bool) -> None:
    event = normalise(Message(T, "zigbee2mqtt/a1/toilet/motion/availability", payload)).event
    assert event is not None
    assert (event.sensor_id, event.available) == ("a1/toilet/motion", up)


def test_bad_field_keeps_the_good_ones_and_reports_the_bad() -> None:
    result = normalise(Message(T, "zigbee2mqtt/a1/hall/m", {"occupancy": True, "battery": 250}))
    assert result.event is not None
    assert result.event.occupancy is True
    assert result.event.battery is None
    assert result.problems == ["battery: 250 is outside 0..100"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("occupancy on", "payload: not a JSON object (text)"),
        ([1, 2], "payload: not a JSON object (list)"),
        ({"occupancy": 1}, "payload: no usable field (occupancy: expected true or false, got 1)"),
        ({"contact": "open"}, "payload: no usable field (contact: expected true or false"),
        ({"fall": "maybe"}, "payload: no usable field (fall: expected true, false or 'fall'"),
        ({"battery": True}, "payload: no usable field (battery: expected a number, got True)"),
    ],
)
def test_unusable_payloads_are_rejected_with_a_reason(payload: Any, reason: str) -> None:
    result = normalise(Message(T, "zigbee2mqtt/a1/hall/m", payload))
    assert result.event is None
    assert result.reason.startswith(reason)


def test_every_interfaces_field_has_a_converter() -> None:
    assert len(INTERFACES_FIELDS) == 9
    for name in INTERFACES_FIELDS:
        assert name in CONVERTERS


def test_topic_parsing_keeps_slashes_in_device_names() -> None:
    where = parse_topic("zigbee2mqtt/a1/kitchen/plug/kettle")
    assert isinstance(where, Topic)
    assert (where.apartment, where.room, where.device) == ("a1", Room.KITCHEN, "plug/kettle")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
field_names = st.sampled_from([*CONVERTERS, "last_seen", "state", "temperature"]) | st.text(
    max_size=10
)
payloads = json_values | st.dictionaries(field_names, json_values, max_size=6)
topics = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda a, r, d, av: f"zigbee2mqtt/{a}/{r}/{d}" + ("/availability" if av else ""),
        st.text(min_size=0, max_size=8),
        st.sampled_from([r.value for r in Room] + ["garage", ""]),
        st.text(max_size=10),
        st.booleans(),
    ),
)


@settings(max_examples=600, deadline=None)
@given(topic=topics, payload=payloads)
def test_any_json_gives_an_event_or_a_reason_never_an_exception(topic: str, payload: Any) -> None:
    result = normalise(Message(T, topic, payload))
    if result.ignored:
        return
    assert (result.event is None) != (result.reason == "")
    if result.event is not None:
        # the event is valid by the model's own rules
        assert SensorEvent.model_validate(result.event.model_dump()) == result.event
    else:
        assert result.reason.split(":")[0] in {"topic", "payload"}
