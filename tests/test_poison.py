"""No single message may stop the alarm (issue 22): poison payloads against the live hub.

Each payload goes to ``thuisplus run`` over a private Mosquitto, first as a plain message,
then retained (so the broker hands it to the hub again on every start), then the hub is
restarted. After each step a fall still comes out exactly once, from the same process;
the poison is a dead letter with its reason, counted on the health topic, and the retained
one is named there and by ``thuisplus doctor`` with the command that clears it.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.live import FLAT, Collector, HubProcess, Publisher, wait_for

pytestmark = pytest.mark.broker

HEALTH = f"thuisplus/{FLAT}/hub/health"
AVAIL = f"thuisplus/{FLAT}/hub/availability"
COMMAND = f"thuisplus/{FLAT}/command/ack"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Poison:
    name: str
    topic: str
    payload: bytes
    reason: str
    """What the dead letter's reason must say."""
    config: str = ""
    env: tuple[tuple[str, str], ...] = ()


def _deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def _keys(count: int) -> bytes:
    return json.dumps({f"k{i}": i for i in range(count)}).encode()


MEGABYTE = b'{"occupancy": true, "x": "' + b"x" * (1 << 20) + b'"}'

POISONS = [
    # the issue's own: about 7 KB, nested 985 deep
    Poison("deep", "zigbee2mqtt/a001/living/motion", _deep(985), "nested 985 levels deep"),
    # the same through the pure-Python decoder (THUISPLUS_PURE_PYTHON, as without msgspec)
    Poison(
        "deep-pure",
        "zigbee2mqtt/a001/living/motion",
        _deep(985),
        "nested 985 levels deep",
        env=(("THUISPLUS_PURE_PYTHON", "1"),),
    ),
    Poison(
        "megabyte",
        "zigbee2mqtt/a001/hall/motion",
        MEGABYTE,
        f"limits: {len(MEGABYTE):,} bytes, over the 65,536 allowed",
    ),
    # 100,000 keys: with the size limit raised to 4 MiB, so the key count is what trips
    Poison(
        "keys",
        "zigbee2mqtt/a001/kitchen/plug",
        _keys(100_000),
        "100,000 keys, over the 1,000 allowed",
        config="limits:\n  max_bytes: 4194304\n",
    ),
    # a command nested 2,000 deep (arrays: no keys, so depth is what trips)
    Poison(
        "command",
        COMMAND,
        b'{"signal": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        "limits: nested 2,001 levels deep",
    ),
]


def fall(pub: Publisher, apartment: str, minutes: float) -> None:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    pub.send(f"zigbee2mqtt/{apartment}/bathroom/radar", {"fall": True, "last_seen": at})


def falls(watch: Collector, apartment: str) -> int:
    return sum(
        1 for p in watch.payloads() if p.get("kind") == "fall" and p["apartment"] == apartment
    )


def one_fall_out(pub: Publisher, watch: Collector, apartment: str, minutes: float) -> None:
    """A fall sent now comes out, and exactly once (a second would show within the wait)."""
    fall(pub, apartment, minutes)
    wait_for(lambda: falls(watch, apartment) >= 1, 15, f"the fall in {apartment}")
    time.sleep(0.5)
    assert falls(watch, apartment) == 1


def health(watch: Collector) -> dict[str, Any]:
    body = watch.last(HEALTH)
    return json.loads(body) if body else {}


def dead_letters(hub: HubProcess) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(f"file:{hub.state / 'thuisplus.sqlite'}?mode=ro", uri=True)
    try:
        return list(db.execute("SELECT topic, reason, payload FROM dead_letters"))
    finally:
        db.close()


def start(hub: HubProcess, watch: Collector) -> int:
    before = len(watch.messages)
    hub.start()
    wait_for(
        lambda: any(t == AVAIL and p == b"online" for t, p, _ in watch.messages[before:]),
        15,
        lambda: f"the hub to come online; its log:\n{hub.output()}",
    )
    assert hub.proc is not None
    return hub.proc.pid


