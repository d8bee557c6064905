"""Recording lines formatted fast, byte for byte as :func:`edge.recording.format_line` does.

A year of a flat is tens of millions of lines; :func:`format_line` builds a datetime and a
JSON encoder per line. Here the local-time prefix is cached per minute (offsets change on
the hour at most) and one encoder is reused. Times must be whole milliseconds.

>>> from datetime import datetime
>>> from edge.recording import format_line
>>> from simulators.behaviour import ZONE
>>> f = LineFormatter()
>>> t = 1774744199.5  # 2026-03-29 01:29:59.5 +01:00, half an hour before the DST switch
>>> f.line(t, "zigbee2mqtt/a1/hall/m", {"occupancy": True}) == format_line(
...     datetime.fromtimestamp(t, ZONE), "zigbee2mqtt/a1/hall/m", {"occupancy": True})
True
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.recording import RecordingWriter
from simulators.behaviour import ZONE

logger = logging.getLogger(__name__)


class LineFormatter:
    def __init__(self) -> None:
        self._encode = json.JSONEncoder(separators=(", ", ": ")).encode
        self._minute = -1
        self._prefix = ""
        self._offset = ""
        self._topics: dict[str, str] = {}

    def ts(self, t: float) -> str:
        ms = round(t * 1000.0)
        minute, rest = divmod(ms, 60_000)
        if minute != self._minute:
            dt = datetime.fromtimestamp(minute * 60, ZONE)
            text = dt.isoformat(timespec="seconds")
            self._prefix = text[:17]  # 2026-01-05T07:31:
            self._offset = text[19:]  # +01:00
            self._minute = minute
        sec, milli = divmod(rest, 1000)
        return f"{self._prefix}{sec:02d}.{milli:03d}{self._offset}"

    def line(self, t: float, topic: str, payload: Any) -> str:
        enc_topic = self._topics.get(topic)
        if enc_topic is None:
            enc_topic = self._topics[topic] = self._encode(topic)
        return (
            '{"ts": "' + self.ts(t) + '", "topic": ' + enc_topic + ', "payload": '
            + self._encode(payload) + "}"
        )


class FastRecordingWriter(RecordingWriter):
    """:class:`RecordingWriter` (same file, same bytes) with a fast path for epoch times."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._fmt = LineFormatter()

    def write_epoch(self, t: float, topic: str, payload: Any) -> None:
        self._fh.write(self._fmt.line(t, topic, payload) + "\n")
        self.count += 1

    def __enter__(self) -> FastRecordingWriter:
        return self
