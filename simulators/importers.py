"""Public smart-home datasets as recordings the hub can replay (INTERFACES sections 1-3).

Each dataset gets a small mapping table from its sensors to our ``<room>/<device>`` names
and payload fields. Interval rows (Ordonez, van Kasteren) become an "active" message at the
start and an "idle" one at the end; CASAS rows are already events. The datasets carry no
time zone: their local times are read as Europe/Amsterdam (documented in docs/simulator.md).

Quirks handled: CRLF line ends and the two header lines of the Ordonez files; rows whose
end lies before their start (rejected, with the line number); sensors "active" for hours
(reed switches that report a state, a PIR stuck on): contact intervals longer than an hour
become one short opening, other intervals are capped (``MAX_ACTIVE_S``), each counted.

>>> rows, rejects = parse_ordonez_text(
...     "Start time\\tEnd time\\tLocation\\tType\\tPlace\\r\\n----\\t----\\r\\n"
...     "2011-11-28 10:21:24\\t\\t2011-11-28 10:21:31\\t\\tFridge\\t\\tMagnetic\\tKitchen\\r\\n",
...     "A_Sensors.txt")
>>> result = to_messages(rows, "a001")
>>> [(m[1], m[2]) for m in result.messages]
[('zigbee2mqtt/a001/kitchen/fridge', {'contact': False}), \
('zigbee2mqtt/a001/kitchen/fridge', {'contact': True})]
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edge.recording import RecordingWriter
from simulators.behaviour import ZONE

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a dataset sensor goes: our room, device name, payload field and its values."""

    room: str
    device: str
    field: str
    active: Any
    idle: Any

    @property
    def kind(self) -> str:
        return {"occupancy": "presence", "contact": "contact", "power": "power"}.get(
            self.field, self.field
        )


def _pir(room: str, device: str = "motion") -> Target:
    return Target(room, device, "occupancy", True, False)


def _contact(room: str, device: str) -> Target:
    return Target(room, device, "contact", False, True)  # active = open = contact false


def _plug(room: str, device: str, watts: float) -> Target:
    return Target(room, device, "power", watts, 0.0)


# Ordonez: keyed by (location, type); PIRs named "Door" sit in a doorway of their place
ORDONEZ: dict[tuple[str, str], Target] = {
    ("Shower", "PIR"): _pir("bathroom", "shower_motion"),
    ("Basin", "PIR"): _pir("bathroom", "basin_motion"),
    ("Cooktop", "PIR"): _pir("kitchen", "cooktop_motion"),
    ("Maindoor", "Magnetic"): _contact("entrance", "door"),
    ("Fridge", "Magnetic"): _contact("kitchen", "fridge"),
    ("Cabinet", "Magnetic"): _contact("bathroom", "cabinet"),
    ("Cupboard", "Magnetic"): _contact("kitchen", "cupboard"),
    ("Toilet", "Flush"): _pir("toilet", "flush"),  # a flush: someone is in the toilet
    ("Seat", "Pressure"): Target("living", "chair_pad", "occupancy", True, False),
    ("Bed", "Pressure"): Target("bedroom", "bed_pad", "occupancy", True, False),
    ("Microwave", "Electric"): _plug("kitchen", "microwave", 900.0),
    ("Toaster", "Electric"): _plug("kitchen", "toaster", 800.0),
}
ORDONEZ_PLACE = {
    "Bedroom": "bedroom",
    "Kitchen": "kitchen",
    "Living": "living",
    "Bathroom": "bathroom",
    "Entrance": "entrance",
}

# van Kasteren house B: keyed by sensor id (sensorMapB-ids.txt names them)
KASTEREN_B: dict[str, Target] = {
    "1": _contact("toilet", "door"),
    "3": _contact("kitchen", "fridge"),
    "5": _contact("kitchen", "cupboard_groceries"),
    "6": _pir("toilet", "flush"),
    "7": _contact("entrance", "door"),
    "9": _contact("kitchen", "cupboard_plates"),
    "10": _contact("bedroom", "door"),
    "12": Target("bedroom", "bed_pad_right", "occupancy", True, False),
    "13": Target("bedroom", "bed_pad_left", "occupancy", True, False),
    "14": _contact("kitchen", "cutlery_drawer"),  # mercury tilt switch
    "15": _contact("kitchen", "stove_lid"),  # mercury tilt switch
    "16": _pir("bedroom"),
    "18": _contact("bedroom", "dresser"),
    "19": _pir("bathroom"),
    "21": _pir("bathroom", "sink_float"),  # water in the sink: someone at the basin
    "26": _plug("kitchen", "toaster", 800.0),
    "27": _plug("kitchen", "microwave", 900.0),
    "28": _pir("kitchen"),
}

