"""Notifications through Home Assistant: never on the hub's thread, dropped (and said so)
when Home Assistant is down, errors wrapped once; the config keeps the token out of YAML;
the entity table."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config_text
from edge.models import Domain, Severity, Signal, SignalKind
from integrations.homeassistant.config import (
    TOKEN_ENV,
    HomeAssistantConfig,
    HomeAssistantError,
    HomeAssistantTokenError,
)
from integrations.homeassistant.discovery import ENTITIES, ApartmentView, Topics, entity_config
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
    )


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
