"""``night_toilet``: night toilet visits trending up against the resident's own nights.
Attention, care.

The feature is ``night_toilet_visits``: motion starting in toilet or bathroom, visits at
least 10 minutes apart, in the resident's own night where the apartment has one bed pad
(out of bed between lying down, from 18:00, and getting up, out of bed for 45 minutes;
so a night owl's night counts, and the visit after getting up does not), else between
00:00 and 06:00 (no bed pad, or two). The last 14 and 28 usable nights (windows of
``scan_days`` up to ``recent_days``) are each compared with the nights before them: a
trend when the visits a night rose by at least ``min_ratio`` times and ``min_increase``
visits, and the rate test (:func:`detectors.trend.rate_z`, quasi-Poisson) puts the
recent count ``min_z`` or more above what the nights before would give. Restless nights
(``night_roaming_minutes`` of at least ``restless_minutes``: walking about the home) are
left out: they are night wandering's. More visits at night can mean a urinary infection,
diabetes or heart failure: worth a question from care, not an alarm.

>>> import textwrap
>>> from datetime import date
>>> from detectors.trend import example_days
>>> d = NightToiletDetector(lambda apt: NightToiletSettings())
>>> calm = [{"night_toilet_visits": float(i % 2)} for i in range(42)]
>>> more = [{"night_toilet_visits": 2.0 + i % 2} for i in range(14)]
>>> raised = [c for day in example_days("a1", date(2026, 1, 5), calm + more)
...           for c in d.on_day(day, None).candidates]
>>> [(c.kind.value, c.severity.value, c.detected_at.date().isoformat()) for c in raised]
[('night_toilet', 'attention', '2026-02-24')]
>>> raised[0].evidence["baseline"]
0.5
>>> print(textwrap.fill(raised[0].summary["en"], 80))
Goes to the toilet more often at night: 1.6 times a night over the last 14 days,
usually 0.5.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import Field

from detectors.base import register
from detectors.text import texts
from detectors.trend import Judgement, TrendDetector, TrendSettings, rate_z
from edge.features import DayFeatures
from edge.models import SignalKind

logger = logging.getLogger(__name__)


class NightToiletSettings(TrendSettings):
    scan_days: int = Field(
        14,
        ge=1,
        le=60,
        description="Recent windows tried: every this many days, up to recent_days (a week "
        "of more visits is ordinary: a cold, a diuretic; two weeks is the shortest judged).",
    )
    min_ratio: float = Field(
        1.5, ge=1.0, le=10, description="Recent visits a night at least this times the usual."
    )
    min_increase: float = Field(
        0.5, ge=0, le=10, description="...and at least this many more visits a night."
    )
    min_z: float = Field(
        2.75,
        ge=1,
        le=20,
        description="...and visits this far above the usual rate (quasi-Poisson z, "
        "``detectors.trend.rate_z``).",
    )
    restless_minutes: float = Field(
        20.0,
        ge=0,
        le=360,
        description="A night with this many minutes about the home is left out (wandering).",
    )


@register
class NightToiletDetector(TrendDetector):
    name = "night_toilet"
    settings_model = NightToiletSettings
    kind = SignalKind.NIGHT_TOILET
    features = ("night_toilet_visits",)
    direction = 1
    rooms = frozenset({"bedroom", "toilet", "bathroom"})

    def usable(self, day: DayFeatures, settings: Any) -> bool:
        if day.values.get("night_roaming_minutes", 0.0) >= settings.restless_minutes:
            return False
        return super().usable(day, settings)

    def judge(self, base: np.ndarray, recent: np.ndarray, settings: Any) -> Judgement | None:
        s = settings
        mb, mr = float(base[:, 0].mean()), float(recent[:, 0].mean())
        z = rate_z(base[:, 0], recent[:, 0])
        trending = mr >= mb * s.min_ratio and mr - mb >= s.min_increase and z >= s.min_z
        return Judgement(trending, mb, mr, z, {"nights": int(recent.shape[0])})

    def summary(self, j: Judgement, settings: Any) -> dict[str, str]:
        return texts(
            "Gaat 's nachts vaker naar het toilet: {now:.1f} keer per nacht in de laatste "
            "{days} dagen, gewoonlijk {usual:.1f}.",
            "Goes to the toilet more often at night: {now:.1f} times a night over the last "
            "{days} days, usually {usual:.1f}.",
            now=j.observed,
            usual=j.baseline,
            days=j.days,
        )
