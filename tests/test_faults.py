"""Faults caused for real on the live hub (``thuisplus run`` over a private Mosquitto):
a disk that fills, a flapping sensor, clocks that jump, a hub killed with SIGKILL
mid-stream, a broker away while signals are raised. Each time the hub keeps serving,
says so on its health topic and in its log, recovers by itself, and loses nothing it
accepted."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.live import FLAT, Collector, HubProcess, Publisher, start_online, wait_for

pytestmark = pytest.mark.broker

HEALTH = f"thuisplus/{FLAT}/hub/health"
AVAIL = f"thuisplus/{FLAT}/hub/availability"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def health(watch: Collector) -> dict[str, Any]:
    body = watch.last(HEALTH)
    return json.loads(body) if body else {}


def degraded_by(watch: Collector, fault: str) -> bool:
    return fault in health(watch).get("faults", {})


def healthy(watch: Collector) -> bool:
    return health(watch).get("status") == "ok"


def start(hub: HubProcess, watch: Collector) -> None:
    start_online(hub, watch)


def query(hub: HubProcess, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{hub.state / 'thuisplus.sqlite'}?mode=ro", uri=True)
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def events(hub: HubProcess) -> int:
    return int(query(hub, "SELECT count(*) FROM events")[0][0])


@pytest.fixture
def hubs(broker: Broker, tmp_path: Path) -> Iterator[list[HubProcess]]:
    started: list[HubProcess] = []
    yield started
    for h in started:
        if h.proc is not None and h.proc.poll() is None:
            h.stop()


def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("filling or breaking a file system needs root (mount); run as root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs for the hub's state folder: small enough to fill in a second."""
    as_root()
    mnt = tmp_path / "hub" / "state"
    mnt.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system says it is full."""
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    # the last partial block too
    try:
        with filler.open("ab") as fh:
            while True:
                fh.write(b"\0" * 512)
                fh.flush()
    except OSError:
        pass
    return filler


def test_a_full_disk_degrades_loudly_keeps_signals_flowing_and_recovers(
    broker: Broker, hubs: list[HubProcess], tmp_path: Path, small_disk: Path
) -> None:
    watch = Collector(broker, "thuisplus/#")
    hub = HubProcess(broker, tmp_path / "hub")
    hubs.append(hub)
    start(hub, watch)
    pub = Publisher(broker)
    pub.send("zigbee2mqtt/a001/bathroom/radar", {"fall": True, "last_seen": at(0)})
    wait_for(lambda: len(watch.payloads()) == 1, 10, "the first fall")
    filler = fill(small_disk)
    # enough new data that SQLite must grow its files: it cannot
    pad = "x" * 2000
    for n in range(400):
        pub.send(
            "zigbee2mqtt/a002/hall/motion",
            {"occupancy": n % 2 == 0, "last_seen": at(10 + n), "pad": pad},
            wait=False,
        )
    pub.send("zigbee2mqtt/a003/bathroom/radar", {"fall": True, "last_seen": at(500)})
    # the fall raised while the disk is full still reaches the team
    wait_for(
        lambda: {s["apartment"] for s in watch.payloads()} == {"a001", "a003"},
        15,
        lambda: f"the fall during the fault; log:\n{hub.output()}",
    )
    wait_for(lambda: degraded_by(watch, "store"), 10, lambda: f"health: {health(watch)}")
    fault = health(watch)["faults"]["store"]
    assert "database or disk is full" in fault
    assert health(watch)["counters"]["unsaved_signals"] == 1
    assert "Store fault: cannot write" in hub.output()
    # the installer's check says so too
    conf = tmp_path / "doctor.yaml"
    conf.write_text(
        f"flat: {FLAT}\nmqtt:\n  host: {broker.host}\n  port: {broker.port}\n"
        "  allow_insecure: true\n"
    )
    doctor = subprocess.run(
        [sys.executable, "-m", "edge.cli", "doctor", "--config", str(conf), "--no-service"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # (the burst of 400 messages may also have been judged flapping: faults are listed
    # in name order on the one line)
    (line,) = [x for x in doctor.stdout.splitlines() if x.startswith("FAIL  health ")]
    assert "store: cannot write" in line, doctor.stdout
    assert "database or disk is full" in doctor.stdout
    # the fault goes away: the hub writes what waited, by itself
    filler.unlink()
    wait_for(lambda: healthy(watch), 15, lambda: f"recovery; health: {health(watch)}")
    assert "Store writable again: wrote" in hub.output()
    assert hub.stop() == 0
    # nothing accepted was lost: every event, both falls in the register and the outbox
    assert events(hub) == 402
    assert sorted(r[0] for r in query(hub, "SELECT apartment FROM register")) == ["a001", "a003"]
    assert query(hub, "SELECT count(*), sum(delivered) FROM outbox") == [(2, 2)]
    assert query(hub, "PRAGMA integrity_check") == [("ok",)]
    # each fall went out once
    assert sorted(s["apartment"] for s in watch.payloads()) == ["a001", "a003"]
    pub.close()
    watch.close()


def run(*cmd: str) -> None:
    subprocess.run(list(cmd), capture_output=True, text=True, check=True)


@pytest.fixture
def fragile_disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An ext4 file system in a file, mounted with errors=remount-ro as a Raspberry Pi's
    SD card is: a file-system error makes the kernel force it read-only under the hub."""
    as_root()
    if shutil.which("mkfs.ext4") is None or shutil.which("e2fsck") is None:
        pytest.skip("mkfs.ext4 or e2fsck missing (e2fsprogs)")
    image = tmp_path / "sdcard.img"
    mnt = tmp_path / "hub" / "state"
    mnt.mkdir(parents=True)
    with image.open("wb") as fh:
        fh.truncate(32 * 2**20)
    run("mkfs.ext4", "-q", "-F", str(image))
    try:
        run("mount", "-o", "loop,errors=remount-ro", str(image), str(mnt))
    except subprocess.CalledProcessError as err:
        pytest.skip(f"cannot loop-mount a file system here: {err.stderr.strip()}")
    try:
        yield image, mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_file_system_forced_read_only_under_the_hub_is_survived(
    broker: Broker, hubs: list[HubProcess], tmp_path: Path, fragile_disk: tuple[Path, Path]
) -> None:
    image, mnt = fragile_disk
    device = Path(
        subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(mnt)], capture_output=True, text=True, check=True
        ).stdout.strip()
    ).name
    trigger = Path(f"/sys/fs/ext4/{device}/trigger_fs_error")
    if not trigger.exists():
        pytest.skip(f"{trigger} missing: this kernel cannot force a file-system error")
    watch = Collector(broker, "thuisplus/#")
    hub = HubProcess(broker, tmp_path / "hub")
    hubs.append(hub)
    start(hub, watch)
    pub = Publisher(broker)
    pub.send("zigbee2mqtt/a001/bathroom/radar", {"fall": True, "last_seen": at(0)})
    wait_for(lambda: len(watch.payloads()) == 1, 10, "the first fall")
    os.sync()  # what the kernel writes back within seconds anyway
    trigger.write_text("thuisplus test\n")  # the kernel remounts it read-only (emergency_ro)
    for n in range(50):
        pub.send("zigbee2mqtt/a002/hall/motion", {"occupancy": n % 2 == 0, "last_seen": at(1 + n)})
    pub.send("zigbee2mqtt/a003/bathroom/radar", {"fall": True, "last_seen": at(100)})
    wait_for(
        lambda: {s["apartment"] for s in watch.payloads()} == {"a001", "a003"},
        15,
        lambda: f"the fall on a read-only disk; log:\n{hub.output()}",
    )
    wait_for(lambda: degraded_by(watch, "store"), 10, lambda: f"health: {health(watch)}")
    # the installer repairs the card: unmount, check, mount again; the hub finds it
    run("umount", "-l", str(mnt))
    time.sleep(3)  # the hub tries meanwhile: it must not make a new, empty store there
    assert not (mnt / "thuisplus.sqlite").exists()
    # e2fsck exits 1 when it repaired something, as it may here
    subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, check=False)
    run("mount", "-o", "loop,errors=remount-ro", str(image), str(mnt))
    wait_for(lambda: healthy(watch), 20, lambda: f"recovery: {health(watch)}\n{hub.output()}")
    assert hub.stop() == 0
    assert events(hub) == 52
    assert sorted(r[0] for r in query(hub, "SELECT apartment FROM register")) == ["a001", "a003"]
    assert query(hub, "SELECT count(*) FROM outbox WHERE delivered=0") == [(0,)]
    assert query(hub, "PRAGMA integrity_check") == [("ok",)]
    pub.close()
    watch.close()


