"""Urgent signals are repeated and escalated along a chain until someone acknowledges.

The chain is configured (``alerts.chain``): each step names a target role, when it starts
(minutes after the signal) and how often the alert repeats while that step is current.
Alerts run on event time like everything else, so a replay escalates exactly as live
would; each alert is stamped with its due time.

>>> from datetime import datetime, timedelta, timezone
>>> cfg = AlertsConfig()
>>> t = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
>>> [(s.target, s.after_minutes) for s in cfg.chain]
[('on_call', 0.0), ('team_lead', 10.0), ('alarm_centre', 20.0)]
>>> plan(cfg, t, t)          # the first alert: on call, again in 5 minutes
(0, datetime.datetime(2026, 1, 5, 7, 5, tzinfo=datetime.timezone.utc))
>>> plan(cfg, t, t + timedelta(minutes=10))[0]   # ten minutes on: the team lead
1
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.heartbeat import HeartbeatConfig
from edge.models import Signal
from edge.register import Entry, Register
from edge.sections.webhook import WebhookConfig
from edge.store import WRITE_ERRORS

logger = logging.getLogger(__name__)


class AlertStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(pattern=r"^[a-z0-9_-]{1,32}$", description="A role: on_call, team_lead...")
    after_minutes: float = Field(ge=0, le=24 * 60, description="Starts this long after the signal.")
    repeat_minutes: float | None = Field(
        5.0, gt=0, le=24 * 60, description="Repeat while this step is current (null: once)."
    )
    push: Literal["critical", "normal"] = Field(
        "critical",
        description="How a phone push of this step comes through (Home Assistant): critical "
        "breaks through Do Not Disturb where the phone allows it (an iOS critical alert, an "
        "Android alarm channel); normal is an ordinary high-priority push.",
    )


def _default_chain() -> list[AlertStep]:
    return [
        AlertStep(target="on_call", after_minutes=0, repeat_minutes=5),
        AlertStep(target="team_lead", after_minutes=10, repeat_minutes=5),
        AlertStep(target="alarm_centre", after_minutes=20, repeat_minutes=30),
    ]


class RestartsConfig(BaseModel):
    """A hub that restarts after a crash more than ``max_restarts`` times within
    ``window_minutes`` raises an urgent ``hub_fault`` (docs/faults.md). A clean stop
    (``systemctl stop``/``restart``, an upgrade) does not count."""

    model_config = ConfigDict(extra="forbid")

    max_restarts: int = Field(3, ge=1, le=100, description="Restarts after a crash allowed...")
    window_minutes: float = Field(15.0, gt=0, le=24 * 60, description="...within this long.")


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chain: list[AlertStep] = Field(
        default_factory=_default_chain,
        description="Who is alerted about an unacknowledged urgent signal, and when.",
    )
    webhooks: dict[str, WebhookConfig] = Field(
        default_factory=dict,
        description="Per target, an endpoint that gets each alert as a JSON POST "
        "(e.g. the alarm centre). Live only: a replay never calls out.",
    )
    faults_from: str = Field(
        "team_lead",
        pattern=r"^[a-z0-9_-]{1,32}$",
        description="The hub's own faults (hub_fault) are paged from the chain's step with "
        "this target on (the lead), not from its first step; a target not in the chain: "
        "from the first step.",
    )
    restarts: RestartsConfig = Field(default_factory=RestartsConfig)
    heartbeat: HeartbeatConfig = Field(
        default_factory=HeartbeatConfig,
        description="The live hub proves the alarm path (the broker, each webhook, Home "
        "Assistant) this often; a channel that stops answering pages the lead (hub_fault).",
    )
    max_alerts: int = Field(
        20,
        ge=1,
        le=1000,
        description="After this many alerts for one signal the hub stops repeating them "
        "(the signal stays open in the register) and logs an error.",
    )

    @field_validator("chain")
    @classmethod
    def _ordered(cls, chain: list[AlertStep]) -> list[AlertStep]:
        if not chain:
            raise ValueError("the chain needs at least one step")
        if chain[0].after_minutes != 0:
            raise ValueError("the first step starts at once (after_minutes: 0)")
        if any(b.after_minutes <= a.after_minutes for a, b in itertools.pairwise(chain)):
            raise ValueError("steps must start one after the other (after_minutes increasing)")
        return chain


def faults_opened(config: AlertsConfig, opened: datetime) -> datetime:
    """When a hub fault opened at ``opened`` counts as opened for :func:`plan`: as far back
    as the step that pages ``faults_from``, so its first alert goes to that step.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
    >>> plan(AlertsConfig(), faults_opened(AlertsConfig(), t), t)[0]   # the team lead at once
    1
    """
    for step in config.chain:
        if step.target == config.faults_from:
            return opened - timedelta(minutes=step.after_minutes)
    return opened


def plan(config: AlertsConfig, opened: datetime, at: datetime) -> tuple[int, datetime | None]:
    """The step current at ``at`` and when the next alert is due after one sent at ``at``."""
    chain = config.chain
    level = 0
    for i, step in enumerate(chain):
        if opened + timedelta(minutes=step.after_minutes) <= at:
            level = i
    candidates = []
    repeat = chain[level].repeat_minutes
    if repeat is not None:
        candidates.append(at + timedelta(minutes=repeat))
    if level + 1 < len(chain):
        candidates.append(opened + timedelta(minutes=chain[level + 1].after_minutes))
    return level, (min(candidates) if candidates else None)


class AlertSink(Protocol):
    def alert(
        self, signal: Signal, target: str, level: int, attempt: int, at: datetime
    ) -> None: ...


@runtime_checkable
class StepAlertSink(Protocol):
    """An alert sink that wants the whole step of the chain (its ``push`` choice, say),
    not only its target: the escalator calls ``alert_step`` instead of ``alert``."""

    def alert_step(
        self, signal: Signal, step: AlertStep, level: int, attempt: int, at: datetime
    ) -> None: ...


class Escalator:
    """Sends the alerts that came due, for every unacknowledged urgent signal.

    The escalation lives in the register. While the store cannot write, it goes on in
    memory: an alert sent is remembered (so it is not sent again on every tick) and
    written to the register, audit line and all, once the store can write again
    (:meth:`refresh`); an urgent signal raised meanwhile, not in the register yet, is
    escalated from memory too (:meth:`hold`)."""

    def __init__(self, config: AlertsConfig, register: Register) -> None:
        self.config = config
        self.register = register
        self.sinks: list[AlertSink] = []
        self._held: dict[str, Entry] = {}
        """Entries whose latest alerts are not in the register yet (a store fault)."""
        self._log: list[tuple[str, int, datetime | None, str, datetime]] = []
        """Those alerts, in the order sent: written to the register on recovery."""
        self._next = self._read_next()
        self.catch_up: timedelta | None = None
        """Live only (the live hub sets it): an alert found later than this (the clock
        jumped forward, the hub was stopped) is not sent with every repeat it missed, but
        once, at the step current now. A replay leaves it unset and sends each alert at its
        due time, as a live hub ticking all along would have."""
        self.folded = 0
        """Alerts not sent separately because they were folded into a later one."""

    def opened(self, signal: Signal) -> datetime:
        """A new urgent signal: its first alert is due at once."""
        due = signal.detected_at
        if self._next is None or due < self._next:
            self._next = due
        return due

    def hold(self, signal: Signal, next_alert: datetime) -> None:
        """An urgent signal the register could not take (a store fault): escalate it from
        memory until the store can write again."""
        at = signal.detected_at
        self._held[signal.id] = Entry(
            id=signal.id,
            apartment=signal.apartment,
            kind=signal.kind.value,
            domain=signal.domain.value,
            severity=signal.severity.value,
            status="open",
            opened=at,
            last_detected=at,
            repeats=0,
            assigned_domain=None,
            assigned_role=None,
            verdict=None,
            notes=None,
            escalation_level=0,
            alerts_sent=0,
            next_alert=next_alert,
            body=signal.to_json(),
        )
        if self._next is None or next_alert < self._next:
            self._next = next_alert

    def next_due(self) -> datetime | None:
        return self._next

    @property
    def held(self) -> int:
        """Alerts sent that the register does not know of yet."""
        return len(self._log)

    def refresh(self) -> None:
        """The store can write again: write the alerts sent meanwhile into the register
        (in order) and read the next due alert from it."""
        while self._log:
            sid, level, next_at, target, at = self._log[0]
            try:
                self.register.alerted(sid, level, next_at, target, at)
            except WRITE_ERRORS as err:
                self.register.store.failed(err, "the alert register")
                break
            self._log.pop(0)
        if not self._log:
            self._held.clear()
        self._next = self._read_next()

    def _read_next(self) -> datetime | None:
        try:
            found = self.register.next_alert()
        except WRITE_ERRORS as err:
            self.register.store.failed(err, "the alert register (reading)")
            found = None
        for entry in self._held.values():
            if entry.next_alert is not None and (found is None or entry.next_alert < found):
                found = entry.next_alert
        return found

    def _due(self, now: datetime) -> list[Entry]:
        """Open entries with an alert due by ``now``: the register's, with what memory
        knows newer, and those only memory knows."""
        try:
            stored = self.register.due_alerts(now)
        except WRITE_ERRORS as err:
            self.register.store.failed(err, "the alert register (reading)")
            stored = []
        held = self._held
        out = [held.get(e.id, e) for e in stored]
        seen = {e.id for e in stored}
        out += [e for e in held.values() if e.id not in seen]
        due = [e for e in out if e.next_alert is not None and e.next_alert <= now]
        due.sort(key=lambda e: (e.next_alert, e.id))
        return due

    def tick(self, now: datetime) -> int:
        """Send every alert due by ``now``; returns how many were sent."""
        if self._next is None or self._next > now:
            return 0
        sent = 0
        while True:
            due = self._due(now)
            if not due:
                break
            for entry in due:
                at = entry.next_alert or now
                if self.catch_up is not None and now - at > self.catch_up:
                    at = self._fold(entry, at, now)
                level, next_at = plan(self.config, self._opened(entry), at)
                if entry.alerts_sent + 1 >= self.config.max_alerts:
                    if next_at is not None:
                        logger.error(
                            "Signal %s (%s in %s) still unacknowledged after %d alerts: "
                            "no more alerts; it stays open in the register",
                            entry.id,
                            entry.kind,
                            entry.apartment,
                            self.config.max_alerts,
                        )
                    next_at = None
                step = self.config.chain[level]
                target = step.target
                signal = entry.signal
                for sink in self.sinks:
                    if isinstance(sink, StepAlertSink):
                        sink.alert_step(signal, step, level, entry.alerts_sent + 1, at)
                    else:
                        sink.alert(signal, target, level, entry.alerts_sent + 1, at)
                self._record(entry, level, next_at, target, at)
                sent += 1
                logger.info(
                    "Alert %d for %s %s in %s to %s (level %d)",
                    entry.alerts_sent + 1,
                    entry.kind,
                    entry.id,
                    entry.apartment,
                    target,
                    level,
                )
        self._next = self._read_next()
        return sent

    def _record(
        self, entry: Entry, level: int, next_at: datetime | None, target: str, at: datetime
    ) -> None:
        """Write that an alert was sent; in memory while the register cannot take it."""
        if entry.id not in self._held:
            try:
                self.register.alerted(entry.id, level, next_at, target, at)
            except WRITE_ERRORS as err:
                self.register.store.failed(err, "the alert register")
            else:
                return
        self._held[entry.id] = replace(
            entry, escalation_level=level, alerts_sent=entry.alerts_sent + 1, next_alert=next_at
        )
        self._log.append((entry.id, level, next_at, target, at))

    def _opened(self, entry: Entry) -> datetime:
        if entry.kind == "hub_fault":
            return faults_opened(self.config, entry.opened)
        return entry.opened

    def _fold(self, entry: Entry, due: datetime, now: datetime) -> datetime:
        """``entry``'s alert was due at ``due``, long before ``now``: send one alert now, at
        the step current now, instead of every repeat missed in between. Returns ``now``."""
        missed = 0
        at: datetime | None = due
        while at is not None and at <= now:
            missed += 1
            at = plan(self.config, self._opened(entry), at)[1]
        self.folded += missed - 1
        late = (now - due).total_seconds() / 60
        if missed == 1:
            logger.warning("Alert for %s sent %.0f min late", entry.id, late)
        else:
            logger.warning(
                "Alert for %s (%s in %s) was due at %s, %.0f min ago (the clock jumped or the "
                "hub could not send): %d missed alerts sent as one now",
                entry.id,
                entry.kind,
                entry.apartment,
                due.isoformat(),
                late,
                missed,
            )
        return now
