"""``inactivity``: no movement at home for far longer than usual at this time of day.
Urgent, care.

Each apartment's rhythm is learned per hour of the day: for every hour of the last
``window_days`` days, the longest the home had been silent at any moment of that hour
(only silences while the resident was at home, alone and out of bed count: a night's
sleep is never alarmed on, and learned it would make the evening's usual silence the
night's). At hour *h* the usual silence is the ``quantile`` of those values over the hours
*h-1*, *h*, *h+1*; the alarm comes when the current silence exceeds ``factor`` times that
plus ``margin_minutes`` (never less than ``min_minutes``). An hour with too few values to
learn from (the resident is in bed or out then, as a rule) keeps the threshold of the hour
before it: a silence in the chair that runs on into the night is found as in the evening.

Until ``learn_days`` days are known a conservative rule holds: a silence that began
between ``cold_from`` and ``cold_until`` and lasts ``cold_minutes`` (an evening's may end
in the night: a faint in the chair at 19:00 is found at 22:00), unless by then, in the
evening or at night, a bed pad is occupied (someone went to bed: the night is not
learned yet). From ``early_days`` days on, that limit learns from the home's first days:
``factor`` times the longest silence seen so far at any hour plus ``margin_minutes``,
when that is longer (at most ``cold_max_minutes``). A resident who dozes off in the
chair for two and a half hours on the first afternoon is not paged for the three hours
of the third: a home with a PIR that hardly sees a seated resident shows it in days.

No alarm while the resident is out or away (the apartment's ``presence``), when a
visitor was there during the silence (visitors' movements are not the resident's; the
silence then teaches nothing either), when the last movement was the front door, or when
the resident went to bed (last seen in the bedroom with the bed pad occupied, or in the
evening or night): a morning in bed is ``no_wake``'s. A quiet sensor holds the alarm back
and goes to housing (see :mod:`detectors.rhythm`). One alarm per silence.

>>> from datetime import datetime, timedelta
>>> from zoneinfo import ZoneInfo
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> tz = ZoneInfo("Europe/Amsterdam")
>>> d = InactivityDetector(lambda apt: InactivitySettings(), tz=tz)
>>> state = FlatState(StateConfig())
>>> t0 = datetime(2026, 1, 5, 9, 0, tzinfo=tz)
>>> def ev(minutes, room=Room.LIVING, **kw):
...     ts = t0 + timedelta(minutes=minutes)
...     e = SensorEvent(ts=ts, received=ts, apartment="a1", room=room, device="motion",
...                     **({"occupancy": True} | kw))
...     state.apply(e)
...     return d.on_event(e, state)
>>> _ = ev(-1, Room.HALL), ev(0)   # 09:00 walks into the living room, then nothing
>>> due = d.next_due(); f"{due:%H:%M}"   # cold start: three hours later
'12:00'
>>> _ = [ev(m, r, occupancy=None, battery=90)   # hourly reports: the sensors live
...      for m in range(30, 241, 55) for r in (Room.LIVING, Room.HALL)]
>>> [(c.kind.value, c.severity.value, c.evidence["rule"]) for c in d.on_tick(due, state).candidates]
[('inactivity', 'urgent', 'cold')]
"""

from __future__ import annotations

import logging
import sys
from array import array
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from detectors.base import Candidate, register, spliced_json
from detectors.rhythm import RhythmDetector, RhythmSettings, Silence, minutes, quantile
from detectors.text import hhmm, texts
from edge.i18n import duration
from edge.models import Room, SensorEvent, SignalKind
from edge.state import is_pad

if TYPE_CHECKING:
    from collections.abc import Iterator

    from edge.state import ApartmentState

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
NEVER = float("inf")
_NO_HOURS = [-1.0] * 24
"""A day's row before any silence is learned in it. The learned history: apartment ->
local day (ISO, interned: one string a day) -> per hour the longest silence in it
(minutes, -1: none), an array of doubles (a third of a list of floats' memory)."""


def _hist_json(
    hist: dict[str, dict[str, array[float]]],
) -> Iterator[tuple[str, dict[str, list[float]]]]:
    """Each apartment's learned history as the saved state keeps it (lists, days sorted),
    made one apartment at a time."""
    for apt, days in sorted(hist.items()):
        yield apt, {d: r.tolist() for d, r in sorted(days.items())}