def test_a_backlog_is_reported_while_it_lasts_and_nothing_is_lost(
    broker: Broker, hubs: list[HubProcess], tmp_path: Path
) -> None:
    """The hub was stopped while a flat sent 20,000 messages: they wait at the broker (its
    persistent session), the hub's probe waits behind them, and its health says so until
    it has caught up. Nothing is lost."""
    watch = Collector(broker, "thuisplus/#")
    hub = HubProcess(broker, tmp_path / "hub", "mqtt:\n  behind_s: 2\n")
    hubs.append(hub)
    start(hub, watch)
    assert hub.stop() == 0
    pub = Publisher(broker)
    sent = 20_000
    for n in range(sent):  # 200 apartments
        pub.send(
            f"zigbee2mqtt/a{n % 200:03d}/hall/motion",
            {"occupancy": n % 3 == 0, "last_seen": at(n / 60)},
            wait=n == sent - 1,
        )
    start(hub, watch)
    wait_for(lambda: degraded_by(watch, "behind"), 60, lambda: f"health: {health(watch)}")
    assert "before the hub handles them" in health(watch)["faults"]["behind"]
    wait_for(lambda: healthy(watch), 240, lambda: f"catching up; health: {health(watch)}")
    assert "Behind: sensor messages wait" in hub.output()
    assert events(hub) == sent
    pub.close()


