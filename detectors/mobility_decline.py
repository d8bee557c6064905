"""``mobility_decline``: walking between rooms slower than the resident used to. Attention,
care.

The feature is ``transition_seconds``: each day's median time from motion in the hall to
motion starting in the next room, on walks from one room to another (an in-home measure
of walking speed; a slowing gait is a known sign of frailty and fall risk). Days with
fewer than ``min_walks`` such walks are left out. The median of the last ``recent_days``
usable days is compared with the median of the ``baseline_days`` before them: a trend
when it grew by ``min_ratio`` times and by ``min_z`` robust standard errors (from the
baseline's median absolute deviation). Activity (``activity_events``) is reported
beside it as evidence of less movement.

>>> import textwrap
>>> from datetime import date
>>> from detectors.trend import example_days
>>> d = MobilityDeclineDetector(lambda apt: MobilityDeclineSettings())
>>> usual = [{"transition_seconds": 7.0 + 0.1 * (i % 5), "transitions": 20.0,
...           "activity_events": 200.0} for i in range(42)]
>>> slow = [{"transition_seconds": 10.5, "transitions": 18.0, "activity_events": 150.0}] * 14
>>> raised = [c for day in example_days("a1", date(2026, 1, 5), usual + slow)
...           for c in d.on_day(day, None).candidates]
>>> [(c.kind.value, c.detected_at.date().isoformat()) for c in raised]
[('mobility_decline', '2026-02-24')]
>>> print(textwrap.fill(raised[0].summary["en"], 80))
Walks more slowly between rooms: 10.5 seconds from the hall into a room over the
last 7 days, usually 7.2.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import Field

from detectors.base import register
from detectors.text import texts
from detectors.trend import Judgement, TrendDetector, TrendSettings, rank_z
from edge.features import DayFeatures
from edge.models import SignalKind

logger = logging.getLogger(__name__)


class MobilityDeclineSettings(TrendSettings):
    min_walks: int = Field(
        5, ge=1, le=100, description="A day needs this many walks between rooms to count."
    )
    min_ratio: float = Field(
        1.25, ge=1, le=5, description="Recent walking time at least this times the usual."
    )
    min_z: float = Field(
        2.5,
        ge=1,
        le=20,
        description="...and days this far above it (rank-sum z, ``detectors.trend.rank_z``).",
    )


@register
class MobilityDeclineDetector(TrendDetector):
    name = "mobility_decline"
    settings_model = MobilityDeclineSettings
    kind = SignalKind.MOBILITY_DECLINE
    features = ("transition_seconds", "transitions", "activity_events")
    direction = 1
    rooms = frozenset({"hall", "bedroom", "bathroom", "toilet", "kitchen", "living"})

    def usable(self, day: DayFeatures, settings: Any) -> bool:
        if day.values.get("transitions", 0.0) < settings.min_walks:
            return False
        return super().usable(day, settings)

    def judge(self, base: np.ndarray, recent: np.ndarray, settings: Any) -> Judgement | None:
        b, r = base[:, 0], recent[:, 0]
        mb, mr = float(np.median(b)), float(np.median(r))
        if mb <= 0:
            return None
        z = rank_z(b, r)
        trending = mr >= mb * settings.min_ratio and z >= settings.min_z
        evidence = {
            "activity_baseline": round(float(np.median(base[:, 2])), 1),
            "activity_observed": round(float(np.median(recent[:, 2])), 1),
        }
        return Judgement(trending, mb, mr, z, evidence)

    def summary(self, j: Judgement, settings: Any) -> dict[str, str]:
        return texts(
            "Loopt langzamer tussen de kamers: {now:.1f} seconden van de gang een kamer in "
            "in de laatste {days} dagen, gewoonlijk {usual:.1f}.",
            "Walks more slowly between rooms: {now:.1f} seconds from the hall into a room "
            "over the last {days} days, usually {usual:.1f}.",
            now=j.observed,
            usual=j.baseline,
            days=j.days,
        )
