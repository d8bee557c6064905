"""The whole way with a real Home Assistant: a fall message into a live ``thuisplus run``
gives a push through a notify service (critical: Home Assistant takes its data), a
persistent notification and the apartment's entities in Home Assistant; pressing the
acknowledge button in Home Assistant acknowledges the signal in the hub's register, the
push is cleared on the phone (``clear_notification`` through the same notify service) with
"home_assistant gaat" after it, and "needs attention" stays until the signal is closed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.homeassistant.conftest import HomeAssistant
from tests.live import FLAT, Collector, HubProcess, Publisher, wait_for

# a first run may install Home Assistant inside the fixture (minutes); later runs take seconds
pytestmark = [
    pytest.mark.homeassistant,
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]

AVAIL = f"thuisplus/{FLAT}/hub/availability"


def hub_config(ha: HomeAssistant, token_file: Path) -> str:
    return (
        "homeassistant:\n"
        "  enabled: true\n"
        f"  url: {ha.url}\n"
        f"  token_file: {token_file}\n"
        "  notify: {on_call: notify.team_phone}\n"
    )


def token_file(ha: HomeAssistant, folder: Path) -> Path:
    """The hub's Home Assistant token in a file of its own (0600), as on a gateway."""
    path = folder / "ha_token"
    path.write_text(ha.token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_fall_reaches_home_assistant_and_is_acknowledged_there(
    home_assistant: HomeAssistant, ha_broker: Broker, tmp_path: Path
) -> None:
    ha = home_assistant
    hub = HubProcess(ha_broker, tmp_path / "hub", hub_config(ha, token_file(ha, tmp_path)))
    watch = Collector(ha_broker, f"thuisplus/{FLAT}/#", client_id="test-ha-live")
    pub = Publisher(ha_broker)
    hub.start()
    try:
        wait_for(lambda: watch.last(AVAIL) == b"online", 15, lambda: hub.output())
        pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True, "presence": True})
        wait_for(
            lambda: bool(watch.payloads()), 10, lambda: f"the signal; hub log:\n{hub.output()}"
        )
        (signal,) = watch.payloads()
        sid = signal["id"]

        # the persistent notification (a websocket read in 2024.3: no longer a state)
        notification = f"thuisplus_{sid}"
        wait_for(
            lambda: notification in ha.persistent_notifications(),
            15,
            lambda: f"the persistent notification; hub log:\n{hub.output()}\nHA:\n{ha.output()}",
        )
        shown = ha.persistent_notifications()[notification]
        assert shown["message"].startswith(signal["summary"])
        assert shown["title"] == "Urgent: a012"

        # the push through the notify service (a file here, the companion app in a flat)
        wait_for(
            lambda: ha.notify_file.exists() and signal["summary"] in ha.notify_file.read_text(),
            15,
            "the notify service's message",
        )

        # the discovery entities
        entities = {
            "binary_sensor.thuisplus_a012_needs_attention": "on",
            "sensor.thuisplus_a012_open_signals": "1",
            "binary_sensor.thuisplus_a012_presence": "on",  # presence seen by the radar
        }

        def states() -> dict[str, Any]:
            return ha.states()

        wait_for(
            lambda: all(states().get(e, {}).get("state") == v for e, v in entities.items()),
            20,
            lambda: f"the entities; states: {json.dumps(states(), indent=1)[:3000]}",
        )
        now = states()
        assert now["sensor.thuisplus_a012_open_signals"]["attributes"]["ids"] == [sid]
        assert now["sensor.thuisplus_a012_last_activity"]["state"] not in ("unknown", "")
        assert now["sensor.thuisplus_a012_last_activity"]["attributes"]["device_class"] == (
            "timestamp"
        )
        attention = now["binary_sensor.thuisplus_a012_needs_attention"]["attributes"]
        assert attention["friendly_name"] == "a012 Aandacht nodig"
        # the signal's text is an attribute: automations and cards can show it
        assert (attention["summary"], attention["summary_en"]) == (
            signal["summary"],
            signal["summary_en"],
        )
        assert (attention["signal"], attention["status"]) == (sid, "open")
        button = "button.thuisplus_a012_acknowledge"
        wait_for(
            lambda: states().get(button, {}).get("state") not in (None, "unavailable"),
            10,
            "the acknowledge button to become available",
        )

        # press it in Home Assistant: the hub's register has it acknowledged
        ha.post("/api/services/button/press", {"entity_id": button})
        result = f"thuisplus/{FLAT}/command/result"
        wait_for(lambda: watch.last(result) is not None, 10, lambda: hub.output())
        assert json.loads(watch.last(result) or b"{}") == {
            "ok": True,
            "command": "ack",
            "signal": sid,
            "status": "acknowledged",
        }
        wait_for(lambda: states()[button]["state"] == "unavailable", 10, "the button disarmed")

        # the phone's push is cleared through the notify service, then who goes
        def phone() -> list[str]:
            return ha.notify_file.read_text().splitlines()

        wait_for(
            lambda: "home_assistant gaat" in phone(),
            15,
            lambda: f"the clear and the info push; notify file: {phone()}\nHA:\n{ha.output()}",
        )
        lines = phone()
        assert lines.index("clear_notification") < lines.index("home_assistant gaat")
        assert lines.index(signal["summary"]) < lines.index("clear_notification")

        # acknowledged is not resolved: "needs attention" and its notification stay on
        def taken() -> bool:
            note = ha.persistent_notifications().get(notification, {})
            return "Bevestigd door home_assistant" in note.get("message", "")

        wait_for(taken, 15, lambda: f"the notification updated: {ha.persistent_notifications()}")
        attention = states()["binary_sensor.thuisplus_a012_needs_attention"]
        assert attention["state"] == "on"
        assert attention["attributes"]["status"] == "acknowledged"
        assert attention["attributes"]["signals"][0]["taken_by"] == "home_assistant"

        # closed: now it goes
        pub.send(
            f"thuisplus/{FLAT}/command/close",
            {"signal": sid, "by": "coordinator", "verdict": "confirmed"},
        )
        wait_for(
            lambda: states()["binary_sensor.thuisplus_a012_needs_attention"]["state"] == "off",
            10,
            "needs attention off once closed",
        )
        wait_for(
            lambda: notification not in ha.persistent_notifications(),
            15,
            "the persistent notification dismissed",
        )

        # the next fall is a new signal; the phone's action acknowledges it through the
        # automation of docs/homeassistant.md (Home Assistant fires this event on a tap)
        pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": False})
        pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True})
        wait_for(lambda: len(watch.payloads()) == 2, 10, lambda: hub.output())
        second = watch.payloads()[1]["id"]
        assert second != sid
        wait_for(
            lambda: states()["binary_sensor.thuisplus_a012_needs_attention"]["state"] == "on",
            10,
            "needs attention again",
        )
        ha.post("/api/events/mobile_app_notification_action", {"action": f"THUISPLUS_ACK_{second}"})
        wait_for(
            lambda: json.loads(watch.last(result) or b"{}").get("signal") == second,
            10,
            lambda: f"the automation's ack; HA:\n{ha.output()}",
        )
        assert json.loads(watch.last(result) or b"{}")["status"] == "acknowledged"
    finally:
        pub.close()
        watch.close()
        assert hub.stop() == 0

    shown_cli = subprocess.run(
        [sys.executable, "-m", "edge.cli", "signals", "--state-dir", str(hub.state), "show", sid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert " closed" in shown_cli.splitlines()[0]
    assert "acknowledged" in shown_cli
    assert "home_assistant" in shown_cli


def test_the_hub_device_shows_its_own_faults_in_home_assistant(
    home_assistant: HomeAssistant, ha_broker: Broker, tmp_path: Path
) -> None:
    from tests.test_webhook import Endpoint

    ha = home_assistant
    centre = Endpoint()
    centre.fail_first = 10**6  # the alarm centre answers 503 until told otherwise
    config = hub_config(ha, token_file(ha, tmp_path)) + (
        "alerts:\n"
        "  heartbeat: {every_minutes: 0.02, missed: 2}\n"  # a beat every 1.2 s
        f"  webhooks:\n    alarm_centre: {{url: '{centre.url}', attempts: 1, timeout_s: 1}}\n"
    )
    hub = HubProcess(ha_broker, tmp_path / "hub", config)
    hub.start()
    problem, faults = "binary_sensor.thuisplus_hub_problem", "sensor.thuisplus_hub_faults"
    try:

        def state(entity: str) -> dict[str, Any]:
            return dict(ha.states().get(entity, {}))

        wait_for(
            lambda: state(problem).get("state") == "on",
            30,
            lambda: f"the hub's problem entity on; hub log:\n{hub.output()[-3000:]}",
        )
        shown = state(problem)["attributes"]
        assert shown["friendly_name"] == f"Thuisplus hub {FLAT} Storing"
        assert "webhook:alarm_centre" in shown["faults"]["alarm_path"]
        assert int(state(faults)["state"]) >= 1
        assert "alarm_path" in state(faults)["attributes"]
        centre.fail_first = 0  # it answers again: the fault clears, in Home Assistant too
        wait_for(
            lambda: state(problem).get("state") == "off",
            30,
            lambda: f"the hub's problem entity off; states: {state(problem)}",
        )
        assert "alarm_path" not in state(problem)["attributes"]["faults"]
    finally:
        assert hub.stop() == 0
        wait_for(lambda: state(problem).get("state") == "unavailable", 15, "unavailable")
        centre.close()