def test_a_flapping_sensor_is_reported_and_the_others_are_still_served(
    broker: Broker, hubs: list[HubProcess], tmp_path: Path
) -> None:
    watch = Collector(broker, "thuisplus/#")
    hub = HubProcess(broker, tmp_path / "hub")
    hubs.append(hub)
    start(hub, watch)
    pub = Publisher(broker)
    sent = 0
    stop = threading.Event()

    def flap() -> None:
        nonlocal sent
        t = 0.0
        while not stop.is_set():
            pub.send(
                "zigbee2mqtt/a007/entrance/door",
                {"contact": sent % 2 == 0, "last_seen": at(t)},
                wait=False,
            )
            sent += 1
            t += 0.01
            time.sleep(0.01)  # 100 messages a second

    flapper = threading.Thread(target=flap)
    flapper.start()
    try:
        wait_for(lambda: degraded_by(watch, "flapping"), 15, lambda: f"health: {health(watch)}")
        assert "zigbee2mqtt/a007/entrance/door" in health(watch)["faults"]["flapping"]
        pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True, "last_seen": at(1)})
        wait_for(lambda: watch.payloads(), 10, "the fall in another apartment")
    finally:
        stop.set()
        flapper.join()
    assert "is flapping:" in hub.output()
    assert [s["apartment"] for s in watch.payloads()] == ["a012"]
    wait_for(lambda: healthy(watch), 20, lambda: f"the flapping to be over: {health(watch)}")
    # nothing dropped: every flap and the fall are in the event log
    wait_for(
        lambda: events(hub) == sent + 1,
        20,
        lambda: f"{sent + 1} events: {events(hub)}",
    )
    assert hub.stop() == 0
    assert sent >= 300
    pub.close()
    watch.close()


