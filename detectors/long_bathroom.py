"""``long_bathroom``: in the bathroom (or on the toilet) far longer than usual. Urgent, care.

A stay begins with movement in the bathroom or toilet after movement elsewhere and ends
with movement in any other room. Each apartment learns its stays per room (the last
``window_stays``, only at home and alone); the alarm comes when a stay outlasts the
longest of them times ``factor`` plus ``margin_minutes``, at least ``min_minutes`` and
at most ``max_minutes`` (a long bath is learned, an hour on the floor is not). While
fewer than ``learn_stays`` stays are known: ``cold_minutes``.

No alarm while away, with a visitor during the stay, or when a quiet sensor could be why
nobody is seen leaving (see :mod:`detectors.rhythm`). One alarm per stay.

>>> from datetime import datetime, timedelta
>>> from zoneinfo import ZoneInfo
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> tz = ZoneInfo("Europe/Amsterdam")
>>> d = LongBathroomDetector(lambda apt: LongBathroomSettings(), tz=tz)
>>> state = FlatState(StateConfig())
>>> t0 = datetime(2026, 1, 5, 10, 0, tzinfo=tz)
>>> def ev(minutes, room, **kw):
...     ts = t0 + timedelta(minutes=minutes)
...     e = SensorEvent(ts=ts, received=ts, apartment="a1", room=room, device="motion",
...                     **({"occupancy": True} | kw))
...     state.apply(e)
...     return d.on_event(e, state)
>>> _ = ev(0, Room.HALL), ev(0.5, Room.BATHROOM), ev(25, Room.BATHROOM)
>>> due = d.next_due(); f"{due:%H:%M}"   # cold start: an hour and a half after going in
'11:30'
>>> _ = [ev(m, Room.HALL, occupancy=None, battery=90) for m in (30, 55, 80)]
>>> [(c.kind.value, c.evidence["room"]) for c in d.on_tick(due, state).candidates]
[('long_bathroom', 'bathroom')]
"""

from __future__ import annotations

import logging
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from detectors.base import Candidate, register
from detectors.rhythm import RhythmDetector, RhythmSettings, Silence, minutes, quantile
from detectors.text import hhmm, texts
from edge.models import Room, SensorEvent, SignalKind

if TYPE_CHECKING:
    from edge.state import ApartmentState

logger = logging.getLogger(__name__)

WET = frozenset({Room.BATHROOM.value, Room.TOILET.value})


class LongBathroomSettings(RhythmSettings):
    learn_stays: int = Field(
        14, ge=3, le=500, description="Stays in a room before its own limit is learned."
    )
    window_stays: int = Field(60, ge=10, le=1000, description="The most recent stays learned from.")
    quantile: float = Field(
        1.0, ge=0.5, le=1.0, description="The long end of the usual stays (1: the longest)."
    )
    factor: float = Field(1.25, ge=1.0, le=5.0, description="'Far longer': this many times it...")
    margin_minutes: float = Field(15.0, ge=0, le=240, description="...plus this.")
    min_minutes: float = Field(40.0, ge=10, le=600, description="Never alarm on a shorter stay.")
    max_minutes: float = Field(
        100.0, ge=20, le=600, description="Nor wait longer than this, whatever was learned."
    )
    cold_minutes: float = Field(90.0, ge=10, le=600, description="While learning: this long.")


@dataclass(slots=True)
class Stay:
    room: str
    start: datetime
    clean: bool = True
    raised: bool = False


