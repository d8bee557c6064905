"""Live over a real Mosquitto: fall in, urgent signal out; broker restarts lose nothing;
live and replay agree; clean shutdown and last will."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from edge.app import build_hub
from edge.config import Config
from edge.models import Message
from edge.recording import read_recording
from edge.replay import replay
from edge.sinks import ListSink
from edge.store import Store
from tests.conftest import Broker
from tests.live import FLAT, Collector, HubProcess, Publisher, start_online, wait_for

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "edge" / "data" / "demo.jsonl"
AVAIL = f"thuisplus/{FLAT}/hub/availability"


@pytest.fixture
def hub_factory(broker: Broker, tmp_path: Path):  # type: ignore[no-untyped-def]
    started: list[HubProcess] = []

    def make(config: str = "", name: str = "hub") -> HubProcess:
        h = HubProcess(broker, tmp_path / name, config)
        started.append(h)
        return h

    yield make
    for h in started:
        if h.proc is not None and h.proc.poll() is None:
            h.stop()


def test_a_fall_message_in_gives_an_urgent_signal_out(broker: Broker, hub_factory) -> None:  # type: ignore[no-untyped-def]
    watch = Collector(broker, "thuisplus/#")
    hub = hub_factory()
    start_online(hub, watch)
    pub = Publisher(broker)
    pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True, "presence": True, "linkquality": 90})
    wait_for(lambda: watch.payloads(), 10, "a signal")
    (sig,) = watch.payloads()
    assert (sig["kind"], sig["severity"], sig["domain"], sig["apartment"], sig["flat"]) == (
        "fall",
        "urgent",
        "care",
        "a012",
        FLAT,
    )
    topics = [t for t, _, _ in watch.messages if "/signal/" in t]
    assert topics == [f"thuisplus/{FLAT}/signal/a012/fall"]
    pub.close()
    watch.close()
    assert hub.stop() == 0
    # no commit of the hub waited for a WAL checkpoint: a thread of its own does them
    assert "WAL checkpoints run in their own thread" in hub.output()


def test_a_broker_restart_mid_stream_loses_no_signal(broker: Broker, hub_factory) -> None:  # type: ignore[no-untyped-def]
    """Falls before and after a restart, and a signal raised while the broker was down."""
    watch = Collector(broker, f"thuisplus/{FLAT}/signal/#")
    avail = Collector(broker, AVAIL, client_id="test-avail")
    hub = hub_factory(
        "detectors:\n  sensor_offline:\n    after_hours: 0.001\n    event_only_hours: 0.001\n"
    )  # 3.6 s
    start_online(hub, avail)
    pub = Publisher(broker)
    for n in range(1, 6):
        pub.send(f"zigbee2mqtt/a{n:03d}/bathroom/radar", {"fall": True})
    wait_for(lambda: len([s for s in watch.payloads() if s["kind"] == "fall"]) == 5, 10, "5 falls")
    pub.send("zigbee2mqtt/a099/hall/motion", {"occupancy": True})
    time.sleep(0.5)  # the hub has it; now the broker goes away before it falls silent
    broker.stop()
    time.sleep(6)  # a099's motion sensor is due 'offline' 3.6 s after its message
    broker.start()
    wait_for(pub.client.is_connected, 10, "the test's publisher to reconnect")
    for n in range(6, 11):
        pub.send(f"zigbee2mqtt/a{n:03d}/bathroom/radar", {"fall": True})

    def seen() -> set[tuple[str, str]]:
        return {(s["kind"], s["apartment"]) for s in watch.payloads()}

    want = {("fall", f"a{n:03d}") for n in range(1, 11)} | {("sensor_offline", "a099")}
    wait_for(
        lambda: want <= seen(), 30, lambda: f"every signal; got {sorted(seen())}\n{hub.output()}"
    )
    # the signal raised while the broker was down was kept and sent after the reconnect
    offline = [s for s in watch.payloads() if s["apartment"] == "a099"]
    assert offline[0]["evidence"]["sensor"] == "a099/hall/motion"
    assert re.search(r"Publishing \d+ signals kept while the broker was away", hub.output())
    assert hub.stop() == 0
    db = sqlite3.connect(hub.state / "thuisplus.sqlite")
    undelivered = db.execute("SELECT count(*) FROM outbox WHERE delivered=0").fetchone()[0]
    assert undelivered == 0
    for c in (watch, avail, pub):
        c.close()


def with_last_seen(path: Path, out: Path) -> list[Message]:
    """The demo recording with each payload's receive time also in ``last_seen``, as the
    simulator publishes it live: then event time is the same live and in replay."""
    messages = []
    with out.open("w") as fh:
        for item in read_recording(path):
            if not isinstance(item, Message):
                continue
            payload: Any = item.payload
            if isinstance(payload, dict) and "last_seen" not in payload:
                payload = {**payload, "last_seen": item.received.isoformat()}
            msg = Message(item.received, item.topic, payload, item.source)
            messages.append(msg)
            fh.write(
                json.dumps(
                    {"ts": msg.received.isoformat(), "topic": msg.topic, "payload": msg.payload}
                )
                + "\n"
            )
    return messages


def test_replay_and_live_give_the_same_signals(
    broker: Broker,
    hub_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    messages = with_last_seen(DEMO, tmp_path / "demo-last-seen.jsonl")
    sink = ListSink()
    config = Config(flat=FLAT)
    replayed = build_hub(config, Store(None, config.store), [sink])
    replay([tmp_path / "demo-last-seen.jsonl"], replayed)
    expected = sorted((s.id, s.kind.value, s.detected_at.isoformat()) for s in sink.signals)
    assert len(expected) == 4

    watch = Collector(broker, "thuisplus/#")
    hub = hub_factory()
    start_online(hub, watch)
    pub = Publisher(broker)
    for m in messages:
        pub.send(m.topic, m.payload, wait=False)
    pub.client.publish("zigbee2mqtt/bridge/done", "{}", qos=1).wait_for_publish(10)

    def live() -> list[tuple[str, str, str]]:
        return sorted((s["id"], s["kind"], s["detected_at"]) for s in watch.payloads())

    wait_for(lambda: len(live()) >= len(expected), 30, f"{len(expected)} signals")
    time.sleep(1.0)  # nothing more may come
    assert live() == expected
    pub.close()
    watch.close()
    hub.stop()


def test_sigterm_stops_cleanly_and_a_kill_leaves_the_last_will(broker: Broker, hub_factory) -> None:  # type: ignore[no-untyped-def]
    watch = Collector(broker, AVAIL)
    hub = hub_factory()
    start_online(hub, watch)
    pub = Publisher(broker)
    pub.send("zigbee2mqtt/a012/hall/motion", {"occupancy": True, "battery": 80})
    time.sleep(0.3)
    assert hub.stop(signal.SIGTERM) == 0
    assert watch.last(AVAIL) == b"offline"
    assert "Stopped" in hub.output()
    db = sqlite3.connect(hub.state / "thuisplus.sqlite")
    saved = dict(db.execute("SELECT name, body FROM saved_state").fetchall())
    assert (
        json.loads(saved["state"])["apartments"]["a012"]["sensors"]["a012/hall/motion"]["battery"]
        == 80
    )
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    db.close()

    start_online(hub, watch)
    assert watch.last(AVAIL) == b"online"
    hub.stop(signal.SIGKILL)
    wait_for(lambda: watch.last(AVAIL) == b"offline", 10, "the broker to publish the last will")
    pub.close()
    watch.close()


def test_a_broken_message_is_kept_and_the_hub_carries_on(broker: Broker, hub_factory) -> None:  # type: ignore[no-untyped-def]
    watch = Collector(broker, "thuisplus/#")
    hub = hub_factory()
    start_online(hub, watch)
    pub = Publisher(broker)
    pub.send("zigbee2mqtt/a012/bathroom/radar", "\x00\xff not json")
    pub.send("zigbee2mqtt/a012/garage/radar", {"fall": True})
    pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True})
    wait_for(lambda: watch.payloads(), 10, "the fall after the broken messages")
    assert hub.stop() == 0
    db = sqlite3.connect(hub.state / "thuisplus.sqlite")
    reasons = [r for (r,) in db.execute("SELECT reason FROM dead_letters ORDER BY id")]
    assert reasons[0] == "payload: not a JSON object (text)"
    assert reasons[1].startswith("topic: unknown room 'garage'")
    pub.close()
    watch.close()


def test_the_live_hub_saves_its_state_between_messages_not_inside_one(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state save takes tens of milliseconds for a large flat: in a live hub it runs
    between messages, after the signals went out, never inside the message that made it
    due (in a fall's message it used to delay the page)."""
    import threading
    from datetime import UTC, datetime, timedelta

    import edge.pipeline
    from edge.config import load_config_text
    from edge.mqtt import LiveHub

    monkeypatch.setattr(edge.pipeline, "SAVE_MIN_WALL_S", 0.0)
    config = load_config_text(
        f"flat: {FLAT}\nmqtt:\n  host: {broker.host}\n  port: {broker.port}\n"
        "  allow_insecure: true\n"
    )
    hub = build_hub(config, Store(tmp_path / "s.sqlite", config.store))
    inside: list[bool] = []
    saves: list[bool] = []  # for each save: was it inside Hub.handle?
    handle, save = hub.handle, hub.save

    def handle_spy(message: Message) -> list[Any]:
        inside.append(True)
        try:
            return handle(message)
        finally:
            inside.pop()

    def save_spy() -> None:
        saves.append(bool(inside))
        save()

    monkeypatch.setattr(hub, "handle", handle_spy)
    monkeypatch.setattr(hub, "save", save_spy)
    live = LiveHub(hub, config, tick_s=0.05)
    runner = threading.Thread(target=live.run, kwargs={"max_seconds": 30}, daemon=True)
    watch = Collector(broker, f"thuisplus/{FLAT}/signal/#")
    runner.start()
    try:
        wait_for(lambda: live.connected, 10, "the live hub to connect")
        pub = Publisher(broker)
        t0 = datetime.now(UTC)
        pub.send("zigbee2mqtt/a007/hall/motion", {"occupancy": True, "last_seen": t0.isoformat()})
        wait_for(lambda: hub.stats.events == 1, 10, "the first event")
        late = (t0 + timedelta(minutes=15)).isoformat()  # the save is due (every 10 min)
        pub.send("zigbee2mqtt/a007/bathroom/radar", {"fall": True, "last_seen": late})
        wait_for(lambda: watch.payloads(), 10, "the fall's signal")
        wait_for(lambda: saves, 10, "a save")
        pub.close()
    finally:
        live.stop()
        runner.join(timeout=20)
        watch.close()
    assert saves[0] is False, "the state was saved inside the message's handling"
    assert hub.store.load_state() is not None
    hub.store.close()
