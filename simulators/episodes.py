"""Which labelled episodes happen to which apartment, and when.

Rates are per apartment per year (rare, as in real life); trends last weeks. The plan is
drawn once per apartment from its own seeded generator, before any day is simulated.

>>> from simulators.flat import build_flat
>>> flat = build_flat(3, seed=2)
>>> rates = EpisodeRates().scaled(40.0)
>>> plans = [plan_apartment(a, 60, rates, seed=2) for a in flat.apartments]
>>> sum(len(p.acute) for p in plans) > 0
True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from simulators.flat import Apartment

logger = logging.getLogger(__name__)

ACUTE_KINDS = ("fall", "sos", "no_wake", "inactivity", "long_bathroom", "door_open")
TREND_KINDS = ("withdrawal", "nutrition", "night_toilet", "mobility_decline")
# kinds that need a resident alone at home (a partner would move and hide them)
SINGLE_ONLY = frozenset({"no_wake", "inactivity", "long_bathroom", *TREND_KINDS})


@dataclass(frozen=True, slots=True)
class EpisodeRates:
    """Expected episodes per apartment per year, and the shape of slow trends."""

    fall: float = 0.35
    sos: float = 0.5
    no_wake: float = 0.25
    inactivity: float = 0.2
    long_bathroom: float = 0.25
    door_open: float = 0.5
    night_wandering: float = 0.1
    withdrawal: float = 0.1
    nutrition: float = 0.1
    night_toilet: float = 0.1
    mobility_decline: float = 0.1
    sensor_offline: float = 0.3
    low_battery: float = 0.15
    holiday: float = 0.6
    hospital: float = 0.12
    visitor_overnight: float = 1.5
    trend_ramp_days: int = 35
    trend_hold_days: int = 28
    wandering_days: int = 21

    def scaled(self, factor: float) -> EpisodeRates:
        """All rates times ``factor`` (trend shapes unchanged)."""
        changes: dict[str, Any] = {
            f.name: getattr(self, f.name) * factor
            for f in fields(self)
            if isinstance(getattr(self, f.name), float)
        }
        return replace(self, **changes)

    def with_overrides(self, overrides: dict[str, float]) -> EpisodeRates:
        names = {f.name for f in fields(self)}
        for key in overrides:
            if key not in names:
                raise ValueError(f"unknown episode rate {key!r}; one of {', '.join(sorted(names))}")
        cast: dict[str, Any] = {
            k: (int(v) if isinstance(getattr(self, k), int) else float(v))
            for k, v in overrides.items()
        }
        return replace(self, **cast)


@dataclass(frozen=True, slots=True)
class Trend:
    kind: str
    start_day: int
    ramp_days: int
    hold_days: int

    @property
    def end_day(self) -> int:
        return self.start_day + self.ramp_days + self.hold_days

    def factor(self, day: int) -> float:
        """0 before the trend, rising linearly to 1, held, back to 0 after it ends."""
        if day < self.start_day or day >= self.end_day:
            return 0.0
        return min(1.0, (day - self.start_day + 1) / max(1, self.ramp_days))


@dataclass(frozen=True, slots=True)
class Away:
    kind: str  # holiday | hospital
    start_day: int
    days: int


@dataclass(frozen=True, slots=True)
class DeviceTrouble:
    kind: str  # sensor_offline | low_battery
    device: str
    day: int
    hour: float
    duration_h: float  # offline: silent hours; low_battery: hours dead before a new battery


@dataclass(slots=True)
class ApartmentPlan:
    acute: dict[int, str] = field(default_factory=dict)
    overnight_visits: set[int] = field(default_factory=set)
    away: list[Away] = field(default_factory=list)
    trends: list[Trend] = field(default_factory=list)
    wandering: list[tuple[int, int]] = field(default_factory=list)  # (start_day, days)
    devices: list[DeviceTrouble] = field(default_factory=list)

    def away_days(self) -> set[int]:
        out: set[int] = set()
        for a in self.away:
            out.update(range(a.start_day, a.start_day + a.days + 1))
        return out

    def trend_factor(self, kind: str, day: int) -> float:
        return max((t.factor(day) for t in self.trends if t.kind == kind), default=0.0)

    def wandering_on(self, day: int) -> bool:
        return any(s <= day < s + n for s, n in self.wandering)


def _count(rng: np.random.Generator, rate: float, days: int) -> int:
    return int(rng.poisson(rate * days / 365.0))


def plan_apartment(
    apt: Apartment, days: int, rates: EpisodeRates, seed: int, episodes_from: int = 1
) -> ApartmentPlan:
    """Draw one apartment's episodes over ``days`` days.

    No labelled episode starts before day ``episodes_from`` (1: only the first day is
    calm); the confounders (holidays, hospital stays, guests overnight) are ordinary life
    and keep their days. A ``low_battery`` episode starts three weeks before the battery
    dies, so its death comes at least 21 days after ``episodes_from``.
    """
    rng = np.random.default_rng([seed, apt.index, 0xE915])
    plan = ApartmentPlan()
    busy = np.zeros(days + 2, dtype=bool)
    busy[0] = True  # day 0 has no history for detectors to compare with; keep it calm

    def free_day(lo: int = 1, span: int = 1) -> int | None:
        choices = [d for d in range(lo, days - span) if not busy[d : d + span + 1].any()]
        if not choices:
            return None
        return int(rng.choice(choices))

    away_kinds = (("holiday", rates.holiday, 5, 15), ("hospital", rates.hospital, 3, 9))
    for kind, rate, lo, hi in away_kinds:
        for _ in range(_count(rng, rate, days)):
            span = int(rng.integers(lo, hi))
            day = free_day(2, span)
            if day is None:
                continue
            plan.away.append(Away(kind, day, span))
            busy[max(0, day - 1) : day + span + 2] = True
    plan.away.sort(key=lambda a: a.start_day)

    acute: list[tuple[str, float]] = [(k, getattr(rates, k)) for k in ACUTE_KINDS]
    acute.append(("visitor_overnight", rates.visitor_overnight))
    for kind, rate in acute:
        if kind in SINGLE_ONLY and not apt.single:
            continue
        if kind == "fall" and not apt.single and apt.radar_room is None:
            continue
        first = 1 if kind == "visitor_overnight" else episodes_from
        for _ in range(_count(rng, rate, days)):
            day = free_day(first, 1)
            if day is None:
                continue
            busy[day : day + 2] = True
            if kind == "visitor_overnight":
                plan.overnight_visits.add(day)
            else:
                plan.acute[day] = kind

    if apt.single:
        trend_busy = np.zeros(days + 1, dtype=bool)
        length = rates.trend_ramp_days + rates.trend_hold_days
        # which kind gets first pick rotates over the apartments, so a flat sees all kinds
        for k in range(len(TREND_KINDS)):
            kind = TREND_KINDS[(apt.index + k) % len(TREND_KINDS)]
            for _ in range(_count(rng, getattr(rates, kind), days)):
                # a whole trend inside the run when it fits, else at least its ramp
                hi = days - length if days - length > 15 else days - rates.trend_ramp_days
                if hi <= 14:
                    continue
                # four weeks of ordinary life first when there is room: a baseline to judge by
                lo = max(28 if hi > 35 else 14, episodes_from)
                if lo >= hi:  # (only with a late episodes_from) its ramp at least, if it fits
                    if lo + rates.trend_ramp_days > days:
                        continue
                    hi = lo + 1
                start = int(rng.integers(lo, hi))
                if trend_busy[start : start + length].any():
                    continue
                trend_busy[start : start + length] = True
                plan.trends.append(Trend(kind, start, rates.trend_ramp_days, rates.trend_hold_days))
        for _ in range(_count(rng, rates.night_wandering, days)):
            hi = days - 3
            lo = max(7, episodes_from)
            if hi <= lo:
                continue
            start = int(rng.integers(lo, hi))
            if any(abs(start - s0) < n0 + 7 for s0, n0 in plan.wandering):
                continue  # one restless period at a time, with ordinary nights between
            plan.wandering.append((start, rates.wandering_days))
    plan.trends.sort(key=lambda t: t.start_day)
    plan.wandering.sort()

    battery_devices = sorted(k for k, d in apt.devices.items() if d.battery and d.kind != "sos")
    troubles = (("sensor_offline", rates.sensor_offline), ("low_battery", rates.low_battery))
    for kind, rate in troubles:
        for _ in range(_count(rng, rate, days)):
            lo = max(25, episodes_from + 21) if kind == "low_battery" else max(2, episodes_from)
            if days - 2 <= lo:
                continue
            device = str(rng.choice(battery_devices))
            day = int(rng.integers(lo, days - 2))
            if any(t.device == device and abs(t.day - day) < 30 for t in plan.devices):
                continue
            hours = (
                float(rng.uniform(30.0, 96.0))
                if kind == "sensor_offline"
                else float(rng.uniform(48.0, 168.0))
            )
            plan.devices.append(DeviceTrouble(kind, device, day, float(rng.uniform(0, 24)), hours))
    plan.devices.sort(key=lambda t: (t.day, t.device))
    return plan
