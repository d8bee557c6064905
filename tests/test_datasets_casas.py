"""A CASAS single-resident home (WSU's smart-home recordings, the field's reference),
imported and replayed through the whole hub with every detector at its defaults: nobody
is paged. Runs only where a copy lies in ``../shared/datasets/casas/<home>/data``: none is
stored with the shared datasets here, and CASAS asks that its data not be redistributed."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.app import build_hub
from edge.config import Config
from edge.replay import replay
from edge.store import Store
from simulators.importers import import_files, write_import
from tests.test_datasets_urgent import Collect


def casas_homes(datasets: Path) -> list[Path]:
    folder = datasets / "casas"
    return sorted(p for p in folder.glob("*/data*") if p.is_file()) if folder.is_dir() else []


@pytest.mark.datasets
@pytest.mark.slow
def test_a_casas_home_pages_nobody(datasets: Path, tmp_path: Path) -> None:
    homes = casas_homes(datasets)
    if not homes:
        pytest.skip(
            f"no CASAS recording in {datasets / 'casas'}: none is stored with the shared "
            "datasets here and CASAS asks that it not be redistributed; to run this, put a "
            "single-resident home's raw event file (e.g. Aruba's 'data', from casas.wsu.edu) "
            "at ../shared/datasets/casas/<home>/data"
        )
    config = Config.model_validate({"clock": {"min_valid": "2000-01-01T00:00:00+00:00"}})
    for path in homes:
        result = import_files("casas", [path])
        rec = tmp_path / f"{path.parent.name}.jsonl.gz"
        assert write_import(result, rec) > 500, path
        sink = Collect()
        hub = build_hub(config, Store(None, config.store), sinks=[sink])
        replay([rec], hub)
        assert hub.stats.events > 500
        urgent = [
            (s.kind.value, s.detected_at.isoformat())
            for s in sink.signals
            if s.severity == "urgent"
        ]
        assert urgent == [], path.parent.name
