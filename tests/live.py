"""Helpers for live tests: the hub as a real process, and a real MQTT subscriber."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Broker

FLAT = "test-flat"


def wait_for(cond: Callable[[], bool], timeout: float, what: str | Callable[[], str]) -> None:
    """Wait until ``cond()``; ``what`` (or what it returns, read at the time out) says what for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    said = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout} s waiting for {said}")


def start_online(hub: HubProcess, watch: Collector) -> int:
    """Start ``hub`` and wait until it says it is online; returns its process id."""
    before = len(watch.messages)
    hub.start()
    avail = f"thuisplus/{FLAT}/hub/availability"
    wait_for(
        lambda: any(t == avail and p == b"online" for t, p, _ in watch.messages[before:]),
        15,
        lambda: f"the hub to come online; its log:\n{hub.output()[-4000:]}",
    )
    assert hub.proc is not None
    return hub.proc.pid


class Collector:
    """A subscriber with a persistent session, as the team's alerting app would be."""

    def __init__(self, broker: Broker, topic: str, client_id: str = "test-collector") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.subscribed = threading.Event()
        self.topic = topic

        def on_connect(c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
            c.subscribe(topic, qos=1)

        def on_subscribe(c: mqtt.Client, u: Any, mid: Any, rc: Any, p: Any) -> None:
            self.subscribed.set()

        def on_message(c: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
            with self.lock:
                self.messages.append((m.topic, m.payload, m.retain))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the collector could not subscribe"

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if "/signal/" in t]

    def last(self, topic: str) -> bytes | None:
        with self.lock:
            found = [p for t, p, _ in self.messages if t == topic]
        return found[-1] if found else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Publisher:
    def __init__(self, broker: Broker) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="test-publisher",
            clean_session=False,
        )
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()

    def send(self, topic: str, payload: Any, wait: bool = True) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        info = self.client.publish(topic, body, qos=1)
        if wait:
            info.wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class HubProcess:
    """``thuisplus run`` as a subprocess, as systemd would run it."""

    def __init__(
        self,
        broker: Broker,
        workdir: Path,
        config: str = "",
        dev: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        """``dev``: the test broker is plain and anonymous, so run with ``--allow-insecure``
        (a production configuration refuses it). ``env``: added to the environment."""
        self.dev = dev
        self.env = env or {}
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "flat.yaml"
        self.config.write_text(f"flat: {FLAT}\n{config}", encoding="utf-8")
        self.state = workdir / "state"
        self.log = workdir / "hub.log"
        self.broker = broker
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self._log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge.cli",
                "--log-level",
                "info",
                "run",
                "--config",
                str(self.config),
                "--mqtt-host",
                self.broker.host,
                "--mqtt-port",
                str(self.broker.port),
                "--state-dir",
                str(self.state),
                *(["--allow-insecure"] if self.dev else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")
