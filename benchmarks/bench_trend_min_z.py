"""False alarms and delays of the trend detectors per ``min_z``, on synthetic residents.

    python benchmarks/bench_trend_min_z.py NAME Z [Z ...] [--seeds 20]

NAME is a trend detector (withdrawal, nutrition, night_toilet, mobility_decline). For
each ``min_z`` it runs the detector (its other settings at their defaults) over the
synthetic residents of ``tests/test_trend_detectors.py``: per seed 200 days of ordinary
life, and 120 days with the trend ramping in from day 50. Printed: signals raised outside
a trend (false), trends found, and the days from the trend's start to each signal. How
``min_z`` was chosen is in docs/detectors.md ("Trends from short histories").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.base import registry
from tests.test_trend_detectors import FIRST, TREND_START, feed, life


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name")
    p.add_argument("min_z", type=float, nargs="+")
    p.add_argument("--seeds", type=int, default=20)
    args = p.parse_args()
    cls = registry()[args.name]
    for z in args.min_z:
        false = found = 0
        delays: list[int] = []
        for seed in range(args.seeds):
            settings = cls.settings_model(min_z=z)

            def fixed(apt: str, s: object = settings) -> object:
                return s

            false += len(feed(cls(fixed), life(None, 200, seed)))
            raised = feed(cls(fixed), life(args.name, 120, seed + 100))
            days = [(c.detected_at.date() - FIRST).days - 1 - TREND_START for c in raised]
            false += sum(1 for d in days if d < 0)
            late = [d for d in days if d >= 0]
            if late:
                found += 1
                delays.append(late[0])
        print(
            f"{args.name} min_z {z}: {false} false in {args.seeds * 320} days, "
            f"found {found}/{args.seeds}, days after the start {sorted(delays)}"
        )


if __name__ == "__main__":
    main()
