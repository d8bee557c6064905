"""``sensor_offline``: a sensor stopped reporting. For housing, on the meeting's agenda.

Two ways to notice: Zigbee2MQTT says the device is ``offline`` (its availability topic),
or the hub has not heard from the sensor for longer than that sensor's own rhythm allows,
in event time:

- a sensor that reports on its own (a check-in about hourly, as many Zigbee sensors do:
  known once watched ``learn_hours`` with no silence over ``check_in_hours``):
  ``after_hours`` of silence;
- a sensor that speaks only when used (a TV plug, a fridge door, a kettle, a PIR that
  sends only on a change): by its own use on the days the resident is home, at least
  ``event_only_hours``; not judged by silence while its use is not known (``use_days``);
- one not yet known either way: after ``event_only_hours``, unless most of the flat's
  known devices of its name speak only when used (then it is judged as they are);
- a sensor with Zigbee2MQTT availability (it has sent an availability message): Z2M
  watches it and says ``offline`` itself; silence alone counts only after
  ``availability_hours``.

Raised once per sensor until it is heard from again. The signal is stamped with the time
it came due, whatever tick noticed it, so replay and live agree.

When the sensor reports again, the detector says so (a :class:`~detectors.base.Resolution`,
"Sensor meldt zich weer om 14:32", unless ``auto_close`` is off for the apartment): the hub
closes the signal if nobody has acknowledged or taken it on yet, unless the sensor *flaps*:
one that went quiet ``flapping_times`` times within ``history_days`` stays one open signal
for housing (each new silence folds into it) instead of a new signal every time. The same
goes for the device signal a silence detector raised early for a quiet sensor (same id): a
sensor heard from again after a silence of :data:`MAYBE_RAISED` or more may have had one.

>>> from datetime import datetime, timedelta, timezone
>>> from edge.models import SensorEvent, Room
>>> from edge.state import FlatState, StateConfig
>>> t = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)
>>> d = SensorOfflineDetector(lambda apt: SensorOfflineSettings(after_hours=2,
...                                                                event_only_hours=2))
>>> st = FlatState(StateConfig())
>>> found = d.on_event(SensorEvent(ts=t, received=t, apartment="a012", room=Room.HALL,
...                                 device="motion", battery=80), st)
>>> found.due == t + timedelta(hours=2)
True
>>> [(c.kind.value, c.detected_at == t + timedelta(hours=2)) for c in
...  d.on_tick(t + timedelta(hours=5), st).candidates]
[('sensor_offline', True)]
>>> d.on_tick(t + timedelta(hours=9), st).candidates   # raised once
()
>>> back = t + timedelta(hours=10, minutes=5)
>>> found = d.on_event(SensorEvent(ts=back, received=back, apartment="a012",
...                                room=Room.HALL, device="motion", battery=80), st)
>>> [(r.kind.value, r.start == t, r.reason["en"]) for r in found.resolutions]
[('sensor_offline', True, 'Sensor reports again at 13:05 (silent 10.1 h).')]
"""

from __future__ import annotations

import heapq
import logging
import math
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from pydantic import Field

from detectors.base import (
    NOTHING,
    Candidate,
    Detector,
    DetectorSettings,
    Found,
    Resolution,
    register,
)
from detectors.devices import UseModel
from detectors.text import hhmm, texts
from edge.models import SensorEvent, SignalKind

if TYPE_CHECKING:
    from edge.state import FlatState

logger = logging.getLogger(__name__)


MAX_WIDEN = 3.0
GAP_MIN = timedelta(minutes=75)
"""Silences shorter than this are not learned (they never decide a limit; an hourly
check-in a little late is not a silence)."""
GAPS_KEPT = 64
"""The latest silences kept per sensor (enough for its longest within history_days)."""
MAYBE_RAISED = timedelta(hours=2)
"""A silence this long may have raised the early device signal of a silence detector
(its quiet limit is at least this): when the sensor is heard again, that signal is looked
for too."""


KIND_PEERS = 3
"""Devices of the same name elsewhere in the flat that must be known to speak only when
used before a new one, whose own rhythm is not known yet, is taken as one of them."""


