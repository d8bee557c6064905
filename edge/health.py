"""The live hub's health: what is wrong now, judged on every tick of the live loop and
published retained on ``<base>/<flat>/hub/health`` (``docs/faults.md``).

:class:`Health` owns the faults (name -> one line for the installer) and the counters
behind them: sensor topics flapping, messages quarantined by the stream clock, a backlog
at the broker (a probe's round trip), the store unable to write, quarantined detectors,
retained messages the hub refuses, messages over the input limits, messages and timed
work the hub failed on. The MQTT transport (:class:`edge.mqtt.LiveHub`) tells it what
happened and hands it a way to publish; it never decides what a fault is.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edge.decode import excerpt
from edge.store import WRITE_ERRORS

if TYPE_CHECKING:
    from edge.config import Config
    from edge.pipeline import Hub

logger = logging.getLogger(__name__)

HEALTH_EVERY_S = 30.0  # the health topic is refreshed this often, and on every change
WINDOW_S = 5.0  # flapping sensors and quarantined clocks are judged over this window
STORE_RETRY_S = 2.0  # while the store cannot write, try again this often

Publish = Callable[[str, str, bool], None]
"""``(topic, body, retain)``: publish at QoS 1 (the transport's)."""


def health_topic(config: Config) -> str:
    return f"{config.mqtt.base_topic}/{config.flat}/hub/health"


def probe_topic(config: Config) -> str:
    """The hub's own probe: a message to itself through the broker, behind whatever
    waits there, times how far behind the sensor messages are (``mqtt.behind_s``)."""
    return f"{config.mqtt.base_topic}/{config.flat}/hub/probe"


# long: one fault book: each fault's judging, its counters and the report stay together
class Health:
    """What is wrong with the live hub now, and the counters the health topic shows."""

    def __init__(self, hub: Hub, config: Config, publish: Publish) -> None:
        self.hub = hub
        self.config = config
        self._publish = publish
        self.topic = health_topic(config)
        self.probe = probe_topic(config)
        self.faults: dict[str, str] = {}
        """What is wrong now: fault name -> one line for the installer."""
        self.flapping: dict[str, float] = {}
        """Sensor topics over ``mqtt.flapping_per_s`` in the last window -> messages/s."""
        self.poison: dict[str, str] = {}
        """Topics where the broker holds a retained message the hub refuses -> why."""
        self.over_limits = 0
        """Messages refused for being over the input limits (``limits``)."""
        self.internal_errors = 0
        """Messages on which the hub failed (each kept as a dead letter, traceback logged)."""
        self.tick_errors = 0
        self._shown: tuple[Any, ...] | None = None
        self._active: set[str] = set()
        self._next_health = 0.0
        self._next_store_retry = 0.0
        self._window_start = time.monotonic()
        self._rates: Counter[str] = Counter()
        self._quarantined_seen = 0
        self._probe_sent: float | None = None
        self._lag = 0.0  # the latest probe's round trip, seconds
        self._refused_logged: dict[str, float] = {}
        self._tick_logged = float("-inf")

    # --- what the transport tells -----------------------------------------------------

    def seen(self, topic: str) -> None:
        """A sensor message on ``topic`` (counted for flapping)."""
        self._rates[topic] += 1

    def probe_came(self, raw: bytes) -> None:
        """The probe came back: its round trip is the backlog at the broker."""
        if self._probe_sent is not None and raw == f"{self._probe_sent!r}".encode():
            self._lag = time.monotonic() - self._probe_sent
            self._probe_sent = None

    def send_probe(self, now: float) -> None:
        """The probe carries its own send time (monotonic): only that one is timed."""
        self._probe_sent = now
        self._publish(self.probe, repr(now), False)

    def connected(self) -> None:
        """A new connection: publish the health again at the next tick."""
        self._shown = None

    def cleared(self, topic: str) -> bool:
        """An empty retained message on ``topic``: if it held one the hub refused, that
        is cleared (``True``)."""
        if topic not in self.poison:
            return False
        logger.info("The retained message on %s was cleared", topic)
        del self.poison[topic]
        return True

    def refused(self, topic: str, raw: bytes, reason: str, retained: bool) -> None:
        """A message over the input limits: a dead letter (its start kept), counted; a
        retained one is named in the hub's health, with how to clear it, since the broker
        hands it to the hub again on every start."""
        self.over_limits += 1
        self.hub.reject("mqtt", topic, excerpt(raw), reason)
        if retained:
            self.poisoned(topic, reason)
        elif self._refused_logged.get(topic, 0.0) + WINDOW_S <= time.monotonic():
            self._refused_logged[topic] = time.monotonic()
            logger.warning("Refused a message on %s: %s (kept as a dead letter)", topic, reason)

    def poisoned(self, topic: str, reason: str) -> None:
        if topic not in self.poison:
            logger.error(
                "The broker holds a retained message on %s that the hub refuses (%s); "
                "it comes again on every start: clear it with "
                "mosquitto_pub -r -n -t '%s' (with the broker's account and TLS options)",
                topic,
                reason,
                topic,
            )
        self.poison[topic] = reason

    def message_failed(self, topic: str, payload: Any, retained: bool, err: Exception) -> None:
        """The hub failed on a message: counted, logged with its traceback, kept as a
        dead letter; a retained one is named as poison."""
        self.internal_errors += 1
        try:
            logger.error("The hub failed on a message on %s; it carries on", topic, exc_info=err)
            reason = f"internal: {type(err).__name__} while handling this message (see the log)"
            self.hub.reject("mqtt", topic, payload, reason)
            if retained:
                self.poisoned(topic, reason)
        except Exception:  # (the store or the log itself failing: say so, carry on)
            logger.critical("Could not keep a message that failed on %s", topic, exc_info=True)

    def tick_failed(self, err: Exception) -> None:
        """Time-driven work failed (a detector's deadline, an extension, the store): the
        loop goes on, messages are still handled; logged with its traceback at most once a
        minute, counted and named on the health topic."""
        self.tick_errors += 1
        self.faults["tick"] = (
            f"{self.tick_errors} failures of the hub's timed work, the latest "
            f"{type(err).__name__}: see the log"
        )
        wall = time.monotonic()
        if wall - self._tick_logged >= 60.0:
            self._tick_logged = wall
            logger.error("The hub's timed work failed; it carries on", exc_info=err)

    # --- judging, on every tick --------------------------------------------------------

    def check(self, wall: float, connected: bool) -> None:
        """Judge flapping sensors, quarantined clocks and the store; retry a failed store;
        publish the health (retained) when something changed, or every 30 s."""
        store = self.hub.store
        if store.fault is not None and wall >= self._next_store_retry:
            self._next_store_retry = wall + STORE_RETRY_S
            try:
                self.hub.recover()
            except WRITE_ERRORS as err:
                store.failed(err, "what waited in memory")
        if wall - self._window_start >= WINDOW_S:
            store.checkpoints_stopped()
            self._judge_window(wall - self._window_start)
            self._judge_backlog(wall, connected)
            self._window_start = wall
        faults = self._judge_standing(dict(self.faults))
        for name in sorted(self._active - set(faults)):
            logger.warning("Health: recovered from the %s fault", name)
        self._active = set(faults)
        self.faults = faults
        shown = (
            *sorted(faults),
            len(self.hub.unsaved),
            store.dropped > 0,
            # (a refused message shows on the health topic at the next tick, not an hour on)
            self.over_limits,
            self.internal_errors,
            self.hub.quarantine.total,
        )
        if connected and (shown != self._shown or wall >= self._next_health):
            self._next_health = wall + HEALTH_EVERY_S
            self.publish()
            self._shown = shown

    def _judge_standing(self, faults: dict[str, str]) -> dict[str, str]:
        """The faults that hold as long as their cause: the store, quarantined detectors,
        retained messages the hub refuses."""
        store = self.hub.store
        if store.fault is not None:
            faults["store"] = (
                f"{store.fault}; waiting in memory: {store.waiting} rows, "
                f"{len(self.hub.unsaved)} signals, {self.hub.escalator.held} alerts; "
                f"dropped: {store.dropped}"
            )
        else:
            faults.pop("store", None)
        quarantine = self.hub.quarantine
        if quarantine.pairs:
            shown_pairs = ", ".join(f"{d} in {a}" for d, a in sorted(quarantine.pairs)[:5])
            faults["detectors"] = (
                f"{len(quarantine.pairs)} detector(s) quarantined after a fault ({shown_pairs}); "
                "every other detector runs: see the log"
            )
        else:
            faults.pop("detectors", None)
        if self.poison:
            shown_topics = ", ".join(sorted(self.poison)[:5])
            faults["retained"] = (
                f"the broker holds {len(self.poison)} retained message(s) the hub refuses, "
                f"on {shown_topics}: clear each with mosquitto_pub -r -n -t <topic>"
            )
        else:
            faults.pop("retained", None)
        return faults

    def _judge_backlog(self, wall: float, connected: bool) -> None:
        """Send the probe (one at a time); a round trip over ``mqtt.behind_s`` (or a probe
        out for longer) means sensor messages wait that long before they are handled."""
        lag = self._lag
        if self._probe_sent is not None:
            lag = max(lag, wall - self._probe_sent)
        elif connected:
            self.send_probe(wall)
        limit = self.config.mqtt.behind_s
        if lag > limit:
            if "behind" not in self.faults:
                logger.warning(
                    "Behind: sensor messages wait %.0f s at the broker before the hub handles "
                    "them (over %g s); all are still handled, in order",
                    lag,
                    limit,
                )
            self.faults["behind"] = (
                f"sensor messages wait {lag:.0f} s before the hub handles them "
                f"(over {limit:g} s): a backlog"
            )
        elif "behind" in self.faults:
            del self.faults["behind"]

    def _judge_window(self, span: float) -> None:
        limit = self.config.mqtt.flapping_per_s
        rates = {t: n / span for t, n in self._rates.items() if n / span > limit}
        self._rates.clear()
        for topic in sorted(set(rates) - set(self.flapping)):
            logger.warning(
                "Sensor topic %s is flapping: %.0f messages/s (over %g/s); every message is "
                "still handled and kept",
                topic,
                rates[topic],
                limit,
            )
        for topic in sorted(set(self.flapping) - set(rates)):
            logger.info("Sensor topic %s stopped flapping", topic)
        self.flapping = rates
        if rates:
            worst = sorted(rates.items(), key=lambda kv: -kv[1])
            shown = ", ".join(f"{t} {r:.0f}/s" for t, r in worst[:5])
            self.faults["flapping"] = f"{len(rates)} sensor topic(s) over {limit:g}/s: {shown}"
        else:
            self.faults.pop("flapping", None)
        self._judge_clock(span)

    def _judge_clock(self, span: float) -> None:
        clock = self.hub.clock
        new = clock.quarantined - self._quarantined_seen
        self._quarantined_seen = clock.quarantined
        if new > 0:
            if "clock" not in self.faults:
                logger.warning(
                    "Clock: %d messages in %.0f s had times far from the stream clock and were "
                    "quarantined (dead letters); e.g. %s",
                    new,
                    span,
                    self.hub.stats.latest.get("clock", "?"),
                )
            self.faults["clock"] = (
                f"{new} messages quarantined in {span:.0f} s (times far from the stream clock "
                f"{clock.now.isoformat() if clock.now else '-'}); {clock.reanchors} re-anchors"
            )
        else:
            self.faults.pop("clock", None)

    # --- the report --------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The health topic's body: status, faults, counters, quarantined detectors,
        refused retained messages, and when."""
        st = self.hub.stats
        store = self.hub.store
        return {
            "status": "degraded" if self.faults else "ok",
            "faults": dict(sorted(self.faults.items())),
            "counters": {
                "messages": st.messages,
                "events": st.events,
                "rejected": st.rejected_total,
                "signals": sum(st.signals.values()),
                "waiting_in_memory": store.waiting,
                "dropped": store.dropped,
                "unsaved_signals": len(self.hub.unsaved),
                "alerts_not_in_register": self.hub.escalator.held,
                "quarantined": self.hub.clock.quarantined,
                "reanchors": self.hub.clock.reanchors,
                "over_limits": self.over_limits,
                "internal_errors": self.internal_errors,
                "tick_errors": self.tick_errors,
                "detector_errors": self.hub.quarantine.total,
            },
            "detectors_quarantined": self.hub.quarantine.view(),
            "retained": [{"topic": t, "reason": r} for t, r in sorted(self.poison.items())],
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def publish(self) -> None:
        body = self.report()
        if body["faults"]:
            logger.warning("Health: degraded: %s", json.dumps(body["faults"]))
        self._publish(self.topic, json.dumps(body), True)
