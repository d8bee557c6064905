"""What every slow-trend detector shares: personal baselines from daily features.

A trend detector learns from each apartment's finished days (:meth:`Detector.on_day`),
never from single events. Per apartment it keeps the last ``baseline_days +
recent_days`` *usable* days of the features it needs (a bounded window, JSON-able) and
judges each new usable day: the last ``recent_days`` days (the *recent* window) against
the ``baseline_days`` before them (the resident's own past). Robust statistics over
that bounded window, nothing fitted to the whole flat.

- **Cold start**: nothing is judged before ``min_baseline_days`` usable days of
  baseline (at least two weeks) and half a recent window.
- **Days that do not count**: away for more than ``away_minutes`` (holiday, hospital,
  a day out), activity in fewer than ``min_active_hours`` hours (nobody about: left while
  the door sensor was down), or a day with one of the apartment's sensors silent for
  hours or reported offline (``sensors_silent``): such a day is neither learned nor
  judged, so a holiday or a dead kitchen sensor never looks like a decline.
- **Persistence**: a trend must hold ``confirm_days`` judged days in a row before it is
  raised, stamped with the end of the day that confirmed it (replay and live agree).
- **One signal per trend**: once raised, the detector does not raise again while the
  signal is open. When the meeting closes it as ``false_alarm`` the apartment's
  baseline is learned afresh from that day on (this is their normal). Closed as
  ``confirmed`` or ``not_relevant``, it is raised again only when, ``reraise_after_days``
  later, the trend still holds: ``confirm_days`` days in a row as bad as or worse than
  when it was first raised (the rolling baseline has learned the new level by then, so
  the first signal's numbers are the yardstick).
- Everything (the windows, the open trend, the last scores) is in :meth:`state_dict`:
  a restart neither forgets nor raises again.

>>> from datetime import date, timedelta
>>> from edge.features import DayFeatures
>>> days = example_days("a1", date(2026, 1, 5), [{"x": 1.0}] * 3)
>>> [d.day.isoformat() for d in days]
['2026-01-05', '2026-01-06', '2026-01-07']
"""

from __future__ import annotations

import logging
import math
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from detectors.base import NOTHING, Candidate, Detector, DetectorSettings, Found
from edge.features import DayFeatures
from edge.models import COMMON_APARTMENT, SensorEvent, SignalKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from edge.state import FlatState

logger = logging.getLogger(__name__)

_VERDICTS = frozenset({"confirmed", "false_alarm", "not_relevant"})


class TrendSettings(DetectorSettings):
    """Settings every trend detector has (each detector sets its own defaults)."""

    baseline_days: int = Field(
        56, ge=14, le=180, description="Days of the resident's own past the trend is judged by."
    )
    recent_days: int = Field(
        28,
        ge=3,
        le=60,
        description="The longest recent window judged against that past (days).",
    )
    min_baseline_days: int = Field(
        14, ge=14, le=180, description="Usable days of baseline needed before any signal."
    )
    confirm_days: int = Field(
        3, ge=1, le=30, description="The trend must hold this many judged days in a row."
    )
    away_minutes: float = Field(
        480.0,
        ge=60,
        le=1440,
        description="A day with more time out of home than this is left out (away).",
    )
    min_active_hours: float = Field(
        6.0,
        ge=0,
        le=24,
        description="A day with activity in fewer hours is left out: nobody about (away "
        "without the door being seen, or the sensors down).",
    )
    scan_days: int = Field(
        7,
        ge=1,
        le=60,
        description="Recent windows tried: every this many days, up to recent_days (each "
        "against the usable days before it).",
    )
    reraise_after_days: int = Field(
        14,
        ge=1,
        le=180,
        description="After the meeting closed a signal: raise again no sooner than this, "
        "and only if the trend holds and is no better.",
    )


@dataclass(slots=True)
class Judgement:
    """One day's verdict on an apartment: the numbers and whether they make a trend."""

    trending: bool
    baseline: float
    observed: float
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)
    days: int = 0
    """The length of the recent window judged (days), set by the base class."""
    base_days: int = 0
    """How many usable days the baseline of that window had, set by the base class."""


