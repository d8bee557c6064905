"""The signal register and escalation: lifecycle, audit trail, repeats, event-time alerts,
commands over MQTT and from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.app import build_hub
from edge.commands import CommandError, run_command
from edge.config import Config, load_config_text
from edge.escalation import AlertsConfig
from edge.models import Domain, Severity, Signal, SignalKind
from edge.register import Register, RegisterError
from edge.replay import replay
from edge.sinks import ListSink
from edge.store import Store, StoreConfig
from tests.conftest import Broker
from tests.helpers import at, msg, write_recording
from tests.live import FLAT, Collector, HubProcess, Publisher, wait_for


def sig(n: int, kind: SignalKind = SignalKind.FALL, apt: str = "a1", minutes: float = 0) -> Signal:
    urgent = kind in (SignalKind.FALL, SignalKind.SOS)
    return Signal(
        id=f"s{n}",
        flat="f",
        apartment=apt,
        kind=kind,
        domain=Domain.CARE if urgent else Domain.HOUSING,
        severity=Severity.URGENT if urgent else Severity.ATTENTION,
        start=at(minutes),
        detected_at=at(minutes),
        summary="x",
    )


@pytest.fixture
def reg() -> Register:
    return Register(Store(None, StoreConfig()))


def test_lifecycle_with_an_audit_trail(reg: Register) -> None:
    assert reg.raise_signal(sig(1)).value == "new"
    reg.acknowledge("s1", "on_call")
    reg.discuss("s1", "coordinator", "bewoner gevallen bij het opstaan")
    reg.assign("s1", "care", "wijkverpleegkundige", "coordinator")
    e = reg.close("s1", "confirmed", "coordinator", "valpreventie ingezet")
    assert (e.status, e.verdict, e.assigned_domain, e.assigned_role) == (
        "closed",
        "confirmed",
        "care",
        "wijkverpleegkundige",
    )
    trail = reg.audit_trail("s1")
    assert [a["action"] for a in trail] == [
        "raised",
        "acknowledged",
        "discussed",
        "assigned",
        "closed",
    ]
    assert [a["actor"] for a in trail] == [
        "hub",
        "on_call",
        "coordinator",
        "coordinator",
        "coordinator",
    ]
    assert datetime.fromisoformat(trail[0]["at"]) == at(0)  # the hub acts in event time
    assert trail[4]["details"] == {
        "from": "assigned",
        "verdict": "confirmed",
        "notes": "valpreventie ingezet",
    }


def test_one_open_signal_per_apartment_and_kind(reg: Register) -> None:
    reg.raise_signal(sig(1, SignalKind.LOW_BATTERY))
    assert reg.raise_signal(sig(2, SignalKind.LOW_BATTERY, minutes=60)).value == "repeat"
    assert reg.raise_signal(sig(3, SignalKind.LOW_BATTERY, apt="a2")).value == "new"
    (e,) = reg.entries(apartment="a1")
    assert (e.id, e.repeats, e.last_detected) == ("s1", 1, at(60))
    reg.close("s1", "confirmed", "coordinator")
    assert reg.raise_signal(sig(4, SignalKind.LOW_BATTERY, minutes=90)).value == "new"


def test_an_acknowledged_fall_does_not_swallow_the_next(reg: Register) -> None:
    reg.raise_signal(sig(1))
    assert reg.raise_signal(sig(2, minutes=1)).value == "repeat"  # same fall, not yet seen to
    reg.acknowledge("s1", "on_call")
    assert reg.raise_signal(sig(3, minutes=120)).value == "new"  # a new fall pages again


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda r: r.acknowledge("nope", "on_call"), "no signal 'nope'"),
        (lambda r: r.close("s1", "maybe", "coordinator"), "verdict must be one of"),
        (lambda r: r.assign("s1", "police", "x", "coordinator"), "domain must be care"),
        (lambda r: r.acknowledge("s1", "Jan de Vries; DROP TABLE"), "must be a role"),
    ],
)
def test_refusals_say_why(reg: Register, action: Any, error: str) -> None:
    reg.raise_signal(sig(1))
    with pytest.raises(RegisterError, match=error):
        action(reg)


def test_closed_is_final(reg: Register) -> None:
    reg.raise_signal(sig(1))
    reg.close("s1", "false_alarm", "coordinator")
    with pytest.raises(RegisterError, match="closed already"):
        reg.assign("s1", "care", "x", "coordinator")


def test_commands_refuse_bad_input_with_a_reason(reg: Register) -> None:
    reg.raise_signal(sig(1))
    for raw, reason in [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"signal": "s1"}', "'by' is missing"),
        (b'{"signal": "../etc", "by": "x"}', "letters and digits"),
        (b'{"signal": "s1", "by": "on_call", "verdict": "sure"}', "verdict must be"),
    ]:
        name = "close" if b"verdict" in raw else "ack"
        with pytest.raises(CommandError, match=reason):
            run_command(reg, name, raw)
    with pytest.raises(CommandError, match="unknown command"):
        run_command(reg, "delete", b"{}")
    assert run_command(reg, "ack", b'{"signal": "s1", "by": "on_call"}').status == "acknowledged"


class Alerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, datetime]] = []

    def alert(self, signal: Signal, target: str, level: int, attempt: int, at: datetime) -> None:
        self.sent.append((target, level, at))


def heartbeat_stream(minutes: int) -> list[Any]:
    out = [msg(0, "a1/bathroom/radar", {"fall": True})]
    out += [msg(m, "a2/hall/motion", {"occupancy": m % 2 == 0}) for m in range(1, minutes)]
    return out


def test_escalation_runs_on_event_time(tmp_path: Path) -> None:
    alerts = Alerts()
    config = Config()
    hub = build_hub(config, Store(None, config.store), [ListSink()], alert_sinks=[alerts])
    replay([write_recording(tmp_path / "r.jsonl", heartbeat_stream(40))], hub)
    assert [(t, lvl, when - at(0)) for t, lvl, when in alerts.sent] == [
        ("on_call", 0, timedelta(0)),
        ("on_call", 0, timedelta(minutes=5)),
        ("team_lead", 1, timedelta(minutes=10)),
        ("team_lead", 1, timedelta(minutes=15)),
        ("alarm_centre", 2, timedelta(minutes=20)),
    ]


def test_acknowledging_stops_the_escalation(tmp_path: Path) -> None:
    alerts = Alerts()
    config = Config()
    hub = build_hub(config, Store(None, config.store), [ListSink()], alert_sinks=[alerts])
    first = heartbeat_stream(40)
    for m in first[:8]:  # up to minute 7: two alerts to the on-call phone
        hub.handle(m)
    (entry,) = hub.register.entries(status="open")
    hub.register.acknowledge(entry.id, "on_call")
    for m in first[8:]:
        hub.handle(m)
    assert [t for t, _, _ in alerts.sent] == ["on_call", "on_call"]


def test_a_configured_chain_and_its_limit(tmp_path: Path) -> None:
    config = load_config_text(
        "alerts:\n  max_alerts: 3\n  chain:\n"
        "    - {target: on_call, after_minutes: 0, repeat_minutes: 2}\n"
        "    - {target: alarm_centre, after_minutes: 3, repeat_minutes: null}\n"
    )
    alerts = Alerts()
    hub = build_hub(config, Store(None, config.store), [ListSink()], alert_sinks=[alerts])
    replay([write_recording(tmp_path / "r.jsonl", heartbeat_stream(30))], hub)
    assert [(t, w - at(0)) for t, _, w in alerts.sent] == [
        ("on_call", timedelta(0)),
        ("on_call", timedelta(minutes=2)),
        ("alarm_centre", timedelta(minutes=3)),
    ]


def test_live_folds_alerts_missed_in_a_clock_jump_into_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Live, the stream clock jumps 3 hours (or the hub could not send for 3 hours): one
    alert at the step current then, not the 9 repeats that fell due meanwhile; a replay of
    the same stream sends every one at its due time."""
    stream = [msg(0, "a1/bathroom/radar", {"fall": True}), msg(180, "a2/hall/motion", {})]
    config = Config()

    def run(catch_up: timedelta | None) -> list[tuple[str, int, datetime]]:
        alerts = Alerts()
        hub = build_hub(config, Store(None, config.store), [ListSink()], alert_sinks=[alerts])
        hub.escalator.catch_up = catch_up
        for m in stream:
            hub.handle(m)
        for minute in range(181, 216):  # then the live hub's ticks, as time goes on
            hub.advance(at(minute))
        return alerts.sent

    every = run(None)
    assert len(every) == 11  # 0, 5 (on call), 10, 15 (lead), 20, 50 ... 200 (centre)
    assert every[-1] == ("alarm_centre", 2, at(200))
    with caplog.at_level("WARNING", logger="edge.escalation"):
        folded = run(timedelta(minutes=2))
    # at 180 min one alert to the alarm centre; the next repeat 30 min on, in time
    assert folded == [
        ("on_call", 0, at(0)),
        ("alarm_centre", 2, at(180)),
        ("alarm_centre", 2, at(210)),
    ]
    assert "9 missed alerts sent as one now" in caplog.text


