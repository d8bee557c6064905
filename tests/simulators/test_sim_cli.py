"""The subcommands as a user runs them (``python -m simulators``, same parser as thuisplus)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.__main__ import main
from simulators.cli import register


def test_simulate_writes_the_three_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    code = main(
        [
            "simulate",
            "--apartments",
            "2",
            "--days",
            "4",
            "--seed",
            "3",
            "--out",
            str(out),
            "--rate",
            "sos=200",
            "--last-seen",
        ]
    )
    assert code == 0
    assert "messages" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"recording.jsonl.gz", "truth.jsonl", "flat.yaml"}
    kinds = [json.loads(line)["kind"] for line in (out / "truth.jsonl").read_text().splitlines()]
    assert "sos" in kinds


def test_unknown_rate_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown episode rate 'falls'"):
        main(["simulate", "--days", "1", "--out", str(tmp_path), "--rate", "falls=2"])


@pytest.mark.parametrize(("chairs", "radars"), [("1", "0"), ("0", "1")])
def test_the_share_of_chair_pads_and_fall_radars(tmp_path: Path, chairs: str, radars: str) -> None:
    """What if every living room had a chair pad, or no apartment a fall radar."""
    import gzip

    out = tmp_path / "sim"
    argv = ["simulate", "--apartments", "12", "--days", "1", "--seed", "3", "--out", str(out)]
    assert main([*argv, "--chair-pads", chairs, "--fall-radars", radars]) == 0
    with gzip.open(out / "recording.jsonl.gz", "rt") as f:  # every device reports in a day
        topics = {json.loads(line)["topic"] for line in f}
    with_pad = {t.split("/")[1] for t in topics if t.endswith("/living/chair_pad")}
    with_radar = {t.split("/")[1] for t in topics if t.endswith("/fall_radar")}
    assert len(with_pad) == (12 if chairs == "1" else 0)
    assert len(with_radar) == (12 if radars == "1" else 0)


def test_a_share_outside_0_to_1_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--days", "1", "--out", str(tmp_path), "--chair-pads", "30%"])
    assert "'30%' is not a number" in capsys.readouterr().err


def test_register_adds_subcommands_with_callables() -> None:
    parser = argparse.ArgumentParser(prog="thuisplus")
    register(parser.add_subparsers(dest="command", required=True))
    for argv in (
        ["simulate", "--out", "x"],
        ["import", "casas", "f", "--out", "o"],
        ["evaluate", "t", "s"],
        ["eval-suite"],
    ):
        args = parser.parse_args(argv)
        assert callable(args.func)


def test_python_dash_m_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulators", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "simulate" in done.stdout
    assert "eval-suite" in done.stdout
