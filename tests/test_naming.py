"""Zigbee2MQTT names as installers make them: the config's device map, Dutch rooms,
bridge/devices descriptions and groups, output: attribute, battery_low; on Zigbee2MQTT's
own message shapes (tests/fixtures/z2m/) through the whole hub, and live on a broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.app import build_hub
from edge.config import ConfigError, load_config_text
from edge.models import Message, Room, Signal, SignalKind
from edge.naming import DeviceNames, parse_place_text, room_of
from edge.normalise import normalise
from edge.pipeline import Hub
from edge.sinks import ListSink
from edge.store import Store
from tests.conftest import Broker
from tests.live import FLAT, Collector, HubProcess, Publisher, start_online, wait_for

Z2M = Path(__file__).parent / "fixtures" / "z2m"
DEVICES = json.loads((Z2M / "bridge_devices.json").read_text())
GROUPS = json.loads((Z2M / "bridge_groups.json").read_text())
PAYLOADS = json.loads((Z2M / "payloads.json").read_text())
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

CONFIG = """
flat: test-flat
apartments:
  a012: {residents: 1}
  a014: {residents: 1}
devices:
  "0x00158d0001a2b3c4": {apartment: a012, room: slaapkamer, device: motion}
  "Noodknop 14": {apartment: a014, room: woonkamer, role: sos_button}
  "0xa4c1380055667788": {apartment: a014, room: entree, role: front_door}