def example_days(apartment: str, first: date, values: list[dict[str, float]]) -> list[DayFeatures]:
    """Daily features for examples and tests: one record a day from ``first``."""
    return [DayFeatures(apartment, first + timedelta(days=i), v) for i, v in enumerate(values)]


def rank_z(base: np.ndarray, recent: np.ndarray) -> float:
    """How far the recent days stand above the baseline days, as the Mann-Whitney rank-sum
    test's z (normal approximation, ties averaged and corrected): positive when the recent
    values rank higher. A rank test assumes nothing about the days' distribution (counts
    full of zeros, a skewed outing time), one odd day (a party, a day in bed) moves it by
    one rank only, and its variance is honest about a short baseline: both samples' sizes
    are in it. 0 when either sample is empty or every value is the same.

    >>> round(rank_z(np.array([1.0, 2, 3, 4]), np.array([5.0, 6, 7])), 2)
    2.12
    >>> rank_z(np.array([1.0, 1]), np.array([1.0]))
    0.0
    """
    n1, n2 = base.size, recent.size
    if n1 == 0 or n2 == 0:
        return 0.0
    values = np.concatenate([base, recent])
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    mid_ranks = upper - (counts - 1) / 2.0  # the average rank of each tied group
    u = float(mid_ranks[inverse[n1:]].sum()) - n2 * (n2 + 1) / 2.0
    n = n1 + n2
    ties = float((counts**3 - counts).sum()) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - ties)
    if var <= 0:
        return 0.0
    return (u - n1 * n2 / 2.0) / math.sqrt(var)


def rate_z(base: np.ndarray, recent: np.ndarray) -> float:
    """How far the recent days' count rate stands above the baseline's, for counts of rare
    events (toilet visits a night): given all the events of both windows, under no change
    each falls in the recent window with the share of its days (a binomial), and the z of
    the recent count is widened by the baseline's over-dispersion (its variance over its
    mean, at least 1: quasi-Poisson). For counts this is the sharper test; ranks lose much
    to the many ties of 0, 1 and 2. 0 without events or without days.

    >>> round(rate_z(np.array([1.0, 0, 1, 0, 1, 0, 1, 0]), np.array([2.0, 3, 2, 2])), 2)
    2.75
    >>> rate_z(np.array([0.0, 0]), np.array([0.0]))
    0.0
    """
    if base.size == 0 or recent.size == 0:
        return 0.0
    total = float(base.sum() + recent.sum())
    if total <= 0:
        return 0.0
    share = recent.size / (base.size + recent.size)
    mean = float(base.mean())
    phi = max(1.0, float(base.var(ddof=1)) / mean) if mean > 0 and base.size > 1 else 1.0
    expected = total * share
    return (float(recent.sum()) - expected) / math.sqrt(phi * expected * (1 - share))


class DayRows:
    """An apartment's usable days, oldest first: the day ordinals in one array of C longs,
    their features in one flat array of doubles (a few bytes a number, where a deque of
    (ordinal, list of floats) took over a hundred bytes a day)."""

    __slots__ = ("days", "values", "width")

    def __init__(self, width: int) -> None:
        self.days: array[int] = array("l")
        self.values: array[float] = array("d")
        self.width = width

    def append(self, day: int, values: list[float]) -> None:
        if len(values) != self.width:
            raise ValueError(f"a day of {len(values)} features, not {self.width}")
        self.days.append(day)
        self.values.extend(values)

    def drop_through(self, oldest: int) -> None:
        """Drop the days from the start up to the first after ``oldest``."""
        n = 0
        while n < len(self.days) and self.days[n] <= oldest:
            n += 1
        if n:
            del self.days[:n]
            del self.values[: n * self.width]

    def window(self, after: int, through: int) -> np.ndarray:
        """The days ``after`` < day <= ``through``, one row each (one column a feature)."""
        days = np.array(self.days, dtype=np.int64)
        values = np.array(self.values, dtype=float).reshape(len(self.days), self.width)
        return values[(days > after) & (days <= through)]

    def __len__(self) -> int:
        return len(self.days)

    def __iter__(self) -> Iterator[tuple[int, list[float]]]:
        w = self.width
        for i, day in enumerate(self.days):
            yield day, self.values[i * w : (i + 1) * w].tolist()


