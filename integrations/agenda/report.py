"""The weekly signal-meeting agenda: one self-contained HTML page from the hub's store.

Built for deciding: first the open signals to decide on, by domain (zorg, welzijn,
wonen), each with its evidence in words, how sure the hub is, since when, what changed
since last week, what was decided before and empty fields for this meeting's decision;
for a slow trend the resident's own daily feature with the usual band and the window
that raised it, and the apartment's activity heatmap beside it. Then the week's urgent
alerts as a summary (how many, response times, which are still unacknowledged; every
alert in one folded line), device problems as one line per device for housing, and the
signals closed this week. A flat-level part shows open signals per domain and
common-room activity (aggregate only). Dutch by default, English on request; every text
from the catalogue (edge/catalogue.py), every time local.

>>> parse_week("2026-W05")
(2026, 5)
>>> parse_week("2026-05")
Traceback (most recent call last):
...
integrations.agenda.report.AgendaError: week must look like 2026-W05, not '2026-05'
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import jinja2

from detectors.base import registry
from edge.config import Config
from edge.i18n import duration, has, number, text
from edge.register import Entry, Register
from edge.store import Store
from integrations.agenda import pictures
from integrations.agenda.evidence import Context, device, raw, sentences
from integrations.agenda.history import history_lines, history_verb

DOMAINS = ("care", "welfare", "housing")
DEVICE_KINDS = frozenset({"sensor_offline", "low_battery"})
TREND_KINDS = frozenset(pictures.TREND_FEATURES)
SURE_SETTING = {
    "withdrawal": "min_z",
    "nutrition": "min_z",
    "night_toilet": "min_z",
    "mobility_decline": "min_z",
    "night_wandering": "min_nights",
}
"""The setting each slow trend's ``score`` is measured against (how sure the hub is)."""


class AgendaError(Exception):
    """The agenda cannot be made as asked (a bad week, no store...)."""


