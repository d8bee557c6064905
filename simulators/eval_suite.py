"""``make eval``: simulate -> replay through the hub -> evaluate, over a fixed set of seeds.

The hub is run as a separate command (``thuisplus replay REC --signals-out F`` by default),
so this works against any build of the hub. Scores are given per seed and pooled (the
apartments of all seeds together). The seeds (and, with ``--worlds``, every world x seed)
are simulated and replayed ``--parallel`` at a time, each in its own process (default: the
cores), then scored in order: the same files and scores as one after the other. Give the
replay command ``--jobs 1`` then (``make eval`` does): ``thuisplus replay``'s own default
shards one recording over the cores, which costs about a third more CPU than one process
(every shard reads every line) and only pays on cores that would otherwise be idle.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
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


@dataclass(frozen=True, slots=True)
class Job:
    """One world x seed of the suite: simulate into ``folder``, replay it there."""

    cfg: SimConfig
    folder: Path
    label: str = ""
    """Put before its progress lines (a world's name)."""


def run_job(job: Job, replay: str, workers: int = 1) -> list[str]:
    """Simulate ``job`` and replay it through the hub; returns its progress lines."""
    seed = job.cfg.seed
    started = time.monotonic()
    run = write_simulation(job.cfg, job.folder, workers=workers)
    lines = [
        f"{job.label}seed {seed}: {run.counts['messages']} messages simulated in "
        f"{time.monotonic() - started:.0f} s"
    ]
    started = time.monotonic()
    where = job.folder
    run_replay(replay, where / "recording.jsonl.gz", where / "signals.jsonl", where / "flat.yaml")
    lines.append(f"{job.label}seed {seed}: replayed in {time.monotonic() - started:.0f} s")
    return lines


def run_jobs(
    jobs: list[Job],
    replay: str,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    parallel: int = 1,
) -> None:
    """Every job, ``parallel`` at a time (each in its own process, its simulation in
    ``workers`` // ``parallel`` processes); the files are the same whatever the number.
    A failed replay stops the suite (:class:`ReplayFailed`, once the jobs running end)."""
    say = progress or (lambda _line: None)
    parallel = max(1, min(parallel, len(jobs)))
    if parallel == 1:
        for job in jobs:
            for line in run_job(job, replay, workers):
                say(line)
        return
    each = max(1, workers // parallel)
    # fork is quick; with other threads running (a test's MQTT loop) it is unsafe
    ctx = mp.get_context("fork") if threading.active_count() == 1 else mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=parallel, mp_context=ctx) as pool:
        running = [pool.submit(run_job, job, replay, each) for job in jobs]
        try:
            for done in as_completed(running):
                for line in done.result():
                    say(line)
        except BaseException:
            for future in running:
                future.cancel()
            raise


def run_suite(
    base: SimConfig,
    seeds: list[int],
    out: Path,
    replay: str,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    parallel: int = 1,
) -> dict[str, Any]:
    """Simulate each seed, replay it through the hub, score it; write ``out/score.json``.
    ``parallel``: how many seeds are simulated and replayed at once (:func:`run_jobs`)."""
    jobs = [Job(replace(base, seed=seed), out / f"seed-{seed}") for seed in seeds]
    run_jobs(jobs, replay, progress, workers, parallel)
    return score_suite(base, seeds, out)


def score_suite(base: SimConfig, seeds: list[int], out: Path) -> dict[str, Any]:
    """Score each seed's replayed signals against its truth (the folders :func:`run_job`
    filled), and all seeds pooled; write ``out/score.json``."""
    pooled_truth: list[Episode] = []
    pooled_signals: list[SignalRow] = []
    per_seed: dict[str, Any] = {}
    for seed in seeds:
        folder = out / f"seed-{seed}"
        signals_path = folder / "signals.jsonl"
        truth = load_truth(folder / "truth.jsonl")
        signals, bad = load_signals(signals_path) if signals_path.exists() else ([], [])
        for reason in bad:
            logger.warning("unreadable signal: %s", reason)
        result = score(truth, signals, apartments=base.apartments, days=base.days)
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
