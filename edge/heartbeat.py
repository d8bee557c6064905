"""The alarm path's heartbeat: the live hub proves every few minutes that a page can still
reach each channel of the chain, and a channel that stops answering is itself an urgent
fault for the lead (as social alarms do, EN 50134-7 / SCAIP heartbeats).

Every ``alerts.heartbeat.every_minutes`` the hub sends a beat down every channel an alert
takes: the broker (``<base>/<flat>/hub/heartbeat``, QoS 1: the broker's PUBACK answers),
each webhook (a POST with ``"heartbeat": true``: a 2xx answers) and Home Assistant (its
API with the hub's token, and every notify service the chain pages through must exist).
A beat not answered by the next one counts as missed; after ``missed`` beats in a row the
hub raises a ``hub_fault`` (paged from the lead's step, through every channel, so the ones
still working carry it) and names the channel on the health topic. The fault stays open
until someone closes it: the alarm was down for a while, which the lead should know. The
channel answering again clears it from the health topic and is logged.

What a hub cannot page about is its own death: a receiver (the alarm centre) that gets
the webhook's beats should treat a missing one as the hub being down.

Wall time, live only: this is about the network now, not the residents' event time, and a
replay never calls out.

>>> b = Beat("broker")
>>> b.result()
(None, '')
>>> b.fail("no connection to the broker")
>>> b.result()
(False, 'no connection to the broker')
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from edge.i18n import LANGUAGES, has, text

if TYPE_CHECKING:
    from edge.mqtt import LiveHub

logger = logging.getLogger(__name__)

FAULT = "alarm_path"
"""The health topic's fault name while a channel misses its beats."""


class HeartbeatConfig(BaseModel):
    """How often the hub proves the alarm path, and how much silence makes it a fault."""

    model_config = ConfigDict(extra="forbid")

    every_minutes: float | None = Field(
        5.0,
        gt=0,
        le=24 * 60,
        description="A beat down every channel of the alarm path this often (null: none).",
    )
    missed: int = Field(
        2,
        ge=1,
        le=100,
        description="Beats a channel may miss in a row before the lead is paged (hub_fault).",
    )