class SensorOfflineSettings(DetectorSettings):
    after_hours: float = Field(
        25.0,
        gt=0,
        le=24 * 14,
        description="Silence this long (event time) means the sensor is offline.",
    )
    event_only_hours: float = Field(
        168.0,
        gt=0,
        le=24 * 60,
        description="The least silence limit of a sensor that speaks only when used (or "
        "is not yet known to check in by itself): a week, the signal meeting's rhythm.",
    )
    margin: float = Field(
        2.0,
        ge=1.0,
        le=10.0,
        description="An event-only sensor is offline after this many times the longest "
        "unused run its own use shows or makes likely (or, not known yet, its longest "
        "silence in the last history_days).",
    )
    use_days: int = Field(
        7,
        ge=1,
        le=365,
        description="An event-only sensor is judged by its silence only once it spoke on "
        "this many days within history_days (before that its use is not known: an SOS "
        "pendant that speaks only when pressed is never judged by silence).",
    )
    unused_chance: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="The event-only limit: the run of unused active days its own daily use "
        "rate makes this unlikely (times margin).",
    )
    history_days: float = Field(
        28.0, gt=0, le=365, description="How far back a sensor's own silences are learned."
    )
    learn_hours: float = Field(
        24.0,
        ge=0,
        le=24 * 30,
        description="A sensor is known to check in by itself once watched this long (a whole "
        "night included) with no silence over check_in_hours.",
    )
    check_in_hours: float = Field(
        2.0,
        gt=0,
        le=24,
        description="The longest silence of a sensor that checks in by itself (Zigbee "
        "sensors that do report about hourly).",
    )
    availability_hours: float = Field(
        168.0,
        gt=0,
        le=24 * 60,
        description="A sensor with Zigbee2MQTT availability is offline by silence alone only "
        "after this long (Z2M reports offline itself).",
    )
    flapping_times: int = Field(
        2,
        ge=1,
        le=100,
        description="A sensor that went quiet this often within history_days stays one "
        "open signal (not closed by itself when it speaks again).",
    )
    auto_close: bool = Field(
        True,
        description="Close the signal by itself when the sensor reports again, unless "
        "someone acknowledged or took it on already (or the sensor flaps).",
    )


