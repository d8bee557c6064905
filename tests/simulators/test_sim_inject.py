"""Acute episodes put into real homes (``simulators/inject.py``, ``thuisplus eval-real``):
the cut itself on a small home of our own, and the shared recordings replayed through the
hub (those skip where ``../shared/datasets`` is absent)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulators.__main__ import main as sim_main
from simulators.behaviour import ZONE
from simulators.inject import Counts, inject, wake_moments

DAY0 = datetime(2026, 1, 5, tzinfo=ZONE)


def at(day: int, hour: float) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour)


def home(days: int = 10) -> list[tuple[datetime, str, dict[str, Any]]]:
    """A resident alone: to bed at 23:00, up at 07:30, kitchen at 08:00 (PIR and kettle),
    the chair from 10:00 to 12:00, out from 14:00 to 15:00."""
    out: list[tuple[datetime, str, dict[str, Any]]] = []

    def send(day: int, hour: float, device: str, payload: dict[str, Any]) -> None:
        out.append((at(day, hour), f"zigbee2mqtt/a001/{device}", payload))

    for d in range(days):
        send(d, 7.5, "bedroom/bed_pad", {"occupancy": False})
        send(d, 7.51, "hall/motion", {"occupancy": True})
        send(d, 8.0, "kitchen/motion", {"occupancy": True})
        send(d, 8.01, "kitchen/kettle", {"power": 2000.0})
        send(d, 8.05, "kitchen/kettle", {"power": 0.0})
        send(d, 8.1, "kitchen/motion", {"occupancy": False})
        send(d, 10.0, "living/chair_pad", {"occupancy": True})
        send(d, 12.0, "living/chair_pad", {"occupancy": False})
        send(d, 12.01, "kitchen/motion", {"occupancy": True})
        send(d, 14.0, "entrance/door", {"contact": False})
        send(d, 15.0, "entrance/door", {"contact": False})
        send(d, 15.01, "hall/motion", {"occupancy": True})
        send(d, 23.0, "bedroom/bed_pad", {"occupancy": True})
    return sorted(out, key=lambda m: m[0])


def test_each_copy_gets_one_episode_and_loses_what_the_resident_would_have_done() -> None:
    messages = home()
    merged, episodes, normal = inject(messages, seed=3, counts=Counts(2, 2, 2, hours=3.0))
    kinds = sorted(e.kind for e in episodes)
    assert kinds == ["fall", "fall", "inactivity", "inactivity", "no_wake", "no_wake"]
    assert sorted({e.apartment for e in episodes}) == [f"a{n:03d}" for n in range(1, 7)]
    assert {n["apartment"] for n in normal} == {e.apartment for e in episodes}
    half = messages[0][0] + (messages[-1][0] - messages[0][0]) / 2
    for ep in episodes:
        assert half <= ep.start
        assert ep.end - ep.start == timedelta(hours=3)
        mine = [m for m in merged if m[1].split("/")[1] == ep.apartment]
        inside = [m for m in mine if ep.start < m[0] < ep.end]
        if ep.kind == "fall":
            # the kitchen at 08:00 or 12:01 (pads empty); only the kettle and the PIR idle
            assert ep.room == "kitchen"
            assert all(p in ({"occupancy": False}, {"power": 0.0}) for _, _, p in inside)
        elif ep.kind == "no_wake":
            assert ep.start.astimezone(ZONE).hour == 7
            assert inside == []
            got_up = [m for m in mine if m[0] == ep.end]
            assert [(t.split("/", 2)[2], p) for _, t, p in got_up] == [
                ("bedroom/bed_pad", {"occupancy": False})
            ]
        else:
            assert ep.room == "living"
            assert f"{ep.start.astimezone(ZONE):%H:%M}" == "10:05"
            assert inside == []
        # the rest of the home's days are untouched
        assert len([m for m in mine if not ep.start <= m[0] <= ep.end]) == len(
            [m for m in messages if not ep.start <= m[0] <= ep.end]
        )


def test_the_same_seed_picks_the_same_moments() -> None:
    a = inject(home(), seed=7)[1]
    b = inject(home(), seed=7)[1]
    assert a == b


def test_a_night_visit_is_no_getting_up() -> None:
    """Up at 07:30 every day; a toilet visit at 03:00 after four hours in bed is not a
    morning (before 05:00), nor is a nap: only the mornings are wake moments."""
    messages = home(4)
    messages += [
        (at(2, 3.0), "zigbee2mqtt/a001/bedroom/bed_pad", {"occupancy": False}),
        (at(2, 3.02), "zigbee2mqtt/a001/toilet/motion", {"occupancy": True}),
        (at(2, 3.1), "zigbee2mqtt/a001/bedroom/bed_pad", {"occupancy": True}),
    ]
    messages.sort(key=lambda m: m[0])
    found = [f"{ts.astimezone(ZONE):%d %H:%M}" for ts, _ in wake_moments(messages, DAY0)]
    assert found == ["06 07:30", "07 07:30", "08 07:30"]


def test_a_recording_with_no_messages_is_an_error() -> None:
    with pytest.raises(ValueError, match="no messages"):
        inject([], seed=1)


def test_eval_real_names_a_missing_datasets_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sim_main(["eval-real", "--datasets", str(tmp_path / "none")]) == 2
    assert "no datasets folder" in capsys.readouterr().err


@pytest.mark.datasets
def test_real_homes_with_episodes_put_in(datasets: Path, tmp_path: Path) -> None:
    """Ordonez B (a PIR at each room's door, a bed pad): every morning in bed is paged,
    and no copy's ordinary days page anyone. The falls and faints are not paged in these
    homes: none has a hall motion sensor, so a silence there may be the resident in a
    room nobody watches (``needs_hall_motion``; docs/simulator.md has the figures with it
    off: 10-12 false urgent signals per apartment-month in Ordonez A and van Kasteren)."""
    out = tmp_path / "real"
    homes = ["--homes", "ordonezA", "ordonezB"]  # (van Kasteren's month takes minutes)
    assert sim_main(["eval-real", "--datasets", str(datasets), "--out", str(out), *homes]) == 0
    report = json.loads((out / "score.json").read_text())
    assert set(report) == {"ordonezA", "ordonezB"}
    for home_name, score in report.items():
        assert score["false"]["urgent"] == 0, home_name
    no_wake = report["ordonezB"]["kinds"]["no_wake"]
    assert no_wake["episodes"] >= 3
    assert no_wake["paged"] == no_wake["episodes"]