class Beat:
    """One beat down one channel: answered (``True``), failed (``False``, with why) or
    still out (``None``). Set from any thread, read on the hub's."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._lock = threading.Lock()
        self._ok: bool | None = None
        self._reason = ""

    def succeed(self) -> None:
        with self._lock:
            if self._ok is None:
                self._ok = True

    def fail(self, reason: str) -> None:
        with self._lock:
            if self._ok is None:
                self._ok, self._reason = False, reason

    def result(self) -> tuple[bool | None, str]:
        with self._lock:
            return self._ok, self._reason


@runtime_checkable
class Beating(Protocol):
    """An alert sink that can prove its channel(s): ``heartbeat`` sends one beat down each
    and returns them at once (never waits for the network)."""

    def heartbeat(self, at: datetime, every_minutes: float) -> list[Beat]: ...


@dataclass
class _Channel:
    misses: int = 0
    since: datetime | None = None  # the first beat missed in this run of misses
    reason: str = ""
    paged: bool = False


def channel_name(channel: str, lang: str) -> str:
    """``webhook:alarm_centre`` -> ``het eindpunt (webhook) van alarm_centre``."""
    if channel.startswith("webhook:"):
        return text("channel.webhook", lang, target=channel.split(":", 1)[1])
    return text(f"channel.{channel}", lang) if has(f"channel.{channel}") else channel


def fault_summary(channel: str, missed: int, since: datetime, tz: tzinfo) -> dict[str, str]:
    """The page's text: which channel, since when, what the team should do.

    >>> from zoneinfo import ZoneInfo
    >>> t = datetime(2026, 1, 5, 6, 31, tzinfo=UTC)
    >>> fault_summary("webhook:alarm_centre", 2, t, ZoneInfo("Europe/Amsterdam"))["nl"][:62]
    'Het alarmpad naar het eindpunt (webhook) van alarm_centre werk'
    """
    at = f"{since.astimezone(tz):%H:%M}"
    return {
        lang: text(
            "hub.alarm_path",
            lang,
            channel=channel_name(channel, lang),
            since=at,
            missed=str(missed),
        )
        for lang in LANGUAGES
    }


class Heartbeat:
    """A live extension (:class:`edge.mqtt.LiveExtension`): beats on the loop's ticks.

    ``sinks`` are the escalator's alert sinks (the list itself: sinks added later count);
    each that is :class:`Beating` is proved, and so is the broker (the live hub). The first
    beat goes one interval after the start. ``clock`` is the wall clock in seconds."""

    def __init__(
        self,
        config: HeartbeatConfig,
        sinks: Sequence[object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sinks = sinks
        self.clock = clock
        self._next: float | None = None
        self._out: list[Beat] = []
        self._channels: dict[str, _Channel] = {}
        self.beats = 0
        self.pages = 0

    # --- LiveExtension -----------------------------------------------------------------

    def connected(self, live: LiveHub) -> None:
        pass

    def signal(self, live: LiveHub, signal: object) -> None:
        pass

    def changed(self, live: LiveHub) -> None:
        pass

    def tick(self, live: LiveHub) -> None:
        every = self.config.every_minutes
        if every is None:
            return
        now = self.clock()
        if self._next is None:
            self._next = now + every * 60
        if now < self._next:
            return
        self._next = now + every * 60
        at = datetime.now(UTC)
        self.judge(live, at)
        self._out = self.send(live, at, every)

    # --- the beats ---------------------------------------------------------------------

    def send(self, live: LiveHub, at: datetime, every: float) -> list[Beat]:
        out = [live.heartbeat(at, every)]
        for sink in list(self.sinks):
            if sink is live or not isinstance(sink, Beating):
                continue
            try:
                out.extend(sink.heartbeat(at, every))
            except Exception as err:  # a sink's fault is its channel's missed beat
                logger.exception("Heartbeat through %s failed", type(sink).__name__)
                beat = Beat(type(sink).__name__)
                beat.fail(f"{type(err).__name__}: {err}")
                out.append(beat)
        self.beats += 1
        return out

    def judge(self, live: LiveHub, at: datetime) -> None:
        """The beats sent last time: answered, or missed (failed or still out)."""
        for beat in self._out:
            ok, reason = beat.result()
            state = self._channels.setdefault(beat.channel, _Channel())
            if ok:
                if state.misses:
                    logger.warning(
                        "Heartbeat: the alarm path to %s answers again (after %d missed)",
                        beat.channel,
                        state.misses,
                    )
                self._channels[beat.channel] = _Channel()
                continue
            if ok is None:
                every = self.config.every_minutes or 0
                reason = f"no answer within {every:g} min"
            if state.misses == 0:
                state.since = at
            state.misses += 1
            state.reason = reason
            logger.warning(
                "Heartbeat: %s missed a beat (%d in a row): %s", beat.channel, state.misses, reason
            )
            if state.misses >= self.config.missed and not state.paged:
                state.paged = True
                self._page(live, beat.channel, state, at)
        down = {c: s for c, s in sorted(self._channels.items()) if s.misses}
        if down:
            live.faults[FAULT] = "; ".join(
                f"{c}: {s.misses} heartbeat(s) missed since "
                f"{(s.since or at).isoformat(timespec='seconds')} ({s.reason})"
                for c, s in down.items()
            )
        else:
            live.faults.pop(FAULT, None)

    def _page(self, live: LiveHub, channel: str, state: _Channel, at: datetime) -> None:
        since = state.since or at
        summary = fault_summary(channel, state.misses, since, live.config.tz)
        evidence: dict[str, object] = {
            "fault": FAULT,
            "channel": channel,
            "missed": state.misses,
            "since": since.isoformat(timespec="seconds"),
            "reason": state.reason,
        }
        logger.error(
            "Heartbeat: the alarm path to %s is down (%d beats missed since %s: %s); "
            "the lead is paged (hub_fault)",
            channel,
            state.misses,
            evidence["since"],
            state.reason,
        )
        hub = live.hub
        try:
            hub.raise_hub_fault(max(at, hub.clock.now or at), summary, evidence, key=channel)
            hub.store.flush()
        except Exception:
            logger.exception("Could not raise the alarm path's fault")
            return
        self.pages += 1
