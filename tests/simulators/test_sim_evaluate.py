"""Scoring on small hand-made truth and signal files, with the numbers worked out by hand."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from simulators.__main__ import main
from simulators.evaluate import Episode, SignalRow, _t, evaluate_files, score

TRUTH = [
    {
        "apartment": "a001",
        "kind": "fall",
        "start": "2026-01-05T10:00:00+01:00",
        "end": "2026-01-05T12:00:00+01:00",
    },
    {
        "apartment": "a002",
        "kind": "fall",
        "start": "2026-01-06T10:00:00+01:00",
        "end": "2026-01-06T12:00:00+01:00",
    },
    {
        "apartment": "a001",
        "kind": "no_wake",
        "start": "2026-01-07T08:00:00+01:00",
        "end": "2026-01-07T12:00:00+01:00",
    },
    {
        "apartment": "a002",
        "kind": "no_wake",
        "start": "2026-01-08T08:00:00+01:00",
        "end": "2026-01-08T12:00:00+01:00",
    },
    {
        "apartment": "a002",
        "kind": "no_wake",
        "start": "2026-01-09T08:00:00+01:00",
        "end": "2026-01-09T12:00:00+01:00",
    },
    {
        "apartment": "a001",
        "kind": "normal",
        "start": "2026-01-10T10:00:00+01:00",
        "end": "2026-01-20T10:00:00+01:00",
        "note": "away: holiday",
    },
    # spans the truth to 2026-02-04T00:00 -> 30 days from 2026-01-05T00:00
    {
        "apartment": "a002",
        "kind": "normal",
        "start": "2026-01-05T00:00:00+01:00",
        "end": "2026-02-04T00:00:00+01:00",
        "note": "ordinary day",
    },
]


def _signal(apt: str, kind: str, severity: str, detected: str, n: int) -> dict[str, Any]:
    domain = "housing" if kind in ("sensor_offline", "low_battery") else "care"
    return {
        "id": f"s{n}",
        "flat": "f1",
        "apartment": apt,
        "kind": kind,
        "domain": domain,
        "severity": severity,
        "start": detected,
        "detected_at": detected,
        "summary": "test",
        "evidence": {},
    }


SIGNALS = [
    # hit, 10 min after the fall started; a second hit later on the same fall
    _signal("a001", "fall", "urgent", "2026-01-05T10:10:00+01:00", 1),
    _signal("a001", "fall", "urgent", "2026-01-05T11:00:00+01:00", 2),
    # a002's fall is missed; an inactivity signal during it is "related", not false
    _signal("a002", "inactivity", "urgent", "2026-01-06T11:00:00+01:00", 3),
    # no_wake hits 90 and 30 minutes after start; the third no_wake is missed
    _signal("a001", "no_wake", "urgent", "2026-01-07T09:30:00+01:00", 4),
    _signal("a002", "no_wake", "urgent", "2026-01-08T08:30:00+01:00", 5),
    # right kind, right apartment, but after the episode ended: false
    _signal("a002", "no_wake", "urgent", "2026-01-09T12:30:00+01:00", 6),
    # false attention signals, one while a001 is away on holiday
    _signal("a001", "withdrawal", "attention", "2026-01-12T09:00:00+01:00", 7),
    _signal("a002", "nutrition", "attention", "2026-01-25T09:00:00+01:00", 8),
    _signal("a002", "low_battery", "info", "2026-01-26T09:00:00+01:00", 9),
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    truth = tmp_path / "truth.jsonl"
    truth.write_text("".join(json.dumps(e) + "\n" for e in TRUTH), encoding="utf-8")
    signals = tmp_path / "signals.jsonl"
    signals.write_text(
        "".join(json.dumps(s) + "\n" for s in SIGNALS) + "not json\n", encoding="utf-8"
    )
    return truth, signals


def test_recall_delay_and_false_rates(files: tuple[Path, Path]) -> None:
    result, bad = evaluate_files(*files)
    assert len(bad) == 1
    fall, no_wake = result.kinds["fall"], result.kinds["no_wake"]
    assert (fall["episodes"], fall["hits"], fall["recall"]) == (2, 1, 0.5)
    assert fall["median_delay_s"] == 600.0
    assert (fall["signals"], fall["true_signals"]) == (2, 2)
    assert (no_wake["episodes"], no_wake["hits"]) == (3, 2)
    assert no_wake["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert no_wake["median_delay_s"] == 3600.0  # median of 90 and 30 minutes
    assert result.related == 1
    assert (result.false["urgent"], result.false["attention"], result.false["info"]) == (1, 2, 1)
    assert result.apartments == 2
    assert result.days == pytest.approx(30.0)
    months = 2 * 30.0 / 30.44
    assert result.per_apartment_month("attention") == pytest.approx(2 / months)
    assert result.false_in_confounders == {"away: holiday": 1}
    assert result.kinds["withdrawal"]["episodes"] == 0
    assert result.kinds["withdrawal"]["recall"] is None
    # paged: a001's fall by its fall signal (10 min), a002's by the inactivity signal (1 h)
    assert (fall["paged"], fall["paged_median_delay_s"]) == (2, 2100.0)
    assert (no_wake["paged"], no_wake["paged_median_delay_s"]) == (2, 3600.0)
    assert "paged" not in result.kinds["withdrawal"]  # not an acute kind


def test_only_urgent_signals_within_the_episode_page() -> None:
    start = _t("2026-01-05T10:00:00+01:00")
    truth = [Episode("a001", "fall", start, start + timedelta(hours=2))]

    def sig(kind: str, severity: str, minutes: float, apt: str = "a001") -> SignalRow:
        return SignalRow(apt, kind, severity, start + timedelta(minutes=minutes))

    not_paged = [
        sig("inactivity", "attention", 30),  # not urgent
        sig("inactivity", "urgent", 130),  # after help came
        sig("inactivity", "urgent", 30, apt="a002"),  # another apartment
        sig("night_wandering", "urgent", 30),  # not a kind related to a fall
    ]
    fall = score(truth, not_paged, apartments=2, days=30.44).kinds["fall"]
    assert (fall["paged"], fall["paged_median_delay_s"]) == (0, None)
    paged = score(truth, [*not_paged, sig("long_bathroom", "urgent", 50)], 2, 30.44)
    assert (paged.kinds["fall"]["paged"], paged.kinds["fall"]["paged_median_delay_s"]) == (1, 3000)
    assert paged.kinds["fall"]["hits"] == 0  # found, but not as a fall


def test_cli_prints_the_table_and_writes_json(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "score.json"
    assert main(["evaluate", str(files[0]), str(files[1]), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no_wake" in printed
    assert "false urgent" in printed
    assert "fall                 2 of 2    median delay 35.0 min" in printed
    data = json.loads(out.read_text())
    assert data["kinds"]["fall"]["recall"] == 0.5
    assert data["kinds"]["fall"]["paged"] == 2
    assert data["false"] == {"urgent": 1, "attention": 2, "info": 1}
    assert data["false_per_apartment_month"]["urgent"] == pytest.approx(
        1 / (2 * 30 / 30.44), abs=1e-4
    )
