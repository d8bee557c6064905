"""``nutrition``: kitchen use trending down against the resident's own past. Attention,
care.

Three daily features: ``kitchen_minutes`` (minutes with activity in the kitchen),
``kitchen_openings`` (fridge and cupboard doors) and ``appliance_uses`` (kettle and other
kitchen plugs switched on). For each one the apartment has (a baseline mean above a small
floor) the mean of the last ``recent_days`` usable days is divided by the mean of the
``baseline_days`` before them; the *kitchen index* is the mean of those ratios. A trend
when the index fell to ``max_index`` or below and kitchen minutes fell by ``min_z``
standard errors of their day-to-day spread. Meals skipped and shorter meals show as all
three falling together: a sign of malnutrition (ondervoeding) worth a question from care.

>>> import textwrap
>>> from datetime import date
>>> from detectors.trend import example_days
>>> d = NutritionDetector(lambda apt: NutritionSettings())
>>> usual = {"kitchen_minutes": 70.0, "kitchen_openings": 8.0, "appliance_uses": 3.0}
>>> less = {"kitchen_minutes": 25.0, "kitchen_openings": 3.0, "appliance_uses": 1.0}
>>> wobble = [{k: v + (i % 3) for k, v in usual.items()} for i in range(42)]
>>> raised = [c for day in example_days("a1", date(2026, 1, 5), wobble + [less] * 14)
...           for c in d.on_day(day, None).candidates]
>>> [(c.kind.value, c.detected_at.date().isoformat()) for c in raised]
[('nutrition', '2026-02-23')]
>>> print(textwrap.fill(raised[0].summary["en"], 80))
Uses the kitchen less: 25 minutes a day over the last 7 days, usually 71
(fridge, kettle and kitchen 31% of usual).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import Field

from detectors.base import register
from detectors.text import texts
from detectors.trend import Judgement, TrendDetector, TrendSettings, rank_z
from edge.models import SignalKind

logger = logging.getLogger(__name__)

_FLOORS = (10.0, 1.0, 0.5)  # a measure counts when its baseline mean is at least this


class NutritionSettings(TrendSettings):
    max_index: float = Field(
        0.7,
        gt=0,
        lt=1,
        description="Kitchen use (mean of the ratios recent / usual) at or below this.",
    )
    min_z: float = Field(
        2.5,
        ge=1,
        le=20,
        description="...and kitchen minutes this far down (rank-sum z, "
        "``detectors.trend.rank_z``).",
    )


@register
class NutritionDetector(TrendDetector):
    name = "nutrition"
    settings_model = NutritionSettings
    kind = SignalKind.NUTRITION
    features = ("kitchen_minutes", "kitchen_openings", "appliance_uses")
    rooms = frozenset({"kitchen"})

    def judge(self, base: np.ndarray, recent: np.ndarray, settings: Any) -> Judgement | None:
        ratios: dict[str, float] = {}
        for i, (name, floor) in enumerate(zip(self.features, _FLOORS, strict=True)):
            mb = float(base[:, i].mean())
            if mb >= floor:
                ratios[name] = float(recent[:, i].mean()) / mb
        if "kitchen_minutes" not in ratios:
            return None  # no kitchen motion to judge by
        mb, mr = float(base[:, 0].mean()), float(recent[:, 0].mean())
        z = rank_z(base[:, 0], recent[:, 0])
        index = float(np.mean(list(ratios.values())))
        trending = index <= settings.max_index and z <= -settings.min_z
        evidence = {
            "kitchen_index": round(index, 2),
            "ratios": {k: round(v, 2) for k, v in ratios.items()},
        }
        return Judgement(trending, mb, mr, z, evidence)

    def summary(self, j: Judgement, settings: Any) -> dict[str, str]:
        return texts(
            "Gebruikt de keuken minder: {now:.0f} minuten per dag in de laatste {days} "
            "dagen, gewoonlijk {usual:.0f} (koelkast, waterkoker en keuken samen {pct:.0f}% "
            "van gewoonlijk).",
            "Uses the kitchen less: {now:.0f} minutes a day over the last {days} days, "
            "usually {usual:.0f} (fridge, kettle and kitchen {pct:.0f}% of usual).",
            now=j.observed,
            usual=j.baseline,
            days=j.days,
            pct=100 * j.evidence["kitchen_index"],
        )
