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
import multiprocessing as mp
import threading
import traceback
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
from simulators.fastwrite import FastRecordingWriter, LineFormatter
from simulators.flat import (
    CHAIR_PADS,
    COMMON,
    FALL_RADARS,
    Apartment,
    Flat,
    build_flat,
    flat_config,
)
from simulators.knobs import Knobs

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
    chair_pads: float = CHAIR_PADS
    fall_radars: float = FALL_RADARS
    knobs: Knobs = field(default_factory=Knobs)


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
        self.flat = build_flat(
            cfg.apartments, cfg.seed, cfg.flat_name, cfg.chair_pads, cfg.fall_radars, cfg.knobs
        )
        self.clock = Clock(cfg.start, cfg.days)
        self.plans = {
            a.id: plan_apartment(a, cfg.days, cfg.rates, cfg.seed, cfg.knobs.episodes_from_day)
            for a in self.flat.apartments
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
                    entries.append(
                        Truth(
                            apt.id,
                            "normal",
                            float(clock.midnight[d]),
                            float(clock.midnight[d + 1]),
                            {"note": "ordinary day"},
                        )
                    )
        entries.sort(key=lambda t: (t.start, t.apartment, t.kind, t.end))
        return [t.to_dict() for t in entries]


def _common_state(flat: Flat) -> AptState:
    apt = Apartment(
        id=COMMON,
        index=100_000,
        residents=[],
        devices=flat.common_devices,
        radar_room=None,
        has_chair_pad=False,
    )
    return AptState(apt=apt, plan=ApartmentPlan(), wake=[], bed=[], away=[])


_MALFORMED: tuple[Callable[[str], str], ...] = (
    lambda s: s[: max(1, len(s) // 2)],  # cut off mid-message
    lambda s: s.replace('"', "'"),  # single quotes: not JSON
    lambda s: "",  # empty payload
)


# (receive key, apartment index, seq, t, topic, payload)
Item = tuple[float, int, int, float, str, Any]
Line = tuple[float, int, int, str]  # (receive key, apartment index, seq, recording line)
COMMON_INDEX = 100_000
SEQ_PER_DAY = 10_000_000


@dataclass(slots=True)
class DayPart:
    """What a producer hands over for one day: its messages and what the flat shares."""

    items: list[Any] = field(default_factory=list)
    truth: list[Truth] = field(default_factory=list)
    room_iv: list[tuple[float, float]] = field(default_factory=list)
    hall: list[float] = field(default_factory=list)
    doors: list[float] = field(default_factory=list)
    malformed: int = 0
    duplicates: int = 0
    out_of_order: int = 0


def _quirks(
    msgs: list[Message],
    rng: np.random.Generator,
    cfg: SimConfig,
    index: int,
    day: int,
    t_end: float,
    part: DayPart,
) -> list[Item]:
    """Transport quirks of one apartment-day: QoS-1 repeats, late arrivals, broken payloads."""
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
            part.malformed += 1
    part.out_of_order += int(late.sum())
    tl, kl = times.tolist(), keys.tolist()
    base = day * SEQ_PER_DAY
    gone = _lost(cfg, index, day, n)
    items: list[Item] = [
        (kl[i], index, base + i, tl[i], m[1], m[2])
        for i, m in enumerate(msgs)
        if tl[i] < t_end and i not in gone
    ]
    extra = base + n
    for i in np.flatnonzero(dup).tolist():
        if tl[i] >= t_end or i in gone:
            continue
        payload = msgs[i][2]
        again = payload if isinstance(payload, str) else dict(payload)
        te = round(tl[i] + float(echo[i]), 3)
        items.append((te, index, extra, te, msgs[i][1], again))
        extra += 1
        part.duplicates += 1
    return items


def _lost(cfg: SimConfig, index: int, day: int, n: int) -> frozenset[int]:
    """The messages of an apartment-day lost on the way (``Knobs.loss``), drawn from a
    generator of their own so that every other message stays as it was."""
    if cfg.knobs.loss <= 0.0:
        return frozenset()
    lrng = np.random.default_rng([cfg.seed, index, day, 0x1055])
    return frozenset(np.flatnonzero(lrng.random(n) < cfg.knobs.loss).tolist())


class Producer:
    """Simulates some of the flat's apartments, day by day (one per process when parallel)."""

    def __init__(
        self, cfg: SimConfig, indices: list[int] | None = None, formatted: bool = False
    ) -> None:
        self.cfg = cfg
        self.flat = build_flat(
            cfg.apartments, cfg.seed, cfg.flat_name, cfg.chair_pads, cfg.fall_radars, cfg.knobs
        )
        self.clock = Clock(cfg.start, cfg.days)
        self.sim = DaySim(self.clock, cfg.seed, knobs=cfg.knobs)
        chosen = range(cfg.apartments) if indices is None else indices
        apts = [self.flat.apartments[i] for i in chosen]
        self.states = [
            init_state(
                a,
                plan_apartment(a, cfg.days, cfg.rates, cfg.seed, cfg.knobs.episodes_from_day),
                self.clock,
                cfg.seed,
            )
            for a in apts
        ]
        self.formatted = formatted
        self.fmt = LineFormatter()

    def first_truth(self) -> list[Truth]:
        return [t for st in self.states for t in device_truth(st, self.clock, self.sim.knobs)]

    def last_truth(self) -> list[Truth]:
        return [t for st in self.states for t in trend_truth(st, self.clock)]

    def day(self, day: int) -> DayPart:
        part = DayPart()
        for st in self.states:
            out = self.sim.run(st, day)
            part.truth.extend(out.truth)
            part.room_iv.extend(out.common_room)
            part.hall.extend(out.common_hall)
            part.doors.extend(out.common_door)
            rng = np.random.default_rng([self.cfg.seed, st.apt.index, day, 0x57EA])
            items = _quirks(out.messages, rng, self.cfg, st.apt.index, day, self.clock.t_end, part)
            part.items.extend(self.format(items) if self.formatted else items)
        return part

    def format(self, items: list[Item]) -> list[Line]:
        return format_items(items, self.fmt, self.cfg.last_seen)


def format_items(items: list[Item], fmt: LineFormatter, last_seen: bool) -> list[Line]:
    line = fmt.line
    if last_seen:
        return [(k, a, j, line(t, topic, _with_last_seen(t, p))) for k, a, j, t, topic, p in items]
    return [(k, a, j, line(t, topic, p)) for k, a, j, t, topic, p in items]


def _with_last_seen(t: float, payload: Any) -> Any:
    if isinstance(payload, dict):
        return {**payload, "last_seen": iso_ms(t)}
    return payload


def _merged_days(
    run: Run,
    producers: Iterator[list[DayPart]],
    formatted: bool,
    progress: Callable[[int, int], None] | None,
) -> Iterator[Any]:
    """Merge the producers' days with the common spaces, in receive order."""
    cfg, clock = run.cfg, run.clock
    common = _common_state(run.flat)
    sim = DaySim(clock, cfg.seed, knobs=cfg.knobs)
    buffer: list[Any] = []
    fmt = LineFormatter()
    for day, parts in enumerate(producers):
        merged = DayPart()
        for part in parts:
            buffer.extend(part.items)
            run.truth.extend(part.truth)
            merged.room_iv.extend(part.room_iv)
            merged.hall.extend(part.hall)
            merged.doors.extend(part.doors)
            run.malformed += part.malformed
            run.duplicates += part.duplicates
            run.out_of_order += part.out_of_order
        rng = np.random.default_rng([cfg.seed, day, 0x57EA])
        msgs = _common_day(rng, sim, common, clock, day, merged.room_iv, merged.hall, merged.doors)
        qrng = np.random.default_rng([cfg.seed, COMMON_INDEX, day, 0x57EA])
        items = _quirks(msgs, qrng, cfg, COMMON_INDEX, day, clock.t_end, merged)
        run.malformed += merged.malformed
        run.duplicates += merged.duplicates
        run.out_of_order += merged.out_of_order
        buffer.extend(format_items(items, fmt, cfg.last_seen) if formatted else items)
        buffer.sort()
        cut = float(clock.midnight[day + 1]) if day + 1 < cfg.days else float("inf")
        split = bisect.bisect_left(buffer, (cut,))
        yield from buffer[:split]
        del buffer[:split]
        if progress is not None:
            progress(day + 1, cfg.days)


def _in_process(producer: Producer, days: int) -> Iterator[list[DayPart]]:
    for day in range(days):
        yield [producer.day(day)]


def generate(run: Run, progress: Callable[[int, int], None] | None = None) -> Iterator[Message]:
    """Yield the recording's messages ``(t, topic, payload)`` in receive order.

    Fills ``run.truth`` and the quirk counts as it goes (complete once exhausted).
    """
    producer = Producer(run.cfg)
    run.truth.extend(producer.first_truth())
    for _k, _a, _j, t, topic, payload in _merged_days(
        run, _in_process(producer, run.cfg.days), False, progress
    ):
        yield t, topic, payload
    run.truth.extend(producer.last_truth())


def _worker(cfg: SimConfig, indices: list[int], queue: Any) -> None:
    try:
        producer = Producer(cfg, indices, formatted=True)
        queue.put(("truth", producer.first_truth()))
        for day in range(cfg.days):
            queue.put(("day", producer.day(day)))
        queue.put(("truth", producer.last_truth()))
    except Exception:
        logger.exception("simulation worker failed")
        queue.put(("error", traceback.format_exc()))
        raise


class WorkerFailed(Exception):
    """A simulation worker process died."""


def _from_workers(run: Run, queues: list[Any]) -> Iterator[list[DayPart]]:
    def get(q: Any) -> tuple[str, Any]:
        kind, value = q.get()
        if kind == "error":
            raise WorkerFailed(f"simulation worker failed:\n{value}")
        return kind, value

    for q in queues:
        _, truth = get(q)
        run.truth.extend(truth)
    for _day in range(run.cfg.days):
        yield [get(q)[1] for q in queues]
    for q in queues:
        _, truth = get(q)
        run.truth.extend(truth)


def _common_day(
    rng: np.random.Generator,
    sim: DaySim,
    common: AptState,
    clock: Clock,
    day: int,
    room_iv: list[tuple[float, float]],
    hall: list[float],
    doors: list[float],
) -> list[Message]:
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


def write_simulation(
    cfg: SimConfig,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> Run:
    """Write ``recording.jsonl.gz``, ``truth.jsonl`` and ``flat.yaml`` into ``out_dir``.

    ``workers`` > 1 simulates the apartments in that many processes; the files are the same
    bytes whatever the number of workers.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    run = Run(cfg)
    workers = max(1, min(workers, cfg.apartments))
    procs: list[Any] = []
    if workers == 1:
        producer = Producer(cfg, formatted=True)
        run.truth.extend(producer.first_truth())
        days: Iterator[list[DayPart]] = _in_process(producer, cfg.days)
    else:
        # fork is quick; with other threads running (a test's MQTT loop) it is unsafe
        ctx = mp.get_context("fork") if threading.active_count() == 1 else mp.get_context("spawn")
        queues = [ctx.Queue(maxsize=4) for _ in range(workers)]
        for w in range(workers):
            indices = list(range(w, cfg.apartments, workers))
            proc = ctx.Process(target=_worker, args=(cfg, indices, queues[w]), daemon=True)
            proc.start()
            procs.append(proc)
        days = _from_workers(run, queues)
    try:
        with FastRecordingWriter(out_dir / "recording.jsonl.gz") as writer:
            for _k, _a, _j, line in _merged_days(run, days, True, progress):
                writer.write_line(line)
        run.counts["messages"] = writer.count
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
    if workers == 1:
        run.truth.extend(producer.last_truth())
    lines = run.truth_lines()
    with (out_dir / "truth.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for entry in lines:
            fh.write(json.dumps(entry) + "\n")
    run.counts["truth"] = len(lines)
    with (out_dir / "flat.yaml").open("w", encoding="utf-8", newline="\n") as fh:
        yaml.safe_dump(flat_config(run.flat), fh, sort_keys=True)
    return run