def test_alerts_go_on_from_memory_while_the_register_cannot_write(tmp_path: Path) -> None:
    """The store cannot write (here: every audit line fails inside SQLite). Each alert
    still goes out once at its time, not on every tick; a fall raised during the fault is
    escalated too; on recovery the register learns every alert sent, in order."""
    alerts = Alerts()
    config = Config()
    hub = build_hub(
        config, Store(tmp_path / "s.sqlite", config.store), [ListSink()], alert_sinks=[alerts]
    )
    hub.handle(msg(0, "a1/bathroom/radar", {"fall": True}))
    hub.store.db.execute(
        "CREATE TEMP TRIGGER broken BEFORE INSERT ON main.audit "
        "BEGIN INSERT INTO no_such_table VALUES (1); END"
    )
    for second in range(10, 12 * 60, 10):  # the live hub's ticks: every 10 s here
        hub.advance(at(second / 60))
        if second == 6 * 60:
            hub.handle(msg(6, "a2/bathroom/radar", {"fall": True}))
    assert hub.store.fault is not None
    assert [(t, when - at(0)) for t, _, when in alerts.sent] == [
        ("on_call", timedelta(0)),
        ("on_call", timedelta(minutes=5)),
        ("on_call", timedelta(minutes=6)),  # a2, raised during the fault
        ("team_lead", timedelta(minutes=10)),
        ("on_call", timedelta(minutes=11)),  # a2
    ]
    assert [e.apartment for e in hub.register.entries()] == ["a1"]  # a2 waits in memory
    assert hub.escalator.held == 4
    assert hub.recover()  # a new connection: the temporary trigger is gone
    assert hub.escalator.held == 0
    entries = {e.apartment: e for e in hub.register.entries()}
    assert (entries["a1"].alerts_sent, entries["a1"].escalation_level) == (3, 1)
    assert entries["a1"].next_alert == at(15)
    assert (entries["a2"].alerts_sent, entries["a2"].next_alert) == (2, at(16))
    trail = [a for a in hub.register.audit_trail(entries["a1"].id) if a["action"] == "alerted"]
    assert [a["details"]["target"] for a in trail] == ["on_call", "on_call", "team_lead"]
    hub.advance(at(15))  # and the chain goes on from the register
    assert alerts.sent[-1] == ("team_lead", 1, at(15))