class TrendDetector(Detector):
    """Base of the trend detectors; subclasses say which features they keep and judge."""

    kind: ClassVar[SignalKind]
    """The kind it raises (its domain is the kind's: edge.models.KINDS)."""
    features: ClassVar[tuple[str, ...]]
    direction: ClassVar[int] = -1
    """-1: a decline is the trend (observed below the baseline), +1: a rise."""
    rooms: ClassVar[frozenset[str] | None] = None
    """The rooms the features come from: a day with a sensor down elsewhere still counts
    (``None``: a sensor down anywhere makes the day not count)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._days: dict[str, DayRows] = {}
        self._streak: dict[str, int] = {}
        self._open: dict[str, dict[str, Any]] = {}
        self._closed: dict[str, dict[str, Any]] = {}
        self._last_day: dict[str, int] = {}
        self._scores: dict[str, dict[str, float]] = {}

    per_event = False  # trends learn from whole days (on_day), not from single events

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        return NOTHING

    # --- what subclasses provide -----------------------------------------------------

    def usable(self, day: DayFeatures, settings: Any) -> bool:
        """Whether the day counts at all (home, its own sensors up); subclasses may add
        rules. A sensor down in a room this detector does not read from leaves the day in;
        one down in an unknown room (``silent_rooms`` not given) leaves it out."""
        v = day.values
        if v.get("time_out_minutes", 0.0) > settings.away_minutes:
            return False
        if v.get("active_hours", 24.0) < settings.min_active_hours:
            return False
        if v.get("sensors_silent", 0.0) <= 0.0:
            return True
        return (
            self.rooms is not None
            and bool(day.silent_rooms)
            and not (day.silent_rooms & self.rooms)
        )

    def judge(self, base: np.ndarray, recent: np.ndarray, settings: Any) -> Judgement | None:
        """The recent days (rows, one column per feature) against the baseline days."""
        raise NotImplementedError

    def summary(self, j: Judgement, settings: Any) -> dict[str, str]:
        """The one-sentence summary, Dutch and English (``detectors.text.texts``)."""
        raise NotImplementedError

    def persists(self, j: Judgement, closed: dict[str, Any]) -> bool:
        """After the meeting closed a signal (confirmed, not relevant): is it as bad as or
        worse than when it was raised? The rolling baseline has learned the new level by
        then, so the level at the first signal is the yardstick."""
        return self.direction * (j.observed - float(closed["observed"])) >= 0

    # --- the hook ----------------------------------------------------------------------

    def on_day(self, day: DayFeatures, state: FlatState) -> Found:
        apt = day.apartment
        if apt == COMMON_APARTMENT:
            return NOTHING
        s = self.settings(apt)
        if not self.usable(day, s):
            return NOTHING
        today = day.day.toordinal()
        self._last_day[apt] = today
        rows = self._days.get(apt)
        if rows is None:
            rows = self._days[apt] = DayRows(len(self.features))
        rows.append(today, [float(day.values.get(f, 0.0)) for f in self.features])
        rows.drop_through(today - s.recent_days - s.baseline_days)
        j = self._scan(rows, today, s)
        if j is None:
            self._streak[apt] = 0
            return NOTHING
        self._scores[apt] = {"baseline": j.baseline, "observed": j.observed, "score": j.score}
        closed = self._closed.get(apt)
        bad = j.trending if closed is None else self.persists(j, closed)
        self._streak[apt] = self._streak.get(apt, 0) + 1 if bad else 0
        if not bad or self._streak[apt] < s.confirm_days or apt in self._open:
            return NOTHING
        again = closed is not None
        if closed is not None:
            if today - closed["day"] < s.reraise_after_days:
                return NOTHING
            j.baseline = closed["baseline"]  # judged against the past before the first signal
        return Found((self._raise(apt, day.day, j, s, again),))

    def _scan(self, rows: DayRows, today: int, s: Any) -> Judgement | None:
        """Judge the recent windows of ``scan_days``, ``2 x scan_days``, ... up to
        ``recent_days`` days, each against the usable days before it (at most
        ``baseline_days``): a change that began a week ago shows best in the last week, one
        that crept in over a month in the last four, and the baseline of each window is the
        resident's life before it. The most telling window wins (a trending one before the
        others, then the largest score); ``None`` while no window has its
        ``min_baseline_days`` of baseline and half its days judged."""
        best: Judgement | None = None
        for length in sorted({*range(s.scan_days, s.recent_days, s.scan_days), s.recent_days}):
            split = today - length
            base = rows.window(split - s.baseline_days, split)
            recent = rows.window(split, today)
            if len(base) < s.min_baseline_days or len(recent) < max(2, (length + 1) // 2):
                continue
            j = self.judge(base, recent, s)
            if j is None:
                continue
            j.days, j.base_days = length, len(base)
            if best is None or (j.trending, abs(j.score)) > (best.trending, abs(best.score)):
                best = j
        return best

    def _raise(self, apt: str, day: date, j: Judgement, s: Any, again: bool) -> Candidate:
        end = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        start = datetime.combine(day - timedelta(days=j.days - 1), time(0), self.tz)
        self._open[apt] = {
            "day": day.toordinal(),
            "baseline": j.baseline,
            "observed": j.observed,
            "score": j.score,
        }
        self._closed.pop(apt, None)
        evidence: dict[str, Any] = {
            "baseline": round(j.baseline, 2),
            "observed": round(j.observed, 2),
            "score": round(j.score, 2),
            "window": {
                "recent": [start.date().isoformat(), day.isoformat()],
                "baseline_days": j.base_days,
                "recent_days": j.days,
            },
            **j.evidence,
        }
        if again:
            evidence["raised_again"] = True
        return Candidate(
            kind=self.kind,
            apartment=apt,
            start=start,
            detected_at=end,
            summary=self.summary(j, s),
            evidence=evidence,
            key=day.isoformat(),
        )

    def scores(self) -> dict[str, dict[str, float]]:
        return {apt: dict(v) for apt, v in sorted(self._scores.items())}

    def feedback(self, apartment: str, verdict: str) -> str | None:
        if verdict not in _VERDICTS:
            return None
        ref = self._open.pop(apartment, None)
        self._streak[apartment] = 0
        if verdict == "false_alarm":
            self._days.pop(apartment, None)
            self._closed.pop(apartment, None)
            return "baseline learned afresh from today (this level is normal for the resident)"
        if ref is None:
            return None
        self._closed[apartment] = {
            "day": self._last_day.get(apartment, ref["day"]),
            "baseline": ref["baseline"],
            "observed": ref["observed"],
        }
        return "raised again only if the trend holds and is no better after the waiting time"

    # --- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "days": {k: [[d, v] for d, v in rows] for k, rows in sorted(self._days.items())},
            "streak": dict(sorted(self._streak.items())),
            "open": dict(sorted(self._open.items())),
            "closed": dict(sorted(self._closed.items())),
            "last_day": dict(sorted(self._last_day.items())),
            "scores": dict(sorted(self._scores.items())),
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self._days = {}
        for k, saved in data.get("days", {}).items():
            rows = self._days[k] = DayRows(len(self.features))
            for d, v in saved:
                rows.append(int(d), [float(x) for x in v])
        self._streak = {k: int(v) for k, v in data.get("streak", {}).items()}
        self._open = {k: dict(v) for k, v in data.get("open", {}).items()}
        self._closed = {k: dict(v) for k, v in data.get("closed", {}).items()}
        self._last_day = {k: int(v) for k, v in data.get("last_day", {}).items()}
        self._scores = {
            k: {n: float(x) for n, x in v.items()} for k, v in data.get("scores", {}).items()
        }
