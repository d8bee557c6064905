"""Replay in shards (``thuisplus replay --jobs N``): the signals of one process, byte for byte.

Each case replays the same recording with ``--jobs 1`` (one hub, today's path) and with
``--jobs 3`` (three processes, a shard of apartments each, merged) and compares the
signals file byte for byte and the summary's counts line for line.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from edge.app import build_hub
from edge.config import Config, load_config
from edge.features import DayFeatures
from edge.models import Message
from edge.pipeline import Hub
from edge.recording import read_recording
from edge.replay import RecordingError, replay_sharded, shard_of
from edge.store import Store
from tests.helpers import msg, write_recording

ROOT = Path(__file__).resolve().parents[1]


def _replay(
    recording: Path, jobs: int, out: Path, config: Path | None = None, quiet: bool = True
) -> list[str]:
    argv = [sys.executable, "-m", "edge.cli", "replay", str(recording), "--no-progress"]
    argv += ["--jobs", str(jobs), "--signals-out", str(out)] + (["--quiet"] if quiet else [])
    if config is not None:
        argv += ["--config", str(config)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    # each signal and closing on the terminal and the counts, without the timing line and
    # the file's name
    return [
        line
        for line in done.stdout.splitlines()
        if line.strip() and not line.startswith(("Replayed", "  signals written"))
    ]


@pytest.fixture(scope="module")
def small_flat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 apartments x 10 days with many episodes, last_seen times (event time is not
    the receive time), repeats, late and malformed messages."""
    out = tmp_path_factory.mktemp("flat")
    argv = [sys.executable, "-m", "edge.cli", "simulate", "--apartments", "12", "--days", "10"]
    argv += ["--seed", "3", "--episode-scale", "12", "--last-seen", "--out", str(out)]
    subprocess.run(argv, capture_output=True, check=True, cwd=ROOT)
    return out


@pytest.mark.timeout(900)  # (a simulation and two replays of 89,000 lines: ~20 s when idle)
def test_a_simulated_flat_in_three_jobs_gives_the_signals_of_one(
    small_flat: Path, tmp_path: Path
) -> None:
    rec, config = small_flat / "recording.jsonl.gz", small_flat / "flat.yaml"
    one = _replay(rec, 1, tmp_path / "one.jsonl", config, quiet=False)
    three = _replay(rec, 3, tmp_path / "three.jsonl", config, quiet=False)
    first = (tmp_path / "one.jsonl").read_bytes()
    assert first == (tmp_path / "three.jsonl").read_bytes()
    assert one == three
    assert first.count(b"\n") >= 4
    assert any(" closed " in line for line in one)  # (the hub closed one by itself)
    # every shard kept apartments, and the signals came from more than one of them
    apartments = {m.topic.split("/")[1] for m in read_recording(rec) if isinstance(m, Message)}
    assert {shard_of(a, 3) for a in apartments} == {0, 1, 2}
    rows = first.decode().splitlines()
    raised = {line.split('"apartment":"')[1].split('"')[0] for line in rows}
    assert len({shard_of(a, 3) for a in raised}) >= 2
    assert any("rejected: 0" not in line for line in one)


def _doors(tmp_path: Path) -> tuple[Path, list[str]]:
    """Six front doors opened in the same minute in apartments of all three shards, found
    open by the timers at the same message (another apartment's): one process raises six
    door_open signals at one line, ordered by due time and apartment. Plus a message a
    year ahead (the clock guard refuses it in every shard) and a common-room visit."""
    apartments = ["a1", "a2", "a7", "a11", "a3", "a5"]  # shards 2, 1, 0, 0, 2, 1
    lines = [msg(0, f"{a}/hall/motion", {"occupancy": True}) for a in apartments]
    lines += [msg(1, "common/common_room/motion", {"occupancy": True})]
    # four open at the same second, two a little later
    lines += [msg(2, f"{a}/entrance/door", {"contact": False}) for a in apartments[:4]]
    lines += [msg(2.5, f"{a}/entrance/door", {"contact": False}) for a in apartments[4:]]
    ahead = msg(3, "a2/hall/motion", {"occupancy": True})
    lines += [Message(ahead.received + timedelta(days=365), ahead.topic, ahead.payload, "t")]
    lines += [msg(60, "z9/hall/motion", {"occupancy": True})]
    return write_recording(tmp_path / "doors.jsonl", lines), apartments


