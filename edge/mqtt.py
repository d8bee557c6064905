"""Live: sensor messages from the broker in, signals out, on one thread.

- paho-mqtt with the v2 callback API; a persistent session (the broker keeps QoS-1
  sensor messages for us while we restart) and a retained availability topic with a
  last will (``offline``), set ``online`` on every connect.
- Reconnection lives in the one outer loop (:meth:`LiveHub.run`), with exponential
  backoff; the hub keeps ticking while the broker is away.
- Signals go through the store's outbox: kept on disk first, published with QoS 1,
  marked delivered on the broker's acknowledgement, published again after a reconnect or
  a restart when they were not. Subscribers may see a signal twice, never not at all;
  they tell repeats by the signal's ``id``.
- TCP_NODELAY on the socket: a fall is one small packet, Nagle's algorithm would hold it.
- Event time: ``last_seen`` in the payload when present, else the receive time; between
  messages the clock runs on from the last event time at real speed.
"""

from __future__ import annotations

import json
import logging
import random
import signal as signals
import socket
import ssl
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import Config, MqttConfig
from edge.decode import BRIDGE_LIMITS, LimitError, decode_payload, excerpt
from edge.heartbeat import Beat, Heartbeat
from edge.models import Message, Signal
from edge.pipeline import Hub, signal_topic
from edge.store import WRITE_ERRORS
from edge.systemd import Notifier
from integrations.central import FlatDay, FlatStats, stats_topic

logger = logging.getLogger(__name__)


CONNACK_TIMEOUT_S = 10.0
FEEDBACK_EVERY_S = 5.0
HEALTH_EVERY_S = 30.0  # the health topic is refreshed this often, and on every change
WINDOW_S = 5.0  # flapping sensors and quarantined clocks are judged over this window
STORE_RETRY_S = 2.0  # while the store cannot write, try again this often
ALERT_CATCH_UP = timedelta(minutes=2)  # an alert later than this is folded (Escalator)


def _topic_of(msg: mqtt.MQTTMessage) -> str:
    """The message's topic; one that is not UTF-8 with its bad bytes replaced."""
    try:
        return msg.topic
    except UnicodeDecodeError:
        return bytes(msg._topic).decode("utf-8", errors="replace")


class MqttError(Exception):
    """The broker connection cannot be set up as configured."""


def availability_topic(config: Config) -> str:
    return f"{config.mqtt.base_topic}/{config.flat}/hub/availability"


def health_topic(config: Config) -> str:
    return f"{config.mqtt.base_topic}/{config.flat}/hub/health"


def probe_topic(config: Config) -> str:
    """The hub's message to itself: it queues at the broker behind the sensor messages
    waiting for the hub, so its round trip is how long they wait (a backlog)."""
    return f"{config.mqtt.base_topic}/{config.flat}/hub/probe"


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # e.g. a websocket or unix socket
        logger.debug("TCP_NODELAY not available on this socket")


def check_secure(conf: MqttConfig) -> None:
    """Refuse a plain-text or anonymous broker unless the development flag allows it."""
    reasons = conf.insecure_reasons()
    if not reasons:
        return
    if not conf.allow_insecure:
        raise MqttError(
            f"mqtt: refused to connect to {conf.host}:{conf.port}: the connection would be "
            f"{' and '.join(reasons)}. A gateway needs TLS and a broker account "
            "(mqtt -> tls, mqtt -> username; see docs/configuration.md); on a development "
            "machine set mqtt -> allow_insecure: true"
        )
    logger.warning(
        "Insecure broker connection allowed for development (mqtt -> allow_insecure): %s",
        ", ".join(reasons),
    )


