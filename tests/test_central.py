"""The city's view: a gateway's Mosquitto bridges only the flat's daily stats to a central
broker, where the aggregator writes them to a real time-series server."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Broker, Victoria, mosquitto_binary
from tests.live import FLAT, Collector, HubProcess, Publisher, wait_for

pytestmark = pytest.mark.broker
TZ = ZoneInfo("Europe/Amsterdam")


def test_only_aggregates_reach_the_city(tmp_path: Path, victoria: Victoria) -> None:
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed")
    (tmp_path / "central").mkdir()
    (tmp_path / "gateway").mkdir()
    central = Broker(tmp_path / "central", binary)
    central.start()
    gateway = Broker(tmp_path / "gateway", binary)
    gateway.conf.write_text(
        gateway.conf.read_text()
        + (
            "connection city\n"
            f"address 127.0.0.1:{central.port}\n"
            "topic thuisplus/+/stats/# out 1\n"
            "cleansession false\n"
            f"remote_clientid bridge-{FLAT}\n"
        )
    )
    gateway.start()
    city = Collector(central, "#", client_id="city-watch")
    hub = HubProcess(gateway, tmp_path / "hub")
    agg_config = tmp_path / "central.yaml"
    agg_config.write_text(f"flat: city\ninflux:\n  enabled: true\n  url: {victoria.url}\n")
    agg_log = tmp_path / "aggregator.log"
    with agg_log.open("w") as log:
        aggregator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge.cli",
                "--log-level",
                "info",
                "aggregate",
                "--config",
                str(agg_config),
                "--mqtt-host",
                central.host,
                "--mqtt-port",
                str(central.port),
                "--state-dir",
                str(tmp_path / "agg"),
                "--max-seconds",
                "60",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    # the city's aggregator must be listening before the first day ends
    wait_for(lambda: "Aggregator connected" in agg_log.read_text(), 20, lambda: agg_log.read_text())
    hub.start()
    try:
        wait_for(lambda: "Connected to" in hub.output(), 15, lambda: hub.output())
        pub = Publisher(gateway)
        # six apartments live a little of Monday; a fall in one; then Tuesday begins
        monday = datetime(2026, 1, 5, 9, 0, tzinfo=TZ)
        for n in range(6):
            for minutes in (0, 30, 60):
                t = monday + timedelta(minutes=minutes + n)
                pub.send(
                    f"zigbee2mqtt/a{n:03d}/living/motion",
                    {"occupancy": True, "last_seen": t.isoformat()},
                )
        pub.send(
            "zigbee2mqtt/a003/bathroom/radar",
            {"fall": True, "last_seen": (monday + timedelta(hours=2)).isoformat()},
        )
        tuesday = datetime(2026, 1, 6, 0, 0, 5, tzinfo=TZ)
        pub.send(
            "zigbee2mqtt/a000/bedroom/motion", {"occupancy": True, "last_seen": tuesday.isoformat()}
        )

        def stats() -> list[dict[str, object]]:
            return [json.loads(p) for t, p, _ in list(city.messages) if "/stats/" in t]

        wait_for(lambda: bool(stats()), 20, lambda: f"stats at the city\n{hub.output()}")
        (day,) = stats()
        assert day["flat"] == FLAT
        assert day["day"] == "2026-01-05"
        assert day["apartments_reporting"] == 6
        assert day["signals"] == {"fall": 1}
        assert day["open_signals"] == {"care": 1}
        assert day["means"]["rooms_visited"] == 1.0  # the living room each
        assert day["means"]["activity_events"] == 3.0
        # nothing else crossed the bridge: no signal, no apartment id
        topics = {t for t, _, _ in city.messages}
        assert topics == {f"thuisplus/{FLAT}/stats/daily"}
        assert "a003" not in json.dumps(day)

        def written() -> list[dict[str, object]]:
            return victoria.export('{__name__=~"flat_stats_.*"}')

        wait_for(lambda: len(written()) >= 3, 20, "the aggregator's points")
        series = {s["metric"]["__name__"]: s for s in written()}  # type: ignore[index]
        assert series["flat_stats_signals_fall"]["values"] == [1]  # type: ignore[index]
        assert series["flat_stats_apartments_reporting"]["metric"]["flat"] == FLAT  # type: ignore[index]
        pub.close()
    finally:
        hub.stop()
        aggregator.terminate()
        aggregator.wait(timeout=20)
        out = agg_log.read_text()
        city.close()
        gateway.stop()
        central.stop()
    assert "Aggregated 1 flat-day(s)" in out
