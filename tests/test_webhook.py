"""Alerts to an alarm centre's endpoint: a real HTTP server on loopback receives them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from edge.models import Domain, Severity, Signal, SignalKind
from edge.sections.webhook import WebhookConfig
from integrations.webhook import WebhookSink
from tests.conftest import Broker
from tests.live import HubProcess, Publisher, wait_for


class Endpoint:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.fail_first = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if endpoint.fail_first > 0:
                    endpoint.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                endpoint.received.append((json.loads(body), self.headers.get("Authorization")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alarm"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.close()


def fall() -> Signal:
    t = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    return Signal(
        id="f1",
        flat="f",
        apartment="a012",
        kind=SignalKind.FALL,
        domain=Domain.CARE,
        severity=Severity.URGENT,
        start=t,
        detected_at=t,
        summary="Val gemeld",
    )


def test_alerts_are_posted_with_a_token_and_retried(endpoint: Endpoint, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    endpoint.fail_first = 1
    sink = WebhookSink("f", {"alarm_centre": WebhookConfig(url=endpoint.url, token_file=token)})
    sink.alert(fall(), "on_call", 0, 1, fall().detected_at)  # no webhook for this target
    sink.alert(fall(), "alarm_centre", 2, 5, fall().detected_at)
    sink.close()
    assert sink.stats() == {"delivered": 1, "failed": 0}
    ((body, auth),) = endpoint.received
    assert auth == "Bearer s3cret"
    assert (body["target"], body["level"], body["signal"]["id"]) == ("alarm_centre", 2, "f1")


def test_an_unreachable_endpoint_is_given_up_loudly(caplog: pytest.LogCaptureFixture) -> None:
    sink = WebhookSink(
        "f",
        {"alarm_centre": WebhookConfig(url="http://127.0.0.1:9/nothing", attempts=2, timeout_s=1)},
    )
    sink.alert(fall(), "alarm_centre", 2, 1, fall().detected_at)
    sink.close()
    assert sink.stats() == {"delivered": 0, "failed": 1}
    assert "alert for f1 not delivered" in caplog.text


@pytest.mark.broker
def test_the_live_hub_calls_the_alarm_centre(
    broker: Broker, endpoint: Endpoint, tmp_path: Path
) -> None:
    hub = HubProcess(
        broker,
        tmp_path / "hub",
        (
            "alerts:\n  chain:\n    - {target: alarm_centre, after_minutes: 0}\n"
            f"  webhooks:\n    alarm_centre: {{url: '{endpoint.url}'}}\n"
        ),
    )
    hub.start()
    try:
        wait_for(lambda: "Connected to" in hub.output(), 15, lambda: hub.output())
        pub = Publisher(broker)
        pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True})
        wait_for(lambda: bool(endpoint.received), 15, lambda: f"a POST\n{hub.output()}")
        body, auth = endpoint.received[0]
        assert body["signal"]["kind"] == "fall"
        assert body["signal"]["apartment"] == "a012"
        assert auth is None
        pub.close()
    finally:
        assert hub.stop() == 0
