"""Grafana dashboards for the history (InfluxQL on an InfluxDB data source), as code.

``python -m integrations.grafana.dashboards`` writes the JSON files next to this module;
the Ansible monitoring role provisions them. A test checks that the files are what this
module makes and that every query names a measurement and fields the writer writes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "influxdb", "uid": "${datasource}"}


def _var(name: str, query: str, multi: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "refresh": 1,
        "multi": multi,
        "includeAll": multi,
        "label": name,
    }


def _datasource_var(kind: str = "influxdb") -> dict[str, Any]:
    return {"name": "datasource", "type": "datasource", "query": kind, "label": "data"}


def panel(
    pid: int,
    title: str,
    target: dict[str, Any],
    x: int,
    y: int,
    w: int = 12,
    h: int = 8,
    kind: str = "timeseries",
    unit: str = "short",
    datasource: dict[str, str] = DATASOURCE,
) -> dict[str, Any]:
    """One panel with one query; ``target`` holds the query in the data source's terms."""
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": datasource,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": "A", "datasource": datasource, **target}],
    }


def _panel(
    pid: int,
    title: str,
    query: str,
    x: int,
    y: int,
    w: int = 12,
    h: int = 8,
    kind: str = "timeseries",
    unit: str = "short",
) -> dict[str, Any]:
    target = {"rawQuery": True, "resultFormat": "time_series", "query": query}
    return panel(pid, title, target, x, y, w, h, kind, unit)


def _dashboard(
    uid: str,
    title: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    datasource: str = "influxdb",
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-90d", "to": "now"},
        "timezone": "browser",
        "tags": ["thuisplus"],
        "templating": {"list": [_datasource_var(datasource), *variables]},
        "panels": panels,
    }


APARTMENT_PANELS = (
    ("active_hours", "Active hours", "h"),
    ("activity_events", "Activity events", ""),
    ("time_out_minutes", "Time out of home", "m"),
    ("outings", "Outings", ""),
    ("night_toilet_visits", "Night toilet visits", ""),
    ("kitchen_events", "Kitchen activity", ""),
    ("rooms_visited", "Rooms used", ""),
    ("kitchen_minutes", "Minutes in the kitchen", ""),
    ("kitchen_openings", "Fridge and cupboard openings", ""),
    ("appliance_uses", "Kettle and kitchen plug uses", ""),
    ("visitor_minutes", "Minutes with a visitor", ""),
    ("common_room_minutes", "Out while the common room is in use", "m"),
    ("transition_seconds", "Walk between rooms (median)", "s"),
    ("transitions", "Walks between rooms", ""),
    ("night_roaming_minutes", "Night minutes out of bed (hall, kitchen, living)", ""),
    ("sensors_silent", "Sensors silent over 6 h", ""),
)
"""The daily features on the apartment dashboard: (field, title, unit)."""

FLAT = '"flat" =~ /^$flat$/'
APT = '"apartment" =~ /^$apartment$/'


def flat_overview() -> dict[str, Any]:
    daily = (
        'SELECT {agg}("{field}") FROM "daily_features" WHERE '
        + FLAT
        + " AND $timeFilter GROUP BY time(1d) fill(none)"
    )
    panels = [
        _panel(
            1,
            "Signals per day by kind",
            'SELECT sum("count") FROM "signals" WHERE '
            + FLAT
            + ' AND $timeFilter GROUP BY time(1d), "kind" fill(0)',
            0,
            0,
            kind="barchart",
        ),
        _panel(
            2,
            "Urgent signals per day",
            'SELECT sum("count") FROM "signals" WHERE '
            + FLAT
            + " AND \"severity\" = 'urgent' AND $timeFilter GROUP BY time(1d) fill(0)",
            12,
            0,
        ),
        _panel(
            3,
            "Active hours per apartment-day (mean)",
            daily.format(agg="mean", field="active_hours"),
            0,
            8,
            unit="h",
        ),
        _panel(
            4, "Outings per apartment-day (mean)", daily.format(agg="mean", field="outings"), 12, 8
        ),
        _panel(
            5,
            "Night toilet visits per apartment-day (mean)",
            daily.format(agg="mean", field="night_toilet_visits"),
            0,
            16,
        ),
        _panel(
            6,
            "Kitchen activity per apartment-day (mean)",
            daily.format(agg="mean", field="kitchen_events"),
            12,
            16,
        ),
    ]
    return _dashboard(
        "thuisplus-flat",
        "Thuisplus: flat overview",
        panels,
        [_var("flat", 'SHOW TAG VALUES FROM "daily_features" WITH KEY = "flat"', multi=False)],
    )


