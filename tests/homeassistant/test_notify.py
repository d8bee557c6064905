"""Notifications through Home Assistant: never on the hub's thread, dropped (and said so)
when Home Assistant is down, errors wrapped once; the config keeps the token out of YAML;
the entity table."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from edge.config import ConfigError, load_config_text
from edge.escalation import AlertsConfig, AlertStep, Escalator
from edge.models import Domain, Severity, Signal, SignalKind
from edge.register import Register
from edge.sections.homeassistant import (
    TOKEN_ENV,
    HomeAssistantConfig,
    HomeAssistantError,
    HomeAssistantTokenError,
)
from edge.store import Store, StoreConfig
from integrations.homeassistant.discovery import (
    ENTITIES,
    ApartmentView,
    Discovery,
    Topics,
    UrgentState,
    entity_config,
)
from integrations.homeassistant.notify import Notifier, rest_caller
from tests.conftest import free_port
from tests.homeassistant.conftest import HomeAssistant

T = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def fall(n: int = 1, severity: Severity = Severity.URGENT) -> Signal:
    return Signal(
        id=f"f{n}",
        flat="f1",
        apartment="a012",
        kind=SignalKind.FALL,
        domain=Domain.CARE,
        severity=severity,
        start=T,
        detected_at=T,
        summary="Mogelijke val",
        summary_en="Possible fall",
    )


class Recorder:
    """A ``ServiceCaller`` that keeps each call (domain, service, data) instead of making it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, domain: str, service: str, data: dict[str, Any]) -> None:
        self.calls.append((domain, service, data))

    def probe(self, services: list[str]) -> None:
        self.calls.append(("probe", ",".join(services), {}))

    def close(self) -> None:
        pass

    def to(self, service: str) -> list[dict[str, Any]]:
        """The data of the calls to ``notify.<service>``, in order."""
        return [d for dom, svc, d in self.calls if (dom, svc) == ("notify", service)]

    def persistent(self, service: str) -> list[dict[str, Any]]:
        return [
            d for dom, svc, d in self.calls if (dom, svc) == ("persistent_notification", service)
        ]


TWO_PHONES = {"on_call": "notify.team_phone", "team_lead": "notify.lead_phone"}


def recording(language: str = "nl", **conf: Any) -> tuple[Notifier, Recorder]:
    rec = Recorder()
    config = HomeAssistantConfig(url="http://127.0.0.1:1", notify=TWO_PHONES, **conf)
    return Notifier(config, language, lambda: rec, retry_wait_s=0.01), rec


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


def test_home_assistant_down_never_stalls_the_hub(caplog: pytest.LogCaptureFixture) -> None:
    url = closed_url()
    conf = HomeAssistantConfig(url=url, notify={"on_call": "notify.team"}, retries=2, queue_size=3)
    notifier = Notifier(conf, "nl", lambda: rest_caller(url, "token", 1.0), retry_wait_s=0.01)
    try:
        with caplog.at_level(logging.WARNING):
            started = time.monotonic()
            for n in range(10):  # 10 alerts: a push and a persistent notification each
                notifier.alert(fall(n), "on_call", 0, 1, T)
            spent = time.monotonic() - started
            assert spent < 0.2, f"alert() waited {spent:.2f} s for Home Assistant"
            assert notifier.wait_idle(30)
        assert notifier.sent == 0
        assert notifier.dropped >= 10  # the queue holds 3: the rest is dropped at once
        assert notifier.failed >= 1
        assert notifier.failed + notifier.dropped == 20
        assert any("dropped after 2 tries" in r.getMessage() for r in caplog.records)
        assert any("calls waiting" in r.getMessage() for r in caplog.records)
    finally:
        notifier.close(timeout=5)
    assert not notifier._worker.is_alive()


