"""Event time for the whole hub, guarded against clocks that are plainly wrong.

The stream clock is the latest accepted event time; it never goes backwards. A message
whose time is far outside it (a sensor hub with its clock at 1970, or a year ahead) is
*quarantined*: kept in the dead-letter store, not allowed to move event time. Messages a
little late (out of order) are accepted and processed with their own time; the clock
stays where it was. When several quarantined messages in a row agree with each other, the
stream's clock really did jump (an NTP correction after a long outage): the guard
re-anchors on them and says so loudly.

>>> from datetime import datetime, timedelta, timezone
>>> g = ClockGuard(ClockConfig())
>>> t0 = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
>>> g.check(t0).accepted, g.now == t0
(True, True)
>>> v = g.check(t0 + timedelta(days=365))
>>> v.accepted, v.reason[:50]
(False, 'clock: 2027-01-05T07:00:00+00:00 is 365 days ahead')
>>> g.check(t0 - timedelta(seconds=30)).accepted, g.now == t0
(True, True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)


class ClockConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_valid: datetime = Field(
        datetime.fromisoformat("2015-01-01T00:00:00+00:00"),
        description="Times before this are never real (an unset clock reads 1970).",
    )
    max_ahead_hours: float = Field(
        24 * 14,
        gt=0,
        description="A message this far ahead of the stream clock is quarantined "
        "(a gateway that was down for longer re-anchors after `reanchor_after` messages).",
    )
    max_late_hours: float = Field(
        6.0,
        gt=0,
        description="A message this far behind the stream clock is quarantined as too late.",
    )
    reanchor_after: int = Field(
        20,
        ge=2,
        le=10000,
        description="This many quarantined messages in a row, agreeing within an hour, "
        "mean the stream's clock really moved: follow it.",
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: bool
    reason: str = ""
    reanchored: bool = False


_ACCEPT = Verdict(True)


def _fmt_gap(delta: timedelta) -> str:
    secs = abs(delta.total_seconds())
    if secs >= 2 * 86400:
        return f"{secs / 86400:.0f} days"
    if secs >= 2 * 3600:
        return f"{secs / 3600:.0f} hours"
    return f"{secs / 60:.0f} minutes"


class ClockGuard:
    """Decides, per message, whether its event time can be trusted."""

    def __init__(self, config: ClockConfig) -> None:
        self.config = config
        self.now: datetime | None = None
        self._ahead = timedelta(hours=config.max_ahead_hours)
        self._late = timedelta(hours=config.max_late_hours)
        self._suspects: list[datetime] = []
        self.quarantined = 0
        self.reanchors = 0

    def check(self, ts: datetime) -> Verdict:
        """Accept ``ts`` (and move the clock forward to it) or say why not."""
        now = self.now
        if now is not None and now - self._late <= ts <= now + self._ahead:
            self._suspects.clear()
            if ts > now:
                self.now = ts
            return _ACCEPT
        if ts < self.config.min_valid:
            self.quarantined += 1
            return Verdict(
                False, f"clock: {ts.isoformat()} is before {self.config.min_valid.date()}"
            )
        if now is None:
            self.now = ts
            return _ACCEPT
        return self._suspect(ts, now)

    def _suspect(self, ts: datetime, now: datetime) -> Verdict:
        if self._suspects and abs(ts - self._suspects[-1]) > timedelta(hours=1):
            self._suspects.clear()
        self._suspects.append(ts)
        if len(self._suspects) >= self.config.reanchor_after:
            self._suspects.clear()
            self.reanchors += 1
            logger.warning(
                "Stream clock re-anchored from %s to %s after %d agreeing messages",
                now.isoformat(),
                ts.isoformat(),
                self.config.reanchor_after,
            )
            self.now = ts
            return Verdict(True, reanchored=True)
        self.quarantined += 1
        side = "ahead of" if ts > now else "behind"
        gap = _fmt_gap(ts - now)
        return Verdict(
            False, f"clock: {ts.isoformat()} is {gap} {side} the stream clock {now.isoformat()}"
        )
