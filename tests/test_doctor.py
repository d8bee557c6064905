"""thuisplus doctor, on a real broker with a real hub, and on broken set-ups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Broker, free_port
from tests.live import FLAT, HubProcess, Publisher, wait_for

pytestmark = pytest.mark.broker


def doctor(config: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "doctor",
            "--config",
            str(config),
            "--state-dir",
            str(state),
            "--no-service",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_healthy_gateway(broker: Broker, tmp_path: Path) -> None:
    hub = HubProcess(
        broker,
        tmp_path / "hub",
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  allow_insecure: true\n",
    )
    hub.start()
    try:
        wait_for(lambda: "Connected to" in hub.output(), 15, lambda: hub.output())
        pub = Publisher(broker)
        pub.send("zigbee2mqtt/a012/hall/motion", {"occupancy": True, "battery": 90})
        pub.close()
    finally:
        hub.stop()
    hub.start()  # running again: availability online, state saved with the sensor
    try:
        wait_for(lambda: hub.output().count("Connected to") == 2, 15, lambda: hub.output())
        out = doctor(hub.config, hub.state)
    finally:
        hub.stop()
    lines = out.stdout.splitlines()
    assert lines[0].startswith("OK    config     flat test-flat")
    assert f"OK    broker     {broker.host}:{broker.port} accepts the hub's credentials" in lines
    assert f"OK    hub        thuisplus/{FLAT}/hub/availability says online" in lines
    assert "OK    health     the hub reports no faults" in lines
    assert any(x.startswith("OK    sensors    1 sensors in 1 apartments") for x in lines)
    # only a hall motion sensor: the front door and the living room are not watched
    coverage = next(x for x in lines if x.split()[1] == "coverage")
    assert coverage.startswith("WARN  coverage   1 of 1 with no front-door contact")
    assert "no motion sensor in the hall" not in coverage
    assert "1 of 1 with living room without a chair pad (one for each resident) or fall" in coverage
    assert "give it its role in the config" in coverage  # a sensor named otherwise
    assert any(x.startswith(("OK    disk", "WARN  disk")) for x in lines)
    assert any(x.split()[1] == "clock" for x in lines)
    assert out.returncode == (1 if any(x.startswith("FAIL") for x in lines) else 0)


def test_a_broker_that_is_not_there_and_no_state(tmp_path: Path) -> None:
    config = tmp_path / "flat.yaml"
    config.write_text(
        f"flat: {FLAT}\nmqtt:\n  port: {free_port()}\n  allow_insecure: true\n"
        "apartments:\n  a001: {residents: 1}\n"
    )
    out = doctor(config, tmp_path / "state")
    assert out.returncode == 1
    assert "FAIL  broker     cannot reach localhost:" in out.stdout
    assert "FAIL  sensors    " in out.stdout
    assert "no store (has the hub run with this state?)" in out.stdout
    assert "WARN  coverage   not checked: no saved state to read" in out.stdout


def test_silent_sensors_are_named(broker: Broker, tmp_path: Path) -> None:
    hub = HubProcess(
        broker, tmp_path / "hub", "apartments:\n  a001: {residents: 1}\n  a002: {residents: 1}\n"
    )
    hub.start()
    try:
        wait_for(lambda: "Connected to" in hub.output(), 15, lambda: hub.output())
        pub = Publisher(broker)
        pub.send(
            "zigbee2mqtt/a001/hall/motion",
            {"occupancy": True, "last_seen": "2026-01-05T07:00:00+01:00"},
        )
        pub.send(
            "zigbee2mqtt/a001/bedroom/bed",
            {"occupancy": False, "last_seen": "2026-01-05T07:01:00+01:00"},
        )
        pub.close()
    finally:
        hub.stop()
    out = doctor(hub.config, hub.state, "--silent-hours", "1")
    assert "2 silent for over 1 h: a001 (2: bedroom/bed, hall/motion)" in out.stdout
    assert "configured but never seen: a002" in out.stdout
    assert out.returncode == 1

    # the same as one JSON document, with the full lists, and the same exit code
    js = doctor(hub.config, hub.state, "--silent-hours", "1", "--json")
    assert js.returncode == 1
    doc = json.loads(js.stdout)
    assert doc["ok"] is False
    assert doc["schema"] == 1
    sensors = next(c for c in doc["checks"] if c["name"] == "sensors")
    assert sensors["status"] == "FAIL"
    assert sensors["data"]["silent"] == {"a001": ["a001/bedroom/bed", "a001/hall/motion"]}
    assert sensors["data"]["never_seen"] == ["a002"]
    assert doc["counts"]["FAIL"] == sum(c["status"] == "FAIL" for c in doc["checks"])
    assert next(c["name"] for c in doc["checks"]) == "config"


def test_a_production_config_refuses_a_plain_anonymous_broker(
    broker: Broker, tmp_path: Path
) -> None:
    config = tmp_path / "flat.yaml"
    config.write_text(f"flat: {FLAT}\nmqtt:\n  host: {broker.host}\n  port: {broker.port}\n")
    out = doctor(config, tmp_path / "state")
    assert out.returncode == 1
    assert (
        f"FAIL  broker     mqtt: refused to connect to {broker.host}:{broker.port}: the "
        "connection would be plain text (mqtt -> tls -> enabled is false) and anonymous"
    ) in out.stdout


def test_coverage_names_the_apartments_whose_living_room_no_sensor_watches_for_falls(
    tmp_path: Path,
) -> None:
    """A simulated flat where about half the living rooms have a chair pad and half the
    apartments a fall radar: the doctor names exactly the apartments whose living room has
    neither (read here from the recording's own topics), and a couple's home with a chair
    pad only for one of them, after a replay saved the state."""
    from edge.cli import main as thuisplus
    from edge.config import load_config
    from edge.doctor import check_coverage, coverage, saved_state
    from edge.models import Message
    from edge.recording import read_recording

    sim, state = tmp_path / "sim", tmp_path / "state"
    args = ["--apartments", "8", "--days", "2", "--seed", "4", "--out", str(sim)]
    assert thuisplus(["simulate", *args, "--chair-pads", "0.5", "--fall-radars", "0.5"]) == 0
    rec = sim / "recording.jsonl.gz"
    config = sim / "flat.yaml"
    assert thuisplus(["replay", str(rec), "--config", str(config), "--state-dir", str(state),
                      "--quiet", "--no-progress"]) == 0  # fmt: skip
    topics = {m.topic for m in read_recording(rec) if isinstance(m, Message)}
    apartments = sorted({t.split("/")[1] for t in topics} - {"common"})
    loaded = load_config(config)
    couples = {a for a, conf in loaded.apartments.items() if conf.residents == 2}
    radar = {t.split("/")[1] for t in topics if t.split("/")[2:] == ["living", "fall_radar"]}
    pad = {t.split("/")[1] for t in topics if t.split("/")[2:] == ["living", "chair_pad"]}
    expected = [a for a in apartments if a not in radar and (a not in pad or a in couples)]
    assert 0 < len(expected) < len(apartments)  # the seed gives both kinds
    assert (pad & couples) - radar  # and a couple with one chair pad
    saved = saved_state(state, loaded)
    assert isinstance(saved, dict)
    gaps = coverage(saved, loaded.device_roles(), loaded.residents())
    assert gaps == {"hall": [], "front_door": [], "living_fall": expected}
    check = check_coverage(saved, loaded)
    assert check.status == "WARN"
    assert check.detail.startswith(f"{len(expected)} of {len(apartments)} with living room")
    assert ", ".join(expected) in check.detail


def test_config_is_ok_only_when_a_file_was_read(tmp_path: Path) -> None:
    """Without --config the doctor checks the defaults and says so (WARN, not OK); a file
    that is not valid is the one FAIL, named with its problem, in text and in JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "doctor", "--no-service", "--state-dir", "s"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.stdout.splitlines()[0].startswith("WARN  config     no --config given"), out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("flat: demo\nmqtt:\n  port: 0\n")
    js = doctor(bad, tmp_path / "state", "--json")
    assert js.returncode == 1
    (check,) = json.loads(js.stdout)["checks"]
    assert check["name"] == "config"
    assert check["status"] == "FAIL"
    assert check["data"]["problems"]
    assert all("mqtt -> port" in p for p in check["data"]["problems"])


def test_version() -> None:
    from importlib.metadata import version

    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == f"thuisplus {version('thuisplus')}"
