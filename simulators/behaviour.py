"""One apartment-day: residents' routines as room segments, then what the sensors say.

A day's window runs from the resident's wake time to the next day's wake time, so the
night belongs to the evening before it. Routines are built as a list of segments
(start, end, room, activity) per person; episodes are *overlays* on that list (a fall
replaces the rest of a segment by "on the floor", an outing by "away"). Sensors are then
derived from the final segments: PIR detections per room (Poisson rates per activity,
with the hardware's 60 s blind time and a 60-90 s clear timeout), bed and chair pads,
front door passages, fridge openings, kettle and TV power, hourly reports, battery drain.

Times are float seconds since the epoch (UTC); local wall times come from
:meth:`Clock.local`, which is DST-aware.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from simulators.episodes import ApartmentPlan, DeviceTrouble
from simulators.flat import TIMEZONE, Apartment, Device, Habits, chair_pad_key
from simulators.knobs import PLUG_KEYS, Knobs

logger = logging.getLogger(__name__)

ZONE = ZoneInfo(TIMEZONE)
HOME_ROOMS = frozenset({"bedroom", "bathroom", "toilet", "kitchen", "living", "hall"})
OUT_ROOMS = frozenset({"away", "common", "corridor"})
BLIND_S = 60.0  # a PIR reports motion at most once a minute
AVAILABILITY_TIMEOUT_H = 25.0  # Zigbee2MQTT's default for battery devices

# motion detections per second, by activity
RATE: dict[str, float] = {
    "active": 1 / 40,
    "meal": 1 / 35,
    "still": 1 / 900,
    "tv": 1 / 1100,
    "nap": 1 / 2400,
    "sleep": 1 / 14400,  # a sleeping person rarely trips a PIR
    "toilet": 1 / 60,
    "shower": 1 / 25,
    "wash": 1 / 30,
    "floor": 0.0,
    "faint": 0.0,
    "rise": 1 / 20,  # getting up out of a chair or bed, a step or two
    "sickbath": 1 / 1500,
    "wander": 1 / 25,
    "visit": 1 / 240,
    "help": 1 / 30,
    "snack": 1 / 35,  # a night kitchen visit (``Knobs.night_kitchen``)
}
NO_ENTRY = frozenset({"floor", "faint"})
SITTING = frozenset({"still", "tv", "nap", "visit"})
RESTING = SITTING | {"sleep"}
FALL_SEEN = 0.9
"""The chance that the fall itself (a body going down) is a detection of the room's PIR:
most of a room is in its view, a corner behind the sofa or the bed is not."""


class Seg(NamedTuple):
    start: float
    end: float
    room: str
    act: str
    cont: bool = False  # continues from before the window: no entry detection, no pad edge


class Clock:
    """Local wall times of the simulated days, as epoch seconds (DST-aware)."""

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.days = days
        noon = [
            datetime(d.year, d.month, d.day, 12, tzinfo=ZONE).timestamp()
            for d in (start + timedelta(days=i) for i in range(days + 40))
        ]
        midnight = [
            datetime(d.year, d.month, d.day, tzinfo=ZONE).timestamp()
            for d in (start + timedelta(days=i) for i in range(days + 40))
        ]
        self.noon = np.array(noon)
        self.midnight = np.array(midnight)
        self.t0 = float(self.midnight[0])
        self.t_end = float(self.midnight[days])

    def local(self, day: int, hour: float) -> float:
        """Epoch of local wall time ``hour`` on ``day`` (hours past 24 run into the night)."""
        if hour < 3.0:
            return float(self.midnight[day]) + hour * 3600.0
        return float(self.noon[day]) + (hour - 12.0) * 3600.0

    def day_of(self, t: float) -> int:
        return int(np.searchsorted(self.midnight, t, side="right")) - 1


def iso(t: float) -> str:
    """Local ISO 8601 time with offset, to the millisecond like the recording's ``ts``
    (rounding to the second could put an episode's start after its first message)."""
    return datetime.fromtimestamp(t, ZONE).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class Truth:
    apartment: str
    kind: str
    start: float
    end: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apartment": self.apartment,
            "kind": self.kind,
            "start": iso(self.start),
            "end": iso(self.end),
        }
        out.update(self.extra)
        return out


@dataclass(slots=True)
class AptState:
    """What carries over from one day to the next for one apartment."""

    apt: Apartment
    plan: ApartmentPlan
    wake: list[np.ndarray]  # per resident, epoch per day
    bed: list[np.ndarray]
    away: list[tuple[float, float, str]]  # (leave, return, kind), resident 0 (and partner)
    pending: list[Seg] = field(default_factory=list)  # visitors staying past the window
    state: dict[tuple[str, str], Any] = field(default_factory=dict)  # (device, field) -> value
    silent: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    dying: dict[str, tuple[float, float]] = field(default_factory=dict)  # device -> (death, new)


@dataclass(slots=True)
class DayOut:
    messages: list[tuple[float, str, Any]] = field(default_factory=list)  # (t, topic, payload)
    truth: list[Truth] = field(default_factory=list)
    common_room: list[tuple[float, float]] = field(default_factory=list)
    common_hall: list[float] = field(default_factory=list)
    common_door: list[float] = field(default_factory=list)


def init_state(apt: Apartment, plan: ApartmentPlan, clock: Clock, seed: int) -> AptState:
    """Draw the wake and bed times of every day up front (vectorised) and fix away periods."""
    rng = np.random.default_rng([seed, apt.index, 0x5747E])
    n = clock.days + 2
    wake: list[np.ndarray] = []
    bed: list[np.ndarray] = []
    weekday = np.array([(clock.start + timedelta(days=i)).weekday() for i in range(n)])
    weekend = weekday >= 5
    for h in apt.residents:
        w_h = h.wake_h + rng.normal(0.0, h.wake_sd_h, n) + np.where(weekend, 0.25, 0.0)
        b_h = h.bed_h + rng.normal(0.0, h.bed_sd_h, n)
        w_h = np.clip(w_h, 4.5, 11.5)
        b_h = np.clip(b_h, 20.0, 27.0)
        wake.append(np.array([clock.local(i, float(w_h[i])) for i in range(n)]))
        bed.append(np.array([clock.local(i, float(b_h[i])) for i in range(n)]))
    away: list[tuple[float, float, str]] = []
    for a in plan.away:
        leave = clock.local(a.start_day, float(rng.uniform(9.5, 11.5)))
        back = clock.local(a.start_day + a.days, float(rng.uniform(13.0, 17.5)))
        away.append((leave, back, a.kind))
    st = AptState(apt=apt, plan=plan, wake=wake, bed=bed, away=away)
    for trouble in plan.devices:
        _register_trouble(st, trouble, clock)
    return st


