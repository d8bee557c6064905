"""The weekly signal-meeting agenda: one self-contained HTML page from the hub's store.

Signals are grouped by domain (zorg, welzijn, wonen), each with its summary, evidence,
status and audit; per apartment an activity heatmap (hours x days, the four weeks up to
the meeting) and the daily activity line behind the signal. A flat-level part shows open
signals per domain, how fast urgent alerts were acknowledged, and common-room activity
(aggregate only: no resident is identified there). Dutch by default, English on request.

>>> parse_week("2026-W05")
(2026, 5)
>>> parse_week("2026-05")
Traceback (most recent call last):
...
integrations.agenda.report.AgendaError: week must look like 2026-W05, not '2026-05'
"""

from __future__ import annotations

import base64
import io
import logging
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from edge.config import Config
from edge.register import Entry, Register
from edge.store import Store

logger = logging.getLogger(__name__)

DOMAINS = ("care", "welfare", "housing")
EPOCH = date(1970, 1, 1)

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Agenda signaaloverleg",
        "week": "week",
        "flat": "Flat",
        "generated": "Gemaakt op",
        "care": "Zorg",
        "welfare": "Welzijn",
        "housing": "Wonen",
        "overview": "Overzicht van de flat",
        "open_per_domain": "Open signalen per domein",
        "response": "Reactietijd op urgente meldingen (deze week)",
        "response_none": "Geen urgente meldingen deze week.",
        "acknowledged": "bevestigd",
        "median": "mediaan",
        "slowest": "langzaamst",
        "unacknowledged": "nog niet bevestigd",
        "minutes": "min",
        "common": "Activiteit in de gemeenschappelijke ruimte (uren met beweging per dag)",
        "common_none": "Geen sensor in de gemeenschappelijke ruimte gezien.",
        "signals": "Signalen",
        "no_signals": "Geen signalen voor dit domein.",
        "apartment": "Appartement",
        "status": "Status",
        "detected": "Gemeld",
        "evidence": "Onderbouwing",
        "history": "Verloop",
        "assigned": "Toegewezen aan",
        "verdict": "Oordeel",
        "resolved": "Vanzelf opgelost",
        "repeats": "herhalingen",
        "heatmap": "Activiteit per uur, laatste vier weken",
        "trend": "Activiteit per dag",
        "hour": "uur",
        "day": "dag",
        "events": "meldingen",
        "open": "open",
        "discussed": "besproken",
        "assigned_s": "toegewezen",
        "closed": "gesloten",
        "apartments": "Appartementen met signalen",
    },
    "en": {
        "title": "Signal meeting agenda",
        "week": "week",
        "flat": "Flat",
        "generated": "Generated on",
        "care": "Care",
        "welfare": "Welfare",
        "housing": "Housing",
        "overview": "Flat overview",
        "open_per_domain": "Open signals per domain",
        "response": "Response time to urgent alerts (this week)",
        "response_none": "No urgent alerts this week.",
        "acknowledged": "acknowledged",
        "median": "median",
        "slowest": "slowest",
        "unacknowledged": "not yet acknowledged",
        "minutes": "min",
        "common": "Activity in the common room (hours with motion per day)",
        "common_none": "No common-room sensor seen.",
        "signals": "Signals",
        "no_signals": "No signals for this domain.",
        "apartment": "Apartment",
        "status": "Status",
        "detected": "Detected",
        "evidence": "Evidence",
        "history": "History",
        "assigned": "Assigned to",
        "verdict": "Verdict",
        "resolved": "Resolved by itself",
        "repeats": "repeats",
        "heatmap": "Activity per hour, last four weeks",
        "trend": "Activity per day",
        "hour": "hour",
        "day": "day",
        "events": "events",
        "open": "open",
        "discussed": "discussed",
        "assigned_s": "assigned",
        "closed": "closed",
        "apartments": "Apartments with signals",
    },
}
KINDS = {
    "nl": {
        "fall": "val",
        "sos": "alarmknop",
        "no_wake": "niet opgestaan",
        "inactivity": "geen beweging",
        "long_bathroom": "lang in de badkamer",
        "night_wandering": "nachtelijk dwalen",
        "door_open": "voordeur open",
        "withdrawal": "terugtrekking (eenzaamheid)",
        "nutrition": "minder eten (voeding)",
        "night_toilet": "vaker 's nachts naar het toilet",
        "mobility_decline": "minder mobiel",
        "sensor_offline": "sensor stil",
        "low_battery": "batterij bijna leeg",
        "hub_fault": "storing van de hub",
    },
    "en": {
        "fall": "fall",
        "sos": "alarm button",
        "no_wake": "not up",
        "inactivity": "no movement",
        "long_bathroom": "long in the bathroom",
        "night_wandering": "night wandering",
        "door_open": "front door open",
        "withdrawal": "withdrawal (loneliness)",
        "nutrition": "eating less (nutrition)",
        "night_toilet": "more night toilet visits",
        "mobility_decline": "less mobile",
        "sensor_offline": "sensor silent",
        "low_battery": "battery low",
        "hub_fault": "hub fault",
    },
}
WEEKDAYS = {
    "nl": ("ma", "di", "wo", "do", "vr", "za", "zo"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
STATUS_KEYS = {
    "open": "open",
    "acknowledged": "acknowledged",
    "discussed": "discussed",
    "assigned": "assigned_s",
    "closed": "closed",
}


class AgendaError(Exception):
    """The agenda cannot be made as asked (a bad week, no store...)."""


def parse_week(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-W(\d{2})", text)
    if not m:
        raise AgendaError(f"week must look like 2026-W05, not {text!r}")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as err:
        raise AgendaError(f"{text}: there is no such week") from err
    return year, week


@dataclass
class Item:
    entry: Entry
    summary: str
    evidence: dict[str, Any]
    detected: datetime
    trail: list[dict[str, Any]]
    resolved: str | None = None
    """Why the hub closed it by itself (its condition cleared), in the agenda's language."""


@dataclass
class ApartmentView:
    apartment: str
    heatmap: str  # data URI of a PNG
    trend: str


@dataclass
class Agenda:
    flat: str
    year: int
    week: int
    start: datetime
    end: datetime
    lang: str
    by_domain: dict[str, list[Item]] = field(default_factory=dict)
    open_counts: dict[str, int] = field(default_factory=dict)
    response_minutes: list[float] = field(default_factory=list)
    unacknowledged: int = 0
    common_hours: list[tuple[str, int]] = field(default_factory=list)
    apartments: list[ApartmentView] = field(default_factory=list)

    @property
    def signal_ids(self) -> list[str]:
        return [i.entry.id for items in self.by_domain.values() for i in items]


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


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
    end = start + timedelta(days=days)
    grid = np.zeros((days, 24), dtype=np.int64)
    rows = store.db.execute(
        ACTIVITY_SQL, (prefix, prefix + "\uffff", start.timestamp(), end.timestamp())
    )
    first = start.astimezone(tz).date()
    for (ts,) in rows:
        local = datetime.fromtimestamp(ts, tz)
        day = (local.date() - first).days
        if 0 <= day < days:
            grid[day, local.hour] += 1
    return grid


def _heatmap(grid: np.ndarray[Any, Any], first: date, t: dict[str, str]) -> str:
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    image = ax.imshow(grid, aspect="auto", cmap="YlGnBu", interpolation="nearest")
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlabel(t["hour"])
    labels = [(first + timedelta(days=d)).strftime("%d-%m") for d in range(grid.shape[0])]
    ax.set_yticks(range(0, grid.shape[0], 7), labels[::7])
    ax.set_ylabel(t["day"])
    ax.set_title(t["heatmap"])
    fig.colorbar(image, ax=ax, label=t["events"])
    return _png(fig)


def _trend(daily: np.ndarray[Any, Any], first: date, marks: list[date], t: dict[str, str]) -> str:
    fig, ax = plt.subplots(figsize=(7.5, 2.6))
    days = np.array([first + timedelta(days=d) for d in range(len(daily))], dtype="datetime64[D]")
    ax.plot(days, daily, marker="o", markersize=3, color="#1f5f8b")
    for mark in marks:
        # matplotlib's date axis counts days since its epoch, 1970-01-01
        ax.axvline(float((mark - EPOCH).days), color="#c0392b", linestyle="--", linewidth=1)
    ax.set_ylabel(t["events"])
    ax.set_title(t["trend"])
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def build_agenda(store: Store, config: Config, week: str, lang: str | None = None) -> Agenda:
    """Collect what the meeting of ``week`` (``2026-W05``) discusses."""
    year, number = parse_week(week)
    lang = lang or config.language
    tz = config.tz
    start = datetime.combine(date.fromisocalendar(year, number, 1), datetime.min.time(), tz)
    end = start + timedelta(days=7)
    register = Register(store)
    agenda = Agenda(config.flat, year, number, start, end, lang)
    t = TEXT[lang]
    entries = [
        e
        for e in register.entries()
        if e.opened < end
        and (e.status != "closed" or e.last_detected >= start or _closed_in(register, e, start))
    ]
    for domain in DOMAINS:
        agenda.by_domain[domain] = []
    for e in entries:
        sig = e.signal
        trail = register.audit_trail(e.id)
        auto = next((a["details"] for a in trail if a["details"].get("auto")), None)
        agenda.by_domain[e.domain].append(
            Item(
                e,
                sig.summary_en if lang == "en" and sig.summary_en else sig.summary,
                sig.evidence,
                sig.detected_at.astimezone(tz),
                trail,
                None if auto is None else auto.get("reason_en" if lang == "en" else "reason"),
            )
        )
        if e.status != "closed":
            agenda.open_counts[e.domain] = agenda.open_counts.get(e.domain, 0) + 1
        if e.severity == "urgent" and start <= e.opened < end:
            acked = next(
                (a for a in register.audit_trail(e.id) if a["action"] == "acknowledged"), None
            )
            if acked is None:
                agenda.unacknowledged += 1
            else:
                waited = datetime.fromisoformat(acked["at"]) - e.opened
                agenda.response_minutes.append(max(0.0, waited.total_seconds() / 60))
    base = config.mqtt.zigbee_base_topic
    common = activity_grid(store, base, "common", start, 7, tz, room="common_room")
    if common.sum() > 0:
        names = WEEKDAYS[lang]
        agenda.common_hours = [
            (f"{names[d]} {(start + timedelta(days=d)):%d-%m}", int((common[d] > 0).sum()))
            for d in range(7)
        ]
    history_start = end - timedelta(days=28)
    first = history_start.astimezone(tz).date()
    for apt in sorted({e.apartment for e in entries if e.apartment != "common"}):
        grid = activity_grid(store, base, apt, history_start, 28, tz)
        marks = [e.opened.astimezone(tz).date() for e in entries if e.apartment == apt]
        agenda.apartments.append(
            ApartmentView(apt, _heatmap(grid, first, t), _trend(grid.sum(axis=1), first, marks, t))
        )
    return agenda


def _closed_in(register: Register, entry: Entry, start: datetime) -> bool:
    return any(
        a["action"] == "closed" and datetime.fromisoformat(a["at"]) >= start
        for a in register.audit_trail(entry.id)
    )


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("integrations.agenda", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def render_html(agenda: Agenda, generated: datetime) -> str:
    t = TEXT[agenda.lang]
    response = None
    if agenda.response_minutes:
        response = {
            "count": len(agenda.response_minutes),
            "median": statistics.median(agenda.response_minutes),
            "slowest": max(agenda.response_minutes),
        }
    counts = Counter(agenda.open_counts)
    return _ENV.get_template("agenda.html.j2").render(
        a=agenda,
        t=t,
        domains=DOMAINS,
        counts=counts,
        response=response,
        status_text={k: t[v] for k, v in STATUS_KEYS.items()},
        kinds=KINDS[agenda.lang],
        generated=generated.strftime("%Y-%m-%d %H:%M"),
        tz=agenda.start.tzinfo,
    )


def write_agenda(
    store: Store, config: Config, week: str, out: Path, lang: str | None, generated: datetime
) -> Agenda:
    agenda = build_agenda(store, config, week, lang)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(agenda, generated), encoding="utf-8")
    return agenda
