"""Who may send a command: the broker's access list, as the Ansible role deploys it.

A real Mosquitto with a password per client and the ACL rendered from the role's
template and the gateways' group_vars: Home Assistant's account may acknowledge, the
Zigbee2MQTT account (or anything else on the network) may not send any command, and the
hub never sees the refused one."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import jinja2
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import ROOT, Broker, mosquitto_binary
from tests.live import FLAT, HubProcess, wait_for

pytestmark = pytest.mark.broker

ANSIBLE = ROOT / "deploy" / "ansible"
PASSWORDS = {"zigbee2mqtt": "z-secret", "thuisplus": "hub-secret", "homeassistant": "ha-secret"}


def render_acl(clients: list[dict[str, Any]]) -> str:
    template = (ANSIBLE / "roles/mosquitto/templates/acl.j2").read_text()
    env = jinja2.Environment(autoescape=False, trim_blocks=True)  # noqa: S701  (not HTML)
    # the group_vars' topics name the gateway's flat as Ansible would fill it in
    flat_clients = [
        {
            **c,
            "acl": [
                {**rule, "topic": env.from_string(rule["topic"]).render(thuisplus_flat=FLAT)}
                for rule in c["acl"]
            ],
        }
        for c in clients
    ]
    return env.from_string(template).render(
        mosquitto_clients=flat_clients, ansible_managed="rendered by a test"
    )


@pytest.fixture
def acl_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    binary = mosquitto_binary()
    passwd = shutil.which("mosquitto_passwd")
    if binary is None or passwd is None:
        pytest.skip("mosquitto or mosquitto_passwd missing: `make test` installs them")
    group_vars = yaml.safe_load(
        (ANSIBLE / "inventory/group_vars/thuisplus_gateways/main.yml").read_text()
    )
    clients = group_vars["mosquitto_clients"]
    assert {c["name"] for c in clients} == set(PASSWORDS)
    d = tmp_path / "acl-broker"
    d.mkdir()
    (d / "acl").write_text(render_acl(clients))
    for i, (user, password) in enumerate(PASSWORDS.items()):
        flags = ["-c"] if i == 0 else []
        subprocess.run([passwd, *flags, "-b", str(d / "passwd"), user, password], check=True)
    b = Broker(d, binary)
    conf = b.conf.read_text().replace("allow_anonymous true\n", "allow_anonymous false\n")
    b.conf.write_text(conf + f"password_file {d}/passwd\nacl_file {d}/acl\n")
    b.start()
    yield b
    b.stop()


class Client:
    def __init__(self, broker: Broker, user: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"test-{user}"
        )
        self.client.username_pw_set(user, PASSWORDS[user])

        def on_connect(c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
            c.subscribe(f"thuisplus/{FLAT}/#", qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def send(self, topic: str, body: dict[str, Any]) -> None:
        self.client.publish(topic, json.dumps(body), qos=1).wait_for_publish(10)

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p in self.messages if t.endswith("/command/result")]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def status(hub: HubProcess) -> str:
    db = sqlite3.connect(f"file:{hub.state / 'thuisplus.sqlite'}?mode=ro", uri=True)
    try:
        return str(db.execute("SELECT status FROM register").fetchone()[0])
    finally:
        db.close()


def test_only_the_accounts_the_acl_allows_can_acknowledge(
    acl_broker: Broker, tmp_path: Path
) -> None:
    secret = tmp_path / "mqtt_password"
    secret.write_text(PASSWORDS["thuisplus"])
    # plain text on loopback in the test (TLS is tested in test_tls.py), but an account
    hub = HubProcess(
        acl_broker,
        tmp_path / "hub",
        f"mqtt:\n  username: thuisplus\n  password_file: {secret}\n",
    )
    sensors = Client(acl_broker, "zigbee2mqtt")
    ha = Client(acl_broker, "homeassistant")
    hub.start()
    try:
        wait_for(lambda: "Connected to" in hub.output(), 15, hub.output)
        time.sleep(0.3)  # subscribed
        sensors.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True})
        wait_for(lambda: any("/signal/" in t for t, _ in ha.messages), 10, "the fall signal")
        (sig,) = [json.loads(p) for t, p in ha.messages if "/signal/" in t]
        ack = {"signal": sig["id"], "by": "on_call"}
        # the sensors' account (or a device that stole its password) cannot acknowledge
        sensors.send(f"thuisplus/{FLAT}/command/ack", ack)
        sensors.send(f"thuisplus/{FLAT}/command/close", {**ack, "verdict": "false_alarm"})
        # nor can Home Assistant close, assign or discuss: only acknowledge
        ha.send(f"thuisplus/{FLAT}/command/close", {**ack, "verdict": "false_alarm"})
        time.sleep(1.0)
        assert ha.results() == []
        assert status(hub) == "open"
        ha.send(f"thuisplus/{FLAT}/command/ack", ack)
        wait_for(lambda: ha.results(), 10, "the acknowledgement's result")
        assert ha.results() == [
            {"ok": True, "command": "ack", "signal": sig["id"], "status": "acknowledged"}
        ]
        assert status(hub) == "acknowledged"
    finally:
        assert hub.stop() == 0
        sensors.close()
        ha.close()