def _register_trouble(st: AptState, trouble: DeviceTrouble, clock: Clock) -> None:
    t = clock.local(trouble.day, trouble.hour)
    end = t + trouble.duration_h * 3600.0
    st.silent.setdefault(trouble.device, []).append((t, end))
    if trouble.kind == "low_battery":
        st.dying[trouble.device] = (t, end)


def device_truth(st: AptState, clock: Clock, knobs: Knobs | None = None) -> list[Truth]:
    """Ground truth of the apartment's device troubles (offline sensors, dying batteries),
    each device by the name it publishes under (``knobs``' naming)."""
    out: list[Truth] = []
    for trouble in st.plan.devices:
        t = clock.local(trouble.day, trouble.hour)
        end = min(t + trouble.duration_h * 3600.0, clock.t_end)
        if t >= clock.t_end:
            continue
        note = {"device": knobs.published(trouble.device) if knobs else trouble.device}
        if trouble.kind == "low_battery":
            dev = st.apt.devices[trouble.device]
            days = np.array([(t - 21 * 86400.0 - clock.t0) / 86400.0])
            level = float(dev.battery_at(days)[0])
            crossing = t - 21 * 86400.0 * min(1.0, 20.0 / max(level, 20.0))
            out.append(
                Truth(
                    st.apt.id,
                    "low_battery",
                    crossing,
                    min(t + 86400.0, clock.t_end),
                    {**note, "note": "battery runs flat"},
                )
            )
            out.append(
                Truth(
                    st.apt.id,
                    "sensor_offline",
                    t,
                    end,
                    {**note, "note": "dead battery until replaced"},
                )
            )
        else:
            out.append(
                Truth(st.apt.id, "sensor_offline", t, end, {**note, "note": "dropped off the mesh"})
            )
    return out


def trend_truth(st: AptState, clock: Clock) -> list[Truth]:
    out: list[Truth] = []
    for tr in st.plan.trends:
        if tr.start_day >= clock.days:
            continue
        out.append(
            Truth(
                st.apt.id,
                tr.kind,
                clock.local(tr.start_day, 0.0),
                min(clock.local(tr.end_day, 0.0), clock.t_end)
                if tr.end_day <= clock.days
                else clock.t_end,
                {"note": f"ramp {tr.ramp_days} d, hold {tr.hold_days} d"},
            )
        )
    for start, n in st.plan.wandering:
        out.append(
            Truth(
                st.apt.id,
                "night_wandering",
                clock.local(start, 20.0),
                min(clock.local(start + n, 12.0), clock.t_end),
                {"note": f"restless nights over {n} days"},
            )
        )
    for leave, back, kind in st.away:
        if leave < clock.t_end:
            out.append(
                Truth(st.apt.id, "normal", leave, min(back, clock.t_end), {"note": f"away: {kind}"})
            )
    return out


# --------------------------------------------------------------------------------------
# routines


def _filler(
    rng: np.random.Generator, h: Habits, t0: float, t1: float, out: list[Seg], nutrition: float
) -> None:
    """Time at home between fixed points: sitting (TV or not), toilet trips, kitchen snacks."""
    t = t0
    toilet_rate = 1.0 / (h.day_toilet_every_h * 3600.0)
    while t1 - t > 60.0:
        chunk = min(t1 - t, float(rng.uniform(15.0, 50.0)) * 60.0)
        act = "tv" if rng.random() < h.p_tv else "still"
        out.append(Seg(t, t + chunk, "living", act))
        t += chunk
        if t1 - t < 300.0:
            continue
        if rng.random() < chunk * toilet_rate:
            d = float(rng.uniform(120.0, 300.0))
            out.append(Seg(t, t + d, "toilet", "toilet"))
            t += d
        elif rng.random() < 0.12 * (1.0 - 0.6 * nutrition):
            d = min(float(rng.uniform(150.0, 420.0)), t1 - t)  # back by the next fixed point
            out.append(Seg(t, t + d, "kitchen", "meal"))
            t += d