def test_only_urgent_signals_and_named_targets_notify() -> None:
    url = closed_url()
    conf = HomeAssistantConfig(
        url=url, notify={"on_call": "notify.team"}, retries=1, persistent_notifications=False
    )
    notifier = Notifier(conf, "nl", lambda: rest_caller(url, "token", 1.0), retry_wait_s=0.01)
    try:
        notifier.alert(fall(1, Severity.ATTENTION), "on_call", 0, 1, T)
        notifier.alert(fall(2), "alarm_centre", 2, 1, T)  # no service for this target
        assert notifier.wait_idle(10)
        assert (notifier.sent, notifier.failed, notifier.dropped) == (0, 0, 0)
        notifier.alert(fall(3), "on_call", 0, 1, T)
        assert notifier.wait_idle(10)
        assert notifier.failed == 1  # it was tried: Home Assistant is down
    finally:
        notifier.close()


def test_errors_are_wrapped_once_at_the_boundary() -> None:
    with closing(rest_caller(closed_url(), "token", 1.0)) as call:
        with pytest.raises(HomeAssistantError, match=r"^notify\.team: ") as info:
            call("notify", "team", {"message": "x"})
    assert isinstance(info.value.__cause__, OSError)  # the connection's own error


@pytest.mark.homeassistant
@pytest.mark.timeout(900)  # may install Home Assistant first
def test_a_wrong_token_is_refused(home_assistant: HomeAssistant) -> None:
    with closing(rest_caller(home_assistant.url, "not-a-token", 5.0)) as call:
        with pytest.raises(HomeAssistantError, match=r"persistent_notification\.create"):
            call("persistent_notification", "create", {"message": "x", "notification_id": "t"})
    assert "t" not in home_assistant.persistent_notifications()


@pytest.mark.homeassistant
@pytest.mark.timeout(900)  # may install Home Assistant first
def test_the_heartbeat_proves_home_assistant_and_its_notify_services(
    home_assistant: HomeAssistant,
) -> None:
    ha = home_assistant
    before = ha.notify_file.read_text() if ha.notify_file.exists() else ""

    def beat(token: str, notify: dict[str, str]) -> tuple[bool | None, str]:
        conf = HomeAssistantConfig(url=ha.url, notify=notify, retries=1)
        notifier = Notifier(conf, "nl", lambda: rest_caller(ha.url, token, 5.0))
        try:
            (b,) = notifier.heartbeat(T, 5.0)
            assert b.channel == "homeassistant"
            assert notifier.wait_idle(30)
            return b.result()
        finally:
            notifier.close()

    assert beat(ha.token, {"on_call": "notify.team_phone"}) == (True, "")
    ok, reason = beat(ha.token, {"on_call": "notify.team_phone", "team_lead": "notify.gone"})
    assert ok is False
    assert "no such service notify.gone" in reason
    ok, reason = beat("not-a-token", {"on_call": "notify.team_phone"})
    assert ok is False
    assert reason.startswith("the API does not answer")
    after = ha.notify_file.read_text() if ha.notify_file.exists() else ""
    assert after == before  # a beat reaches no phone


def test_the_token_never_lives_in_the_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("homeassistant:\n  enabled: true\n  token: s3cr3t-value\n", "flat.yaml")
    (line,) = info.value.lines
    assert line.startswith("flat.yaml:3: homeassistant -> token: a token never goes in the YAML")
    assert "s3cr3t" not in line

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    conf = HomeAssistantConfig(url="http://127.0.0.1:1", token_file=tmp_path / "missing")
    with pytest.raises(HomeAssistantTokenError, match="cannot read"):
        conf.read_token()
    (tmp_path / "token").write_text("from-file\n", encoding="utf-8")
    conf = HomeAssistantConfig(url="http://127.0.0.1:1", token_file=tmp_path / "token")
    assert conf.read_token() == "from-file"
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert conf.read_token() == "from-env"


