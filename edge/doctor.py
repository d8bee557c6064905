"""``thuisplus doctor``: is this gateway healthy? One line per check, for the installer.

Checks: the configuration; the broker, reached with the hub's own credentials and TLS;
the hub's availability on the broker; the clock's synchronisation (chrony or systemd);
the state folder's free disk; every sensor heard from recently (from the hub's saved
state); what each apartment's sensors leave unwatched (:func:`coverage`); the systemd
service. Each check says OK, WARN or FAIL and why; the exit code is 1 when any check
fails.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from detectors.rhythm import covered
from edge.config import Config, ConfigError
from edge.decode import DEFAULT_LIMITS, LimitError, check, decode_json
from edge.models import COMMON_APARTMENT, Room
from edge.mqtt import MqttError, availability_topic, health_topic, make_client
from edge.state import ApartmentState, is_front_door, is_pad
from edge.store import Store, StoreError

logger = logging.getLogger(__name__)

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<10} {self.detail}"


def check_broker(config: Config, timeout: float = 5.0) -> list[Check]:
    """Connect as the hub would (another client id); read the hub's availability."""
    conf = config.mqtt
    try:
        client = make_client(conf, f"{conf.client_id}-doctor", clean=True)
    except (MqttError, ConfigError) as err:
        return [Check("broker", FAIL, str(err))]
    answer: dict[str, Any] = {}
    connected = threading.Event()
    avail = threading.Event()
    topic = availability_topic(config)
    health = health_topic(config)
    commands = f"{conf.base_topic}/{config.flat}/command/"
    retained = Retained(config)

    def on_connect(c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        answer["rc"] = rc
        connected.set()
        if not rc.is_failure:
            # (the broker sends retained messages filter by filter: the availability last,
            # so that once it came, the retained sensor messages are all in)
            c.subscribe(
                [(f"{conf.zigbee_base_topic}/#", 0), (f"{commands}+", 0), (health, 1), (topic, 1)]
            )

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            name = msg.topic
        except UnicodeDecodeError:
            name = bytes(msg._topic).decode("utf-8", errors="replace")
        if name == health:
            answer["health"] = msg.payload.decode("utf-8", "replace")
        elif name == topic:
            answer["availability"] = msg.payload.decode("utf-8", "replace")
            avail.set()
        elif msg.retain:
            retained.add(name, bytes(msg.payload), name.startswith(commands))

    client.on_connect = on_connect
    client.on_message = on_message
    where = f"{conf.host}:{conf.port}{' (TLS)' if conf.tls.enabled else ''}"
    try:
        client.connect(conf.host, conf.port, keepalive=10)
    except OSError as err:
        return [Check("broker", FAIL, f"cannot reach {where}: {err}")]
    client.loop_start()
    try:
        if not connected.wait(timeout):
            return [Check("broker", FAIL, f"{where} did not answer within {timeout:.0f} s")]
        rc = answer["rc"]
        if rc.is_failure:
            return [Check("broker", FAIL, f"{where} refused the hub's credentials: {rc}")]
        out = [Check("broker", OK, f"{where} accepts the hub's credentials")]
        avail.wait(2.0)
        state = answer.get("availability")
        if state == "online":
            out.append(Check("hub", OK, f"{topic} says online"))
        elif state is None:
            out.append(Check("hub", FAIL, f"{topic}: nothing retained (the hub never ran here)"))
        else:
            out.append(Check("hub", FAIL, f"{topic} says {state}"))
        if state == "online":
            out.append(_health_check(health, answer.get("health")))
        out.append(retained.check())
        return out
    finally:
        client.loop_stop()
        client.disconnect()


class Retained:
    """The retained messages the broker hands the hub on every start, read as the hub reads
    them: one over the input limits is named, with the command that clears it."""

    def __init__(self, config: Config) -> None:
        from edge.commands import COMMAND_LIMITS

        self._limits = config.limits.limits()
        self._command_limits = COMMAND_LIMITS
        self.seen = 0
        self.refused: dict[str, str] = {}

    def add(self, topic: str, payload: bytes, command: bool) -> None:
        self.seen += 1
        try:
            check(payload, self._command_limits if command else self._limits)
        except LimitError as err:
            self.refused[topic] = err.reason

    def check(self) -> Check:
        """``retained``: FAIL naming each topic the hub would refuse, OK otherwise.

        >>> from edge.config import Config
        >>> r = Retained(Config(flat="f1"))
        >>> r.add("zigbee2mqtt/a1/hall/motion", b"[" * 50 + b"]" * 50, False)
        >>> found = r.check()
        >>> found.status, "mosquitto_pub -r -n -t 'zigbee2mqtt/a1/hall/motion'" in found.detail
        ('FAIL', True)
        >>> r.refused["zigbee2mqtt/a1/hall/motion"]
        'limits: nested 50 levels deep, over the 32 allowed'
        """
        if not self.refused:
            return Check("retained", OK, f"{self.seen} retained messages, none over the limits")
        shown = "; ".join(
            f"mosquitto_pub -r -n -t '{t}' ({why})" for t, why in sorted(self.refused.items())
        )
        count = len(self.refused)
        what = "message" if count == 1 else "messages"
        them = "it" if count == 1 else "each"
        return Check(
            "retained", FAIL, f"{count} retained {what} the hub refuses; clear {them}: {shown}"
        )


def _health_check(topic: str, body: str | None) -> Check:
    """The hub's own verdict on itself (faults it degrades under, see edge/mqtt.py)."""
    if body is None:
        return Check("health", WARN, f"{topic}: nothing retained yet")
    try:
        found = decode_json(body, DEFAULT_LIMITS.around(1_048_576))
        faults = dict(found.get("faults", {}))
    except (ValueError, TypeError, AttributeError):
        return Check("health", FAIL, f"{topic}: not the hub's health report")
    if not faults:
        return Check("health", OK, "the hub reports no faults")
    return Check("health", FAIL, "; ".join(f"{k}: {v}" for k, v in sorted(faults.items())))


def check_clock() -> Check:
    chronyc = shutil.which("chronyc")
    if chronyc:
        proc = subprocess.run(  # noqa: S603  (a fixed command, found on PATH)
            [chronyc, "tracking"], capture_output=True, text=True, check=False, timeout=10
        )
        fields = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in proc.stdout.splitlines())
            if v
        )
        leap = fields.get("Leap status")
        if proc.returncode == 0 and leap == "Normal":
            return Check("clock", OK, f"chrony synchronised ({fields.get('System time', '?')})")
        return Check("clock", FAIL, f"chrony not synchronised (leap status: {leap or '?'})")
    timedatectl = shutil.which("timedatectl")
    if timedatectl:
        proc = subprocess.run(  # noqa: S603  (a fixed command, found on PATH)
            [timedatectl, "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if proc.stdout.strip() == "yes":
            return Check("clock", OK, "systemd reports the clock synchronised")
        if proc.returncode == 0:
            return Check("clock", FAIL, "systemd reports the clock NOT synchronised")
    return Check("clock", WARN, "cannot tell (no chronyc or timedatectl): event time needs NTP")


def check_disk(state_dir: Path, min_free_mb: int = 500) -> Check:
    target = state_dir if state_dir.exists() else state_dir.parent
    try:
        usage = shutil.disk_usage(target)
    except OSError as err:
        return Check("disk", FAIL, f"{state_dir}: {err}")
    free_mb = usage.free // 2**20
    pct = 100 * usage.free / usage.total
    detail = f"{free_mb:,} MB free ({pct:.0f}%) for {state_dir}"
    if free_mb < min_free_mb:
        return Check("disk", FAIL, detail)
    return Check("disk", WARN if pct < 10 else OK, detail)


def saved_state(state_dir: Path, config: Config) -> dict[str, Any] | str:
    """The hub's saved state in ``state_dir``, or why it cannot be read."""
    path = state_dir / "thuisplus.sqlite"
    if not path.is_file():
        return f"{path}: no store (has the hub run with this state?)"
    try:
        store = Store(path, config.store)
    except StoreError as err:
        return str(err)
    try:
        return store.load_state()
    finally:
        store.close()


GAPS = {
    "hall": "no motion sensor in the hall: no silence alarm at all (inactivity, a fall "
    "without a fall sensor, long bathroom stays)",
    "front_door": "no front-door contact: out or home is guessed from motion alone",
    "living_fall": "living room without a chair pad (one for each resident) or fall "
    "sensor: a fall there is found only as inactivity, after 2-3 h, or not at all when help "
    "comes sooner",
}
"""What a missing sensor costs, for the installer (see docs/installers.md, the kit)."""


def coverage(
    saved: dict[str, Any], roles: dict[str, str], residents: dict[str, int] | None = None
) -> dict[str, list[str]]:
    """Per gap of :data:`GAPS`, the apartments that have it, from the sensors the hub has
    heard (``saved``: the hub's saved state), the config's device roles and its count of
    residents (1 where it does not say): a living room is watched for falls by a fall
    sensor, or by a chair pad for each resident (as ``fall_silence`` needs).

    >>> from edge.models import SensorEvent
    >>> from edge.state import FlatState, StateConfig
    >>> state, t = FlatState(StateConfig()), datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    >>> for sid, kw in [("a1/hall/motion", {"occupancy": False}),
    ...                 ("a1/living/chair_pad", {"occupancy": True}),
    ...                 ("a2/living/motion", {"occupancy": False}),
    ...                 ("a2/entrance/front_door", {"contact": True})]:
    ...     apt, room, device = sid.split("/")
    ...     _ = state.apply(SensorEvent(ts=t, received=t, apartment=apt, room=room,
    ...                             device=device, **kw))
    >>> coverage({"state": state.to_dict()}, {})
    {'hall': ['a2'], 'front_door': ['a1'], 'living_fall': ['a2']}
    >>> coverage({"state": state.to_dict()}, {}, {"a1": 2})["living_fall"]
    ['a1', 'a2']
    """
    falls = set(saved.get("detectors", {}).get("fall", {}).get("sensors", []))
    out: dict[str, list[str]] = {gap: [] for gap in GAPS}
    apartments = saved.get("state", {}).get("apartments", {})
    for apt, data in sorted(apartments.items()):
        if apt == COMMON_APARTMENT:
            continue
        st = ApartmentState.from_dict(apt, data)
        has = {"hall"} if covered(st, roles) else set()
        pads = 0
        for sid, sensor in st.sensors.items():
            room, device = sid.split("/")[1], sid.rsplit("/", 1)[-1]
            role = roles.get(sid)
            if sensor.contact is not None and is_front_door(room, role):
                has.add("front_door")
            if room == Room.LIVING.value:
                if sid in falls:
                    has.add("living_fall")
                elif sensor.occupied is not None and is_pad(device, role):
                    pads += 1
        if pads and pads >= (residents or {}).get(apt, 1):
            has.add("living_fall")
        for gap in GAPS:
            if gap not in has:
                out[gap].append(apt)
    return out


def check_coverage(saved: dict[str, Any] | str, config: Config) -> Check:
    if isinstance(saved, str):  # (the sensors check fails for it)
        return Check("coverage", WARN, "not checked: no saved state to read")
    gaps = coverage(saved, config.device_roles(), config.residents())
    n = len([a for a in saved.get("state", {}).get("apartments", {}) if a != COMMON_APARTMENT])
    if n == 0:
        return Check("coverage", WARN, "not checked: no apartment heard from yet")
    found = [
        f"{len(apts)} of {n} with {GAPS[gap]} ({_some(apts)})" for gap, apts in gaps.items() if apts
    ]
    if not found:
        return Check("coverage", OK, f"{n} apartments: hall, front door and living room watched")
    return Check("coverage", WARN, "; ".join(found))


def _some(items: list[str], shown: int = 8) -> str:
    return ", ".join(items[:shown]) + (" ..." if len(items) > shown else "")


def check_sensors(
    saved: dict[str, Any] | str, config: Config, now: datetime, silent_hours: float
) -> Check:
    if isinstance(saved, str):
        return Check("sensors", FAIL, saved)
    apartments = saved.get("state", {}).get("apartments", {})
    if not apartments:
        return Check("sensors", FAIL, "no sensor seen yet")
    limit = timedelta(hours=silent_hours)
    silent = []
    count = 0
    for st in apartments.values():
        for sid, sensor in sorted(st.get("sensors", {}).items()):
            count += 1
            last = datetime.fromisoformat(sensor["last_seen"])
            if now - last > limit or not sensor.get("available", True):
                silent.append(sid)
    expected = sorted(set(config.apartments) - set(apartments))
    problems = []
    if silent:
        problems.append(f"{len(silent)} silent for over {silent_hours:g} h: {_some(silent)}")
    if expected:
        problems.append(f"configured but never seen: {', '.join(expected)}")
    if problems:
        return Check("sensors", FAIL, "; ".join(problems))
    return Check(
        "sensors",
        OK,
        f"{count} sensors in {len(apartments)} apartments heard from within {silent_hours:g} h",
    )


def check_service(name: str = "thuisplus") -> Check:
    systemctl = shutil.which("systemctl")
    if not systemctl:
        return Check("service", WARN, "no systemctl here: cannot check the service")
    proc = subprocess.run(  # noqa: S603  (a fixed command; the unit name is ours)
        [systemctl, "is-active", name], capture_output=True, text=True, check=False, timeout=10
    )
    state = proc.stdout.strip() or proc.stderr.strip()
    if state == "active":
        return Check("service", OK, f"{name}.service is active")
    return Check("service", FAIL, f"{name}.service is {state or 'unknown'}")


def run_checks(
    config: Config,
    state_dir: Path,
    silent_hours: float = 25.0,
    service: bool = True,
    now: datetime | None = None,
) -> list[Check]:
    checks = [Check("config", OK, f"flat {config.flat}, {len(config.apartments)} apartments")]
    checks += check_broker(config)
    checks.append(check_clock())
    checks.append(check_disk(state_dir))
    saved = saved_state(state_dir, config)
    checks.append(check_sensors(saved, config, now or datetime.now(UTC), silent_hours))
    checks.append(check_coverage(saved, config))
    if service:
        checks.append(check_service())
    return checks