def still_running(hub: HubProcess, pid: int) -> None:
    assert hub.proc is not None
    assert hub.proc.poll() is None, f"the hub exited; its log:\n{hub.output()[-4000:]}"
    assert hub.proc.pid == pid


@pytest.mark.parametrize("poison", POISONS, ids=[p.name for p in POISONS])
def test_a_poison_message_live_retained_and_on_restart(
    broker: Broker, tmp_path: Path, poison: Poison
) -> None:
    watch = Collector(broker, "thuisplus/#")
    hub = HubProcess(broker, tmp_path / "hub", poison.config, env=dict(poison.env))
    pub = Publisher(broker)
    try:
        pid = start(hub, watch)
        one_fall_out(pub, watch, "a010", 0)

        # 1. as a plain message
        pub.client.publish(poison.topic, poison.payload, qos=1).wait_for_publish(10)
        one_fall_out(pub, watch, "a012", 1)
        still_running(hub, pid)
        wait_for(
            lambda: health(watch).get("counters", {}).get("over_limits") == 1,
            10,
            lambda: f"over_limits 1 on the health topic: {health(watch)}",
        )
        letters = [d for d in dead_letters(hub) if d[0] == poison.topic]
        assert len(letters) == 1, letters
        assert poison.reason in letters[0][1]
        assert len(letters[0][2]) < 8_192  # (its start is kept, not the whole payload)

        # 2. retained: the broker keeps it for every later subscriber (to those subscribed
        # already it comes as a plain message: MQTT flags it retained only on a subscribe)
        pub.client.publish(poison.topic, poison.payload, qos=1, retain=True).wait_for_publish(10)
        one_fall_out(pub, watch, "a013", 2)
        still_running(hub, pid)
        wait_for(
            lambda: health(watch).get("counters", {}).get("over_limits") == 2,
            10,
            lambda: f"over_limits 2 on the health topic: {health(watch)}",
        )
        assert hub.stop() == 0

        # 3. a restart: the broker hands the hub the poison again at once
        pid = start(hub, watch)
        one_fall_out(pub, watch, "a014", 3)
        still_running(hub, pid)
        wait_for(
            lambda: [r["topic"] for r in health(watch).get("retained", [])] == [poison.topic],
            10,
            lambda: f"the retained poison named after the restart: {health(watch)}",
        )
        assert poison.reason in health(watch)["retained"][0]["reason"]
        assert "retained" in health(watch)["faults"]
        assert f"mosquitto_pub -r -n -t '{poison.topic}'" in hub.output()

        # 4. the doctor names it with the command that clears it; clearing it clears the fault
        out = doctor(hub)
        line = next(x for x in out.splitlines() if x.split()[1:2] == ["retained"])
        assert line.startswith("FAIL"), out
        assert f"mosquitto_pub -r -n -t '{poison.topic}'" in line
        pub.client.publish(poison.topic, b"", qos=1, retain=True).wait_for_publish(10)
        wait_for(
            lambda: "retained" not in health(watch).get("faults", {"retained": 1}),
            10,
            lambda: f"the retained fault to clear: {health(watch)}",
        )
        one_fall_out(pub, watch, "a015", 4)
        still_running(hub, pid)
        assert hub.stop() == 0
    finally:
        if hub.proc is not None and hub.proc.poll() is None:
            hub.stop(signal.SIGKILL)
        pub.close()
        watch.close()
    assert "Traceback" not in hub.output()


def doctor(hub: HubProcess) -> str:
    config = hub.workdir / "doctor.yaml"
    config.write_text(
        hub.config.read_text(encoding="utf-8")
        + f"mqtt:\n  host: {hub.broker.host}\n  port: {hub.broker.port}\n  allow_insecure: true\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "doctor", "--config", str(config)]
        + ["--state-dir", str(hub.state), "--no-service"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout + done.stderr