Cold = tuple[float, float | None]
"""The cold rule's limit (minutes) and the longest silence behind it (``None``: too few
days yet, the fixed ``cold_minutes``)."""


class InactivitySettings(RhythmSettings):
    quantile: float = Field(
        1.0,
        ge=0.5,
        le=1.0,
        description="The long end of the usual silences at this hour (1: longest).",
    )
    factor: float = Field(1.5, ge=1.0, le=5.0, description="'Far longer': this many times it...")
    margin_minutes: float = Field(30.0, ge=0, le=240, description="...plus this.")
    min_minutes: float = Field(
        120.0, ge=15, le=24 * 60, description="Never alarm on a shorter silence."
    )
    cold_minutes: float = Field(
        180.0, ge=30, le=24 * 60, description="While learning: a daytime silence this long."
    )
    cold_from: time = Field(
        time(8, 0), description="While learning: a silence that begins from this time..."
    )
    cold_until: time = Field(
        time(21, 0),
        description="...until this (local time) raises the alarm after cold_minutes, "
        "unless a bed pad is occupied by then in the evening or at night.",
    )
    early_days: int = Field(
        2,
        ge=1,
        le=90,
        description="While learning: from this many days on, the cold limit grows with "
        "the longest silence seen so far (factor times it plus margin)...",
    )
    cold_max_minutes: float = Field(360.0, ge=30, le=24 * 60, description="...up to this.")
    evening: time = Field(
        time(20, 0), description="Last seen in the bedroom after this (or before 06:00): asleep."
    )


def usual_words(base: float | None, learned: bool, lang: str) -> str:
    """What a silence is compared with, in words (never a "?" on a phone)."""
    if base is None:
        return "nog geen vast ritme bekend" if lang == "nl" else "no rhythm learned yet"
    if not learned:
        return (
            f"sinds de installatie hooguit {duration(base, 'nl')}"
            if lang == "nl"
            else f"at most {duration(base, 'en')} since the hub was installed"
        )
    return (
        f"normaal op dit uur hooguit {duration(base, 'nl')}"
        if lang == "nl"
        else f"usually at most {duration(base, 'en')} at this hour"
    )


def cold_limit(s: InactivitySettings, longest: float, widen: float) -> Cold:
    """The cold rule's limit once the first days showed a silence of ``longest`` min."""
    grown = (s.factor * longest + s.margin_minutes) * widen
    return round(min(s.cold_max_minutes, max(s.cold_minutes, grown)), 1), longest


