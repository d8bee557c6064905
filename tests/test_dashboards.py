"""Grafana dashboards: valid JSON, made by the code next to them, and every query names a
measurement and fields the history writer really writes."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.features import FEATURES, DayFeatures
from edge.models import Domain, Room, SensorEvent, Severity, Signal, SignalKind
from edge.state import FlatState, StateConfig
from integrations.grafana import victoria as vm_boards
from integrations.grafana.dashboards import DASHBOARDS, HERE, render
from integrations.influx import feature_line, health_lines, score_lines, signal_line
from tests.conftest import Victoria


def written() -> dict[str, set[str]]:
    """Measurement -> fields and tags, read off lines the writer makes."""
    t = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    sig = Signal(
        id="s1",
        flat="f",
        apartment="a1",
        kind=SignalKind.FALL,
        domain=Domain.CARE,
        severity=Severity.URGENT,
        start=t,
        detected_at=t,
        summary="x",
    )
    state = FlatState(StateConfig())
    state.apply(
        SensorEvent(
            ts=t,
            received=t,
            apartment="a1",
            room=Room.HALL,
            device="m",
            occupancy=True,
            battery=80,
            linkquality=90,
        )
    )
    lines = [
        feature_line("f", DayFeatures("a1", date(2026, 1, 5), {k: 1.0 for k in FEATURES}), "UTC"),
        signal_line(sig),
        *health_lines("f", state, t),
        *score_lines(
            "f",
            date(2026, 1, 5),
            "UTC",
            {
                "sensor_offline": {
                    "a1": {"silence_limit_h": 25.0, "sensors": 1.0, "offline_sensors": 0.0}
                }
            },
        ),
    ]
    out: dict[str, set[str]] = {}
    for line in lines:
        head, fields, _ = line.split(" ")
        measurement, *tags = head.split(",")
        names = out.setdefault(measurement, set())
        names.update(t.split("=")[0] for t in tags)
        names.update(f.split("=")[0] for f in fields.split(","))
    return out


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_files_are_current_and_query_what_is_written(name: str) -> None:
    path = HERE / name
    assert path.read_text() == render(name), "run python -m integrations.grafana.dashboards"
    board = json.loads(path.read_text())
    assert board["uid"].startswith("thuisplus-")
    known = written()
    queries = [t["query"] for p in board["panels"] for t in p["targets"]]
    queries += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    assert queries
    for q in queries:
        measurements = re.findall(r'FROM "(\w+)"', q)
        assert measurements, q
        for m in measurements:
            assert m in known, f"{name}: {m} is not written"
            quoted = set(re.findall(r'"(\w+)"', q)) - {m}
            assert quoted <= known[m], f"{name}: {quoted - known[m]} not in {m}"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_every_daily_feature_has_a_panel() -> None:
    text = (HERE / "apartment.json").read_text()
    for feature in FEATURES:
        if feature != "messages":
            assert f'\\"{feature}\\"' in text, feature


def test_dashboards_are_in_the_package() -> None:
    assert all((Path(HERE) / n).is_file() for n in DASHBOARDS)


@pytest.mark.parametrize("name", sorted(vm_boards.DASHBOARDS))
def test_victoriametrics_dashboards_are_current(name: str) -> None:
    path = vm_boards.OUT / name
    assert path.read_text() == vm_boards.render(name), "python -m integrations.grafana.victoria"
    board = json.loads(path.read_text())
    known = written()
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        for series, labels in re.findall(r"\b([a-z_]+)\{([^}]*)\}", expr):
            measurement, _, field = next(
                (m, "_", series[len(m) + 1 :]) for m in known if series.startswith(m + "_")
            )
            assert field in known[measurement], f"{name}: {series}"
            for label in re.findall(r"(\w+)\s*=~?", labels):
                assert label in known[measurement], f"{name}: label {label}"


def test_victoriametrics_dashboards_return_data(victoria: Victoria, tmp_path: Path) -> None:
    """Every panel's query, run against a real VictoriaMetrics holding a replayed day."""
    from edge.app import build_hub
    from edge.config import Config
    from edge.replay import replay
    from edge.sections.influx import InfluxConfig
    from edge.store import Store
    from integrations.influx import InfluxWriter
    from tests.helpers import write_recording
    from tests.test_features import day_of_life

    config = Config(flat="test-flat")
    hub = build_hub(config, Store(None, config.store))
    writer = InfluxWriter(
        InfluxConfig(enabled=True, url=victoria.url),
        "test-flat",
        "Europe/Amsterdam",
        tmp_path / "buffer.sqlite",
        state=hub.state,
    )
    hub.feature_sinks.append(writer)
    hub.score_sinks.append(writer)
    hub.sinks.append(writer)
    events = [*day_of_life(), msg_fall()]
    replay([write_recording(tmp_path / "r.jsonl", sorted(events, key=lambda m: m.received))], hub)
    writer.close()
    assert writer.stats()["pending"] == 0
    victoria.export('{__name__=~".+"}')  # flushes
    # the panels' time range: the replayed day and the next
    start = datetime(2026, 1, 4, 12, 0, tzinfo=UTC).timestamp()
    end = datetime(2026, 1, 7, 12, 0, tzinfo=UTC).timestamp()
    for name in vm_boards.DASHBOARDS:
        board = json.loads((vm_boards.OUT / name).read_text())
        for panel in board["panels"]:
            expr = panel["targets"][0]["expr"]
            expr = expr.replace("$flat", "test-flat").replace("$apartment", "a1")
            query = urllib.parse.urlencode(
                {"query": expr, "start": start, "end": end, "step": 3600}
            )
            with urllib.request.urlopen(f"{victoria.url}/api/v1/query_range?{query}") as r:
                result = json.loads(r.read())["data"]["result"]
            assert result, f"{name}: '{panel['title']}' returns nothing for {expr}"


def msg_fall() -> Any:
    from tests.helpers import msg

    return msg(200, "a1/bathroom/radar", {"fall": True})
