"""Signal sinks that need no broker: a JSON Lines file and an in-memory list."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

from edge.models import Signal

logger = logging.getLogger(__name__)


class JsonlSink:
    """Appends each signal as one JSON line (INTERFACES section 4), flushed at once."""

    def __init__(self, path: Path, append: bool = False) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = path.open("a" if append else "w", encoding="utf-8")
        self.count = 0

    def emit(self, signal: Signal) -> None:
        self._fh.write(signal.to_json() + "\n")
        self._fh.flush()
        self.count += 1

    def close(self) -> None:
        self._fh.close()


class ListSink:
    """Collects signals in memory (tests, the demo)."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []

    def emit(self, signal: Signal) -> None:
        self.signals.append(signal)

    def close(self) -> None:
        pass
