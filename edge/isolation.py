"""A detector's fault never silences another detector (issue 19).

Every call into a detector (``on_event``, ``on_tick``, ``on_day``, ``next_due``, its
state saved and restored) runs isolated: an exception is logged with the detector, the
apartment and the traceback, counted, and the detector is *quarantined* for that
apartment: not called for it again until the hub restarts, its state kept as it was.
Every other detector goes on, and the urgent sources (``sos``, ``fall``) run first for
each event. A call that serves all apartments at once (``on_tick``, ``next_due``) is
quarantined for the flat (``*``), since it cannot say which apartment failed.

>>> q = Quarantine()
>>> q.blocked("fall", "a012")
False
>>> q.failed("low_battery", "a012", "on_event", KeyError("battery"))
>>> q.blocked("low_battery", "a012"), q.blocked("low_battery", "a013")
(True, False)
>>> q.view()
[{'detector': 'low_battery', 'apartment': 'a012', 'error': "on_event: KeyError: 'battery'"}]
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

logger = logging.getLogger(__name__)

URGENT_FIRST = ("sos", "fall")
"""Detectors that see each event before all others: a care alarm's own sources."""

FLAT = "*"
"""The apartment of a quarantine that holds for every apartment."""


def urgent_first(names: list[str]) -> list[str]:
    """``names`` with the urgent sources first, the rest in their order.

    >>> urgent_first(["battery", "fall_silence", "sos", "fall", "no_wake"])
    ['sos', 'fall', 'battery', 'fall_silence', 'no_wake']
    """
    first = [n for n in URGENT_FIRST if n in names]
    return first + [n for n in names if n not in URGENT_FIRST]


class Quarantine:
    """Which detector is quarantined for which apartment, and why."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], str] = {}
        """(detector, apartment or ``*``) -> the call and error that put it here."""
        self.errors: Counter[str] = Counter()
        """Failures per detector (a quarantined pair fails once; a save can fail often)."""

    def blocked(self, detector: str, apartment: str) -> bool:
        pairs = self.pairs
        return bool(pairs) and ((detector, apartment) in pairs or (detector, FLAT) in pairs)

    def failed(self, detector: str, apartment: str, hook: str, err: BaseException) -> None:
        """``detector``'s ``hook`` raised ``err`` for ``apartment``: log it and quarantine."""
        self.errors[detector] += 1
        why = f"{hook}: {type(err).__name__}: {err}"[:300]
        if (detector, apartment) not in self.pairs:
            where = "every apartment" if apartment == FLAT else f"apartment {apartment}"
            logger.error(
                "Detector %s failed in %s for %s and is quarantined there (not called for it "
                "again until the hub restarts; its state is kept); every other detector "
                "goes on",
                detector,
                hook,
                where,
                exc_info=err,
            )
        self.pairs[(detector, apartment)] = why

    def note(self, detector: str, hook: str, err: BaseException) -> None:
        """A failure that quarantines nothing (saving or restoring a detector's state)."""
        self.errors[detector] += 1
        logger.error("Detector %s failed in %s; the hub carries on", detector, hook, exc_info=err)

    @property
    def total(self) -> int:
        return sum(self.errors.values())

    def view(self) -> list[dict[str, Any]]:
        """The quarantined pairs, for the health topic and the replay's summary."""
        return [
            {"detector": d, "apartment": a, "error": why}
            for (d, a), why in sorted(self.pairs.items())
        ]