def test_clock_jumps_are_quarantined_loudly_and_a_real_jump_is_followed(
    broker: Broker, hubs: list[HubProcess], tmp_path: Path
) -> None:
    watch = Collector(broker, "thuisplus/#")
    hub = HubProcess(broker, tmp_path / "hub", "clock:\n  reanchor_after: 5\n")
    hubs.append(hub)
    start(hub, watch)
    pub = Publisher(broker)
    pub.send("zigbee2mqtt/a001/hall/motion", {"occupancy": True, "last_seen": at(0)})
    # forwards a year, back to 1970, back two days: single sensors with wrong clocks
    pub.send("zigbee2mqtt/a002/hall/motion", {"occupancy": True, "last_seen": at(365 * 86400)})
    pub.send("zigbee2mqtt/a003/hall/motion", {"occupancy": True, "last_seen": 0})
    pub.send("zigbee2mqtt/a004/hall/motion", {"occupancy": True, "last_seen": at(-2 * 86400)})
    wait_for(lambda: degraded_by(watch, "clock"), 15, lambda: f"health: {health(watch)}")
    assert "messages quarantined" in health(watch)["faults"]["clock"]
    assert "had times far from the stream clock and were quarantined" in hub.output()
    # the stream clock did not move: a fall at the right time is a signal at that time
    pub.send("zigbee2mqtt/a005/bathroom/radar", {"fall": True, "last_seen": at(60)})
    wait_for(lambda: watch.payloads(), 10, "the fall")
    (fall,) = watch.payloads()
    assert datetime.fromisoformat(fall["detected_at"]) == T0 + timedelta(seconds=60)
    wait_for(lambda: healthy(watch), 20, lambda: f"health back to ok: {health(watch)}")
    # the whole flat's clock really jumps a month (NTP after a long outage): followed
    month = 30 * 86400
    for n in range(5):
        pub.send(f"zigbee2mqtt/a01{n}/hall/motion", {"occupancy": True, "last_seen": at(month + n)})
    wait_for(lambda: "Stream clock re-anchored" in hub.output(), 10, hub.output)
    pub.send("zigbee2mqtt/a006/bathroom/radar", {"fall": True, "last_seen": at(month + 60)})
    wait_for(
        lambda: any(s["apartment"] == "a006" for s in watch.payloads()),
        10,
        "the fall after the jump",
    )
    fall = next(s for s in watch.payloads() if s["apartment"] == "a006")
    assert datetime.fromisoformat(fall["detected_at"]) == T0 + timedelta(seconds=month + 60)
    assert hub.stop() == 0
    reasons = [r for (r,) in query(hub, "SELECT reason FROM dead_letters ORDER BY id")]
    assert reasons[0].startswith("clock: 2027-03-02T09:00:00+00:00 is 365 days ahead")
    assert reasons[1].startswith("clock: 1970-01-01T00:00:00+00:00 is before 2015-01-01")
    assert reasons[2].startswith("clock: 2026-02-28T09:00:00+00:00 is 2 days behind")
    pub.close()
    watch.close()


