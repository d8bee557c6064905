"""``withdrawal``: less time out, fewer outings, visitors and common-room visits than the
resident's own past. Attention, welfare (loneliness, *eenzaamheid*).

Four daily features: ``outings`` (times the apartment went from home to away),
``time_out_minutes``, ``visitor_minutes`` (a second person present) and
``common_room_minutes`` (out while the common room shows movement). For each one the
resident has (a baseline mean above a small floor), the mean of the last
``recent_days`` usable days is divided by the mean of the ``baseline_days`` before
them; the *contact index* is the mean of those ratios. A trend when the index fell to
``max_index`` or below and outings plus visits together (time out and visitor minutes)
fell by ``min_z`` standard errors of their day-to-day spread. Days away (more than
``away_minutes`` out: holiday, hospital) are left out, so coming back from a holiday is
no decline either.

>>> import textwrap
>>> from datetime import date
>>> from detectors.trend import example_days
>>> d = WithdrawalDetector(lambda apt: WithdrawalSettings())
>>> usual = [{"outings": 1.0 + i % 2, "time_out_minutes": 90.0 + 30 * (i % 3),
...           "visitor_minutes": 60.0 * (i % 4 == 0), "common_room_minutes": 0.0}
...          for i in range(42)]
>>> alone = [{"outings": float(i % 5 == 0), "time_out_minutes": 40.0 * (i % 5 == 0),
...           "visitor_minutes": 0.0, "common_room_minutes": 0.0} for i in range(21)]
>>> raised = [c for day in example_days("a1", date(2026, 1, 5), usual + alone)
...           for c in d.on_day(day, None)]
>>> [(c.kind.value, c.domain.value, c.detected_at.date().isoformat()) for c in raised]
[('withdrawal', 'welfare', '2026-03-02')]
>>> print(textwrap.fill(raised[0].summary["en"], 80))
Goes out and gets visitors less: 53 minutes a day out or with a visitor over the
last 3 weeks, usually 135.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import Field

from detectors.base import register
from detectors.text import texts
from detectors.trend import Judgement, TrendDetector, TrendSettings, rate_change
from edge.models import Domain, SignalKind

logger = logging.getLogger(__name__)

_FLOORS = (0.2, 20.0, 10.0, 5.0)  # a measure counts when its baseline mean is at least this


class WithdrawalSettings(TrendSettings):
    recent_days: int = Field(
        21, ge=3, le=60, description="The recent window judged against that past (days)."
    )
    max_index: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Contact (mean of the ratios recent / usual) at or below this: halved.",
    )
    min_z: float = Field(
        3.5, ge=1, le=20, description="...and minutes out or with visitors this far down."
    )


@register
class WithdrawalDetector(TrendDetector):
    name = "withdrawal"
    settings_model = WithdrawalSettings
    kind = SignalKind.WITHDRAWAL
    domain = Domain.WELFARE
    features = ("outings", "time_out_minutes", "visitor_minutes", "common_room_minutes")

    def judge(self, base: np.ndarray, recent: np.ndarray, settings: Any) -> Judgement | None:
        ratios: dict[str, float] = {}
        for i, (name, floor) in enumerate(zip(self.features, _FLOORS, strict=True)):
            mb, mr, _ = rate_change(base[:, i], recent[:, i], floor=floor)
            if mb >= floor:
                ratios[name] = mr / mb
        if not ratios:
            return None  # never out, never a visitor: nothing to decline from
        contact_b = base[:, 1] + base[:, 2]
        contact_r = recent[:, 1] + recent[:, 2]
        mb, mr, z = rate_change(contact_b, contact_r, floor=20.0)
        index = float(np.mean(list(ratios.values())))
        trending = index <= settings.max_index and z <= -settings.min_z
        evidence = {
            "contact_index": round(index, 2),
            "ratios": {k: round(v, 2) for k, v in ratios.items()},
        }
        return Judgement(trending, mb, mr, z, evidence)

    def summary(self, j: Judgement, settings: Any) -> dict[str, str]:
        return texts(
            "Gaat minder de deur uit en krijgt minder bezoek: {now:.0f} minuten per dag weg "
            "of met bezoek in de laatste {weeks} weken, gewoonlijk {usual:.0f}.",
            "Goes out and gets visitors less: {now:.0f} minutes a day out or with a visitor "
            "over the last {weeks} weeks, usually {usual:.0f}.",
            now=j.observed,
            usual=j.baseline,
            weeks=round(settings.recent_days / 7),
        )
