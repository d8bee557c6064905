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
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import Config, MqttConfig
from edge.decode import BRIDGE_LIMITS, LimitError, decode_payload, excerpt
from edge.health import Health
from edge.heartbeat import Beat, Heartbeat
from edge.models import Message, Signal
from edge.pipeline import FeatureSink, Hub, signal_topic
from edge.store import WRITE_ERRORS
from edge.systemd import Notifier

logger = logging.getLogger(__name__)


CONNACK_TIMEOUT_S = 10.0
FEEDBACK_EVERY_S = 5.0
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
        feature_sinks: list[FeatureSink] | None = None,
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
        self.feature_sinks: list[FeatureSink] = list(feature_sinks or [])
        """Told each finished day while the hub runs live (the flat's daily stats for the
        city, wired by the command that builds the hub: :func:`edge.cli.cmd_run`)."""
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
        self.health = Health(hub, config, self._send)
        """What is wrong now, published retained on ``.../hub/health`` (edge.health)."""
        self._limits = config.limits.limits()
        base = config.mqtt.zigbee_base_topic
        self._bridge_lists = {f"{base}/bridge/devices", f"{base}/bridge/groups"}
        self.systemd = Notifier()
        self._crash_loop: tuple[int, float] | None = None

    @property
    def faults(self) -> dict[str, str]:
        """What is wrong now (the health's faults; extensions add their own)."""
        return self.health.faults

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
                (self.health.probe, 1),
            ]
        )
        # the first probe at once: it queues behind whatever waited for the hub meanwhile
        self.health.send_probe(time.monotonic())
        client.publish(self._avail, "online", qos=1, retain=True)
        self.health.connected()  # publish the health again
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
        health = self.health
        if topic == health.probe:
            health.probe_came(raw)
            return
        if not raw and health.cleared(topic):
            return  # (an empty retained message cleared what the broker held there)
        if topic.startswith(self._commands):
            if not topic.endswith("/result"):
                self._on_command(topic, raw, msg.retain)
                self._changed()
            return
        health.seen(topic)
        try:
            limits = BRIDGE_LIMITS if topic in self._bridge_lists else self._limits
            payload: Any = decode_payload(raw, limits)
        except LimitError as err:
            health.refused(topic, raw, err.reason, msg.retain)
            return
        try:
            self.hub.handle(Message(received, topic, payload, "mqtt"))
            self.hub.store.flush()
        except Exception:
            # the hub keeps running: the message is kept with the reason
            logger.exception("Failed to handle a message on %s", topic)
            health.internal_errors += 1
            self.hub.reject("mqtt", topic, payload, "internal: the hub failed on this message")
        self._note_clock()
        self._changed()

    def _message_failed(self, msg: mqtt.MQTTMessage, err: Exception) -> None:
        topic = _topic_of(msg)
        try:
            payload = excerpt(bytes(msg.payload))
        except Exception:  # (what cannot even be cut short is kept as nothing)
            payload = ""
        self.health.message_failed(topic, payload, bool(msg.retain), err)

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

    def send_kept(self, key: str, topic: str, body: str, what: str) -> None:
        """A message through the outbox under ``key`` (``what`` names it in a store
        fault): kept on disk first, published now when connected, again after a restart
        until the broker acknowledged it (the flat's daily stats, for the city)."""
        try:
            queued = self.hub.store.queue_message(key, topic, body)
        except WRITE_ERRORS as err:
            # the store cannot keep it: send it now if possible (it is not kept for later)
            self.hub.store.failed(err, what)
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
                self.health.over_limits += 1
                if retained:
                    self.health.poisoned(topic, str(err))
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

    def _send(self, topic: str, body: str, retain: bool) -> None:
        """Publish at QoS 1, not through the outbox (the health and its probe)."""
        self.client.publish(topic, body, qos=1, retain=retain)

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
        self.health.check(wall, self.connected)
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
        self.hub.feature_sinks.extend(self.feature_sinks)
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
                    self.health.tick_failed(err)
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
            s for s in self.hub.feature_sinks if s not in self.feature_sinks
        ]
        logger.info("Stopped")
