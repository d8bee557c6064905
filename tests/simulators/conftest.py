"""Fixtures for the simulator tests: a private Mosquitto, the datasets folder, small runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from simulators.episodes import EpisodeRates
from simulators.stream import Run, SimConfig, write_simulation
from tests.conftest import Broker


@pytest.fixture
def mosquitto(broker: Broker) -> tuple[str, int]:
    """The shared private broker (tests/conftest.py), as (host, port)."""
    return broker.host, broker.port


# every episode kind often enough to appear in a few apartments over two months
BUSY_RATES = (
    EpisodeRates()
    .scaled(25.0)
    .with_overrides(
        {
            "fall": 20.0,
            "withdrawal": 8.0,
            "nutrition": 8.0,
            "night_toilet": 8.0,
            "mobility_decline": 8.0,
            "night_wandering": 4.0,
            "trend_ramp_days": 10,
            "trend_hold_days": 12,
            "wandering_days": 10,
            "holiday": 4.0,
            "hospital": 2.0,
        }
    )
)
BUSY = SimConfig(
    apartments=14,
    days=60,
    seed=7,
    start=date(2026, 3, 2),
    rates=BUSY_RATES,
    p_duplicate=0.01,
    p_out_of_order=0.003,
    p_malformed=0.002,
)


@pytest.fixture(scope="session")
def busy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    """A small flat with many episodes of every kind, written once for the session."""
    out = tmp_path_factory.mktemp("busy")
    return write_simulation(BUSY, out), out


# only slow trends, no acute episodes or absences: clean before/after comparisons
TREND_RATES = (
    EpisodeRates()
    .scaled(0.0)
    .with_overrides(
        {
            "withdrawal": 12.0,
            "nutrition": 12.0,
            "night_toilet": 12.0,
            "mobility_decline": 12.0,
            "trend_ramp_days": 8,
            "trend_hold_days": 14,
        }
    )
)
TRENDS = SimConfig(apartments=8, days=56, seed=5, start=date(2026, 9, 7), rates=TREND_RATES)


@pytest.fixture(scope="session")
def trend_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    out = tmp_path_factory.mktemp("trends")
    return write_simulation(TRENDS, out, workers=2), out
