"""A slow trend through the whole hub: a simulated resident who walks ever more slowly,
replayed through the pipeline (daily features, on_day, register): the signal comes once,
within the episode, and a restart in the middle neither forgets nor raises it again."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from edge.app import build_hub
from edge.config import load_config
from edge.models import Signal
from edge.replay import replay
from edge.store import Store
from simulators.__main__ import main as simulate_main

pytestmark = pytest.mark.slow

TRENDS_OFF = ["night_toilet=0", "withdrawal=0", "nutrition=0", "night_wandering=0"]


class Collect:
    def __init__(self) -> None:
        self.signals: list[Signal] = []

    def emit(self, signal: Signal) -> None:
        self.signals.append(signal)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trend-sim")
    args = ["simulate", "--apartments", "2", "--days", "90", "--seed", "1", "--out", str(out)]
    for rate in ["mobility_decline=30", *TRENDS_OFF]:
        args += ["--rate", rate]
    assert simulate_main(args) == 0
    return out


def run(sim: Path, recordings: list[Path], store: Store) -> list[Signal]:
    config = load_config(sim / "flat.yaml")
    sink = Collect()
    hub = build_hub(config, store, sinks=[sink])
    replay(recordings, hub)
    hub.close()
    return sink.signals


def test_slower_walking_is_raised_once_within_the_episode_and_not_after_a_restart(
    sim: Path, tmp_path: Path
) -> None:
    truth = [json.loads(line) for line in (sim / "truth.jsonl").read_text().splitlines()]
    (episode,) = [t for t in truth if t["kind"] == "mobility_decline"]
    start, end = (datetime.fromisoformat(episode[k]) for k in ("start", "end"))
    config = load_config(sim / "flat.yaml")

    whole = [
        s
        for s in run(sim, [sim / "recording.jsonl.gz"], Store(None, config.store))
        if s.kind.value == "mobility_decline"
    ]
    assert len(whole) == 1
    (sig,) = whole
    assert sig.apartment == episode["apartment"]
    assert start <= sig.detected_at <= end
    assert sig.evidence["detector"] == "mobility_decline"
    assert sig.evidence["observed"] > sig.evidence["baseline"]
    assert sig.detected_at.hour == 0  # stamped with the end of the day that confirmed it

    # the same stream in two runs over one store, cut a week after the signal
    lines = gzip.open(sim / "recording.jsonl.gz", "rt", encoding="utf-8").read().splitlines()
    cut = next(
        i
        for i, line in enumerate(lines)
        if (datetime.fromisoformat(json.loads(line)["ts"]) - sig.detected_at).days >= 7
    )
    parts = []
    for n, chunk in enumerate((lines[:cut], lines[cut:])):
        path = tmp_path / f"part{n}.jsonl"
        path.write_text("\n".join(chunk) + "\n", encoding="utf-8")
        parts.append(path)
    state = tmp_path / "hub.sqlite"
    first = run(sim, [parts[0]], Store(state, config.store))
    second = run(sim, [parts[1]], Store(state, config.store))
    assert [s.id for s in first if s.kind.value == "mobility_decline"] == [sig.id]
    assert [s for s in second if s.kind.value == "mobility_decline"] == []
