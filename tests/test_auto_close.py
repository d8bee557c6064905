"""The hub closes a signal by itself when its condition clears (the front door is closed
again, the silent sensor reports again), on a real store: register and audit trail, the
outbox and the sinks that take closings, the agenda, the per-detector setting, restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.app import build_hub
from edge.config import Config, load_config_text
from edge.models import Signal
from edge.pipeline import Hub
from edge.store import Store
from integrations.agenda.report import build_agenda, render_html
from tests.conftest import Broker
from tests.helpers import at, msg
from tests.live import FLAT, Collector, HubProcess, Publisher, wait_for


class ClosingSink:
    """A sink that takes raised signals and the hub's closings."""

    def __init__(self) -> None:
        self.raised: list[Signal] = []
        self.closings: list[tuple[Signal, str]] = []

    def emit(self, signal: Signal) -> None:
        self.raised.append(signal)

    def closed(self, signal: Signal, key: str) -> None:
        self.closings.append((signal, key))

    def close(self) -> None:
        pass


def hub_on(path: Path, config: Config, detectors: list[str]) -> tuple[Hub, ClosingSink]:
    sink = ClosingSink()
    return build_hub(config, Store(path, config.store), [sink], detectors=detectors), sink


def config(extra: str = "") -> Config:
    return load_config_text("flat: test-flat\ntimezone: Europe/Amsterdam\n" + extra)


def door(hub: Hub, minute: float, closed: bool, apt: str = "a1") -> None:
    hub.handle(msg(minute, f"{apt}/entrance/door", {"contact": closed}))


def test_door_closed_again_closes_the_signal(tmp_path: Path) -> None:
    hub, sink = hub_on(tmp_path / "hub.db", config(), ["door_open"])
    door(hub, 0, True)
    door(hub, 10, False)  # 06:10 open
    hub.advance(at(40))
    (raised,) = sink.raised
    assert hub.register.get(raised.id).status == "open"  # type: ignore[union-attr]
    door(hub, 72, True)  # 07:12 closed again
    entry = hub.register.get(raised.id)
    assert entry is not None
    assert (entry.status, entry.verdict) == ("closed", None)
    assert entry.notes == "Deur weer dicht om 07:12 (62 min open)."
    trail = hub.register.audit_trail(raised.id)
    assert [(a["actor"], a["action"]) for a in trail] == [
        ("hub", "raised"),
        ("hub", "cleared"),
        ("hub", "closed"),
    ]
    assert trail[2]["details"] == {
        "from": "open",
        "auto": True,
        "reason": "Deur weer dicht om 07:12 (62 min open).",
        "reason_en": "Door closed again at 07:12 (open 62 min).",
    }
    assert datetime.fromisoformat(trail[2]["at"]) == at(72)  # event time
    # out on the signal's own topic, through the outbox: same id, status and reason
    ((closing, key),) = sink.closings
    assert key == f"{raised.id}:closed"
    assert (closing.id, closing.status, closing.closed_at) == (raised.id, "closed", at(72))
    assert closing.reason == "Deur weer dicht om 07:12 (62 min open)."
    pending = {k: (t, json.loads(b)) for k, t, b in hub.store.outbox_pending()}
    topic, body = pending[key]
    assert topic == "thuisplus/test-flat/signal/a1/door_open"
    assert (body["id"], body["status"], body["kind"]) == (raised.id, "closed", "door_open")
    assert "status" not in pending[raised.id][1]  # the raised signal itself carries none
    assert hub.stats.closed == {"door_open": 1}
    # left open again later: a signal of its own, not a repeat of the closed one
    door(hub, 300, False)
    hub.advance(at(330))
    assert len(sink.raised) == 2
    assert sink.raised[1].id != raised.id
    assert [e.status for e in hub.register.entries()] == ["closed", "open"]


def test_a_signal_someone_took_on_is_not_closed(tmp_path: Path) -> None:
    hub, sink = hub_on(tmp_path / "hub.db", config(), ["door_open"])
    door(hub, 0, True)
    door(hub, 10, False)
    hub.advance(at(40))
    (raised,) = sink.raised
    hub.register.acknowledge(raised.id, "on_call", at(45))
    door(hub, 72, True)
    entry = hub.register.get(raised.id)
    assert entry is not None
    assert entry.status == "acknowledged"
    trail = hub.register.audit_trail(raised.id)
    assert trail[-1]["action"] == "cleared"  # noted for whoever handles it
    assert trail[-1]["details"]["reason"] == "Deur weer dicht om 07:12 (62 min open)."
    assert sink.closings == []
    assert hub.store.outbox_pending()[-1][0] == raised.id
    assert not hub.stats.closed


