"""``withdrawal``: less time out, fewer outings, visitors and common-room visits than the
resident's own past. Attention, welfare (loneliness, *eenzaamheid*).

Four daily features: ``outings`` (times the apartment went from home to away),
``time_out_minutes``, ``visitor_minutes`` (a second person present) and
``common_room_minutes`` (out while the common room shows movement). For each one the
resident has (a baseline mean above a small floor), the mean of the last
``recent_days`` usable days is divided by the mean of the ``baseline_days`` before
them; the *contact index* is the mean of those ratios. A trend when the index fell to
``max_index`` or below and the share of days with contact (out of the door, or a visitor
for at least ``visit_minutes``) fell ``min_z`` standard errors below the usual share. Days
away (more than
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
...           for c in d.on_day(day, None).candidates]
>>> [(c.kind.value, c.domain.value, c.detected_at.date().isoformat()) for c in raised]
[('withdrawal', 'welfare', '2026-02-25')]
>>> print(textwrap.fill(raised[0].summary["en"], 80))
Goes out and gets visitors less: out or visited on 7 of the last 14 days,
usually on 14.
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

_FLOORS = (0.2, 20.0, 10.0, 5.0)  # a measure counts when its baseline mean is at least this


class WithdrawalSettings(TrendSettings):
    scan_days: int = Field(
        14,
        ge=1,
        le=60,
        description="Recent windows tried: every this many days, up to recent_days (a week "
        "alone is ordinary life: a cold, bad weather; two weeks is the shortest judged).",
    )
    max_index: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="Contact (mean of the ratios recent / usual) at or below this.",
    )
    min_z: float = Field(
        2.25,
        ge=1,
        le=20,
        description="...and each day's minutes out or with a visitor this far down "
        "(rank-sum z, ``detectors.trend.rank_z``).",
    )
    visit_minutes: float = Field(
        15.0, ge=1, le=600, description="A visitor this long makes a day with contact."
    )


@register
class WithdrawalDetector(TrendDetector):
    name = "withdrawal"
    settings_model = WithdrawalSettings
    kind = SignalKind.WITHDRAWAL
    features = ("outings", "time_out_minutes", "visitor_minutes", "common_room_minutes")

    def judge(self, base: np.ndarray, recent: np.ndarray, settings: Any) -> Judgement | None:
        ratios: dict[str, float] = {}
        for i, (name, floor) in enumerate(zip(self.features, _FLOORS, strict=True)):
            mb = float(base[:, i].mean())
            if mb >= floor:
                ratios[name] = float(recent[:, i].mean()) / mb
        if not ratios:
            return None  # never out, never a visitor: nothing to decline from
        # each day's contact: minutes out of the door plus minutes with a visitor
        z = rank_z(base[:, 1] + base[:, 2], recent[:, 1] + recent[:, 2])
        # a day with contact: out of the door, or a visitor for a while (the summary)
        contact_b = (base[:, 0] > 0) | (base[:, 2] >= settings.visit_minutes)
        contact_r = (recent[:, 0] > 0) | (recent[:, 2] >= settings.visit_minutes)
        pb, pr = float(contact_b.mean()), float(contact_r.mean())
        index = float(np.mean(list(ratios.values())))
        trending = index <= settings.max_index and z <= -settings.min_z
        evidence = {
            "contact_index": round(index, 2),
            "ratios": {k: round(v, 2) for k, v in ratios.items()},
            "days": int(contact_r.size),
        }
        mb, mr = pb * contact_r.size, pr * contact_r.size
        return Judgement(trending, mb, mr, z, evidence)

    def summary(self, j: Judgement, settings: Any) -> dict[str, str]:
        return texts(
            "Gaat minder de deur uit en krijgt minder bezoek: op {now:.0f} van de laatste "
            "{days} dagen weg geweest of bezoek gehad, gewoonlijk op {usual:.0f}.",
            "Goes out and gets visitors less: out or visited on {now:.0f} of the last {days} "
            "days, usually on {usual:.0f}.",
            now=j.observed,
            usual=j.baseline,
            days=j.evidence["days"],
        )
