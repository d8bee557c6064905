"""History to a real time-series server: Debian's VictoriaMetrics, which accepts InfluxDB's
/api/v2/write from influxdb-client. Points read back; the server stopped and restarted
mid-stream loses nothing."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from edge.app import build_hub
from edge.config import Config
from edge.features import DayFeatures
from edge.replay import replay
from edge.sections.influx import InfluxConfig
from edge.store import Store
from integrations.influx import InfluxWriter
from tests.conftest import Victoria, free_port
from tests.helpers import write_recording
from tests.test_features import day_of_life


def writer(vm_url: str, tmp_path: Path, **kw: Any) -> InfluxWriter:
    return InfluxWriter(
        InfluxConfig(enabled=True, url=vm_url, **kw),
        "test-flat",
        "Europe/Amsterdam",
        tmp_path / "buffer.sqlite",
    )


def test_daily_features_and_signals_read_back(victoria: Victoria, tmp_path: Path) -> None:
    config = Config(flat="test-flat")
    hub = build_hub(config, Store(None, config.store))
    w = writer(victoria.url, tmp_path, batch_size=7)
    w.state = hub.state
    hub.feature_sinks.append(w)
    hub.score_sinks.append(w)
    hub.sinks.append(w)
    lines = day_of_life()
    replay([write_recording(tmp_path / "r.jsonl", lines)], hub)  # type: ignore[arg-type]
    w.close()
    assert w.stats()["pending"] == 0
    series = victoria.export('{__name__=~"daily_features_.*"}')
    by_name = {s["metric"]["__name__"]: s for s in series}
    visits = by_name["daily_features_night_toilet_visits"]
    assert visits["metric"]["apartment"] == "a1"
    assert visits["metric"]["flat"] == "test-flat"
    assert visits["values"] == [2]
    assert by_name["daily_features_outings"]["values"] == [1]
    health = victoria.export('{__name__="sensor_health_available"}')
    devices = {(s["metric"]["room"], s["metric"]["device"]) for s in health}
    assert ("toilet", "motion") in devices
    assert ("entrance", "door") in devices
    # the detectors' scores at the day's end: sensor_offline's silence limit per apartment
    (limit,) = victoria.export('{__name__="detector_score_silence_limit_h"}')
    assert limit["metric"]["detector"] == "sensor_offline"
    assert limit["metric"]["apartment"] == "a1"
    assert limit["values"] == [
        Config(flat="x").detector_settings("sensor_offline", "a1").after_hours
    ]
    (known,) = victoria.export('{__name__="detector_score_sensors"}')
    assert known["values"] == [len(devices)]
    (offline,) = victoria.export('{__name__="detector_score_offline_sensors"}')
    assert offline["values"] == [0]
    # stamped with the day's last second, like the sensor health
    assert limit["timestamps"] == health[0]["timestamps"]


def test_a_server_restart_mid_stream_loses_no_point(victoria: Victoria, tmp_path: Path) -> None:
    w = writer(victoria.url, tmp_path, batch_size=10)
    first = date(2026, 1, 5)
    for n in range(30):
        w.features(DayFeatures("a7", first + timedelta(days=n), {"outings": float(n)}))
    deadline = time.monotonic() + 20
    while w.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    victoria.stop()
    for n in range(30, 60):  # written while the server is away: kept on disk
        w.features(DayFeatures("a7", first + timedelta(days=n), {"outings": float(n)}))
    time.sleep(1.0)
    assert w.pending() == 30
    victoria.start()
    deadline = time.monotonic() + 60
    while w.pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    w.close()
    (series,) = victoria.export('{__name__="daily_features_outings"}')
    assert series["values"] == [float(n) for n in range(60)]  # all, in order


def test_the_buffer_has_a_bound(tmp_path: Path) -> None:
    w = writer(f"http://127.0.0.1:{free_port()}", tmp_path, buffer_max_points=100)
    for n in range(150):
        w.features(DayFeatures("a7", date(2026, 1, 5) + timedelta(days=n), {"outings": 1.0}))
    assert w.pending() == 100
    assert w.dropped == 50
    w.close(timeout=0.5)
    # the points stay on disk for the next start
    again = writer(f"http://127.0.0.1:{free_port()}", tmp_path, buffer_max_points=100)
    assert again.pending() == 100
    again.close(timeout=0.5)


class _Scores:
    def __init__(self) -> None:
        self.days: list[tuple[date, dict[str, dict[str, dict[str, float]]]]] = []

    def detector_scores(self, day: date, scores: dict[str, dict[str, dict[str, float]]]) -> None:
        self.days.append((day, scores))


def test_scores_follow_consent(tmp_path: Path) -> None:
    """A detector's scores for an apartment go to the history only with its consent."""
    lines = day_of_life()
    seen = {}
    for consent in (True, False):
        config = Config.model_validate(
            {"flat": "test-flat", "apartments": {"a1": {"consent": {"sensor_offline": consent}}}}
        )
        sink = _Scores()
        hub = build_hub(
            config, Store(None, config.store), detectors=["sensor_offline"], score_sinks=[sink]
        )
        replay([write_recording(tmp_path / f"r{consent}.jsonl", lines)], hub)  # type: ignore[arg-type]
        seen[consent] = sink.days
    ((day, scores),) = seen[True]
    assert day == date(2026, 1, 5)
    assert scores["sensor_offline"]["a1"]["sensors"] > 0
    assert seen[False] == []
