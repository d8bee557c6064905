"""The agenda's pictures: a slow trend's own daily feature, and an apartment's activity.

A trend picture draws the resident's daily feature the detector judged (from the days it
keeps in its saved state: the usable days of up to twelve weeks; days it left out, away
or a sensor silent, stay open), the resident's usual band (10-90% of the baseline days)
and the window that raised the signal. The activity heatmap counts activity per hour
from the raw event log and greys out what is missing (days with no message from the
apartment, before installation, and hours in which the whole flat sent nothing: the hub
was not receiving) instead of drawing it as zero activity.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from edge.i18n import text
from edge.store import Store

EPOCH = date(1970, 1, 1)
TREND_DAYS = 84
"""The trend pictures' span: twelve weeks up to the meeting week's end."""


@dataclass(frozen=True)
class TrendFeature:
    """What a slow trend's picture draws: the detector's feature columns summed."""

    label: str  # catalogue id under feature.*
    columns: tuple[str, ...]


TREND_FEATURES: dict[str, TrendFeature] = {
    "withdrawal": TrendFeature("contact_minutes", ("time_out_minutes", "visitor_minutes")),
    "nutrition": TrendFeature("kitchen_minutes", ("kitchen_minutes",)),
    "night_toilet": TrendFeature("night_toilet_visits", ("night_toilet_visits",)),
    "night_wandering": TrendFeature("night_roaming_minutes", ("night_roaming_minutes",)),
    "mobility_decline": TrendFeature("transition_seconds", ("transition_seconds",)),
}
"""Every slow-trend kind and the daily feature its picture shows (a test holds every
trend detector to one)."""


def png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def detector_days(saved: dict[str, Any], detector: str, apartment: str) -> dict[int, list[float]]:
    """The days a trend detector keeps for an apartment (ordinal -> feature values)."""
    state = saved.get("detectors", {}).get(detector, {})
    rows = state.get("days", {}).get(apartment, []) if isinstance(state, dict) else []
    return {int(d): [float(x) for x in v] for d, v in rows}


def trend_series(
    days: dict[int, list[float]], features: tuple[str, ...], kind: str, first: date, last: date
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """One value a day from ``first`` to ``last`` (NaN where the detector has none)."""
    spec = TREND_FEATURES[kind]
    idx = [features.index(c) for c in spec.columns if c in features]
    n = (last - first).days + 1
    out = np.full(n, np.nan)
    for ordinal, values in days.items():
        i = ordinal - first.toordinal()
        if 0 <= i < n and idx:
            out[i] = sum(values[j] for j in idx)
    return out


def _window(evidence: dict[str, Any]) -> tuple[date, date, int] | None:
    window = evidence.get("window")
    if not isinstance(window, dict):
        return None
    try:
        first, last = (date.fromisoformat(str(d)) for d in window["recent"])
        return first, last, int(window["baseline_days"])
    except (KeyError, TypeError, ValueError):
        return None


def trend_picture(
    kind: str,
    apartment: str,
    evidence: dict[str, Any],
    series: np.ndarray[Any, Any],
    first: date,
    lang: str,
) -> str:
    """The trend picture as a PNG data URI (drawn even without days: window and usual)."""
    spec = TREND_FEATURES[kind]
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    x = np.array([first + timedelta(days=d) for d in range(len(series))], dtype="datetime64[D]")
    ax.plot(x, series, marker="o", markersize=2.5, linewidth=1, color="#1f5f8b")
    win = _window(evidence)
    if win is not None:
        w0, w1, baseline_days = win
        base_from = w0 - timedelta(days=baseline_days)
        lo, hi = first.toordinal(), first.toordinal() + len(series)
        base = [
            series[d - lo]
            for d in range(max(base_from.toordinal(), lo), min(w0.toordinal(), hi))
            if not np.isnan(series[d - lo])
        ]
        if len(base) >= 5:
            q10, q90 = np.quantile(base, [0.1, 0.9])
            ax.axhspan(q10, q90, color="#2e86c1", alpha=0.15, label=text("agenda.trend_band", lang))
        ax.axvspan(
            float((w0 - EPOCH).days),
            float((w1 - EPOCH).days + 1),
            color="#e67e22",
            alpha=0.18,
            label=text("agenda.trend_window", lang),
        )
    limit = evidence.get("limit_minutes")
    if kind == "night_wandering" and isinstance(limit, int | float):
        ax.axhline(
            float(limit),
            color="#c0392b",
            linestyle="--",
            linewidth=1,
            label=text("agenda.trend_limit", lang),
        )
    if np.isnan(series).all():
        ax.text(
            0.5,
            0.5,
            text("agenda.trend_none", lang),
            transform=ax.transAxes,
            ha="center",
            va="center",
            wrap=True,
            fontsize=8,
        )
        ax.set_xlim(float((first - EPOCH).days), float((first - EPOCH).days + len(series)))
    feature = text(f"feature.{spec.label}", lang)
    ax.set_title(
        text("agenda.trend_title", lang, apartment=apartment, feature=feature), fontsize=10
    )
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d-%m"))  # type: ignore[no-untyped-call]
    fig.autofmt_xdate()
    return png(fig)


ACTIVITY_SQL = """
SELECT e.ts FROM events e JOIN topics t ON t.id = e.topic_id
WHERE t.topic >= ? AND t.topic < ? AND e.ts >= ? AND e.ts < ?
  AND json_valid(e.payload) AND (
       json_extract(e.payload, '$.occupancy') = 1
    OR json_extract(e.payload, '$.presence') = 1
    OR json_extract(e.payload, '$.contact') = 0
    OR json_extract(e.payload, '$.vibration') = 1
    OR json_extract(e.payload, '$.power') > 5
    OR coalesce(json_extract(e.payload, '$.action'), '') != '')
