"""``fall_silence``: a fall without a fall sensor. Movement stops where people do not stay
still (walking through the hall, in the kitchen, on the toilet, up and about in the
bedroom), no door opens, and it stays silent far longer than usual *for that place*.
Kind ``fall``, urgent, care.

Where the silence began says a lot: after walking into the kitchen or the hall a person
is seen again within minutes; in the armchair or in bed they may sit or sleep for hours.
So each apartment learns, per place, the longest silence of each day (the last
``window_days`` days, only silences at home and alone). A place is a room, split by its
bed or chair pads where it has one for each resident (the config's ``residents``): "in
the living room, chair pad occupied" (resting) is another place than "in the living
room, chair pad empty" (standing, walking, or on the floor). In a couple's home with one
chair pad the living room is not split: the other resident may rest in another chair.
The alarm comes when the silence exceeds ``factor`` times the longest of those days plus
``margin_minutes`` (at least ``min_minutes``). Places where that comes out above
``max_minutes``, and a room while its pad is occupied (the resident is on the bed or the
chair, not on the floor), are resting places: there a long silence is the ``inactivity``
detector's, which compares it with the time of day. So is any place, for a resident
living alone, when a pad elsewhere was taken just before the silence's last movement and
is still occupied (``PAD_SKEW``): the walk to the armchair was reported after the chair
pad. While a place has fewer than ``learn_days`` days, the cold rule holds only for the
places nobody rests in and only by day (from ``cold_from`` to ``cold_until``; the last
movement of the evening may be in any room when a bedroom has no sensor):
``cold_minutes``. Those places are the hall, kitchen, toilet and bathroom, and a room
split by its pads while they are empty once ``early_days`` days have shown only short
silences there (under ``cold_minutes`` divided by ``factor``: the resident rests on the
pad, not elsewhere in the room). Without a pad a living room is a resting place from the
start: a fall there looks like sitting still, and only ``inactivity`` finds it, hours
later.

The last movement at the front door means out or a visitor: no alarm. Away, a visitor,
or a quiet sensor: as for ``inactivity`` (see :mod:`detectors.rhythm`). One alarm per
silence.

>>> from datetime import datetime, time, timedelta
>>> from zoneinfo import ZoneInfo
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> tz = ZoneInfo("Europe/Amsterdam")
>>> d = FallSilenceDetector(lambda apt: FallSilenceSettings(), tz=tz)
>>> state = FlatState(StateConfig())
>>> t0 = datetime(2026, 1, 5, 10, 0, tzinfo=tz)
>>> def ev(minutes, room, **kw):
...     ts = t0 + timedelta(minutes=minutes)
...     e = SensorEvent(ts=ts, received=ts, apartment="a1", room=room, device="motion",
...                     **({"occupancy": True} | kw))
...     state.apply(e)
...     return d.on_event(e, state)
>>> _ = ev(0, Room.LIVING), ev(1, Room.HALL), ev(1.3, Room.KITCHEN)  # walks to the kitchen
>>> d.on_tick(d.next_due(), state).candidates   # the soonest it could be: now it knows
()
>>> due = d.next_due(); f"{due:%H:%M}"   # cold start: 90 minutes of kitchen silence
'11:31'
>>> _ = [ev(m, r, occupancy=None, battery=90) for m in (40, 80) for r in (Room.KITCHEN, Room.HALL)]
>>> (c,) = d.on_tick(due, state).candidates
>>> c.kind.value, c.severity.value, c.evidence["place"]
('fall', 'urgent', 'kitchen')
>>> text = c.summary["nl"]   # no baseline yet: said in words (this text reaches phones)
>>> text[:56], "nog geen vergelijking" in text, "?" in text
('Na 10:01 geen beweging meer in de keuken (90 min, nog ge', True, False)
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from detectors.base import Candidate, register
from detectors.rhythm import TRANSIT, RhythmDetector, RhythmSettings, Silence, minutes
from detectors.text import hhmm, texts
from edge.models import Room, SensorEvent, SignalKind
from edge.state import is_pad

if TYPE_CHECKING:
    from collections.abc import Iterator

    from edge.state import ApartmentState, SensorState

logger = logging.getLogger(__name__)

PAD_SKEW = timedelta(seconds=60)
"""A pad taken this long before a movement elsewhere may be where that movement ended."""


class FallSilenceSettings(RhythmSettings):
    learn_days: int = Field(
        14, ge=3, le=90, description="Days with silences in a place before it is learned."
    )
    factor: float = Field(
        2.0, ge=1.0, le=5.0, description="'Far longer': this many times the longest day's..."
    )
    margin_minutes: float = Field(20.0, ge=0, le=240, description="...plus this.")
    min_minutes: float = Field(45.0, ge=10, le=600, description="Never alarm on a shorter silence.")
    max_minutes: float = Field(
        120.0,
        ge=30,
        le=24 * 60,
        description="A place whose limit comes out longer is a resting place.",
    )
    cold_minutes: float = Field(
        90.0,
        ge=20,
        le=600,
        description="While learning: silence in hall, kitchen, toilet, bathroom.",
    )
    early_days: int = Field(
        3,
        ge=1,
        le=90,
        description="While learning: days of only short silences in a room with a pad, "
        "pads empty, before the cold rule holds there too.",
    )
    cold_from: time = Field(time(7, 0), description="While learning: the day starts...")
    cold_until: time = Field(time(22, 0), description="...and ends (local time).")


@register
class FallSilenceDetector(RhythmDetector):
    name = "fall_silence"
    settings_model = FallSilenceSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._days: dict[str, dict[str, dict[str, float]]] = {}
        """apartment -> place -> local day -> that day's longest silence (minutes)."""
        self._rest: dict[str, set[str]] = {}
        """apartment -> the rooms where a bed or chair pad is occupied."""

    def place(self, apt: str, sil: Silence, st: ApartmentState | None = None) -> str:
        """The room, marked ``+rest`` while a bed or chair pad in it is occupied, or may be
        (its latest message could not be read). With ``st`` from the pads' state now (a
        report may have caught up with a lost change since the silence began); without,
        as at the silence's start (a pad changing is a movement)."""
        room = sil.room
        if st is None:
            return f"{room}+rest" if room in self._rest.get(apt, ()) else room
        pads = self.split_pads(apt, room, st)
        if any(
            sensor.occupied
            or (sensor.unreadable is not None and sensor.unreadable > sensor.last_seen)
            for sensor in pads
        ):
            return f"{room}+rest"
        if self.residents(apt) == 1 and self._sat_down(sil, st):
            return f"{room}+rest"
        return room

    def _sat_down(self, sil: Silence, st: ApartmentState) -> bool:
        """A pad anywhere in the home taken at most ``PAD_SKEW`` before the silence's last
        movement and occupied still: the resident sat or lay down, and that movement was
        the walk there, reported after the pad (a pad's report can lead a PIR's by
        seconds; leaky-pir seed 33: the hall PIR 7 s after the chair pad, then a nap in
        the chair paged as a fall in the hall)."""
        for sid, sensor in st.sensors.items():
            if (
                sensor.occupied
                and sensor.last_change is not None
                and sensor.last_change >= sil.last - PAD_SKEW
                and is_pad(sid.rsplit("/", 1)[-1], self.roles.get(sid))
            ):
                return True
        return False

    def moved(self, apt: str, event: SensorEvent, st: ApartmentState) -> None:
        self._pads(apt, event, st)

    def overtaken(self, apt: str, event: SensorEvent, st: ApartmentState) -> bool:
        """A pad's change that arrived late (after a newer movement) still says whether the
        resident rests in the silence running now."""
        sil = self._sil.get(apt)
        return self._pads(apt, event, st) and sil is not None and sil.room == event.room.value

    def _pads(self, apt: str, event: SensorEvent, st: ApartmentState) -> bool:
        """Note whether a pad in the event's room is occupied; ``True`` if that changed."""
        if event.occupancy is None or not is_pad(event.device, self.roles.get(event.sensor_id)):
            return False
        rooms = self._rest.setdefault(apt, set())
        room = event.room.value
        before = room in rooms
        if any(sensor.occupied for sensor in self.split_pads(apt, room, st)):
            rooms.add(room)
        else:
            rooms.discard(room)
        return (room in rooms) != before

    def soonest(self, apt: str, sil: Silence) -> timedelta | None:
        s = self.settings(apt)
        return timedelta(minutes=min(s.min_minutes, s.cold_minutes))

    def learn(self, apt: str, sil: Silence, end: datetime, event: SensorEvent) -> None:
        place = self.place(apt, sil)
        days = self._days.setdefault(apt, {}).setdefault(place, {})
        day = sys.intern(sil.last.astimezone(self.tz).date().isoformat())  # (one per day)
        m = round(minutes(end - sil.last), 1)
        if m > days.get(day, -1.0):
            days[day] = m
            keep = self.settings(apt).window_days
            if len(days) > keep:
                for old in sorted(days)[: len(days) - keep]:
                    del days[old]

    def pads_in(self, room: str, st: ApartmentState) -> Iterator[SensorState]:
        """The bed and chair pads in ``room``."""
        for sid, sensor in st.sensors.items():
            if sid.split("/")[1] == room and is_pad(sid.rsplit("/", 1)[-1], self.roles.get(sid)):
                yield sensor

    def split_pads(self, apt: str, room: str, st: ApartmentState) -> list[SensorState]:
        """The pads that split ``room`` into resting and not: all of its pads when there
        is one for each resident, else none. A pad tells one person's rest: in a couple's
        home with one chair pad, an empty pad may mean the other resident's chair is the
        one in use, and the room stays a resting place for both."""
        pads = list(self.pads_in(room, st))
        return pads if len(pads) >= self.residents(apt) else []

    def limit(
        self,
        apt: str,
        place: str,
        since: datetime | None = None,
        st: ApartmentState | None = None,
    ) -> tuple[float | None, float | None]:
        """The alarm limit for ``place`` (minutes; ``None``: a resting place, or the cold
        rule's night) for a silence ``since``, and the usual longest silence behind it
        (``None`` while learning). ``st``: the apartment now (which rooms have a pad)."""
        if place.endswith("+rest"):
            # on the bed or chair pad: not on the floor; a long silence there is
            # inactivity's (leaky-pir, seed 33: twice paged as a fall at night, in bed)
            return None, None
        s = self.settings(apt)
        days = self._days.get(apt, {}).get(place, {})
        if len(days) < s.learn_days:
            if place not in TRANSIT and not (
                len(days) >= s.early_days
                and max(days.values()) < s.cold_minutes / s.factor
                and st is not None
                and self.split_pads(apt, place, st)
            ):
                return None, None
            if since is not None and not s.cold_from <= self.local(since).time() < s.cold_until:
                return None, None
            lim, usual = s.cold_minutes, None
        else:
            usual = max(days.values())
            lim = max(s.min_minutes, (s.factor * usual + s.margin_minutes) * self.widen(apt))
        if since is not None and place in TRANSIT:
            # the resident may have gone on unseen (rhythm's unseen stays): past max_minutes
            # the silence is as a resting place's, inactivity's
            extra = self.allowance(apt, since)
            if extra > lim:
                return (extra if extra <= s.max_minutes else None), usual
        if usual is None:
            return lim, None
        return (lim if lim <= s.max_minutes else None), usual

    def due(self, apt: str, sil: Silence, st: ApartmentState) -> datetime | None:
        place = self.place(apt, sil, st)
        if not sil.clean or sil.room == Room.ENTRANCE.value:
            return None
        lim, _ = self.limit(apt, place, sil.last, st)
        return None if lim is None else sil.last + timedelta(minutes=lim)

    def alarm(self, apt: str, sil: Silence, at: datetime, st: ApartmentState) -> Candidate | None:
        place = self.place(apt, sil, st)
        lim, usual = self.limit(apt, place, sil.last, st)
        observed = minutes(at - sil.last)
        return Candidate(
            kind=SignalKind.FALL,
            apartment=apt,
            start=sil.last,
            detected_at=at,
            summary=texts(
                "Na {since} geen beweging meer in {room} ({minutes} min, {usual_nl}) en geen "
                "deur open: mogelijk gevallen, ga direct kijken.",
                "No movement in {room} since {since} ({minutes} min, {usual_en}) and no door "
                "opened: possibly fallen, go and check now.",
                room=sil.room,
                since=hhmm(sil.last.astimezone(self.tz)),
                minutes=f"{observed:.0f}",
                # (no baseline yet: say so, never a "?" on a phone)
                usual_nl=f"daar anders hooguit {usual:.0f} min"
                if usual is not None
                else "nog geen vergelijking: de hub leert deze woning nog",
                usual_en=f"usually at most {usual:.0f} min there"
                if usual is not None
                else "nothing to compare yet: the hub is still learning this home",
            ),
            evidence={
                "source": "silence",
                "place": place,
                "rule": "learned" if usual is not None else "cold",
                "baseline_minutes": usual,
                "threshold_minutes": lim,
                # (the place's own limit, and what unseen stays in this home ask for)
                "place_limit_minutes": self.limit(apt, place, None, st)[0],
                "unseen_allowance_minutes": self.allowance(apt, sil.last)
                if place in TRANSIT
                else None,
                "observed_minutes": round(observed, 1),
                "window": [sil.last.isoformat(), at.isoformat()],
                "last_room": sil.room,
                "presence": st.presence,
            },
            key=f"silence|{sil.last.isoformat()}",
        )

    def scores(self) -> dict[str, dict[str, float]]:
        """Per apartment, its shortest learned limit's place: the usual longest silence
        there (minutes), the last day's longest, and that over the limit (1 = alarm)."""
        out: dict[str, dict[str, float]] = {}
        for apt, places in sorted(self._days.items()):
            best: tuple[float, str] | None = None
            for place in places:
                lim, usual = self.limit(apt, place)
                if lim is not None and usual is not None and (best is None or lim < best[0]):
                    best = (lim, place)
            if best is None:
                continue
            days = places[best[1]]
            _, usual = self.limit(apt, best[1])
            observed = days[max(days)]
            out[apt] = {
                "baseline": float(usual or 0.0),
                "observed": observed,
                "score": round(observed / best[0], 3),
            }
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "days": {
                a: {p: dict(sorted(d.items())) for p, d in sorted(v.items())}
                for a, v in sorted(self._days.items())
            },
            "rest": {a: sorted(r) for a, r in sorted(self._rest.items())},
        }

    def load_state(self, data: dict[str, Any]) -> None:
        super().load_state(data)
        self._days = {
            a: {p: {sys.intern(d): float(m) for d, m in v.items()} for p, v in places.items()}
            for a, places in data.get("days", {}).items()
        }
        self._rest = {a: set(r) for a, r in data.get("rest", {}).items()}
