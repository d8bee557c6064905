"""Encrypted backups and their restore (issue 21): a hub stopped halfway through a
recording is backed up with the real ``age`` tool, restored onto a fresh root, and the
restored hub continues where it was: the signals of the two halves are those of one
uninterrupted run. Zigbee2MQTT's network key and Mosquitto's accounts come back too;
the backup reveals none of them; a damaged backup or a wrong key restores nothing."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edge.app import build_hub
from edge.backup import BackupError, check_restored, make_backup, restore
from edge.config import Config, ConfigError, load_config, load_config_text
from edge.models import Signal
from edge.replay import replay
from edge.store import Store
from simulators.__main__ import main as simulate_main

pytestmark = pytest.mark.skipif(
    shutil.which("age") is None, reason="needs the 'age' tool: `make test` installs it"
)
NETWORK_KEY = "network_key: [1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 13]"


class Collect:
    def __init__(self) -> None:
        self.signals: list[Signal] = []

    def emit(self, signal: Signal) -> None:
        self.signals.append(signal)

    def close(self) -> None:
        pass


def keypair(tmp: Path, name: str = "key") -> tuple[Path, str]:
    identity = tmp / f"{name}.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    public = subprocess.run(
        ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return identity, public


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("backup-sim")
    args = ["simulate", "--apartments", "4", "--days", "21", "--seed", "7", "--out", str(out)]
    assert simulate_main([*args, "--episode-scale", "6"]) == 0
    lines = gzip.open(out / "recording.jsonl.gz", "rt").read().splitlines()
    first = datetime.fromisoformat(json.loads(lines[0])["ts"])
    days = [(datetime.fromisoformat(json.loads(ln)["ts"]) - first).days for ln in lines]
    cut = days.index(11)
    parts = []
    for n, chunk in enumerate((lines[:cut], lines[cut:])):
        path = out / f"part{n}.jsonl"
        path.write_text("\n".join(chunk) + "\n")
        parts.append(path)
    config = load_config(out / "flat.yaml")
    whole = run(config, Store(None, config.store), [out / "recording.jsonl.gz"])
    return {"dir": out, "parts": parts, "config": config, "whole": whole}


def run(config: Config, store: Store, recordings: list[Path]) -> list[tuple[str, str, str]]:
    sink = Collect()
    hub = build_hub(config, store, sinks=[sink])
    replay(recordings, hub)
    hub.close()
    store.close()
    return [(s.id, s.kind.value, s.apartment) for s in sink.signals]


def gateway_files(root: Path) -> list[Path]:
    z2m = root / "opt/zigbee2mqtt/data"
    z2m.mkdir(parents=True)
    (z2m / "configuration.yaml").write_text(f"advanced:\n  {NETWORK_KEY}\n")
    (z2m / "database.db").write_text('{"id":1,"type":"Coordinator","ieeeAddr":"0x00124b00"}\n')
    mosq = root / "etc/mosquitto"
    mosq.mkdir(parents=True)
    (mosq / "passwd").write_text("thuisplus-hub:$7$101$c2FsdHNhbHQ=$aGFzaGhhc2g=\n")
    (mosq / "acl").write_text("user thuisplus-hub\ntopic readwrite thuisplus/#\n")
    return [z2m, mosq]


def test_a_restored_hub_continues_where_it_was(sim: dict[str, Any], tmp_path: Path) -> None:
    config: Config = sim["config"]
    identity, public = keypair(tmp_path)
    old = tmp_path / "old-gateway"
    state = old / "var/lib/thuisplus"
    state.mkdir(parents=True)
    include = gateway_files(old)
    first = run(config, Store(state / "thuisplus.sqlite", config.store), [sim["parts"][0]])
    summary = make_backup(state, tmp_path / "backups", [public], include, config.flat, "test")
    assert summary.skipped == []
    assert summary.files == 5  # the store, 2 Zigbee2MQTT files, 2 Mosquitto files
    body = summary.path.read_bytes()
    assert body.startswith(b"age-encryption.org/v1")
    for secret in (b"network_key", b"thuisplus-hub", b"SQLite format 3", b"Coordinator"):
        assert secret not in body

    fresh = tmp_path / "new-gateway"
    new_state = fresh / "var/lib/thuisplus"
    done = restore(summary.path, identity, new_state, fresh)
    assert done["files"] == 4
    # (each file goes back to its own absolute path, under the new root)
    moved = fresh / old.relative_to(old.anchor)
    for rel in ("opt/zigbee2mqtt/data/configuration.yaml", "etc/mosquitto/passwd",
                "etc/mosquitto/acl", "opt/zigbee2mqtt/data/database.db"):  # fmt: skip
        assert (moved / rel).read_bytes() == (old / rel).read_bytes()
    verdict = check_restored(new_state)
    assert verdict is not None
    assert verdict[0], verdict[1]

    second = run(config, Store(new_state / "thuisplus.sqlite", config.store), [sim["parts"][1]])
    assert first
    assert second
    assert first + second == sim["whole"]  # as if the gateway had never stopped


def test_a_damaged_backup_or_a_wrong_key_restores_nothing(
    sim: dict[str, Any], tmp_path: Path
) -> None:
    config: Config = sim["config"]
    identity, public = keypair(tmp_path)
    other, _ = keypair(tmp_path, "other")
    state = tmp_path / "state"
    state.mkdir()
    run(config, Store(state / "thuisplus.sqlite", config.store), [sim["parts"][0]])
    backup = make_backup(state, tmp_path / "b", [public], [], config.flat, "test").path
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=r"could not decrypt|cannot be read"):
        restore(backup, other, target / "state", target)
    damaged = tmp_path / "damaged.tar.age"
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"could not decrypt|cannot be read|damaged"):
        restore(damaged, identity, target / "state", target)
    assert not (target / "state" / "thuisplus.sqlite").exists()
    # a store that is there is replaced only with --force
    restore(backup, identity, target / "state", target)
    with pytest.raises(BackupError, match="exists: restore over it only with --force"):
        restore(backup, identity, target / "state", target)
    restore(backup, identity, target / "state", target, force=True)


def test_backup_and_restore_commands(sim: dict[str, Any], tmp_path: Path) -> None:
    config: Config = sim["config"]
    identity, public = keypair(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    run(config, Store(state / "thuisplus.sqlite", config.store), [sim["parts"][0]])
    conf = tmp_path / "flat.yaml"
    text = (sim["dir"] / "flat.yaml").read_text()
    conf.write_text(text + f"backup:\n  recipients: ['{public}']\n  dir: {tmp_path / 'b'}\n"
                    f"  keep: 2\n  include: ['{tmp_path / 'missing'}']\n")  # fmt: skip
    cli = [sys.executable, "-m", "edge.cli"]
    (tmp_path / "b").mkdir()
    for day in ("20260101T000000Z", "20260102T000000Z"):  # two older ones
        (tmp_path / "b" / f"thuisplus-{config.flat}-{day}.tar.age").write_bytes(b"old")
    made = subprocess.run(
        [*cli, "backup", "--config", str(conf), "--state-dir", str(state)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"skipped {tmp_path / 'missing'}: not there" in made.stdout
    assert f"removed the old backup thuisplus-{config.flat}-20260101T000000Z.tar.age" in made.stdout
    kept = sorted((tmp_path / "b").glob("*.tar.age"))
    assert len(kept) == 2  # keep: 2
    doctor = subprocess.run(
        [*cli, "doctor", "--config", str(conf), "--state-dir", str(state), "--no-service",
         "--json"], capture_output=True, text=True, check=False,
    )  # fmt: skip
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["backup"]["status"] == "OK"
    restored = tmp_path / "restored"
    back = subprocess.run(
        [*cli, "restore", str(kept[-1]), "--identity", str(identity),
         "--state-dir", str(restored / "state"), "--root", str(restored)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert "thuisplus doctor" in back.stdout
    doctor = subprocess.run(
        [*cli, "doctor", "--config", str(conf), "--state-dir", str(restored / "state"),
         "--no-service", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["restore"]["status"] == "OK"
    assert "store intact" in checks["restore"]["detail"]
    # no recipients: a clear error, no backup
    bare = subprocess.run([*cli, "backup", "--state-dir", str(state), "--out", str(tmp_path / "c")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert bare.returncode == 2
    assert "no backup recipients" in bare.stderr


def test_a_private_key_in_the_recipients_is_refused_without_echoing_it() -> None:
    secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    with pytest.raises(ConfigError) as err:
        load_config_text(f"backup:\n  recipients: ['{secret}']\n", "flat.yaml")
    (line,) = err.value.lines
    assert "flat.yaml:2: backup -> recipients: " in line
    assert "not an age public key" in line
    assert "SECRET" not in line