def test_a_bad_chain_is_refused() -> None:
    with pytest.raises(ValueError, match="first step starts at once"):
        AlertsConfig.model_validate({"chain": [{"target": "x", "after_minutes": 5}]})


def test_signals_command_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    demo = Path(__file__).resolve().parents[1] / "edge" / "data" / "demo.jsonl"
    cli = [sys.executable, "-m", "edge.cli"]
    subprocess.run(
        [*cli, "replay", str(demo), "--state-dir", str(state), "--quiet"],
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [*cli, "signals", "--state-dir", str(state), "list"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "4 signal(s)" in listed
    fall_id = next(line.split()[0] for line in listed.splitlines() if " fall " in line)
    done = subprocess.run(
        [
            *cli,
            "signals",
            "--state-dir",
            str(state),
            "close",
            fall_id[:8],
            "--by",
            "coordinator",
            "--verdict",
            "confirmed",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "closed [confirmed]" in done.stdout
    again = subprocess.run(
        [*cli, "signals", "--state-dir", str(state), "ack", fall_id, "--by", "on_call"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert f"signal {fall_id} is closed, not open" in again.stderr
    shown = subprocess.run(
        [*cli, "signals", "--state-dir", str(state), "show", fall_id],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "raised" in shown
    assert "closed" in shown


@pytest.mark.broker
def test_acknowledge_over_mqtt_stops_the_alerts(broker: Broker, tmp_path: Path) -> None:
    hub = HubProcess(
        broker,
        tmp_path / "hub",
        "alerts:\n  chain:\n    - {target: on_call, after_minutes: 0, repeat_minutes: 0.02}\n",
    )  # every 1.2 s
    watch = Collector(broker, f"thuisplus/{FLAT}/#")
    hub.start()
    try:
        wait_for(
            lambda: watch.last(f"thuisplus/{FLAT}/hub/availability") == b"online",
            15,
            lambda: hub.output(),
        )
        pub = Publisher(broker)
        pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True})
        alert_topic = f"thuisplus/{FLAT}/alert/on_call"

        def alerts() -> list[dict[str, Any]]:
            return [json.loads(p) for t, p, _ in list(watch.messages) if t == alert_topic]

        wait_for(lambda: len(alerts()) >= 2, 15, lambda: f"two alerts\n{hub.output()}")
        first = alerts()[0]
        assert first["signal"]["kind"] == "fall"
        assert first["acknowledge"]["topic"] == f"thuisplus/{FLAT}/command/ack"
        pub.send(first["acknowledge"]["topic"], {"signal": first["signal"]["id"], "by": "on_call"})
        result = f"thuisplus/{FLAT}/command/result"
        wait_for(lambda: watch.last(result) is not None, 10, "the command's result")
        assert json.loads(watch.last(result) or b"{}") == {
            "ok": True,
            "command": "ack",
            "signal": first["signal"]["id"],
            "status": "acknowledged",
        }
        count = len(alerts())
        pub.send(f"thuisplus/{FLAT}/command/ack", {"signal": "zzz", "by": "on_call"})
        wait_for(lambda: b"no signal" in (watch.last(result) or b""), 10, "the refusal")
        time.sleep(2.5)  # two more repeat periods: no alert may come
        assert len(alerts()) == count
        pub.close()
    finally:
        assert hub.stop() == 0
        watch.close()


def test_a_false_alarm_verdict_widens_the_apartments_limit(tmp_path: Path) -> None:
    """sensor_offline after 25 h; judged a false alarm; then 30 h of silence is fine."""
    # (the kitchen PIR speaks only when used: event-only, its limit set to 25 h here)
    config = Config.model_validate({"detectors": {"sensor_offline": {"event_only_hours": 25}}})
    # only sensor_offline: a home where nobody enters a day room for days is no ordinary
    # life (no_wake and the silence detectors would rightly page)
    hub = build_hub(config, Store(None, config.store), [ListSink()], detectors=["sensor_offline"])
    hub.handle(msg(0, "a1/kitchen/motion", {"occupancy": True}))
    for m in range(60, 26 * 60, 60):
        hub.handle(msg(m, "a1/hall/motion", {"occupancy": m % 120 == 0}))
    (entry,) = hub.register.entries(status="open")
    assert entry.kind == "sensor_offline"
    hub.register.close(entry.id, "false_alarm", "coordinator", "sensor meldt maar zelden")
    assert hub.apply_feedback() == 1
    trail = hub.register.audit_trail(entry.id)
    assert trail[-1]["action"] == "feedback"
    assert trail[-1]["details"] == {
        "detector": "sensor_offline",
        "change": "silence limit 25 h -> 38 h",
    }
    assert hub.apply_feedback() == 0  # each verdict is used once
    start = 27 * 60
    hub.handle(msg(start, "a1/kitchen/motion", {"occupancy": True}))
    raised = []
    for m in range(start + 60, start + 31 * 60, 60):
        raised += hub.handle(msg(m, "a1/hall/motion", {"occupancy": m % 120 == 0}))
    assert raised == []  # 30 h of kitchen silence: within the widened 38 h
    for m in range(start + 31 * 60, start + 40 * 60, 60):
        raised += hub.handle(msg(m, "a1/hall/motion", {"occupancy": m % 120 == 0}))
    assert [s.kind.value for s in raised] == ["sensor_offline"]
    assert raised[0].detected_at == at(start) + timedelta(hours=37.5)


def test_an_urgent_repeat_folds_only_within_the_hour(reg: Register) -> None:
    reg.raise_signal(sig(1))
    assert reg.raise_signal(sig(2, minutes=30)).value == "repeat"
    assert reg.raise_signal(sig(3, minutes=85)).value == "repeat"  # 55 min after the last
    assert reg.raise_signal(sig(4, minutes=24 * 60)).value == "new"  # a new emergency


def test_a_sensor_fall_upgrades_an_open_silence_fall_once(reg: Register) -> None:
    """Issue 18: a fall radar confirming an open "possible fall" pages again (upgraded);
    its repeats fold; a silence's fall folding into an entry a radar opened leaves the
    radar's evidence, so the radar's next repeat is a plain repeat, not a second upgrade."""

    def fall(n: int, minutes: float, source: str) -> Signal:
        return sig(n, minutes=minutes).model_copy(update={"evidence": {"source": source}})

    assert reg.raise_signal(fall(1, 0, "silence")).value == "new"
    assert reg.raise_signal(fall(2, 10, "fall_sensor")).value == "upgraded"
    entry = reg.get("s1")
    assert entry is not None
    assert entry.signal.evidence["source"] == "fall_sensor"
    assert entry.next_alert == at(10)  # alerts again at once
    assert reg.raise_signal(fall(3, 20, "fall_sensor")).value == "repeat"
    # a radar's fall first, then the silence's: the radar's repeat after it is no upgrade
    assert reg.raise_signal(fall(4, 0, "fall_sensor").model_copy(update={"apartment": "a2"}))
    assert (
        reg.raise_signal(fall(5, 30, "silence").model_copy(update={"apartment": "a2"})).value
        == "repeat"
    )
    assert (
        reg.raise_signal(fall(6, 40, "fall_sensor").model_copy(update={"apartment": "a2"})).value
        == "repeat"
    )
    assert [a["action"] for a in reg.audit_trail("s1")] == ["raised", "upgraded", "repeat"]
