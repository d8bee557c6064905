"""Replay: the whole path from recording to signals, dead letters counted, state restored."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from edge.app import build_hub
from edge.config import Config, load_config_text
from edge.models import Signal, SignalKind
from edge.pipeline import Hub
from edge.recording import read_recording
from edge.replay import replay
from edge.sinks import ListSink
from edge.store import Store, StoreConfig
from tests.helpers import at, msg, write_recording

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "edge" / "data" / "demo.jsonl"


def run(paths: list[Path], config: Config | None = None, state: Path | None = None) -> Hub:
    config = config or Config()
    sink = ListSink()
    hub = build_hub(config, Store(state, config.store), [sink])
    replay(paths, hub)
    hub.sink = sink  # type: ignore[attr-defined]
    return hub


def signals_of(hub: Hub) -> list[Signal]:
    return hub.sink.signals  # type: ignore[attr-defined,no-any-return]


def test_fall_and_sos_are_urgent_at_once(tmp_path: Path) -> None:
    rec = write_recording(
        tmp_path / "r.jsonl",
        [
            msg(0, "a1/hall/motion", {"occupancy": True}),
            msg(1, "a1/bathroom/radar", {"fall": True, "presence": True}),
            msg(1.01, "a1/bathroom/radar", {"fall": True, "presence": True}),  # still fallen
            msg(2, "a2/living/pendant", {"action": "emergency", "battery": 90}),
        ],
    )
    sigs = signals_of(run([rec]))
    assert [(s.kind, s.apartment, s.severity.value, s.domain.value) for s in sigs] == [
        (SignalKind.FALL, "a1", "urgent", "care"),
        (SignalKind.SOS, "a2", "urgent", "care"),
    ]
    assert sigs[0].detected_at == at(1)
    assert sigs[0].start == at(1)
    assert sigs[0].evidence["sensor"] == "a1/bathroom/radar"
    assert sigs[0].summary.startswith("Valsensor in de badkamer meldt om 06:01 een val")
    assert sigs[0].flat == "demo-flat"


def test_english_summaries(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [msg(1, "a1/bathroom/radar", {"fall": True})])
    (sig,) = signals_of(run([rec], Config(language="en")))
    assert sig.summary == "Fall sensor in the bathroom reported a fall at 06:01: go and check now."


def test_demo_recording_gives_its_signals_and_counts_its_rejects() -> None:
    hub = run([DEMO])
    kinds = sorted((s.kind.value, s.apartment) for s in signals_of(hub))
    assert kinds == [
        ("fall", "a001"),
        ("low_battery", "a002"),
        ("sensor_offline", "a002"),  # Zigbee2MQTT said offline
        # (a003's kitchen PIR, quiet on the second day, speaks only when someone moves
        # there: one quiet day is not an outage; it would be one after a week)
        ("sos", "a002"),
    ]
    st = hub.stats
    assert st.rejected == {"clock": 2, "line is not JSON": 1, "payload": 1, "topic": 1}
    assert st.duplicates == 1
    assert st.ignored == 1
    lines = sum(1 for _ in read_recording(DEMO))
    assert st.messages + 1 == lines  # every line but the broken one reached the hub
    assert hub.store.dead_letter_reasons() == st.rejected


def test_gzip_and_plain_give_the_same_signals(tmp_path: Path) -> None:
    packed = tmp_path / "demo.jsonl.gz"
    packed.write_bytes(gzip.compress(DEMO.read_bytes()))
    plain = [s.model_dump() for s in signals_of(run([DEMO]))]
    assert plain
    assert plain == [s.model_dump() for s in signals_of(run([packed]))]


def test_silent_sensor_goes_offline_at_its_due_time(tmp_path: Path) -> None:
    """A sensor known to check in by itself (hourly for two days) is offline 25 h after it
    last spoke; one that spoke once only (not known to check in) waits a week."""
    last = 50 * 60
    messages = [msg(m, "a1/kitchen/motion", {"battery": 90}) for m in range(0, last + 1, 60)]
    messages += [msg(1, "a2/toilet/plug", {"power": 0})]  # (another apartment: not folded)
    messages += [msg(m, "a1/hall/motion", {"occupancy": m % 2 == 0}) for m in range(10, 9000, 60)]
    messages.sort(key=lambda m: m.received)
    config = load_config_text("detectors:\n  sensor_offline:\n    after_hours: 25\n")
    sigs = [
        s
        for s in signals_of(run([write_recording(tmp_path / "r.jsonl", messages)], config))
        if s.kind is SignalKind.SENSOR_OFFLINE
    ]
    assert [s.evidence["sensor"] for s in sigs] == ["a1/kitchen/motion"]
    assert sigs[0].detected_at == at(last) + timedelta(hours=25)
    assert sigs[0].start == at(last)
    longer = [*messages, msg(8 * 24 * 60, "a1/hall/motion", {"occupancy": True})]
    sigs = [
        s
        for s in signals_of(run([write_recording(tmp_path / "r2.jsonl", longer)], config))
        if s.kind is SignalKind.SENSOR_OFFLINE
    ]
    assert [s.evidence["sensor"] for s in sigs] == ["a1/kitchen/motion", "a2/toilet/plug"]
    assert sigs[1].detected_at == at(1) + timedelta(hours=168)


def test_consent_switches_a_detector_off_per_apartment(tmp_path: Path) -> None:
    rec = write_recording(
        tmp_path / "r.jsonl",
        [
            msg(1, "a1/bathroom/radar", {"fall": True}),
            msg(2, "a2/bathroom/radar", {"fall": True}),
        ],
    )
    config = load_config_text("apartments:\n  a1:\n    consent:\n      fall: false\n")
    assert [s.apartment for s in signals_of(run([rec], config))] == ["a2"]


def test_sos_button_role_from_config(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [msg(1, "a1/bedroom/button", {"action": "on"})])
    assert signals_of(run([rec])) == []
    config = load_config_text(
        "apartments:\n  a1:\n    devices:\n      bedroom/button: {role: sos_button}\n"
    )
    assert [s.kind for s in signals_of(run([rec], config))] == [SignalKind.SOS]


def test_a_restart_neither_forgets_nor_alarms_again(tmp_path: Path) -> None:
    """Replaying in two halves with a kept state gives what one replay gives."""
    lines = DEMO.read_text().splitlines(keepends=True)
    half = len(lines) // 2
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text("".join(lines[:half]))
    second.write_text("".join(lines[half:]))
    whole = [(s.id, s.kind) for s in signals_of(run([DEMO]))]
    state = tmp_path / "state" / "db.sqlite"
    a = signals_of(run([first], state=state))
    b = signals_of(run([second], state=state))
    assert [(s.id, s.kind) for s in a + b] == whole
    # the same recording again on that state: its times are behind the kept clock, so it is
    # quarantined (kept as dead letters); nothing is raised twice, nothing stored twice
    again = run([DEMO], state=state)
    assert signals_of(again) == []
    assert again.stats.rejected["clock"] > 0
    assert again.store.event_count() == run([DEMO]).store.event_count()


def test_retention_prunes_raw_events(tmp_path: Path) -> None:
    messages = [msg(m * 60 * 24, "a1/hall/motion", {"occupancy": bool(m % 2)}) for m in range(40)]
    config = Config(store=StoreConfig(retention_days=10))
    hub = run([write_recording(tmp_path / "r.jsonl", messages)], config)
    hub.store.prune(at(39 * 60 * 24))
    assert hub.store.event_count() == 11  # days 29..39


def test_replay_command_prints_signals_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "signals.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "replay", str(DEMO), "--signals-out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "urgent    care    fall            a001" in proc.stdout
    assert "rejected: 5 (kept in the dead-letter store)" in proc.stdout
    assert "line is not JSON, e.g. demo.jsonl:" in proc.stdout
    assert f"signals written to {out}" in proc.stdout
    written = [Signal.model_validate_json(line) for line in out.read_text().splitlines()]
    assert len(written) == 4
    for line in out.read_text().splitlines():
        assert set(json.loads(line)) == {
            "id",
            "flat",
            "apartment",
            "kind",
            "domain",
            "severity",
            "start",
            "detected_at",
            "summary",
            "summary_en",  # (the flat speaks Dutch: English beside it)
            "evidence",
        }


def test_replay_command_on_a_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "replay", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "nope.jsonl: no such recording" in proc.stderr


def test_replay_of_a_file_that_is_not_a_recording(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl.gz"
    junk.write_bytes(b"\x1f\x8b\x08garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "replay", str(junk)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "junk.jsonl.gz: cannot read" in proc.stderr


@pytest.mark.parametrize(
    "bad",
    [
        "[1,2]",
        '{"ts": 5, "topic": "x", "payload": {}}',
        '{"ts": "2026-01-05T10:00:00", "topic": "x", "payload": {}}',
        '{"ts": "2026-01-05T10:00:00+01:00", "payload": {}}',
    ],
)
def test_bad_lines_never_stop_a_replay(tmp_path: Path, bad: str) -> None:
    good = DEMO.read_text().splitlines()
    rec = tmp_path / "r.jsonl"
    rec.write_text("\n".join([*good[:100], bad, *good[100:]]) + "\n")
    hub = run([rec])
    assert sum(hub.stats.rejected.values()) == 6
    assert len(signals_of(hub)) == 4


def test_each_detectors_saved_text_is_its_state_dict_as_json() -> None:
    """A detector may make its saved text in parts (inactivity: one apartment at a time):
    the text is that of its state_dict all the same, and so is the apartment state's."""
    hub = run([DEMO])
    for det in hub.detectors:
        assert det.state_text() == json.dumps(det.state_dict(), sort_keys=True), det.name
    assert hub.state.to_json() == json.dumps(hub.state.to_dict(), sort_keys=True)