def apartment() -> dict[str, Any]:
    q = (
        'SELECT mean("{field}") FROM "daily_features" WHERE '
        + FLAT
        + " AND "
        + APT
        + ' AND $timeFilter GROUP BY time(1d), "apartment" fill(none)'
    )
    fields = APARTMENT_PANELS
    panels = [
        _panel(
            n + 1, title, q.format(field=field), (n % 2) * 12, (n // 2) * 8, unit=unit or "short"
        )
        for n, (field, title, unit) in enumerate(fields)
    ]
    panels.append(
        _panel(
            len(fields) + 1,
            "Signals",
            'SELECT sum("count") FROM "signals" WHERE '
            + FLAT
            + " AND "
            + APT
            + ' AND $timeFilter GROUP BY time(1d), "kind" fill(none)',
            12,
            (len(fields) // 2) * 8,
            kind="barchart",
        )
    )
    return _dashboard(
        "thuisplus-apartment",
        "Thuisplus: one apartment over time",
        panels,
        [
            _var("flat", 'SHOW TAG VALUES FROM "daily_features" WITH KEY = "flat"', multi=False),
            _var(
                "apartment",
                'SHOW TAG VALUES FROM "daily_features" WITH KEY = "apartment" WHERE ' + FLAT,
                multi=False,
            ),
        ],
    )


def sensor_health() -> dict[str, Any]:
    q = (
        'SELECT last("{field}") FROM "sensor_health" WHERE '
        + FLAT
        + ' AND $timeFilter GROUP BY time(1d), "apartment", "room", "device" fill(none)'
    )
    score = (
        'SELECT last("{field}") FROM "detector_score" WHERE '
        + FLAT
        + " AND \"detector\" = 'sensor_offline' AND $timeFilter"
        + ' GROUP BY time(1d), "apartment" fill(none)'
    )
    panels = [
        _panel(1, "Battery (%)", q.format(field="battery"), 0, 0, w=24, unit="percent"),
        _panel(2, "Link quality", q.format(field="linkquality"), 0, 8),
        _panel(
            3, "Silent for (at the end of each day)", q.format(field="silent_s"), 12, 8, unit="s"
        ),
        _panel(
            4,
            "Available (1) / offline (0)",
            q.format(field="available"),
            0,
            16,
            w=24,
            kind="state-timeline",
        ),
        # the sensor_offline detector's scores (detector_score), per apartment
        _panel(
            5,
            "Offline sensors per apartment (sensor_offline, end of day)",
            score.format(field="offline_sensors"),
            0,
            24,
        ),
        _panel(
            6,
            "Silence limit per apartment (sensor_offline, learned)",
            score.format(field="silence_limit_h"),
            12,
            24,
            unit="h",
        ),
    ]
    return _dashboard(
        "thuisplus-sensors",
        "Thuisplus: sensor health",
        panels,
        [
            _var("flat", 'SHOW TAG VALUES FROM "sensor_health" WITH KEY = "flat"', multi=False),
        ],
    )


DASHBOARDS = {
    "flat-overview.json": flat_overview,
    "apartment.json": apartment,
    "sensor-health.json": sensor_health,
}


def render_board(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True) + "\n"


def render(name: str) -> str:
    return render_board(DASHBOARDS[name]())


def write_all(boards: dict[str, Any], folder: Path) -> None:
    """Write every dashboard that ``boards`` makes into ``folder``."""
    folder.mkdir(exist_ok=True)
    for name, make in boards.items():
        (folder / name).write_text(render_board(make()), encoding="utf-8")
        logger.info("wrote %s", folder / name)


def main() -> None:
    write_all(DASHBOARDS, HERE)


if __name__ == "__main__":
    main()