MAX_ACTIVE_S = {"occupancy": 4 * 3600.0, "power": 2 * 3600.0}
MAX_BED_S = 16 * 3600.0
MAX_OPEN_S = 3600.0  # longer "open" reed intervals are a state report: one short opening


@dataclass(frozen=True, slots=True)
class Row:
    source: str  # file:line
    start: datetime
    end: datetime
    target: Target


@dataclass(frozen=True, slots=True)
class Label:
    """An annotated activity (Ordonez ``*_ADLs.txt``, van Kasteren ``house*-as.txt``)."""

    source: str
    start: datetime
    end: datetime
    activity: str

    def to_dict(self, apartment: str) -> dict[str, str]:
        return {
            "apartment": apartment,
            "activity": self.activity,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


@dataclass(slots=True)
class ImportResult:
    messages: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    label_rejects: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (file:line, reason)
    quirks: Counter[str] = field(default_factory=Counter)


def _split(line: str) -> list[str]:
    return [p.strip() for p in line.split("\t") if p.strip()]


def parse_ordonez_text(text: str, name: str) -> tuple[list[Row], list[tuple[str, str]]]:
    """Rows of an Ordonez ``*_Sensors.txt`` (two header lines, CRLF, runs of tabs)."""
    rows: list[Row] = []
    rejects: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number <= 2 or not line.strip():
            continue
        where = f"{name}:{number}"
        parts = _split(line)
        if len(parts) != 5:
            rejects.append((where, f"expected 5 fields, got {len(parts)}"))
            continue
        try:
            start = datetime.strptime(parts[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZONE)
            end = datetime.strptime(parts[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZONE)
        except ValueError as err:
            rejects.append((where, f"bad time: {err}"))
            continue
        location, kind, place = parts[2], parts[3], parts[4]
        if location == "Door" and kind == "PIR":
            room = ORDONEZ_PLACE.get(place)
            if room is None:
                rejects.append((where, f"unknown place {place!r}"))
                continue
            target = _pir(room, "door_motion")
        elif (location, kind) in ORDONEZ:
            target = ORDONEZ[(location, kind)]
        else:
            rejects.append((where, f"no mapping for {location} {kind}"))
            continue
        rows.append(Row(where, start, end, target))
    return rows, rejects


def parse_kasteren_text(
    text: str, name: str, mapping: dict[str, Target] | None = None
) -> tuple[list[Row], list[tuple[str, str]]]:
    """Rows of a van Kasteren ``house*-ss.txt``: ``start end id`` (``21-Jul-2009 13:30:12``)."""
    table = KASTEREN_B if mapping is None else mapping
    rows: list[Row] = []
    rejects: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        parts = _split(line)
        if len(parts) != 3:
            rejects.append((where, f"expected 3 fields, got {len(parts)}"))
            continue
        try:
            start = datetime.strptime(parts[0], "%d-%b-%Y %H:%M:%S").replace(tzinfo=ZONE)
            end = datetime.strptime(parts[1], "%d-%b-%Y %H:%M:%S").replace(tzinfo=ZONE)
        except ValueError as err:
            rejects.append((where, f"bad time: {err}"))
            continue
        target = table.get(parts[2])
        if target is None:
            rejects.append((where, f"sensor id {parts[2]} is not in the sensor map"))
            continue
        rows.append(Row(where, start, end, target))
    return rows, rejects


_ORDONEZ_LABEL = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})"
    r"\s+(\S+)\s*$"
)


