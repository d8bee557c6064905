"""Urgent signals as Home Assistant notifications: a push through a notify service per
alert chain target, and a persistent notification per signal.

The :class:`Notifier` is an alert sink of the hub's escalator: it is called on the hub's one
thread and never waits for the network. Calls go on a bounded queue to one worker thread
that makes them through the ``homeassistant_api`` REST client. When Home Assistant is down
a call is tried ``retries`` times, then logged and dropped: alerts repeat by design until
someone acknowledges, so the next one follows. When the queue is full, new calls are
dropped (and logged) rather than held: the hub never stalls for Home Assistant.

The push is actionable: the companion app shows an action ``THUISPLUS_ACK_<signal id>``;
an automation on ``mobile_app_notification_action`` turns it into the hub's ack command
(docs/homeassistant.md). Each push carries the tag ``thuisplus_<signal id>``. A step of the
chain with ``push: critical`` (the default) sends a push that breaks through Do Not Disturb
where the phone allows it (an iOS critical alert, Android's alarm channel).

Once someone takes the signal on (acknowledges it), the pushes on the other phones are
cleared (``clear_notification`` with the tag) and those phones get a short "<who> gaat";
the persistent notification stays, saying who took it, until the signal is closed.

>>> from datetime import datetime, timezone
>>> from edge.models import Domain, Severity, SignalKind
>>> t = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
>>> s = Signal(id="6296b8dd", flat="f1", apartment="a012", kind=SignalKind.FALL,
...            domain=Domain.CARE, severity=Severity.URGENT, start=t, detected_at=t,
...            summary="Mogelijke val in de badkamer van a012")
>>> data = push_data(s, "nl")
>>> data["title"], data["data"]["actions"][0]["action"], data["data"]["tag"]
('Urgent: a012', 'THUISPLUS_ACK_6296b8dd', 'thuisplus_6296b8dd')
>>> data["data"]["push"]["interruption-level"], data["data"]["channel"]
('critical', 'alarm_stream')
>>> "push" in push_data(s, "nl", push="normal")["data"]
False
>>> info_data(s, "on_call", "nl")["message"]
'on_call gaat'
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from homeassistant_api import Client
from homeassistant_api.errors import HomeassistantAPIError

from edge.heartbeat import Beat
from edge.i18n import text
from edge.models import Signal
from edge.sections.homeassistant import HomeAssistantConfig, HomeAssistantError

if TYPE_CHECKING:
    from edge.escalation import AlertStep
    from integrations.homeassistant.discovery import UrgentState

__all__ = ["HomeAssistantError", "Notifier"]

logger = logging.getLogger(__name__)

ACTION_PREFIX = "THUISPLUS_ACK_"
CLEAR = "clear_notification"  # the companion app's command: remove the push with this tag
Push = Literal["critical", "normal"]


def _t(key: str, language: str, **values: str) -> str:
    """A push's text from the one catalogue (``ha.push.*``; Dutch for an unknown language)."""
    return text(f"ha.push.{key}", language, **values)


CRITICAL_IOS = {"sound": {"name": "default", "critical": 1, "volume": 1.0}}


class ServiceCaller(Protocol):
    def __call__(self, domain: str, service: str, data: dict[str, Any]) -> None: ...

    def probe(self, services: list[str]) -> None:
        """Raise :class:`HomeAssistantError` unless Home Assistant answers and has each
        ``domain.service`` (the heartbeat: nothing reaches a phone)."""

    def close(self) -> None: ...


def notification_id(signal_id: str) -> str:
    return f"thuisplus_{signal_id}"