@register
class LongBathroomDetector(RhythmDetector):
    name = "long_bathroom"
    settings_model = LongBathroomSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stays: dict[str, dict[str, array[float]]] = {}
        """apartment -> room -> the last stays learned (minutes; arrays of doubles)."""
        self._stay: dict[str, Stay] = {}
        self._usual: dict[tuple[str, str], float] = {}
        """The usual long stay per (apartment, room), worked out again when a stay is learned."""

    def moved(self, apt: str, event: SensorEvent, st: ApartmentState) -> None:
        stay = self._stay.get(apt)
        prev = self._sil.get(apt)
        if stay is not None and (prev is not None and not prev.clean):
            stay.clean = False
        room = event.room.value
        if stay is not None and room == stay.room:
            return
        if stay is not None:
            del self._stay[apt]
            took = minutes(event.ts - stay.start)
            if stay.clean and took <= 240:
                s = self.settings(apt)
                kept = self._stays.setdefault(apt, {}).setdefault(stay.room, array("d"))
                kept.append(round(took, 1))
                if len(kept) > s.window_stays:
                    del kept[: len(kept) - s.window_stays]
                self._usual.pop((apt, stay.room), None)
        if room in WET:
            self._stay[apt] = Stay(room, event.ts, not st.second_person(event.ts))

    def limit(self, apt: str, room: str) -> tuple[float, float | None]:
        """The alarm limit for a stay in ``room`` (minutes) and the usual long stay behind
        it (``None`` while learning)."""
        s = self.settings(apt)
        kept = self._stays.get(apt, {}).get(room, ())
        if len(kept) < s.learn_stays:
            return s.cold_minutes, None
        usual = self._usual.get((apt, room))
        if usual is None:
            usual = self._usual[(apt, room)] = quantile(kept, s.quantile)
        lim = (s.factor * usual + s.margin_minutes) * self.widen(apt)
        return round(min(s.max_minutes, max(s.min_minutes, lim)), 1), usual

    def due(self, apt: str, sil: Silence, st: ApartmentState) -> datetime | None:
        stay = self._stay.get(apt)
        if stay is None or not stay.clean or stay.raised:
            return None
        lim, _ = self.limit(apt, stay.room)
        due = stay.start + timedelta(minutes=lim)
        due = due if due > sil.last else sil.last + timedelta(minutes=1)
        if not self.seen_staying(apt, stay, sil):
            # seen only while a visit lasts: the resident may have left unseen
            extra = self.allowance(apt, sil.last)
            due = max(due, sil.last + timedelta(minutes=extra))
        return due

    def seen_staying(self, apt: str, stay: Stay, sil: Silence) -> bool:
        """Was the resident seen in the room after the longest of its learned stays had
        ended? Then they are still in there (an unwell resident still trips the PIR now
        and then); else the silence since may be them gone on unseen."""
        kept = self._stays.get(apt, {}).get(stay.room)
        return kept is not None and bool(kept) and minutes(sil.last - stay.start) > max(kept)

    def alarm(self, apt: str, sil: Silence, at: datetime, st: ApartmentState) -> Candidate | None:
        stay = self._stay.get(apt)
        if stay is None or not stay.clean:
            return None
        lim, usual = self.limit(apt, stay.room)
        took = minutes(at - stay.start)
        stay.raised = True
        return Candidate(
            kind=SignalKind.LONG_BATHROOM,
            apartment=apt,
            start=stay.start,
            detected_at=at,
            summary=texts(
                "Bewoner is sinds {since} in {room} ({minutes} min; {usual_nl}): ga kijken.",
                "Resident has been in {room} since {since} ({minutes} min; {usual_en}): "
                "go and check.",
                room=stay.room,
                since=hhmm(stay.start.astimezone(self.tz)),
                minutes=f"{took:.0f}",
                # (no baseline yet: say so, never a "?" on a phone)
                usual_nl=f"anders hooguit {usual:.0f} min"
                if usual is not None
                else "nog geen vergelijking: de hub leert deze woning nog",
                usual_en=f"usually at most {usual:.0f} min"
                if usual is not None
                else "nothing to compare yet: the hub is still learning this home",
            ),
            evidence={
                "room": stay.room,
                "rule": "learned" if usual is not None else "cold",
                "baseline_minutes": usual,
                "threshold_minutes": lim,
                "observed_minutes": round(took, 1),
                "window": [stay.start.isoformat(), at.isoformat()],
                "last_movement": sil.last.isoformat(),
                "stays_learned": len(self._stays.get(apt, {}).get(stay.room, [])),
            },
            key=stay.start.isoformat(),
        )

    def scores(self) -> dict[str, dict[str, float]]:
        """Per apartment, the bathroom (else the toilet): the usual long stay, the latest
        stay and that over the limit (minutes; 1 = alarm)."""
        out: dict[str, dict[str, float]] = {}
        for apt, rooms in sorted(self._stays.items()):
            for room in (Room.BATHROOM.value, Room.TOILET.value):
                kept = rooms.get(room)
                if not kept:
                    continue
                lim, usual = self.limit(apt, room)
                if usual is None:
                    continue
                out[apt] = {
                    "baseline": usual,
                    "observed": kept[-1],
                    "score": round(kept[-1] / lim, 3),
                }
                break
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "stays": {
                a: {room: v.tolist() for room, v in sorted(r.items())}
                for a, r in sorted(self._stays.items())
            },
            "stay": {
                a: {
                    "room": s.room,
                    "start": s.start.isoformat(),
                    "clean": s.clean,
                    "raised": s.raised,
                }
                for a, s in sorted(self._stay.items())
            },
        }

    def load_state(self, data: dict[str, Any]) -> None:
        super().load_state(data)
        self._usual.clear()
        self._stays = {
            a: {r: array("d", [float(x) for x in v]) for r, v in rooms.items()}
            for a, rooms in data.get("stays", {}).items()
        }
        self._stay = {
            a: Stay(v["room"], datetime.fromisoformat(v["start"]), v["clean"], v["raised"])
            for a, v in data.get("stay", {}).items()
        }
