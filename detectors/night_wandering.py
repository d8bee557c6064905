"""``night_wandering``: restless nights, walking about the home (or out of the front
door), against the resident's own nights. Attention, care.

The feature is ``night_roaming_minutes``: minutes between 00:00 and 06:00 with activity
in the hall, kitchen, living room, at the front door or on the balcony (bed, toilet and
bathroom do not count: a night toilet visit passes the hall for a minute or two). A
night is *restless* when it has at least ``min_minutes`` such minutes and more than the
resident's own usual restless end (the ``quantile`` of the ``baseline_days`` nights
before the last ``recent_days``) plus ``margin_minutes``. A trend when at least
``min_nights`` of the last ``recent_days`` usable nights were restless. Night owls, who
are up past midnight every night, have that in their own baseline. Night wandering can
be an early sign of dementia or delirium: for care to look into.

>>> import textwrap
>>> from datetime import date
>>> from detectors.trend import example_days
>>> d = NightWanderingDetector(lambda apt: NightWanderingSettings())
>>> calm = [{"night_roaming_minutes": float(i % 4)} for i in range(21)]
>>> restless = [{"night_roaming_minutes": m} for m in (2.0, 45.0, 0.0, 60.0, 38.0)]
>>> raised = [c for day in example_days("a1", date(2026, 1, 5), calm + restless)
...           for c in d.on_day(day, None).candidates]
>>> [(c.kind.value, c.detected_at.date().isoformat()) for c in raised]
[('night_wandering', '2026-01-31')]
>>> print(textwrap.fill(raised[0].summary["en"], 80))
Restless at night: up and about on 3 of the last 7 nights (up to 60 minutes),
usually 3 minutes at most.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import Field

from detectors.base import register
from detectors.text import texts
from detectors.trend import Judgement, TrendDetector, TrendSettings
from edge.models import SignalKind

logger = logging.getLogger(__name__)


class NightWanderingSettings(TrendSettings):
    recent_days: int = Field(7, ge=3, le=60, description="The recent nights judged.")
    confirm_days: int = Field(
        1, ge=1, le=30, description="The trend must hold this many judged nights in a row."
    )
    min_minutes: float = Field(
        20.0, ge=1, le=360, description="A restless night has at least this many minutes..."
    )
    quantile: float = Field(
        0.9, ge=0.5, le=1.0, description="...above this quantile of the resident's own nights..."
    )
    margin_minutes: float = Field(10.0, ge=0, le=240, description="...plus this margin.")
    min_nights: int = Field(
        3, ge=1, le=60, description="Restless nights among the recent ones for a signal."
    )


@register
class NightWanderingDetector(TrendDetector):
    name = "night_wandering"
    settings_model = NightWanderingSettings
    kind = SignalKind.NIGHT_WANDERING
    features = ("night_roaming_minutes",)
    direction = 1
    rooms = frozenset({"hall", "kitchen", "living", "entrance", "balcony"})

    def judge(self, base: np.ndarray, recent: np.ndarray, settings: Any) -> Judgement | None:
        s = settings
        usual = float(np.quantile(base[:, 0], s.quantile))
        limit = max(s.min_minutes, usual + s.margin_minutes)
        r = recent[:, 0]
        restless = int((r >= limit).sum())
        evidence = {
            "restless_nights": restless,
            "nights": int(r.size),
            "limit_minutes": round(limit, 1),
            "longest_minutes": float(r.max()),
        }
        return Judgement(restless >= s.min_nights, usual, float(r.max()), float(restless), evidence)

    def persists(self, j: Judgement, closed: dict[str, Any]) -> bool:
        return j.trending  # restless nights again, against the resident's own nights

    def summary(self, j: Judgement, settings: Any) -> dict[str, str]:
        return texts(
            "Onrustig 's nachts: op {n} van de laatste {nights} nachten op en rond in huis "
            "(tot {longest:.0f} minuten), gewoonlijk hoogstens {usual:.0f} minuten.",
            "Restless at night: up and about on {n} of the last {nights} nights (up to "
            "{longest:.0f} minutes), usually {usual:.0f} minutes at most.",
            n=j.evidence["restless_nights"],
            nights=j.evidence["nights"],
            longest=j.evidence["longest_minutes"],
            usual=j.baseline,
        )