def push_data(
    signal: Signal, language: str, push: Push = "critical", channel: str = "alarm_stream"
) -> dict[str, Any]:
    """The notify service data: the summary, an action to acknowledge, a tag per signal
    (a repeat replaces the earlier notification on the phone instead of stacking; the
    acknowledgement clears it). Android gets it at once (``ttl: 0``, ``priority: high``).

    ``critical`` adds what breaks through Do Not Disturb where the phone allows it: for
    iOS a critical alert (``push.sound.critical``, ``push.interruption-level``; the app
    needs the critical-alerts permission), for Android the notification ``channel`` (the
    companion app plays ``alarm_stream`` on the alarm stream) at ``importance: high``.
    Each platform ignores the other's keys."""
    data: dict[str, Any] = {
        "tag": notification_id(signal.id),
        "group": "thuisplus",
        "priority": "high",
        "ttl": 0,
        "actions": [{"action": f"{ACTION_PREFIX}{signal.id}", "title": _t("ack", language)}],
    }
    if push == "critical":
        data["push"] = {**CRITICAL_IOS, "interruption-level": "critical"}
        data["channel"] = channel
        data["importance"] = "high"
    return {
        "title": _t("title", language, apartment=signal.apartment),
        "message": signal.summary,
        "data": data,
    }


def clear_data(signal_id: str) -> dict[str, Any]:
    """Removes the signal's push from a phone (the companion app's ``clear_notification``)."""
    return {"message": CLEAR, "data": {"tag": notification_id(signal_id)}}


def _who(who: str, language: str) -> str:
    return who or _t("someone", language)


def info_data(signal: Signal, who: str, language: str) -> dict[str, Any]:
    """The short push to the others once ``who`` (a role) took the signal on: an ordinary
    one, under its own tag so it does not replace or get cleared with the urgent one."""
    return {
        "title": _t("taken_title", language, apartment=signal.apartment),
        "message": _t("going", language, who=_who(who, language)),
        "data": {
            "tag": f"{notification_id(signal.id)}_info",
            "group": "thuisplus",
            "priority": "high",
            "ttl": 0,
        },
    }


def persistent_data(signal: Signal, language: str, taken_by: str | None = None) -> dict[str, Any]:
    """Home Assistant's "needs attention" notification; once someone took the signal on it
    says who (it stays until the signal is closed)."""
    message = (
        f"{signal.summary}\n\n{_t('signal', language)} {signal.id} "
        f"({signal.kind.value}, {signal.detected_at:%Y-%m-%d %H:%M})"
    )
    if taken_by is not None:
        message += f"\n\n{_t('taken', language, who=_who(taken_by, language))}"
    return {
        "notification_id": notification_id(signal.id),
        "title": _t("title", language, apartment=signal.apartment),
        "message": message,
    }


