"""Bad input through the live transport (issue 22): what test_bad_input.py throws at the
parsers, thrown at ``thuisplus run`` over a real Mosquitto.

Property-based: hypothesis generates raw payloads (bytes that are not text, JSON nested
thousands deep, balanced or not, huge strings, many keys, integers of thousands of
digits, lone surrogates) on sensor and command topics, plain or retained. After each
example a fall in a fresh apartment must come out exactly once, from the same process;
at the end the hub has had no internal error, and a restart, which hands it every
retained message again, leaves it serving.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Broker
from tests.live import FLAT, Collector, HubProcess, Publisher, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

AVAIL = f"thuisplus/{FLAT}/hub/availability"
HEALTH = f"thuisplus/{FLAT}/hub/health"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# (what MQTT allows in a topic: Mosquitto disconnects a client that sends a control
# character, a surrogate or a non-character there, or a wildcard in a published topic)
segment = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc", "Co", "Cn"),
        blacklist_characters="+#/\ufffe\uffff",
    ),
    min_size=1,
    max_size=12,
)
topics = st.one_of(
    st.builds(lambda a, r, d: f"zigbee2mqtt/{a}/{r}/{d}", segment, segment, segment),
    st.builds(
        lambda r, d: f"zigbee2mqtt/a900/{r}/{d}",
        st.sampled_from(["hall", "bathroom", "living", "kitchen"]),
        segment,
    ),
    st.builds(
        lambda n: f"thuisplus/{FLAT}/command/{n}",
        st.sampled_from(["ack", "assign", "discuss", "close", "x"]),
    ),
)
depth = st.integers(min_value=20, max_value=5_000)
size = st.integers(min_value=1, max_value=300_000)
payloads = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda n: b"[" * n + b"]" * n, depth),
    st.builds(lambda n: b'{"a":' * n + b"1" + b"}" * n, depth),
    st.builds(lambda n: b"[" * n, depth),  # never closed
    st.builds(lambda n: b'{"occupancy": true, "x": "' + b"x" * n + b'"}', size),
    st.builds(
        lambda n: json.dumps({f"k{i}": i for i in range(n)}).encode(), st.integers(1, 20_000)
    ),
    st.builds(lambda n: b"1" * n, st.integers(1, 20_000)),
    st.sampled_from([b'"\\ud800"', b'{"occupancy": "\\udfff"}', b"NaN", b"-Infinity", b"\xff\xfe"]),
)


def fall(pub: Publisher, apartment: str, minute: int) -> None:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    pub.send(f"zigbee2mqtt/{apartment}/bathroom/radar", {"fall": True, "last_seen": at})


class Live:
    def __init__(self, broker: Broker, tmp_path: Path) -> None:
        self.watch = Collector(broker, "thuisplus/#")
        self.pub = Publisher(broker)
        self.hub = HubProcess(broker, tmp_path / "hub")
        self.numbers = itertools.count(1)
        self.start()

    def start(self) -> None:
        before = len(self.watch.messages)
        self.hub.start()
        wait_for(
            lambda: any(t == AVAIL and p == b"online" for t, p, _ in self.watch.messages[before:]),
            15,
            lambda: f"the hub to come online; its log:\n{self.hub.output()[-3000:]}",
        )
        assert self.hub.proc is not None
        self.pid = self.hub.proc.pid

    def falls(self, apartment: str) -> int:
        return sum(
            1
            for p in self.watch.payloads()
            if p.get("kind") == "fall" and p.get("apartment") == apartment
        )

    def serves(self) -> None:
        """A fall in a fresh apartment comes out once, from the same process."""
        n = next(self.numbers)
        apartment = f"f{n:04d}"
        fall(self.pub, apartment, n)
        wait_for(
            lambda: self.falls(apartment) >= 1,
            15,
            lambda: f"the fall in {apartment}; the log:\n{self.hub.output()[-3000:]}",
        )
        assert self.hub.proc is not None
        assert self.hub.proc.poll() is None, self.hub.output()[-3000:]
        assert self.hub.proc.pid == self.pid

    def health(self) -> dict[str, object]:
        body = self.watch.last(HEALTH)
        return json.loads(body) if body else {}


@pytest.fixture
def live(broker: Broker, tmp_path: Path) -> Iterator[Live]:
    world = Live(broker, tmp_path)
    yield world
    if world.hub.proc is not None and world.hub.proc.poll() is None:
        world.hub.stop(signal.SIGKILL)
    world.pub.close()
    world.watch.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(batch=st.lists(st.tuples(topics, payloads, st.booleans()), min_size=1, max_size=4))
def test_any_message_through_the_live_transport_leaves_the_hub_serving(
    live: Live, batch: list[tuple[str, bytes, bool]]
) -> None:
    for topic, payload, retain in batch:
        live.pub.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    live.serves()


def test_after_the_generated_storm_a_restart_still_serves(live: Live) -> None:
    """The storm's retained messages come back on a restart: the hub keeps serving."""

    @settings(max_examples=25, deadline=None, database=None)
    @given(batch=st.lists(st.tuples(topics, payloads), min_size=1, max_size=3))
    def storm(batch: list[tuple[str, bytes]]) -> None:
        for topic, payload in batch:
            live.pub.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
        live.serves()

    storm()
    assert live.hub.stop() == 0
    live.start()
    live.serves()
    time.sleep(1.0)
    wait_for(
        lambda: live.health().get("counters", {}).get("messages", 0) > 0,  # type: ignore[union-attr]
        10,
        "the health topic after the restart",
    )
    counters = live.health()["counters"]
    assert counters["internal_errors"] == 0, live.hub.output()[-4000:]  # type: ignore[index]
    assert "Traceback" not in live.hub.output()
