"""Live latency from a fall sensor's message to the urgent signal on MQTT: the hub, and
beside it the same fall handled by a Home Assistant automation.

    python benchmarks/bench_latency.py [--falls 200] [--gap-ms 200] [--burst 50]
                                      [--ha stock|minimal] [--no-ha]

Starts a private Mosquitto on a free loopback port, the hub (`thuisplus run`) as a
separate process, as on a gateway, and a real Home Assistant 2024.3 (from
`.cache/homeassistant-venv`, `make test-deps`) on the same broker with one automation: an
MQTT trigger on `zigbee2mqtt/+/bathroom/radar`, a condition on `fall`, an `mqtt.publish`
of the apartment on `ha-bench/fall` (its recorder on, as on a gateway). `--ha stock` (the
default) adds `default_config:`, as Home Assistant's onboarding writes it: the integrations
a fresh installation runs beside the automation (discovery, bluetooth, history, assist...);
`--ha minimal` loads only mqtt, automation and recorder. One client
publishes each fall once (QoS 1) and receives both answers; both latencies are measured
on that client's clock, from just before the publish to the answer's arrival, in the
same run. Isolated falls are
`--gap-ms` apart (each from another apartment); a burst is `--burst` falls at once.
Every apartment has sent a motion message first, as in a flat where the hub has seen
each apartment's sensors for months (a first-ever message pays for setting up the
apartment's state and settings, once).

The floor: a process that does nothing but echo (a paho client on the same broker,
TCP_NODELAY, subscribe and publish back at QoS 1), timed the same way. Neither the hub
nor Home Assistant can answer faster than that round trip; the figures "above the floor"
are each one's own work.
Goals: the hub's p99 under 10 ms isolated, and at most a quarter of Home Assistant's.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import subprocess
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


HA_VENV = ROOT / ".cache" / "homeassistant-venv"
HA_TOPIC = "ha-bench/fall"
HA_CONFIG = """\
{default_config}homeassistant:
  name: thuisplus-bench
  latitude: 51.92
  longitude: 4.48
  elevation: 0
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
http:
  server_host: 127.0.0.1
  server_port: {port}
logger:
  default: warning
# as on a gateway (the Ansible role's configuration): every event and state is recorded
recorder:
  db_url: "sqlite:///{folder}/home-assistant_v2.db"
automation:
  - alias: "Bench: fall to MQTT"
    id: bench_fall
    mode: parallel
    max: 1000
    trigger:
      - platform: mqtt
        topic: zigbee2mqtt/+/bathroom/radar
    condition:
      - condition: template
        value_template: "{{{{ trigger.payload_json.get('fall') == true }}}}"
    action:
      - service: mqtt.publish
        data:
          topic: {topic}
          qos: 1
          payload: "{{{{ {{'apartment': trigger.topic.split('/')[1]}} | to_json }}}}"