# long: not yet split: the per-sensor gap model apart (issue 19)
@register
class SensorOfflineDetector(Detector):
    # (over 250 lines: one detector's whole device-health state with its persistence;
    # the device model's bookkeeping is in detectors.devices, the signal's text below)
    name = "sensor_offline"
    settings_model = SensorOfflineSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last: dict[str, datetime] = {}
        self._first: dict[str, datetime] = {}
        """sensor -> when the detector first heard it (how long it has been watched)."""
        self._gaps: dict[str, list[tuple[datetime, float]]] = {}
        """sensor -> its natural silences of an hour or more: (when it ended, hours)."""
        self._longest: dict[str, float] = {}
        """sensor -> the longest of those, hours (kept with them)."""
        self._avail: set[str] = set()
        """Sensors that sent a Zigbee2MQTT availability message: Z2M watches them."""
        self._quiet: dict[str, list[datetime]] = {}
        """sensor -> when it went quiet (raised), within history_days: flapping."""
        self._offline: set[str] = set()
        self._due: dict[str, datetime] = {}
        """sensor -> the due of its entry in the heap (an entry with another due is stale)."""
        self._heap: list[tuple[datetime, str]] = []
        self._widen: dict[str, float] = {}
        self._since: dict[str, datetime] = {}
        """sensor -> the start of its raised signal (last heard, or the offline report)."""
        self._use = UseModel()
        """The apartments' active days and the event-only sensors' use (the device model)."""
        self._stateful: set[str] = set()
        """Sensors that sent a message other than an event (a button's action, a fall):
        a state, a report. One that never did speaks only when something happens."""
        self._unjudged: set[str] = set()
        """Silent sensors whose use is not known: silence cannot judge them."""
        self._activity: dict[str, datetime] = {}

    def _periodic(self, sid: str, st: SensorOfflineSettings) -> bool:
        """Known to check in by itself: watched ``learn_hours`` with no long silence."""
        first, last = self._first.get(sid), self._last.get(sid)
        if first is None or last is None:
            return False
        watched = (last - first).total_seconds() / 3600
        return watched >= st.learn_hours and self._longest.get(sid, 0.0) <= st.check_in_hours

    def _by_use(self, sid: str, st: SensorOfflineSettings) -> bool:
        """Shown to speak only when used (a silence over check_in_hours, or never anything
        but events): judged by its use in active days (:meth:`_use_due`)."""
        if self._periodic(sid, st):
            return False
        return sid not in self._stateful or self._longest.get(sid, 0.0) > st.check_in_hours

    def _judged_by_use(self, sid: str) -> bool:
        """At its due: judged by its use (:meth:`_use_due`) when shown to speak only when
        used, or, its own rhythm not known yet, when most of the flat's devices of its
        name that are known speak only when used (a kettle heard on its first evening and
        then not for ten days is used now and then, as the flat's other kettles are; a
        motion sensor silent as long, where the others check in hourly, is offline)."""
        st = self.settings(sid.split("/", 1)[0])
        if self._by_use(sid, st):
            return True
        if self._periodic(sid, st):
            return False
        device = sid.rsplit("/", 1)[-1]
        by_use = periodic = 0
        for other in self._last:
            if other == sid or other.rsplit("/", 1)[-1] != device:
                continue
            ost = self.settings(other.split("/", 1)[0])
            if self._periodic(other, ost):
                periodic += 1
            elif self._by_use(other, ost):
                by_use += 1
        return by_use >= KIND_PEERS and by_use > periodic

    def _after(self, sid: str) -> timedelta:
        """How long ``sid`` may be silent at least: by its kind, learned (module doc)."""
        apt = sid.split("/", 1)[0]
        st = self.settings(apt)
        if sid in self._avail:
            hours = max(st.availability_hours, st.after_hours)
        elif self._periodic(sid, st):
            hours = st.after_hours
        elif self._by_use(sid, st):
            hours = st.event_only_hours
        else:
            hours = max(st.event_only_hours, st.margin * self._longest.get(sid, 0.0))
        return timedelta(hours=hours * self._widen.get(apt, 1.0))

    def _day(self, ts: datetime) -> int:
        return self.local(ts).date().toordinal()

    def _use_due(self, sid: str, now: datetime) -> datetime | None:
        """When an event-only sensor silent at ``now`` is offline: ``now`` once its silence
        counts enough active days (its own limit, at least event_only_hours in days),
        else the midnight it might; ``None``: its use is not known, silence cannot judge."""
        apt = sid.split("/", 1)[0]
        st = self.settings(apt)
        last = self._day(self._last[sid])
        limit = self._use.limit_days(
            apt, sid, last, math.ceil(st.history_days), st.unused_chance, st.margin, st.use_days
        )
        if limit is None:
            return None
        need = max(limit, st.event_only_hours / 24) * self._widen.get(apt, 1.0)
        today = self._day(now)
        silent = self._use.silent_days(apt, last, today)
        if silent >= need:
            return now
        day = date.fromordinal(today + max(1, math.ceil(need - silent)))
        return datetime.combine(day, time(0), tzinfo=self.tz)

    def _learn_gap(self, sid: str, end: datetime, hours: float) -> None:
        apt = sid.split("/", 1)[0]
        horizon = end - timedelta(days=self.settings(apt).history_days)
        gaps = [g for g in self._gaps.get(sid, ()) if g[0] >= horizon]
        gaps.append((end, hours))
        del gaps[:-GAPS_KEPT]
        self._gaps[sid] = gaps
        self._longest[sid] = max(h for _, h in gaps)

    def feedback(self, apartment: str, verdict: str) -> str | None:
        """A false alarm widens this apartment's silence limit by half (at most 3x):
        some sensors report less often than the flat's limit assumes."""
        if verdict != "false_alarm":
            return None
        before = self._widen.get(apartment, 1.0)
        after = min(before * 1.5, MAX_WIDEN)
        if after == before:
            return None
        self._widen[apartment] = after
        base = self.settings(apartment).after_hours
        return f"silence limit {base * before:.0f} h -> {base * after:.0f} h"

    def _note_use(self, event: SensorEvent, state: FlatState) -> None:
        """The apartment's active days (its state's last activity) and the sensor's use."""
        apt = event.apartment
        st = state.apartments.get(apt)
        act = st.last_activity if st is not None else None
        if act is not None and self._activity.get(apt) != act:
            self._activity[apt] = act
            self._use.active(apt, self._day(act))
        if event.available is None:
            keep = math.ceil(self.settings(apt).history_days) + 1
            self._use.used(apt, event.sensor_id, self._day(event.ts), keep)
            if event.action is None and event.fall is None:
                self._stateful.add(event.sensor_id)

    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        sid = event.sensor_id
        ts = event.ts
        self._note_use(event, state)
        self._unjudged.discard(sid)
        last = self._last.get(sid)
        newer = last is None or ts > last
        if newer:
            self._last[sid] = ts
            if last is None:
                self._first.setdefault(sid, ts)
            elif ts - last >= GAP_MIN and not (
                sid in self._offline and self._periodic(sid, self.settings(event.apartment))
            ):
                # (a silence it kept: natural for it, unless it was an outage of a sensor
                # known to check in, which would teach it to be silent that long)
                self._learn_gap(sid, ts, (ts - last).total_seconds() / 3600)
        if event.available is not None:
            self._avail.add(sid)
        if event.available is False:
            if sid in self._offline:
                return NOTHING
            self._went_quiet(sid, ts)
            self._since[sid] = ts
            return Found(
                (silence_candidate(event.apartment, sid, ts, ts, "availability", self.tz),)
            )
        back = None
        if sid in self._offline:
            self._offline.discard(sid)
            since = self._since.pop(sid, last)
            if newer and since is not None:
                back = self._back(event.apartment, sid, since, ts)
        elif newer and last is not None and ts - last >= MAYBE_RAISED:
            back = self._back(event.apartment, sid, last, ts)
        due = self._last[sid] + self._after(sid)
        known = self._due.get(sid)
        if known is not None and due >= known:
            return NOTHING if back is None else Found(resolutions=(back,))
        self._due[sid] = due
        heapq.heappush(self._heap, (due, sid))
        return Found(due=due) if back is None else Found(resolutions=(back,), due=due)

    def _went_quiet(self, sid: str, at: datetime) -> None:
        self._offline.add(sid)
        apt = sid.split("/", 1)[0]
        horizon = at - timedelta(days=self.settings(apt).history_days)
        self._quiet[sid] = [t for t in self._quiet.get(sid, ()) if t >= horizon] + [at]

    def _flapping(self, sid: str) -> bool:
        apt = sid.split("/", 1)[0]
        return bool(len(self._quiet.get(sid, ())) >= self.settings(apt).flapping_times)

    def _back(self, apartment: str, sid: str, since: datetime, at: datetime) -> Resolution | None:
        """The resolution of ``sid``'s signal, heard from again (``None``: not closed by
        itself here: ``auto_close`` is off, or the sensor flaps)."""
        if self._flapping(sid) or not self.settings(apartment).auto_close:
            return None  # (flapping: one open signal for housing, the next silence folds in)
        hours = (at - since).total_seconds() / 3600
        return Resolution(
            kind=SignalKind.SENSOR_OFFLINE,
            apartment=apartment,
            start=since,
            key=sid,
            at=at,
            reason=texts(
                "Sensor meldt zich weer om {at} ({hours:.1f} uur stil).",
                "Sensor reports again at {at} (silent {hours:.1f} h).",
                at=hhmm(self.local(at)),
                hours=hours,
            ),
        )

    def next_due(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def not_judged(self, apartment: str) -> list[str]:
        """The apartment's silent sensors its silence cannot judge: no check-ins and too
        little use known (doctor and coverage can name them)."""
        return sorted(s for s in self._unjudged if s.split("/", 1)[0] == apartment)

    def on_tick(self, now: datetime, state: FlatState) -> Found:
        out: list[Candidate] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, sid = heapq.heappop(heap)
            if self._due.get(sid) != due:
                continue  # (a stale entry: a sooner or later one stands for it)
            real_due = self._last[sid] + self._after(sid)
            if real_due > due:  # heard from since, or learned to be patient: later
                self._due[sid] = real_due
                heapq.heappush(heap, (real_due, sid))
                continue
            if sid not in self._offline and self._judged_by_use(sid):
                when = self._use_due(sid, due)
                if when is None:  # (its use is not known: until it speaks again)
                    del self._due[sid]
                    self._unjudged.add(sid)
                    continue
                if when > due:
                    self._due[sid] = when
                    heapq.heappush(heap, (when, sid))
                    continue
            del self._due[sid]
            if sid not in self._offline:
                last = self._last[sid]
                self._went_quiet(sid, due)
                self._since[sid] = last
                apt = sid.split("/", 1)[0]
                out.append(silence_candidate(apt, sid, last, due, "silence", self.tz))
        return Found(tuple(out), due=self.next_due())

    def scores(self) -> dict[str, dict[str, float]]:
        """Per apartment: the silence limit in hours as learned so far (the setting, widened
        by false alarms), how many of its sensors the detector knows and how many of them
        are offline now.

        >>> from datetime import timezone
        >>> d = SensorOfflineDetector(lambda apt: SensorOfflineSettings(after_hours=20))
        >>> d._last = {"a012/hall/motion": datetime(2026, 1, 5, tzinfo=timezone.utc),
        ...            "a012/toilet/motion": datetime(2026, 1, 5, tzinfo=timezone.utc)}
        >>> d._offline = {"a012/hall/motion"}
        >>> d.feedback("a012", "false_alarm")
        'silence limit 20 h -> 30 h'
        >>> d.scores()
        {'a012': {'silence_limit_h': 30.0, 'sensors': 2.0, 'offline_sensors': 1.0}}
        """
        out: dict[str, dict[str, float]] = {}
        for sid in self._last:
            apt = sid.split("/", 1)[0]
            row = out.get(apt)
            if row is None:
                limit = self.settings(apt).after_hours * self._widen.get(apt, 1.0)
                row = out[apt] = {"silence_limit_h": limit, "sensors": 0.0, "offline_sensors": 0.0}
            row["sensors"] += 1
            if sid in self._offline:
                row["offline_sensors"] += 1
        return dict(sorted(out.items()))

    def state_dict(self) -> dict[str, Any]:
        return {
            "last": {k: v.isoformat() for k, v in self._last.items()},
            "first": {k: v.isoformat() for k, v in self._first.items()},
            "gaps": {
                k: [[t.isoformat(), round(h, 3)] for t, h in v] for k, v in self._gaps.items()
            },
            "avail": sorted(self._avail),
            "quiet": {k: [t.isoformat() for t in v] for k, v in sorted(self._quiet.items())},
            "offline": sorted(self._offline),
            "widen": dict(sorted(self._widen.items())),
            "since": {k: v.isoformat() for k, v in sorted(self._since.items())},
            "use": self._use.to_dict(),
            "stateful": sorted(self._stateful),
            "unjudged": sorted(self._unjudged),
        }

    def load_state(self, data: dict[str, Any]) -> None:
        iso = datetime.fromisoformat
        self._last = {k: iso(v) for k, v in data.get("last", {}).items()}
        # (a state saved before sensors were learned: each is watched afresh from its last)
        self._first = {k: iso(v) for k, v in data.get("first", {}).items()}
        for k, v in self._last.items():
            self._first.setdefault(k, v)
        self._gaps = {
            k: [(iso(t), float(h)) for t, h in v] for k, v in data.get("gaps", {}).items()
        }
        self._longest = {k: max(h for _, h in v) for k, v in self._gaps.items() if v}
        self._avail = set(data.get("avail", []))
        self._quiet = {k: [iso(t) for t in v] for k, v in data.get("quiet", {}).items()}
        self._offline = set(data.get("offline", []))
        self._widen = {k: float(v) for k, v in data.get("widen", {}).items()}
        self._since = {k: iso(v) for k, v in data.get("since", {}).items()}
        self._use = UseModel()
        self._use.load(data.get("use", {}))
        # (a state saved before the device model: every sensor known had sent a state)
        self._stateful = set(data.get("stateful", self._last))
        self._unjudged = set(data.get("unjudged", []))
        self._due = {
            s: t + self._after(s)
            for s, t in self._last.items()
            if s not in self._offline and s not in self._unjudged
        }
        self._heap = [(t, s) for s, t in self._due.items()]
        heapq.heapify(self._heap)


def silence_candidate(
    apartment: str, sid: str, since: datetime, at: datetime, how: str, tz: tzinfo
) -> Candidate:
    """The housing signal for ``sid``, silent since ``since``, found at ``at``."""
    _, room, device = sid.split("/", 2)
    return Candidate(
        kind=SignalKind.SENSOR_OFFLINE,
        apartment=apartment,
        start=since,
        detected_at=at,
        summary=texts(
            "Sensor '{device}' in {room} geeft sinds {time} geen signaal meer: controleren.",
            "Sensor '{device}' in {room} has been silent since {time}: check it.",
            room=room,
            device=device,
            time=f"{since.astimezone(tz):%d-%m %H:%M}",
        ),
        evidence={
            "sensor": sid,
            "last_seen": since.isoformat(),
            "how": how,
            "silent_hours": round((at - since).total_seconds() / 3600, 1),
        },
        key=sid,
    )
