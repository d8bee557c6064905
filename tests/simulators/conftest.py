"""Fixtures for the simulator tests: a private Mosquitto, the datasets folder, small runs."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from simulators.episodes import EpisodeRates
from simulators.stream import Run, SimConfig, write_simulation

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / ".." / "shared" / "datasets"


def _mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    if Path("/usr/sbin/mosquitto").exists():
        return "/usr/sbin/mosquitto"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A private broker on a free loopback port (never 1883), stopped at teardown."""
    binary = _mosquitto()
    if binary is None:
        pytest.skip(
            "mosquitto is not installed (neither on PATH nor /usr/sbin/mosquitto); "
            "`make test` installs it"
        )
    port = _free_port()
    assert port != 1883
    cfg = tmp_path / "mosquitto.conf"
    cfg.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n", encoding="utf-8"
    )
    proc = subprocess.Popen(
        [binary, "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mosquitto did not start on port {port}")
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(
            f"../shared/datasets not present: the public recordings live outside the "
            f"repository (looked in {DATASETS.resolve()})"
        )
    return DATASETS


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
