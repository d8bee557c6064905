"""Named worlds: sets of the simulator's knobs (``simulators.knobs``) to measure the hub on.

``thuisplus eval-suite --worlds NAME [NAME ...]`` (or ``--worlds all``) runs the suite
(simulate -> replay -> evaluate, over the seeds) once per world and ends with the worst
world per goal metric. The table is here, in one place; docs/simulator.md gives each
knob's range and its source.

>>> sorted(WORLDS) == sorted(WORLD_ORDER)
True
>>> WORLDS["default"].knobs.is_default(), WORLDS["default"].fitted.kit
(True, True)
>>> WORLDS["no-kit"].fitted.is_default()
True
>>> WORLDS["long"].days_for(14), WORLDS["long"].days_for(120)
(56, 120)
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from simulators.episodes import TREND_KINDS, EpisodeRates
from simulators.eval_suite import Job, run_jobs, score_suite
from simulators.evaluate import ACUTE, Score, SignalRow, load_signals
from simulators.knobs import Knobs
from simulators.stream import SimConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class World:
    name: str
    what: str
    knobs: Knobs = field(default_factory=Knobs)
    min_days: int = 0
    """The world needs at least this many days (``long``: eight weeks)."""
    rates: dict[str, float] = field(default_factory=dict)
    """Episode rate overrides (``--rate``), e.g. more guests staying the night."""
    kit: bool = True
    """Measured with the standard installation (``Knobs.kit``: a chair pad for each
    resident), as issue 18 decided; ``no-kit`` is the one world without it."""

    def days_for(self, days: int) -> int:
        return max(days, self.min_days)

    @property
    def fitted(self) -> Knobs:
        """The world's knobs with its kit (what it is measured with)."""
        return replace(self.knobs, kit=self.kit)

    def config(self, base: SimConfig, knobs: Knobs | None = None) -> SimConfig:
        """``base`` in this world (``knobs``: the world's knobs with the user's own set)."""
        rates: EpisodeRates = base.rates.with_overrides(self.rates) if self.rates else base.rates
        return replace(
            base,
            days=self.days_for(base.days),
            rates=rates,
            knobs=knobs if knobs is not None else self.fitted,
        )


WORLD_LIST = (
    World(
        "default",
        "the simulator as it was, every modelling assumption at its default, with the "
        "standard kit (a chair pad for each resident)",
    ),
    World(
        "no-kit",
        "the default world without the kit: about 30 % of apartments have a chair pad",
        kit=False,
    ),
    World(
        "leaky-pir",
        "PIRs miss 15 % of walks and movements; a seated or lying resident trips one "
        "once an hour (75 min) instead of every 15 min",
        Knobs(pir_miss=0.15, seated_trip_min=75.0),
    ),
    World(
        "event-only",
        "no periodic check-ins from any device; TV, kettle and fridge report only when "
        "used, the plugs on 35 % of days; no availability topics",
        Knobs(
            checkins=False,
            event_only=("tv", "kettle", "fridge"),
            plug_use_days=0.35,
            availability="off",
        ),
    ),
    World(
        "availability",
        "Zigbee2MQTT's availability feature on: online at the start, offline after 25 h "
        "of a battery device's silence, online with its next message",
        Knobs(availability="on"),
    ),
    World(
        "long",
        "at least 8 weeks, no episode before week 4 (day 21): a baseline for the trends",
        Knobs(episodes_from_day=21),
        min_days=56,
    ),
    World(
        "busy-nights",
        "night toilet visits 2.5x each resident's own rate, one night kitchen visit a "
        "night on average",
        Knobs(night_toilet_scale=2.5, night_kitchen=1.0),
    ),
    World(
        "social",
        "3x the day visits, 2x the common-room coffee, 4 guests staying the night a year",
        Knobs(visitor_scale=3.0, common_scale=2.0),
        rates={"visitor_overnight": 4.0},
    ),
    World(
        "mixed",
        "a bit of everything: 8 % PIR misses, seated trips every 40 min, TV and kettle "
        "report only when used (on 60 % of days), availability on, 1.5x night toilet, "
        "0.3 night kitchen visits, 1.5x visitors and common room",
        Knobs(
            pir_miss=0.08,
            seated_trip_min=40.0,
            event_only=("tv", "kettle"),
            plug_use_days=0.6,
            availability="on",
            night_toilet_scale=1.5,
            night_kitchen=0.3,
            visitor_scale=1.5,
            common_scale=1.5,
        ),
    ),
    World(
        "lossy",
        "1 % of messages lost on the way (a door's open, a pad's change, a detection), "
        "each independently",
        Knobs(loss=0.01),
    ),
    World(
        "other-names",
        "the default world as another installer names it: Dutch rooms (woonkamer, gang), "
        "devices by what they are (armchair, bed_occupancy, alarm_button), the front door "
        "in the hall (gang/voordeur) and a flat.yaml with the residents only (no roles)",
        Knobs(naming="other"),
    ),
)
WORLDS: dict[str, World] = {w.name: w for w in WORLD_LIST}
WORLD_ORDER = tuple(w.name for w in WORLD_LIST)