def test_auto_close_can_be_switched_off_per_apartment(tmp_path: Path) -> None:
    conf = config("apartments:\n  a2:\n    detectors:\n      door_open: {auto_close: false}\n")
    hub, sink = hub_on(tmp_path / "hub.db", conf, ["door_open"])
    for apt in ("a1", "a2"):
        door(hub, 0, True, apt)
        door(hub, 10, False, apt)
    hub.advance(at(40))
    for apt in ("a1", "a2"):
        door(hub, 72, True, apt)
    status = {e.apartment: e.status for e in hub.register.entries()}
    assert status == {"a1": "closed", "a2": "open"}
    a2 = next(e for e in hub.register.entries() if e.apartment == "a2")
    assert [a["action"] for a in hub.register.audit_trail(a2.id)] == ["raised"]
    assert [s.apartment for s, _ in sink.closings] == ["a1"]


def heartbeats(hub: Hub, sensors: list[str], start: int, end: int) -> None:
    for m in range(start, end, 60):
        for s in sensors:
            hub.handle(msg(m, s, {"battery": 90}))


def test_sensor_offline_closes_when_every_folded_sensor_is_back(tmp_path: Path) -> None:
    conf = config("detectors:\n  sensor_offline: {after_hours: 3, event_only_hours: 3}\n")
    hub, sink = hub_on(tmp_path / "hub.db", conf, ["sensor_offline"])
    kitchen, toilet, hall = "a1/kitchen/motion", "a1/toilet/motion", "a1/hall/motion"
    heartbeats(hub, [kitchen, toilet, hall], 0, 120)
    heartbeats(hub, [hall], 120, 8 * 60)  # kitchen and toilet silent after 01:00 (07:00)
    (entry,) = hub.register.entries()
    assert entry.repeats == 1  # the second silent sensor folded into the first signal
    hub.handle(msg(8 * 60 + 5, toilet, {"battery": 90}))  # one back: the other still silent
    assert hub.register.get(entry.id).status == "open"  # type: ignore[union-attr]
    hub.handle(msg(9 * 60 + 30, kitchen, {"battery": 90}))
    closed = hub.register.get(entry.id)
    assert closed is not None
    assert closed.status == "closed"
    trail = hub.register.audit_trail(entry.id)
    assert [a["action"] for a in trail] == ["raised", "repeat", "cleared", "cleared", "closed"]
    assert trail[-1]["details"]["reason"] == "Sensor meldt zich weer om 15:30 (8,5 uur stil)."
    assert trail[-1]["details"]["reason_en"] == "Sensor reports again at 15:30 (silent 8.5 h)."
    assert [s.status for s, _ in sink.closings] == ["closed"]
    # the agenda shows it as resolved by itself, with the reason, in both languages
    store = hub.store
    html_nl = render_html(build_agenda(store, conf, "2026-W02"), datetime.now(UTC))
    assert "Vanzelf opgelost: Sensor meldt zich weer om 15:30 (8,5 uur stil)." in html_nl
    html_en = render_html(build_agenda(store, conf, "2026-W02", "en"), datetime.now(UTC))
    assert "Resolved by itself: Sensor reports again at 15:30 (silent 8.5 h)." in html_en


def test_a_restart_between_raising_and_closing(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    hub, sink = hub_on(path, config(), ["door_open"])
    door(hub, 0, True)
    door(hub, 10, False)
    hub.advance(at(40))
    (raised,) = sink.raised
    hub.close()
    hub.store.close()
    again, sink2 = hub_on(path, config(), ["door_open"])
    door(again, 72, True)
    entry = again.register.get(raised.id)
    assert entry is not None
    assert entry.status == "closed"
    assert [s.id for s, _ in sink2.closings] == [raised.id]
    assert sink2.raised == []  # nothing raised twice


@pytest.mark.broker
def test_live_the_closing_goes_out_on_the_signal_topic(broker: Broker, tmp_path: Path) -> None:
    """A live hub over Mosquitto: a sensor silent past its (tiny) limit raises
    sensor_offline; when it reports again the same signal comes out closed."""
    watch = Collector(broker, f"thuisplus/{FLAT}/signal/#")
    hub = HubProcess(
        broker,
        tmp_path / "hub",
        "detectors:\n  sensor_offline:\n    after_hours: 0.001\n    event_only_hours: 0.001\n",
    )
    hub.start()
    try:
        wait_for(lambda: "Connected to" in hub.output(), 15, hub.output)
        pub = Publisher(broker)
        pub.send("zigbee2mqtt/a044/hall/motion", {"occupancy": True})
        wait_for(lambda: len(watch.payloads()) == 1, 15, lambda: f"the signal\n{hub.output()}")
        pub.send("zigbee2mqtt/a044/hall/motion", {"occupancy": False})
        wait_for(lambda: len(watch.payloads()) == 2, 15, lambda: f"the closing\n{hub.output()}")
        raised, closing = watch.payloads()
        topics = {t for t, _, _ in watch.messages}
        assert topics == {f"thuisplus/{FLAT}/signal/a044/sensor_offline"}
        assert "status" not in raised
        assert (closing["id"], closing["status"]) == (raised["id"], "closed")
        assert closing["reason"].startswith("Sensor meldt zich weer om ")
        assert datetime.fromisoformat(closing["closed_at"]) > datetime.fromisoformat(
            raised["detected_at"]
        )
        pub.close()
    finally:
        assert hub.stop() == 0
        watch.close()
