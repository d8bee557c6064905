"""Commands that need no detector start without numpy, river or influxdb_client (issue 19:
``thuisplus signals list`` under 150 ms; the figure is printed by
benchmarks/bench_startup.py, this keeps the imports out)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge.cli import DEFAULT_TIMEZONE, SIMULATOR_COMMANDS, _command, build_parser
from edge.config import Config

ROOT = Path(__file__).resolve().parents[1]


def _imported(argv: list[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "edge.cli", *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}


def test_signals_list_imports_no_detector_library(tmp_path: Path) -> None:
    state = tmp_path / "state"
    demo = ROOT / "edge" / "data" / "demo.jsonl"
    replayed = _imported(["replay", str(demo), "--state-dir", str(state), "--quiet"])
    assert "numpy" in replayed  # (the check below can tell)
    listed = _imported(["signals", "--state-dir", str(state), "list"])
    assert "edge.register" in listed
    heavy = {"numpy", "river", "influxdb_client", "simulators.cli", "edge.config"} & listed
    assert heavy == set()


def test_the_default_time_zone_is_the_configs() -> None:
    assert DEFAULT_TIMEZONE == Config().timezone


def test_a_hub_command_leaves_the_simulator_out_and_help_lists_it() -> None:
    assert _command(["--log-level", "debug", "signals", "list"]) == "signals"
    assert _command(["--version"]) is None
    hub = build_parser("signals")
    whole = build_parser(None)
    names = [a for a in hub._subparsers._group_actions[0].choices]  # type: ignore[union-attr]
    assert "signals" in names
    assert not set(SIMULATOR_COMMANDS) & set(names)
    every = whole._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(SIMULATOR_COMMANDS) <= set(every)
