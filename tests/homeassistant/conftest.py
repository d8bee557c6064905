"""A real Home Assistant for the integration tests, started once per session.

Home Assistant 2024.3.x (the last release that runs on Python 3.11) lives in its own
virtual environment, ``.cache/homeassistant-venv``, made by
``scripts/install-homeassistant.sh`` (``make test-deps`` runs it; this fixture runs it too
when the environment is missing, and skips only when the install fails). It starts offline
with ``--skip-pip`` on a fresh config folder: ``http`` on a free loopback port and a file
notify service, no ``default_config``. A user and a long-lived token come from the
onboarding API (the ``core_config`` step is skipped: it would download a weather
library); the MQTT integration is added through the config-flow API, pointed at a private
Mosquitto of this session.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from homeassistant_api import WebsocketClient

from tests.conftest import ROOT, Broker, free_port, mosquitto_binary

logger = logging.getLogger(__name__)

HA_VENV = ROOT / ".cache" / "homeassistant-venv"
DOCS = ROOT / "docs" / "homeassistant.md"
AUTOMATION_MARK = "# thuisplus: acknowledge from a phone notification"
INSTALL = ROOT / "scripts" / "install-homeassistant.sh"
START_TIMEOUT_S = 90.0
USER = "thuisplus-tests"  # a role, not a person


def _request(
    url: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    form: bool = False,
    timeout: float = 20.0,
) -> Any:
    data: bytes | None = None
    headers = {}
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@dataclass
class HomeAssistant:
    """A running Home Assistant and what the tests need of it."""

    url: str
    token: str
    config_dir: Path
    notify_file: Path
    log: Path
    proc: subprocess.Popen[bytes]
    start_s: float

    def get(self, path: str) -> Any:
        return _request(f"{self.url}{path}", token=self.token)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return _request(f"{self.url}{path}", body, token=self.token)

    def states(self) -> dict[str, dict[str, Any]]:
        return {s["entity_id"]: s for s in self.get("/api/states")}

    def persistent_notifications(self) -> dict[str, dict[str, Any]]:
        """In 2024.3 persistent notifications are no longer states: read them over the
        websocket API, as the frontend does."""
        with WebsocketClient(f"{self.url}/api/websocket", self.token) as ws:
            msg_id = ws.send("persistent_notification/get")
            found: list[dict[str, Any]] = ws.recv_result(msg_id).result or []
        return {n["notification_id"]: n for n in found}

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


def documented_automation() -> str:
    """The automation YAML block of docs/homeassistant.md, as a user would copy it."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(AUTOMATION_MARK)
    return text[start : text.index("```", start)]


def _installed() -> Path:
    hass = HA_VENV / "bin" / "hass"
    started = time.monotonic()
    try:
        subprocess.run([str(INSTALL), str(HA_VENV)], check=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        pytest.skip(f"Home Assistant cannot be installed on this machine ({err})")
    logger.info("Home Assistant install check: %.1f s", time.monotonic() - started)
    if not hass.exists():
        pytest.skip(f"Home Assistant cannot be installed on this machine (no {hass})")
    return hass


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Home Assistant exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            _request(f"{url}/api/onboarding", timeout=2)
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"Home Assistant did not answer within {START_TIMEOUT_S} s")


def _onboard(url: str) -> str:
    """A user through onboarding, then a long-lived access token for it."""
    client_id = f"{url}/"
    created = _request(
        f"{url}/api/onboarding/users",
        {
            "client_id": client_id,
            "name": USER,
            "username": USER,
            "password": "thuisplus-tests-only",
            "language": "nl",
        },
    )
    tokens = _request(
        f"{url}/auth/token",
        {"grant_type": "authorization_code", "code": created["auth_code"], "client_id": client_id},
        form=True,
    )
    with WebsocketClient(f"{url}/api/websocket", tokens["access_token"]) as ws:
        msg_id = ws.send("auth/long_lived_access_token", client_name="thuisplus", lifespan=1)
        token = ws.recv_result(msg_id).result
    assert isinstance(token, str)
    return token


def _add_mqtt(url: str, token: str, broker: Broker) -> None:
    flow = _request(
        f"{url}/api/config/config_entries/flow",
        {"handler": "mqtt", "show_advanced_options": False},
        token=token,
    )
    for _ in range(3):
        if flow.get("type") == "create_entry":
            return
        if flow.get("type") != "form":
            raise RuntimeError(f"the MQTT config flow went astray: {flow}")
        flow = _request(
            f"{url}/api/config/config_entries/flow/{flow['flow_id']}",
            {"broker": broker.host, "port": broker.port},
            token=token,
        )
    raise RuntimeError(f"the MQTT config flow did not finish: {flow}")


@pytest.fixture(scope="session")
def ha_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A private Mosquitto for the whole session (Home Assistant stays connected to it)."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed: `make test-deps` installs it")
    b = Broker(tmp_path_factory.mktemp("ha-broker"), binary)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def home_assistant(
    tmp_path_factory: pytest.TempPathFactory, ha_broker: Broker
) -> Iterator[HomeAssistant]:
    hass = _installed()
    config_dir = tmp_path_factory.mktemp("ha-config")
    port = free_port()
    notify_file = config_dir / "team_phone.txt"
    (config_dir / "configuration.yaml").write_text(
        "homeassistant:\n"
        "  name: thuisplus-tests\n"
        "  latitude: 51.92\n  longitude: 4.48\n  elevation: 0\n"
        "  unit_system: metric\n  time_zone: Europe/Amsterdam\n  country: NL\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
        "notify:\n"
        f"  - {{platform: file, name: team_phone, filename: {notify_file}}}\n"
        "logger:\n  default: warning\n" + documented_automation(),
        encoding="utf-8",
    )
    log = config_dir / "hass.out"
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(hass), "-c", str(config_dir), "--skip-pip"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_up(url, proc, log)
        start_s = time.monotonic() - started
        token = _onboard(url)
        _add_mqtt(url, token, ha_broker)
        logger.info(
            "Home Assistant up in %.1f s, ready in %.1f s", start_s, time.monotonic() - started
        )
        yield HomeAssistant(url, token, config_dir, notify_file, log, proc, start_s)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