def plan_day(
    rng: np.random.Generator,
    h: Habits,
    wake: float,
    bed: float,
    next_wake: float,
    clock: Clock,
    day: int,
    plan: ApartmentPlan,
    primary: bool,
) -> list[Seg]:
    """A resident's ordinary day from waking to the next waking."""
    f_with = plan.trend_factor("withdrawal", day) if primary else 0.0
    f_nut = plan.trend_factor("nutrition", day) if primary else 0.0
    f_night = plan.trend_factor("night_toilet", day) if primary else 0.0
    segs: list[Seg] = []
    t = wake

    def add(d_s: float, room: str, act: str) -> None:
        nonlocal t
        segs.append(Seg(t, t + d_s, room, act))
        t += d_s

    add(float(rng.uniform(180, 480)), "bedroom", "active")
    add(float(rng.uniform(120, 300)), "toilet", "toilet")
    if day % max(1, int(h.shower_every_days)) == 0:
        add(float(rng.uniform(720, 1500)), "bathroom", "shower")
    else:
        add(float(rng.uniform(240, 540)), "bathroom", "wash")
    add(float(rng.uniform(60, 240)), "bedroom", "active")  # dressing
    if rng.random() > 0.6 * f_nut:
        add(float(rng.uniform(720, 1800)) * (1 - 0.5 * f_nut), "kitchen", "meal")
    anchors: list[tuple[float, list[tuple[float, str, str]]]] = []
    if rng.random() < h.p_outing * (1 - 0.8 * f_with):
        start = clock.local(day, float(rng.uniform(9.5, 11.0)))
        anchors.append((start, [(float(rng.uniform(3600, 9000)), "away", "away")]))
    elif rng.random() < h.p_common * (1 - 0.85 * f_with):
        start = clock.local(day, float(rng.uniform(9.9, 10.2)))
        anchors.append((start, [(float(rng.uniform(2400, 4800)), "common", "common")]))
    if rng.random() > 0.6 * f_nut:
        anchors.append(
            (
                clock.local(day, float(rng.normal(12.5, 0.3))),
                [(float(rng.uniform(1200, 2400)) * (1 - 0.5 * f_nut), "kitchen", "meal")],
            )
        )
    if rng.random() < h.p_nap:
        anchors.append(
            (
                clock.local(day, float(rng.uniform(13.2, 14.0))),
                [(float(rng.uniform(1800, 5400)), "living", "nap")],
            )
        )
    if rng.random() < h.p_afternoon_out * (1 - 0.8 * f_with):
        anchors.append(
            (
                clock.local(day, float(rng.uniform(14.5, 15.5))),
                [(float(rng.uniform(3600, 10800)), "away", "away")],
            )
        )
    elif rng.random() < 0.25 * h.p_common * (1 - 0.85 * f_with):
        anchors.append(
            (
                clock.local(day, float(rng.uniform(14.4, 14.6))),
                [(float(rng.uniform(3600, 5400)), "common", "common")],
            )
        )
    if rng.random() > 0.5 * f_nut:
        anchors.append(
            (
                clock.local(day, float(rng.normal(17.9, 0.35))),
                [(float(rng.uniform(1800, 3000)) * (1 - 0.5 * f_nut), "kitchen", "meal")],
            )
        )
    evening_bath = bed - float(rng.uniform(600, 1200))
    anchors.append(
        (
            evening_bath,
            [
                (float(rng.uniform(300, 600)), "bathroom", "wash"),
                (float(rng.uniform(120, 300)), "bedroom", "active"),
            ],
        )
    )
    for when, block in anchors:
        if when > t:
            _filler(rng, h, t, when, segs, f_nut)
            if segs and segs[-1].end < when:
                # the filler leaves up to a minute: what the resident was doing goes on, so
                # the next fixed point follows on at once (an outing then passes the door)
                segs[-1] = segs[-1]._replace(end=when)
            t = max(t, when)
        for d_s, room, act in block:
            add(d_s, room, act)
    # night: asleep, with toilet visits
    t_sleep = t
    n_visits = int(rng.poisson(h.night_toilet * (1 + 2.5 * f_night)))
    lo, hi = t_sleep + 1800.0, next_wake - 1800.0
    visits = np.sort(rng.uniform(lo, hi, n_visits)) if hi > lo else np.empty(0)
    for v in visits:
        if v <= t + 60.0:
            continue
        segs.append(Seg(t, v, "bedroom", "sleep"))
        t = v
        add(float(rng.uniform(30, 90)), "bedroom", "active")
        add(float(rng.uniform(120, 360)), "toilet", "toilet")
        add(float(rng.uniform(20, 60)), "bedroom", "active")
    if next_wake > t:
        segs.append(Seg(t, next_wake, "bedroom", "sleep"))
    return segs


def overlay(
    segs: list[Seg], start: float, end: float, room: str, act: str, cont: bool = False
) -> list[Seg]:
    """Replace whatever the person did in ``[start, end)`` by one segment."""
    out: list[Seg] = []
    for s in segs:
        if s.end <= start or s.start >= end:
            out.append(s)
            continue
        if s.start < start:
            out.append(s._replace(end=start))
        if s.end > end:
            out.append(s._replace(start=end, cont=False))
    out.append(Seg(start, end, room, act, cont))
    out.sort(key=lambda s: s.start)
    return out


def where(segs: list[Seg], t: float) -> Seg | None:
    for s in segs:
        if s.start <= t < s.end:
            return s
    return None


def home_between(segs: list[Seg], t0: float, t1: float) -> bool:
    return all(s.room in HOME_ROOMS for s in segs if s.end > t0 and s.start < t1)


def _pick_home_time(
    rng: np.random.Generator,
    segs: list[Seg],
    clock: Clock,
    day: int,
    h0: float,
    h1: float,
    span: float,
    rooms: frozenset[str] | None = None,
    acts: frozenset[str] | None = None,
) -> float | None:
    for _ in range(25):
        t = clock.local(day, float(rng.uniform(h0, h1)))
        s = where(segs, t)
        if s is None or s.room not in HOME_ROOMS or s.room == "hall":
            continue
        if rooms is not None and s.room not in rooms:
            continue
        if acts is not None and s.act not in acts:
            continue
        if home_between(segs, t, t + span):
            return t
    return None


def _pick_in_rooms(
    rng: np.random.Generator,
    segs: list[Seg],
    clock: Clock,
    day: int,
    h0: float,
    h1: float,
    rooms: frozenset[str],
    acts: frozenset[str] | None = None,
) -> float | None:
    """A random moment spent in one of ``rooms`` (doing one of ``acts``) between h0 and h1."""
    lo, hi = clock.local(day, h0), clock.local(day, h1)
    spans = [
        (max(s.start, lo), min(s.end, hi))
        for s in segs
        if s.room in rooms and (acts is None or s.act in acts)
    ]
    spans = [(a, b) for a, b in spans if b - a > 30.0]
    if not spans:
        return None
    a, b = spans[int(rng.integers(0, len(spans)))]
    return float(rng.uniform(a + 10.0, b - 10.0))


def _wander(rng: np.random.Generator, segs: list[Seg], t0: float, dur: float) -> list[Seg]:
    t = t0
    rooms = ["hall", "kitchen", "living", "hall", "toilet", "living"]
    out = segs
    corridor_done = False
    i = 0
    while t < t0 + dur:
        if not corridor_done and rng.random() < 0.15:
            d = float(rng.uniform(300, 900))
            out = overlay(out, t, t + d, "corridor", "wander")
            corridor_done = True
        else:
            d = float(rng.uniform(90, 360))
            out = overlay(out, t, t + d, rooms[i % len(rooms)], "wander")
            i += 1
        t += d
    return out


