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


def dataset_files(datasets: Path, name: str, labels: bool = False) -> tuple[str, list[Path]]:
    """The importer's name and the files of one shared recording (``ordonezA``,
    ``ordonezB``, ``kasteren``), with its activity labels when asked."""
    if name == "kasteren":
        b = datasets / "vankasteren_b"
        found = [b / "houseB-ss.txt", b / "sensorMapB-ids.txt"]
        return "kasteren", found + ([b / "houseB-as.txt", b / "actionMapB.txt"] if labels else [])
    o = datasets / "ordonez"
    found = [o / f"Ordonez{name[-1]}_Sensors.txt"]
    return "ordonez", found + ([o / f"Ordonez{name[-1]}_ADLs.txt"] if labels else [])
