"""The public recordings of ordinary life (``../shared/datasets``), imported and replayed
through the whole hub with every detector at its defaults: nobody is paged, and no slow
trend is put on the agenda (issue 18: recall is not bought with false alarms)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.app import build_hub
from edge.config import Config
from edge.models import Signal
from edge.replay import replay
from edge.store import Store
from simulators.importers import import_files, write_import
from tests.helpers import dataset_files


class Collect:
    def __init__(self) -> None:
        self.signals: list[Signal] = []

    def emit(self, signal: Signal) -> None:
        self.signals.append(signal)

    def close(self) -> None:
        pass


def files(datasets: Path, name: str) -> tuple[str, list[Path]]:
    return dataset_files(datasets, name)


@pytest.mark.datasets
@pytest.mark.parametrize("name", ["ordonezA", "ordonezB", "kasteren"])
def test_ordinary_life_pages_nobody(datasets: Path, tmp_path: Path, name: str) -> None:
    dataset, paths = files(datasets, name)
    result = import_files(dataset, paths)
    rec = tmp_path / f"{name}.jsonl.gz"
    assert write_import(result, rec) > 500
    # recorded in 2008-2011: before the clock guard's "never real" date
    config = Config.model_validate({"clock": {"min_valid": "2000-01-01T00:00:00+00:00"}})
    sink = Collect()
    hub = build_hub(config, Store(None, config.store), sinks=[sink])
    replay([rec], hub)
    assert hub.stats.events > 500  # the recording went through the hub
    assert [d.name for d in hub.detectors if d.name in ("inactivity", "no_wake")] == [
        "inactivity",
        "no_wake",
    ]
    urgent = [
        (s.kind.value, s.detected_at.isoformat()) for s in sink.signals if s.severity == "urgent"
    ]
    assert urgent == []
    trends = {"withdrawal", "nutrition", "night_toilet", "night_wandering", "mobility_decline"}
    found = [
        (s.kind.value, s.detected_at.isoformat()) for s in sink.signals if s.kind.value in trends
    ]
    assert found == []