def parse_week(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-W(\d{2})", value)
    if not m:
        raise AgendaError(f"week must look like 2026-W05, not {value!r}")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as err:
        raise AgendaError(f"{value}: there is no such week") from err
    return year, week


@dataclass
class Item:
    """One signal as the meeting reads it (every text in the agenda's language)."""

    entry: Entry
    kind: str
    summary: str
    sentences: list[str]
    raw: str
    detected: datetime
    since: str
    changed: str
    history: list[str]
    earlier: list[str] = field(default_factory=list)
    sure: str | None = None
    resolved: str | None = None
    picture: str | None = None
    heatmap: str | None = None


@dataclass
class Urgent:
    count: int = 0
    kinds: str = ""
    response_minutes: list[float] = field(default_factory=list)
    unacknowledged: list[Item] = field(default_factory=list)
    lines: list[tuple[Item, str]] = field(default_factory=list)


@dataclass
class DeviceLine:
    apartment: str
    device: str
    problems: str
    open_since: str | None
    quiet_times: int
    ids: list[str]
    resolved: str | None = None
    """All closed: the hub's own reason for the last closing, when it closed it."""


@dataclass
class ApartmentView:
    apartment: str
    heatmap: str  # data URI of a PNG


@dataclass
class Agenda:
    flat: str
    year: int
    week: int
    start: datetime
    end: datetime
    lang: str
    decide: dict[str, list[Item]] = field(default_factory=dict)
    urgent: Urgent = field(default_factory=Urgent)
    devices: list[DeviceLine] = field(default_factory=list)
    closed: list[Item] = field(default_factory=list)
    open_counts: dict[str, int] = field(default_factory=dict)
    common_hours: list[tuple[str, int]] = field(default_factory=list)
    apartments: list[ApartmentView] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    @property
    def signal_ids(self) -> list[str]:
        return list(self.ids)

    @property
    def response_minutes(self) -> list[float]:
        return self.urgent.response_minutes

    @property
    def slow_items(self) -> list[Item]:
        return [i for items in self.decide.values() for i in items if i.entry.kind in TREND_KINDS]


@dataclass
class _Build:
    """What building an agenda needs at hand."""

    store: Store
    config: Config
    register: Register
    agenda: Agenda
    tz: tzinfo
    saved: dict[str, Any]
    heatmaps: dict[str, str] = field(default_factory=dict)

    def t(self, key: str, **values: Any) -> str:
        return text(key, self.agenda.lang, **values)


def build_agenda(store: Store, config: Config, week: str, lang: str | None = None) -> Agenda:
    """Collect what the meeting of ``week`` (``2026-W05``) discusses."""
    year, number_ = parse_week(week)
    lang = lang or config.language
    tz = config.tz
    start = datetime.combine(date.fromisocalendar(year, number_, 1), datetime.min.time(), tz)
    end = start + timedelta(days=7)
    register = Register(store)
    agenda = Agenda(config.flat, year, number_, start, end, lang)
    b = _Build(store, config, register, agenda, tz, store.load_state())
    agenda.decide = {d: [] for d in DOMAINS}
    devices: list[Entry] = []
    for e in register.entries():
        if e.opened >= end:
            continue
        trail = register.audit_trail(e.id)
        closed_at = _closed_at(trail)
        if e.kind in DEVICE_KINDS:
            devices.append(e)
            if e.status != "closed" or (closed_at and closed_at >= start):
                agenda.ids.append(e.id)
            continue
        if e.severity == "urgent":
            _add_urgent(b, e, trail)
            continue
        if e.status != "closed":
            agenda.decide[e.domain].append(_item(b, e, trail, pictures_too=True))
            agenda.ids.append(e.id)
        elif (closed_at and closed_at >= start) or e.last_detected >= start:
            agenda.closed.append(_item(b, e, trail))
            agenda.ids.append(e.id)
    for e in register.entries():
        if e.status != "closed" and e.opened < end:
            agenda.open_counts[e.domain] = agenda.open_counts.get(e.domain, 0) + 1
    agenda.devices = _device_lines(b, devices)
    _finish_urgent(b)
    _common_room(b)
    agenda.apartments = [ApartmentView(a, h) for a, h in sorted(b.heatmaps.items())]
    return agenda


def _closed_at(trail: list[dict[str, Any]]) -> datetime | None:
    for step in trail:
        if step["action"] == "closed":
            return datetime.fromisoformat(step["at"])
    return None


def _local_day(ts: datetime, b: _Build) -> str:
    local = ts.astimezone(b.tz)
    return f"{b.t(f'weekday.{local.weekday()}')} {local:%d-%m-%Y}"


def _item(b: _Build, e: Entry, trail: list[dict[str, Any]], pictures_too: bool = False) -> Item:
    sig = e.signal
    lang = b.agenda.lang
    detected = sig.detected_at.astimezone(b.tz)
    ctx = Context(lang, b.tz, detected.date())
    auto = next((s["details"] for s in trail if s["details"].get("auto")), None)
    open_days = max(0, (b.agenda.end - e.opened).days)  # event time: up to the week's end
    open_for = duration(open_days * 24 * 60, lang) if open_days else b.t("unit.days", n=0)
    item = Item(
        entry=e,
        kind=b.t(f"kind.{e.kind}") if has(f"kind.{e.kind}") else e.kind,
        summary=sig.summary_en if lang == "en" and sig.summary_en else sig.summary,
        sentences=sentences(e.kind, sig.evidence, ctx),
        raw=raw(sig.evidence),
        detected=detected,
        since=b.t("agenda.since_value", date=_local_day(e.opened, b), weeks=open_for),
        changed=_changed(b, e, trail),
        history=history_lines(trail, b.tz, lang),
        earlier=_earlier(b, trail),
        sure=_sure(b, e, sig.evidence),
        resolved=None if auto is None else auto.get("reason_en" if lang == "en" else "reason"),
    )
    if pictures_too:
        item.heatmap = _heatmap(b, e.apartment)
        if e.kind in TREND_KINDS:
            item.picture = _trend(b, e, sig.evidence)
    return item


def _changed(b: _Build, e: Entry, trail: list[dict[str, Any]]) -> str:
    start, end = b.agenda.start, b.agenda.end
    if start <= e.opened < end:
        return b.t("agenda.changed.new")
    repeats = sum(
        1
        for s in trail
        if s["action"] == "repeat" and start <= datetime.fromisoformat(s["at"]) < end
    )
    if repeats:
        return b.t("agenda.changed.repeats", n=repeats)
    return b.t("agenda.changed.none")


def _earlier(b: _Build, trail: list[dict[str, Any]]) -> list[str]:
    """Decisions recorded with ``thuisplus signals discuss|assign|close``, in words."""
    out = []
    for step in trail:
        d, action = step["details"], step["action"]
        if step["actor"] == "hub" or action not in ("discussed", "assigned", "closed"):
            continue
        when = _local_day(datetime.fromisoformat(step["at"]), b)
        parts = [history_verb(action, d, b.agenda.lang)]
        if d.get("verdict") and has(f"verdict.{d['verdict']}"):
            parts.append(b.t("agenda.verdict", verdict=b.t(f"verdict.{d['verdict']}")))
        if d.get("notes"):
            parts.append(b.t("agenda.notes", notes=str(d["notes"])))
        out.append(f"{when}, {step['actor']}: " + "; ".join(parts))
    return out


def _sure(b: _Build, e: Entry, evidence: dict[str, Any]) -> str | None:
    setting = SURE_SETTING.get(e.kind)
    score = evidence.get("score")
    detector = str(evidence.get("detector", e.kind))
    if setting is None or not isinstance(score, int | float):
        return None
    try:
        limit = float(getattr(b.config.detector_settings(detector, e.apartment), setting))
    except (KeyError, AttributeError, ValueError):
        return None
    if limit <= 0:
        return None
    ratio = abs(float(score)) / limit
    level = "sure.high" if ratio >= 2 else "sure.mid" if ratio >= 1.3 else "sure.low"
    return b.t("sure.ratio", level=b.t(level), ratio=number(ratio, b.agenda.lang))


def _heatmap(b: _Build, apartment: str) -> str | None:
    if apartment == "common":
        return None
    if apartment not in b.heatmaps:
        start = b.agenda.end - timedelta(days=28)
        base = b.config.mqtt.zigbee_base_topic
        grid = pictures.activity_with_gaps(b.store, base, apartment, start, 28, b.tz)
        first = start.astimezone(b.tz).date()
        b.heatmaps[apartment] = pictures.heatmap(grid, apartment, first, b.agenda.lang)
    return b.heatmaps[apartment]


def _trend(b: _Build, e: Entry, evidence: dict[str, Any]) -> str:
    detector = str(evidence.get("detector", e.kind))
    cls = registry().get(detector)
    features: tuple[str, ...] = tuple(getattr(cls, "features", ()))
    last = (b.agenda.end - timedelta(days=1)).date()
    first = last - timedelta(days=pictures.TREND_DAYS - 1)
    days = pictures.detector_days(b.saved, detector, e.apartment)
    series = pictures.trend_series(days, features, e.kind, first, last)
    return pictures.trend_picture(e.kind, e.apartment, evidence, series, first, b.agenda.lang)


def _add_urgent(b: _Build, e: Entry, trail: list[dict[str, Any]]) -> None:
    start, end = b.agenda.start, b.agenda.end
    this_week = start <= e.opened < end
    if not this_week and e.status != "open":
        return
    item = _item(b, e, trail)
    b.agenda.ids.append(e.id)
    acked = next((s for s in trail if s["action"] == "acknowledged"), None)
    if acked is None:
        if e.status == "open":
            b.agenda.urgent.unacknowledged.append(item)
        state = b.t("agenda.not_acked")
    else:
        waited = max(0.0, (datetime.fromisoformat(acked["at"]) - e.opened).total_seconds() / 60)
        b.agenda.urgent.response_minutes.append(waited)
        state = b.t("agenda.acked_after", wait=duration(waited, b.agenda.lang))
    if this_week:
        b.agenda.urgent.lines.append((item, state))


def _finish_urgent(b: _Build) -> None:
    u = b.agenda.urgent
    u.count = len(u.lines)
    counts = Counter(item.kind for item, _ in u.lines)
    u.kinds = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())