"""


def hub_with(config_text: str, tmp_path: Path) -> tuple[Hub, ListSink]:
    config = load_config_text(config_text)
    sink = ListSink()
    return build_hub(config, Store(tmp_path / "hub.db", config.store), [sink]), sink


def send(hub: Hub, minutes: float, topic: str, payload: Any) -> list[Signal]:
    when = T0 + timedelta(minutes=minutes)
    return hub.handle(Message(when, topic, payload, "test"))


def sensors(hub: Hub) -> set[str]:
    return {sid for st in hub.state.apartments.values() for sid in st.sensors}


def dead(hub: Hub) -> list[str]:
    hub.store.flush()
    return [str(r["reason"]) for r in hub.store.dead_letters(100)]


@pytest.mark.parametrize(
    ("name", "room"),
    [
        ("badkamer", Room.BATHROOM),
        ("Woonkamer", Room.LIVING),
        ("SLAAPKAMER", Room.BEDROOM),
        ("keuken", Room.KITCHEN),
        ("gang", Room.HALL),
        ("hal", Room.HALL),
        ("toilet", Room.TOILET),
        ("wc", Room.TOILET),
        ("entree", Room.ENTRANCE),
        ("balkon", Room.BALCONY),
        ("living room", Room.LIVING),
        ("common_room", Room.COMMON_ROOM),
        ("hallway", Room.HALL),
        ("Corridor", Room.HALL),
        ("restroom", Room.TOILET),
        ("foyer", Room.ENTRANCE),
        ("portaal", Room.HALL),
    ],
)
def test_dutch_and_english_rooms(name: str, room: Room) -> None:
    assert room_of(name) is room
    event = normalise(
        Message(T0, f"zigbee2mqtt/a012/{name}/motion", {"occupancy": True}), "zigbee2mqtt"
    ).event
    assert event is not None
    assert event.room is room
    assert event.sensor_id == f"a012/{room.value}/motion"


def test_an_unknown_room_names_the_english_and_dutch_ones() -> None:
    result = normalise(Message(T0, "zigbee2mqtt/a012/garage/motion", {"occupancy": True}))
    assert result.event is None
    assert result.reason.startswith("topic: unknown room 'garage' (one of bedroom")
    assert "badkamer" in result.reason


def test_the_device_map_places_friendly_names_and_ieee_addresses(tmp_path: Path) -> None:
    hub, sink = hub_with(CONFIG, tmp_path)
    # a new device is published under its IEEE address until it is renamed
    send(hub, 0, "zigbee2mqtt/0x00158d0001a2b3c4", PAYLOADS["aqara_motion"])
    # a renamed SOS button with its role from the map: a plain press is a call for help
    out = send(hub, 1, "zigbee2mqtt/Noodknop 14", PAYLOADS["tuya_sos_single"])
    assert [s.kind for s in out] == [SignalKind.SOS]
    assert out[0].apartment == "a014"
    assert sensors(hub) >= {"a012/bedroom/motion", "a014/living/sos"}
    assert dead(hub) == []
    assert [s.kind for s in sink.signals] == [SignalKind.SOS]


def test_the_map_keyed_by_ieee_finds_the_renamed_device_through_bridge_devices(
    tmp_path: Path,
) -> None:
    """The config names the door by its IEEE address; Zigbee2MQTT publishes it as
    'Voordeur 14'. bridge/devices says which is which: the door is the front door."""
    hub, _ = hub_with(CONFIG, tmp_path)
    before = normalise(Message(T0, "zigbee2mqtt/Voordeur 14", {"contact": False}), "zigbee2mqtt")
    assert before.event is None
    send(hub, 0, "zigbee2mqtt/bridge/devices", DEVICES)
    send(hub, 1, "zigbee2mqtt/Voordeur 14", PAYLOADS["aqara_contact_open"])
    assert "a014/entrance/door" in sensors(hub)
    assert hub.roles["a014/entrance/door"] == "front_door"


def test_bridge_devices_descriptions_and_groups_place_devices(tmp_path: Path) -> None:
    hub, _ = hub_with("flat: test-flat\n", tmp_path)
    send(hub, 0, "zigbee2mqtt/bridge/devices", DEVICES)
    send(hub, 0, "zigbee2mqtt/bridge/groups", GROUPS)
    send(hub, 1, "zigbee2mqtt/Bewegingsmelder badkamer 12", PAYLOADS["aqara_motion"])
    send(hub, 2, "zigbee2mqtt/Deurcontact 12", PAYLOADS["aqara_contact_open"])
    assert sensors(hub) == {"a012/bathroom/bewegingsmelder_badkamer_12", "a012/hall/deurcontact_12"}
    # the two entries that are not devices are named; the rest was used
    (reason,) = dead(hub)
    assert reason.startswith("partial: used the rest (bridge/devices[6]: not an object")
    assert "bridge/devices[7]: no ieee_address or friendly_name" in reason
    # a device Zigbee2MQTT does not place, nor the config, nor its name: a dead letter
    send(hub, 3, "zigbee2mqtt/Noodknop 14", PAYLOADS["tuya_sos_single"])
    assert any(
        r.startswith("topic: expected zigbee2mqtt/<apartment>/<room>/<device>, a device mapped")
        for r in dead(hub)
    )


def test_what_zigbee2mqtt_said_survives_a_restart_for_the_event_log_tail(tmp_path: Path) -> None:
    hub, _ = hub_with("flat: test-flat\n", tmp_path)
    send(hub, 0, "zigbee2mqtt/bridge/devices", DEVICES)
    hub.save()
    hub.store.close()
    again, _ = hub_with("flat: test-flat\n", tmp_path)
    place = again.names.place("Bewegingsmelder badkamer 12")
    assert not isinstance(place, str)
    assert place.sensor_id == "a012/bathroom/bewegingsmelder_badkamer_12"


def test_output_attribute_mode(tmp_path: Path) -> None:
    """Zigbee2MQTT with ``output: attribute`` publishes each field on its own topic, the
    value as text."""
    hub, _ = hub_with(CONFIG, tmp_path)
    send(hub, 0, "zigbee2mqtt/a012/hall/motion/occupancy", "true")
    send(hub, 0.1, "zigbee2mqtt/a012/hall/motion/battery", "87")
    out = send(hub, 1, "zigbee2mqtt/Noodknop 14/action", "single")
    assert [s.kind for s in out] == [SignalKind.SOS]
    st = hub.state.apartments["a012"].sensors["a012/hall/motion"]
    assert st.battery == 87
    assert "a012/hall/motion/occupancy" not in sensors(hub)
    assert dead(hub) == []


def test_a_device_with_only_battery_low_gets_its_battery_signal(tmp_path: Path) -> None:
    hub, _ = hub_with("flat: test-flat\n", tmp_path)
    topic = "zigbee2mqtt/a014/balkon/deur"  # (not the front door: no door_open in between)
    first = send(hub, 0, topic, PAYLOADS["tuya_door_battery_low"])
    assert [s.kind for s in first] == [SignalKind.LOW_BATTERY]
    assert "batterij laag" in first[0].summary
    # flickering near the limit: one signal
    assert send(hub, 60, topic, PAYLOADS["tuya_door_battery_ok"]) == []
    assert send(hub, 120, topic, PAYLOADS["tuya_door_battery_low"]) == []
    # housing replaced it and closed the signal; false for a day re-arms, low again after
    # that is a new signal
    hub.register.close(first[0].id, "confirmed", "housing")
    assert send(hub, 200, topic, PAYLOADS["tuya_door_battery_ok"]) == []
    assert send(hub, 200 + 25 * 60, topic, PAYLOADS["tuya_door_battery_ok"]) == []
    later = send(hub, 200 + 26 * 60, topic, PAYLOADS["tuya_door_battery_low"])
    assert [s.kind for s in later] == [SignalKind.LOW_BATTERY]


def test_the_config_checks_rooms_and_roles_in_devices() -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text(
            "devices:\n"
            "  Sensor 1: {apartment: a012, room: garage}\n"
            "  Sensor 2: {apartment: a012, room: hal, role: alarm}\n"
            "apartments:\n  a012:\n    devices:\n      zolder/pad: {role: bed_pad}\n"
        )
    text = "\n".join(err.value.lines)
    assert "devices -> Sensor 1 -> room" in text
    assert "unknown room 'garage'" in text
    assert "unknown role 'alarm'" in text
    assert "'zolder/pad': unknown room 'zolder'" in text
    # Dutch rooms under an apartment's devices reach the sensor id the events carry
    config = load_config_text(
        "apartments:\n  a012:\n    devices:\n      slaapkamer/mat: {role: bed_pad}\n"
    )
    assert config.device_roles() == {"a012/bedroom/mat": "bed_pad"}


@pytest.mark.parametrize(
    ("topic", "room"),
    [
        ("a012/gang/voordeur", Room.ENTRANCE),
        ("a012/hall/front_door", Room.ENTRANCE),
        ("a012/hal/Main Door Contact", Room.ENTRANCE),
        ("a012/entree/voordeur", Room.ENTRANCE),
        ("a012/hall/front_door_motion", Room.HALL),  # a PIR by the door stays the hall's
        ("a012/hall/door", Room.HALL),  # which door, the name does not say
        ("a012/keuken/fridge_door", Room.KITCHEN),
    ],
)
def test_a_front_door_hung_in_the_hall_is_the_entrances(topic: str, room: Room) -> None:
    """The way out and in is read from the entrance's contact; an installer who puts the
    front door in the hall and names it so is understood (the config's map still decides
    where it has the device)."""
    place = DeviceNames().place(topic)
    assert not isinstance(place, str)
    assert place.room is room


def test_a_front_door_named_in_the_hall_by_zigbee2mqtt_is_the_entrances() -> None:
    names = DeviceNames()
    names.learn_devices(
        [
            {
                "ieee_address": "0x00158d0001a2b3c4",
                "friendly_name": "Voordeur",
                "description": "a012/gang",
            }
        ]
    )
    place = names.place("Voordeur")
    assert not isinstance(place, str)
    assert place.sensor_id == "a012/entrance/voordeur"


def test_parse_place_text_reads_what_installers_write() -> None:
    assert parse_place_text("a012/woonkamer") == ("a012", Room.LIVING)
    assert parse_place_text("Appartement a0-7/Slaapkamer links") == ("a0-7", Room.BEDROOM)
    assert parse_place_text("in de badkamer") is None
    assert DeviceNames().place("0x00158d0001a2b3c4") == "not <apartment>/<room>/<device>"


def test_an_alarm_button_without_its_role_is_a_warning_not_silence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    text = (
        "devices:\n  Noodknop 14: {apartment: a014, room: woonkamer}\n"
        "  Hanger 15: {apartment: a015, room: woonkamer, role: sos_button}\n"
        "apartments:\n  a012:\n    devices:\n      hall/sos_knop: {}\n"
    )
    config = load_config_text(text)
    warned = config.warnings()
    assert len(warned) == 2
    assert warned[0].startswith("devices -> Noodknop 14: named like an alarm button")
    assert warned[1].startswith("apartments -> a012 -> devices -> hall/sos_knop")
    path = tmp_path / "flat.yaml"
    path.write_text(text)
    assert main(["check-config", str(path)]) == 0
    said = capsys.readouterr().out
    assert said.count("WARN ") == 2
    assert said.rstrip().endswith("OK (flat demo-flat, 1 apartments configured)")
    # the hub says so in its log at the first press, and raises no SOS from a plain press
    hub, _ = hub_with(text, tmp_path)
    with caplog.at_level("WARNING", logger="edge.pipeline"):
        out = send(hub, 0, "zigbee2mqtt/Noodknop 14", PAYLOADS["tuya_sos_single"])
    assert out == []
    assert "a014/living/noodknop_14 is named like an alarm button" in caplog.text


@pytest.mark.broker
def test_live_a_large_retained_bridge_devices_places_a_renamed_sos_button(
    broker: Broker, tmp_path: Path
) -> None:
    """On a real broker: Zigbee2MQTT's retained device list for a whole flat (well over the
    64 KB a sensor message may be) is read; the config keys the SOS button by its IEEE
    address, Zigbee2MQTT publishes it by its friendly name; a plain press pages."""
    exposes = [
        {"name": f"x{i}", "property": f"x{i}", "type": "numeric", "description": "y" * 80}
        for i in range(8)
    ]
    filler = [
        {
            "ieee_address": f"0x00158d00{n:08x}",
            "type": "EndDevice",
            "friendly_name": f"dev {n}",
            "definition": {"model": "M", "vendor": "V", "description": "d", "exposes": exposes},
        }
        for n in range(400)
    ]
    body = json.dumps(DEVICES + filler)
    assert len(body) > 300_000
    pub = Publisher(broker)
    topic = "zigbee2mqtt/bridge/devices"
    pub.client.publish(topic, body, qos=1, retain=True).wait_for_publish(10)
    watch = Collector(broker, f"thuisplus/{FLAT}/#")
    hub = HubProcess(
        broker,
        tmp_path / "hub",
        "apartments:\n  a014: {residents: 1}\n"
        'devices:\n  "0xa4c1380011223344": {apartment: a014, room: woonkamer, role: sos_button}\n',
    )
    try:
        start_online(hub, watch)
        pub.send("zigbee2mqtt/Noodknop 14", PAYLOADS["tuya_sos_single"])

        def paged() -> bool:
            return any(
                p.get("kind") == "sos" and p.get("apartment") == "a014" for p in watch.payloads()
            )

        wait_for(paged, 15, lambda: f"an SOS signal; the hub's log:\n{hub.output()[-3000:]}")
        assert "Refused a message on zigbee2mqtt/bridge/devices" not in hub.output()
    finally:
        hub.stop()
        pub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        pub.close()
        watch.close()


def test_the_ansible_role_accepts_the_rooms_the_hub_accepts() -> None:
    import yaml

    from edge.naming import ROOM_WORDS

    role = Path(__file__).parents[1] / "deploy/ansible/roles/zigbee2mqtt/defaults/main.yml"
    rooms = yaml.safe_load(role.read_text())["zigbee2mqtt_rooms"]
    assert sorted(rooms) == sorted(ROOM_WORDS)
    assert {r.value for r in Room} <= set(rooms)