def resolve(names: list[str]) -> list[World]:
    """World names (``all`` for every one) -> worlds, in the order given, without repeats."""
    out: list[World] = []
    for name in names:
        chosen = WORLD_LIST if name == "all" else (WORLDS.get(name),)
        for w in chosen:
            if w is None:
                raise ValueError(f"unknown world {name!r}; one of all, {', '.join(WORLD_ORDER)}")
            if w not in out:
                out.append(w)
    return out


# the goal metrics of the worst-world summary: (key, label, worse when higher)
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("acute_paged", "acute episodes paged (share)", False),
    ("fall_sensor_latency_s", "fall with a fall sensor: median latency", True),
    ("fall_kit_latency_s", "fall on a chair pad or transit room: median", True),
    ("no_wake_latency_s", "no_wake paged: median past the usual time", True),
    ("trends_found", "slow trends found (share)", False),
    ("false_urgent", "false urgent per apartment-month", True),
    ("false_attention", "false attention per apartment-month", True),
    ("false_sensor_offline", "sensor_offline false per apartment-month", True),
)


GOALS: dict[str, float] = {
    "acute_paged": 1.0,
    "fall_sensor_latency_s": 60.0,
    "fall_kit_latency_s": 30 * 60.0,
    "no_wake_latency_s": 60 * 60.0,
    "trends_found": 0.8,
    "false_urgent": 0.05,
    "false_attention": 0.2,
    "false_sensor_offline": 0.05,
}
"""Issue 18's goals, in the worst world (at most for the latencies and the false rates,
at least for the shares)."""


def goal_metrics(pooled: Score, folders: list[Path]) -> dict[str, Any]:
    """The summary's metrics of one world (its pooled score and its seeds' folders)."""
    acute = [k for kind, k in pooled.kinds.items() if kind in ACUTE and k["episodes"]]
    episodes = sum(k["episodes"] for k in acute)
    trends = [k for kind, k in pooled.kinds.items() if kind in TREND_KINDS and k["episodes"]]
    n_trends = sum(k["episodes"] for k in trends)
    months = pooled.apartment_months
    runs = [read_seed(folder) for folder in folders]  # each folder read once
    delays, with_sensor = _fall_sensor_delays(runs)
    kit_falls = _page_delays(runs, "fall", _seen_by_kit)
    no_wake = _page_delays(runs, "no_wake", lambda _e, _roles: True)
    return {
        "fall_kit_latency_s": round(statistics.median(kit_falls), 1) if kit_falls else None,
        "falls_kit_paged": len(kit_falls),
        "no_wake_latency_s": round(statistics.median(no_wake), 1) if no_wake else None,
        "acute_paged": round(sum(k.get("paged", 0) for k in acute) / episodes, 4)
        if episodes
        else None,
        "acute_episodes": episodes,
        "fall_sensor_latency_s": round(statistics.median(delays), 1) if delays else None,
        "falls_with_sensor": with_sensor,
        "falls_with_sensor_found": len(delays),
        "trends_found": round(sum(k["hits"] for k in trends) / n_trends, 4) if n_trends else None,
        "trend_episodes": n_trends,
        "false_urgent": round(pooled.per_apartment_month("urgent"), 4),
        "false_attention": round(pooled.per_apartment_month("attention"), 4),
        "false_sensor_offline": round(pooled.false_by_kind["sensor_offline"] / months, 4)
        if months > 0
        else 0.0,
        "apartment_months": round(months, 1),
    }