def test_signals_of_several_shards_at_one_message_keep_one_process_order(tmp_path: Path) -> None:
    rec, apartments = _doors(tmp_path)
    assert len({shard_of(a, 3) for a in apartments}) == 3
    one = _replay(rec, 1, tmp_path / "one.jsonl")
    three = _replay(rec, 3, tmp_path / "three.jsonl")
    first = (tmp_path / "one.jsonl").read_text(encoding="utf-8")
    assert first == (tmp_path / "three.jsonl").read_text(encoding="utf-8")
    assert one == three
    kinds = Counter(line.split('"kind":"')[1].split('"')[0] for line in first.splitlines())
    assert kinds["door_open"] == 6
    order = [line.split('"apartment":"')[1].split('"')[0] for line in first.splitlines()]
    assert order == ["a1", "a11", "a2", "a7", "a3", "a5"]  # by due, then by apartment
    assert any("clock" in line for line in one)  # the refused message is counted once


def test_merge_interleaves_shards_and_counts_each_message_once(tmp_path: Path) -> None:
    rec, _ = _doors(tmp_path)
    merged = replay_sharded([rec], Config(), 3)
    assert [s.apartment for s in merged.signals] == ["a1", "a11", "a2", "a7", "a3", "a5"]
    assert merged.lines == 15
    assert merged.stats.messages == 15
    assert merged.stats.events == 14
    assert merged.stats.rejected_total == 1
    with pytest.raises(RecordingError, match="no such recording"):
        replay_sharded([tmp_path / "missing.jsonl"], Config(), 2)


class _Days:
    """A feature sink: every apartment's finished days."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, str], tuple[dict[str, float], list[str]]] = {}

    def features(self, day: DayFeatures) -> None:
        self.days[(day.apartment, day.day.isoformat())] = (day.values, sorted(day.silent_rooms))

    def day_closed(self, day: date) -> None:
        pass


@pytest.mark.timeout(900)  # (four hubs over 30,000 lines: ~10 s when idle)
def test_each_shard_keeps_its_apartments_days_and_events_as_one_process(small_flat: Path) -> None:
    """Three days of the simulated flat through one hub and through three shard hubs: each
    apartment's day features (common_room_minutes from the common room's movement, which
    every shard sees) and its event log rows are the same in its shard as in one process;
    the clock of every shard is the flat's."""
    config = load_config(small_flat / "flat.yaml")
    rec = small_flat / "recording.jsonl.gz"
    messages = list(itertools.islice(read_recording(rec), 30_000))

    def run(owns: Callable[[str], bool] | None) -> tuple[Hub, _Days]:
        days = _Days()
        hub = build_hub(config, Store(None, config.store), feature_sinks=[days])
        hub.owns = owns
        for item in messages:
            if isinstance(item, Message):
                hub.handle(item)
        return hub, days

    one, one_days = run(None)
    assert len(one_days.days) >= 20
    assert max(values["common_room_minutes"] for values, _ in one_days.days.values()) > 0
    events = set(one.store.events_after(None))
    shard_days: dict[tuple[str, str], tuple[dict[str, float], list[str]]] = {}
    shard_events: set[tuple[str, float, str]] = set()
    for index in range(3):
        hub, days = run(lambda apt, i=index: shard_of(apt, 3) == i)  # type: ignore[misc]
        assert hub.clock.now == one.clock.now
        mine = {k: v for k, v in days.days.items() if shard_of(k[0], 3) == index}
        assert not mine.keys() & shard_days.keys()
        shard_days.update(mine)
        kept = set(hub.store.events_after(None))
        assert not kept & shard_events
        shard_events |= kept
    assert shard_days == one_days.days
    assert shard_events == events


def test_a_replay_that_keeps_a_store_runs_in_one_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    rec, _ = _doors(tmp_path)
    state = tmp_path / "state"
    argv = ["replay", str(rec), "--state-dir", str(state), "--jobs", "3", "--quiet"]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "--jobs 3: with --state-dir the replay runs in one process" in out.err
    assert "in 3 jobs" not in out.out
    assert "signals: 6 (door_open 6)" in out.out
    assert (state / "thuisplus.sqlite").is_file()