"""


def start_home_assistant(
    broker: Broker, folder: Path, stock: bool
) -> subprocess.Popen[bytes] | None:
    """Home Assistant on ``broker``: its MQTT integration written as a config entry before
    the first start (as the Ansible role does), the automation in configuration.yaml.
    ``stock``: with ``default_config:``, as Home Assistant's onboarding writes it (the
    integrations a fresh installation runs: discovery, bluetooth, history, assist...)."""
    hass = HA_VENV / "bin" / "hass"
    if not hass.exists():
        print(f"Home Assistant is not installed ({hass}); `make test-deps` installs it")
        return None
    (folder / ".storage").mkdir(parents=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (folder / "configuration.yaml").write_text(
        HA_CONFIG.format(
            port=port,
            topic=HA_TOPIC,
            folder=folder,
            default_config="default_config:\n" if stock else "",
        )
    )
    entry = {
        "entry_id": "bench0mqtt0entry0000000000000000",
        "version": 1,
        "minor_version": 1,
        "domain": "mqtt",
        "title": broker.host,
        "data": {"broker": broker.host, "port": broker.port, "discovery": False},
        "options": {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
    }
    store = {"version": 1, "minor_version": 1, "key": "core.config_entries"}
    (folder / ".storage" / "core.config_entries").write_text(
        json.dumps({**store, "data": {"entries": [entry]}})
    )
    log = (folder / "hass.out").open("ab")
    return subprocess.Popen(
        [str(hass), "-c", str(folder), "--skip-pip"], stdout=log, stderr=subprocess.STDOUT
    )


ECHO_IN = "bench-echo/in"
ECHO_OUT = "bench-echo/out"


def echo(host: str, port: int) -> None:
    """The floor: answer every message on ``bench-echo/in/<apartment>`` at once on
    ``bench-echo/out`` (``python bench_latency.py --echo HOST PORT``, its own process)."""
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-echo")

    def on_socket_open(client: mqtt.Client, userdata: Any, sock: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def on_connect(client: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        client.subscribe(f"{ECHO_IN}/+", 1)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        apt = msg.topic.rsplit("/", 1)[-1]
        client.publish(ECHO_OUT, json.dumps({"apartment": apt}), qos=1)

    c.on_socket_open = on_socket_open
    c.on_connect = on_connect
    c.on_message = on_message
    c.connect(host, port)
    c.loop_forever()


class Client:
    def __init__(self, broker: Broker) -> None:
        self.arrived: dict[str, float] = {}
        self.ha_arrived: dict[str, float] = {}
        self.echoed: dict[str, float] = {}
        self.cond = threading.Condition()
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench")

        def on_socket_open(client: mqtt.Client, userdata: Any, sock: Any) -> None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            now = time.perf_counter()
            apt = json.loads(msg.payload)["apartment"]
            into = (
                self.ha_arrived
                if msg.topic == HA_TOPIC
                else self.echoed
                if msg.topic == ECHO_OUT
                else self.arrived
            )
            with self.cond:
                into.setdefault(apt, now)
                self.cond.notify_all()

        c.on_socket_open = on_socket_open
        c.on_message = on_message
        c.connect(broker.host, broker.port)
        c.subscribe([(f"thuisplus/{FLAT}/signal/#", 1), (HA_TOPIC, 1), (ECHO_OUT, 1)])
        c.loop_start()
        self.client = c

    def fall(self, apartment: str) -> float:
        sent = time.perf_counter()
        self.client.publish(f"zigbee2mqtt/{apartment}/bathroom/radar", '{"fall": true}', qos=1)
        return sent

    def motion(self, apartment: str) -> None:
        self.client.publish(
            f"zigbee2mqtt/{apartment}/hall/motion", '{"occupancy": true}', qos=1
        ).wait_for_publish(10)

    def ping(self, apartment: str) -> float:
        sent = time.perf_counter()
        self.client.publish(f"{ECHO_IN}/{apartment}", "{}", qos=1)
        return sent

    def wait_echo(self, apartment: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while apartment not in self.echoed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no echo for {apartment}")
                self.cond.wait(left)

    def wait(self, apartments: list[str], timeout: float = 10, ha: bool = False) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(
                a in self.arrived and (not ha or a in self.ha_arrived) for a in apartments
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = {a for a in apartments if a not in self.arrived}
                    missing_ha = {a for a in apartments if ha and a not in self.ha_arrived}
                    raise TimeoutError(f"answers missing: hub {missing}, HA {missing_ha}")
                self.cond.wait(left)


def report(label: str, lat_ms: list[float]) -> None:
    print(
        f"{label:<38} n={len(lat_ms):<4} p50 {pct(lat_ms, 50):6.2f} ms"
        f"   p90 {pct(lat_ms, 90):6.2f} ms"
        f"   p99 {pct(lat_ms, 99):6.2f} ms   max {max(lat_ms):6.2f} ms"
        f"   mean {statistics.fmean(lat_ms):6.2f} ms"
    )


def in_process(falls: int) -> list[float]:
    """The pipeline alone: ``Hub.handle`` and the store's flush for each fall, in this
    process, store on disk, no broker: the part of the latency that is the hub's own."""
    from datetime import UTC, datetime

    from edge.app import build_hub
    from edge.config import Config
    from edge.models import Message
    from edge.store import Store

    class Count:
        def emit(self, signal: Any) -> None:
            pass

        def close(self) -> None:
            pass

    config = Config(flat=FLAT)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite", config.store)
        hub = build_hub(config, store, sinks=[Count()])
        lat: list[float] = []
        for n in range(falls + 20):  # each apartment seen before its fall, as in a flat
            hub.handle(
                Message(datetime.now(UTC), f"zigbee2mqtt/p{n:04d}/hall/motion", {"occupancy": True})
            )
        hub.store.flush()
        for n in range(falls + 20):
            msg = Message(datetime.now(UTC), f"zigbee2mqtt/p{n:04d}/bathroom/radar", {"fall": True})
            start = time.perf_counter()
            raised = hub.handle(msg)
            hub.store.flush()
            lat.append((time.perf_counter() - start) * 1000)
            if not raised:
                raise RuntimeError("a fall raised no signal")
        hub.close()
        store.close()
    return lat[20:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--falls", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=200)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--no-ha", action="store_true", help="the hub alone")
    parser.add_argument(
        "--ha",
        choices=["stock", "minimal"],
        default="stock",
        help="Home Assistant's configuration: stock (default_config, as a fresh installation "
        "has it) or minimal (only mqtt, automation and recorder)",
    )
    parser.add_argument("--echo", nargs=2, metavar=("HOST", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        echo(args.echo[0], int(args.echo[1]))
        return
    binary = mosquitto_binary()
    if binary is None:
        sys.exit("mosquitto is not installed: run scripts/install-test-deps.sh")
    pipeline = in_process(args.falls)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "broker").mkdir()
        broker = Broker(Path(tmp) / "broker", binary)
        broker.start()
        hub = HubProcess(broker, Path(tmp) / "hub")
        hub.start()
        ha = (
            None
            if args.no_ha
            else start_home_assistant(broker, Path(tmp) / "ha", stock=args.ha == "stock")
        )
        echoer = subprocess.Popen(
            [sys.executable, __file__, "--echo", broker.host, str(broker.port)]
        )
        try:
            watch = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
            online = threading.Event()
            watch.on_message = lambda c, u, m: online.set() if m.payload == b"online" else None
            watch.connect(broker.host, broker.port)
            watch.subscribe(f"thuisplus/{FLAT}/hub/availability", qos=1)
            watch.loop_start()
            wait_for(online.is_set, 15, "the hub to come online")
            client = Client(broker)
            with_ha = ha is not None
            if ha is not None:
                # Home Assistant is ready when its automation answers a fall
                started = time.monotonic()
                n = 0
                while not client.ha_arrived:
                    if ha.poll() is not None or time.monotonic() - started > 300:
                        log = (Path(tmp) / "ha" / "hass.out").read_text(errors="replace")
                        sys.exit(f"Home Assistant did not answer:\n{log[-3000:]}")
                    client.fall(f"ready{n}")
                    n += 1
                    time.sleep(1.0)
                print(f"Home Assistant answering after {time.monotonic() - started:.0f} s")
            started = time.monotonic()
            while "ready" not in client.echoed:  # the echo process is up and subscribed
                if time.monotonic() - started > 30:
                    sys.exit("the echo client did not answer")
                client.ping("ready")
                time.sleep(0.2)
            # every apartment is known to the hub before its fall (as in a flat)
            isolated_apts = [f"i{n:04d}" for n in range(args.falls)]
            burst_apts = [f"b{n:04d}" for n in range(args.burst)]
            for apt in isolated_apts + burst_apts:
                client.motion(apt)
            # warm up: first messages pay for imports and caches; answered in order, so
            # every motion message above has been handled too
            warm = [f"w{n:03d}" for n in range(20)]
            for apt in warm:
                client.fall(apt)
            client.wait(warm, ha=with_ha)
            floor: list[float] = []
            for n in range(args.falls):
                apt = f"e{n:04d}"
                sent = client.ping(apt)
                client.wait_echo(apt)
                floor.append((client.echoed[apt] - sent) * 1000)
                time.sleep(args.gap_ms / 1000)

            isolated: list[float] = []
            isolated_ha: list[float] = []
            for apt in isolated_apts:
                sent = client.fall(apt)
                client.wait([apt], ha=with_ha)
                isolated.append((client.arrived[apt] - sent) * 1000)
                if with_ha:
                    isolated_ha.append((client.ha_arrived[apt] - sent) * 1000)
                time.sleep(args.gap_ms / 1000)
            sent_at = {apt: client.fall(apt) for apt in burst_apts}
            client.wait(burst_apts, timeout=60, ha=with_ha)
            burst = [(client.arrived[a] - sent_at[a]) * 1000 for a in burst_apts]
            burst_ha = [(client.ha_arrived[a] - sent_at[a]) * 1000 for a in burst_apts if with_ha]

            print(
                f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
                f"Python {platform.python_version()}; broker, hub"
                f"{f' and Home Assistant 2024.3 ({args.ha})' if with_ha else ''} on loopback"
            )
            report("hub pipeline in-process (no broker)", pipeline)
            report("floor: an echo client, same broker", floor)
            report(f"hub: isolated falls ({args.gap_ms:.0f} ms apart)", isolated)
            if with_ha:
                report(f"HA:  isolated falls ({args.gap_ms:.0f} ms apart)", isolated_ha)
            report(f"hub: burst of {args.burst}", burst)
            if with_ha:
                report(f"HA:  burst of {args.burst}", burst_ha)
                ratio = pct(isolated, 99) / pct(isolated_ha, 99)
                print(
                    f"hub p99 / HA p99, isolated: {ratio:.2f} (goal at most 0.25); "
                    f"burst: {pct(burst, 99) / pct(burst_ha, 99):.2f}"
                )
                f50, f99 = pct(floor, 50), pct(floor, 99)
                print(
                    f"above the floor (p50 / p99): hub {pct(isolated, 50) - f50:.2f} / "
                    f"{pct(isolated, 99) - f99:.2f} ms, HA {pct(isolated_ha, 50) - f50:.2f} / "
                    f"{pct(isolated_ha, 99) - f99:.2f} ms"
                )
            if with_ha:
                log = (Path(tmp) / "ha" / "hass.out").read_text(errors="replace")
                errors = [line for line in log.splitlines() if " ERROR " in line]
                recorded = (Path(tmp) / "ha" / "home-assistant_v2.db").is_file()
                print(
                    f"Home Assistant: {len(errors)} error lines in its log, recorder database "
                    f"{'present' if recorded else 'MISSING'}"
                    + "".join(f"\n  {line[:160]}" for line in errors[:3])
                )
            watch.loop_stop()
            client.client.loop_stop()
        finally:
            echoer.terminate()
            echoer.wait(timeout=10)
            if ha is not None:
                ha.terminate()
                try:
                    ha.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    ha.kill()
                    ha.wait()
            hub.stop()
            broker.stop()


if __name__ == "__main__":
    main()
