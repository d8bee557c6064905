"""The simulated stream: determinism, format, and that the truth matches the messages."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.models import HUB_KINDS, SignalKind
from edge.normalise import INTERFACES_FIELDS
from edge.recording import BadLine, format_line, read_recording
from simulators.behaviour import ZONE
from simulators.fastwrite import LineFormatter
from simulators.stream import Run, SimConfig, generate, write_simulation

ROOMS = "bedroom|bathroom|toilet|kitchen|living|hall|entrance|balcony|common_room|other"
TOPIC = re.compile(rf"^zigbee2mqtt/(a\d{{3}}|common)/({ROOMS})/[a-z0-9_]+(/availability)?$")


def _messages(path: Path) -> list[tuple[datetime, str, Any]]:
    out = []
    for item in read_recording(path):
        assert not isinstance(item, BadLine), item
        out.append((item.received, item.topic, item.payload))
    return out


def _load(run: Run, out: Path) -> dict[str, Any]:
    msgs = _messages(out / "recording.jsonl.gz")
    by_apt: dict[str, list[tuple[float, str, Any]]] = defaultdict(list)
    for ts, topic, payload in msgs:
        by_apt[topic.split("/")[1]].append((ts.timestamp(), topic, payload))
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text().splitlines()]
    return {"run": run, "out": out, "msgs": msgs, "by_apt": by_apt, "truth": truth}


@pytest.fixture(scope="module")
def busy(busy_run: tuple[Run, Path]) -> dict[str, Any]:
    return _load(*busy_run)


@pytest.fixture(scope="module")
def trends(trend_run: tuple[Run, Path]) -> dict[str, Any]:
    return _load(*trend_run)


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _episodes(busy: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in busy["truth"] if e["kind"] == kind]


def _in(busy: dict[str, Any], apt: str, a: float, b: float) -> list[tuple[float, str, Any]]:
    return [m for m in busy["by_apt"][apt] if a <= m[0] <= b]


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    cfg = SimConfig(apartments=3, days=2, seed=5)
    write_simulation(cfg, tmp_path / "one")
    write_simulation(cfg, tmp_path / "two", workers=2)  # parallel: still the same bytes
    write_simulation(replace(cfg, seed=6), tmp_path / "three")
    for name in ("recording.jsonl.gz", "truth.jsonl", "flat.yaml"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert (tmp_path / "one" / "recording.jsonl.gz").read_bytes() != (
        tmp_path / "three" / "recording.jsonl.gz"
    ).read_bytes()


def test_every_line_parses_and_only_the_intended_payloads_are_strings(
    busy: dict[str, Any],
) -> None:
    run: Run = busy["run"]
    strings = [p for _, _, p in busy["msgs"] if isinstance(p, str)]
    assert run.malformed > 0
    # a malformed payload may be duplicated (QoS 1 repeats the broken message too)
    assert run.malformed <= len(strings) <= run.malformed + run.duplicates
    for payload in strings:
        assert not _json_object(payload), payload
    assert len(busy["msgs"]) == run.counts["messages"]


def test_topics_and_payload_fields_follow_the_interfaces(busy: dict[str, Any]) -> None:
    allowed = {*INTERFACES_FIELDS, "last_seen"}
    for ts, topic, payload in busy["msgs"]:
        assert TOPIC.match(topic), topic
        assert ts.utcoffset() is not None
        if topic.endswith("/availability"):
            assert payload in ({"state": "offline"}, {"state": "online"})
        elif isinstance(payload, dict):
            assert set(payload) <= allowed, payload


def test_sorted_by_time_except_the_out_of_order_few(busy: dict[str, Any]) -> None:
    run: Run = busy["run"]
    times = [ts for ts, _, _ in busy["msgs"]]
    descents = sum(1 for a, b in pairwise(times) if b < a)
    assert 0 < descents <= run.out_of_order
    assert all((a - b).total_seconds() < 31 for a, b in pairwise(times))


def test_duplicates_repeat_a_message_within_a_second(busy: dict[str, Any]) -> None:
    run: Run = busy["run"]
    seen = 0
    msgs = busy["msgs"]
    for i in range(1, len(msgs)):
        for j in range(max(0, i - 6), i):
            if (
                msgs[j][1] == msgs[i][1]
                and msgs[j][2] == msgs[i][2]
                and 0 <= (msgs[i][0] - msgs[j][0]).total_seconds() < 1.0
            ):
                seen += 1
                break
    assert seen >= run.duplicates * 0.9


def test_truth_has_every_signal_kind_and_normal_days(busy: dict[str, Any]) -> None:
    kinds = {e["kind"] for e in busy["truth"]}
    assert {k.value for k in SignalKind if k not in HUB_KINDS} <= kinds
    assert "normal" in kinds
    for e in busy["truth"]:
        assert re.match(r"^a\d{3}$", e["apartment"])
        assert _t(e["start"]) <= _t(e["end"])
        assert datetime.fromisoformat(e["start"]).utcoffset() is not None


def test_falls_with_a_radar_report_fall_at_the_start(busy: dict[str, Any]) -> None:
    falls = [e for e in _episodes(busy, "fall") if e["fall_sensor"]]
    assert falls
    for e in falls:
        s = _t(e["start"])
        reports = [
            m[2] for m in _in(busy, e["apartment"], s, s + 10) if m[1].endswith("/fall_radar")
        ]
        assert reports, e
        # the report itself may be one of the deliberately malformed payloads
        assert all(isinstance(p, str) or p.get("fall") is True for p in reports), e


@pytest.mark.parametrize("kind", ["fall", "inactivity"])
def test_motion_stops_while_someone_lies_or_sits_helpless(busy: dict[str, Any], kind: str) -> None:
    episodes = [e for e in _episodes(busy, kind) if not e.get("fall_sensor")]
    assert episodes
    for e in episodes:
        s, end = _t(e["start"]), _t(e["end"])
        moving = [
            m
            for m in _in(busy, e["apartment"], s + 5, end - 1)
            if m[1].endswith("/motion") and isinstance(m[2], dict) and m[2].get("occupancy") is True
        ]
        assert moving == [], e


def test_a_fall_is_a_movement_the_rooms_motion_sensor_sees(busy: dict[str, Any]) -> None:
    """Nobody falls sitting still: a resident who falls gets up (out of the chair or the bed)
    or walks first, and goes down, in view of the room's PIR; the motion stops after that,
    not a quarter of an hour before (as when the fall replaced sitting without a trace)."""
    falls = [e for e in _episodes(busy, "fall") if not e["fall_sensor"]]
    assert len(falls) >= 10
    seen = [
        e
        for e in falls
        if _trues(busy, e["apartment"], _t(e["start"]) - 120, _t(e["start"]) + 3,
                  f"/{e['room']}/motion")
    ]  # fmt: skip
    assert len(seen) >= 0.9 * len(falls), (len(seen), len(falls))


def test_no_wake_means_no_motion_outside_the_bedroom_and_bed_stays_occupied(
    busy: dict[str, Any],
) -> None:
    episodes = _episodes(busy, "no_wake")
    assert episodes
    for e in episodes:
        s, end = _t(e["start"]), _t(e["end"])
        window = _in(busy, e["apartment"], s, end - 1)
        outside = [
            m
            for m in window
            if m[1].endswith("/motion")
            and "/bedroom/" not in m[1]
            and isinstance(m[2], dict)
            and m[2].get("occupancy") is True
        ]
        up = [
            m
            for m in window
            if "/bed_pad" in m[1] and isinstance(m[2], dict) and m[2].get("occupancy") is False
        ]
        assert outside == [], e
        assert up == [], e


def test_away_means_door_then_no_motion(busy: dict[str, Any]) -> None:
    aways = [e for e in busy["truth"] if e["kind"] == "normal" and e.get("note") == "away: holiday"]
    assert aways
    for e in aways:
        s, end = _t(e["start"]), _t(e["end"])
        door = [
            m
            for m in _in(busy, e["apartment"], s - 120, s + 5)
            if m[1].endswith("/entrance/door")
            and isinstance(m[2], dict)
            and m[2].get("contact") is False
        ]
        assert door, e
        moving = [
            m
            for m in _in(busy, e["apartment"], s + 300, end - 300)
            if m[1].endswith("/motion") and isinstance(m[2], dict) and m[2].get("occupancy") is True
        ]
        assert moving == [], e


def test_door_left_open_and_sos_are_in_the_stream(busy: dict[str, Any]) -> None:
    for e in _episodes(busy, "door_open"):
        s, end = _t(e["start"]), _t(e["end"])
        door = [
            m
            for m in _in(busy, e["apartment"], s - 1, end + 1)
            if m[1].endswith("/entrance/door") and isinstance(m[2], dict) and "contact" in m[2]
        ]
        assert door[0][2]["contact"] is False
        assert abs(door[0][0] - s) < 1.5
        assert all(m[2]["contact"] is False for m in door if m[0] < end - 1)
    for e in _episodes(busy, "sos"):
        s = _t(e["start"])
        assert any(
            isinstance(m[2], dict) and m[2].get("action") == "sos"
            for m in _in(busy, e["apartment"], s - 1, s + 1)
        ), e


def test_offline_sensors_go_silent_and_batteries_run_down(busy: dict[str, Any]) -> None:
    offline = _episodes(busy, "sensor_offline")
    assert offline
    for e in offline:
        s, end = _t(e["start"]), _t(e["end"])
        topic = f"zigbee2mqtt/{e['apartment']}/{e['device']}"
        assert not [
            m
            for m in _in(busy, e["apartment"], s + 1, end - 1)
            if m[1] == topic and isinstance(m[2], dict)
        ], e
        if end - s > 25 * 3600:
            assert any(
                m[1] == topic + "/availability" and m[2] == {"state": "offline"}
                for m in _in(busy, e["apartment"], s, end)
            ), e
    for e in _episodes(busy, "low_battery"):
        s, end = _t(e["start"]), _t(e["end"])
        topic = f"zigbee2mqtt/{e['apartment']}/{e['device']}"
        levels = [
            m[2]["battery"]
            for m in _in(busy, e["apartment"], s, end)
            if m[1] == topic and isinstance(m[2], dict) and "battery" in m[2]
        ]
        assert levels, e
        assert min(levels) <= 20, e
        before = [
            m[2]["battery"]
            for m in _in(busy, e["apartment"], s - 86400 * 30, s - 86400)
            if m[1] == topic and isinstance(m[2], dict) and "battery" in m[2]
        ]
        assert not before or max(before) > 20


def _home_days(busy: dict[str, Any], apt: str, a: float, b: float) -> list[float]:
    """Midnights of the days in [a, b) on which the resident was not away."""
    aways = [
        (_t(e["start"]), _t(e["end"]))
        for e in busy["truth"]
        if e["apartment"] == apt
        and e["kind"] == "normal"
        and str(e.get("note", "")).startswith("away")
    ]
    days = []
    t = a
    while t + 86400 <= b:
        if not any(x < t + 86400 and y > t for x, y in aways):
            days.append(t)
        t += 86400
    return days


@pytest.mark.parametrize(
    ("kind", "part", "night", "rises"),
    [
        ("nutrition", "/kitchen/", False, False),
        ("night_toilet", "/toilet/motion", True, True),
    ],
)
def test_slow_trends_change_the_daily_numbers(
    trends: dict[str, Any], kind: str, part: str, night: bool, rises: bool
) -> None:
    """Kitchen messages per home day fall; night toilet messages per home day rise."""
    first = trends["msgs"][0][0].timestamp()
    run: Run = trends["run"]
    ramp = run.cfg.rates.trend_ramp_days * 86400
    checked = 0
    for e in _episodes(trends, kind):
        s, end = _t(e["start"]), _t(e["end"])
        if s - 10 * 86400 < first or end - s < ramp + 5 * 86400:
            continue

        def per_day(a: float, b: float, apt: str = e["apartment"]) -> float:
            days = _home_days(trends, apt, a, b)
            n = 0
            for d in days:
                for m in _in(trends, apt, d, d + 86400):
                    if (
                        part in m[1]
                        and isinstance(m[2], dict)
                        and (m[2].get("occupancy") is True or m[2].get("contact") is False)
                        and (not night or datetime.fromtimestamp(m[0], ZONE).hour < 6)
                    ):
                        n += 1
            return n / max(1, len(days))

        before = per_day(s - 10 * 86400, s)
        after = per_day(s + ramp, end)
        assert (after > before) if rises else (after < before), (e, before, after)
        checked += 1
    assert checked > 0


def test_flat_yaml_names_every_apartment_and_its_special_devices(busy: dict[str, Any]) -> None:
    cfg = yaml.safe_load((busy["out"] / "flat.yaml").read_text())
    assert cfg["timezone"] == "Europe/Amsterdam"
    n = busy["run"].cfg.apartments
    assert sorted(cfg["apartments"]) == [f"a{i:03d}" for i in range(1, n + 1)]
    for apt in cfg["apartments"].values():
        assert apt["residents"] in (1, 2)
        assert apt["devices"]["entrance/door"] == {"role": "front_door"}
        assert apt["devices"]["bedroom/bed_pad"] == {"role": "bed_pad"}
    try:
        from edge.config import Config
    except ImportError:
        return  # the lead's config modules have not landed on this branch yet
    Config.model_validate(cfg)


def test_wake_times_follow_local_time_across_dst() -> None:
    """Around the spring switch, residents still get up at the same local hour."""
    cfg = SimConfig(apartments=6, days=8, seed=3, start=date(2026, 3, 25))
    run = Run(cfg)
    first_bath: dict[tuple[str, int], float] = {}
    for t, topic, payload in generate(run):
        local = datetime.fromtimestamp(t, ZONE)
        if (
            "/toilet/motion" in topic
            and isinstance(payload, dict)
            and payload.get("occupancy")
            and 4 <= local.hour < 12
        ):
            first_bath.setdefault((topic.split("/")[1], local.day), local.hour + local.minute / 60)
    before = [h for (_, d), h in first_bath.items() if d < 29]
    after = [h for (_, d), h in first_bath.items() if d > 29]
    assert before
    assert after
    assert abs(sum(before) / len(before) - sum(after) / len(after)) < 0.5


def test_fast_lines_equal_format_line(busy: dict[str, Any]) -> None:
    fmt = LineFormatter()
    for ts, topic, payload in busy["msgs"][:5000]:
        assert fmt.line(ts.timestamp(), topic, payload) == format_line(
            ts.astimezone(ZONE), topic, payload
        )


def test_last_seen_carries_the_event_time(tmp_path: Path) -> None:
    cfg = SimConfig(apartments=2, days=1, seed=9, last_seen=True)
    write_simulation(cfg, tmp_path)
    for ts, _, payload in _messages(tmp_path / "recording.jsonl.gz"):
        if isinstance(payload, dict) and "state" not in payload:
            assert datetime.fromisoformat(payload["last_seen"]) == ts


def _trues(
    busy: dict[str, Any], apt: str, a: float, b: float, part: str = "/motion"
) -> list[tuple[float, str]]:
    return [
        (m[0], m[1])
        for m in _in(busy, apt, a, b)
        if part in m[1] and isinstance(m[2], dict) and m[2].get("occupancy") is True
    ]


def test_mobility_decline_slows_the_walk_through_the_hall(trends: dict[str, Any]) -> None:
    """From hall motion to the next room's motion takes longer at the end of the trend."""
    run: Run = trends["run"]
    ramp = run.cfg.rates.trend_ramp_days * 86400
    checked = 0
    for e in _episodes(trends, "mobility_decline"):
        s, end = _t(e["start"]), _t(e["end"])
        if end - s < ramp + 5 * 86400:
            continue

        def walk(a: float, b: float, apt: str = e["apartment"]) -> float | None:
            gaps = []
            for d in _home_days(trends, apt, a, b):
                trues = _trues(trends, apt, d, d + 86400)
                gaps += [
                    t2 - t1
                    for (t1, x), (t2, y) in pairwise(trues)
                    if "/hall/" in x and "/hall/" not in y and t2 - t1 < 120
                ]
            return sorted(gaps)[len(gaps) // 2] if len(gaps) > 20 else None

        late, early = walk(s + ramp, end), walk(s - 14 * 86400, s)
        if late is None or early is None:
            continue  # away (holiday, hospital) around the trend: nothing to compare
        assert late > 1.5 * early, e
        checked += 1
    assert checked > 0


def test_night_wandering_means_moving_about_at_night(busy: dict[str, Any]) -> None:
    """Between 03:00 and 05:00 (after even a night owl's bedtime) more motion outside the
    bedroom and toilet on the nights of the episode than on the nights before."""
    checked = 0
    for e in _episodes(busy, "night_wandering"):
        s, end = _t(e["start"]), _t(e["end"])

        def nightly(a: float, b: float, apt: str = e["apartment"]) -> float | None:
            days = _home_days(busy, apt, a, b)
            n = sum(
                1
                for d in days
                for t, topic in _trues(busy, apt, d, d + 86400)
                if datetime.fromtimestamp(t, ZONE).hour in (3, 4)
                and any(r in topic for r in ("/hall/", "/kitchen/", "/living/"))
            )
            return n / len(days) if len(days) >= 3 else None

        if s - 7 * 86400 < busy["msgs"][0][0].timestamp():
            continue
        during, before = nightly(s, end), nightly(s - 7 * 86400, s)
        if during is None or before is None:
            continue  # away around the episode
        assert during > before + 1, (e, during, before)
        checked += 1
    assert checked > 0


def test_withdrawal_means_fewer_outings(trends: dict[str, Any]) -> None:
    run: Run = trends["run"]
    ramp = run.cfg.rates.trend_ramp_days * 86400
    checked = 0
    for e in _episodes(trends, "withdrawal"):
        s, end = _t(e["start"]), _t(e["end"])
        if s - 14 * 86400 < trends["msgs"][0][0].timestamp() or end - s < ramp + 5 * 86400:
            continue

        def per_day(a: float, b: float, apt: str = e["apartment"]) -> float | None:
            days = _home_days(trends, apt, a, b)
            opened = sum(
                1
                for d in days
                for m in _in(trends, apt, d, d + 86400)
                if m[1].endswith("/entrance/door")
                and isinstance(m[2], dict)
                and m[2].get("contact") is False
            )
            return opened / len(days) if len(days) >= 4 else None

        late, early = per_day(s + ramp, end), per_day(s - 14 * 86400, s)
        if late is None or early is None:
            continue  # away around the trend: nothing to compare
        assert late < early, e
        checked += 1
    assert checked > 0


def test_every_outing_passes_the_front_door() -> None:
    """A resident who leaves home walks through the hall and opens the front door: each
    day's segments follow on without holes, so no outing starts behind a closed door."""
    import numpy as np

    from simulators.behaviour import HOME_ROOMS, Clock, init_state, plan_day
    from simulators.episodes import EpisodeRates, plan_apartment
    from simulators.flat import build_flat

    flat = build_flat(16, seed=3)
    clock = Clock(date(2026, 1, 5), 30)
    outings = 0
    for apt in flat.apartments:
        st = init_state(apt, plan_apartment(apt, 30, EpisodeRates(), seed=3), clock, 3)
        h = apt.residents[0]
        for day in range(28):
            rng = np.random.default_rng([3, apt.index, day])
            segs = plan_day(
                rng, h, st.wake[0][day], st.bed[0][day], st.wake[0][day + 1], clock, day,
                st.plan, primary=True,
            )  # fmt: skip
            for prev, nxt in pairwise(segs):
                assert abs(prev.end - nxt.start) < 1.0, (apt.id, day, prev, nxt)
                outings += prev.room in HOME_ROOMS and nxt.room not in HOME_ROOMS
    assert outings > 50
