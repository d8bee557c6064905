"""Bad input on every surface: MQTT topics and payloads, command topics, recordings, the
configuration, the command line. Property-based: whatever comes in is answered with a
clear reason (a dead letter, a command error, a config line, an exit code and a message),
nothing is lost uncounted, nothing crashes, nothing reaches SQL, a path or a shell."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.app import build_hub
from edge.cli import main
from edge.commands import COMMANDS, CommandError, run_command
from edge.config import Config, ConfigError, load_config_text
from edge.models import Domain, Message, Severity, Signal, SignalKind
from edge.register import Register
from edge.replay import replay
from edge.store import Store, StoreConfig, writable

T = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)

# strings that would do harm if anything used them unchecked
NASTY = [
    "'; DROP TABLE events; --",
    "../../etc/passwd",
    "$(rm -rf /)",
    "`id`",
    "a012\x00",
    "\x1b[31mred",
    "%s%s%s%n",
    "{{7*7}}",
    "<script>x</script>",
    "é" * 40,
    "",
    " ",
    "a" * 300,
    "\ud800",  # a lone surrogate, as a JSON escape gives it: UTF-8 cannot hold it
    "a012\udfff",
]
segments = st.sampled_from(NASTY) | st.text(max_size=12)
topics = st.one_of(
    st.text(max_size=60),
    st.builds(lambda a, r, d: f"zigbee2mqtt/{a}/{r}/{d}", segments, segments, segments),
    st.builds(
        lambda a, d: f"zigbee2mqtt/{a}/hall/{d}",
        st.sampled_from(["a012", "a1", *NASTY]),
        segments,
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
payloads = st.one_of(
    json_values,
    st.sampled_from(NASTY),
    st.dictionaries(
        st.sampled_from(["occupancy", "contact", "fall", "action", "battery", "last_seen"]),
        json_values | st.sampled_from(NASTY),
        max_size=4,
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(st.tuples(topics, payloads), min_size=1, max_size=12))
def test_any_mqtt_message_is_used_or_kept_with_its_reason(
    messages: list[tuple[str, Any]],
) -> None:
    config = Config()
    hub = build_hub(config, Store(None, config.store))
    for i, (topic, payload) in enumerate(messages):
        hub.handle(Message(T + timedelta(seconds=i), topic, payload, "mqtt"))
    st_ = hub.stats
    # every message is accounted for: used, a bridge topic, a QoS-1 repeat, or rejected
    assert st_.messages == len(messages)
    assert st_.events + st_.ignored + st_.duplicates + st_.rejected_total == len(messages)
    reasons = hub.store.dead_letter_reasons()
    assert sum(n for r, n in reasons.items() if r != "partial") == st_.rejected_total
    assert all(r in {"topic", "payload", "clock", "partial", "config"} for r in reasons)
    # the text went in as data, never as SQL: every table is still there
    tables = {r[0] for r in hub.store.db.execute("SELECT name FROM sqlite_master")}
    assert {"events", "topics", "dead_letters", "signals", "register"} <= tables
    stored = {r[0] for r in hub.store.db.execute("SELECT topic FROM dead_letters")}
    assert stored <= {writable(t) for t, _ in messages}  # (a lone surrogate as \\ud800)


def test_hostile_device_names_are_refused_or_kept_verbatim() -> None:
    config = Config()
    hub = build_hub(config, Store(None, config.store))
    for i, name in enumerate(NASTY):
        hub.handle(Message(T + timedelta(seconds=i), f"zigbee2mqtt/a1/hall/{name}", {"a": 1}))
        hub.handle(Message(T + timedelta(seconds=i), f"zigbee2mqtt/{name}/hall/m", {"a": 1}))
    reasons = [r["reason"] for r in hub.store.dead_letters(100)]
    assert "topic: device name has control characters" in reasons
    assert any(r.startswith("topic: apartment id") for r in reasons)
    # the apartment id is what reaches topics, file names and reports: only [A-Za-z0-9_-]
    assert set(hub.state.apartments) <= {"a1"}


def a_signal() -> Signal:
    return Signal(
        id="6296b8dd",
        flat="f",
        apartment="a012",
        kind=SignalKind.FALL,
        domain=Domain.CARE,
        severity=Severity.URGENT,
        start=T,
        detected_at=T,
        summary="Val",
    )


command_bodies = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(
        lambda d: json.dumps(d).encode(),
        st.dictionaries(
            st.sampled_from(["signal", "by", "notes", "domain", "role", "verdict", "x"]),
            st.sampled_from(["6296b8dd", "6296", "on_call", "care", "confirmed", *NASTY])
            | json_values,
            max_size=6,
        ),
    ),
)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from([*COMMANDS, "result", "drop", *NASTY]), raw=command_bodies)
def test_any_command_is_carried_out_or_refused_with_a_reason(name: str, raw: bytes) -> None:
    reg = Register(Store(None, StoreConfig()))
    reg.raise_signal(a_signal())
    refused: CommandError | None = None
    try:
        entry = run_command(reg, name, raw)
    except CommandError as err:
        refused = err
    if refused is not None:
        assert str(refused)
        return
    body = json.loads(raw)
    assert name in COMMANDS
    assert entry.id == "6296b8dd"
    assert body["signal"] in {"6296b8dd", "6296"}
    # the acting role went into the audit trail as given, a role not a free text
    trail = reg.audit_trail(entry.id)
    assert trail[-1]["actor"] == body["by"].strip()


yaml_keys = st.sampled_from(
    ["flat", "timezone", "language", "mqtt", "store", "clock", "apartments", "detectors", "x"]
)
yaml_values = st.one_of(
    json_values,
    st.sampled_from(NASTY),
    st.dictionaries(
        st.sampled_from(["host", "port", "password", "tls", "a012", "retention_days", "fall"]),
        json_values,
        max_size=3,
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.builds(lambda d: json.dumps(d), st.dictionaries(yaml_keys, yaml_values, max_size=5)),
    )
)
def test_any_config_text_loads_or_says_line_by_line_what_is_wrong(text: str) -> None:
    refused: ConfigError | None = None
    try:
        config = load_config_text(text, "flat.yaml")
    except ConfigError as err:
        refused = err
    if refused is None:
        assert isinstance(config, Config)
        return
    assert refused.lines
    assert all(line.startswith("flat.yaml") for line in refused.lines)


@pytest.mark.parametrize(
    "text",
    [
        '{"mqtt":{},"detectors":{"\\ud80000cdu":{}}}',  # found by the test above, in CI
        'flat: "sim\\udfff"\n',
        'apartments:\n  a001:\n    devices: ["\\ud800"]\n',
    ],
)
def test_text_that_is_not_unicode_is_refused_with_its_line(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "flat.yaml")
    (line,) = err.value.lines
    assert line.startswith("flat.yaml")
    assert "not valid Unicode text" in line
    line.encode("utf-8")  # the message itself can be written out


def test_a_password_in_the_yaml_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text("mqtt:\n  password: hunter2\n", "flat.yaml")
    assert "hunter2" not in str(err.value)
    assert "a password never goes in the YAML" in str(err.value)


recording_lines = st.one_of(
    st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s),
    st.builds(lambda v: json.dumps(v), json_values),
    st.builds(
        lambda ts, topic, payload: json.dumps({"ts": ts, "topic": topic, "payload": payload}),
        st.sampled_from(["2026-01-05T07:00:00+00:00", "2026-01-05T07:00:00", "x", 5, None]),
        topics,
        payloads,
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(recording_lines, min_size=1, max_size=15))
def test_any_recording_replays_to_the_end_counting_every_line(
    tmp_path: Path, lines: list[str]
) -> None:
    rec = tmp_path / "r.jsonl"
    rec.write_text("".join(line.replace("\u2028", " ") + "\n" for line in lines), "utf-8")
    config = Config()
    hub = build_hub(config, Store(None, config.store))
    read = replay([rec], hub)
    st_ = hub.stats
    bad_lines = read - st_.messages
    assert bad_lines >= 0
    assert st_.events + st_.ignored + st_.duplicates + st_.rejected_total == read
    assert st_.rejected.get("line is not JSON", 0) + st_.rejected.get("line", 0) <= read


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["replay"], 2, "the following arguments are required: RECORDING"),
        (["replay", "missing.jsonl"], 2, "missing.jsonl: no such recording"),
        (["check-config", "missing.yaml"], 1, "missing.yaml: cannot read"),
        (["check-config", "bad.yaml"], 1, "bad.yaml:1: flat: String should match pattern"),
        (["run", "--config", "bad.yaml"], 2, "bad.yaml:1: flat: String should match pattern"),
        (["run", "--mqtt-port", "99999", "--allow-insecure"], 2, "mqtt -> port: Input should"),
        (["run", "--mqtt-port", "x"], 2, "argument --mqtt-port: invalid int value: 'x'"),
        (["run"], 2, "mqtt: refused to connect to localhost:1883"),
        (["signals", "--state-dir", "nowhere", "list"], 2, "no store here"),
        (["dead-letters", "--state-dir", "nowhere"], 2, "no store here"),
        (["agenda", "--week", "soon", "--state-dir", "nowhere"], 2, "no store here"),
        (["doctor", "--config", "bad.yaml"], 1, "FAIL  config     bad.yaml:1: flat: String"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        (["--log-level", "loud", "replay", "x"], 2, "invalid choice: 'loud'"),
    ],
)
def test_bad_command_lines_get_an_exit_code_and_a_reason(
    argv: list[str],
    code: int,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("flat: NOT VALID\n")
    got, text = cli(argv, capsys)
    assert got == code, text
    assert said in text
    assert "Traceback" not in text


def test_a_bad_week_and_an_unknown_signal_on_a_real_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Store(tmp_path / "state" / "thuisplus.sqlite", StoreConfig()).close()
    state = ["--state-dir", "state"]
    got, text = cli(["agenda", "--week", "2026-W99", *state], capsys)
    assert (got, "2026-W99: there is no such week" in text) == (2, True)
    got, text = cli(["agenda", "--week", "'; DROP TABLE x", *state], capsys)
    assert got == 2
    assert "week must look like 2026-W05" in text
    got, text = cli(["signals", *state, "ack", "'; DROP TABLE register; --", "--by", "x"], capsys)
    assert got == 1
    db = sqlite3.connect(tmp_path / "state" / "thuisplus.sqlite")
    assert db.execute("SELECT count(*) FROM register").fetchone() == (0,)