def _device_lines(b: _Build, entries: list[Entry]) -> list[DeviceLine]:
    """One line per device with an open problem, or one this week."""
    start, end = b.agenda.start, b.agenda.end
    since = end - timedelta(days=28)
    by_sensor: dict[str, list[Entry]] = {}
    for e in entries:
        sensor = str(e.signal.evidence.get("sensor", f"{e.apartment}/other/{e.kind}"))
        by_sensor.setdefault(sensor, []).append(e)
    lines = []
    for sensor, es in sorted(by_sensor.items()):
        open_ = [e for e in es if e.status != "closed"]
        if not open_ and all(e.last_detected < start for e in es):
            continue
        quiet = sum(
            1 + e.repeats for e in es if e.kind == "sensor_offline" and e.last_detected >= since
        )
        ctx = Context(b.agenda.lang, b.tz, None)
        resolved = None if open_ else _auto_reason(b, max(es, key=lambda e: e.last_detected))
        lines.append(
            DeviceLine(
                apartment=es[0].apartment,
                device=device(sensor, ctx) or sensor,
                problems=", ".join(sorted({b.t(f"kind.{e.kind}") for e in es})),
                open_since=_local_day(min(e.opened for e in open_), b) if open_ else None,
                quiet_times=quiet,
                ids=[e.id for e in es],
                resolved=resolved,
            )
        )
    return lines


