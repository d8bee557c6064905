"""Acute episodes put into real homes: the public recordings (``../shared/datasets``) with a
fall, a morning in bed or a faint in the chair cut into them (``thuisplus eval-real``).

Our simulator is one world, written by us. The shared recordings are three real homes, with
their own sensors, habits and gaps, but without a single labelled fall. This puts one
acute episode into a copy of a real home, at a moment the home's own sensors make
plausible, and removes what the resident would have done while lying there:

- ``fall``: at a movement in the kitchen, bathroom, toilet or hall by day (08:00-21:00), the
  bed and chair pads empty: every message of the next ``hours`` is cut. The sensors that
  were active return to idle as they would (a PIR's "no occupancy", a plug's 0 W), nothing
  else: the resident lies on the floor. Truth: the fall's moment to ``hours`` later.
- ``no_wake``: the morning bed exit (a bed pad emptied between 05:00 and 11:00 after at
  least three hours in bed): the pad stays occupied and every message of the next ``hours``
  is cut; the pad empties when help arrives. Truth: from the moment the resident would
  have got up.
- ``inactivity``: a chair pad taken by day (10:00-18:00): from five minutes on the pad stays
  occupied and every message of the next ``hours`` is cut. Truth: from that moment.

Each episode gets a copy of the whole home of its own (apartment ``a001``, ``a002``, ...),
so episodes never meet and the copies' ordinary days measure the false alarms as well.
Episodes lie in the second half of the recording (the hub has had the first half to learn
the home), one per day at most per kind, chosen with a seeded generator: the same seed,
the same episodes.

>>> from datetime import datetime
>>> from simulators.behaviour import ZONE
>>> t = lambda h, m=0: datetime(2026, 1, 12, h, m, tzinfo=ZONE)
>>> msgs = [(t(9), "zigbee2mqtt/a001/kitchen/motion", {"occupancy": True}),
...         (t(9, 1), "zigbee2mqtt/a001/kitchen/motion", {"occupancy": False}),
...         (t(9, 5), "zigbee2mqtt/a001/living/chair_pad", {"occupancy": True}),
...         (t(15), "zigbee2mqtt/a001/kitchen/motion", {"occupancy": True})]
>>> cut = cut_fall(msgs, 0, hours=4.0)
>>> [(m[0].strftime("%H:%M"), m[2]) for m in cut]
[('09:00', {'occupancy': True}), ('09:01', {'occupancy': False}), ('15:00', {'occupancy': True})]
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from edge.recording import RecordingWriter
from edge.state import is_pad
from simulators.behaviour import ZONE

Message = tuple[datetime, str, dict[str, Any]]

FALL_ROOMS = frozenset({"kitchen", "bathroom", "toilet", "hall"})
IDLE: dict[str, Any] = {"occupancy": False, "power": 0.0}
"""What a sensor of that field says when nobody uses it (a contact stays as it was)."""


@dataclass(frozen=True, slots=True)
class Injected:
    """One acute episode in one copy of a home."""

    apartment: str
    kind: str
    start: datetime
    end: datetime
    room: str
    note: str

    def to_dict(self) -> dict[str, str]:
        return {
            "apartment": self.apartment,
            "kind": self.kind,
            "start": self.start.isoformat(timespec="milliseconds"),
            "end": self.end.isoformat(timespec="milliseconds"),
            "room": self.room,
            "note": self.note,
        }


def _room(topic: str) -> str:
    return topic.split("/")[2]


def _device(topic: str) -> str:
    return topic.split("/")[3]


def _is_pad(topic: str, *, bed: bool | None = None) -> bool:
    """A pad (the hub's own rule, :func:`edge.state.is_pad`); with ``bed``, a bed pad or
    (``False``) a chair pad, by the importers' names."""
    device = _device(topic)
    if bed is None:
        return is_pad(device)
    return device.startswith("bed_pad" if bed else "chair_pad")


def _active(payload: dict[str, Any]) -> bool:
    """Whether the message says its sensor is in use."""
    for fld, idle in IDLE.items():
        if fld in payload:
            return bool(payload[fld] != idle)
    return payload.get("contact") is False  # an opened contact


def _states_at(messages: list[Message], index: int) -> dict[str, dict[str, Any]]:
    """Each topic's last payload up to and including ``messages[index]``."""
    last: dict[str, dict[str, Any]] = {}
    for _, topic, payload in messages[: index + 1]:
        last[topic] = payload
    return last


def _cut(
    messages: list[Message], start: datetime, end: datetime, keep_idle: set[str]
) -> list[Message]:
    """Every message in ``(start, end)`` removed, except the first idle one of each topic
    in ``keep_idle`` (a PIR that times out, a plug switching off)."""
    out: list[Message] = []
    for msg in messages:
        ts, topic, payload = msg
        if start < ts < end:
            if topic in keep_idle and not _active(payload):
                keep_idle.discard(topic)
                out.append(msg)
            continue
        out.append(msg)
    return out


def cut_fall(messages: list[Message], index: int, hours: float) -> list[Message]:
    """The home with a fall at ``messages[index]``: see the module doc."""
    start = messages[index][0]
    states = _states_at(messages, index)
    running = {
        topic
        for topic, payload in states.items()
        if _active(payload) and any(f in payload for f in IDLE)
    }
    return _cut(messages, start, start + timedelta(hours=hours), running)


def _with_pad_until(
    messages: list[Message], start: datetime, end: datetime, pad: str
) -> list[Message]:
    """Every message in ``[start, end)`` removed; ``pad`` stays occupied and empties at
    ``end`` (help arrives)."""
    out = [m for m in messages if not start <= m[0] < end]
    out.append((end, pad, {"occupancy": False}))
    out.sort(key=lambda m: m[0])
    return out


def _local(ts: datetime) -> datetime:
    return ts.astimezone(ZONE)


def _at_home(messages: list[Message], index: int, window: timedelta) -> bool:
    """No front-door message within ``window`` before or after ``messages[index]``."""
    ts = messages[index][0]
    lo, hi = ts - window, ts + window
    i = index
    while i > 0 and messages[i - 1][0] >= lo:
        i -= 1
        if _room(messages[i][1]) == "entrance":
            return False
    j = index
    while j + 1 < len(messages) and messages[j + 1][0] <= hi:
        j += 1
        if _room(messages[j][1]) == "entrance":
            return False
    return True


def fall_moments(messages: list[Message], first: datetime) -> Iterator[int]:
    """Indexes of plausible fall moments (module doc)."""
    pads: dict[str, bool] = {}
    for i, (ts, topic, payload) in enumerate(messages):
        if _is_pad(topic):
            pads[topic] = bool(payload.get("occupancy"))
            continue
        if ts < first or _room(topic) not in FALL_ROOMS or not _active(payload):
            continue
        if not time(8) <= _local(ts).time() < time(21) or any(pads.values()):
            continue
        if _at_home(messages, i, timedelta(minutes=30)):
            yield i


def wake_moments(messages: list[Message], first: datetime) -> Iterator[tuple[datetime, str]]:
    """(moment, bed pad) of each morning's getting up: the first message from outside the
    bedroom between 05:00 and 11:00 after at least three hours with only bedroom messages;
    the moment is the bed pad's last message before it when that lies within half an hour
    (the pad emptied), else the outside message's. Bed pads that report an occupancy
    (Ordonez) and pads that pulse with each movement on the bed (van Kasteren) alike."""
    night_from: datetime | None = None
    pad: tuple[datetime, str] | None = None
    for ts, topic, _ in messages:
        if _room(topic) == "bedroom":
            if night_from is None:
                night_from = ts
            if _is_pad(topic, bed=True):
                pad = (ts, topic)
            continue
        if (
            night_from is not None
            and pad is not None
            and ts >= first
            and time(5) <= _local(ts).time() < time(11)
            and ts - night_from >= timedelta(hours=3)
        ):
            yield (pad[0] if ts - pad[0] <= timedelta(minutes=30) else ts), pad[1]
        night_from, pad = None, None


def chair_moments(messages: list[Message], first: datetime) -> Iterator[tuple[datetime, str]]:
    """(moment, chair pad) five minutes into each chair pad sitting by day that lasts so
    long (the resident is on the pad then)."""
    since: dict[str, datetime] = {}
    for ts, topic, payload in messages:
        if not _is_pad(topic, bed=False):
            continue
        if payload.get("occupancy"):
            since.setdefault(topic, ts)
            continue
        began = since.pop(topic, None)
        if began is None or began < first or not time(10) <= _local(began).time() < time(18):
            continue
        if ts - began >= timedelta(minutes=5):
            yield began + timedelta(minutes=5), topic


def _one_per_day(found: list[Any], moment: Any, rng: random.Random, n: int) -> list[Any]:
    """At most ``n`` of ``found``, on different local days, chosen with ``rng``."""
    by_day: dict[str, list[Any]] = {}
    for item in found:
        by_day.setdefault(_local(moment(item)).date().isoformat(), []).append(item)
    days = sorted(by_day)
    rng.shuffle(days)
    return [rng.choice(by_day[d]) for d in sorted(days[:n])]


def _retopic(messages: list[Message], apartment: str) -> list[Message]:
    out = []
    for ts, topic, payload in messages:
        parts = topic.split("/")
        parts[1] = apartment
        out.append((ts, "/".join(parts), payload))
    return out


@dataclass(frozen=True, slots=True)
class Counts:
    """How many episodes of each kind a home gets at most, and how long each lasts."""

    falls: int = 6
    no_wakes: int = 4
    faints: int = 4
    hours: float = 4.0


def inject(
    messages: list[Message], seed: int, counts: Counts = Counts()
) -> tuple[list[Message], list[Injected], list[dict[str, str]]]:
    """Copies of one home (``messages``, one apartment), each with one episode: the merged
    recording's messages, the episodes, and the ground truth's ordinary days."""
    if not messages:
        raise ValueError("the recording has no messages")
    rng = random.Random(seed)
    begin, finish = messages[0][0], messages[-1][0]
    first = begin + (finish - begin) / 2
    hours = timedelta(hours=counts.hours)
    last = finish - hours  # every episode ends within the recording
    plans: list[tuple[str, datetime, str, list[Message]]] = []
    falls = [i for i in fall_moments(messages, first) if messages[i][0] <= last]
    for i in _one_per_day(falls, lambda i: messages[i][0], rng, counts.falls):
        ts, topic, _ = messages[i]
        plans.append(("fall", ts, _room(topic), cut_fall(messages, i, counts.hours)))
    wakes = [m for m in wake_moments(messages, first) if m[0] <= last]
    for ts, pad in _one_per_day(wakes, lambda m: m[0], rng, counts.no_wakes):
        plans.append(("no_wake", ts, "bedroom", _with_pad_until(messages, ts, ts + hours, pad)))
    sits = [m for m in chair_moments(messages, first) if m[0] <= last]
    for ts, pad in _one_per_day(sits, lambda m: m[0], rng, counts.faints):
        cut = _with_pad_until(messages, ts, ts + hours, pad)
        plans.append(("inactivity", ts, _room(pad), cut))
    out: list[Message] = []
    episodes: list[Injected] = []
    normal: list[dict[str, str]] = []
    notes = {
        "fall": "fallen, lies still until help arrives",
        "no_wake": "stays in bed until help arrives",
        "inactivity": "no movement in the chair until help arrives",
    }
    for n, (kind, ts, room, home) in enumerate(plans, start=1):
        apt = f"a{n:03d}"
        out.extend(_retopic(home, apt))
        episodes.append(Injected(apt, kind, ts, ts + hours, room, notes[kind]))
        normal.append(
            {
                "apartment": apt,
                "kind": "normal",
                "start": begin.isoformat(timespec="milliseconds"),
                "end": finish.isoformat(timespec="milliseconds"),
                "note": "ordinary day",
            }
        )
    out.sort(key=lambda m: m[0])
    return out, episodes, normal


def write_world(
    messages: list[Message], seed: int, out: Path, counts: Counts = Counts()
) -> list[Injected]:
    """``out``/recording.jsonl.gz, truth.jsonl and flat.yaml of one home's copies."""
    merged, episodes, normal = inject(messages, seed, counts)
    out.mkdir(parents=True, exist_ok=True)
    with RecordingWriter(out / "recording.jsonl.gz") as writer:
        for ts, topic, payload in merged:
            writer.write(ts, topic, payload)
    with (out / "truth.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for row in normal:
            fh.write(json.dumps(row) + "\n")
        for ep in sorted(episodes, key=lambda e: e.start):
            fh.write(json.dumps(ep.to_dict()) + "\n")
    # recorded in 2008-2012: before the clock guard's "never real" date
    (out / "flat.yaml").write_text(
        "# a real home's copies with episodes put in (thuisplus eval-real)\n"
        "clock:\n  min_valid: '2000-01-01T00:00:00+00:00'\n",
        encoding="utf-8",
    )
    return episodes


HOMES: dict[str, tuple[str, list[str]]] = {
    "ordonezA": ("ordonez", ["ordonez/OrdonezA_Sensors.txt"]),
    "ordonezB": ("ordonez", ["ordonez/OrdonezB_Sensors.txt"]),
    "kasteren": ("kasteren", ["vankasteren_b/houseB-ss.txt", "vankasteren_b/sensorMapB-ids.txt"]),
}
"""The shared recordings (``../shared/datasets``): importer and files."""


def home_messages(datasets: Path, home: str) -> list[Message]:
    """One shared recording's messages, imported (apartment ``a001``)."""
    from simulators.importers import import_files

    importer, files = HOMES[home]
    paths = [datasets / f for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{home}: missing {', '.join(missing)}")
    return import_files(importer, paths).messages


def run_real(
    datasets: Path,
    out: Path,
    homes: list[str],
    seed: int,
    counts: Counts,
    replay: str,
    progress: Any = None,
) -> dict[str, Any]:
    """Each home: its copies with episodes written, replayed through the hub (``replay``,
    as for ``eval-suite``), scored. Returns the scores per home (``Score``)."""
    from simulators.eval_suite import run_replay
    from simulators.evaluate import evaluate_files

    scores: dict[str, Any] = {}
    for home in homes:
        folder = out / home
        episodes = write_world(home_messages(datasets, home), seed, folder, counts)
        if progress is not None:
            progress(f"{home}: {len(episodes)} copies with an episode each -> {folder}")
        signals = folder / "signals.jsonl"
        run_replay(replay, folder / "recording.jsonl.gz", signals, folder / "flat.yaml")
        result, bad = evaluate_files(folder / "truth.jsonl", signals)
        if bad:
            raise ValueError(f"{home}: {len(bad)} unreadable signal lines, first: {bad[0]}")
        scores[home] = result
    return scores
