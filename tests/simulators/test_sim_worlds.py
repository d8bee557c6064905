"""The simulator's knobs and named worlds: each knob moves the stream the way it says, the
defaults give the bytes of before, and ``eval-suite --worlds`` measures per world."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulators.behaviour import Clock
from simulators.episodes import TREND_KINDS, EpisodeRates
from simulators.knobs import Knobs
from simulators.stream import Run, SimConfig, generate, write_simulation
from simulators.worlds import WORLD_ORDER, WORLDS, resolve, worst

# sha256 of the decompressed recording, the truth and flat.yaml of
# ``thuisplus simulate --apartments 10 --days 14 --seed 5``, computed on the code before
# the knobs existed (commit 06d3d1e); the default world must keep giving these bytes
GOLDEN = {
    "recording": "d0bf37d8619edd9e0219d183815ca4f6f353d366a714e512453ec480a30a29af",
    "truth.jsonl": "d37a44e8cf48eeebe80feb86f2977584edc223af5e9f7b7f6d94980aeff7dd60",
    "flat.yaml": "b744db43cd93647c6fb37672f09c040dfbe1288fa2299b929e81c7d628d9acf6",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_default_world_gives_the_bytes_of_before(tmp_path: Path) -> None:
    cfg = SimConfig(apartments=10, days=14, seed=5)
    assert cfg.knobs.is_default()
    write_simulation(cfg, tmp_path, workers=2)
    with gzip.open(tmp_path / "recording.jsonl.gz", "rb") as fh:
        assert _sha(fh.read()) == GOLDEN["recording"]
    assert _sha((tmp_path / "truth.jsonl").read_bytes()) == GOLDEN["truth.jsonl"]
    assert _sha((tmp_path / "flat.yaml").read_bytes()) == GOLDEN["flat.yaml"]


def test_the_named_no_kit_world_is_the_default(tmp_path: Path) -> None:
    from simulators.__main__ import main

    argv = ["simulate", "--apartments", "10", "--days", "14", "--seed", "5", "--world", "no-kit"]
    assert main([*argv, "--out", str(tmp_path), "--workers", "1"]) == 0
    with gzip.open(tmp_path / "recording.jsonl.gz", "rb") as fh:
        assert _sha(fh.read()) == GOLDEN["recording"]


SMALL = SimConfig(apartments=4, days=5, seed=3, start=date(2026, 3, 2))


def _messages(cfg: SimConfig) -> list[tuple[float, str, Any]]:
    return list(generate(Run(cfg)))


def test_lost_messages_are_taken_away_and_nothing_else_changes() -> None:
    """``loss``: each message lost on the way independently (its own generator): what is
    left are the default world's messages, about 1 - loss of them, every device's kind."""

    def key(m: tuple[float, str, Any]) -> tuple[float, str, str]:
        return (m[0], m[1], json.dumps(m[2], sort_keys=True))

    seen = _messages(SMALL)
    lossy = _messages(replace(SMALL, knobs=Knobs(loss=0.05)))
    assert {key(m) for m in lossy} <= {key(m) for m in seen}
    assert 0.92 * len(seen) < len(lossy) < 0.98 * len(seen)
    gone = {m[1].split("/")[-1] for m in seen} - {m[1].split("/")[-1] for m in lossy}
    assert not gone  # every device still speaks
    with pytest.raises(ValueError, match="loss"):
        Knobs(loss=0.9)


def _motion_on(msgs: list[tuple[float, str, Any]], room: str | None = None) -> int:
    return sum(
        1
        for _t, topic, p in msgs
        if topic.endswith("/motion")
        and not topic.startswith("zigbee2mqtt/common/")
        and (room is None or topic.split("/")[2] == room)
        and isinstance(p, dict)
        and p.get("occupancy") is True
    )


def _local_hour(t: float) -> float:
    from simulators.behaviour import ZONE

    d = datetime.fromtimestamp(t, ZONE)
    return d.hour + d.minute / 60


def test_pir_misses_take_walks_away() -> None:
    """The same days (misses come from a generator of their own), fewer motion messages:
    a walk through the hall is what a PIR miss loses first."""
    seen = _messages(SMALL)
    leaky = _messages(replace(SMALL, knobs=Knobs(pir_miss=0.2)))
    blind = _messages(replace(SMALL, knobs=Knobs(pir_miss=1.0)))
    walks, walks_leaky = _motion_on(seen, "hall"), _motion_on(leaky, "hall")
    assert walks > 100
    assert walks_leaky < 0.9 * walks  # about one walk in five unseen
    assert walks_leaky > 0.6 * walks
    assert _motion_on(leaky) < 0.9 * _motion_on(seen)
    assert _motion_on(blind) == 0

    # the residents' days are the same: doors and the fridge open when they did
    # (only the transport's random repeats fall on other messages)
    def changes(msgs: list[tuple[float, str, Any]]) -> set[tuple[float, str]]:
        return {
            (t, topic)
            for t, topic, p in msgs
            if isinstance(p, dict) and p.get("contact") is False  # doors, the fridge
        }

    assert len(changes(seen) & changes(leaky)) > 0.97 * len(changes(seen))


def test_seated_residents_trip_the_pir_as_often_as_set() -> None:
    often = _motion_on(_messages(replace(SMALL, knobs=Knobs(seated_trip_min=3.0))), "living")
    rare = _motion_on(_messages(replace(SMALL, knobs=Knobs(seated_trip_min=75.0))), "living")
    usual = _motion_on(_messages(SMALL), "living")
    assert often > 1.5 * usual > 1.5 * rare


def _gaps_h(msgs: list[tuple[float, str, Any]], device: str) -> dict[str, float]:
    """Per apartment, the longest gap (hours) between messages of one device."""
    times: dict[str, list[float]] = {}
    for t, topic, _p in msgs:
        if topic.endswith("/" + device):
            times.setdefault(topic.split("/")[1], []).append(t)
    return {a: max(np.diff(sorted(ts)).tolist(), default=0.0) / 3600 for a, ts in times.items()}


def test_event_only_devices_have_gaps_of_days() -> None:
    cfg = SimConfig(apartments=5, days=14, seed=4, rates=EpisodeRates().scaled(0.0))
    usual = _messages(cfg)
    quiet = _messages(
        replace(cfg, knobs=Knobs(event_only=("kettle", "tv"), plug_use_days=0.3, checkins=True))
    )
    assert max(_gaps_h(usual, "kitchen/kettle").values()) < 2.0  # hourly reports
    gaps = _gaps_h(quiet, "kitchen/kettle")
    assert max(gaps.values()) > 48.0  # days without a cup of tea, and nothing else
    assert max(_gaps_h(quiet, "living/tv").values()) > 48.0
    # the other devices keep their check-ins
    assert max(_gaps_h(quiet, "bedroom/bed_pad").values()) < 2.0


def test_without_check_ins_devices_report_only_on_change() -> None:
    cfg = SimConfig(apartments=3, days=4, seed=4, rates=EpisodeRates().scaled(0.0))
    usual, bare = _messages(cfg), _messages(replace(cfg, knobs=Knobs(checkins=False)))
    pir = [p for _t, topic, p in bare if topic.endswith("/motion") and isinstance(p, dict)]
    assert pir
    assert all("occupancy" in p for p in pir)
    assert not [1 for _t, topic, _p in bare if topic.endswith("/living/sos_pendant")]
    assert len(bare) < 0.8 * len(usual)
    assert max(_gaps_h(bare, "kitchen/fridge").values()) > 8.0  # the night


def _availability(msgs: list[tuple[float, str, Any]]) -> list[tuple[float, str, Any]]:
    return [m for m in msgs if m[1].endswith("/availability")]


def test_availability_topics_as_zigbee2mqtt_publishes_them_are_read_by_the_hub() -> None:
    from edge.models import Message
    from edge.normalise import normalise

    troubles = EpisodeRates().scaled(0.0).with_overrides({"sensor_offline": 40.0})
    cfg = SimConfig(apartments=4, days=10, seed=2, rates=troubles)
    run = Run(replace(cfg, knobs=Knobs(availability="on", checkins=False)))
    msgs = list(generate(run))
    avail = _availability(msgs)
    devices = {m[1].removesuffix("/availability") for m in msgs if "/availability" not in m[1]}
    online_first = {
        m[1].removesuffix("/availability") for m in avail if m[2] == {"state": "online"}
    }
    assert devices <= online_first  # every device announced online
    assert any(m[2] == {"state": "offline"} for m in avail)  # silent for 25 h
    for t, topic, payload in avail:
        result = normalise(Message(datetime.fromtimestamp(t, UTC), topic, payload))
        assert result.event is not None, result.reason
        assert result.event.available is (payload["state"] == "online")
    # online and offline alternate per device, starting online
    states: dict[str, list[str]] = {}
    for _t, topic, p in avail:
        states.setdefault(topic, []).append(p["state"])
    for seq in states.values():
        assert seq[0] == "online"
        assert all(a != b for a, b in itertools.pairwise(seq))
    # with check-ins on, only the sensor troubles take a device offline
    usual = _availability(_messages(replace(cfg, knobs=Knobs(availability="on"))))
    offline = {m[1] for m in usual if m[2] == {"state": "offline"}}
    truth = {
        f"zigbee2mqtt/{t.apartment}/{t.extra['device']}/availability"
        for t in run.truth
        if t.kind == "sensor_offline"
    }
    assert offline
    assert offline <= truth
    # and without the feature there are none, not even for the troubles
    assert not _availability(_messages(replace(cfg, knobs=Knobs(availability="off"))))
    assert _availability(_messages(cfg))  # the default: around the troubles


def test_availability_messages_are_no_dead_letters_in_a_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    cfg = SimConfig(apartments=2, days=3, seed=2, p_malformed=0.0, knobs=Knobs(availability="on"))
    write_simulation(cfg, tmp_path / "sim")
    with gzip.open(tmp_path / "sim" / "recording.jsonl.gz", "rt") as fh:
        n = sum("/availability" in json.loads(line)["topic"] for line in fh)
    assert n > 20
    argv = ["replay", str(tmp_path / "sim" / "recording.jsonl.gz")]
    argv += ["--state-dir", str(tmp_path / "state"), "--no-progress"]
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert "rejected: 0" in summary, summary


def test_episodes_from_week_four() -> None:
    busy = EpisodeRates().scaled(30.0)
    cfg = SimConfig(apartments=6, days=42, seed=8, rates=busy, knobs=Knobs(episodes_from_day=21))
    run = Run(cfg)
    list(generate(run))
    day21 = Clock(cfg.start, cfg.days).midnight[21]
    episodes = [t for t in run.truth if t.kind != "normal"]
    assert len(episodes) > 20
    assert all(t.start >= day21 for t in episodes), [
        (t.kind, t.start) for t in episodes if t.start < day21
    ]
    before = Run(replace(cfg, knobs=Knobs()))
    list(generate(before))
    assert any(t.start < day21 for t in before.truth if t.kind != "normal")


def test_long_world_is_eight_weeks_with_trends_after_a_baseline() -> None:
    world = WORLDS["long"]
    cfg = world.config(SimConfig(days=14))
    assert cfg.days == 56
    assert cfg.knobs.episodes_from_day == 21
    trends = EpisodeRates().scaled(0.0).with_overrides({k: 20.0 for k in TREND_KINDS})
    run = Run(replace(cfg, apartments=6, seed=3, rates=trends))
    plans = [p.trends for p in run.plans.values()]
    assert any(plans)
    assert all(t.start_day >= 21 for p in plans for t in p)


def _night(msgs: list[tuple[float, str, Any]], room: str) -> int:
    return sum(
        1
        for t, topic, p in msgs
        if topic.endswith(f"/{room}/motion")
        and "/common/" not in topic
        and isinstance(p, dict)
        and p.get("occupancy") is True
        and 1.0 <= _local_hour(t) < 5.0
    )


def test_busy_nights() -> None:
    cfg = SimConfig(apartments=6, days=7, seed=6, rates=EpisodeRates().scaled(0.0))
    calm, busy = (
        _messages(cfg),
        _messages(replace(cfg, knobs=Knobs(night_toilet_scale=2.5, night_kitchen=1.5))),
    )
    assert _night(busy, "toilet") > 1.5 * _night(calm, "toilet")
    assert _night(calm, "kitchen") < 5
    assert _night(busy, "kitchen") > 20


def _front_door_openings(msgs: list[tuple[float, str, Any]]) -> int:
    return sum(
        1
        for _t, topic, p in msgs
        if topic.endswith("/entrance/door")
        and "/common/" not in topic
        and isinstance(p, dict)
        and p.get("contact") is False
    )


def test_visitors_and_the_common_room() -> None:
    cfg = SimConfig(apartments=8, days=14, seed=9, rates=EpisodeRates().scaled(0.0))
    usual = _messages(cfg)
    social = _messages(replace(cfg, knobs=Knobs(visitor_scale=3.0, common_scale=2.0)))
    alone = _messages(replace(cfg, knobs=Knobs(visitor_scale=0.0, common_scale=0.0)))

    def common_room(msgs: list[tuple[float, str, Any]]) -> int:
        return sum(
            1
            for _t, topic, p in msgs
            if topic == "zigbee2mqtt/common/common_room/motion"
            and isinstance(p, dict)
            and p.get("occupancy") is True
        )

    assert common_room(social) > 1.3 * common_room(usual) > 1.3 * common_room(alone)
    assert _front_door_openings(social) > _front_door_openings(usual) > _front_door_openings(alone)


def test_knob_options_on_the_command_line(tmp_path: Path) -> None:
    from simulators.__main__ import main

    argv = ["simulate", "--apartments", "2", "--days", "2", "--seed", "3", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "a"), "--world", "leaky-pir"]) == 0
    # a knob option changes the world further: here back to seeing everything
    assert (
        main([*argv, "--out", str(tmp_path / "b"), "--world", "leaky-pir", "--pir-miss", "0"]) == 0
    )
    # a named world comes with the kit; a plain simulate needs --kit for it
    assert main([*argv, "--out", str(tmp_path / "c"), "--seated-trip-minutes", "75", "--kit"]) == 0
    assert (tmp_path / "b" / "recording.jsonl.gz").read_bytes() == (
        tmp_path / "c" / "recording.jsonl.gz"
    ).read_bytes()
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "d"), "--pir-miss", "1.5"])
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "d"), "--event-only", "toaster"])
    with pytest.raises(SystemExit, match="episodes_from_day"):
        main([*argv, "--out", str(tmp_path / "d"), "--episodes-from-day", "0"])


def test_world_names() -> None:
    assert [w.name for w in resolve(["all"])] == list(WORLD_ORDER)
    assert [w.name for w in resolve(["social", "default", "social"])] == ["social", "default"]
    with pytest.raises(ValueError, match="unknown world 'moon'"):
        resolve(["moon"])
    assert {
        "default",
        "leaky-pir",
        "event-only",
        "availability",
        "long",
        "busy-nights",
        "social",
        "mixed",
        "lossy",
        "other-names",
    } <= set(WORLDS)


def test_the_worst_world_per_metric() -> None:
    per = {
        "a": {
            "acute_paged": 1.0,
            "fall_sensor_latency_s": 5.0,
            "trends_found": 0.9,
            "false_urgent": 0.01,
            "false_attention": 0.2,
            "false_sensor_offline": 0.0,
        },
        "b": {
            "acute_paged": 0.8,
            "fall_sensor_latency_s": None,
            "trends_found": 1.0,
            "false_urgent": 0.05,
            "false_attention": 0.1,
            "false_sensor_offline": 0.3,
        },
    }
    w = worst(per)
    assert w["acute_paged"] == {"value": 0.8, "world": "b"}
    assert w["fall_sensor_latency_s"] == {"value": 5.0, "world": "a"}
    assert w["trends_found"]["world"] == "a"
    assert w["false_urgent"]["world"] == "b"
    assert w["false_attention"]["world"] == "a"
    assert w["false_sensor_offline"] == {"value": 0.3, "world": "b"}


def _oracle(tmp_path: Path) -> str:
    from tests.simulators.test_sim_eval_suite import ORACLE

    script = tmp_path / "oracle.py"
    script.write_text(ORACLE, encoding="utf-8")
    return f"{sys.executable} {script} {{recording}} {{signals}} {{config}}"


def test_eval_suite_per_world_prints_a_table_each_and_the_worst(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    argv = ["eval-suite", "--worlds", "default", "leaky-pir", "--seeds", "1", "2"]
    argv += ["--apartments", "2", "--days", "3", "--episode-scale", "60", "--workers", "1"]
    argv += ["--out", str(tmp_path / "eval"), "--replay-cmd", _oracle(tmp_path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "== world default" in printed
    assert "== world leaky-pir" in printed
    assert printed.count("apartment-months:") == 2
    assert "worst world with the kit, per goal:" in printed
    assert "false urgent per apartment-month" in printed
    assert "world 2/2 leaky-pir" in captured.err  # progress
    saved = json.loads((tmp_path / "eval" / "worlds.json").read_text())
    assert list(saved["worlds"]) == ["default", "leaky-pir"]
    assert saved["worlds"]["leaky-pir"]["knobs"] == {
        "pir_miss": 0.15,
        "seated_trip_min": 75.0,
        "kit": True,
    }
    # the stand-in signals every episode and one made-up SOS per seed
    for m in saved["worlds"].values():
        assert m["false_urgent"] > 0
        if m["acute_episodes"]:
            assert m["acute_paged"] == 1.0
        # paged a minute after each start: the latencies from the truth and the signals
        assert m["no_wake_latency_s"] in (None, 60.0)
        assert m["fall_kit_latency_s"] in (None, 60.0)
    assert (tmp_path / "eval" / "leaky-pir" / "seed-2" / "signals.jsonl").exists()
    assert (tmp_path / "eval" / "default" / "score.json").exists()
    assert set(saved["worst"]) >= {"acute_paged", "false_urgent", "false_sensor_offline"}


def test_eval_suite_without_worlds_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    argv = ["eval-suite", "--seeds", "1", "--apartments", "2", "--days", "2", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "eval"), "--replay-cmd", _oracle(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "== world" not in printed
    assert "worst world" not in printed
    assert not (tmp_path / "eval" / "worlds.json").exists()
    assert (tmp_path / "eval" / "seed-1" / "recording.jsonl.gz").exists()


def test_eval_suite_worlds_with_the_real_hub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--worlds`` with the hub itself on two tiny worlds."""
    from edge.cli import main

    replay = (
        f"{sys.executable} -m edge.cli replay {{recording}} --config {{config}} "
        "--signals-out {signals} --quiet --no-progress"
    )
    argv = ["eval-suite", "--worlds", "event-only", "availability", "--seeds", "4"]
    argv += ["--apartments", "2", "--days", "3", "--episode-scale", "40", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "eval"), "--replay-cmd", replay]) == 0
    printed = capsys.readouterr().out
    assert "== world event-only" in printed
    assert "== world availability" in printed
    assert "worst world with the kit, per goal:" in printed