class RestCaller:
    """Service calls through the ``homeassistant_api`` client; its errors (and the
    connection's) come out as :class:`HomeAssistantError`."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.client = Client(f"{url}/api", token, global_request_kwargs={"timeout": timeout_s})

    def __call__(self, domain: str, service: str, data: dict[str, Any]) -> None:
        try:
            self.client.trigger_service(domain, service, **data)
        except (HomeassistantAPIError, OSError, ValueError, TypeError) as err:
            raise HomeAssistantError(f"{domain}.{service}: {err}") from err

    def probe(self, services: list[str]) -> None:
        missing = []
        try:
            found: dict[str, set[str]] = {}
            for full in sorted(set(services)):
                domain, name = full.split(".", 1)
                if domain not in found:
                    got = self.client.get_domain(domain)
                    found[domain] = set(got.services) if got is not None else set()
                if name not in found[domain]:
                    missing.append(full)
        except (HomeassistantAPIError, OSError, ValueError, TypeError) as err:
            raise HomeAssistantError(f"the API does not answer: {err}") from err
        if missing:
            raise HomeAssistantError(
                f"no such service {', '.join(missing)} (is the phone's companion app still "
                "registered?)"
            )

    def close(self) -> None:
        self.client.__exit__(None, None, None)  # closes its HTTP session


def rest_caller(url: str, token: str, timeout_s: float) -> RestCaller:
    return RestCaller(url, token, timeout_s)


@dataclass(frozen=True)
class _Call:
    domain: str
    service: str
    data: dict[str, Any]
    what: str  # for the log: which signal, which call
    beat: Beat | None = None  # a heartbeat: probe, do not call


_STOP = _Call("", "", {}, "stop")


class Notifier:
    """An ``AlertSink`` that notifies through Home Assistant, off the hub's thread.

    ``connect`` makes the service caller, on the worker thread at its first call.
    """

    def __init__(
        self,
        config: HomeAssistantConfig,
        language: str,
        connect: Callable[[], ServiceCaller],
        retry_wait_s: float = 1.0,
    ) -> None:
        self.config = config
        self.language = language
        self._connect = connect
        self._retry_wait_s = retry_wait_s
        self._queue: queue.Queue[_Call] = queue.Queue(maxsize=config.queue_size)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # hub thread only: what this notifier sent for urgent signals not closed yet
        self._signals: dict[str, Signal] = {}  # alerted, by id
        self._pushed: dict[str, dict[str, str]] = {}  # id -> target -> service, still shown
        self._taken: dict[str, str] = {}  # id -> who took it on (handled once)
        self._persistent: set[str] = set()
        self.sent = 0
        self.failed = 0  # calls dropped after their retries
        self.dropped = 0  # calls dropped because the queue was full
        self._worker = threading.Thread(target=self._work, name="thuisplus-homeassistant")
        self._worker.daemon = True
        self._worker.start()

    @classmethod
    def from_config(cls, config: HomeAssistantConfig, language: str) -> Notifier:
        """Reads the token now (a missing one is a start-up error); connects lazily."""
        if config.url is None:
            raise HomeAssistantError("homeassistant.url is not set")
        token = config.read_token()
        url, timeout = config.url, config.timeout_s
        return cls(config, language, lambda: rest_caller(url, token, timeout))

    # --- AlertSink (hub thread) ------------------------------------------------------------

    def alert_step(
        self, signal: Signal, step: AlertStep, level: int, attempt: int, at: datetime
    ) -> None:
        """The escalator's call (a ``StepAlertSink``): the step says critical or normal."""
        self.alert(signal, step.target, level, attempt, at, push=step.push)

    def alert(
        self,
        signal: Signal,
        target: str,
        level: int,
        attempt: int,
        at: datetime,
        push: Push = "critical",
    ) -> None:
        if signal.severity.value != "urgent" or signal.id in self._taken:
            return
        service = self.config.notify.get(target)
        if service is not None:
            self._signals[signal.id] = signal
            self._pushed.setdefault(signal.id, {})[target] = service
            data = push_data(signal, self.language, push, self.config.android_channel)
            self._notify(service, data, signal.id)
        if self.config.persistent_notifications:
            # again at every alert: cheap, and one lost while Home Assistant was down returns
            self._signals[signal.id] = signal
            self._persistent.add(signal.id)
            data = persistent_data(signal, self.language)
            self._submit(_Call("persistent_notification", "create", data, signal.id))

    def urgent(self, urgent: Mapping[str, UrgentState]) -> None:
        """After every refresh of the register (an ``OpenSignalsListener``): ``urgent`` is
        every urgent signal not closed yet.

        A signal someone took on (acknowledged, or discussed or assigned straight away):
        its push is cleared on every other phone that got it, which gets "<who> gaat"
        instead; its persistent notification now says who. A closed signal: whatever is
        still shown of it goes (the pushes, the persistent notification)."""
        for sid in sorted(set(self._signals) - set(urgent)):
            for service in self._pushed.pop(sid, {}).values():
                self._notify(service, clear_data(sid), sid)
            if sid in self._persistent:
                self._persistent.discard(sid)
                data = {"notification_id": notification_id(sid)}
                self._submit(_Call("persistent_notification", "dismiss", data, sid))
            self._signals.pop(sid, None)
            self._taken.pop(sid, None)
        for sid in sorted(set(self._signals) & set(urgent)):
            state = urgent[sid]
            if state.status == "open" or sid in self._taken:
                continue
            who = state.taken_by or ""
            self._taken[sid] = who
            signal = self._signals[sid]
            shown = self._pushed.get(sid, {})
            others = sorted(t for t in shown if t != who)  # who goes keeps theirs till closed
            for target in others:
                service = shown.pop(target)
                self._notify(service, clear_data(sid), sid)
                self._notify(service, info_data(signal, who, self.language), sid)
            if sid in self._persistent:
                data = persistent_data(signal, self.language, taken_by=who)
                self._submit(_Call("persistent_notification", "create", data, sid))
            logger.info(
                "Home Assistant: %s taken on by %s; its push cleared on %d other phone(s)",
                sid,
                who or "?",
                len(others),
            )

    def heartbeat(self, at: datetime, every_minutes: float) -> list[Beat]:
        """The heartbeat (``edge.heartbeat``): Home Assistant answers with the hub's token
        and has every notify service the chain pages through. Reaches no phone."""
        beat = Beat("homeassistant")
        try:
            self._queue.put_nowait(_Call("", "", {}, "heartbeat", beat))
        except queue.Full:
            beat.fail(f"{self._queue.qsize()} calls wait for Home Assistant (down or slow)")
        return [beat]

    def _notify(self, service: str, data: dict[str, Any], what: str) -> None:
        domain, name = service.split(".", 1)
        self._submit(_Call(domain, name, data, what))

    def _submit(self, call: _Call) -> None:
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            logger.warning(
                "Home Assistant: %d calls waiting; %s.%s for %s dropped",
                self._queue.qsize(),
                call.domain,
                call.service,
                call.what,
            )

    # --- the worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        caller: ServiceCaller | None = None
        while True:
            call = self._queue.get()
            try:
                if call is _STOP:
                    if caller is not None:
                        caller.close()
                    return
                if caller is None:
                    caller = self._connect()
                if call.beat is not None:
                    self._probe(caller, call.beat)
                else:
                    self._deliver(caller, call)
            except Exception as err:
                if call.beat is not None:
                    call.beat.fail(f"{type(err).__name__}: {err}")
                logger.exception("Home Assistant: %s.%s failed", call.domain, call.service)
            finally:
                self._queue.task_done()

    def _probe(self, caller: ServiceCaller, beat: Beat) -> None:
        try:
            caller.probe(sorted(set(self.config.notify.values())))
        except HomeAssistantError as err:
            beat.fail(str(err))
        else:
            beat.succeed()

    def _deliver(self, caller: ServiceCaller, call: _Call) -> None:
        tries = self.config.retries
        for attempt in range(1, tries + 1):
            try:
                caller(call.domain, call.service, call.data)
            except HomeAssistantError as err:
                if attempt == tries or self._stop.is_set():
                    with self._lock:
                        self.failed += 1
                    logger.error(  # noqa: TRY400 (the reason is the message; no traceback)
                        "Home Assistant: %s.%s for %s dropped after %d tries: %s",
                        call.domain,
                        call.service,
                        call.what,
                        attempt,
                        err,
                    )
                    return
                logger.warning("Home Assistant: try %d of %d failed: %s", attempt, tries, err)
                self._stop.wait(self._retry_wait_s * attempt)
            else:
                with self._lock:
                    self.sent += 1
                logger.debug("Home Assistant: %s.%s for %s", call.domain, call.service, call.what)
                return

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued call is done (tests, shutdown); ``False`` on time out."""
        done = threading.Event()

        def joined() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=joined, daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (within ``timeout``), then stop the worker."""
        self.wait_idle(timeout)
        self._stop.set()
        try:
            self._queue.put(_STOP, timeout=1.0)
        except queue.Full:
            logger.warning("Home Assistant: calls still queued at shutdown are dropped")
            return
        self._worker.join(timeout)
