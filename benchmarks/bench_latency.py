"""Live latency from a fall sensor's message to the urgent signal on MQTT.

    python benchmarks/bench_latency.py [--falls 200] [--gap-ms 200] [--burst 50]

Starts a private Mosquitto on a free loopback port and the hub (`thuisplus run`) as a
separate process, as on a gateway. One client publishes fall messages (QoS 1) and
receives the signals; the latency is measured on that client's clock, from just before
the publish to the signal's arrival. Isolated falls are `--gap-ms` apart (each from
another apartment); a burst is `--burst` falls at once. Goal: p99 under 10 ms isolated.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from tests.conftest import Broker, mosquitto_binary  # noqa: E402
from tests.live import FLAT, HubProcess, wait_for  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Client:
    def __init__(self, broker: Broker) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench")

        def on_socket_open(client: mqtt.Client, userdata: Any, sock: Any) -> None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            now = time.perf_counter()
            apt = json.loads(msg.payload)["apartment"]
            with self.cond:
                self.arrived.setdefault(apt, now)
                self.cond.notify_all()

        c.on_socket_open = on_socket_open
        c.on_message = on_message
        c.connect(broker.host, broker.port)
        c.subscribe(f"thuisplus/{FLAT}/signal/#", qos=1)
        c.loop_start()
        self.client = c

    def fall(self, apartment: str) -> float:
        sent = time.perf_counter()
        self.client.publish(f"zigbee2mqtt/{apartment}/bathroom/radar", '{"fall": true}', qos=1)
        return sent

    def wait(self, apartments: list[str], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(a in self.arrived for a in apartments):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"signals missing for {set(apartments) - set(self.arrived)}")
                self.cond.wait(left)


def report(label: str, lat_ms: list[float]) -> None:
    print(
        f"{label:<28} n={len(lat_ms):<4} p50 {pct(lat_ms, 50):6.2f} ms"
        f"   p90 {pct(lat_ms, 90):6.2f} ms"
        f"   p99 {pct(lat_ms, 99):6.2f} ms   max {max(lat_ms):6.2f} ms"
        f"   mean {statistics.fmean(lat_ms):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--falls", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=200)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    binary = mosquitto_binary()
    if binary is None:
        sys.exit("mosquitto is not installed: run scripts/install-test-deps.sh")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "broker").mkdir()
        broker = Broker(Path(tmp) / "broker", binary)
        broker.start()
        hub = HubProcess(broker, Path(tmp) / "hub")
        hub.start()
        try:
            watch = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
            online = threading.Event()
            watch.on_message = lambda c, u, m: online.set() if m.payload == b"online" else None
            watch.connect(broker.host, broker.port)
            watch.subscribe(f"thuisplus/{FLAT}/hub/availability", qos=1)
            watch.loop_start()
            wait_for(online.is_set, 15, "the hub to come online")
            client = Client(broker)
            # warm up: first messages pay for imports and caches
            warm = [f"w{n:03d}" for n in range(20)]
            for apt in warm:
                client.fall(apt)
            client.wait(warm)

            isolated: list[float] = []
            for n in range(args.falls):
                apt = f"i{n:04d}"
                sent = client.fall(apt)
                client.wait([apt])
                isolated.append((client.arrived[apt] - sent) * 1000)
                time.sleep(args.gap_ms / 1000)
            burst_apts = [f"b{n:04d}" for n in range(args.burst)]
            sent_at = {apt: client.fall(apt) for apt in burst_apts}
            client.wait(burst_apts)
            burst = [(client.arrived[a] - sent_at[a]) * 1000 for a in burst_apts]

            print(
                f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
                f"Python {platform.python_version()}; broker and hub on loopback"
            )
            report(f"isolated falls ({args.gap_ms:.0f} ms apart)", isolated)
            report(f"burst of {args.burst}", burst)
            watch.loop_stop()
            client.client.loop_stop()
        finally:
            hub.stop()
            broker.stop()


if __name__ == "__main__":
    main()