"""
MESSAGES_SQL = """
SELECT e.ts FROM events e JOIN topics t ON t.id = e.topic_id
WHERE t.topic >= ? AND t.topic < ? AND e.ts >= ? AND e.ts < ?
"""


def _grid(
    store: Store, sql: str, prefix: str, start: datetime, days: int, tz: tzinfo
) -> np.ndarray[Any, np.dtype[np.int64]]:
    end = start + timedelta(days=days)
    grid = np.zeros((days, 24), dtype=np.int64)
    rows = store.db.execute(sql, (prefix, prefix + "\uffff", start.timestamp(), end.timestamp()))
    first = start.astimezone(tz).date()
    for (ts,) in rows:
        local = datetime.fromtimestamp(ts, tz)
        day = (local.date() - first).days
        if 0 <= day < days:
            grid[day, local.hour] += 1
    return grid


def activity_grid(
    store: Store,
    base: str,
    apartment: str,
    start: datetime,
    days: int,
    tz: tzinfo,
    room: str | None = None,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Activity events per (day, hour) in local time, ``days`` days from ``start``."""
    prefix = f"{base}/{apartment}/" + (f"{room}/" if room else "")
    return _grid(store, ACTIVITY_SQL, prefix, start, days, tz)


def activity_with_gaps(
    store: Store, base: str, apartment: str, start: datetime, days: int, tz: tzinfo
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """:func:`activity_grid` with NaN where nothing was received: a day without any
    message from the apartment (before installation, or it was down), and an hour without
    any message from the whole flat (the hub was not receiving)."""
    grid = activity_grid(store, base, apartment, start, days, tz).astype(np.float64)
    own = _grid(store, MESSAGES_SQL, f"{base}/{apartment}/", start, days, tz)
    flat = _grid(store, MESSAGES_SQL, f"{base}/", start, days, tz)
    grid[own.sum(axis=1) == 0, :] = np.nan
    grid[flat == 0] = np.nan
    return grid


def heatmap(grid: np.ndarray[Any, Any], apartment: str, first: date, lang: str) -> str:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    cmap = matplotlib.colormaps["YlGnBu"].with_extremes(bad="#bbbbbb")  # (missing: grey)
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, interpolation="nearest")
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlabel(text("agenda.hour", lang) + " (" + text("agenda.heatmap_missing", lang) + ")")
    labels = [(first + timedelta(days=d)).strftime("%d-%m") for d in range(grid.shape[0])]
    ax.set_yticks(range(0, grid.shape[0], 7), labels[::7])
    ax.set_ylabel(text("agenda.day", lang))
    end = (first + timedelta(days=grid.shape[0] - 1)).strftime("%d-%m")
    ax.set_title(text("agenda.heatmap", lang, apartment=apartment, end=end), fontsize=10)
    fig.colorbar(image, ax=ax, label=text("agenda.events", lang))
    return png(fig)