def parse_labels(
    text: str, name: str, activities: dict[str, str] | None = None
) -> tuple[list[Label], list[tuple[str, str]]]:
    """Activity labels: Ordonez ``*_ADLs.txt`` (tabs or spaces, two header lines) or, with
    ``activities`` (id -> name from ``actionMap*.txt``), van Kasteren ``house*-as.txt``.

    Rows that end before they start (a known Ordonez quirk) are rejected with their line.

    >>> labels, bad = parse_labels("h\\nh\\n2011-12-01 19:28:51  2011-12-01 16:29:59  Toileting\\n"
    ...                            "2011-12-01 20:00:00\\t2011-12-01 20:05:00\\tSnack\\n", "A.txt")
    >>> [lb.activity for lb in labels], bad
    (['Snack'], [('A.txt:3', 'label ends before it starts')])
    """
    labels: list[Label] = []
    rejects: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or (activities is None and number <= 2):
            continue
        where = f"{name}:{number}"
        try:
            if activities is None:
                m = _ORDONEZ_LABEL.match(line)
                if m is None:
                    rejects.append((where, "not 'start end activity'"))
                    continue
                start = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZONE)
                end = datetime.strptime(m.group(2), "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZONE)
                activity = m.group(3)
            else:
                parts = _split(line)
                if len(parts) != 3:
                    rejects.append((where, f"expected 3 fields, got {len(parts)}"))
                    continue
                start = datetime.strptime(parts[0], "%d-%b-%Y %H:%M:%S").replace(tzinfo=ZONE)
                end = datetime.strptime(parts[1], "%d-%b-%Y %H:%M:%S").replace(tzinfo=ZONE)
                activity = activities.get(parts[2], f"activity-{parts[2]}")
        except ValueError as err:
            rejects.append((where, f"bad time: {err}"))
            continue
        if end < start:
            rejects.append((where, "label ends before it starts"))
            continue
        labels.append(Label(where, start, end, activity))
    return labels, rejects


def kasteren_activities(map_text: str) -> dict[str, str]:
    """``actionMapB.txt``: ``id,name`` per line."""
    out: dict[str, str] = {}
    for line in map_text.splitlines():
        if "," in line:
            key, _, value = line.partition(",")
            out[key.strip()] = value.strip()
    return out


def kasteren_ids(map_text: str) -> set[str]:
    """Sensor ids named in ``sensorMapB-ids.txt`` (``id,name,place`` per line)."""
    return {line.split(",", 1)[0].strip() for line in map_text.splitlines() if "," in line}


_CASAS = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s+(\S+)\s+(\S+)(?:\s+.*)?$"
)


def import_casas_text(
    text: str, name: str, apartment: str, rooms: dict[str, str] | None = None
) -> ImportResult:
    """CASAS events (``2008-02-27 12:43:27.416392 M08 ON``): M* motion, D* doors.

    Temperature (T*) and other sensors carry nothing our payloads know; they are counted
    as skipped. Rooms come from ``rooms`` (sensor -> room), default ``other``.
    """
    rooms = rooms or {}
    result = ImportResult()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        m = _CASAS.match(line.strip())
        if m is None:
            result.rejects.append((where, "not 'date time sensor value'"))
            continue
        day, clock, sensor, value = m.groups()
        try:
            ts = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZONE)
        except ValueError as err:
            result.rejects.append((where, f"bad time: {err}"))
            continue
        result.rows += 1
        room = rooms.get(sensor, "other")
        topic = f"zigbee2mqtt/{apartment}/{room}/{sensor.lower()}"
        upper = value.upper()
        payload: dict[str, Any]
        if sensor.startswith("M") and upper in ("ON", "OFF"):
            payload = {"occupancy": upper == "ON"}
        elif sensor.startswith("D") and upper in ("OPEN", "CLOSE", "CLOSED"):
            payload = {"contact": upper != "OPEN"}
        elif sensor.startswith("T"):
            result.quirks["temperature rows skipped"] += 1
            continue
        else:
            result.rejects.append((where, f"no mapping for {sensor} {value}"))
            continue
        result.messages.append((ts, topic, payload))
    result.messages.sort(key=lambda m: m[0])
    return result


