"""The whole flat as one message stream: apartments, common spaces, transport quirks.

:func:`generate` yields ``(ts, topic, payload)`` in receive order, day by day, with a
bounded buffer (a year of 80 apartments never sits in memory at once), and fills a
:class:`Run` with the ground truth and counts. The same seed gives the same stream:
every random draw comes from a generator seeded by (seed, apartment, day, purpose).

>>> from datetime import date
>>> cfg = SimConfig(apartments=2, days=2, seed=3, start=date(2026, 1, 5))
>>> run = Run(cfg)
>>> msgs = list(generate(run))
>>> msgs[0][1].startswith("zigbee2mqtt/")
True
>>> all(a[0] <= b[0] + 60 for a, b in zip(msgs, msgs[1:]))
True
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simulators.behaviour import (
    ZONE,
    AptState,
    Clock,
    DaySim,
    Seg,
    Truth,
    _union,
    device_truth,
    init_state,
    pir_messages,
    trend_truth,
)
from simulators.episodes import ApartmentPlan, EpisodeRates, plan_apartment
from simulators.fastwrite import FastRecordingWriter
from simulators.flat import COMMON, Apartment, Flat, build_flat, flat_config

logger = logging.getLogger(__name__)

BASE = "zigbee2mqtt"
Message = tuple[float, str, Any]


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate. Quirk rates are per message."""

    apartments: int = 80
    days: int = 365
    seed: int = 1
    start: date = date(2026, 1, 5)
    rates: EpisodeRates = field(default_factory=EpisodeRates)
    p_duplicate: float = 0.003
    p_out_of_order: float = 0.0005
    p_malformed: float = 0.0001
    last_seen: bool = False
    flat_name: str = "sim-flat"


@dataclass(slots=True)
class Run:
    """One simulation: its flat, plans, ground truth and counts (filled while generating)."""

    cfg: SimConfig
    flat: Flat = field(init=False)
    clock: Clock = field(init=False)
    plans: dict[str, ApartmentPlan] = field(init=False)
    truth: list[Truth] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    duplicates: int = 0
    out_of_order: int = 0

    def __post_init__(self) -> None:
        cfg = self.cfg
        self.flat = build_flat(cfg.apartments, cfg.seed, cfg.flat_name)
        self.clock = Clock(cfg.start, cfg.days)
        self.plans = {
            a.id: plan_apartment(a, cfg.days, cfg.rates, cfg.seed) for a in self.flat.apartments
        }

    def truth_lines(self) -> list[dict[str, Any]]:
        """Episodes and confounders, plus one ``normal`` entry per quiet apartment-day."""
        clock = self.clock
        busy: dict[str, set[int]] = {}
        for tr in self.truth:
            if tr.kind == "normal" and not tr.extra.get("note", "").startswith("away"):
                continue
            first, last = clock.day_of(tr.start), clock.day_of(max(tr.start, tr.end - 1.0))
            busy.setdefault(tr.apartment, set()).update(range(first, last + 1))
        entries = list(self.truth)
        for apt in self.flat.apartments:
            taken = busy.get(apt.id, set())
            for d in range(clock.days):
                if d not in taken:
                    entries.append(Truth(apt.id, "normal", float(clock.midnight[d]),
                                         float(clock.midnight[d + 1]),
                                         {"note": "ordinary day"}))
        entries.sort(key=lambda t: (t.start, t.apartment, t.kind, t.end))
        return [t.to_dict() for t in entries]


def _common_state(flat: Flat) -> AptState:
    apt = Apartment(id=COMMON, index=100_000, residents=[], devices=flat.common_devices,
                    radar_room=None, has_chair_pad=False)
    return AptState(apt=apt, plan=ApartmentPlan(), wake=[], bed=[], away=[])