# --------------------------------------------------------------------------------------
# sensors


def _passages(
    segs: list[Seg], travel: float, rng: np.random.Generator
) -> tuple[list[Seg], list[tuple[float, str]]]:
    """Insert hall passages between rooms and find the door crossings.

    Returns the segments with hall walks carved out of the next segment, and
    ``(time, direction)`` crossings, direction ``out`` or ``in``.
    """
    out: list[Seg] = []
    doors: list[tuple[float, str]] = []
    prev: Seg | None = None
    for s in segs:
        if prev is not None and abs(prev.end - s.start) < 1.0 and prev.room != s.room:
            a_home, b_home = prev.room in HOME_ROOMS, s.room in HOME_ROOMS
            if a_home and not b_home:
                walk = min(float(rng.uniform(15, 40)), (prev.end - prev.start) / 2)
                if out and prev.room != "hall":
                    last = out[-1]
                    out[-1] = last._replace(end=last.end - walk)
                    out.append(Seg(last.end - walk, last.end, "hall", "active"))
                doors.append((s.start, "out"))
            elif b_home and not a_home:
                doors.append((s.start, "in"))
                walk = min(float(rng.uniform(10, 30)), (s.end - s.start) / 2)
                if s.room != "hall":
                    out.append(Seg(s.start, s.start + walk, "hall", "active"))
                    s = s._replace(start=s.start + walk)
            elif a_home and b_home and "hall" not in (prev.room, s.room):
                walk = min(travel * float(rng.uniform(0.8, 1.25)), (s.end - s.start) / 2)
                out.append(Seg(s.start, s.start + walk, "hall", "active"))
                s = s._replace(start=s.start + walk)
        out.append(s)
        prev = s
    return out, doors