def test_a_sigkill_mid_stream_loses_no_event_and_raises_no_urgent_signal_twice(
    broker: Broker, hubs: list[HubProcess], tmp_path: Path
) -> None:
    watch = Collector(broker, f"thuisplus/{FLAT}/#")
    hub = HubProcess(broker, tmp_path / "hub")
    hubs.append(hub)
    start(hub, watch)
    pub = Publisher(broker)
    for n in range(1, 4):
        pub.send(f"zigbee2mqtt/a00{n}/bathroom/radar", {"fall": True, "last_seen": at(n)})
    wait_for(lambda: len(watch.payloads()) == 3, 10, "the falls before the kill")
    # a stream with falls in it, and the hub killed in the middle of it
    sent = 3
    falls = {"a001", "a002", "a003"}
    for i in range(3000):
        apt = f"a{100 + i % 50:03d}"
        if i % 500 == 250:
            apt = f"a{400 + i // 500}"
            pub.send(f"zigbee2mqtt/{apt}/bathroom/radar", {"fall": True, "last_seen": at(10 + i)})
            falls.add(apt)
        else:
            pub.send(
                f"zigbee2mqtt/{apt}/hall/motion",
                {"occupancy": i % 2 == 0, "battery": 90, "last_seen": at(10 + i)},
                wait=False,
            )
        sent += 1
        if i == 1500:
            assert hub.proc is not None
            os.kill(hub.proc.pid, signal.SIGKILL)
            hub.stop()
    pub.client.publish("zigbee2mqtt/bridge/done", "{}", qos=1).wait_for_publish(10)
    wait_for(lambda: watch.last(AVAIL) == b"offline", 10, "the last will")
    start(hub, watch)
    pub.send("zigbee2mqtt/a200/bathroom/radar", {"fall": True, "last_seen": at(4000)})
    falls.add("a200")
    sent += 1

    def by_apartment() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for s in watch.payloads():
            found.setdefault(s["apartment"], set()).add(s["id"])
        return found

    wait_for(
        lambda: set(by_apartment()) == falls,
        20,
        lambda: f"a signal per fall: {sorted(by_apartment())} of {sorted(falls)}\n{hub.output()}",
    )
    wait_for(
        lambda: events(hub) == sent,
        20,
        lambda: f"{sent} events: {events(hub)}",
    )
    assert hub.stop() == 0
    # one signal per fall, never two (a redelivered message is the same signal id)
    assert all(len(ids) == 1 for ids in by_apartment().values()), by_apartment()
    assert query(hub, "SELECT count(*) FROM register") == [(len(falls),)]
    assert query(hub, "SELECT count(*) FROM outbox WHERE delivered=0") == [(0,)]
    assert query(hub, "PRAGMA integrity_check") == [("ok",)]
    assert re.search(r"Replayed \d+ events kept after the last saved state", hub.output())
    saved = dict(query(hub, "SELECT name, body FROM saved_state"))
    sensors = json.loads(saved["state"])["apartments"]["a120"]["sensors"]
    assert sensors["a120/hall/motion"]["battery"] == 90
    pub.close()
    watch.close()


def test_a_broker_away_for_long_gets_every_signal_after_in_order_and_once(
    broker: Broker, hubs: list[HubProcess], tmp_path: Path
) -> None:
    watch = Collector(broker, f"thuisplus/{FLAT}/signal/#")
    avail = Collector(broker, AVAIL, client_id="test-avail")
    hub = HubProcess(
        broker,
        tmp_path / "hub",
        "mqtt:\n  reconnect_max_s: 2\ndetectors:\n  sensor_offline:\n"
        "    after_hours: 0.001\n    event_only_hours: 0.001\n",
    )
    hubs.append(hub)
    start(hub, avail)
    pub = Publisher(broker)
    # twelve sensors, each heard once: each falls silent 3.6 s later, in this order
    for n in range(12):
        pub.send(f"zigbee2mqtt/a{300 + n}/hall/motion", {"occupancy": True})
        time.sleep(0.25)
    broker.stop()
    time.sleep(10)  # the broker is away; every sensor falls silent meanwhile
    assert hub.proc is not None
    assert hub.proc.poll() is None
    broker.start()
    wait_for(
        lambda: len(watch.payloads()) >= 12,
        30,
        lambda: f"12 signals; got {len(watch.payloads())}\n{hub.output()}",
    )
    time.sleep(1.0)  # nothing more may come
    got = watch.payloads()
    assert [s["apartment"] for s in got] == [f"a{300 + n}" for n in range(12)]
    assert len({s["id"] for s in got}) == len(got) == 12
    assert "Publishing 12 signals kept while the broker was away" in hub.output()
    assert hub.stop() == 0
    pub.close()
    watch.close()
    avail.close()


def test_fill_helper_really_fills(small_disk: Path) -> None:
    filler = fill(small_disk)
    assert shutil.disk_usage(small_disk).free < 4096
    filler.unlink()