def _auto_reason(b: _Build, e: Entry) -> str | None:
    trail = b.register.audit_trail(e.id)
    auto = next((s["details"] for s in trail if s["details"].get("auto")), None)
    if auto is None:
        return None
    reason = auto.get("reason_en" if b.agenda.lang == "en" else "reason")
    return str(reason) if reason else None


def _common_room(b: _Build) -> None:
    start = b.agenda.start
    base = b.config.mqtt.zigbee_base_topic
    common = pictures.activity_grid(b.store, base, "common", start, 7, b.tz, room="common_room")
    if common.sum() > 0:
        b.agenda.common_hours = [
            (
                f"{b.t(f'weekday.{d}')} {(start + timedelta(days=d)):%d-%m}",
                int((common[d] > 0).sum()),
            )
            for d in range(7)
        ]


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("integrations.agenda", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def render_html(agenda: Agenda, generated: datetime) -> str:
    lang = agenda.lang
    u = agenda.urgent
    response = None
    if u.response_minutes:
        response = text(
            "agenda.response",
            lang,
            n=len(u.response_minutes),
            median=duration(statistics.median(u.response_minutes), lang),
            slowest=duration(max(u.response_minutes), lang),
        )

    def t(key: str, **values: Any) -> str:
        return text(key, lang, **values)

    return _ENV.get_template("agenda.html.j2").render(
        a=agenda,
        t=t,
        domains=DOMAINS,
        counts=Counter(agenda.open_counts),
        response=response,
        generated=generated.astimezone(agenda.start.tzinfo).strftime("%d-%m-%Y %H:%M"),
    )


def write_agenda(
    store: Store, config: Config, week: str, out: Path, lang: str | None, generated: datetime
) -> Agenda:
    agenda = build_agenda(store, config, week, lang)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(agenda, generated), encoding="utf-8")
    return agenda