@register
class InactivityDetector(RhythmDetector):
    name = "inactivity"
    settings_model = InactivitySettings
    unseen_stays = False  # (any silence is its own: it allows for no missed walk)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hist: dict[str, dict[str, array[float]]] = {}  # (see _NO_HOURS)
        self._thr: dict[str, tuple[date, list[float], list[float], bool, Cold]] = {}
        self._to_bed: set[str] = set()
        """Apartments whose silence began with the resident going to bed."""

    # --- learning ----------------------------------------------------------------------

    def moved(self, apt: str, event: SensorEvent, st: ApartmentState) -> None:
        """Note whether the silence that begins now is the resident gone to bed."""
        if self._in_bed(event.room.value, event.ts, st):
            self._to_bed.add(apt)
        else:
            self._to_bed.discard(apt)

    def learn(self, apt: str, sil: Silence, end: datetime, event: SensorEvent) -> None:
        """Per local hour touched by the silence, the longest it had lasted in that hour.
        A night's sleep (or a rest in bed) is not learned: it is never alarmed on, and it
        would set the evening's usual silence by the night's."""
        if apt in self._to_bed:
            return
        hist = self._hist.setdefault(apt, {})
        a = sil.last
        hour = a.astimezone(self.tz).replace(minute=0, second=0, microsecond=0)
        cached = self._thr.get(apt)
        while hour < end:
            stop = min(end, hour + HOUR)
            local = hour.astimezone(self.tz)
            day = local.date()
            row = hist.get(day.isoformat())
            if row is None:
                row = hist[sys.intern(day.isoformat())] = array("d", _NO_HOURS)
                keep = self.settings(apt).window_days + 1
                if len(hist) > keep:
                    for old in sorted(hist)[: len(hist) - keep]:
                        del hist[old]
            m = round(minutes(stop - a), 1)
            if m > row[local.hour]:
                row[local.hour] = m
                if cached is not None and day < cached[0]:
                    del self._thr[apt]  # an earlier day changed: thresholds are its function
                    cached = None
            hour = (hour + HOUR).astimezone(self.tz)

    def soonest(self, apt: str, sil: Silence) -> timedelta | None:
        day = sil.last.astimezone(self.tz).date()
        thr, _, learned = self.thresholds(apt, day)
        if not learned:
            return timedelta(minutes=self.cold(apt, day)[0])
        low = min(thr)
        return timedelta(minutes=low) if low < NEVER else timedelta(days=1)

    def thresholds(self, apt: str, day: date) -> tuple[list[float], list[float], bool]:
        """Per local hour of ``day``: the alarm threshold and the usual silence (minutes),
        and whether they are learned (else the cold rule holds)."""
        cached = self._thr.get(apt)
        _, thr, usual, learned, _ = (
            cached if cached is not None and cached[0] == day else self._compute(apt, day)
        )
        return thr, usual, learned

    def cold(self, apt: str, day: date) -> Cold:
        """The cold rule's limit on ``day`` and the longest silence behind it."""
        cached = self._thr.get(apt)
        return (cached if cached is not None and cached[0] == day else self._compute(apt, day))[4]

    def _compute(self, apt: str, day: date) -> tuple[date, list[float], list[float], bool, Cold]:
        s = self.settings(apt)
        hist = self._hist.get(apt, {})
        today = day.isoformat()
        days = [d for d in sorted(hist) if d < today][-s.window_days :]
        thr = [NEVER] * 24
        usual = [NEVER] * 24
        learned = len(days) >= s.learn_days
        if learned:
            for h in range(24):
                vals = [
                    v
                    for d in days
                    for hh in ((h - 1) % 24, h, (h + 1) % 24)
                    if (v := hist[d][hh]) >= 0
                ]
                if len(vals) < s.learn_days:
                    continue
                u = quantile(vals, s.quantile)
                usual[h] = round(u, 1)
                grown = (s.factor * u + s.margin_minutes) * self.widen(apt)
                thr[h] = round(max(s.min_minutes, grown), 1)
        cold: Cold = (s.cold_minutes, None)
        if not learned and len(days) >= s.early_days:
            longest = max((v for d in days for v in hist[d]), default=-1.0)
            if longest >= 0:
                cold = cold_limit(s, longest, self.widen(apt))
        found = self._thr[apt] = (day, thr, usual, learned, cold)
        return found

    # --- when -------------------------------------------------------------------------

    def _asleep(self, sil: Silence, st: ApartmentState) -> bool:
        return self._in_bed(sil.room, sil.last, st)

    def _in_bed(self, room: str, since: datetime, st: ApartmentState) -> bool:
        """Last seen in the bedroom, with its bed pad occupied, or in the evening or night."""
        if room != Room.BEDROOM.value:
            return False
        return self._bed_occupied(st) or self._night(st.apartment, since)

    def _bed_occupied(self, st: ApartmentState) -> bool:
        return any(
            sensor.occupied
            and sid.split("/")[1] == Room.BEDROOM.value  # (a chair pad is no bed)
            and is_pad(sid.rsplit("/", 1)[-1], self.roles.get(sid))
            for sid, sensor in st.sensors.items()
        )

    def _night(self, apt: str, at: datetime) -> bool:
        t = at.astimezone(self.tz).time()
        return t >= self.settings(apt).evening or t < time(6, 0)

    def due(self, apt: str, sil: Silence, st: ApartmentState) -> datetime | None:
        if not sil.clean or sil.room == Room.ENTRANCE.value or self._asleep(sil, st):
            return None
        s = self.settings(apt)
        a = sil.last
        local = a.astimezone(self.tz)
        thr, usual, learned = self.thresholds(apt, local.date())
        if not learned:
            if not s.cold_from <= local.time() < s.cold_until:
                return None
            due = a + timedelta(minutes=self.cold(apt, local.date())[0])
            if self._night(apt, due) and self._bed_occupied(st):
                return None  # someone is in bed: the evening ended unseen (or a partner's)
            return due
        found = self._learned_due(apt, a, thr, usual)
        return None if found is None else found[0]

    def _learned_due(
        self, apt: str, a: datetime, thr: list[float], usual: list[float]
    ) -> tuple[datetime, float, float] | None:
        """When a silence since ``a`` goes past the threshold of the hour it has reached,
        with that threshold and its usual silence. An hour without a learned threshold
        (the resident is asleep or out then, as a rule) keeps the one before it: a
        silence out of bed that runs on into the night is no more usual than before."""
        hour = a.astimezone(self.tz).replace(minute=0, second=0, microsecond=0)
        held: tuple[float, float] | None = None
        for _ in range(30):
            stop = hour + HOUR
            h = hour.astimezone(self.tz).hour
            if thr[h] < NEVER:
                held = (thr[h], usual[h])
            if held is not None:
                due = a + timedelta(minutes=held[0])
                if due < stop:
                    return max(due, hour), held[0], held[1]
            hour = stop.astimezone(self.tz)
        return None

    def alarm(self, apt: str, sil: Silence, at: datetime, st: ApartmentState) -> Candidate | None:
        if self._night(apt, at) and self._bed_occupied(st):
            return None  # someone went to bed unseen (or a partner did): not this alarm
        thr, usual, learned = self.thresholds(apt, sil.last.astimezone(self.tz).date())
        observed = minutes(at - sil.last)
        limit, base = self.cold(apt, sil.last.astimezone(self.tz).date())
        if learned:
            found = self._learned_due(apt, sil.last, thr, usual)
            if found is not None:
                _, limit, base = found
        evidence: dict[str, Any] = {
            "rule": "learned" if learned else "cold",
            "baseline_minutes": base,
            "threshold_minutes": limit,
            "observed_minutes": round(observed, 1),
            "window": [sil.last.isoformat(), at.isoformat()],
            "last_room": sil.room,
            "learned_days": len(self._hist.get(apt, {})),
            "presence": st.presence,
        }
        return Candidate(
            kind=SignalKind.INACTIVITY,
            apartment=apt,
            start=sil.last,
            detected_at=at,
            summary=texts(
                "Sinds {since} geen beweging gezien ({hours}, laatst in {room}); "
                "{usual_nl}: ga kijken.",
                "No movement seen since {since} ({hours_en}, last in {room}); "
                "{usual_en}: go and check.",
                room=sil.room,
                since=hhmm(sil.last.astimezone(self.tz)),
                hours=duration(observed, "nl"),
                hours_en=duration(observed, "en"),
                usual_nl=usual_words(base, learned, "nl"),
                usual_en=usual_words(base, learned, "en"),
            ),
            evidence=evidence,
            key=sil.last.isoformat(),
        )

    # --- history and persistence -------------------------------------------------------

    def scores(self) -> dict[str, dict[str, float]]:
        """Per apartment: the usual daytime silence (median over 08-21 h of the learned
        usual, minutes), the longest daytime silence of the last finished day, and how far
        that went towards the alarm (observed / threshold at that hour, 1 = alarm)."""
        out: dict[str, dict[str, float]] = {}
        for apt, hist in sorted(self._hist.items()):
            if not hist:
                continue
            last_day = max(hist)
            row = hist[last_day]
            thr, usual, learned = self.thresholds(apt, date.fromisoformat(last_day))
            if not learned:
                continue
            day_hours = range(8, 21)
            known = sorted(usual[h] for h in day_hours if usual[h] < NEVER)
            if not known:
                continue
            observed = max((row[h] for h in day_hours), default=-1.0)
            ratio = max(
                (row[h] / thr[h] for h in day_hours if row[h] >= 0 and thr[h] < NEVER), default=0.0
            )
            out[apt] = {
                "baseline": known[len(known) // 2],
                "observed": max(observed, 0.0),
                "score": round(ratio, 3),
            }
        return out

    def state_dict(self) -> dict[str, Any]:
        return {**_plain_state(self), "hist": dict(_hist_json(self._hist))}

    def state_text(self) -> str:
        return spliced_json(_plain_state(self), hist=_hist_json(self._hist))

    def load_state(self, data: dict[str, Any]) -> None:
        super().load_state(data)
        self._hist = {
            k: {sys.intern(d): array("d", [float(x) for x in r]) for d, r in v.items()}
            for k, v in data.get("hist", {}).items()
        }
        self._thr = {}
        self._to_bed = set(data.get("to_bed", []))


def _plain_state(det: InactivityDetector) -> dict[str, Any]:
    """Its saved state but the learned history (made apart: :func:`_hist_json`)."""
    return {**RhythmDetector.state_dict(det), "to_bed": sorted(det._to_bed)}