def _detections(
    rng: np.random.Generator,
    people: list[list[Seg]],
    w_end: float,
    trip: float = 1.0,
    miss: float = 0.0,
    miss_rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Motion detections per room; a person staying in one room has no entry or exit.

    ``trip`` multiplies the rates of resting activities (``Knobs.seated_trip_min``);
    ``miss`` is the chance that the PIR misses a walk through the room (its entry and
    exit detections together) and, independently, each other detection, drawn from
    ``miss_rng`` so that the rest of the day stays the same.
    """
    per_room: dict[str, list[np.ndarray]] = {}
    for segs in people:
        for i, s in enumerate(segs):
            if s.room not in HOME_ROOMS:
                continue
            dur = s.end - s.start
            rate = RATE.get(s.act, 1 / 60)
            if trip != 1.0 and s.act in RESTING:
                rate *= trip
            n = int(rng.poisson(rate * dur)) if rate > 0 else 0
            parts = [s.start + rng.uniform(0.0, dur, n)]
            prev = segs[i - 1] if i > 0 else None
            nxt = segs[i + 1] if i + 1 < len(segs) else None
            same_before = prev is not None and prev.room == s.room and prev.end >= s.start - 1
            same_after = nxt is not None and nxt.room == s.room and nxt.start <= s.end + 1
            walk: list[np.ndarray] = []  # entering and leaving: one walk through the room
            if not s.cont and s.act not in NO_ENTRY and not same_before:
                walk.append(np.array([s.start + float(rng.uniform(0.3, 2.0))]))
            if s.act == "rise":  # pushing up out of the chair or the bed
                parts.append(np.array([s.start + float(rng.uniform(0.5, 3.0))]))
            if s.act == "floor" and rng.random() < FALL_SEEN:  # the fall itself
                parts.append(np.array([s.start + float(rng.uniform(0.2, 1.5))]))
            if s.act not in NO_ENTRY and s.end < w_end - 1.0 and dur > 5.0 and not same_after:
                walk.append(np.array([s.end - float(rng.uniform(1.0, 4.0))]))
            if miss > 0.0 and miss_rng is not None:
                parts = [p[miss_rng.random(p.size) >= miss] for p in parts]
                if walk and miss_rng.random() < miss:
                    walk = []
            per_room.setdefault(s.room, []).extend(parts + walk)
    return {room: np.sort(np.concatenate(p)) for room, p in per_room.items()}


def pir_messages(times: np.ndarray, timeout: float) -> list[tuple[float, bool]]:
    """Motion detections -> Zigbee2MQTT occupancy messages (60 s blind time, clear timeout).

    >>> pir_messages(np.array([0.0, 10.0, 70.0, 400.0]), 75.0)
    [(0.0, True), (70.0, True), (145.0, False), (400.0, True), (475.0, False)]
    """
    reported: list[float] = []
    last = -math.inf
    for t in times.tolist():
        if t - last >= BLIND_S:
            reported.append(t)
            last = t
    out: list[tuple[float, bool]] = []
    for i, t in enumerate(reported):
        out.append((t, True))
        if i + 1 == len(reported) or reported[i + 1] - t > timeout:
            out.append((t + timeout, False))
    return out


def _union(intervals: list[tuple[float, float]], bridge: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a - out[-1][1] <= bridge:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class DaySim:
    """Simulates one apartment over one day window; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        seed: int,
        day_visit_scale: float = 1.0,
        knobs: Knobs | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.day_visit_scale = day_visit_scale
        self.knobs = knobs if knobs is not None else Knobs()
        self.event_only = self.knobs.event_only_keys()

    def run(self, st: AptState, day: int) -> DayOut:
        apt = st.apt
        clock = self.clock
        rng = np.random.default_rng([self.seed, apt.index, day, 0xDA7])
        out = DayOut()
        w0, w1 = float(st.wake[0][day]), float(st.wake[0][day + 1])
        people: list[list[Seg]] = []
        for k, h in enumerate(apt.residents):
            # everyone's day shares the window of the first resident; a partner who sleeps
            # in is in bed (already) until their own wake time
            wk = max(float(st.wake[k][day]), w0)
            segs = plan_day(
                rng,
                h,
                wk,
                min(float(st.bed[k][day]), w1 - 3600.0),
                w1,
                clock,
                day,
                st.plan,
                primary=(k == 0),
            )
            if wk > w0 + 60.0:
                segs.insert(0, Seg(w0, wk, "bedroom", "sleep", cont=True))
            if self.knobs.night_kitchen > 0.0:
                segs = self._night_kitchen(st, day, k, segs, w0, w1)
            people.append(segs)
        guests: list[list[Seg]] = []
        if st.pending:
            guests.append(
                [s._replace(cont=True) if i == 0 else s for i, s in enumerate(st.pending)]
            )
            st.pending = []
        main = people[0]
        h0 = apt.residents[0]

        # acute episodes ---------------------------------------------------------------
        kind = st.plan.acute.get(day)
        if kind is not None and not self._away_at(st, w0, w1):
            main = self._acute(kind, rng, st, day, main, guests, out)
            if kind in ("no_wake", "fall", "inactivity", "long_bathroom") and out.truth:
                # after that, no outings today: stay home (the helper may have stayed too)
                after = out.truth[-1].end
                main = [
                    x._replace(room="living", act="still")
                    if x.end > after and x.room in OUT_ROOMS
                    else x
                    for x in main
                ]
        if day in st.plan.overnight_visits:
            t = _pick_home_time(rng, main, clock, day, 16.5, 18.0, 60.0)
            if t is not None:
                stay_end = clock.local(day + 1, float(rng.uniform(10.0, 12.0)))
                g = [
                    Seg(t, clock.local(day, 22.5), "living", "visit"),
                    Seg(clock.local(day, 22.5), clock.local(day + 1, 7.5), "living", "sleep"),
                    Seg(clock.local(day + 1, 7.5), stay_end, "living", "visit"),
                ]
                guests.append(g)
                out.truth.append(
                    Truth(apt.id, "normal", t, stay_end, {"note": "visitor stays the night"})
                )
        elif kind is None and rng.random() < h0.visitors_per_week / 7.0 * self.day_visit_scale * (
            1 - 0.8 * st.plan.trend_factor("withdrawal", day)
        ):
            t = _pick_home_time(rng, main, clock, day, 14.0, 16.5, 3600.0)
            if t is not None:
                guests.append([Seg(t, t + float(rng.uniform(3600, 7200)), "living", "visit")])
        if st.plan.wandering_on(day) and rng.random() < 0.7:
            t = clock.local(day + 1, float(rng.uniform(1.0, 4.5)))
            s = where(main, t)
            if s is not None and s.act == "sleep":
                main = _wander(rng, main, t, float(rng.uniform(1200, 5400)))

        # away periods (holiday, hospital) override everything the residents planned
        for idx, (leave, back, _kind) in enumerate(st.away):
            if back <= w0 or leave >= w1 + 86400.0:
                continue
            ongoing = where(main, leave) if w0 <= leave < w1 else None
            if ongoing is not None and ongoing.room in OUT_ROOMS:
                # already out (shopping) when the holiday starts: it starts at that door
                leave = ongoing.start
                st.away[idx] = (leave, back, _kind)
            for i, segs in enumerate([main, *people[1:]]):
                if i > 0 and _kind.startswith("hospital"):
                    continue
                new = overlay(segs, max(leave, w0 - 1.0), min(back, w1 + 1.0), "away", "away")
                if i == 0:
                    main = new
                else:
                    people[i] = new
            guests = [[s for s in g if s.end <= leave or s.start >= back] for g in guests]
        people[0] = main

        self._sensors(rng, st, day, w0, w1, people, guests, out)
        return out

    def _night_kitchen(
        self, st: AptState, day: int, k: int, segs: list[Seg], w0: float, w1: float
    ) -> list[Seg]:
        """Night kitchen visits (``Knobs.night_kitchen`` a night, from a generator of their
        own): out of bed, a few minutes in the kitchen (the fridge, perhaps), back to bed."""
        rng = np.random.default_rng([self.seed, st.apt.index, day, k, 0x1A7E])
        nights = [s for s in segs if s.act == "sleep" and not s.cont and s.start > w0 + 6 * 3600]
        if not nights:
            return segs
        lo, hi = nights[0].start + 1800.0, w1 - 1800.0
        n = int(rng.poisson(self.knobs.night_kitchen))
        for v in np.sort(rng.uniform(lo, hi, n)).tolist() if hi > lo else []:
            d1, d2, d3 = (float(x) for x in rng.uniform([30, 120, 20], [90, 420, 60]))
            s = where(segs, v)
            if s is None or s.act != "sleep" or s.end < v + d1 + d2 + d3 + 60.0:
                continue
            segs = overlay(segs, v, v + d1, "bedroom", "active")
            segs = overlay(segs, v + d1, v + d1 + d2, "kitchen", "snack")
            segs = overlay(segs, v + d1 + d2, v + d1 + d2 + d3, "bedroom", "active")
        return segs

    def _away_at(self, st: AptState, t0: float, t1: float) -> bool:
        return any(a < t1 and b > t0 for a, b, _ in st.away)

    def _helper(
        self, rng: np.random.Generator, t: float, room: str, guests: list[list[Seg]]
    ) -> float:
        d = float(rng.uniform(1200, 2700))
        guests.append([Seg(t, t + d, room, "help")])
        return t + d

    def _acute(
        self,
        kind: str,
        rng: np.random.Generator,
        st: AptState,
        day: int,
        main: list[Seg],
        guests: list[list[Seg]],
        out: DayOut,
    ) -> list[Seg]:
        apt = st.apt
        clock = self.clock
        if kind == "no_wake":
            start = float(st.wake[0][day])
            end = start + float(rng.uniform(3.0, 5.0)) * 3600.0
            main = overlay(main, start, end, "bedroom", "sleep", cont=True)
            self._helper(rng, end, "bedroom", guests)
            out.truth.append(
                Truth(apt.id, "no_wake", start, end, {"note": "stays in bed until help arrives"})
            )
        elif kind in ("fall", "inactivity"):
            dur = float(rng.uniform(1.5, 4.0) if kind == "fall" else rng.uniform(3.0, 5.0)) * 3600
            rooms: frozenset[str] | None = None
            acts: frozenset[str] | None = None
            if kind == "inactivity":
                rooms, acts = frozenset({"living"}), SITTING
            elif apt.radar_room is not None and (rng.random() < 0.75 or not apt.single):
                rooms = frozenset({apt.radar_room})
            t = None
            if rooms is not None:
                t = _pick_in_rooms(rng, main, clock, day, 7.0, 22.5, rooms, acts)
            if t is None and kind == "fall" and apt.single:
                # (a partner would be seen moving: couples only fall where the radar is)
                t = _pick_home_time(rng, main, clock, day, 8.5, 20.5, dur)
            if t is None:
                return main
            seg = where(main, t)
            room = seg.room if seg is not None else "living"
            if kind == "fall" and seg is not None and seg.act in RESTING:
                # nobody falls sitting still: the resident gets up (out of the chair or
                # the bed) and falls within a few steps; a PIR in the room sees that
                rise = min(float(rng.uniform(5.0, 40.0)), (t - seg.start) / 2)
                main = overlay(main, t - rise, t, room, "rise")
            main = overlay(
                main, t, t + dur, room, "floor" if kind == "fall" else "faint", cont=True
            )
            self._helper(rng, t + dur, room, guests)
            extra: dict[str, Any] = {"room": room}
            if kind == "fall":
                has = apt.radar_room == room
                extra["fall_sensor"] = has
                if self.knobs.naming != "ours":  # flat.yaml names no pads: the truth does
                    extra["chair_pads"] = sum(k.startswith("living/chair_pad") for k in apt.devices)
                if has:
                    extra["note"] = "fall radar reports it"
                else:
                    extra["note"] = "no fall sensor here: motion stops"
                if rng.random() < 0.3:
                    leave = t + dur + 1800.0
                    back = clock.local(day + int(rng.integers(2, 7)), float(rng.uniform(11, 16)))
                    st.away.append((leave, back, "hospital after fall"))
                    out.truth.append(
                        Truth(
                            apt.id,
                            "normal",
                            leave,
                            min(back, clock.t_end),
                            {"note": "away: hospital after fall"},
                        )
                    )
                    main = overlay(
                        main, leave, max(leave + 1.0, float(st.wake[0][day + 1])), "away", "away"
                    )
            else:
                extra["note"] = "no movement in the chair for hours"
            out.truth.append(Truth(apt.id, kind, t, t + dur, extra))
        elif kind == "long_bathroom":
            dur = float(rng.uniform(1.5, 3.0)) * 3600.0
            t = _pick_home_time(rng, main, clock, day, 9.0, 20.0, dur)
            if t is None:
                return main
            main = overlay(main, t, t + dur, "bathroom", "sickbath")
            out.truth.append(
                Truth(apt.id, kind, t, t + dur, {"note": "unwell in the bathroom, hardly moving"})
            )
        elif kind == "door_open":
            dur = float(rng.uniform(40.0, 150.0)) * 60.0
            t = _pick_home_time(rng, main, clock, day, 9.0, 20.0, dur)
            if t is None:
                return main
            st.state[("door_open", "window")] = (t, t + dur)
            out.truth.append(
                Truth(apt.id, kind, t, t + dur, {"note": "front door left open while at home"})
            )
        elif kind == "sos":
            t = _pick_home_time(rng, main, clock, day, 8.0, 21.5, 3600.0)
            if t is None:
                return main
            st.state[("sos", "time")] = t
            self._helper(rng, t + float(rng.uniform(600, 1800)), "living", guests)
            out.truth.append(Truth(apt.id, kind, t, t + 1800.0, {"note": "pendant pressed"}))
        return main

    # ----------------------------------------------------------------------------------
    def _sensors(
        self,
        rng: np.random.Generator,
        st: AptState,
        day: int,
        w0: float,
        w1: float,
        people: list[list[Seg]],
        guests: list[list[Seg]],
        out: DayOut,
    ) -> None:
        apt = st.apt
        travel_f = 1.0 + 2.0 * st.plan.trend_factor("mobility_decline", day)
        dev_events: dict[str, list[tuple[float, dict[str, Any]]]] = {k: [] for k in apt.devices}
        all_segs: list[list[Seg]] = []
        door_times: list[float] = []
        for k, segs in enumerate(people):
            segs = [s for s in segs if s.end > s.start]
            walked, doors = _passages(segs, apt.residents[k].travel_s * travel_f, rng)
            all_segs.append(walked)
            for t, direction in doors:
                door_times.append(t)
                out.common_hall.append(
                    t
                    + (
                        float(rng.uniform(15, 40))
                        if direction == "out"
                        else -float(rng.uniform(15, 40))
                    )
                )
                nxt = where(segs, t + 1.0) if direction == "out" else where(segs, t - 1.0)
                if nxt is not None and nxt.room == "away":
                    out.common_door.append(
                        t
                        + (
                            float(rng.uniform(60, 120))
                            if direction == "out"
                            else -float(rng.uniform(60, 120))
                        )
                    )
            for s in segs:
                if s.room == "common":
                    out.common_room.append((s.start + 60.0, max(s.start + 61.0, s.end - 60.0)))
                elif s.room == "corridor":
                    n = max(1, int(rng.poisson((s.end - s.start) / 60.0)))
                    out.common_hall.extend(np.sort(rng.uniform(s.start, s.end, n)).tolist())
            pad = "bedroom/bed_pad" if k == 0 else f"bedroom/bed_pad_{k + 1}"
            if (
                segs
                and segs[0].room == "bedroom"
                and segs[0].act != "sleep"
                and segs[0].start <= w0 + 1.0
            ):
                # got up: the night's pad belongs to yesterday's window
                dev_events[pad].append((w0 + float(rng.uniform(1, 6)), {"occupancy": False}))
            for a, b in _union(
                [(s.start, s.end) for s in segs if s.act == "sleep" and s.room == "bedroom"], 1.0
            ):
                first = next(s for s in segs if s.start >= a - 1.0 and s.act == "sleep")
                if not first.cont:
                    dev_events[pad].append((a + float(rng.uniform(5, 30)), {"occupancy": True}))
                if b < w1 - 1.0:
                    dev_events[pad].append((b + float(rng.uniform(0.5, 4)), {"occupancy": False}))
            chair = chair_pad_key(k)
            if apt.has_chair_pad and chair in apt.devices:
                for a, b in _union(
                    [
                        (s.start, s.end)
                        for s in segs
                        if s.room == "living" and s.act in SITTING | {"faint"}
                    ],
                    1.0,
                ):
                    dev_events[chair].append((a + float(rng.uniform(3, 15)), {"occupancy": True}))
                    dev_events[chair].append((b - float(rng.uniform(1, 5)), {"occupancy": False}))
            self._kitchen(rng, segs, dev_events, apt.residents[k], day, st)
            if k == 0:
                tv = _union([(s.start, s.end) for s in segs if s.act == "tv"], 900.0)
                for a, b in tv:
                    watts = float(rng.uniform(60, 110))
                    t = a + float(rng.uniform(10, 60))
                    while t < b:
                        dev_events["living/tv"].append(
                            (t, {"power": round(watts + float(rng.normal(0, 2.5)), 1)})
                        )
                        t += float(rng.uniform(1200, 2400))
                    dev_events["living/tv"].append((b, {"power": 0.4}))
        for g in guests:
            g = [s for s in g if s.end > s.start]
            if not g:
                continue
            # anything past the window continues tomorrow
            later = [s._replace(start=max(s.start, w1)) for s in g if s.end > w1]
            g = [s._replace(end=min(s.end, w1)) for s in g if s.start < w1]
            if later:
                st.pending = later
            all_segs.append(g)
            if g and not g[0].cont:
                door_times.append(g[0].start)
                out.common_hall.append(g[0].start - float(rng.uniform(15, 40)))
            if g and not later:
                door_times.append(g[-1].end)
                out.common_hall.append(g[-1].end + float(rng.uniform(15, 40)))
        # front door
        window = st.state.pop(("door_open", "window"), None)
        door = dev_events["entrance/door"]
        for t in sorted(door_times):
            if window is not None and window[0] - 30 <= t <= window[1] + 30:
                continue
            door.append((t - 2.0, {"contact": False}))
            door.append((t + float(rng.uniform(3, 12)), {"contact": True}))
        if window is not None:
            door.append((window[0], {"contact": False}))
            door.append((window[1], {"contact": True}))
        sos = st.state.pop(("sos", "time"), None)
        if sos is not None:
            dev_events["living/sos_pendant"].append((sos, {"action": "sos"}))
        # fall radar
        if apt.radar_room is not None:
            radar = f"{apt.radar_room}/fall_radar"
            for s in people[0]:
                if s.act == "floor" and s.room == apt.radar_room:
                    dev_events[radar].append((s.start + float(rng.uniform(1, 5)), {"fall": True}))
                    dev_events[radar].append((s.end + float(rng.uniform(60, 300)), {"fall": False}))
        # knobs: plugs left unused today, PIR misses (generators of their own)
        knobs = self.knobs
        if knobs.plug_use_days < 1.0:
            use = np.random.default_rng([self.seed, apt.index, day, 0x9106]).random(len(PLUG_KEYS))
            for key, u in zip(PLUG_KEYS, use.tolist(), strict=True):
                if u >= knobs.plug_use_days and key in dev_events:
                    dev_events[key] = []
        miss_rng = (
            np.random.default_rng([self.seed, apt.index, day, 0x9155])
            if knobs.pir_miss > 0.0
            else None
        )
        # motion
        for room, times in _detections(
            rng, all_segs, w1, knobs.trip_factor, knobs.pir_miss, miss_rng
        ).items():
            dev = apt.devices[f"{room}/motion"]
            dev_events[dev.key].extend(
                (t, {"occupancy": v}) for t, v in pir_messages(times, dev.timeout_s)
            )
        self._finish(rng, st, w0, w1, dev_events, out)

    def _kitchen(
        self,
        rng: np.random.Generator,
        segs: list[Seg],
        dev_events: dict[str, list[tuple[float, dict[str, Any]]]],
        h: Habits,
        day: int,
        st: AptState,
    ) -> None:
        f_nut = st.plan.trend_factor("nutrition", day)
        for s in segs:
            if s.room == "kitchen" and s.act == "snack":  # at night: the fridge, or not
                if rng.random() < 0.6:
                    t = float(rng.uniform(s.start + 10, max(s.start + 11, s.end - 30)))
                    dev_events["kitchen/fridge"].append((t, {"contact": False}))
                    dev_events["kitchen/fridge"].append(
                        (t + float(rng.uniform(5, 30)), {"contact": True})
                    )
                continue
            if s.room != "kitchen" or s.act != "meal":
                continue
            dur = s.end - s.start
            n = (
                1 + int(rng.poisson(1.5 * (1 - 0.5 * f_nut)))
                if dur > 400
                else int(rng.random() < 0.6)
            )
            for t in np.sort(rng.uniform(s.start + 20, max(s.start + 21, s.end - 60), n)).tolist():
                dev_events["kitchen/fridge"].append((t, {"contact": False}))
                dev_events["kitchen/fridge"].append(
                    (t + float(rng.uniform(5, 40)), {"contact": True})
                )
            if dur > 90.0 and rng.random() < h.p_kettle * (1 - 0.5 * f_nut):
                t = s.start + float(rng.uniform(20, max(21.0, min(300, dur / 2))))
                dev_events["kitchen/kettle"].append(
                    (t, {"power": round(float(rng.uniform(1800, 2200)), 1)})
                )
                dev_events["kitchen/kettle"].append(
                    (t + float(rng.uniform(100, 200)), {"power": 0.0})
                )

    def _finish(
        self,
        rng: np.random.Generator,
        st: AptState,
        w0: float,
        w1: float,
        dev_events: dict[str, list[tuple[float, dict[str, Any]]]],
        out: DayOut,
    ) -> None:
        """Hourly reports, battery levels, link quality, silences; then the messages."""
        apt = st.apt
        t0 = self.clock.t0
        for key in sorted(dev_events):
            dev = apt.devices[key]
            events = dev_events[key]
            state_field = _STATE_FIELD[dev.kind]
            events.sort(key=lambda e: e[0])
            # periodic reports carry the last known state (as Zigbee2MQTT does) except PIRs
            if self.knobs.checkins and key not in self.event_only:
                k0 = math.ceil((w0 - t0 - dev.phase_s) / dev.report_s)
                k1 = math.ceil((w1 - t0 - dev.phase_s) / dev.report_s)
                hb = t0 + dev.phase_s + dev.report_s * np.arange(k0, k1)
                hb = hb + rng.uniform(-30.0, 30.0, hb.size)
            else:
                hb = np.empty(0)
            if hb.size:
                times = np.array([e[0] for e in events]) if events else np.empty(0)
                idx = np.searchsorted(times, hb)
                prev = st.state.get((key, state_field), _DEFAULT_STATE[dev.kind])
                reports: list[tuple[float, dict[str, Any]]] = []
                for t, i in zip(hb.tolist(), idx.tolist(), strict=True):
                    value = events[i - 1][1].get(state_field, prev) if i > 0 else prev
                    if dev.kind in ("pir", "sos"):
                        reports.append((t, {}))
                    else:
                        reports.append((t, {state_field: value}))
                events = sorted(events + reports, key=lambda e: e[0])
            for t, payload in reversed(events):
                if state_field in payload and t < w1:
                    st.state[(key, state_field)] = payload[state_field]
                    break
            silent = st.silent.get(key)
            if silent:
                events = [e for e in events if not any(a <= e[0] < b for a, b in silent)]
            if self.knobs.availability == "on":
                self._availability(st, dev, w0, w1, events, out)
            elif silent and self.knobs.availability == "episodes":
                for a, b in silent:
                    if (
                        w0 <= a + AVAILABILITY_TIMEOUT_H * 3600 < w1
                        and a + AVAILABILITY_TIMEOUT_H * 3600 < b
                    ):
                        out.messages.append(
                            (
                                a + AVAILABILITY_TIMEOUT_H * 3600,
                                f"zigbee2mqtt/{apt.id}/{self.knobs.published(key)}/availability",
                                {"state": "offline"},
                            )
                        )
                    if w0 <= b < w1:
                        out.messages.append(
                            (
                                b,
                                f"zigbee2mqtt/{apt.id}/{self.knobs.published(key)}/availability",
                                {"state": "online"},
                            )
                        )
            if not events:
                continue
            ts = np.array([e[0] for e in events])
            lq = np.clip(dev.linkquality + rng.normal(0, 8, ts.size), 0, 255).astype(int).tolist()
            topic = f"zigbee2mqtt/{apt.id}/{self.knobs.published(key)}"
            if dev.battery:
                batt = self._battery(st, dev, ts).astype(int).tolist()
                for (t, payload), b, q in zip(events, batt, lq, strict=True):
                    payload["battery"] = b
                    payload["linkquality"] = q
                    out.messages.append((t, topic, payload))
            else:
                for (t, payload), q in zip(events, lq, strict=True):
                    payload["linkquality"] = q
                    out.messages.append((t, topic, payload))

    def _availability(
        self,
        st: AptState,
        dev: Device,
        w0: float,
        w1: float,
        events: list[tuple[float, dict[str, Any]]],
        out: DayOut,
    ) -> None:
        """Zigbee2MQTT's availability feature (``Knobs.availability == "on"``): ``online``
        for every device when the recording starts (the retained message a subscriber
        gets), ``offline`` once a battery device has been silent for 25 h (its passive
        timeout), ``online`` again with its next message. Mains devices (plugs, radars)
        answer Zigbee2MQTT's pings every 10 minutes and stay online."""
        topic = f"zigbee2mqtt/{st.apt.id}/{self.knobs.published(dev.key)}/availability"
        timeout = AVAILABILITY_TIMEOUT_H * 3600.0 if dev.battery else math.inf
        state: tuple[float, bool] | None = st.state.get((dev.key, "availability"))
        if state is None:
            out.messages.append((w0, topic, {"state": "online"}))
            state = (w0, True)
        last, online = state
        for t, _payload in events:
            if online and t - last > timeout:
                out.messages.append((last + timeout, topic, {"state": "offline"}))
                online = False
            if not online:
                out.messages.append((t - 0.01, topic, {"state": "online"}))
                online = True
            last = max(last, t)
        if online and last + timeout < w1:
            out.messages.append((last + timeout, topic, {"state": "offline"}))
            online = False
        st.state[(dev.key, "availability")] = (last, online)

    def _battery(self, st: AptState, dev: Device, ts: np.ndarray) -> np.ndarray:
        days = (ts - self.clock.t0) / 86400.0
        level = dev.battery_at(days)
        dying = st.dying.get(dev.key)
        if dying is not None:
            death, fresh = dying
            span = 21 * 86400.0
            before = np.array([(death - span - self.clock.t0) / 86400.0])
            at_start = float(dev.battery_at(before)[0])
            fading = at_start * np.clip((death - ts) / span, 0.0, 1.0)
            level = np.where((ts >= death - span) & (ts < fresh), fading, level)
            after = 100.0 - dev.drain_per_day * (ts - fresh) / 86400.0
            level = np.where(ts >= fresh, after, level)
        return np.clip(np.round(level), 0, 100)


_STATE_FIELD = {
    "pir": "occupancy",
    "contact": "contact",
    "bed_pad": "occupancy",
    "chair_pad": "occupancy",
    "plug": "power",
    "fall_radar": "fall",
    "sos": "action",
}
_DEFAULT_STATE: dict[str, Any] = {
    "pir": False,
    "contact": True,
    "bed_pad": False,
    "chair_pad": False,
    "plug": 0.0,
    "fall_radar": False,
    "sos": None,
}