def test_config_mistakes_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(
            "homeassistant:\n  enabled: true\n  notfy: {}\n  notify: {on_call: team}\n", "f.yaml"
        )
    text = "\n".join(info.value.lines)
    assert "f.yaml:3: homeassistant -> notfy: unknown key" in text
    assert "homeassistant -> notify: Value error" not in text
    assert "'notify.mobile_app_team_phone', not 'team'" in text
    with pytest.raises(ConfigError, match=r"notifications need homeassistant\.url"):
        load_config_text("homeassistant:\n  enabled: true\n")
    ok = load_config_text(
        "homeassistant:\n  enabled: true\n  notify: {}\n  persistent_notifications: false\n"
    )
    assert ok.homeassistant.enabled
    assert not ok.homeassistant.notifications


def test_run_refuses_to_start_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    config = tmp_path / "flat.yaml"
    config.write_text(
        "flat: f1\nhomeassistant:\n  enabled: true\n  url: http://127.0.0.1:1\n"
        "  notify: {on_call: notify.team}\n",
        encoding="utf-8",
    )
    state = str(tmp_path / "state")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "edge.cli", "run", "--allow-insecure"),
            *("--config", str(config), "--state-dir", state),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"homeassistant: no token: set {TOKEN_ENV} or homeassistant.token_file" in done.stderr


def test_every_entity_is_described_in_both_languages() -> None:
    keys = [d.key for d in ENTITIES]
    assert len(set(keys)) == len(keys)
    view = ApartmentView("a012", "away", None, ())
    topics = Topics("thuisplus", "f1", "homeassistant")
    for desc in ENTITIES:
        assert set(desc.names) == {"nl", "en"}
        english = entity_config(desc, view, topics, "en")
        assert english["name"] == desc.names["en"]
        assert english["device"]["model"] == "Signal hub"
    values = {d.key: d.value_fn(view) for d in ENTITIES}
    assert values == {
        "needs_attention": "OFF",
        "last_activity": None,  # nothing published until there is one
        "presence": "away",
        "open_signals": "0",
        "acknowledge": "offline",
    }


CRITICAL_PUSH = {"sound": {"name": "default", "critical": 1, "volume": 1.0}}


def test_each_step_says_whether_its_push_breaks_through_do_not_disturb() -> None:
    """Through a real escalator: the first step (critical by default) pages the on-call
    phone with an iOS critical alert and Android's alarm channel; the lead's step, set to
    normal, gets an ordinary push. Every push carries the signal's tag and its ack action."""
    chain = [
        AlertStep(target="on_call", after_minutes=0, repeat_minutes=None),
        AlertStep(target="team_lead", after_minutes=10, repeat_minutes=None, push="normal"),
    ]
    assert chain[0].push == "critical"
    register = Register(Store(None, StoreConfig()))
    escalator = Escalator(AlertsConfig(chain=chain), register)
    notifier, rec = recording()
    escalator.sinks.append(notifier)
    try:
        signal = fall()
        register.raise_signal(signal, next_alert=escalator.opened(signal))
        assert escalator.tick(T) == 1
        assert escalator.tick(T + timedelta(minutes=10)) == 1
        assert notifier.wait_idle(10)
    finally:
        notifier.close()
    (first,) = rec.to("team_phone")
    assert first["message"] == "Mogelijke val"
    assert first["data"]["push"] == {**CRITICAL_PUSH, "interruption-level": "critical"}
    assert (first["data"]["channel"], first["data"]["importance"]) == ("alarm_stream", "high")
    assert (first["data"]["ttl"], first["data"]["priority"]) == (0, "high")
    (second,) = rec.to("lead_phone")
    assert "push" not in second["data"]
    assert "channel" not in second["data"]
    assert "importance" not in second["data"]
    for push in (first, second):
        assert push["data"]["tag"] == "thuisplus_f1"
        assert push["data"]["actions"] == [{"action": "THUISPLUS_ACK_f1", "title": "Ik ga"}]


