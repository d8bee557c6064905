"""Score the hub's signals against a simulator's ground truth (INTERFACES sections 4 and 5).

A signal is a *hit* when an episode has its apartment and kind and the signal's
``detected_at`` lies within the episode's ``[start, end]``. Per kind we report recall
(episodes with at least one hit) and the median detection delay (first hit's
``detected_at`` minus the episode's start). Signals that match no episode are *false*,
counted by severity per apartment-month (apartments x days / 30.44). A signal that matches
no episode of its own kind but one of a closely related kind (an ``inactivity`` signal
while someone lies on the floor after a fall without a fall sensor) is counted apart as
*related*, neither a hit nor false.

For the acute kinds the flat team is paged for (``ACUTE``) we also report how many
episodes were *paged*: an urgent signal of the episode's own kind or of a related one
(for a fall without a fall sensor, often ``inactivity``) within the episode, and the median
delay to the first. That is what the team sees: someone is sent to look, whatever the
signal's name.

>>> truth = [Episode("a001", "fall", _t("2026-01-05T10:00:00+01:00"),
...                  _t("2026-01-05T12:00:00+01:00"))]
>>> sig = SignalRow("a001", "fall", "urgent", _t("2026-01-05T10:05:00+01:00"))
>>> score(truth, [sig], apartments=1, days=30.44).kinds["fall"]["recall"]
1.0
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.models import Signal, SignalKind

logger = logging.getLogger(__name__)

DAYS_PER_MONTH = 30.44
SEVERITIES = ("urgent", "attention", "info")
# a signal of the key's kind during an episode of one of these kinds is not a false alarm
RELATED: dict[str, frozenset[str]] = {
    "inactivity": frozenset({"fall", "no_wake", "long_bathroom"}),
    "long_bathroom": frozenset({"fall", "inactivity"}),
    "no_wake": frozenset({"fall", "inactivity"}),
    "fall": frozenset({"inactivity", "long_bathroom"}),
    "door_open": frozenset({"night_wandering"}),
    "sensor_offline": frozenset({"low_battery"}),
    "low_battery": frozenset({"sensor_offline"}),
}

ACUTE = frozenset({"fall", "sos", "no_wake", "inactivity", "long_bathroom"})
"""Episodes the flat team must be paged for."""


def _t(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time without UTC offset: {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Episode:
    apartment: str
    kind: str
    start: datetime
    end: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class SignalRow:
    apartment: str
    kind: str
    severity: str
    detected_at: datetime


@dataclass(slots=True)
class Score:
    apartments: int
    days: float
    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)
    false: Counter[str] = field(default_factory=Counter)
    false_by_kind: Counter[str] = field(default_factory=Counter)
    false_in_confounders: Counter[str] = field(default_factory=Counter)
    related: int = 0

    @property
    def apartment_months(self) -> float:
        return self.apartments * self.days / DAYS_PER_MONTH

    def per_apartment_month(self, severity: str) -> float:
        months = self.apartment_months
        return self.false[severity] / months if months > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "apartments": self.apartments,
            "days": round(self.days, 3),
            "apartment_months": round(self.apartment_months, 3),
            "kinds": self.kinds,
            "false": {s: self.false[s] for s in SEVERITIES},
            "false_per_apartment_month": {
                s: round(self.per_apartment_month(s), 4) for s in SEVERITIES
            },
            "false_by_kind": dict(sorted(self.false_by_kind.items())),
            "false_in_confounders": dict(sorted(self.false_in_confounders.items())),
            "related": self.related,
        }


def load_truth(path: Path) -> list[Episode]:
    out: list[Episode] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                out.append(
                    Episode(
                        str(obj["apartment"]),
                        str(obj["kind"]),
                        _t(obj["start"]),
                        _t(obj["end"]),
                        str(obj.get("note", "")),
                    )
                )
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path.name}:{number}: not a ground-truth entry: {err}") from err
    return out


def load_signals(path: Path) -> tuple[list[SignalRow], list[str]]:
    """Signals of a ``--signals-out`` file; unreadable lines are returned as reasons."""
    rows: list[SignalRow] = []
    bad: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                sig = Signal.model_validate_json(line)
            except ValidationError as err:
                bad.append(f"{path.name}:{number}: {err.errors()[0]['msg']}")
                continue
            rows.append(
                SignalRow(sig.apartment, sig.kind.value, sig.severity.value, sig.detected_at)
            )
    return rows, bad


def _span(truth: list[Episode]) -> tuple[int, float]:
    apartments = {e.apartment for e in truth if e.apartment != "common"}
    if not truth:
        return 0, 0.0
    start = min(e.start for e in truth)
    end = max(e.end for e in truth)
    return len(apartments), (end - start).total_seconds() / 86400.0


def score(
    truth: list[Episode],
    signals: list[SignalRow],
    apartments: int | None = None,
    days: float | None = None,
) -> Score:
    """Recall, delays and false signals; see the module docstring for the rules."""
    n_apts, n_days = _span(truth)
    result = Score(
        apartments if apartments is not None else n_apts, days if days is not None else n_days
    )
    episodes = [e for e in truth if e.kind != "normal"]
    confounders = [e for e in truth if e.kind == "normal" and e.note and e.note != "ordinary day"]
    by_key: dict[tuple[str, str], list[Episode]] = {}
    for e in episodes:
        by_key.setdefault((e.apartment, e.kind), []).append(e)

    def within(e: Episode, s: SignalRow) -> bool:
        return e.start <= s.detected_at <= e.end

    first_hit: dict[int, datetime] = {}
    first_page: dict[int, datetime] = {}
    index = {id(e): i for i, e in enumerate(episodes)}
    true_signals: Counter[str] = Counter()
    signal_count: Counter[str] = Counter()
    for s in signals:
        signal_count[s.kind] += 1
        if s.severity == "urgent":
            for k in (s.kind, *RELATED.get(s.kind, ())):
                if k not in ACUTE:
                    continue
                for e in by_key.get((s.apartment, k), []):
                    i = index[id(e)]
                    if within(e, s) and (i not in first_page or s.detected_at < first_page[i]):
                        first_page[i] = s.detected_at
        matched = [e for e in by_key.get((s.apartment, s.kind), []) if within(e, s)]
        if matched:
            true_signals[s.kind] += 1
            for e in matched:
                i = index[id(e)]
                if i not in first_hit or s.detected_at < first_hit[i]:
                    first_hit[i] = s.detected_at
            continue
        related = any(
            within(e, s)
            for k in RELATED.get(s.kind, frozenset())
            for e in by_key.get((s.apartment, k), [])
        )
        if related:
            result.related += 1
            continue
        result.false[s.severity] += 1
        result.false_by_kind[s.kind] += 1
        for c in confounders:
            if c.apartment == s.apartment and within(c, s):
                result.false_in_confounders[c.note] += 1
                break
    kinds = sorted(
        {e.kind for e in episodes} | set(signal_count),
        key=lambda k: (
            [m.value for m in SignalKind].index(k) if k in SignalKind.__members__.values() else 99
        ),
    )
    for kind in kinds:
        eps = [i for i, e in enumerate(episodes) if e.kind == kind]
        hits = [i for i in eps if i in first_hit]
        delays = [(first_hit[i] - episodes[i].start).total_seconds() for i in hits]
        result.kinds[kind] = {
            "episodes": len(eps),
            "hits": len(hits),
            "recall": round(len(hits) / len(eps), 4) if eps else None,
            "median_delay_s": round(statistics.median(delays), 1) if delays else None,
            "signals": signal_count[kind],
            "true_signals": true_signals[kind],
        }
        if kind in ACUTE and eps:
            paged = [
                (first_page[i] - episodes[i].start).total_seconds() for i in eps if i in first_page
            ]
            result.kinds[kind]["paged"] = len(paged)
            result.kinds[kind]["paged_median_delay_s"] = (
                round(statistics.median(paged), 1) if paged else None
            )
    return result


def _delay(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def table(result: Score) -> str:
    """The score as a plain-text table.

    >>> print(table(Score(apartments=2, days=30.44)).splitlines()[0])
    kind              episodes  hits  recall  median delay  signals  true
    """
    lines = [
        f"{'kind':<17} {'episodes':>8} {'hits':>5} {'recall':>7} {'median delay':>13} "
        f"{'signals':>8} {'true':>5}"
    ]
    for kind, k in result.kinds.items():
        recall = "-" if k["recall"] is None else f"{k['recall']:.2f}"
        lines.append(
            f"{kind:<17} {k['episodes']:>8} {k['hits']:>5} {recall:>7} "
            f"{_delay(k['median_delay_s']):>13} {k['signals']:>8} {k['true_signals']:>5}"
        )
    acute = [(kind, k) for kind, k in result.kinds.items() if "paged" in k]
    if acute:
        lines.append("")
        lines.append("acute episodes paged by any urgent signal (its own kind or a related one):")
        for kind, k in acute:
            lines.append(
                f"{kind:<17} {k['paged']:>4} of {k['episodes']:<4} "
                f"median delay {_delay(k['paged_median_delay_s'])}"
            )
    lines.append("")
    lines.append(
        f"apartment-months: {result.apartment_months:.1f} "
        f"({result.apartments} apartments x {result.days:.1f} days / {DAYS_PER_MONTH})"
    )
    for sev in SEVERITIES:
        lines.append(
            f"false {sev:<9}: {result.false[sev]:>5}  "
            f"= {result.per_apartment_month(sev):.3f} per apartment-month"
        )
    lines.append(f"related (right situation, neighbouring kind): {result.related}")
    if result.false_in_confounders:
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(result.false_in_confounders.items()))
        lines.append(f"false signals during confounders: {parts}")
    return "\n".join(lines)


def evaluate_files(truth_path: Path, signals_path: Path) -> tuple[Score, list[str]]:
    truth = load_truth(truth_path)
    signals, bad = load_signals(signals_path)
    for reason in bad:
        logger.warning("unreadable signal: %s", reason)
    return score(truth, signals), bad
