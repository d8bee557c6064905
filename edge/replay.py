"""Replay recordings through the hub in event time, as fast as the machine allows.

:func:`replay` runs one hub over the recordings. :func:`replay_sharded` runs ``jobs``
hubs in parallel processes, each keeping the apartments of its shard, and merges their
signals into the order one process gives (see :func:`merge_order`). A shard's hub is
built by the composition root (:func:`edge.app.build_hub`), as ``thuisplus replay``'s is.

What is flat-wide, and how a shard handles it:

- **The stream clock** (the clock guard) and the timers: every shard reads every line,
  and each message of another shard's apartment is taken as far as the clock guard
  (normalised, QoS-1 repeats dropped, the guard's verdict), so every shard's clock is
  the flat's, message by message; timers come due at the same message as in one process.
- **Zigbee2MQTT's device and group lists**: learned in every shard.
- **``common``** (the flat's shared spaces): its movement reaches every shard's state and
  day features (each apartment's ``common_room_minutes``); its detectors, signals, counts
  and dead letters are shard 0's.
- **Counts and dead letters**: each message is counted and kept by exactly one shard (its
  apartment's; one that names none, by its topic; a line that is not a message, shard 0).
- **The store** (event log, dead letters, register, state): one per shard, in memory; a
  replay that keeps a store (``--state-dir``) or writes history runs in one process.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from edge.app import build_hub
from edge.config import Config
from edge.models import COMMON_APARTMENT, Message, Signal
from edge.pipeline import Hub, Stats
from edge.recording import BadLine, read_recording
from edge.store import Store

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    file: str
    lines: int
    event_time: datetime | None
    elapsed_s: float


class RecordingError(Exception):
    """A recording that cannot be opened at all (missing, unreadable, not gzip)."""


def replay(
    paths: Sequence[Path],
    hub: Hub,
    progress: Callable[[Progress], None] | None = None,
    every_s: float = 2.0,
) -> int:
    """Feed every line of ``paths`` (in order) to ``hub``; returns the lines read.

    Bad lines are kept as dead letters with their line number; they never stop a replay.
    """
    for path in paths:
        if not path.is_file():
            raise RecordingError(f"{path}: no such recording")
    lines = 0
    started = time.monotonic()
    next_report = started + every_s
    handle = hub.handle
    limits = hub.config.limits.limits().around()
    for path in paths:
        try:
            for item in read_recording(path, limits):
                lines += 1
                if isinstance(item, Message):
                    handle(item)
                else:
                    _bad(hub, item)
                if progress is not None and lines & 4095 == 0:
                    now = time.monotonic()
                    if now >= next_report:
                        next_report = now + every_s
                        progress(Progress(path.name, lines, hub.clock.now, now - started))
        except (OSError, EOFError) as err:
            raise RecordingError(f"{path}: cannot read: {err}") from err
        hub.store.flush()
    hub.close()
    return lines


def _bad(hub: Hub, item: BadLine) -> None:
    hub.reject(item.source, None, item.raw.rstrip("\n"), item.reason)


# --- shards ------------------------------------------------------------------------------

STAGES = {"day": 0, "tick": 1, "event": 3}
"""The order of a message's work in :meth:`Hub.handle`: the days that closed (``on_day``),
the timers (``on_tick``), then the message's own detectors."""
CLOSED_AFTER = {"day": 2, "tick": 2, "event": 4}
"""Signals the hub closed by itself come after the stage that found them cleared (the
timers', or the message's detectors')."""

OrderKey = tuple[int, int, int, float, str, int, int]


def shard_of(apartment: str, jobs: int) -> int:
    """The shard that keeps ``apartment`` (``common`` and no apartment: shard 0).

    >>> shard_of("common", 4), shard_of("", 4), shard_of("a014", 4), shard_of("a015", 4)
    (0, 0, 1, 3)
    """
    if jobs <= 1 or apartment in ("", COMMON_APARTMENT):
        return 0
    return zlib.crc32(apartment.encode()) % jobs


def merge_order(key: OrderKey) -> OrderKey:
    """The place of a signal in the merged file: the order one process raises them in.

    ``key`` is (line, stage, detector, detected_at, apartment, shard, sequence). One process
    raises a message's signals in :meth:`Hub.handle` in stages: the closed days' (for each
    detector in its order, the days by midnight, then by apartment), the timers' (for each
    detector, its due times in order: the detectors keep them in heaps of (due, apartment),
    and stamp each signal with its due time), then the message's own detectors, which run
    for one apartment, so in one shard, in that shard's order. Within a stage and detector
    the signals of different shards interleave by (detected_at, apartment); of one shard,
    one apartment, they keep that shard's order (shard, sequence). The event stage keeps
    its shard's order alone (its detector and time are left out of the key).
    """
    if key[1] >= STAGES["event"]:
        return (key[0], key[1], 0, 0.0, "", key[5], key[6])
    return key


@dataclass
class ShardResult:
    """What one shard hands back to the parent."""

    index: int
    lines: int = 0
    signals: list[tuple[OrderKey, str, Signal]] = field(default_factory=list)
    closed: list[tuple[OrderKey, Signal]] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    faults: tuple[int, list[dict[str, Any]]] = (0, [])
    error: str = ""


