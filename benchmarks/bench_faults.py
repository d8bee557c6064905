"""The live hub under a flood and after a long broker outage, with figures.

    python benchmarks/bench_faults.py [--apartments 300] [--seconds 20] [--outage-s 180]

Flood: a private Mosquitto on loopback and the hub as its own process (`thuisplus run`).
One client publishes motion messages from every apartment at a fixed rate (QoS 1) and,
once a second, a fall from one of them; it times each fall to its urgent signal. The
rates: the flat's normal rate (messages per apartment per day as the simulator's flats
send, times the apartments), ten times that (the issue's flood), and higher fixed rates
to find where the hub falls behind. Reported: fall-to-signal latency, how long the hub
needs after the flood to have every message in its event log (drain), and whether
anything was lost (event log count against messages sent).

Outage: twelve sensors fall silent while the broker is away for `--outage-s` seconds;
reported: how long after the broker is back every `sensor_offline` signal is delivered,
in the order raised, and how many duplicates.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from tests.conftest import Broker, mosquitto_binary  # noqa: E402
from tests.live import FLAT, HubProcess, wait_for  # noqa: E402

# the simulator's flats: 1.88 M lines for 40 apartments x 60 days (docs/performance.md)
NORMAL_PER_APARTMENT_DAY = 1_880_000 / (40 * 60)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Client:
    def __init__(self, broker: Broker, name: str) -> None:
        self.signals: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=name)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.1, 0.5)

        def on_connect(cl: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
            cl.subscribe(f"thuisplus/{FLAT}/signal/#", qos=1)

        def on_message(cl: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
            with self.lock:
                self.signals.append((time.perf_counter(), json.loads(msg.payload)))

        c.on_connect = on_connect
        c.on_subscribe = lambda *a: self.ready.set()
        c.on_message = on_message
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert self.ready.wait(10)
        self.client = c

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def events(hub: HubProcess) -> int:
    db = sqlite3.connect(f"file:{hub.state / 'thuisplus.sqlite'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        db.close()


def flood(binary: str, apartments: int, rate: float, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "broker").mkdir()
        broker = Broker(work / "broker", binary)
        broker.start()
        hub = HubProcess(broker, work / "hub")
        hub.start()
        client = Client(broker, "bench-flood")
        try:
            wait_for(lambda: "Connected to" in hub.output(), 15, hub.output)
            time.sleep(0.5)
            t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
            sent_at: dict[str, float] = {}
            n = 0
            falls = 0
            start = time.perf_counter()
            next_fall = start + 1.0
            while True:
                now = time.perf_counter()
                elapsed = now - start
                if elapsed >= seconds:
                    break
                due = int(elapsed * rate)
                while n < due:
                    apt = f"a{n % apartments:03d}"
                    body = {
                        "occupancy": n % 2 == 0,
                        "last_seen": (t0 + timedelta(seconds=n / rate)).isoformat(),
                    }
                    client.client.publish(f"zigbee2mqtt/{apt}/hall/motion", json.dumps(body), 1)
                    n += 1
                if now >= next_fall:
                    apt = f"f{falls:03d}"
                    when = (t0 + timedelta(seconds=elapsed)).isoformat()
                    sent_at[apt] = time.perf_counter()
                    client.client.publish(
                        f"zigbee2mqtt/{apt}/bathroom/radar",
                        json.dumps({"fall": True, "last_seen": when}),
                        1,
                    )
                    falls += 1
                    next_fall += 1.0
                time.sleep(0.001)
            sent = n + falls
            ended = time.perf_counter()
            deadline = ended + 120
            while events(hub) < sent and time.perf_counter() < deadline:
                time.sleep(0.05)
            drained = time.perf_counter() - ended
            kept = events(hub)
            time.sleep(0.5)
            with client.lock:
                got = {s["apartment"]: t for t, s in client.signals if s["kind"] == "fall"}
            lat = [1000 * (got[a] - t) for a, t in sent_at.items() if a in got]
        finally:
            client.close()
            hub.stop()
            broker.stop()
        return {
            "rate": rate,
            "sent": sent,
            "kept": kept,
            "falls": falls,
            "signalled": len(lat),
            "p50": statistics.median(lat) if lat else float("nan"),
            "p99": pct(lat, 99) if lat else float("nan"),
            "max": max(lat) if lat else float("nan"),
            "drain_s": drained,
        }


def outage(binary: str, outage_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "broker").mkdir()
        broker = Broker(work / "broker", binary)
        broker.start()
        hub = HubProcess(
            broker,
            work / "hub",
            "mqtt:\n  reconnect_max_s: 5\ndetectors:\n  sensor_offline:\n    after_hours: 0.002\n",
        )
        hub.start()
        client = Client(broker, "bench-outage")
        try:
            wait_for(lambda: "Connected to" in hub.output(), 15, hub.output)
            for n in range(12):
                client.client.publish(
                    f"zigbee2mqtt/a{300 + n}/hall/motion", json.dumps({"occupancy": True}), 1
                ).wait_for_publish(10)
                time.sleep(0.5)
            broker.stop()
            time.sleep(outage_s)
            alive = hub.proc is not None and hub.proc.poll() is None
            broker.start()
            back = time.perf_counter()
            deadline = back + 120
            while time.perf_counter() < deadline:
                with client.lock:
                    if len(client.signals) >= 12:
                        break
                time.sleep(0.02)
            with client.lock:
                got = list(client.signals)
            time.sleep(1.0)
        finally:
            client.close()
            hub.stop()
            broker.stop()
        order = [s["apartment"] for _, s in got]
        ids = [s["id"] for _, s in got]
        return {
            "outage_s": outage_s,
            "hub_alive": alive,
            "delivered": len(set(ids)),
            "duplicates": len(ids) - len(set(ids)),
            "in_order": order == [f"a{300 + n}" for n in range(12)],
            "after_s": (got[-1][0] - back) if got else float("nan"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apartments", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0, help="each flood's length")
    parser.add_argument("--rates", type=float, nargs="*", default=[250.0, 1000.0])
    parser.add_argument("--outage-s", type=float, default=180.0)
    args = parser.parse_args()
    binary = mosquitto_binary()
    if binary is None:
        sys.exit("mosquitto is not installed: `make test-deps` installs it")
    print(f"{platform.machine()}, Python {platform.python_version()}, {platform.system()}")
    normal = args.apartments * NORMAL_PER_APARTMENT_DAY / 86400
    rates = [normal, 10 * normal, *args.rates]
    print(
        f"normal rate for {args.apartments} apartments: {normal:.1f} messages/s "
        f"({NORMAL_PER_APARTMENT_DAY:.0f} per apartment a day); the issue's flood: 10x"
    )
    print("| messages/s | sent | in the event log | falls signalled | p50 | p99 | max | drain |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in rates:
        r = flood(binary, args.apartments, rate, args.seconds)
        print(
            f"| {r['rate']:.0f} | {r['sent']:,} | {r['kept']:,} | {r['signalled']}/{r['falls']} "
            f"| {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms | {r['drain_s']:.1f} s |",
            flush=True,
        )
    o = outage(binary, args.outage_s)
    print(
        f"broker away {o['outage_s']:.0f} s: hub alive {o['hub_alive']}, "
        f"{o['delivered']}/12 signals delivered {o['after_s']:.1f} s after it was back, "
        f"in order: {o['in_order']}, duplicates: {o['duplicates']}"
    )


if __name__ == "__main__":
    main()