def to_messages(
    rows: Iterable[Row], apartment: str, rejects: list[tuple[str, str]] | None = None
) -> ImportResult:
    """Interval rows -> active/idle messages, time-ordered; quirks counted."""
    result = ImportResult(rejects=list(rejects or []))
    keyed: list[tuple[datetime, int, str, dict[str, Any]]] = []
    seq = 0
    for row in rows:
        tg = row.target
        duration = (row.end - row.start).total_seconds()
        if duration < 0:
            result.rejects.append((row.source, "interval ends before it starts"))
            continue
        result.rows += 1
        end = row.end
        if tg.field == "contact" and duration > MAX_OPEN_S:
            end = row.start + timedelta(seconds=30)
            result.quirks["long reed interval read as one opening"] += 1
        else:
            cap = MAX_BED_S if "pad" in tg.device else MAX_ACTIVE_S.get(tg.field, MAX_OPEN_S)
            if duration > cap:
                end = row.start + timedelta(seconds=cap)
                result.quirks[f"{tg.field} interval capped at {cap / 3600:.0f} h"] += 1
        topic = f"zigbee2mqtt/{apartment}/{tg.room}/{tg.device}"
        keyed.append((row.start, seq, topic, {tg.field: tg.active}))
        keyed.append((end, seq + 1, topic, {tg.field: tg.idle}))
        seq += 2
    keyed.sort(key=lambda m: (m[0], m[1]))
    result.messages = [(t, topic, payload) for t, _, topic, payload in keyed]
    return result


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def import_files(
    dataset: str, files: list[Path], apartment: str = "a001", rooms: dict[str, str] | None = None
) -> ImportResult:
    """Import one dataset's files (see the CLI: ``thuisplus import``)."""
    if dataset == "casas":
        results = [import_casas_text(read_text(f), f.name, apartment, rooms) for f in files]
        merged = ImportResult()
        for r in results:
            merged.messages.extend(r.messages)
            merged.rows += r.rows
            merged.rejects.extend(r.rejects)
            merged.quirks.update(r.quirks)
        merged.messages.sort(key=lambda m: m[0])
        return merged
    rows: list[Row] = []
    rejects: list[tuple[str, str]] = []
    labels: list[Label] = []
    label_rejects: list[tuple[str, str]] = []
    if dataset == "ordonez":
        for f in files:
            if f.name.endswith("_ADLs.txt"):
                found_labels, bad = parse_labels(read_text(f), f.name)
                labels.extend(found_labels)
                label_rejects.extend(bad)
                continue
            if not f.name.endswith("_Sensors.txt"):
                logger.warning("skipping %s: only *_Sensors.txt and *_ADLs.txt are read", f.name)
                continue
            found, bad = parse_ordonez_text(read_text(f), f.name)
            rows.extend(found)
            rejects.extend(bad)
    elif dataset == "kasteren":
        mapping = dict(KASTEREN_B)
        sensor_files = []
        label_files = []
        activities: dict[str, str] = {}
        for f in files:
            if "actionMap" in f.name:
                activities = kasteren_activities(read_text(f))
            elif f.name.endswith("-as.txt"):
                label_files.append(f)
            elif "sensorMap" in f.name:
                known = kasteren_ids(read_text(f))
                unknown = sorted(set(mapping) - known, key=int)
                if unknown:
                    logger.warning("sensor map %s does not name ids %s", f.name, unknown)
            elif f.name.endswith("-ss.txt"):
                sensor_files.append(f)
            else:
                logger.warning("skipping %s: not a -ss.txt sensor file or a sensor map", f.name)
        for f in sensor_files:
            found, bad = parse_kasteren_text(read_text(f), f.name, mapping)
            rows.extend(found)
            rejects.extend(bad)
        for f in label_files:
            found_labels, bad = parse_labels(read_text(f), f.name, activities)
            labels.extend(found_labels)
            label_rejects.extend(bad)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; one of ordonez, kasteren, casas")
    result = to_messages(rows, apartment, rejects)
    result.labels = sorted(labels, key=lambda lb: lb.start)
    result.label_rejects = label_rejects
    return result


def write_labels(result: ImportResult, out: Path, apartment: str) -> int:
    """Activity labels as JSON Lines (``apartment``, ``activity``, ``start``, ``end``)."""
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for label in result.labels:
            fh.write(json.dumps(label.to_dict(apartment)) + "\n")
    return len(result.labels)


def write_import(result: ImportResult, out: Path) -> int:
    with RecordingWriter(out) as writer:
        for ts, topic, payload in result.messages:
            writer.write(ts, topic, payload)
        return writer.count
