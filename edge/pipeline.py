"""The one code path every message takes, live or replayed.

message -> normalise -> drop QoS-1 repeats -> clock guard -> event log -> timers due
-> apartment state -> detectors -> router (id, consent, register, sinks).

Only where messages and the clock come from differs between live and replay: the
caller hands messages to :meth:`Hub.handle` and, live, calls :meth:`Hub.advance` as
event time moves on without messages.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from edge.clock import ClockGuard
from edge.config import Config
from edge.contract import (
    NOTHING,
    Candidate,
    Detector,
    DetectorKit,
    EventStep,
    Found,
    Resolution,
    StepGroup,
)
from edge.decode import decode_json, encode_payload
from edge.dues import Dues
from edge.escalation import AlertSink, Escalator
from edge.features import DailyFeatures, DayFeatures
from edge.isolation import FLAT, Quarantine, urgent_first
from edge.models import (
    COMMON_APARTMENT,
    Message,
    Room,
    SensorEvent,
    Signal,
    SignalKind,
    signal_id,
)
from edge.naming import Place, unroled_sos
from edge.normalise import normalise
from edge.register import Outcome, Register
from edge.state import FlatState
from edge.store import WRITE_ERRORS, Store, reason_kind, state_json, writable

logger = logging.getLogger(__name__)

SAVE_EVERY = timedelta(minutes=10)
SAVE_MIN_WALL_S = 10.0
PRUNE_EVERY = timedelta(hours=6)
_NOT_UNICODE = "%s: not valid Unicode text (a lone surrogate, as a JSON escape \\ud800 gives)"
READINGS = frozenset(SensorEvent.model_fields) - {
    "ts",
    "received",
    "apartment",
    "room",
    "device",
    "sensor_id",
}
"""What an event may carry, by which it is dispatched (:attr:`Detector.takes`)."""

Steps = list[tuple[EventStep, tuple[str, ...]]]
"""What runs for one event: each step, and the detectors it stands for (their names:
where the due it returns is noted)."""


def _packed(text: str) -> bytes:
    """``text`` as compressed UTF-8 (fast: it is made at every save)."""
    return zlib.compress(text.encode(), 1)


def subscribes(det: Detector, room: Room, kinds: frozenset[str]) -> bool:
    """Whether ``det`` takes an event in ``room`` carrying the readings ``kinds``.

    >>> from types import SimpleNamespace
    >>> fall = SimpleNamespace(takes=frozenset({"fall"}), takes_rooms=None)  # as detectors.fall
    >>> subscribes(fall, Room.HALL, frozenset({"fall", "linkquality"}))
    True
    >>> subscribes(fall, Room.HALL, frozenset({"occupancy", "battery"}))
    False
    """
    takes, rooms = det.takes, det.takes_rooms
    return (takes is None or not takes.isdisjoint(kinds)) and (rooms is None or room in rooms)


class FeatureSink(Protocol):
    """Where each apartment's finished day goes (InfluxDB, trend detectors)."""

    def features(self, day: DayFeatures) -> None:
        """One apartment's day."""

    def day_closed(self, day: date) -> None:
        """Every apartment's record of ``day`` was handed over."""


class ScoreSink(Protocol):
    """Where the detectors' scores go at each day's close (the history)."""

    def detector_scores(self, day: date, scores: dict[str, dict[str, dict[str, float]]]) -> None:
        """``{detector: {apartment: {name: value}}}`` as the detectors stand at the end of
        ``day`` (after its on_day round); detectors with nothing to show are left out."""


class SignalSink(Protocol):
    """Where raised signals go (a file, MQTT, the terminal, a test's list).

    A sink may also have ``closed(signal, key)``: the hub closed a signal by itself
    because its condition cleared (``signal`` is the register's latest body with
    ``status``, ``closed_at`` and ``reason``; ``key`` is its outbox key). Sinks without it
    (the ``--signals-out`` file: one object per signal) are not told."""

    def emit(self, signal: Signal) -> None: ...

    def close(self) -> None: ...


@dataclass
class Stats:
    messages: int = 0
    events: int = 0
    ignored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)
    partial: int = 0
    signals: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    repeats: int = 0
    upgraded: int = 0
    """Repeats that confirmed an open signal (a sensor's fall over a silence's): paged again."""
    alerts: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    """Signals the hub closed by itself (their condition cleared), by kind."""

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class _AlertCounter:
    def __init__(self, stats: Stats) -> None:
        self.stats = stats

    def alert(self, signal: Signal, target: str, level: int, attempt: int, at: datetime) -> None:
        self.stats.alerts[target] += 1