_MALFORMED: tuple[Callable[[str], str], ...] = (
    lambda s: s[: max(1, len(s) // 2)],  # cut off mid-message
    lambda s: s.replace('"', "'"),  # single quotes: not JSON
    lambda s: "",  # empty payload
)


def generate(run: Run, progress: Callable[[int, int], None] | None = None) -> Iterator[Message]:
    """Yield the recording's messages in receive order; fills ``run.truth`` and counts."""
    cfg, clock = run.cfg, run.clock
    sim = DaySim(clock, cfg.seed)
    states = [init_state(a, run.plans[a.id], clock, cfg.seed) for a in run.flat.apartments]
    common = _common_state(run.flat)
    for st in states:
        run.truth.extend(device_truth(st, clock))
    buffer: list[tuple[float, int, float, str, Any]] = []
    seq = 0
    t_end = clock.t_end
    for day in range(cfg.days):
        rng = np.random.default_rng([cfg.seed, day, 0x57EA])
        msgs: list[Message] = []
        room_iv: list[tuple[float, float]] = []
        hall: list[float] = []
        doors: list[float] = []
        for st in states:
            out = sim.run(st, day)
            msgs.extend(out.messages)
            run.truth.extend(out.truth)
            room_iv.extend(out.common_room)
            hall.extend(out.common_hall)
            doors.extend(out.common_door)
        msgs.extend(_common_day(rng, sim, common, clock, day, room_iv, hall, doors))
        n = len(msgs)
        dup = rng.random(n) < cfg.p_duplicate
        late = rng.random(n) < cfg.p_out_of_order
        bad = rng.random(n) < cfg.p_malformed
        delays = rng.uniform(2.0, 30.0, n)
        echo = rng.uniform(0.01, 0.9, n)
        which = rng.integers(0, len(_MALFORMED), n)
        times = np.round(np.fromiter((m[0] for m in msgs), dtype=float, count=n), 3)
        keys = times.copy()
        keys[late] = np.round(times[late] + delays[late], 3)
        for i in np.flatnonzero(bad).tolist():
            t, topic, payload = msgs[i]
            if not topic.endswith("/availability"):
                msgs[i] = (t, topic, _MALFORMED[int(which[i])](json.dumps(payload)))
                run.malformed += 1
        run.out_of_order += int(late.sum())
        tl, kl = times.tolist(), keys.tolist()
        buffer.extend(
            (kl[i], seq + i, tl[i], m[1], m[2]) for i, m in enumerate(msgs) if tl[i] < t_end
        )
        seq += n
        for i in np.flatnonzero(dup).tolist():
            if tl[i] >= t_end:
                continue
            payload = msgs[i][2]
            again = payload if isinstance(payload, str) else dict(payload)
            te = round(tl[i] + float(echo[i]), 3)
            buffer.append((te, seq, te, msgs[i][1], again))
            seq += 1
            run.duplicates += 1
        buffer.sort()
        cut = float(clock.midnight[day + 1]) if day + 1 < cfg.days else float("inf")
        split = bisect.bisect_left(buffer, (cut,))
        for _, _, t, topic, payload in buffer[:split]:
            yield t, topic, payload
        del buffer[:split]
        if progress is not None:
            progress(day + 1, cfg.days)
    for st in states:
        run.truth.extend(trend_truth(st, clock))


def _common_day(rng: np.random.Generator, sim: DaySim, common: AptState, clock: Clock,
                day: int, room_iv: list[tuple[float, float]], hall: list[float],
                doors: list[float]) -> list[Message]:
    """The shared spaces: the common room (one PIR for everyone), hall PIR, entrance door."""
    devs = common.apt.devices
    events: dict[str, list[tuple[float, dict[str, Any]]]] = {k: [] for k in devs}
    segs = [Seg(a, b, "common_room", "active") for a, b in _union(room_iv, 120.0)]
    for s in segs:
        n = int(rng.poisson((s.end - s.start) / 45.0))
        times = np.sort(np.concatenate([[s.start + 1.0], rng.uniform(s.start, s.end, n)]))
        timeout = devs["common_room/motion"].timeout_s
        events["common_room/motion"].extend(
            (t, {"occupancy": v}) for t, v in pir_messages(times, timeout)
        )
    if hall:
        events["hall/motion"].extend(
            (t, {"occupancy": v})
            for t, v in pir_messages(np.sort(np.array(hall)), devs["hall/motion"].timeout_s)
        )
    for t in sorted(doors):
        events["entrance/door"].append((t, {"contact": False}))
        events["entrance/door"].append((t + float(rng.uniform(4, 10)), {"contact": True}))
    w0, w1 = float(clock.midnight[day]), float(clock.midnight[day + 1])
    from simulators.behaviour import DayOut

    out = DayOut()
    sim._finish(rng, common, w0, w1, events, out)
    return out.messages


def iso_ms(t: float) -> str:
    return datetime.fromtimestamp(t, ZONE).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Written:
    messages: int
    truth: int
    seconds: float


def write_simulation(cfg: SimConfig, out_dir: Path,
                     progress: Callable[[int, int], None] | None = None) -> Run:
    """Write ``recording.jsonl.gz``, ``truth.jsonl`` and ``flat.yaml`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run = Run(cfg)
    count = 0
    with FastRecordingWriter(out_dir / "recording.jsonl.gz") as writer:
        for t, topic, payload in generate(run, progress):
            if cfg.last_seen and isinstance(payload, dict):
                payload = {**payload, "last_seen": iso_ms(t)}
            writer.write_epoch(t, topic, payload)
            count += 1
    run.counts["messages"] = count
    lines = run.truth_lines()
    with (out_dir / "truth.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for entry in lines:
            fh.write(json.dumps(entry) + "\n")
    run.counts["truth"] = len(lines)
    with (out_dir / "flat.yaml").open("w", encoding="utf-8", newline="\n") as fh:
        yaml.safe_dump(flat_config(run.flat), fh, sort_keys=True)
    return run