def test_the_kit_gives_each_resident_a_chair_pad_and_leaves_the_rest_of_the_flat() -> None:
    from simulators.flat import build_flat, flat_config

    plain = build_flat(40, 7, knobs=Knobs())
    kit = build_flat(40, 7, knobs=Knobs(kit=True))
    couples = [a for a in kit.apartments if len(a.residents) == 2]
    assert couples  # about one in six
    for before, after in zip(plain.apartments, kit.apartments, strict=True):
        pads = sorted(k for k in after.devices if "chair_pad" in k)
        want = ["living/chair_pad", "living/chair_pad_2"][: len(after.residents)]
        assert pads == want
        assert after.has_chair_pad
        assert {k: v for k, v in after.devices.items() if k not in want} == {
            k: v for k, v in before.devices.items() if k not in want
        }
    roles = flat_config(kit)["apartments"][couples[0].id]["devices"]
    assert roles["living/chair_pad_2"] == {"role": "chair_pad"}
    msgs = _messages(replace(SMALL, apartments=12, knobs=Knobs(kit=True)))
    seconds = {t.split("/")[1] for _t, t, p in msgs if t.endswith("/living/chair_pad_2")}
    firsts = {t.split("/")[1] for _t, t, p in msgs if t.endswith("/living/chair_pad")}
    small = build_flat(12, SMALL.seed, knobs=Knobs(kit=True))
    assert firsts == {a.id for a in small.apartments}  # every resident sits on their own pad
    assert seconds == {a.id for a in small.apartments if len(a.residents) == 2}