def test_the_android_channel_is_configurable_and_checked() -> None:
    notifier, rec = recording(android_channel="thuisplus_alarm")
    try:
        notifier.alert(fall(), "on_call", 0, 1, T)  # a sink called without a step: critical
        assert notifier.wait_idle(10)
    finally:
        notifier.close()
    assert rec.to("team_phone")[0]["data"]["channel"] == "thuisplus_alarm"
    with pytest.raises(ConfigError, match="android_channel"):
        load_config_text(
            "homeassistant:\n  enabled: true\n  url: http://h:8123\n"
            "  android_channel: 'alarm/../x'\n"
        )


def test_a_wrong_push_choice_is_refused_with_its_place_and_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(
            "alerts:\n  chain:\n    - target: on_call\n      after_minutes: 0\n"
            "    - target: team_lead\n      after_minutes: 10\n      push: loud\n",
            "flat.yaml",
        )
    (line,) = info.value.lines
    assert line.startswith("flat.yaml:")
    assert line.split(": ", 1)[1] == (
        "alerts -> chain -> 1 -> push: Input should be 'critical' or 'normal' (got 'loud')"
    )
    ok = load_config_text(
        "alerts:\n  chain:\n    - {target: on_call, after_minutes: 0, push: normal}\n"
    )
    assert ok.alerts.chain[0].push == "normal"
    assert [s.push for s in AlertsConfig().chain] == ["critical"] * 3  # the urgent default


def test_who_takes_it_on_clears_the_others_and_attention_stays_until_closed() -> None:
    notifier, rec = recording()
    try:
        notifier.alert(fall(), "on_call", 0, 1, T)
        notifier.alert(fall(), "team_lead", 1, 3, T + timedelta(minutes=10))
        notifier.urgent({"f1": UrgentState("f1", "open")})  # nothing to do yet
        assert notifier.wait_idle(10)
        before = len(rec.calls)
        assert before == 4  # two pushes, two persistent notifications

        notifier.urgent({"f1": UrgentState("f1", "acknowledged", "team_lead")})
        notifier.urgent({"f1": UrgentState("f1", "discussed", "team_lead")})  # once only
        assert notifier.wait_idle(10)
        # the other phone: its urgent push cleared (same tag), then who goes
        clear, info = rec.to("team_phone")[1:]
        assert clear == {"message": "clear_notification", "data": {"tag": "thuisplus_f1"}}
        assert info["message"] == "team_lead gaat"
        assert info["title"] == "Bevestigd: a012"
        assert info["data"]["tag"] == "thuisplus_f1_info"
        assert "push" not in info["data"]  # an ordinary push: it wakes nobody
        assert len(rec.to("lead_phone")) == 1  # the one who goes keeps theirs
        # "needs attention" stays, saying who took it; nothing dismissed
        (*_, shown) = rec.persistent("create")
        assert shown["notification_id"] == "thuisplus_f1"
        assert shown["message"].endswith("Bevestigd door team_lead")
        assert rec.persistent("dismiss") == []
        assert len(rec.calls) == before + 3

        notifier.alert(fall(), "on_call", 0, 4, T + timedelta(minutes=15))  # a late alert
        notifier.urgent({})  # closed
        notifier.urgent({})
        assert notifier.wait_idle(10)
    finally:
        notifier.close()
    assert len(rec.to("team_phone")) == 3  # no push after it was taken on
    assert rec.to("lead_phone")[1:] == [
        {"message": "clear_notification", "data": {"tag": "thuisplus_f1"}}
    ]
    assert rec.persistent("dismiss") == [{"notification_id": "thuisplus_f1"}]


def test_a_signal_closed_without_an_acknowledgement_clears_every_phone() -> None:
    notifier, rec = recording(language="en")
    try:
        notifier.alert(fall(), "on_call", 0, 1, T)
        notifier.urgent({})
        assert notifier.wait_idle(10)
    finally:
        notifier.close()
    assert rec.to("team_phone")[1] == {
        "message": "clear_notification",
        "data": {"tag": "thuisplus_f1"},
    }
    assert len(rec.to("team_phone")) == 2  # no "is on the way": nobody went
    assert rec.persistent("dismiss") == [{"notification_id": "thuisplus_f1"}]


