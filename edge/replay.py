"""Replay recordings through the hub in event time, as fast as the machine allows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from edge.models import Message
from edge.pipeline import Hub
from edge.recording import BadLine, read_recording

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