def signal_topic(base: str, flat: str, signal: Signal) -> str:
    """``thuisplus/<flat>/signal/<apartment>/<kind>``."""
    return f"{base}/{flat}/signal/{signal.apartment}/{signal.kind.value}"


# long: not yet split: its state, routing and housekeeping in one class (issue 19)
class Hub:
    """Normalises, keeps, tracks and detects; raises signals to its sinks.

    It runs the detectors of ``kit`` (the registered ones, or those named in
    ``detectors``) through their contract (:mod:`edge.contract`); :func:`edge.app.build_hub`
    hands it the built-in ones."""

    # edge/app.py hands it its detectors (issue 19's composition root)
    # long: not yet split: the hub's own parts, made in one place
    def __init__(
        self,
        config: Config,
        store: Store,
        kit: DetectorKit,
        sinks: Iterable[SignalSink] = (),
        detectors: Iterable[str] | None = None,
        alert_sinks: Iterable[AlertSink] = (),
        feature_sinks: Iterable[FeatureSink] = (),
        score_sinks: Iterable[ScoreSink] = (),
    ) -> None:
        self.config = config
        self.store = store
        self.sinks = list(sinks)
        self.stats = Stats()
        self.register = Register(store)
        self.escalator = Escalator(config.alerts, self.register)
        self.escalator.sinks.extend(alert_sinks)
        self.escalator.sinks.append(_AlertCounter(self.stats))
        self.clock = ClockGuard(config.clock)
        self.names = config.device_names()
        """Where each Zigbee2MQTT device is (the config's map, bridge/devices, its name)."""
        self.roles = config.device_roles()
        self.ignored_devices = config.ignored_sensors()
        self._buttons_seen: set[str] = set()
        self.state = FlatState(config.state, self.roles)
        tz = self._tz = config.tz
        self.features = DailyFeatures(tz, config.state.active_power_w, self.roles)
        self.features.quiet_limit = self._quiet_limit
        self.feature_sinks = list(feature_sinks)
        self.score_sinks = list(score_sinks)
        known = kit.classes
        self._combine = kit.combine
        self._render = kit.render
        # the urgent sources see each event first (a fault elsewhere cannot delay them)
        names = urgent_first(list(known) if detectors is None else list(detectors))
        self.detectors: list[Detector] = []
        self._cleared: list[Resolution] = []
        """Resolutions returned in this message's stage, closed at its end (_resolve)."""
        self.dues = Dues()
        """The one schedule: when each detector wants its on_tick (edge/dues.py)."""
        residents = config.residents()
        for name in names:
            cls = known[name]
            det = cls(
                lambda apt, n=name: config.detector_settings(n, apt),  # type: ignore[misc]
                tz=tz,
                roles=self.roles,
                residents=residents,
            )
            if det.takes is not None and not det.takes <= READINGS:
                raise ValueError(f"{name} takes {sorted(det.takes - READINGS)}: no such reading")
            self.detectors.append(det)
        self._consent: dict[tuple[str, str], bool] = {}
        self._active: dict[str, dict[tuple[Room, frozenset[str]], Steps]] = {}
        """Per apartment, and per room and readings of an event (its kind), what runs for
        it: the detectors that subscribe to them (made when first needed)."""
        self.quarantine = Quarantine()
        """Detectors that failed, per apartment: not called there again (edge/isolation.py)."""
        self._kinds: dict[frozenset[str], frozenset[str]] = {}
        """One of each set of readings an event carried (the routes' keys share them)."""
        self._step_lists: dict[tuple[Any, ...], Steps] = {}
        """Each list of steps an apartment's route was made of, shared by all apartments."""
        self._unshared: set[str] = set()
        """Apartments whose silence detectors run one by one (their shared step failed)."""
        self._saved_detectors: dict[str, bytes] = {}
        """Each detector's last saved state as JSON text, zlib-compressed (kept for one that
        fails to give its state; a month-old flat's is megabytes of text)."""
        self._base = config.mqtt.zigbee_base_topic
        self._bridge = {
            f"{self._base}/bridge/devices": self.names.learn_devices,
            f"{self._base}/bridge/groups": self.names.learn_groups,
        }
        self._out_base = config.mqtt.base_topic
        self._lang = config.language
        self._due: datetime | None = None
        self.deferred_housekeeping = False
        """Live: the state save (tens of milliseconds for a large flat) and the pruning
        never run inside :meth:`handle`, where they would delay the signal a message
        raised; the live hub calls :meth:`housekeeping` between messages."""
        self._next_save: datetime | None = None
        self._next_prune: datetime | None = None
        self._saved_wall = time.monotonic()
        self._feedback_seen = 0
        # signals raised while the store could not write: sent on, kept here until it can
        self.unsaved: list[tuple[Signal, str, datetime | None]] = []
        self._replaying = False
        self._received: float | None = None
        """The latest receive time of an event handled (saved: the tail replay after a
        hard stop takes every event received after it)."""
        self.owns: Callable[[str], bool] | None = None
        """A replay shard (edge/replay.py): the apartments this hub keeps. Events of the
        others only move the flat's clock and timers here (``common``'s also its state and
        day features); their signals, counts and dead letters are another shard's."""
        self.stage = ""
        """Where the signals being raised come from: ``day``, ``tick`` or ``event`` (a
        replay shard's merge order)."""
        self._restore()

    def _quiet_limit(self, apartment: str, sensor_id: str) -> timedelta | None:
        """How long this sensor may be silent by its own reporting rhythm (None: unknown)."""
        st = self.state.apartments.get(apartment)
        sensor = st.sensors.get(sensor_id) if st is not None else None
        return sensor.quiet_limit() if sensor is not None else None

    # --- state -------------------------------------------------------------------------

    def _restore(self) -> None:
        saved = self.store.load_state()
        clock = saved.get("clock") if saved else None
        if saved:
            if "state" in saved:
                self.state.load(saved["state"])
            if "features" in saved:
                self.features.load_state(saved["features"])
            if "names" in saved:
                self.names.load_state(saved["names"])
            for det in self.detectors:
                if det.name in saved.get("detectors", {}):
                    body = saved["detectors"][det.name]
                    try:
                        det.load_state(body)
                    except Exception as err:  # (a damaged state must not stop the alarm)
                        self.quarantine.note(det.name, "load_state (it starts afresh)", err)
                    self._saved_detectors[det.name] = _packed(state_json(body))
            self._feedback_seen = int(saved.get("feedback_seen", 0))
            if clock:
                self.clock.now = datetime.fromisoformat(clock)
            logger.info("Restored state saved at event time %s", clock)
        self._ask_dues(self.detectors)
        self._recompute_due()
        received = saved.get("received") if saved else None
        if isinstance(received, int | float):
            self._received = float(received)
        if clock and isinstance(received, int | float):
            # every event handled after the save, the late ones too (event time before
            # the saved clock, by at most what the clock guard lets in)
            late = self.config.clock.max_late_hours * 3600
            self._replay_tail(datetime.fromisoformat(clock).timestamp() - late, received)
        else:  # a state saved before the receive time was kept: by event time only
            self._replay_tail(datetime.fromisoformat(clock).timestamp() if clock else None)

    def _replay_tail(self, after: float | None, received: float | None = None) -> None:
        """The state is saved every few minutes; after a hard stop (SIGKILL, power cut) the
        events kept since the last save are replayed from the event log, so the apartment
        model and the detectors are where they were. A signal raised before the stop is
        known to the register and not raised again; one that was not is raised now."""
        if not self.config.store.keep_raw_events:
            return
        rows = self.store.events_after(after, received)
        if not rows:
            return
        self._replaying = True
        limits = self.config.limits.limits().around()
        try:
            for topic, received, text in rows:
                try:
                    payload = decode_json(text, limits)
                except ValueError:  # (NotJson, LimitError: the normaliser says why)
                    payload = text
                when = datetime.fromtimestamp(received, UTC)
                self.handle(Message(when, topic, payload, "event log"))
        finally:
            self._replaying = False
        raised = sum(self.stats.signals.values())
        logger.warning(
            "Replayed %d events kept after the last saved state (the hub had not stopped "
            "cleanly); %d signals raised that had not been",
            len(rows),
            raised,
        )
        fresh = Stats()
        for name in ("messages", "events", "ignored", "duplicates", "partial", "suppressed"):
            setattr(self.stats, name, getattr(fresh, name))
        self.stats.repeats = 0
        self.stats.upgraded = 0

    def save(self) -> None:
        """Save the apartment state, the detectors' state and the clock, each part made
        and written as JSON in turn (only one part's values are alive at a time)."""
        self.store.save_state_texts(
            {
                "state": self.state.to_json,
                "features": lambda: state_json(self.features.state_dict()),
                "names": lambda: state_json(self.names.state_dict()),
                "detectors": self._detector_texts,
                "clock": lambda: state_json(self.clock.now.isoformat() if self.clock.now else None),
                "received": lambda: state_json(self._received),
                "feedback_seen": lambda: state_json(self._feedback_seen),
            }
        )

    def _detector_texts(self) -> str:
        """Each detector's state, as one JSON object (the same text as ``json.dumps`` of
        them all, sorted); one that cannot give its state keeps its last saved one."""
        out: dict[str, str] = {}
        kept: dict[str, bytes] = {}
        for det in self.detectors:
            try:
                out[det.name] = det.state_text()
                kept[det.name] = _packed(out[det.name])
            except Exception as err:
                self.quarantine.note(det.name, "state_dict (its last saved state is kept)", err)
                if det.name in self._saved_detectors:
                    kept[det.name] = self._saved_detectors[det.name]
                    out[det.name] = zlib.decompress(kept[det.name]).decode()
        self._saved_detectors = kept
        return "{" + ", ".join(f"{state_json(name)}: {out[name]}" for name in sorted(out)) + "}"

    def close(self) -> None:
        self.save()
        self.store.flush()

    def recover(self) -> bool:
        """After a store fault: reopen the store, write what waited, the signals raised
        meanwhile included (into the register and the outbox). True when healthy again."""
        if not self.store.retry():
            return False
        while self.unsaved:
            sig, topic, next_alert = self.unsaved[0]
            try:
                with self.store.transaction():
                    outcome = self.register.raise_signal(sig, next_alert=next_alert)
                    self.store.add_signal(sig, topic)
            except WRITE_ERRORS as err:
                self.store.failed(err, "a signal")
                return False
            self.unsaved.pop(0)
            logger.warning("Signal %s raised during the store fault now kept (%s)", sig.id, outcome)
        self.escalator.refresh()
        self._recompute_due()
        self.save()
        return self.store.fault is None

    def apply_feedback(self) -> int:
        """Hand the signal meeting's new verdicts to the detectors that raised the signals;
        what they change is kept in the signal's audit trail. Returns the verdicts read."""
        closed = self.register.closed_since(self._feedback_seen)
        by_name = {d.name: d for d in self.detectors}
        for audit_id, entry, verdict in closed:
            self._feedback_seen = max(self._feedback_seen, audit_id)
            det = by_name.get(str(entry.signal.evidence.get("detector", "")))
            if det is None:
                continue
            change = det.feedback(entry.apartment, verdict)
            if change:
                self.register.note(
                    entry.id, "feedback", {"detector": det.name, "change": change}, self.clock.now
                )
                logger.info("Feedback on %s in %s: %s", det.name, entry.apartment, change)
        if closed:
            self._ask_dues(self.detectors)  # (a verdict may move a due: no_wake's margin)
            self._recompute_due()
        return len(closed)

    def raise_hub_fault(
        self, at: datetime, summary: dict[str, str], evidence: dict[str, object], key: str = ""
    ) -> Signal | None:
        """The hub's own urgent fault (a crash loop, an alarm path down): a ``hub_fault``
        signal for the flat's ``common`` apartment, in the register and paged like any
        urgent signal, from the step of ``alerts.faults_from`` on. Live only (wall time)."""
        cand = Candidate(
            kind=SignalKind.HUB_FAULT,
            apartment=COMMON_APARTMENT,
            start=at,
            detected_at=at,
            summary=summary,
            evidence=evidence,
            key=key,
        )
        sig = self._route(cand, "hub")
        self._recompute_due()
        return sig

    # --- the path ----------------------------------------------------------------------

    def reject(self, source: str, topic: str | None, payload: object, reason: str) -> None:
        """Keep a message that cannot be used, with its reason; count it."""
        reason = writable(reason)
        kind = reason_kind(reason)
        self.stats.rejected[kind] += 1
        self.stats.examples.setdefault(kind, f"{source}: {reason}")
        self.stats.latest[kind] = f"{source}: {reason}"
        self.store.add_dead_letter(source, topic, payload, reason, self.clock.now)
        logger.debug("Rejected %s (%s): %s", source, topic, reason)

    # long: the one path of a message, in its order
    def handle(self, message: Message) -> list[Signal]:
        """Take one message through the whole path; returns the signals it raised."""
        stats = self.stats
        stats.messages += 1
        if not message.topic.isascii() and writable(message.topic) != message.topic:
            self.reject(message.source, message.topic, message.payload, _NOT_UNICODE % "topic")
            return []
        learn = self._bridge.get(message.topic)
        if learn is not None:
            self._learn_names(message, learn)
            return []
        result = normalise(message, self._base, self.names)
        if result.ignored:
            if self.owns is None or self._keeps(message.topic):
                stats.ignored += 1
            return []
        event = result.event
        if event is None:
            if self.owns is None or self._keeps(message.topic):
                self.reject(message.source, message.topic, message.payload, result.reason)
            place = self._place_of(message.topic)
            if place is not None:
                self.state.unreadable(place.sensor_id, message.received)
            return []
        mine = self.owns is None or self.owns(event.apartment)
        if self.ignored_devices and event.sensor_id in self.ignored_devices:
            if mine:
                reason = "config: device ignored"
                self.reject(message.source, message.topic, message.payload, reason)
            return []
        payload = message.payload
        text = payload if isinstance(payload, str) else encode_payload(payload)
        try:
            raw = text.encode()
        except UnicodeEncodeError:
            if mine:
                self.reject(message.source, message.topic, payload, _NOT_UNICODE % "payload")
            return []
        received = message.received.timestamp()
        if self.store.is_repeat(message.topic, text, received):
            if mine:
                stats.duplicates += 1
            return []
        verdict = self.clock.check(event.ts)
        if not verdict.accepted:
            if mine:
                self.reject(message.source, message.topic, payload, verdict.reason)
            return []
        if not mine:
            return self._pass_by(event, received)
        if result.problems:
            stats.partial += 1
            self.store.add_dead_letter(
                message.source,
                message.topic,
                payload,
                f"partial: used the rest of the message ({'; '.join(result.problems)})",
                self.clock.now,
            )
        stats.events += 1
        # (without last_seen the event time is the receive time, the same object)
        ts = received if event.ts is message.received else event.ts.timestamp()
        self.store.add_event(message.topic, ts, received, text, raw)
        if self._received is None or received > self._received:
            self._received = received
        now = self.clock.now
        due = self._due
        out = self._timers(now) if due is not None and now is not None and due <= now else []
        if event.action is not None and event.sensor_id not in self._buttons_seen:
            self._button_pressed(event)
        meant = self.state.apply(event)
        apt = event.apartment
        self.features.observe(event, meant, self.state.apartments[apt])
        routes = self._active.get(apt)
        if routes is None:
            routes = self._active[apt] = {}
        kind = (event.room, READINGS.intersection(event.__pydantic_fields_set__))
        active = routes.get(kind)
        if active is None:
            kind = (kind[0], self._kinds.setdefault(kind[1], kind[1]))
            active = routes[kind] = self._steps(apt, *kind)
        state = self.state
        self.stage = "event"
        for step, names in active:
            try:
                found = step.on_event(event, state)
            except Exception as err:
                found = self._step_failed(step, event, err)
            if found is NOTHING:
                continue
            for cand in found.candidates:
                sig = self._route(cand, step.name)
                if sig is not None:
                    out.append(sig)
            if found.resolutions:
                self._cleared.extend(found.resolutions)
            due = found.due
            if due is not None:
                for name in names:
                    self.dues.note(name, due)
        if self._cleared:
            self._resolve()
        self._recompute_due(exact=False)
        if not self.deferred_housekeeping:
            self.housekeeping()
        return out

    def _pass_by(self, event: SensorEvent, received: float) -> list[Signal]:
        """An accepted event of an apartment another replay shard keeps: event time moves
        on here as in one process (the timers of this shard's apartments come due at the
        same message); ``common``'s movement also reaches the state and the day features
        (every apartment's ``common_room_minutes``), its detectors run in one shard only."""
        if self._received is None or received > self._received:
            self._received = received
        now = self.clock.now
        due = self._due
        out = self._timers(now) if due is not None and now is not None and due <= now else []
        if event.apartment == COMMON_APARTMENT:
            meant = self.state.apply(event)
            self.features.observe(event, meant, self.state.apartments[event.apartment])
            self._recompute_due(exact=False)
        if not self.deferred_housekeeping:
            self.housekeeping()
        return out

    def _keeps(self, topic: str) -> bool:
        """A replay shard: whether a message that names no apartment yet (a dead letter, a
        topic without sensor data) is counted and kept here (one shard each, by topic)."""
        parts = topic.split("/", 2)
        return self.owns is None or self.owns(parts[1] if len(parts) > 1 else "")

    def _button_pressed(self, event: SensorEvent) -> None:
        """The first press of each button: one named like an alarm button without the role
        ``sos_button`` is said in the log (a plain press of it raises no SOS)."""
        self._buttons_seen.add(event.sensor_id)
        if unroled_sos([event.sensor_id], self.roles):
            logger.warning(
                "%s is named like an alarm button but has no role sos_button: a plain press "
                "raises no SOS (set it under devices: in the config; thuisplus doctor lists "
                "such buttons)",
                event.sensor_id,
            )

    def _place_of(self, topic: str) -> Place | None:
        """The device behind ``topic`` by the hub's names (the config's map, Zigbee2MQTT's
        own, the convention with Dutch rooms), as its readable messages are placed."""
        prefix = self._base + "/"
        if not topic.startswith(prefix):
            return None
        found = self.names.place(topic[len(prefix) :])
        return found if isinstance(found, Place) else None

    def _learn_names(self, message: Message, learn: Callable[[Any], list[str]]) -> None:
        """Zigbee2MQTT's device or group list: where its devices are (edge/naming.py)."""
        problems = learn(message.payload)
        if not self._keeps(message.topic):
            return  # (a replay shard: learned here too, counted and kept by one)
        self.stats.ignored += 1
        if problems:
            shown = "; ".join(problems[:5]) + (
                f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            )
            size = len(message.payload) if isinstance(message.payload, list) else 0
            self.store.add_dead_letter(
                message.source,
                message.topic,
                f"({size} entries; the list itself is not kept)",
                f"partial: used the rest ({shown})",
                self.clock.now,
            )
        self.roles.update(self.names.roles())

    def _steps(self, apt: str, room: Room, kinds: frozenset[str]) -> Steps:
        """What runs for an event of ``apt`` in ``room`` carrying ``kinds``: the detectors
        that subscribe to it (:func:`subscribes`), urgent sources first, the quarantined
        left out; the silence detectors taken together unless that once failed here. With
        each step, the names of the detectors it stands for."""
        blocked = self.quarantine.blocked
        steps: list[EventStep] = [
            d
            for d in self.detectors
            if d.per_event
            and subscribes(d, room, kinds)
            and self._consents(apt, d.name)
            and not blocked(d.name, apt)
        ]
        if apt not in self._unshared:
            steps = self._combine(steps)
        # one list for every apartment with the same steps (a group holds nothing else)
        key = tuple(
            (type(s), s.detectors) if isinstance(s, StepGroup) else (type(s), (s,)) for s in steps
        )
        same = self._step_lists.get(key)
        if same is None:
            same = self._step_lists[key] = [
                (s, tuple(d.name for d in s.detectors) if isinstance(s, StepGroup) else (s.name,))
                for s in steps
            ]
        return same

    def _step_failed(self, step: EventStep, event: SensorEvent, err: Exception) -> Found:
        """``step`` raised on ``event``: quarantine it for the apartment. When it was the
        silence detectors' shared step, each of them runs on the event again by itself (the
        one at fault is then quarantined alone) and from now on one by one here."""
        apt = event.apartment
        cands: list[Candidate] = []
        cleared: list[Resolution] = []
        if isinstance(step, StepGroup):
            self._unshared.add(apt)
            for det in step.detectors:
                try:
                    found = det.on_event(event, self.state)
                except Exception as inner:
                    self.quarantine.failed(det.name, apt, "on_event", inner)
                    continue
                cands += found.candidates
                cleared += found.resolutions
                if found.due is not None:
                    self.dues.note(det.name, found.due)
            if not any(self.quarantine.blocked(d.name, apt) for d in step.detectors):
                # (the shared step failed where none of its detectors does alone)
                logger.error("The shared silence step failed in %s", apt, exc_info=err)
        else:
            self.quarantine.failed(step.name, apt, "on_event", err)
        self._active.pop(apt, None)
        return Found(tuple(cands), tuple(cleared)) if cands or cleared else NOTHING

    def _call(self, det: Detector, hook: str, apartment: str, *args: object) -> Found:
        """``det.<hook>(*args)``, isolated: a failure quarantines ``det`` for ``apartment``."""
        try:
            found: Found = getattr(det, hook)(*args)
        except Exception as err:
            self._quarantined(det, apartment, hook, err)
            return NOTHING
        return found

    def _ask_dues(self, dets: Iterable[Detector]) -> None:
        """Note each detector's own next due in the schedule (at start, after a verdict)."""
        for det in dets:
            due = self._next_due_of(det)
            if due is not None:
                self.dues.note(det.name, due)

    def _next_due_of(self, det: Detector) -> datetime | None:
        if self.quarantine.blocked(det.name, FLAT):
            return None
        try:
            return det.next_due()
        except Exception as err:
            self._quarantined(det, FLAT, "next_due", err)
            return None

    def _quarantined(self, det: Detector, apartment: str, hook: str, err: Exception) -> None:
        self.quarantine.failed(det.name, apartment, hook, err)
        if apartment == FLAT:
            self._active.clear()
            self.dues.drop(det.name)
        else:
            self._active.pop(apartment, None)

    def advance(self, now: datetime) -> list[Signal]:
        """Event time moved on to ``now`` without a message (live ticks)."""
        if self.clock.now is None or now <= self.clock.now:
            return []
        self.clock.now = now
        out = self._timers(now) if self._due is not None else []
        self.housekeeping()
        return out

    def _timers(self, now: datetime | None) -> list[Signal]:
        due = self._due
        if now is None or due is None or due > now:
            return []
        self.state.advance(now)
        out: list[Signal] = []
        day_end = self.features.next_due()
        if day_end is not None and day_end <= now:
            closed = self.features.advance(now)
            for fsink in self.feature_sinks:
                for day in closed:
                    fsink.features(day)
                for finished in sorted({d.day for d in closed}):
                    fsink.day_closed(finished)
            blocked = self.quarantine.blocked
            self.stage = "day"
            for det in self.detectors:
                for day in closed:
                    if not blocked(det.name, day.apartment):
                        found = self._call(det, "on_day", day.apartment, day, self.state)
                        if found is not NOTHING:
                            self._offer(det, found, out)
            if closed and self.score_sinks:
                self._scores(max(d.day for d in closed))
        esc = self.escalator.next_due()
        if esc is not None and esc <= now and not self._replaying:
            try:
                self.escalator.tick(now)
            except WRITE_ERRORS as err:
                self.store.failed(err, "the alert register")
        self.stage = "tick"
        take = self.dues.take
        for det in self.detectors:
            if take(det.name, now):
                found = self._call(det, "on_tick", FLAT, now, self.state)
                if found is not NOTHING:
                    self._offer(det, found, out)
        if self._cleared:
            self._resolve()
        self._recompute_due()
        return out

    def _resolve(self) -> None:
        """Close the signals whose condition cleared by itself (the detectors said so and
        their ``auto_close`` allowed it): in the register when still ``open`` (audit trail,
        reason in both languages), then out to the sinks that take closings and, through
        the outbox, on the signal's own topic with ``status: closed`` and the reason."""
        flat = self.config.flat
        cleared, self._cleared[:] = list(self._cleared), []
        for res in cleared:
            sid = signal_id(flat, res.apartment, res.kind.value, res.start, res.key)
            try:
                # the closing in the register and its message in the outbox: both or none
                with self.store.transaction():
                    entry = self.register.resolve_auto(
                        sid, res.apartment, res.kind.value, res.at, res.reason, self._lang
                    )
                    if entry is None:
                        continue
                    sig = entry.signal.model_copy(
                        update={
                            "status": "closed",
                            "closed_at": res.at.astimezone(self._tz),
                            "reason": self._render(res.reason, self._lang),
                        }
                    )
                    key = f"{sig.id}:closed"
                    topic = signal_topic(self._out_base, flat, sig)
                    self.store.queue_message(key, topic, sig.to_json())
            except WRITE_ERRORS as err:
                self.store.failed(err, "closing a signal")
                continue
            self.stats.closed[sig.kind.value] += 1
            for sink in self.sinks:
                closed = getattr(sink, "closed", None)
                if closed is not None:
                    closed(sig, key)

    def _offer(self, det: Detector, found: Found, out: list[Signal]) -> None:
        """Route what ``det`` raised, for the apartments that consent to it, into ``out``;
        keep what cleared for :meth:`_resolve` and note its due."""
        if found.due is not None:
            self.dues.note(det.name, found.due)
        if found.resolutions:
            self._cleared.extend(found.resolutions)
        blocked = self.quarantine.blocked
        owns = self.owns
        for cand in found.candidates:
            if owns is not None and not owns(cand.apartment):
                continue  # (a replay shard: another one raises it)
            if self._consents(cand.apartment, det.name) and not blocked(det.name, cand.apartment):
                sig = self._route(cand, det.name)
                if sig is not None:
                    out.append(sig)

    def _scores(self, day: date) -> None:
        """Every detector's scores, once per closed day (the latest, when several close at
        once), after the day's on_day round so trend baselines include it; only for the
        apartments that consent to the detector, like its signals."""
        scores = {}
        for det in self.detectors:
            try:
                found = det.scores()
            except Exception:
                logger.exception("Detector %s: scores() failed; left out of the history", det.name)
                continue
            kept = {apt: v for apt, v in found.items() if self._consents(apt, det.name)}
            if kept:
                scores[det.name] = kept
        if scores:
            for ssink in self.score_sinks:
                ssink.detector_scores(day, scores)

    def _recompute_due(self, exact: bool = True) -> None:
        """The earliest time anything may come due: the detectors' schedule, the state's
        and the day features' timers, the next alert. After an event (``exact`` false) the
        schedule's soonest is not worked out again: a due that moved later (or was taken
        by a tick) leaves it early, which only makes :meth:`_timers` look once in vain."""
        if exact:
            self.dues.settle()
        due = self.dues.soonest
        state_due = self.state.next_due()
        if state_due is not None and (due is None or state_due < due):
            due = state_due
        day_end = self.features.next_due()
        if day_end is not None and (due is None or day_end < due):
            due = day_end
        esc = self.escalator.next_due()
        if esc is not None and (due is None or esc < due):
            due = esc
        self._due = due

    @property
    def next_due(self) -> datetime | None:
        """The earliest event time at which something comes due (or a little earlier: a
        detector's due that moved later since it was given)."""
        self._recompute_due()
        return self._due

    def housekeeping(self) -> None:
        """Save the state and prune old rows when they are due (the live hub calls this
        between messages, with :attr:`deferred_housekeeping` set)."""
        now = self.clock.now
        if now is None:
            return
        if self._next_save is None:
            self._next_save = now + SAVE_EVERY
            self._next_prune = now + PRUNE_EVERY
            return
        if now >= self._next_save:
            # event time says it is time; wall time keeps a fast replay from saving too often
            self._next_save = now + SAVE_EVERY
            wall = time.monotonic()
            if wall - self._saved_wall >= SAVE_MIN_WALL_S:
                self._saved_wall = wall
                self.save()
        if self._next_prune is not None and now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            self.store.prune(now)

    def _consents(self, apartment: str, detector: str) -> bool:
        key = (apartment, detector)
        found = self._consent.get(key)
        if found is None:
            found = self._consent[key] = self.config.consents(apartment, detector) and (
                self.config.detector_settings(detector, apartment).enabled
            )
        return found

    # long: not yet split: routing rules in their order (issue 19)
    def _route(self, cand: Candidate, detector: str) -> Signal | None:
        flat = self.config.flat
        tz = self._tz
        sig = Signal(
            id=signal_id(flat, cand.apartment, cand.kind.value, cand.start, cand.key),
            flat=flat,
            apartment=cand.apartment,
            kind=cand.kind,
            domain=cand.domain,
            severity=cand.severity,
            start=cand.start.astimezone(tz),
            detected_at=cand.detected_at.astimezone(tz),
            summary=self._render(cand.summary, self._lang),
            # (English beside the flat's Dutch: an English agenda or page reads it)
            summary_en=self._render(cand.summary, "en") if self._lang != "en" else None,
            evidence={"detector": detector, **cand.evidence},
        )
        topic = signal_topic(self._out_base, flat, sig)
        urgent = sig.severity.value == "urgent"
        next_alert = sig.detected_at if urgent else None
        self.store.flush()  # the events before it, so the event log keeps its order
        outcome: Outcome | None = None
        added = False
        try:
            # the register entry, the signal and its outbox entry: all kept, or none
            with self.store.transaction():
                outcome = self.register.raise_signal(sig, next_alert=next_alert)
                if outcome is Outcome.NEW:
                    added = self.store.add_signal(sig, topic)
        except WRITE_ERRORS as err:
            self.store.failed(err, "a signal")
            outcome = None
        if outcome is None:
            # the store cannot write: the signal still goes out (a page twice beats none);
            # the register and the outbox get it when the store can write again
            self.unsaved.append((sig, topic, next_alert))
            self.stats.signals[sig.kind.value] += 1
            logger.error(
                "Signal %s %s for %s raised while the store cannot write: sent, kept in memory",
                sig.kind.value,
                sig.id,
                sig.apartment,
            )
            for sink in self.sinks:
                sink.emit(sig)
            if urgent and next_alert is not None:
                # its alert chain runs from memory until the register can take it
                self.escalator.hold(sig, next_alert)
                if not self._replaying:
                    self.escalator.tick(sig.detected_at)
            return sig
        if outcome is Outcome.KNOWN:
            self.stats.suppressed += 1  # raised before (a replay over kept state)
            return None
        if outcome is Outcome.REPEAT:
            self.stats.repeats += 1  # the open signal was updated; nobody is paged again
            return None
        if outcome is Outcome.UPGRADED:
            # a sensor confirms an open "possible fall": out again, its alert due at once
            self.stats.upgraded += 1
            logger.info("Signal %s confirms the open %s in %s", sig.id, sig.kind, sig.apartment)
            for sink in self.sinks:
                sink.emit(sig)
            self.escalator.opened(sig)
            if not self._replaying:
                self.escalator.tick(sig.detected_at)
            return sig
        if not added:
            self.stats.suppressed += 1
            return None
        self.stats.signals[sig.kind.value] += 1
        logger.info(
            "Signal %s %s %s for %s at %s",
            sig.severity.value,
            sig.kind.value,
            sig.id,
            sig.apartment,
            sig.detected_at.isoformat(),
        )
        for sink in self.sinks:
            sink.emit(sig)
        if urgent:
            self.escalator.opened(sig)
            if not self._replaying:  # alerts go out live, once the hub runs
                self.escalator.tick(sig.detected_at)
        return sig
