"""Recordings: JSON Lines of MQTT messages, plain or gzip (INTERFACES section 3).

Reading never stops on a bad line: each one is handed back as a :class:`BadLine` with its
line number and the reason, so the caller can keep it in the dead-letter store.

>>> import io, json
>>> text = '{"ts": "2026-01-05T07:31:02+01:00", "topic": "zigbee2mqtt/a1/hall/m", '
>>> text += '"payload": {"occupancy": true}}\\nnot json\\n'
>>> items = list(iter_lines(io.StringIO(text), "rec.jsonl"))
>>> items[0].topic, items[0].payload
('zigbee2mqtt/a1/hall/m', {'occupancy': True})
>>> items[1].source, items[1].reason
('rec.jsonl:2', 'line is not JSON: column 1: Expecting value')
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from edge.decode import DEFAULT_LIMITS, LimitError, Limits, NotJson, decode_json, excerpt
from edge.models import Message, shared_zone

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A recording line that could not be read as a message."""

    source: str
    reason: str
    raw: str


def open_text(path: Path) -> IO[str]:
    """Open a recording for reading, gzip or plain, by its magic bytes (not its name)."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


LINE_LIMITS = DEFAULT_LIMITS.around()
"""A recording line carries one payload within the input limits, with its ``ts`` and topic."""


def parse_line(line: str, source: str, limits: Limits = LINE_LIMITS) -> Message | BadLine:
    """Turn one recording line into a :class:`Message`, or say why it cannot be one.

    The line is read inside the input limits (:mod:`edge.decode`), as a live message is:

    >>> parse_line('{"ts": "x", "payload": ' + "[" * 100 + "]" * 100 + "}", "r:7").reason
    'limits: nested 101 levels deep, over the 33 allowed'
    """
    try:
        obj = decode_json(line, limits)
    except LimitError as err:
        return BadLine(source, err.reason, excerpt(line))
    except NotJson as err:
        return BadLine(source, f"line is not JSON: {err.reason}", line)
    if not isinstance(obj, dict):
        return BadLine(source, "line is not a JSON object", line)
    ts = obj.get("ts")
    topic = obj.get("topic")
    if not isinstance(ts, str):
        return BadLine(source, "field 'ts' is missing or not a string", line)
    if not isinstance(topic, str) or not topic:
        return BadLine(source, "field 'topic' is missing or not a string", line)
    if "payload" not in obj:
        return BadLine(source, "field 'payload' is missing", line)
    try:
        received = datetime.fromisoformat(ts)
    except ValueError:
        return BadLine(source, f"field 'ts' is not an ISO 8601 time: {ts[:40]!r}", line)
    if received.tzinfo is None:
        return BadLine(source, f"field 'ts' has no UTC offset: {ts[:40]!r}", line)
    return Message(shared_zone(received), topic, obj["payload"], source)


def iter_lines(
    stream: Iterable[str], name: str, limits: Limits = LINE_LIMITS
) -> Iterator[Message | BadLine]:
    """Messages and bad lines of one open recording, in file order; blank lines are skipped.

    From an open file a line is read at most ``limits.max_bytes`` at a time: a line of a
    gigabyte (a file that is not a recording, or one made to hurt) is one bad line, read
    past in pieces, never held in memory whole.
    """
    if not hasattr(stream, "readline"):
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield parse_line(line, f"{name}:{number}", limits)
        return
    readline = stream.readline
    most = limits.max_bytes + 1
    number = 0
    while True:
        line = readline(most)
        if not line:
            return
        number += 1
        if len(line) == most and not line.endswith("\n"):
            size = len(line)
            while True:  # (the rest of the over-long line, in pieces)
                piece = readline(1 << 16)
                size += len(piece)
                if not piece or piece.endswith("\n"):
                    break
            reason = f"limits: a line of {size:,} characters, over the {limits.max_bytes:,} allowed"
            yield BadLine(f"{name}:{number}", reason, excerpt(line))
            continue
        if line.strip():
            yield parse_line(line, f"{name}:{number}", limits)


def read_recording(path: Path, limits: Limits = LINE_LIMITS) -> Iterator[Message | BadLine]:
    """Messages and bad lines of a recording file (``.jsonl`` or ``.jsonl.gz``); ``limits``
    are those of one line (see :meth:`edge.decode.Limits.around`)."""
    with open_text(path) as stream:
        yield from iter_lines(stream, path.name, limits)


def format_line(received: datetime, topic: str, payload: Any) -> str:
    """One recording line (without newline) for a message.

    >>> from datetime import datetime, timezone, timedelta
    >>> t = datetime(2026, 1, 5, 7, 31, 2, 120000, tzinfo=timezone(timedelta(hours=1)))
    >>> format_line(t, "z/a1/h/m", {"occupancy": True})
    '{"ts": "2026-01-05T07:31:02.120+01:00", "topic": "z/a1/h/m", "payload": {"occupancy": true}}'
    """
    if received.tzinfo is None:
        raise ValueError("a recording's ts needs a UTC offset")
    ts = received.isoformat(timespec="milliseconds")
    return json.dumps({"ts": ts, "topic": topic, "payload": payload}, separators=(", ", ": "))


class RecordingWriter:
    """Writes a recording, gzip when the name ends in ``.gz``; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw: IO[bytes] | None = None
        if path.suffix == ".gz":
            # no name and mtime=0 in the header: the same messages give the same bytes
            self._raw = path.open("wb")
            packed = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
            self._fh: IO[str] = io.TextIOWrapper(packed, encoding="utf-8", newline="\n")
        else:
            self._fh = path.open("w", encoding="utf-8", newline="\n")
        self.count = 0

    def write(self, received: datetime, topic: str, payload: Any) -> None:
        self._fh.write(format_line(received, topic, payload))
        self._fh.write("\n")
        self.count += 1

    def close(self) -> None:
        self._fh.close()
        if self._raw is not None:
            self._raw.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
