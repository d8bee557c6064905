"""Grafana dashboards: valid JSON, made by the code next to them, and every query names a
measurement and fields the history writer really writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from edge.features import FEATURES, DayFeatures
from edge.models import Domain, Room, SensorEvent, Severity, Signal, SignalKind
from edge.state import FlatState, StateConfig
from integrations.grafana.dashboards import DASHBOARDS, HERE, render
from integrations.influx import feature_line, health_lines, signal_line


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