class _Collect:
    """A shard's signal sink: each signal with its place (:func:`merge_order`)."""

    def __init__(self, hub: Hub, index: int) -> None:
        self.hub = hub
        self.index = index
        self.line = 0
        self.found: list[tuple[OrderKey, str, Signal]] = []
        self.closings: list[tuple[OrderKey, Signal]] = []
        self._det = {d.name: i for i, d in enumerate(hub.detectors)}
        self._seq = 0

    def _key(self, signal: Signal, stage: int, at: datetime) -> OrderKey:
        self._seq += 1
        det = self._det.get(str(signal.evidence.get("detector", "")), len(self._det))
        key = (self.line, stage, det, at.timestamp(), signal.apartment, self.index, self._seq)
        return merge_order(key)

    def emit(self, signal: Signal) -> None:
        key = self._key(signal, STAGES.get(self.hub.stage, 3), signal.detected_at)
        self.found.append((key, signal.to_json(), signal))

    def closed(self, signal: Signal, key: str) -> None:
        """A signal the hub closed by itself (for the terminal; the file takes none)."""
        at = signal.closed_at or signal.detected_at
        self.closings.append((self._key(signal, CLOSED_AFTER.get(self.hub.stage, 4), at), signal))

    def close(self) -> None:
        pass


def _run_shard(
    paths: Sequence[Path],
    config: Config,
    index: int,
    jobs: int,
    progress: Callable[[Progress], None] | None,
) -> ShardResult:
    hub = build_hub(config, Store(None, config.store))
    mine: dict[str, bool] = {}

    def owns(apartment: str) -> bool:
        kept = mine.get(apartment)
        if kept is None:
            kept = mine[apartment] = shard_of(apartment, jobs) == index
        return kept

    hub.owns = owns
    sink = _Collect(hub, index)
    hub.sinks.append(sink)
    lines = 0
    started = time.monotonic()
    next_report = started + 2.0
    handle = hub.handle
    limits = config.limits.limits().around()
    for path in paths:
        try:
            for item in read_recording(path, limits):
                lines += 1
                sink.line = lines
                if isinstance(item, Message):
                    handle(item)
                elif index == 0:
                    _bad(hub, item)
                if progress is not None and lines & 4095 == 0:
                    now = time.monotonic()
                    if now >= next_report:
                        next_report = now + 2.0
                        progress(Progress(path.name, lines, hub.clock.now, now - started))
        except (OSError, EOFError) as err:
            raise RecordingError(f"{path}: cannot read: {err}") from err
        hub.store.flush()
    sink.line = lines + 1
    hub.close()
    faults = (hub.quarantine.total, hub.quarantine.view())
    return ShardResult(index, lines, sink.found, sink.closings, hub.stats, faults)


def _shard_process(
    conn: Connection,
    paths: Sequence[Path],
    config: Config,
    index: int,
    jobs: int,
    progress: Callable[[Progress], None] | None,
) -> None:  # pragma: no cover  (runs in the child; its result is tested through the parent)
    try:
        result = _run_shard(paths, config, index, jobs, progress)
    except Exception as err:
        logger.exception("Replay shard %d failed", index)
        result = ShardResult(index, error=f"{type(err).__name__}: {err}")
    conn.send(result)
    conn.close()


@dataclass
class Merged:
    """The merged outcome of a sharded replay."""

    lines: int
    signals: list[Signal]
    lines_out: list[str]
    told: list[tuple[str, Signal]]
    """What the terminal shows, in order: ``("emit", signal)`` and ``("closed", signal)``."""
    stats: Stats
    faults: tuple[int, list[dict[str, Any]]]
    """How many detector calls failed, and each quarantine (detector, apartment, error)."""


def replay_sharded(
    paths: Sequence[Path],
    config: Config,
    jobs: int,
    progress: Callable[[Progress], None] | None = None,
) -> Merged:
    """Replay ``paths`` in ``jobs`` processes (one shard of apartments each) and merge.

    The signals come in the order one process gives (:func:`merge_order`), as JSON lines
    byte for byte the same as the ``--signals-out`` file of one process.
    """
    for path in paths:
        if not path.is_file():
            raise RecordingError(f"{path}: no such recording")
    ctx = multiprocessing.get_context("fork")
    procs = []
    for index in range(jobs):
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_shard_process,
            args=(child, paths, config, index, jobs, progress if index == 0 else None),
            name=f"replay-shard-{index}",
        )
        proc.start()
        child.close()
        procs.append((proc, parent))
    results: list[ShardResult] = []
    for proc, conn in procs:
        try:
            results.append(conn.recv())
        except EOFError:
            results.append(ShardResult(len(results), error="the shard process died"))
        proc.join()
    errors = [f"shard {r.index}: {r.error}" for r in results if r.error]
    if errors:
        raise RecordingError("; ".join(errors))
    return _merge(results)


def _merge(results: list[ShardResult]) -> Merged:
    found = sorted((s for r in results for s in r.signals), key=lambda s: s[0])
    told = sorted(
        [(k, "emit", s) for r in results for k, _, s in r.signals]
        + [(k, "closed", s) for r in results for k, s in r.closed],
        key=lambda t: t[0],
    )
    stats = Stats()
    for r in results:
        _add_stats(stats, r.stats)
    stats.messages = results[0].stats.messages  # (every shard reads every message)
    faults = (sum(r.faults[0] for r in results), [f for r in results for f in r.faults[1]])
    return Merged(
        results[0].lines,
        [s for _, _, s in found],
        [j for _, j, _ in found],
        [(what, s) for _, what, s in told],
        stats,
        faults,
    )


def _add_stats(total: Stats, part: Stats) -> None:
    for name in ("events", "ignored", "duplicates", "partial", "suppressed"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.repeats += part.repeats
    for counter in ("rejected", "signals", "alerts", "closed"):
        getattr(total, counter).update(getattr(part, counter))
    for kind, example in part.examples.items():
        total.examples.setdefault(kind, example)
    total.latest.update(part.latest)
