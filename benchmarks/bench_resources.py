"""Memory and CPU of the hub for a big flat, live through a real Mosquitto, and of a replay.

    python benchmarks/bench_resources.py [--apartments 300] [--days 3] [--speed 720]

Simulates the flat (``thuisplus simulate``, seeded), starts a private Mosquitto on a free
loopback port and the hub (``thuisplus run``) as its own process with the simulation's
flat.yaml, then publishes the simulation live at ``--speed`` simulated seconds per wall
second (``thuisplus simulate --mqtt-host``: every payload carries its event time as
``last_seen``, so the hub sees the flat's days as they were simulated). Read from /proc:
the hub's peak resident memory (VmHWM) and its CPU seconds (user + system), per hour of
flat time; then its CPU while idle for ``--idle-s`` seconds (what a quiet flat costs per
wall hour: keepalives, timers). Last, ``thuisplus replay`` of the same recording and its
peak RSS. Goal: the live hub under 150 MB for 300 apartments.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from tests.conftest import Broker, mosquitto_binary  # noqa: E402
from tests.live import FLAT, HubProcess, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def thuisplus(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], text=True, capture_output=True, **kw
    )  # type: ignore[call-overload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apartments", type=int, default=300)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--speed", type=float, default=720.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--idle-s", type=float, default=30.0)
    args = parser.parse_args()
    binary = mosquitto_binary()
    if binary is None:
        sys.exit("mosquitto is not installed: run scripts/install-test-deps.sh")
    flat_hours = args.days * 24
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim = work / "sim"
        simulate = [
            "simulate",
            "--apartments",
            str(args.apartments),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
            "--flat",
            FLAT,
            "--out",
            str(sim),
        ]
        made = thuisplus(*simulate, check=True)
        print(made.stdout.strip().splitlines()[-1])
        config = (sim / "flat.yaml").read_text(encoding="utf-8")
        config = "\n".join(line for line in config.splitlines() if not line.startswith("flat:"))

        (work / "broker").mkdir()
        broker = Broker(work / "broker", binary)
        broker.start()
        hub = HubProcess(broker, work / "hub", config + "\n")
        hub.start()
        try:
            assert hub.proc is not None
            pid = hub.proc.pid
            watch = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
            online = threading.Event()
            watch.on_message = lambda c, u, m: online.set() if m.payload == b"online" else None
            watch.connect(broker.host, broker.port)
            watch.subscribe(f"thuisplus/{FLAT}/hub/availability", qos=1)
            watch.loop_start()
            wait_for(online.is_set, 30, "the hub to come online")
            watch.loop_stop()
            watch.disconnect()
            time.sleep(1.0)
            rss_start = status_kb(pid, "VmRSS")
            cpu_start = cpu_s(pid)
            started = time.monotonic()
            live = thuisplus(
                *simulate[:-2],
                "--out",
                str(work / "live"),
                "--mqtt-host",
                broker.host,
                "--mqtt-port",
                str(broker.port),
                "--speed",
                str(args.speed),
                check=True,
            )
            wall = time.monotonic() - started
            published = live.stdout.strip().splitlines()[-1]
            # let the hub catch up: its CPU stops climbing
            last = -1.0
            while (now := cpu_s(pid)) - last > 0.05:
                last = now
                time.sleep(1.0)
            busy_cpu = cpu_s(pid) - cpu_start
            busy_wall = time.monotonic() - started
            idle_start = cpu_s(pid)
            time.sleep(args.idle_s)
            idle_cpu = cpu_s(pid) - idle_start
            peak_kb = status_kb(pid, "VmHWM")
            rss_end = status_kb(pid, "VmRSS")
        finally:
            hub.stop()
            broker.stop()
        with sqlite3.connect(hub.state / "thuisplus.sqlite") as db:
            logged = {
                table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("events", "dead_letters", "signals")
            }

        # the same recording replayed, store on disk
        started = time.monotonic()
        replay = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge.cli",
                "replay",
                str(sim / "recording.jsonl.gz"),
                "--config",
                str(sim / "flat.yaml"),
                "--signals-out",
                str(work / "replay-signals.jsonl"),
                "--state-dir",
                str(work / "replay-state"),
                "--quiet",
                "--no-progress",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, code, usage = os.wait4(replay.pid, 0)
        replay.returncode = os.waitstatus_to_exitcode(code)
        replay_wall = time.monotonic() - started
        if replay.returncode != 0:
            sys.exit(f"replay failed with {replay.returncode}")

    idle_per_hour = idle_cpu / args.idle_s * 3600
    per_flat_hour = busy_cpu / flat_hours
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}"
    )
    print(
        f"flat: {args.apartments} apartments x {args.days} days ({flat_hours} flat hours), "
        f"live at {args.speed:.0f}x: {published}; publishing took {wall:.0f} s, "
        f"the hub done after {busy_wall:.0f} s"
    )
    print(
        f"the hub's store after the run: {logged['events']} events, "
        f"{logged['dead_letters']} dead letters, {logged['signals']} signals"
    )
    print(
        f"live hub   peak RSS (VmHWM) {peak_kb / 1024:6.1f} MB   RSS at start "
        f"{rss_start / 1024:.1f} MB, at end {rss_end / 1024:.1f} MB   (goal < 150 MB)"
    )
    print(
        f"live hub   CPU {busy_cpu:.1f} s for {flat_hours} flat hours = "
        f"{per_flat_hour:.2f} CPU s per flat hour; idle {idle_per_hour:.1f} CPU s per wall hour"
    )
    print(
        f"live hub   at the normal rate: about {per_flat_hour + idle_per_hour:.1f} CPU s per "
        f"hour = {(per_flat_hour + idle_per_hour) / 36:.2f} % of one core"
    )
    print(
        f"replay     peak RSS {usage.ru_maxrss / 1024:6.1f} MB   CPU "
        f"{usage.ru_utime + usage.ru_stime:.1f} s   wall {replay_wall:.1f} s"
    )


if __name__ == "__main__":
    main()