@dataclass(frozen=True)
class SeedRun:
    """One seed's folder, read once: the truth's episodes (as written, with their room and
    fall sensor), the hub's signals and the flat's apartments (their devices' roles)."""

    truth: list[dict[str, Any]]
    signals: list[SignalRow]
    apartments: dict[str, Any]


def read_seed(folder: Path) -> SeedRun:
    import yaml

    truth = [
        json.loads(line)
        for line in (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    path = folder / "signals.jsonl"
    signals = load_signals(path)[0] if path.exists() else []
    config = yaml.safe_load((folder / "flat.yaml").read_text(encoding="utf-8")) or {}
    return SeedRun(truth, signals, config.get("apartments", {}))


def _span(e: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"])


def _fall_sensor_delays(runs: list[SeedRun]) -> tuple[list[float], int]:
    """Seconds from each fall a fall sensor saw to its first ``fall`` signal, and how many
    such falls there were (the truth's note says whether a sensor saw it)."""
    delays: list[float] = []
    count = 0
    for run in runs:
        falls = [
            e for e in run.truth if e["kind"] == "fall" and e.get("note") == "fall radar reports it"
        ]
        count += len(falls)
        for e in falls:
            start, end = _span(e)
            hits = [
                (s.detected_at - start).total_seconds()
                for s in run.signals
                if s.apartment == e["apartment"] and s.kind == "fall"
                if start <= s.detected_at <= end
            ]
            if hits:
                delays.append(min(hits))
    return delays, count


TRANSIT_ROOMS = frozenset({"hall", "kitchen", "bathroom", "toilet"})
"""Rooms people pass through: a silence there is itself a sign (issue 18's goal)."""


def _seen_by_kit(episode: dict[str, Any], apartment: dict[str, Any]) -> bool:
    """A fall no fall sensor saw, in a transit room or in a living room with a chair pad
    for each resident: the falls issue 18 wants paged within 30 minutes (median)."""
    if episode.get("fall_sensor"):
        return False
    room = episode.get("room")
    if room in TRANSIT_ROOMS:
        return True
    pads = episode.get("chair_pads")  # where flat.yaml names no pads (the other-names world)
    if pads is None:
        devices = apartment.get("devices", {})
        pads = sum(
            1
            for key, d in devices.items()
            if key.startswith("living/") and d.get("role") == "chair_pad"
        )
    return room == "living" and pads >= int(apartment.get("residents", 1))


def _page_delays(
    runs: list[SeedRun], kind: str, chosen: Callable[[dict[str, Any], dict[str, Any]], bool]
) -> list[float]:
    """Seconds from each chosen episode of ``kind`` to its first page: an urgent signal of
    its kind or a related one within it (as the evaluator counts "paged")."""
    from simulators.evaluate import RELATED

    out: list[float] = []
    for run in runs:
        pages = [
            s
            for s in run.signals
            if s.severity == "urgent" and kind in {s.kind, *RELATED.get(s.kind, ())}
        ]
        for e in run.truth:
            if e.get("kind") != kind or not chosen(e, run.apartments.get(e["apartment"], {})):
                continue
            start, end = _span(e)
            hits = [
                (s.detected_at - start).total_seconds()
                for s in pages
                if s.apartment == e["apartment"] and start <= s.detected_at <= end
            ]
            if hits:
                out.append(min(hits))
    return out


def worst(per_world: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per metric, the worst value over the worlds with the kit and which world (``None``:
    no data); the goals hold for the standard kit, a world without it is shown beside."""
    out: dict[str, dict[str, Any]] = {}
    for key, _label, higher_worse in METRICS:
        values = [
            (m[key], name)
            for name, m in per_world.items()
            if m.get(key) is not None and m.get("kit", True)  # the goals hold for the kit
        ]
        if not values:
            out[key] = {"value": None, "world": None}
            continue
        value, name = (max if higher_worse else min)(values, key=lambda v: v[0])
        out[key] = {"value": value, "world": name}
    return out


def _show(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("_latency_s"):
        return f"{value / 60:.1f} min"
    if key in ("acute_paged", "trends_found"):
        return f"{value:.2f}"
    return f"{value:.3f}"


def summary_table(per_world: dict[str, dict[str, Any]]) -> str:
    """Every world's goal metrics side by side, then the worst world per metric."""
    names = list(per_world)
    width = max(9, *(len(n) for n in names))
    lines = [f"{'metric':<44} " + " ".join(f"{n:>{width}}" for n in names)]
    for key, label, _ in METRICS:
        lines.append(
            f"{label:<44} "
            + " ".join(f"{_show(key, per_world[n].get(key)):>{width}}" for n in names)
        )
    lines.append("")
    lines.append(
        f"{'worst world with the kit, per goal:':<44} {'worst':>10}  {'goal':>10}  met  world"
    )
    for key, label, higher_worse in METRICS:
        w = worst(per_world)[key]
        where = w["world"] or "-"
        goal = GOALS[key]
        if w["value"] is None:
            met = "-"
        else:
            met = "yes" if (w["value"] <= goal if higher_worse else w["value"] >= goal) else "NO"
        lines.append(
            f"{label:<44} {_show(key, w['value']):>10}  {_show(key, goal):>10}  {met:<3}  {where}"
        )
    return "\n".join(lines)


def run_worlds(
    base: SimConfig,
    worlds: list[World],
    seeds: list[int],
    out: Path,
    replay: str,
    knobs_for: Callable[[World], Knobs] | None = None,
    progress: Callable[[str], None] | None = None,
    table: Callable[[str, World, SimConfig, Score], None] | None = None,
    workers: int = 1,
    parallel: int = 1,
) -> dict[str, Any]:
    """The suite once per world into ``out/<world>/``; ``out/worlds.json`` has it all.
    Every world x seed is simulated and replayed first, ``parallel`` at a time
    (:func:`simulators.eval_suite.run_jobs`), then each world is scored in turn.

    ``knobs_for`` gives a world's knobs (the world's own with the user's options on top);
    ``table`` is called with each world's pooled score as soon as it is done.
    """
    configs = [world.config(base, knobs_for(world) if knobs_for else None) for world in worlds]
    jobs: list[Job] = []
    for n, (world, cfg) in enumerate(zip(worlds, configs, strict=True), start=1):
        if progress:
            progress(
                f"world {n}/{len(worlds)} {world.name}: {cfg.apartments} apartments x "
                f"{cfg.days} days x {len(seeds)} seed(s); {world.what}"
            )
        folder = out / world.name
        jobs += [Job(replace(cfg, seed=s), folder / f"seed-{s}", f"{world.name}: ") for s in seeds]

    def tagged(line: str) -> None:
        if progress:
            progress(f"  {line}")

    run_jobs(jobs, replay, progress=tagged, workers=workers, parallel=parallel)
    per_world: dict[str, dict[str, Any]] = {}
    for world, cfg in zip(worlds, configs, strict=True):
        report = score_suite(cfg, seeds, out / world.name)
        pooled = report["table"]
        if not isinstance(pooled, Score):
            raise TypeError("the eval suite's report has no pooled table")
        metrics = goal_metrics(pooled, [out / world.name / f"seed-{s}" for s in seeds])
        metrics["knobs"] = {k: _plain(v) for k, v in cfg.knobs.changed().items()}
        metrics["days"] = cfg.days
        metrics["kit"] = cfg.knobs.kit
        per_world[world.name] = metrics
        if table:
            table(world.name, world, cfg, pooled)
    result = {"seeds": seeds, "worlds": per_world, "worst": worst(per_world)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "worlds.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