def _live(register: Register) -> Any:
    """What Discovery reads of a live hub, without a broker (it publishes nothing)."""
    hub = SimpleNamespace(register=register, state=SimpleNamespace(apartments={}))
    return SimpleNamespace(hub=hub, connected=False)


@pytest.mark.parametrize(
    ("language", "going", "taken"),
    [
        ("nl", "on_call gaat", "Bevestigd door on_call"),
        ("en", "on_call is on the way", "Acknowledged by on_call"),
    ],
)
def test_the_registers_acknowledgement_reaches_the_other_phones(
    language: str, going: str, taken: str
) -> None:
    """From the register's own acknowledge through Discovery's refresh (what the hub runs
    after every command result) to the notify calls; the actor is the register's role."""
    register = Register(Store(None, StoreConfig()))
    register.raise_signal(fall())
    config = load_config_text(
        f"flat: f1\nlanguage: {language}\napartments: {{a012: {{}}}}\n"
        "homeassistant:\n  enabled: true\n"
        "  url: http://127.0.0.1:1\n"
        "  notify: {on_call: notify.team_phone, team_lead: notify.lead_phone}\n"
    )
    notifier, rec = recording(language)
    discovery = Discovery(config, [notifier])
    live = _live(register)
    try:
        notifier.alert(fall(), "on_call", 0, 1, T)
        notifier.alert(fall(), "team_lead", 1, 3, T)
        discovery.refresh(live)
        register.acknowledge("f1", "on_call")
        discovery.refresh(live)
        view = discovery.views(live)["a012"]
        assert notifier.wait_idle(10)
    finally:
        notifier.close()
    assert [d["message"] for d in rec.to("lead_phone")[1:]] == ["clear_notification", going]
    assert len(rec.to("team_phone")) == 1
    assert rec.persistent("create")[-1]["message"].endswith(taken)
    # acknowledged, not closed: the apartment still needs attention, with the signal's text
    attention = ENTITIES[0]
    assert attention.key == "needs_attention"
    assert attention.attributes_fn is not None
    assert attention.value_fn(view) == "ON"
    attrs = attention.attributes_fn(view)
    assert (attrs["summary"], attrs["summary_en"]) == ("Mogelijke val", "Possible fall")
    assert (attrs["signal"], attrs["status"]) == ("f1", "acknowledged")
    assert attrs["signals"][0]["taken_by"] == "on_call"
    assert view.urgent_id is None  # nothing left to acknowledge: the button is off

    register.close("f1", "confirmed", by="coordinator")
    assert ENTITIES[0].value_fn(discovery.views(live)["a012"]) == "OFF"


def test_a_common_room_signal_is_not_cleared_while_open() -> None:
    """``common`` (the shared spaces, the hub's own fault) has no device in Home Assistant,
    but its urgent signals are paged like any other: a refresh must not take them for
    closed and clear the push just sent."""
    register = Register(Store(None, StoreConfig()))
    signal = fall().model_copy(update={"id": "c1", "apartment": "common"})
    register.raise_signal(signal)
    config = load_config_text(
        "flat: f1\nhomeassistant:\n  enabled: true\n  url: http://127.0.0.1:1\n"
        "  notify: {on_call: notify.team_phone}\n"
    )
    notifier, rec = recording()
    discovery = Discovery(config, [notifier])
    live = _live(register)
    try:
        notifier.alert(signal, "on_call", 0, 1, T)
        discovery.refresh(live)
        assert "common" not in discovery.views(live)
        assert notifier.wait_idle(10)
        assert [d["message"] for d in rec.to("team_phone")] == ["Mogelijke val"]
        assert rec.persistent("dismiss") == []
        register.close("c1", "confirmed", by="coordinator")
        discovery.refresh(live)
        assert notifier.wait_idle(10)
    finally:
        notifier.close()
    assert rec.to("team_phone")[-1]["message"] == "clear_notification"
    assert rec.persistent("dismiss") == [{"notification_id": "thuisplus_c1"}]
