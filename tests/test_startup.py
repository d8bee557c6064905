"""Commands that need no detector start without numpy, river or influxdb_client (issue 19:
``thuisplus signals list`` under 150 ms; the figure is printed by
benchmarks/bench_startup.py, this keeps the imports out). ``signals list`` and ``show``
read the store read-only without pydantic (edge/readonly.py) and print what the hub's
own register prints."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import edge.readonly
from edge.cli import DB_NAME, DEFAULT_TIMEZONE, SIMULATOR_COMMANDS, _command, build_parser, main
from edge.config import Config
from edge.register import Register
from edge.store import Store, StoreConfig

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
    assert "edge.readonly" in listed
    heavy = {"numpy", "river", "influxdb_client", "simulators.cli", "edge.config", "pydantic"}
    assert heavy & listed == set()
    assert {"edge.register", "edge.store", "edge.models"} & listed == set()
    first = _run(["signals", "--state-dir", str(state), "list"]).split()[0]
    shown = _imported(["signals", "--state-dir", str(state), "show", first])
    assert heavy & shown == set()
    assert "pydantic" in _imported(
        ["signals", "--state-dir", str(state), "ack", first, "--by", "x"]
    )


def _run(argv: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def _replayed(state: Path) -> list[str]:
    """A store made by a real replay of the demo flat, with people's actions on it (each
    status, an assignment, a verdict, notes); the signal ids, oldest first."""
    demo = ROOT / "edge" / "data" / "demo.jsonl"
    assert main(["replay", str(demo), "--state-dir", str(state), "--quiet", "--no-progress"]) == 0
    store = Store(state / DB_NAME, StoreConfig())
    reg = Register(store)
    ids = [e.id for e in reg.entries()]
    assert len(ids) == 4
    reg.acknowledge(ids[0], "on_call")
    reg.discuss(ids[1], "coordinator", "Bewoner gebeld; “alles goed” ✓")
    reg.assign(ids[2], "housing", "huismeester", "coordinator")
    reg.close(ids[3], "false_alarm", "coordinator", "batterij vervangen")
    store.close()
    return ids


LOOKS = [
    ["list"],
    ["list", "--status", "open"],
    ["list", "--status", "closed"],
    ["list", "--domain", "housing"],
    ["list", "--apartment", "a002"],
    ["list", "--apartment", "nobody"],
]


def _outputs(
    state: Path, ids: list[str], capsys: pytest.CaptureFixture[str]
) -> list[tuple[int, str, str]]:
    out = []
    for look in [*LOOKS, *(["show", i] for i in ids), ["show", ids[0][:6]], ["show", "zz"]]:
        code = main(["signals", "--state-dir", str(state), *look])
        out.append((code, *capsys.readouterr()))
    return out


def test_the_read_only_listing_prints_what_the_register_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    ids = _replayed(state)
    capsys.readouterr()
    lean = _outputs(state, ids, capsys)
    assert lean[0][0] == 0
    assert "4 signal(s)" in lean[0][1]
    assert "discussed" in lean[0][1]
    assert "-> housing/huismeester" in lean[0][1]
    assert "closed [false_alarm]" in lean[0][1]
    assert lean[-1] == (1, "", "no signal 'zz' in the register\n")
    # the same commands through the hub's writing register (pydantic's Signal, the Store)
    monkeypatch.setattr(edge.readonly, "open_read_only", lambda path: None)
    full = _outputs(state, ids, capsys)
    assert lean == full
    # what show prints of the kept signal is what pydantic reads of it
    reg = Register(Store(state / DB_NAME, StoreConfig()))
    for entry in reg.entries():
        summary, evidence = edge.readonly.summary_and_evidence(entry)
        printed = json.dumps(evidence, ensure_ascii=False)
        assert (summary, printed) == (
            entry.signal.summary,
            json.dumps(entry.signal.evidence, ensure_ascii=False),
        )
    reg.store.close()


def test_the_read_only_listing_sees_a_running_hubs_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    ids = _replayed(state)
    writer = Store(state / DB_NAME, StoreConfig())
    writer.db.execute("PRAGMA wal_autocheckpoint=0")  # (the hub's commits stay in the WAL)
    Register(writer).close(ids[0], "confirmed", "coordinator")
    capsys.readouterr()
    try:
        assert main(["signals", "--state-dir", str(state), "list", "--status", "closed"]) == 0
        listed = capsys.readouterr().out
        assert ids[0] in listed
        assert ids[3] in listed
        assert "2 signal(s)" in listed
    finally:
        writer.close()


def test_the_read_only_listing_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing"
    assert main(["signals", "--state-dir", str(missing), "list"]) == 2
    assert capsys.readouterr().err == (
        f"{missing / DB_NAME}: no store here (give the hub's --state-dir)\n"
    )
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / DB_NAME).write_text("not a database")
    assert main(["signals", "--state-dir", str(junk), "list"]) == 2
    assert capsys.readouterr().err == (
        f"cannot open the store {junk / DB_NAME}: file is not a database\n"
    )
    newer = tmp_path / "newer"
    _replayed(newer)
    with sqlite3.connect(newer / DB_NAME) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.close()
    capsys.readouterr()
    assert main(["signals", "--state-dir", str(newer), "show", "zz"]) == 2
    assert "written by a newer version (schema 99 > 1)" in capsys.readouterr().err
    before = (junk / DB_NAME).read_bytes()
    assert main(["signals", "--state-dir", str(junk), "show", "x"]) == 2
    assert (junk / DB_NAME).read_bytes() == before  # (read-only: nothing written)


def test_a_store_without_a_register_yet_lists_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    Store(state / DB_NAME, StoreConfig()).close()
    assert main(["signals", "--state-dir", str(state), "list"]) == 0
    assert capsys.readouterr().out == "0 signal(s)\n"


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
