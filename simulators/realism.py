"""Daily statistics of a recording, to compare the simulator with real homes.

``python -m simulators.realism`` simulates a small flat and imports the public recordings
from ``../shared/datasets`` (when present), then prints one Markdown table:
messages per apartment-day, activations per day by sensor kind (motion, doors and
cupboards, bed/chair pads, appliances), outings per day, night toilet visits and the
longest quiet period while at home. docs/realism.md discusses the numbers.

Definitions (the same for every source):

- an *activation* is a message that turns a sensor on: ``occupancy: true``,
  ``contact: false`` (open) or ``power`` above 5 W, when the sensor was off before (a
  periodic report repeating "on" is not a new activation); for motion sensors every
  ``occupancy: true`` counts, as each one reports new movement;
- an *outing* is a front-door opening (``entrance``) after which no motion is seen in the
  apartment for at least 10 minutes;
- a *night toilet visit* is a toilet activation between 00:00 and 06:00 local time, more
  than 10 minutes after the previous one;
- the *longest quiet period* of a day is the longest gap between activations starting that
  day, not counting gaps that follow an outing (the resident was out).

>>> from datetime import datetime, timedelta
>>> from simulators.behaviour import ZONE
>>> t0 = datetime(2026, 1, 6, 0, 0, tzinfo=ZONE)
>>> msgs = [(t0 + timedelta(hours=h), "zigbee2mqtt/a001/toilet/motion", {"occupancy": True})
...         for h in (1, 3, 9, 25, 27, 50, 75)]
>>> s = daily_stats(msgs)
>>> s.night_toilet, s.full_days
(1.5, 2)
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from simulators.behaviour import ZONE

logger = logging.getLogger(__name__)

KINDS = ("motion", "contact", "pad", "power")
OUTING_QUIET_S = 600.0


@dataclass(frozen=True, slots=True)
class Stats:
    source: str
    apartments: int
    full_days: int
    messages_per_day: float
    activations: dict[str, float]
    outings: float
    night_toilet: float
    longest_quiet_h: float

    def row(self) -> str:
        acts = " | ".join(f"{self.activations[k]:.1f}" for k in KINDS)
        days = self.full_days / max(1, self.apartments)
        return (
            f"| {self.source} | {self.apartments} x {days:.0f}"
            f" | {self.messages_per_day:.0f} | {acts} | {self.outings:.2f} | "
            f"{self.night_toilet:.2f} | {self.longest_quiet_h:.1f} |"
        )


HEADER = (
    "| source | apartments x days | messages / apt-day | motion | doors, cupboards | "
    "pads | appliances | outings / day | night toilet / night | longest quiet at home (h, "
    "median) |\n|---|---|---|---|---|---|---|---|---|---|"
)


def _kind(device: str, payload: dict[str, Any]) -> str | None:
    if "pad" in device and "occupancy" in payload:
        return "pad"
    if "occupancy" in payload:
        return "motion"
    if "contact" in payload:
        return "contact"
    if "power" in payload:
        return "power"
    return None


def _active(kind: str, payload: dict[str, Any]) -> bool:
    if kind in ("pad", "motion"):
        return payload.get("occupancy") is True
    if kind == "contact":
        return payload.get("contact") is False
    power = payload.get("power")
    return isinstance(power, int | float) and power > 5.0


def daily_stats(messages: Iterable[tuple[datetime, str, Any]], source: str = "") -> Stats:
    """Per apartment-day averages over the full days of each apartment (see module doc)."""
    per_apt: dict[str, list[tuple[datetime, str, str, str]]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    state: dict[str, bool] = {}
    for ts, topic, payload in messages:
        parts = topic.split("/")
        if len(parts) < 4 or parts[1] == "common" or parts[-1] == "availability":
            continue
        apt, room, device = parts[1], parts[2], parts[3]
        counts[apt] += 1
        if not isinstance(payload, dict):
            continue
        kind = _kind(device, payload)
        if kind is None:
            continue
        active = _active(kind, payload)
        was = state.get(topic, False)
        state[topic] = active
        # a repeated "on" (a periodic report, a QoS-1 repeat) is no new activation, except
        # for motion sensors, which report every new movement while occupied
        if not active or (was and kind != "motion"):
            continue
        per_apt[apt].append((ts.astimezone(ZONE), room, device, kind))
    total_days = 0
    msgs = 0.0
    acts: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    outings = 0
    toilet = 0
    quiet: list[float] = []
    for apt, events in sorted(per_apt.items()):
        events.sort(key=lambda e: e[0])
        first, last = events[0][0].date(), events[-1][0].date()
        full = {first + timedelta(days=i) for i in range(1, (last - first).days)}
        if not full:
            continue
        total_days += len(full)
        span_days = (events[-1][0] - events[0][0]).total_seconds() / 86400.0
        msgs += counts[apt] / max(span_days, 1e-9) * len(full)
        out_at: list[datetime] = []
        motions = [e[0] for e in events if e[3] == "motion"]
        mi = 0
        for ts, room, _device, kind in events:
            if ts.date() in full:
                acts[kind] += 1
            if kind == "contact" and room == "entrance":
                while mi < len(motions) and motions[mi] <= ts:
                    mi += 1
                nxt = motions[mi] if mi < len(motions) else None
                if nxt is None or (nxt - ts).total_seconds() >= OUTING_QUIET_S:
                    out_at.append(ts)
                    if ts.date() in full:
                        outings += 1
        last_toilet: datetime | None = None
        for ts, room, _device, kind in events:
            if room == "toilet" and kind in ("motion", "pad") and ts.hour < 6 and ts.date() in full:
                if last_toilet is None or (ts - last_toilet).total_seconds() > 600:
                    toilet += 1
                last_toilet = ts
        longest: dict[date, float] = {}
        outs = set(out_at)
        for (a, *_), (b, *_) in pairwise(events):
            if a in outs or a.date() not in full:
                continue
            gap = (b - a).total_seconds() / 3600.0
            longest[a.date()] = max(longest.get(a.date(), 0.0), gap)
        quiet.extend(longest.values())
    days = max(total_days, 1)
    return Stats(
        source=source,
        apartments=len(per_apt),
        full_days=total_days,
        messages_per_day=msgs / days,
        activations={k: v / days for k, v in acts.items()},
        outings=outings / days,
        night_toilet=toilet / days,
        longest_quiet_h=statistics.median(quiet) if quiet else 0.0,
    )


def _sim_messages(apartments: int, days: int, seed: int) -> list[tuple[datetime, str, Any]]:
    from simulators.stream import Run, SimConfig, generate

    run = Run(SimConfig(apartments=apartments, days=days, seed=seed))
    return [(datetime.fromtimestamp(t, ZONE), topic, p) for t, topic, p in generate(run)]


def _recording(path: Path) -> list[tuple[datetime, str, Any]]:
    from edge.recording import read_recording

    return [
        (m.received, m.topic, m.payload) for m in read_recording(path) if not hasattr(m, "reason")
    ]


def realism_table(
    datasets: Path | None,
    apartments: int = 20,
    days: int = 28,
    seed: int = 1,
    sim_recording: Path | None = None,
) -> str:
    from simulators.importers import import_files

    rows = []
    if sim_recording is not None:
        rows.append(daily_stats(_recording(sim_recording), f"simulator ({sim_recording.name})"))
    else:
        rows.append(daily_stats(_sim_messages(apartments, days, seed), f"simulator (seed {seed})"))
    if datasets is not None and datasets.is_dir():
        sources = [
            ("Ordonez A", "ordonez", [datasets / "ordonez" / "OrdonezA_Sensors.txt"]),
            ("Ordonez B", "ordonez", [datasets / "ordonez" / "OrdonezB_Sensors.txt"]),
            ("van Kasteren B", "kasteren", [datasets / "vankasteren_b" / "houseB-ss.txt"]),
        ]
        for name, kind, files in sources:
            if all(f.exists() for f in files):
                result = import_files(kind, files)
                rows.append(daily_stats(result.messages, name))
    return "\n".join([HEADER, *(r.row() for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.realism",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    repo = Path(__file__).resolve().parents[1]
    parser.add_argument("--datasets", type=Path, default=repo / ".." / "shared" / "datasets")
    parser.add_argument("--apartments", type=int, default=20)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--recording", type=Path, help="use this simulated recording instead")
    args = parser.parse_args(argv)
    table = realism_table(args.datasets, args.apartments, args.days, args.seed, args.recording)
    sys.stdout.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
