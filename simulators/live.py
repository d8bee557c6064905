"""Publish a simulated flat live to an MQTT broker, ``speed`` times faster than real time.

Every JSON payload carries ``last_seen``: the simulated time (ISO 8601 with offset), which
the hub takes as event time, so an accelerated live run gives the same signals as replaying
the recording. Pacing uses the monotonic clock of this process only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators.stream import Run, generate, iso_ms

logger = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker could not be reached or refused the connection."""


def publish_live(
    run: Run,
    host: str,
    port: int,
    speed: float,
    *,
    qos: int = 1,
    client_id: str = "thuisplus-sim",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Publish the whole simulation; returns the number of messages published."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(200)
    try:
        client.connect(host, port, keepalive=30)
    except OSError as err:
        raise PublishError(f"cannot connect to MQTT broker {host}:{port}: {err}") from err
    client.loop_start()
    count = 0
    last: mqtt.MQTTMessageInfo | None = None
    wall0 = time.monotonic()
    sim0: float | None = None
    try:
        for t, topic, payload in generate(run, progress):
            if sim0 is None:
                sim0 = t
            wait = wall0 + (t - sim0) / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if isinstance(payload, dict):
                body = json.dumps({**payload, "last_seen": iso_ms(t)})
            else:
                body = str(payload)  # a malformed payload stays malformed
            last = client.publish(topic, body, qos=qos)
            count += 1
        if last is not None:
            last.wait_for_publish(timeout=60)
    finally:
        client.disconnect()
        client.loop_stop()
    logger.info("published %d messages to %s:%d", count, host, port)
    return count
