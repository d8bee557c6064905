"""The eval suite end to end, with a stand-in hub: a script that signals every episode."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest

from simulators.episodes import EpisodeRates
from simulators.eval_suite import ReplayFailed, run_suite
from simulators.stream import SimConfig

ORACLE = """
import json, sys
from datetime import datetime, timedelta
from pathlib import Path
rec, out = Path(sys.argv[1]), Path(sys.argv[2])
assert rec.exists() and Path(sys.argv[3]).exists()
with out.open("w") as fh:
    for n, line in enumerate((rec.parent / "truth.jsonl").read_text().splitlines()):
        e = json.loads(line)
        if e["kind"] == "normal":
            continue
        at = (datetime.fromisoformat(e["start"]) + timedelta(seconds=60)).isoformat()
        fh.write(json.dumps({"id": str(n), "flat": "sim-flat", "apartment": e["apartment"],
                 "kind": e["kind"], "domain": "care", "severity": "urgent",
                 "start": e["start"], "detected_at": at, "summary": "x", "evidence": {}}) + "\\n")
    fh.write(json.dumps({"id": "f", "flat": "sim-flat", "apartment": "a001", "kind": "sos",
             "domain": "care", "severity": "urgent", "start": "2026-01-05T03:00:00+01:00",
             "detected_at": "2026-01-05T03:00:00+01:00", "summary": "x", "evidence": {}}) + "\\n")
"""


def test_suite_simulates_replays_and_scores(tmp_path: Path) -> None:
    script = tmp_path / "oracle.py"
    script.write_text(ORACLE, encoding="utf-8")
    cfg = SimConfig(apartments=3, days=4, start=date(2026, 1, 5), rates=EpisodeRates().scaled(60.0))
    replay = f"{sys.executable} {script} {{recording}} {{signals}} {{config}}"
    report = run_suite(cfg, [1, 2], tmp_path / "eval", replay)
    saved = json.loads((tmp_path / "eval" / "score.json").read_text())
    assert saved["seeds"] == [1, 2]
    pooled = saved["pooled"]
    assert pooled["apartments"] == 6
    assert pooled["kinds"]
    for kind, k in pooled["kinds"].items():
        assert k["recall"] == 1.0, kind
        assert k["median_delay_s"] == 60.0
    # the one made-up SOS per seed, at 03:00 on the first night, matches nothing
    assert pooled["false"]["urgent"] == 2
    assert set(saved["per_seed"]) == {"1", "2"}
    assert report["pooled"] == pooled


def test_a_failing_replay_stops_the_suite(tmp_path: Path) -> None:
    cfg = SimConfig(apartments=1, days=1)
    with pytest.raises(ReplayFailed, match="exited with 3"):
        run_suite(cfg, [1], tmp_path, f"{sys.executable} -c 'import sys; sys.exit(3)'")


def test_eval_suite_command_runs_the_real_hub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make eval``'s own command line, shrunk: simulate, replay through the hub, score."""
    from edge.cli import main

    replay = (
        f"{sys.executable} -m edge.cli replay {{recording}} --config {{config}} "
        "--signals-out {signals} --quiet --no-progress"
    )
    argv = ["eval-suite", "--seeds", "4", "--apartments", "2", "--days", "3"]
    argv += ["--episode-scale", "40", "--out", str(tmp_path / "eval"), "--replay-cmd", replay]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "apartment-months" in printed
    saved = json.loads((tmp_path / "eval" / "score.json").read_text())
    assert saved["seeds"] == [4]
    assert saved["pooled"]["apartments"] == 2
    assert (tmp_path / "eval" / "seed-4" / "signals.jsonl").exists()


def test_seeds_in_parallel_give_the_same_files_and_scores(tmp_path: Path) -> None:
    """``parallel`` runs the seeds in processes of their own: the same recordings, signals
    and scores as one after the other."""
    script = tmp_path / "oracle.py"
    script.write_text(ORACLE, encoding="utf-8")
    cfg = SimConfig(apartments=2, days=3, start=date(2026, 1, 5), rates=EpisodeRates().scaled(60.0))
    replay = f"{sys.executable} {script} {{recording}} {{signals}} {{config}}"
    lines: list[str] = []
    run_suite(cfg, [1, 2, 3], tmp_path / "one", replay)
    run_suite(cfg, [1, 2, 3], tmp_path / "par", replay, progress=lines.append, parallel=2)
    for name in ("score.json", *(f"seed-{s}/{f}" for s in (1, 2, 3) for f in FILES)):
        one = (tmp_path / "one" / name).read_bytes()
        assert one == (tmp_path / "par" / name).read_bytes(), name
    assert (
        sorted(line.split(":")[0] for line in lines)
        == ["seed 1"] * 2 + ["seed 2"] * 2 + ["seed 3"] * 2
    )


FILES = ("recording.jsonl.gz", "truth.jsonl", "flat.yaml", "signals.jsonl")


def test_a_failing_replay_stops_the_suite_in_parallel_too(tmp_path: Path) -> None:
    cfg = SimConfig(apartments=1, days=1)
    failing = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    with pytest.raises(ReplayFailed, match="exited with 3"):
        run_suite(cfg, [1, 2], tmp_path, failing, parallel=2)
