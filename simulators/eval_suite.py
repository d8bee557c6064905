"""``make eval``: simulate -> replay through the hub -> evaluate, over a fixed set of seeds.

The hub is run as a separate command (``thuisplus replay REC --signals-out F`` by default),
so this works against any build of the hub. Scores are given per seed and pooled (the
apartments of all seeds together). The replay runs in as many processes as there are
cores (``thuisplus replay``'s ``--jobs`` default: shards of apartments, the signals of one
process); add ``--jobs 1`` to the replay command on a machine whose cores are busy.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from simulators.evaluate import Episode, Score, SignalRow, load_signals, load_truth, score
from simulators.stream import SimConfig, write_simulation

logger = logging.getLogger(__name__)

STANDARD_SEEDS = (11, 22, 33)
DEFAULT_REPLAY = "thuisplus replay {recording} --signals-out {signals}"


class ReplayFailed(Exception):
    """The hub's replay command exited with an error."""


def run_replay(template: str, recording: Path, signals: Path, config: Path) -> None:
    """Run the replay command (a template with ``{recording}``, ``{signals}``, ``{config}``).

    >>> run_replay("true {recording} {signals}", Path("r"), Path("s"), Path("c"))
    """
    argv = [
        part.format(recording=recording, signals=signals, config=config)
        for part in shlex.split(template)
    ]
    logger.info("replay: %s", shlex.join(argv))
    # the user's own replay command, split without a shell
    done = subprocess.run(argv, check=False, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise ReplayFailed(
            f"{shlex.join(argv)} exited with {done.returncode}: {done.stderr.strip()[-2000:]}"
        )


def run_suite(
    base: SimConfig,
    seeds: list[int],
    out: Path,
    replay: str,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Simulate each seed, replay it through the hub, score it; write ``out/score.json``."""
    pooled_truth: list[Episode] = []
    pooled_signals: list[SignalRow] = []
    per_seed: dict[str, Any] = {}
    for seed in seeds:
        cfg = replace(base, seed=seed)
        folder = out / f"seed-{seed}"
        started = time.monotonic()
        run = write_simulation(cfg, folder, workers=workers)
        if progress:
            progress(
                f"seed {seed}: {run.counts['messages']} messages simulated in "
                f"{time.monotonic() - started:.0f} s"
            )
        signals_path = folder / "signals.jsonl"
        started = time.monotonic()
        run_replay(replay, folder / "recording.jsonl.gz", signals_path, folder / "flat.yaml")
        if progress:
            progress(f"seed {seed}: replayed in {time.monotonic() - started:.0f} s")
        truth = load_truth(folder / "truth.jsonl")
        signals, bad = load_signals(signals_path) if signals_path.exists() else ([], [])
        for reason in bad:
            logger.warning("unreadable signal: %s", reason)
        result = score(truth, signals, apartments=cfg.apartments, days=cfg.days)
        per_seed[str(seed)] = result.to_json()
        pooled_truth += [replace(e, apartment=f"{seed}:{e.apartment}") for e in truth]
        pooled_signals += [replace(s, apartment=f"{seed}:{s.apartment}") for s in signals]
    pooled: Score = score(
        pooled_truth, pooled_signals, apartments=base.apartments * len(seeds), days=base.days
    )
    report = {
        "seeds": seeds,
        "apartments": base.apartments,
        "days": base.days,
        "pooled": pooled.to_json(),
        "per_seed": per_seed,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "score.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    report["table"] = pooled
    return report
