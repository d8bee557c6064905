"""Home Assistant MQTT discovery from a live ``thuisplus run`` over a private Mosquitto: the
published configs (snapshot-like), the states, the acknowledge button's command, and that
nothing is published again when nothing changed. No Home Assistant needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.homeassistant.discovery import ENTITIES, Topics, hub_configs
from tests.conftest import Broker
from tests.live import FLAT, Collector, HubProcess, Publisher, wait_for

pytestmark = pytest.mark.broker

PREFIX = "homeassistant"
NODE = f"thuisplus_{FLAT}_a012"
STATE = f"thuisplus/{FLAT}/ha/a012"
AVAIL = f"thuisplus/{FLAT}/hub/availability"
HA_DISCOVERY_ONLY = (
    "homeassistant:\n  enabled: true\n  notify: {}\n  persistent_notifications: false\n"
)

DEVICE = {
    "identifiers": [NODE],
    "name": "a012",
    "manufacturer": "Thuisplus",
    "model": "Signaalhub",
}


def config_topic(component: str, key: str) -> str:
    return f"{PREFIX}/{component}/{NODE}/{key}/config"


class Watch:
    def __init__(self, broker: Broker) -> None:
        self.c = Collector(broker, "#", client_id="test-ha-watch")

    def last(self, topic: str) -> bytes | None:
        return self.c.last(topic)

    def json(self, topic: str) -> Any:
        raw = self.c.last(topic)
        return None if raw is None else json.loads(raw)

    def count(self, topic: str) -> int:
        with self.c.lock:
            return sum(1 for t, _, _ in self.c.messages if t == topic)


@pytest.fixture
def running(broker: Broker, tmp_path: Path):  # type: ignore[no-untyped-def]
    watch = Watch(broker)
    hub = HubProcess(broker, tmp_path / "hub", HA_DISCOVERY_ONLY)
    hub.start()
    pub = Publisher(broker)
    try:
        wait_for(lambda: watch.last(AVAIL) == b"online", 15, lambda: hub.output())
        yield hub, watch, pub
    finally:
        pub.close()
        assert hub.stop() == 0
        watch.c.close()


def test_discovery_configs_states_and_the_acknowledge_button(running) -> None:  # type: ignore[no-untyped-def]
    hub, watch, pub = running
    seen = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    pub.send("zigbee2mqtt/a012/living/motion", {"occupancy": True, "last_seen": seen.isoformat()})
    topics = {d.key: config_topic(d.component, d.key) for d in ENTITIES}
    wait_for(
        lambda: all(watch.last(t) for t in topics.values()),
        10,
        lambda: f"every discovery config; hub log:\n{hub.output()}",
    )

    # the configs, as Home Assistant reads them
    assert watch.json(topics["needs_attention"]) == {
        "name": "Aandacht nodig",
        "unique_id": f"thuisplus_{FLAT}_a012_needs_attention",
        "object_id": "thuisplus_a012_needs_attention",
        "device": DEVICE,
        "origin": {"name": "thuisplus"},
        "availability": [{"topic": AVAIL}],
        "qos": 1,
        "device_class": "problem",
        "state_topic": f"{STATE}/needs_attention",
        "json_attributes_topic": f"{STATE}/needs_attention/attributes",
    }
    assert watch.json(topics["open_signals"]) == {
        "name": "Open signalen",
        "unique_id": f"thuisplus_{FLAT}_a012_open_signals",
        "object_id": "thuisplus_a012_open_signals",
        "device": DEVICE,
        "origin": {"name": "thuisplus"},
        "availability": [{"topic": AVAIL}],
        "qos": 1,
        "state_class": "measurement",
        "icon": "mdi:alert-circle-outline",
        "state_topic": f"{STATE}/open_signals",
        "json_attributes_topic": f"{STATE}/open_signals/attributes",
    }
    presence = watch.json(topics["presence"])
    assert (presence["device_class"], presence["payload_on"], presence["payload_off"]) == (
        "presence",
        "home",
        "away",
    )
    assert watch.json(topics["last_activity"])["device_class"] == "timestamp"
    button = watch.json(topics["acknowledge"])
    assert button["command_topic"] == f"thuisplus/{FLAT}/command/ack"
    assert button["availability"] == [{"topic": AVAIL}, {"topic": f"{STATE}/acknowledge"}]
    assert button["availability_mode"] == "all"
    assert json.loads(button["payload_press"]) == {"signal": "", "by": "home_assistant"}
    for topic in topics.values():
        assert watch.json(topic)["device"] == DEVICE  # the apartment id, nothing else

    # the states
    wait_for(lambda: watch.last(f"{STATE}/last_activity") is not None, 10, "last activity")
    assert datetime.fromisoformat((watch.last(f"{STATE}/last_activity") or b"").decode()) == seen
    assert watch.last(f"{STATE}/needs_attention") == b"OFF"
    assert watch.json(f"{STATE}/needs_attention/attributes") == {
        "summary": None,
        "summary_en": None,
        "signal": None,
        "status": None,
        "signals": [],
    }
    assert watch.last(f"{STATE}/open_signals") == b"0"
    assert watch.last(f"{STATE}/acknowledge") == b"offline"
    assert watch.last(f"{STATE}/presence") == b"home"  # motion inside: someone is home

    # nothing changed: nothing published again
    configs_before = watch.count(topics["needs_attention"])
    for _ in range(3):
        pub.send("zigbee2mqtt/a012/living/motion", {"occupancy": True, "linkquality": 80})
    pub.send("zigbee2mqtt/a012/living/motion", {"occupancy": False, "linkquality": 81})
    wait_for(lambda: watch.last(f"{STATE}/last_activity") != seen.isoformat().encode(), 10, "x")
    assert watch.count(topics["needs_attention"]) == configs_before == 1
    assert watch.count(f"{STATE}/needs_attention") == 1

    # a fall: needs attention, one open signal, the button armed with its id
    pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True})
    # one refresh publishes the entities in order; the button's state comes last
    wait_for(lambda: watch.last(f"{STATE}/acknowledge") == b"online", 10, lambda: hub.output())
    assert watch.last(f"{STATE}/needs_attention") == b"ON"
    attrs = watch.json(f"{STATE}/open_signals/attributes")
    (sid,) = attrs["ids"]
    assert attrs["kinds"] == ["fall"]
    assert attrs["signals"][0]["severity"] == "urgent"
    assert watch.last(f"{STATE}/open_signals") == b"1"
    # the signal's text, in the flat's language and in English, for automations
    raised = watch.json(f"thuisplus/{FLAT}/signal/a012/fall")
    assert raised["summary"] != raised["summary_en"]
    texts = {"summary": raised["summary"], "summary_en": raised["summary_en"]}
    assert {k: attrs["signals"][0][k] for k in texts} == texts
    attention = watch.json(f"{STATE}/needs_attention/attributes")
    assert (attention["signal"], attention["status"]) == (sid, "open")
    assert {k: attention[k] for k in texts} == texts
    assert watch.last(f"{STATE}/acknowledge") == b"online"
    wait_for(lambda: sid in watch.json(topics["acknowledge"])["payload_press"], 10, "armed")
    button = watch.json(topics["acknowledge"])
    assert json.loads(button["payload_press"]) == {"signal": sid, "by": "home_assistant"}

    # pressing the button (what Home Assistant publishes) acknowledges it
    pub.send(button["command_topic"], button["payload_press"])
    result = f"thuisplus/{FLAT}/command/result"
    wait_for(lambda: watch.last(result) is not None, 10, "the command's result")
    assert json.loads(watch.last(result) or b"{}")["status"] == "acknowledged"
    # one refresh publishes the entities in order; the button's state comes last
    wait_for(lambda: watch.last(f"{STATE}/acknowledge") == b"offline", 10, "button off")
    assert watch.last(f"{STATE}/open_signals") == b"0"
    assert "acknowledged by home_assistant" in hub.output()
    # acknowledged is not resolved: the apartment needs attention until the signal is closed
    assert watch.last(f"{STATE}/needs_attention") == b"ON"
    attention = watch.json(f"{STATE}/needs_attention/attributes")
    assert (attention["status"], attention["signals"][0]["taken_by"]) == (
        "acknowledged",
        "home_assistant",
    )
    close = {"signal": sid, "by": "coordinator", "verdict": "confirmed"}
    pub.send(f"thuisplus/{FLAT}/command/close", close)
    wait_for(lambda: watch.last(f"{STATE}/needs_attention") == b"OFF", 10, "closed: off")
    assert watch.json(f"{STATE}/needs_attention/attributes")["signals"] == []

    # all of it is retained: Home Assistant starting later finds it
    # (and the hub's own device: its problem and faults read the health topic)
    hub_topics = {t for t, _ in hub_configs(Topics("thuisplus", FLAT, PREFIX), "nl")}
    late = Collector(running[0].broker, f"{PREFIX}/#", client_id="test-ha-late")
    try:
        want = len(topics) + len(hub_topics)
        wait_for(lambda: len(late.messages) >= want, 10, "the retained configs")
        with late.lock:
            assert all(retained for _, _, retained in late.messages)
            assert {t for t, _, _ in late.messages} == set(topics.values()) | hub_topics
    finally:
        late.close()


def test_a_reconnect_publishes_everything_again(broker: Broker, tmp_path: Path) -> None:
    """The broker may lose what it held (no persistence, a new broker): after the hub
    reconnects, the configs and states are there again."""
    hub = HubProcess(broker, tmp_path / "hub", HA_DISCOVERY_ONLY)
    hub.start()
    pub = Publisher(broker)
    try:
        watch = Watch(broker)
        wait_for(lambda: watch.last(AVAIL) == b"online", 15, lambda: hub.output())
        pub.send("zigbee2mqtt/a012/living/motion", {"occupancy": True})
        topic = config_topic("binary_sensor", "needs_attention")
        wait_for(lambda: watch.last(topic) is not None, 10, "the config")
        watch.c.close()
        # clear the retained config as if the broker had forgotten it, then restart it
        pub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        broker.restart(down_s=0.5)
        watch = Watch(broker)
        wait_for(
            lambda: watch.last(topic) not in (None, b""),
            30,
            lambda: f"the config again after the reconnect; hub log:\n{hub.output()}",
        )
        assert watch.json(topic)["unique_id"] == f"thuisplus_{FLAT}_a012_needs_attention"
        watch.c.close()
    finally:
        pub.close()
        assert hub.stop() == 0
