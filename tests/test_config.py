"""The flat configuration: unknown keys are errors, one line each, secrets never inline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import SECRET_ENV, Config, ConfigError, load_config, load_config_text

GOOD = """\
flat: ijsselmonde-01
timezone: Europe/Amsterdam
language: nl
mqtt:
  host: localhost
  port: 8883
  username: hub
  password_file: /run/secrets/mqtt
  tls:
    enabled: true
    ca_file: /etc/thuisplus/ca.crt
detectors:
  low_battery:
    threshold_pct: 20
apartments:
  a012:
    residents: 2
    consent:
      fall: false
    detectors:
      low_battery:
        threshold_pct: 10
    devices:
      living/pendant:
        role: sos_button
"""


def test_a_full_config_loads() -> None:
    c = load_config_text(GOOD, "flat.yaml")
    assert c.flat == "ijsselmonde-01"
    assert c.mqtt.port == 8883
    assert c.mqtt.tls.enabled
    assert c.apartment("a012").residents == 2
    assert not c.consents("a012", "fall")
    assert c.consents("a013", "fall")
    assert c.detector_settings("low_battery", "a012").threshold_pct == 10  # type: ignore[attr-defined]
    assert c.detector_settings("low_battery", "a013").threshold_pct == 20  # type: ignore[attr-defined]
    assert c.device_override("a012/living/pendant").role == "sos_button"  # type: ignore[union-attr]


def test_zero_configuration_works() -> None:
    c = load_config(None)
    assert c == Config()
    assert c.mqtt.host == "localhost"


def lines_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "flat.yaml")
    return info.value.lines


def test_each_problem_is_one_line_with_yaml_line_and_key_path() -> None:
    bad = GOOD.replace("port: 8883", "port: 99999").replace("residents: 2", "residentz: 2")
    bad = bad.replace("threshold_pct: 10", "threshold_pct: -3")
    lines = lines_of(bad)
    assert (
        "flat.yaml:6: mqtt -> port: Input should be less than or equal to 65535 (got 99999)"
        in lines
    )
    assert any(
        ln.startswith("flat.yaml:17: apartments -> a012 -> residentz: unknown key") for ln in lines
    )
    assert any(
        "apartments -> a012 -> detectors -> low_battery -> threshold_pct" in ln for ln in lines
    )


def test_a_password_in_the_yaml_is_refused() -> None:
    (line,) = lines_of("mqtt:\n  host: x\n  password: hunter2\n")
    assert SECRET_ENV in line
    assert "hunter2" not in line
    assert line.startswith("flat.yaml:3: mqtt -> password: a password never goes in the YAML")


def test_unknown_detector_time_zone_and_role_are_named() -> None:
    lines = lines_of(
        "timezone: Mars/Olympus\n"
        "detectors:\n  teleport: {}\n"
        "apartments:\n  a1:\n    devices:\n      hall/x: {role: butler}\n"
    )
    text = "\n".join(lines)
    assert "timezone: unknown time zone 'Mars/Olympus'" in text
    assert "detectors -> teleport: unknown detector" in text
    assert "apartments -> a1 -> devices -> hall/x -> role: unknown role 'butler'" in text


def test_broken_yaml_says_where() -> None:
    (line,) = lines_of("flat: x\nmqtt: [\n")
    assert line.startswith("flat.yaml:")
    assert "not valid YAML" in line


def test_duplicate_keys_are_errors() -> None:
    (line,) = lines_of("flat: a\nflat: b\n")
    assert "duplicate key 'flat'" in line


def test_password_from_environment_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    c = load_config_text(f"mqtt:\n  username: hub\n  password_file: {secret}\n")
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert c.mqtt.credentials() == ("hub", "s3cret")
    monkeypatch.setenv(SECRET_ENV, "from-env")
    assert c.mqtt.credentials() == ("hub", "from-env")


def test_check_config_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text("flat: UPPER\nmqtt:\n  prot: 1\n")
    run = [sys.executable, "-m", "edge.cli", "check-config"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    assert "OK (flat ijsselmonde-01, 1 apartments" in ok.stdout
    ko = subprocess.run([*run, str(bad)], capture_output=True, text=True, check=False)
    assert ko.returncode == 1
    out = ko.stdout.splitlines()
    assert out[0].startswith(f"{bad}:1: flat: String should match pattern")
    assert out[1] == f"{bad}:3: mqtt -> prot: unknown key (Extra inputs are not permitted)"
    assert out[2] == f"{bad}: 2 problem(s)"


def test_the_documented_example_is_valid() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    c = load_config_text(block, "docs/configuration.md")
    assert c.flat == "ijsselmonde-01"
    assert c.device_override("a012/kitchen/broken").ignore  # type: ignore[union-attr]