def test_the_goal_latencies_count_the_falls_the_kit_should_catch_and_no_wake(
    tmp_path: Path,
) -> None:
    from simulators.worlds import _page_delays, _seen_by_kit, read_seed

    (tmp_path / "flat.yaml").write_text(
        "apartments:\n"
        "  a001: {residents: 1, devices: {living/chair_pad: {role: chair_pad}}}\n"
        "  a002: {residents: 2, devices: {living/chair_pad: {role: chair_pad}}}\n",
        encoding="utf-8",
    )

    def episode(apt: str, kind: str, start: str, **more: object) -> str:
        end = start.replace("T1", "T2")  # ten hours on
        return json.dumps({"apartment": apt, "kind": kind, "start": start, "end": end, **more})

    truth = [
        episode("a001", "fall", "2026-01-05T10:00:00+01:00", room="living", fall_sensor=False),
        episode("a002", "fall", "2026-01-06T10:00:00+01:00", room="living", fall_sensor=False),
        episode("a002", "fall", "2026-01-07T10:00:00+01:00", room="kitchen", fall_sensor=False),
        episode("a001", "fall", "2026-01-08T10:00:00+01:00", room="hall", fall_sensor=True),
        episode("a001", "no_wake", "2026-01-09T10:00:00+01:00"),
    ]
    (tmp_path / "truth.jsonl").write_text("\n".join(truth) + "\n", encoding="utf-8")

    def signal(apt: str, kind: str, at: str, severity: str = "urgent") -> str:
        return json.dumps(
            {
                "id": at,
                "flat": "f",
                "apartment": apt,
                "kind": kind,
                "domain": "care",
                "severity": severity,
                "start": at,
                "detected_at": at,
                "summary": "x",
                "evidence": {},
            }
        )

    signals = [
        signal("a001", "inactivity", "2026-01-05T10:20:00+01:00"),  # related: pages the fall
        signal("a002", "fall", "2026-01-06T10:05:00+01:00"),  # one pad for two: not counted
        signal("a002", "door_open", "2026-01-07T10:01:00+01:00", "attention"),  # no page
        signal("a002", "fall", "2026-01-07T10:40:00+01:00"),
        signal("a001", "fall", "2026-01-08T10:00:30+01:00"),  # a sensor saw it
        signal("a001", "no_wake", "2026-01-09T10:50:00+01:00"),
    ]
    (tmp_path / "signals.jsonl").write_text("\n".join(signals) + "\n", encoding="utf-8")
    runs = [read_seed(tmp_path)]
    assert _page_delays(runs, "fall", _seen_by_kit) == [1200.0, 2400.0]
    assert _page_delays(runs, "no_wake", lambda _e, _r: True) == [3000.0]


