"""Small builders for tests: messages at minutes past a start time, recordings on disk."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.models import Message
from edge.recording import RecordingWriter

TZ = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=TZ)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def msg(minutes: float, sensor: str, payload: Any) -> Message:
    return Message(at(minutes), f"zigbee2mqtt/{sensor}", payload, "test")


def write_recording(path: Path, messages: list[Message]) -> Path:
    with RecordingWriter(path) as w:
        for m in messages:
            w.write(m.received, m.topic, m.payload)
    return path
