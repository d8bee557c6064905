"""The same dashboards for VictoriaMetrics (Prometheus data source, MetricsQL/PromQL).

VictoriaMetrics stores each InfluxDB field as the series ``<measurement>_<field>`` with the
tags as labels; it answers PromQL, not InfluxQL. ``python -m integrations.grafana.victoria``
writes ``victoriametrics/*.json`` next to this module; a test keeps them current and their
series on what the writer writes.
"""

from __future__ import annotations

import logging
from typing import Any

from integrations.grafana.dashboards import (
    APARTMENT_PANELS,
    HERE,
    _dashboard,
    panel,
    render_board,
    write_all,
)

logger = logging.getLogger(__name__)

OUT = HERE / "victoriametrics"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
FLAT = 'flat=~"$flat"'


def _var(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "label": name,
        "query": {"query": query, "refId": name},
        "refresh": 1,
        "multi": False,
        "includeAll": False,
    }


def _panel(
    pid: int,
    title: str,
    expr: str,
    x: int,
    y: int,
    w: int = 12,
    h: int = 8,
    kind: str = "timeseries",
    unit: str = "short",
    legend: str = "",
) -> dict[str, Any]:
    target = {"expr": expr, "interval": "1d", "legendFormat": legend}
    return panel(pid, title, target, x, y, w, h, kind, unit, datasource=DATASOURCE)


def _daily(field: str, labels: str) -> str:
    # one point a day: take the day's value wherever the panel's step falls
    return f"last_over_time(daily_features_{field}{{{labels}}}[1d])"


def flat_overview() -> dict[str, Any]:
    panels = [
        _panel(
            1,
            "Signals per day by kind",
            f"sum by (kind) (count_over_time(signals_count{{{FLAT}}}[1d]))",
            0,
            0,
            kind="barchart",
            legend="{{kind}}",
        ),
        _panel(
            2,
            "Urgent signals per day",
            f'sum(count_over_time(signals_count{{{FLAT},severity="urgent"}}[1d]))',
            12,
            0,
        ),
        _panel(
            3,
            "Active hours per apartment-day (mean)",
            f"avg({_daily('active_hours', FLAT)})",
            0,
            8,
            unit="h",
        ),
        _panel(4, "Outings per apartment-day (mean)", f"avg({_daily('outings', FLAT)})", 12, 8),
        _panel(
            5,
            "Night toilet visits per apartment-day (mean)",
            f"avg({_daily('night_toilet_visits', FLAT)})",
            0,
            16,
        ),
        _panel(
            6,
            "Kitchen activity per apartment-day (mean)",
            f"avg({_daily('kitchen_events', FLAT)})",
            12,
            16,
        ),
    ]
    return _dashboard(
        "thuisplus-vm-flat",
        "Thuisplus: flat overview (VictoriaMetrics)",
        panels,
        [_var("flat", "label_values(daily_features_messages, flat)")],
        datasource="prometheus",
    )


def apartment() -> dict[str, Any]:
    labels = f'{FLAT},apartment=~"$apartment"'
    fields = APARTMENT_PANELS
    panels = [
        _panel(
            n + 1, title, _daily(field, labels), (n % 2) * 12, (n // 2) * 8, unit=unit or "short"
        )
        for n, (field, title, unit) in enumerate(fields)
    ]
    panels.append(
        _panel(
            len(fields) + 1,
            "Signals",
            f"sum by (kind) (count_over_time(signals_count{{{labels}}}[1d]))",
            12,
            (len(fields) // 2) * 8,
            kind="barchart",
            legend="{{kind}}",
        )
    )
    return _dashboard(
        "thuisplus-vm-apartment",
        "Thuisplus: one apartment (VictoriaMetrics)",
        panels,
        [
            _var("flat", "label_values(daily_features_messages, flat)"),
            _var("apartment", 'label_values(daily_features_messages{flat="$flat"}, apartment)'),
        ],
        datasource="prometheus",
    )


def sensor_health() -> dict[str, Any]:
    def last(field: str) -> str:
        return f"last_over_time(sensor_health_{field}{{{FLAT}}}[1d])"

    def score(field: str) -> str:
        labels = f'{FLAT},detector="sensor_offline"'
        return f"last_over_time(detector_score_{field}{{{labels}}}[1d])"

    legend = "{{apartment}}/{{room}}/{{device}}"
    panels = [
        _panel(1, "Battery (%)", last("battery"), 0, 0, w=24, unit="percent", legend=legend),
        _panel(2, "Link quality", last("linkquality"), 0, 8, legend=legend),
        _panel(
            3,
            "Silent for (at the end of each day)",
            last("silent_s"),
            12,
            8,
            unit="s",
            legend=legend,
        ),
        _panel(
            4,
            "Available (1) / offline (0)",
            last("available"),
            0,
            16,
            w=24,
            kind="state-timeline",
            legend=legend,
        ),
        # the sensor_offline detector's scores (detector_score), per apartment
        _panel(
            5,
            "Offline sensors per apartment (sensor_offline, end of day)",
            score("offline_sensors"),
            0,
            24,
            legend="{{apartment}}",
        ),
        _panel(
            6,
            "Silence limit per apartment (sensor_offline, learned)",
            score("silence_limit_h"),
            12,
            24,
            unit="h",
            legend="{{apartment}}",
        ),
    ]
    return _dashboard(
        "thuisplus-vm-sensors",
        "Thuisplus: sensor health (VictoriaMetrics)",
        panels,
        [_var("flat", "label_values(sensor_health_available, flat)")],
        datasource="prometheus",
    )


DASHBOARDS = {
    "flat-overview.json": flat_overview,
    "apartment.json": apartment,
    "sensor-health.json": sensor_health,
}


def render(name: str) -> str:
    return render_board(DASHBOARDS[name]())


def main() -> None:
    write_all(DASHBOARDS, OUT)


if __name__ == "__main__":
    main()