def _signal_keys(path: Path) -> list[tuple[str, str, str, str, str]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            s = json.loads(line)
            out.append((s["apartment"], s["kind"], s["severity"], s["start"], s["detected_at"]))
    return sorted(out)


def test_another_installers_names_give_the_same_signals(tmp_path: Path) -> None:
    """The ``other-names`` world: the same residents and days, devices named as another
    installer would (Dutch rooms, ``armchair``, ``bed_occupancy``, the front door in the
    hall as ``gang/voordeur``) and a
    flat.yaml without device roles. The hub reads the pads, the front door and the
    pendant from those names alone, so it raises the same signals at the same moments."""
    import yaml

    from edge.cli import main

    rates = EpisodeRates().scaled(12.0).with_overrides({"fall": 30.0})
    runs = {}
    for naming in ("ours", "other"):
        cfg = SimConfig(
            apartments=6, days=14, seed=5, rates=rates, knobs=Knobs(kit=True, naming=naming)
        )
        out = tmp_path / naming
        write_simulation(cfg, out)
        signals = out / "signals.jsonl"
        argv = ["replay", str(out / "recording.jsonl.gz"), "--config", str(out / "flat.yaml")]
        assert main([*argv, "--signals-out", str(signals), "--quiet", "--no-progress"]) == 0
        runs[naming] = (out, _signal_keys(signals))
    other_dir, other = runs["other"]
    with gzip.open(other_dir / "recording.jsonl.gz", "rt") as fh:
        topics = {json.loads(line)["topic"] for line in fh}
    assert {"zigbee2mqtt/a001/woonkamer/armchair", "zigbee2mqtt/a001/gang/voordeur"} <= topics
    assert not any("chair_pad" in t or "/living/" in t or "/entrance/" in t for t in topics)
    conf = yaml.safe_load((other_dir / "flat.yaml").read_text(encoding="utf-8"))
    assert all(set(a) == {"residents"} for a in conf["apartments"].values())
    kinds = {k for _apt, k, *_ in other}
    # signals that need the pads (a fall at the chair) and the front door (door_open)
    assert {"fall", "door_open"} <= kinds, kinds
    assert other == runs["ours"][1]
    # and the summary counts the same falls as watched by the kit (the truth says the pads)
    from simulators.worlds import _page_delays, _seen_by_kit, read_seed

    kit = {n: _page_delays([read_seed(runs[n][0])], "fall", _seen_by_kit) for n in runs}
    assert kit["ours"], "no fall the kit watched: the comparison would be empty"
    assert kit["other"] == kit["ours"]