def make_client(conf: MqttConfig, client_id: str, clean: bool = False) -> mqtt.Client:
    """A paho client with the configured credentials and TLS, not yet connected; refuses
    (:class:`MqttError`) an insecure connection unless ``allow_insecure`` is set."""
    check_secure(conf)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=mqtt.MQTTv311,
    )
    user, password = conf.credentials()
    if user is not None:
        client.username_pw_set(user, password)
    if conf.tls.enabled:
        try:
            client.tls_set(
                ca_certs=str(conf.tls.ca_file) if conf.tls.ca_file else None,
                certfile=str(conf.tls.cert_file) if conf.tls.cert_file else None,
                keyfile=str(conf.tls.key_file) if conf.tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (OSError, ssl.SSLError, ValueError) as err:
            raise MqttError(f"mqtt -> tls: cannot load the certificates: {err}") from err
    client.on_socket_open = _nodelay
    client.max_queued_messages_set(0)
    # an exception in a callback is logged by paho, never raised out of its loop (the
    # hub's own callbacks guard themselves too: this is for what they did not foresee)
    client.suppress_exceptions = True
    client.enable_logger(logging.getLogger("paho"))
    return client


class _Published(Beat):
    """A beat answered once the broker acknowledged its message (PUBACK)."""

    info: mqtt.MQTTMessageInfo | None = None

    def result(self) -> tuple[bool | None, str]:
        info = self.info
        if info is not None:
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self.fail(f"the broker refused it: {mqtt.error_string(info.rc)}")
            elif info.is_published():
                self.succeed()
        return super().result()


class LiveExtension(Protocol):
    """Something that rides along on the live hub's broker connection and loop thread
    (e.g. Home Assistant discovery). Every hook runs on the hub's one thread."""

    def connected(self, live: LiveHub) -> None:
        """(Re)connected: publish what the broker should hold (discovery, states)."""

    def signal(self, live: LiveHub, signal: Signal) -> None:
        """A new signal was raised."""

    def changed(self, live: LiveHub) -> None:
        """A message was handled or time moved on: refresh states that may have changed."""

    def tick(self, live: LiveHub) -> None:
        """Called on every turn of the loop (a few times a second): finish held-back work."""


# long: not yet split (issue 19: the MQTT transport, health and commands apart)
class LiveHub:
    """Runs a :class:`Hub` on a broker until stopped (SIGTERM, SIGINT or :meth:`stop`)."""

    def __init__(
        self,
        hub: Hub,
        config: Config,
        tick_s: float = 0.2,
        extensions: list[LiveExtension] | None = None,
    ) -> None:
        self.hub = hub
        self.config = config
        self.tick_s = tick_s
        conf = config.mqtt
        self.client = make_client(conf, conf.client_id)
        self._avail = availability_topic(config)
        self._commands = f"{conf.base_topic}/{config.flat}/command/"
        self.client.will_set(self._avail, "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.extensions: list[LiveExtension] = list(extensions or [])
        self.heartbeats = Heartbeat(config.alerts.heartbeat, hub.escalator.sinks)
        """The alarm path's heartbeat (``alerts.heartbeat``): always on, like the alarm."""
        self.extensions.append(self.heartbeats)
        self.connected = False
        self._stopping = False
        self._inflight: dict[int, str] = {}
        self._clock_mono: float | None = None
        self._clock_at: datetime | None = None
        self.connects = 0
        self._backoff = 0.5
        self._next_try = 0.0
        self._next_feedback = 0.0
        # health: what is wrong now (name -> detail), published retained on .../hub/health
        self._health = health_topic(config)
        self.faults: dict[str, str] = {}
        self._shown: tuple[Any, ...] | None = None
        self._active: set[str] = set()
        self._next_health = 0.0
        self._next_store_retry = 0.0
        self._window_start = time.monotonic()
        self._rates: Counter[str] = Counter()
        self.flapping: dict[str, float] = {}
        self._quarantined_seen = 0
        self._probe = probe_topic(config)
        self._probe_sent: float | None = None
        self._lag = 0.0  # the latest probe's round trip, seconds
        self._limits = config.limits.limits()
        base = config.mqtt.zigbee_base_topic
        self._bridge_lists = {f"{base}/bridge/devices", f"{base}/bridge/groups"}
        self.over_limits = 0
        """Messages refused for being over the input limits (``limits``)."""
        self.internal_errors = 0
        """Messages on which the hub failed (each kept as a dead letter, traceback logged)."""
        self.tick_errors = 0
        self.poison: dict[str, str] = {}
        """Topics where the broker holds a retained message the hub refuses -> why."""
        self._refused_logged: dict[str, float] = {}
        self._tick_logged = float("-inf")
        self.systemd = Notifier()
        self._crash_loop: tuple[int, float] | None = None

    # --- callbacks (all on this thread, inside client.loop) ---------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if rc.is_failure:
            logger.error("Broker refused the connection: %s", rc)
            self._backoff = min(self._backoff * 2, self.config.mqtt.reconnect_max_s)
            return
        self.connected = True
        self.connects += 1
        self._backoff = 0.5
        conf = self.config.mqtt
        logger.info(
            "Connected to %s:%d (session present: %s)", conf.host, conf.port, flags.session_present
        )
        client.subscribe(
            [
                (f"{conf.zigbee_base_topic}/#", 1),
                (f"{conf.base_topic}/{self.config.flat}/command/+", 1),
                (self._probe, 1),
            ]
        )
        # the first probe at once: it queues behind whatever waited for the hub meanwhile
        self._send_probe(time.monotonic())
        client.publish(self._avail, "online", qos=1, retain=True)
        self._shown = None  # publish the health again
        self._send_outbox()
        for ext in self.extensions:
            self._guard(ext.connected, self)
        self._raise_crash_loop()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        self.connected = False
        if not self._stopping:
            logger.warning("Lost the broker connection: %s", rc)
            # try again soon (the broker may be back at once), then back off
            jitter = random.random()  # noqa: S311  (jitter, not a secret)
            self._next_try = time.monotonic() + self._backoff * jitter

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """The last resort: whatever a message holds, no exception leaves this callback
        (it would leave paho's loop, and the hub with it). One that gets this far is kept
        as a dead letter with its traceback in the log, and counted on the health topic."""
        try:
            self._message(msg)
        except Exception as err:
            self._message_failed(msg, err)

    def _message(self, msg: mqtt.MQTTMessage) -> None:
        received = datetime.now(UTC)
        raw = bytes(msg.payload)
        topic = _topic_of(msg)
        if topic == self._probe:
            if self._probe_sent is not None and raw == f"{self._probe_sent!r}".encode():
                self._lag = time.monotonic() - self._probe_sent
                self._probe_sent = None
            return
        if not raw and topic in self.poison:
            # an empty retained message clears what the broker held on this topic
            logger.info("The retained message on %s was cleared", topic)
            del self.poison[topic]
            return
        if topic.startswith(self._commands):
            if not topic.endswith("/result"):
                self._on_command(topic, raw, msg.retain)
                self._changed()
            return
        self._rates[topic] += 1
        try:
            limits = BRIDGE_LIMITS if topic in self._bridge_lists else self._limits
            payload: Any = decode_payload(raw, limits)
        except LimitError as err:
            self._refused(topic, raw, err.reason, msg.retain)
            return
        try:
            self.hub.handle(Message(received, topic, payload, "mqtt"))
            self.hub.store.flush()
        except Exception:
            # the hub keeps running: the message is kept with the reason
            logger.exception("Failed to handle a message on %s", topic)
            self.internal_errors += 1
            self.hub.reject("mqtt", topic, payload, "internal: the hub failed on this message")
        self._note_clock()
        self._changed()

    def _refused(self, topic: str, raw: bytes, reason: str, retained: bool) -> None:
        """A message over the input limits: a dead letter (its start kept), counted; a
        retained one is named in the hub's health, with how to clear it, since the broker
        hands it to the hub again on every start."""
        self.over_limits += 1
        self.hub.reject("mqtt", topic, excerpt(raw), reason)
        if retained:
            self._poisoned(topic, reason)
        elif self._refused_logged.get(topic, 0.0) + WINDOW_S <= time.monotonic():
            self._refused_logged[topic] = time.monotonic()
            logger.warning("Refused a message on %s: %s (kept as a dead letter)", topic, reason)

    def _poisoned(self, topic: str, reason: str) -> None:
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

    def _message_failed(self, msg: mqtt.MQTTMessage, err: Exception) -> None:
        self.internal_errors += 1
        topic = _topic_of(msg)
        try:
            logger.error("The hub failed on a message on %s; it carries on", topic, exc_info=err)
            reason = f"internal: {type(err).__name__} while handling this message (see the log)"
            self.hub.reject("mqtt", topic, excerpt(bytes(msg.payload)), reason)
            if msg.retain:
                self._poisoned(topic, reason)
        except Exception:  # (the store or the log itself failing: say so, carry on)
            logger.critical("Could not keep a message that failed on %s", topic, exc_info=True)

    def _changed(self) -> None:
        for ext in self.extensions:
            self._guard(ext.changed, self)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, rc: ReasonCode, props: Any
    ) -> None:
        sid = self._inflight.pop(mid, None)
        if sid is not None:
            self.hub.store.outbox_delivered(sid)

    # --- signals out -------------------------------------------------------------------

    def emit(self, signal: Signal) -> None:
        """Sink interface: publish now when connected; the outbox keeps it otherwise."""
        if self.connected:
            topic = signal_topic(self.config.mqtt.base_topic, self.config.flat, signal)
            self._publish(signal.id, topic, signal.to_json())
        for ext in self.extensions:
            self._guard(ext.signal, self, signal)

    def closed(self, signal: Signal, key: str) -> None:
        """The hub closed a signal by itself: the closing goes out on the signal's topic
        now when connected (the outbox, under ``key``, keeps it otherwise)."""
        if self.connected:
            topic = signal_topic(self.config.mqtt.base_topic, self.config.flat, signal)
            self._publish(key, topic, signal.to_json())

    @staticmethod
    def _guard(hook: Any, *args: Any) -> None:
        """An extension's failure is logged; the hub carries on."""
        try:
            hook(*args)
        except Exception:
            logger.exception("Extension hook %s failed", getattr(hook, "__qualname__", hook))

    def close(self) -> None:
        pass

    def alert(self, signal: Signal, target: str, level: int, attempt: int, at: datetime) -> None:
        """Alert sink: ``thuisplus/<flat>/alert/<target>``, QoS 1 (alerts repeat by design,
        so one lost while the broker is away is followed by the next)."""
        if not self.connected:
            logger.warning("Alert for %s to %s not sent: no broker", signal.id, target)
            return
        body = {
            "signal": json.loads(signal.to_json()),
            "target": target,
            "level": level,
            "attempt": attempt,
            "at": at.isoformat(),
            "acknowledge": {"topic": self._command("ack"), "payload": {"signal": signal.id}},
        }
        self.client.publish(
            f"{self.config.mqtt.base_topic}/{self.config.flat}/alert/{target}",
            json.dumps(body),
            qos=1,
        )

    def heartbeat(self, at: datetime, every_minutes: float) -> Beat:
        """The broker's beat (``edge.heartbeat``): ``<base>/<flat>/hub/heartbeat`` at QoS 1,
        answered by the broker's PUBACK."""
        beat = _Published("broker")
        if not self.connected:
            beat.fail("no connection to the broker")
            return beat
        body = {
            "flat": self.config.flat,
            "at": at.isoformat(timespec="seconds"),
            "every_minutes": every_minutes,
        }
        topic = f"{self.config.mqtt.base_topic}/{self.config.flat}/hub/heartbeat"
        beat.info = self.client.publish(topic, json.dumps(body), qos=1)
        return beat

    def _stats(self, day: FlatDay) -> None:
        """The flat's day, through the outbox (the bridge carries it to the city)."""
        key = f"stats:{day.flat}:{day.day.isoformat()}"
        topic = stats_topic(self.config.mqtt.base_topic, day.flat)
        body = day.model_dump_json()
        try:
            queued = self.hub.store.queue_message(key, topic, body)
        except WRITE_ERRORS as err:
            # the store cannot keep it: send it now if possible (it is not kept for later)
            self.hub.store.failed(err, "the flat's daily stats")
            if self.connected:
                self.client.publish(topic, body, qos=1)
            return
        if queued and self.connected:
            self._publish(key, topic, body)

    def _command(self, name: str) -> str:
        return f"{self.config.mqtt.base_topic}/{self.config.flat}/command/{name}"

    def _on_command(self, topic: str, raw: bytes, retained: bool = False) -> None:
        """``.../command/ack|discuss|assign|close`` with a JSON object; answered on
        ``.../command/result``. A bad command is answered and kept as a dead letter."""
        from edge.commands import CommandError, run_command

        name = topic.rsplit("/", 1)[-1]
        reply: dict[str, Any]
        try:
            entry = run_command(self.hub.register, name, raw)
            reply = {"ok": True, "command": name, "signal": entry.id, "status": entry.status}
            if name == "close":
                self.hub.apply_feedback()
        except CommandError as err:
            if str(err).startswith("limits:"):
                self.over_limits += 1
                if retained:
                    self._poisoned(topic, str(err))
            self.hub.reject("mqtt", topic, excerpt(raw), f"command: {err}")
            reply = {"ok": False, "command": name, "error": str(err)}
        except WRITE_ERRORS as err:
            self.hub.store.failed(err, "a command")
            reply = {
                "ok": False,
                "command": name,
                "error": "the hub's store cannot be written just now: try again",
            }
        self.client.publish(self._command("result"), json.dumps(reply), qos=1)

    def _publish(self, sid: str, topic: str, body: str) -> None:
        info = self.client.publish(topic, body, qos=1)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._inflight[info.mid] = sid

    def _send_outbox(self) -> None:
        waiting = set(self._inflight.values())  # paho resends these itself
        pending = [p for p in self.hub.store.outbox_pending() if p[0] not in waiting]
        if pending:
            logger.info("Publishing %d signals kept while the broker was away", len(pending))
        for sid, topic, body in pending:
            self._publish(sid, topic, body)

    # --- clock -------------------------------------------------------------------------

    def _note_clock(self) -> None:
        now = self.hub.clock.now
        if now is not None and now != self._clock_at:
            self._clock_at = now
            self._clock_mono = time.monotonic()

    def _tick(self) -> None:
        for ext in self.extensions:
            self._guard(ext.tick, self)
        wall = time.monotonic()
        if wall >= self._next_feedback:
            # verdicts given from the command line land in the store: pick them up
            self._next_feedback = wall + FEEDBACK_EVERY_S
            try:
                self.hub.apply_feedback()
            except WRITE_ERRORS as err:
                self.hub.store.failed(err, "feedback notes")
        self._check_health(wall)
        self.hub.housekeeping()  # the state save and pruning: not inside a message
        if self._clock_at is None or self._clock_mono is None:
            return
        due = self.hub.next_due
        if due is None:
            return
        now = self._clock_at + timedelta(seconds=time.monotonic() - self._clock_mono)
        if now >= due:
            self.hub.advance(now)
            self.hub.store.flush()
            self._note_clock()
            self._changed()

    # --- health ------------------------------------------------------------------------

    def _check_health(self, wall: float) -> None:
        """Judge flapping sensors, quarantined clocks and the store; retry a failed store;
        publish ``.../hub/health`` (retained) when something changed."""
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
            self._judge_backlog(wall)
            self._window_start = wall
        faults = dict(self.faults)
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
        if self.connected and (shown != self._shown or wall >= self._next_health):
            self._next_health = wall + HEALTH_EVERY_S
            self._publish_health()
            self._shown = shown

    def _send_probe(self, now: float) -> None:
        """The probe carries its own send time (monotonic): only that one is timed."""
        self._probe_sent = now
        self.client.publish(self._probe, repr(now), qos=1)

    def _judge_backlog(self, wall: float) -> None:
        """Send the probe (one at a time); a round trip over ``mqtt.behind_s`` (or a probe
        out for longer) means sensor messages wait that long before they are handled."""
        lag = self._lag
        if self._probe_sent is not None:
            lag = max(lag, wall - self._probe_sent)
        elif self.connected:
            self._send_probe(wall)
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

    def health(self) -> dict[str, Any]:
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

    def _publish_health(self) -> None:
        body = self.health()
        if body["faults"]:
            logger.warning("Health: degraded: %s", json.dumps(body["faults"]))
        self.client.publish(self._health, json.dumps(body), qos=1, retain=True)

    # --- the loop ----------------------------------------------------------------------

    def stop(self, *_: object) -> None:
        self._stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            logger.info("Received signal %d: stopping", signum)
            self.stop()

        signals.signal(signals.SIGTERM, handler)
        signals.signal(signals.SIGINT, handler)

    # long: the live loop's start, turn and stop in one place (split with LiveHub)
    def run(self, max_seconds: float | None = None) -> None:
        """Connect, process, reconnect with backoff, until stopped."""
        conf = self.config.mqtt
        self.hub.sinks.append(self)
        self.hub.escalator.sinks.append(self)
        # live: alerts missed while the clock jumped or the store could not write go out
        # once, at the current step, not as a burst of every repeat (docs/faults.md)
        self.hub.escalator.catch_up = ALERT_CATCH_UP
        # WAL checkpoints in their own thread: no message waits for one
        self.hub.store.checkpoint_in_background()
        # the state save and the pruning run between messages, after the signals went out
        self.hub.deferred_housekeeping = True
        stats = FlatStats(self.config.flat, self.hub.register, self.config.tz, self._stats)
        self.hub.feature_sinks.append(stats)
        self._next_try = 0.0
        started = time.monotonic()
        ever = False
        self._note_clock()
        self._count_start()
        self.systemd.ready()
        clean = False
        try:
            while not self._stopping:
                self.systemd.ping(time.monotonic())
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
                if not self.connected and time.monotonic() >= self._next_try:
                    try:
                        if ever:
                            self.client.reconnect()
                        else:
                            self.client.connect(conf.host, conf.port, conf.keepalive_s)
                            ever = True
                        # connected at the TCP level: give the broker time to answer
                        logger.debug("Connection opened; waiting for the broker's answer")
                        self._next_try = time.monotonic() + CONNACK_TIMEOUT_S
                    except (OSError, mqtt.WebsocketConnectionError) as err:
                        jitter = random.random()  # noqa: S311  (jitter, not a secret)
                        wait = self._backoff * (0.8 + 0.4 * jitter)
                        logger.warning(
                            "Cannot reach the broker at %s:%d (%s); next try in %.1f s",
                            conf.host,
                            conf.port,
                            err,
                            wait,
                        )
                        self._next_try = time.monotonic() + wait
                        self._backoff = min(self._backoff * 2, conf.reconnect_max_s)
                if ever:
                    rc = self.client.loop(timeout=self.tick_s)
                    if rc == mqtt.MQTT_ERR_SUCCESS and self.client.want_write():
                        # signals raised by the messages just read go out before the
                        # tick's work (paho writes them at its next turn otherwise)
                        rc = self.client.loop_write()
                    if rc != mqtt.MQTT_ERR_SUCCESS:
                        if self.connected:
                            logger.debug("Network loop: %s", mqtt.error_string(rc))
                        self.connected = False
                        time.sleep(min(self.tick_s, 0.05))
                else:
                    time.sleep(self.tick_s)
                try:
                    self._tick()
                except Exception as err:
                    self._tick_failed(err)
            clean = True
        finally:
            self._shutdown(clean)

    def _count_start(self) -> None:
        """Note this start in the store; after more restarts following a crash than
        ``alerts.restarts`` allows, the hub pages the lead (``hub_fault``) once it reaches
        the broker: a crash loop is an alarm that is down most of the time."""
        conf = self.config.alerts.restarts
        try:
            starts = self.hub.store.note_start(time.time(), conf.window_minutes * 60)
        except Exception:  # (counting starts must never stop the hub from starting)
            logger.exception("Could not note the hub's start")
            return
        restarts = sum(1 for _, unclean in starts if unclean)
        if restarts > conf.max_restarts:
            logger.error(
                "The hub restarted %d times after a crash within %.0f minutes: it pages the "
                "lead (hub_fault) once it reaches the broker; see the log before each start",
                restarts,
                conf.window_minutes,
            )
            self._crash_loop = (restarts, starts[0][0])

    def _raise_crash_loop(self) -> None:
        if self._crash_loop is None:
            return
        restarts, since = self._crash_loop
        self._crash_loop = None
        wall = datetime.now(UTC)
        at = max(wall, self.hub.clock.now or wall)
        minutes = self.config.alerts.restarts.window_minutes
        summary = {
            "nl": f"De hub is {restarts} keer herstart na een storing in {minutes:.0f} "
            "minuten: het alarm viel telkens weg. Laat de installateur het logboek bekijken.",
            "en": f"The hub restarted {restarts} times after a fault within {minutes:.0f} "
            "minutes: the alarm was down each time. Have the installer read its log.",
        }
        evidence: dict[str, object] = {
            "restarts": restarts,
            "window_minutes": minutes,
            "first_start": datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
        }
        try:
            self.hub.raise_hub_fault(at, summary, evidence)
            self.hub.store.flush()
        except Exception:
            logger.exception("Could not raise the hub's crash-loop fault")

    def _tick_failed(self, err: Exception) -> None:
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

    def _shutdown(self, clean: bool = False) -> None:
        self.systemd.stopping()
        if clean:
            try:
                self.hub.store.note_stop()
            except Exception:
                logger.exception("Could not note the hub's clean stop")
        self.hub.close()
        if self.connected:
            info = self.client.publish(self._avail, "offline", qos=1, retain=True)
            deadline = time.monotonic() + 2.0
            while not info.is_published() and time.monotonic() < deadline:
                self.client.loop(timeout=0.05)
            self.client.disconnect()
            self.client.loop(timeout=0.05)
        if self in self.hub.sinks:
            self.hub.sinks.remove(self)
        if self in self.hub.escalator.sinks:
            self.hub.escalator.sinks.remove(self)
        self.hub.feature_sinks[:] = [
            s for s in self.hub.feature_sinks if not isinstance(s, FlatStats)
        ]
        logger.info("Stopped")
