"""The live publisher against a real, private Mosquitto."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators.__main__ import main
from simulators.live import PublishError, publish_live
from simulators.stream import Run, SimConfig, generate, iso_ms


@pytest.mark.broker
def test_publishes_every_message_with_last_seen(mosquitto: tuple[str, int]) -> None:
    host, port = mosquitto
    cfg = SimConfig(apartments=2, days=1, seed=4, p_malformed=0.002)
    expected = list(generate(Run(cfg)))
    got: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            got.append((msg.topic, msg.payload))

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.connect(host, port)
    sub.subscribe("zigbee2mqtt/#", qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(5)
        # a day in about a second: 86400 simulated seconds per wall second
        started = time.monotonic()
        n = publish_live(Run(cfg), host, port, speed=86400.0)
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                if len(got) >= n:
                    break
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert n == len(expected)
    assert len(got) == n
    assert elapsed > 0.5  # paced, not dumped: the day spans ~1 s of wall time
    assert [t for t, _ in got] == [t for _, t, _ in expected]
    strings = 0
    for (_, body), (t, _, payload) in zip(got, expected, strict=True):
        if isinstance(payload, dict):
            data = json.loads(body)
            assert data["last_seen"] == iso_ms(t)
            assert datetime.fromisoformat(data["last_seen"]).utcoffset() is not None
            assert {k: v for k, v in data.items() if k != "last_seen"} == payload
        else:
            strings += 1
            assert body.decode() == payload
    assert strings > 0


def test_unreachable_broker_is_a_clear_error() -> None:
    with pytest.raises(PublishError, match="cannot connect"):
        publish_live(Run(SimConfig(apartments=1, days=1)), "127.0.0.1", 9, speed=1e9)


@pytest.mark.broker
def test_cli_publishes_live_and_writes_truth(
    mosquitto: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host, port = mosquitto
    out = tmp_path / "live"
    code = main(
        [
            "simulate",
            "--apartments",
            "1",
            "--days",
            "1",
            "--mqtt-host",
            host,
            "--mqtt-port",
            str(port),
            "--speed",
            "1000000000",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    n = len(list(generate(Run(SimConfig(apartments=1, days=1)))))
    assert f"published {n} messages" in printed
    assert (out / "truth.jsonl").read_text().count('"normal"') == 1
    assert (out / "flat.yaml").exists()
