"""The alarm path's heartbeat: a real hub on a real broker beats down every channel; a
channel that stops answering pages the lead through the channels still working."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from edge.heartbeat import Beat, Heartbeat, HeartbeatConfig
from edge.sections.webhook import WebhookConfig
from integrations.webhook import WebhookSink
from tests.conftest import Broker, free_port
from tests.live import FLAT, Collector, HubProcess, wait_for
from tests.test_webhook import Endpoint

T = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def answered(beat: Beat, timeout: float = 10) -> tuple[bool | None, str]:
    wait_for(lambda: beat.result()[0] is not None, timeout, f"the beat on {beat.channel}")
    return beat.result()


def test_a_webhook_beat_is_a_post_without_a_signal() -> None:
    endpoint = Endpoint()
    closed = f"http://127.0.0.1:{free_port()}/alarm"  # nothing listens there
    sink = WebhookSink(
        "f",
        {
            "alarm_centre": WebhookConfig(url=endpoint.url),
            "team_lead": WebhookConfig(url=closed, timeout_s=1),
        },
    )
    try:
        up, down = sink.heartbeat(T, 5.0)
        assert (up.channel, down.channel) == ("webhook:alarm_centre", "webhook:team_lead")
        assert answered(up) == (True, "")
        ok, reason = answered(down)
        assert ok is False
        assert closed in reason  # the reason names the endpoint that did not answer
        ((body, _),) = endpoint.received
        assert body == {
            "flat": "f",
            "target": "alarm_centre",
            "heartbeat": True,
            "at": "2026-01-05T07:00:00+00:00",
            "every_minutes": 5.0,
        }
        assert sink.stats() == {"delivered": 0, "failed": 0}  # beats are not alerts
    finally:
        sink.close()
        endpoint.close()


class FakeLive:
    """What the heartbeat needs of a live hub, for the judging rules alone: the broker's
    beat answers at once; faults raised are kept (the live test below raises real ones)."""

    def __init__(self) -> None:
        self.faults: dict[str, str] = {}
        self.raised: list[tuple[dict[str, str], dict[str, object], str]] = []
        self.config = SimpleNamespace(tz=UTC)
        live = self

        class Hub:
            clock = SimpleNamespace(now=None)
            store = SimpleNamespace(flush=lambda: None)

            @staticmethod
            def raise_hub_fault(
                at: datetime, summary: dict[str, str], evidence: dict[str, object], key: str
            ) -> None:
                live.raised.append((summary, evidence, key))

        self.hub = Hub()

    def heartbeat(self, at: datetime, every_minutes: float) -> Beat:
        beat = Beat("broker")
        beat.succeed()
        return beat


class Scripted:
    """A sink whose channel answers as told, beat by beat (then it has no channel)."""

    def __init__(self, answers: list[bool | None]) -> None:
        self.answers = answers

    def heartbeat(self, at: datetime, every_minutes: float) -> list[Beat]:
        if not self.answers:
            return []
        beat = Beat("webhook:alarm_centre")
        ok = self.answers.pop(0)
        if ok:
            beat.succeed()
        elif ok is False:
            beat.fail("HTTP 503")
        return [beat]


def run(answers: list[bool | None], missed: int = 2) -> tuple[FakeLive, Heartbeat]:
    now = [0.0]
    live = FakeLive()
    beat = Heartbeat(
        HeartbeatConfig(every_minutes=1, missed=missed), [Scripted(answers)], lambda: now[0]
    )
    for _ in range(len(answers) + 2):  # the first tick starts the clock, the last judges
        now[0] += 60
        beat.tick(live)  # type: ignore[arg-type]
    return live, beat


def test_one_missed_beat_is_a_health_fault_not_a_page() -> None:
    live, _beat = run([True, False, True])
    assert live.raised == []
    assert "alarm_path" not in live.faults  # it answered again


def test_missed_beats_in_a_row_page_once_per_outage() -> None:
    live, _beat = run([True, False, None, False, False, True, False, False])
    pages = [(e["channel"], e["missed"], e["reason"]) for _, e, _ in live.raised]
    # the outage: 503, no answer (paged at the 2nd), 503, 503; back; a new outage: paged
    assert pages == [
        ("webhook:alarm_centre", 2, "no answer within 1 min"),
        ("webhook:alarm_centre", 2, "HTTP 503"),
    ]
    assert "webhook:alarm_centre: 2 heartbeat(s) missed" in live.faults["alarm_path"]
    summary, _, key = live.raised[0]
    assert key == "webhook:alarm_centre"
    assert summary["nl"].startswith("Het alarmpad naar het eindpunt (webhook) van alarm_centre")
    assert "2 hartslagen op rij gemist" in summary["nl"]
    assert summary["en"].startswith("The alarm path to the endpoint (webhook) of alarm_centre")


def test_a_sink_that_fails_to_beat_misses_its_beat_and_the_others_still_beat() -> None:
    class Broken:
        def heartbeat(self, at: datetime, every_minutes: float) -> list[Beat]:
            raise RuntimeError("boom")

    now = [0.0]
    live = FakeLive()
    beat = Heartbeat(
        HeartbeatConfig(every_minutes=1, missed=1), [Broken(), Scripted([True] * 3)], lambda: now[0]
    )
    for _ in range(3):
        now[0] += 60
        beat.tick(live)  # type: ignore[arg-type]
    assert [e["channel"] for _, e, _ in live.raised] == ["Broken"]
    assert "webhook:alarm_centre" not in live.faults["alarm_path"]


def test_no_heartbeat_when_switched_off() -> None:
    now = [0.0]
    live = FakeLive()
    sink = Scripted([False] * 5)
    beat = Heartbeat(HeartbeatConfig(every_minutes=None), [sink], lambda: now[0])
    for _ in range(5):
        now[0] += 3600
        beat.tick(live)  # type: ignore[arg-type]
    assert (beat.beats, len(sink.answers), live.raised) == (0, 5, [])


def signals_of(collector: Collector, kind: str) -> list[dict[str, Any]]:
    return [p for p in collector.payloads() if p.get("kind") == kind]


@pytest.mark.broker
def test_the_live_hub_pages_the_lead_when_the_alarm_centre_stops_answering(
    broker: Broker, tmp_path: Path
) -> None:
    lead = Endpoint()
    closed = f"http://127.0.0.1:{free_port()}/alarm"
    hub = HubProcess(
        broker,
        tmp_path / "hub",
        (
            "alerts:\n"
            "  heartbeat: {every_minutes: 0.02, missed: 2}\n"  # a beat every 1.2 s
            f"  webhooks:\n    team_lead: {{url: '{lead.url}'}}\n"
            f"    alarm_centre: {{url: '{closed}', attempts: 1, timeout_s: 1}}\n"
        ),
    )
    watch = Collector(broker, f"thuisplus/{FLAT}/#", client_id="test-heartbeat")
    hub.start()
    try:
        beats = f"thuisplus/{FLAT}/hub/heartbeat"
        wait_for(lambda: watch.last(beats) is not None, 20, lambda: hub.output()[-3000:])
        beat = json.loads(watch.last(beats) or b"{}")
        assert (beat["flat"], beat["every_minutes"]) == (FLAT, 0.02)
        wait_for(lambda: bool(signals_of(watch, "hub_fault")), 30, lambda: hub.output()[-3000:])
        (fault,) = signals_of(watch, "hub_fault")
        assert fault["severity"] == "urgent"
        assert fault["apartment"] == "common"
        assert fault["evidence"]["channel"] == "webhook:alarm_centre"
        assert closed in fault["evidence"]["reason"]
        assert "alarm_centre" in fault["summary"]
        assert "hartslagen" in fault["summary"]
        # the lead's own endpoint, still up, carries the page (hub faults start at the lead)
        wait_for(lambda: any("signal" in b for b, _ in lead.received), 15, "the page to the lead")
        page = next(b for b, _ in lead.received if "signal" in b)
        assert (page["target"], page["signal"]["kind"]) == ("team_lead", "hub_fault")
        assert any(b.get("heartbeat") for b, _ in lead.received)  # and it got its beats
        health = f"thuisplus/{FLAT}/hub/health"
        wait_for(
            lambda: "alarm_path" in json.loads(watch.last(health) or b"{}").get("faults", {}),
            15,
            "the health topic to name the alarm path",
        )
        time.sleep(3)  # more beats missed: still one page for this outage
        assert len(signals_of(watch, "hub_fault")) == 1
    finally:
        assert hub.stop() == 0
        watch.close()
        lead.close()
