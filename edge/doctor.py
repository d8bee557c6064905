"""``thuisplus doctor``: is this gateway healthy? One line per check, for the installer.

Checks: the configuration; the broker, reached with the hub's own credentials and TLS;
the hub's availability on the broker; the clock's synchronisation (chrony or systemd);
the state folder's free disk; every sensor heard from recently (from the hub's saved
state); what each apartment's sensors leave unwatched (:func:`coverage`); the systemd
service. Each check says OK, WARN or FAIL and why; the exit code is 1 when any check
fails. :func:`report` is the same as one JSON document (``thuisplus doctor --json``), each
check with its structured ``data`` (the full lists that the text line shortens).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge.config import Config, ConfigError
from edge.decode import DEFAULT_LIMITS, LimitError, check, decode_json
from edge.health import health_topic
from edge.models import COMMON_APARTMENT, Room
from edge.mqtt import MqttError, availability_topic, make_client
from edge.naming import unroled_sos
from edge.state import ApartmentState, hall_watched, is_front_door, is_pad
from edge.store import Store, StoreError

logger = logging.getLogger(__name__)

OK, WARN, FAIL = "OK", "WARN", "FAIL"


REPORT_SCHEMA = 1
"""The version of :func:`report`'s document: raised only when a key changes meaning or
goes away (new keys may be added without it); see docs/installers.md."""


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict, compare=False)
    """Structured facts behind ``detail`` (plain JSON values), for ``--json``."""

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<10} {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "data": self.data}


def check_config(config: Config, source: Path | None) -> Check:
    """``config``: OK only for a file actually read; WARN when none was given and the
    doctor checks with the defaults (a gateway's hub runs with /etc/thuisplus/flat.yaml).
    (A file that cannot be read or is not valid is :func:`config_failed`.)"""
    data: dict[str, Any] = {
        "file": None if source is None else str(source),
        "flat": config.flat,
        "apartments": len(config.apartments),
    }
    if source is None:
        conf = config.mqtt
        return Check(
            "config",
            WARN,
            f"no --config given: checked with the defaults (flat {config.flat}, broker "
            f"{conf.host}:{conf.port}, no apartments)",
            data,
        )
    return Check(
        "config", OK, f"flat {config.flat}, {len(config.apartments)} apartments from {source}", data
    )


def config_failed(source: Path | None, problems: list[str]) -> Check:
    """``config``: FAIL, the file missing, unreadable or not valid; one line per problem."""
    return Check(
        "config",
        FAIL,
        "; ".join(problems) or "the configuration cannot be used",
        {"file": None if source is None else str(source), "problems": list(problems)},
    )


def report(checks: list[Check], at: datetime, version: str) -> dict[str, Any]:
    """The doctor's verdict as one JSON-ready document (``thuisplus doctor --json``).

    >>> doc = report([Check("disk", OK, "plenty"), Check("sensors", FAIL, "none")],
    ...              datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "0.1.0")
    >>> doc["ok"], doc["at"], doc["counts"], [c["name"] for c in doc["checks"]]
    (False, '2026-01-05T09:00:00+00:00', {'OK': 1, 'WARN': 0, 'FAIL': 1}, ['disk', 'sensors'])
    """
    counts = {status: sum(c.status == status for c in checks) for status in (OK, WARN, FAIL)}
    return {
        "schema": REPORT_SCHEMA,
        "ok": counts[FAIL] == 0,
        "at": at.astimezone(UTC).isoformat(timespec="seconds"),
        "version": version,
        "counts": counts,
        "checks": [c.as_dict() for c in checks],
    }


# long: one check's steps in order: connect, subscribe, read retained, judge
def check_broker(config: Config, timeout: float = 5.0) -> list[Check]:
    """Connect as the hub would (another client id); read the hub's availability."""
    conf = config.mqtt
    try:
        client = make_client(conf, f"{conf.client_id}-doctor", clean=True)
    except (MqttError, ConfigError) as err:
        return [Check("broker", FAIL, str(err), {"host": conf.host, "port": conf.port})]
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
    data = {"host": conf.host, "port": conf.port, "tls": conf.tls.enabled}
    try:
        client.connect(conf.host, conf.port, keepalive=10)
    except OSError as err:
        return [Check("broker", FAIL, f"cannot reach {where}: {err}", data)]
    client.loop_start()
    try:
        if not connected.wait(timeout):
            return [Check("broker", FAIL, f"{where} did not answer within {timeout:.0f} s", data)]
        rc = answer["rc"]
        if rc.is_failure:
            return [Check("broker", FAIL, f"{where} refused the hub's credentials: {rc}", data)]
        out = [Check("broker", OK, f"{where} accepts the hub's credentials", data)]
        avail.wait(2.0)
        state = answer.get("availability")
        said = {"topic": topic, "availability": state}
        if state == "online":
            out.append(Check("hub", OK, f"{topic} says online", said))
        elif state is None:
            out.append(
                Check("hub", FAIL, f"{topic}: nothing retained (the hub never ran here)", said)
            )
        else:
            out.append(Check("hub", FAIL, f"{topic} says {state}", said))
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
        data: dict[str, Any] = {
            "seen": self.seen,
            "refused": [
                {"topic": t, "reason": why, "clear": f"mosquitto_pub -r -n -t '{t}'"}
                for t, why in sorted(self.refused.items())
            ],
        }
        if not self.refused:
            msg = f"{self.seen} retained messages, none over the limits"
            return Check("retained", OK, msg, data)
        shown = "; ".join(f"{r['clear']} ({r['reason']})" for r in data["refused"])
        count = len(self.refused)
        what = "message" if count == 1 else "messages"
        them = "it" if count == 1 else "each"
        return Check(
            "retained",
            FAIL,
            f"{count} retained {what} the hub refuses; clear {them}: {shown}",
            data,
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
        return Check("health", OK, "the hub reports no faults", {"faults": {}})
    detail = "; ".join(f"{k}: {v}" for k, v in sorted(faults.items()))
    return Check("health", FAIL, detail, {"faults": faults})


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
    data = {"path": str(state_dir), "free_mb": free_mb, "free_pct": round(pct, 1)}
    if free_mb < min_free_mb:
        return Check("disk", FAIL, detail, data)
    return Check("disk", WARN if pct < 10 else OK, detail, data)


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
        has = {"hall"} if hall_watched(st, roles) else set()
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
    data = {"apartments": n, "gaps": gaps}
    if not found:
        msg = f"{n} apartments: hall, front door and living room watched"
        return Check("coverage", OK, msg, data)
    hint = (
        ". A sensor that is there but not read as one (its name says neither pad nor front "
        "door): give it its role in the config's devices: (docs/installers.md, other names)"
    )
    return Check("coverage", WARN, "; ".join(found) + hint, data)


def _some(items: list[str], shown: int = 8) -> str:
    """The first ``shown`` of ``items``, and how many more.

    >>> _some(["a1", "a2", "a3"], 2)
    'a1, a2 and 1 more'
    """
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def check_sensors(
    saved: dict[str, Any] | str, config: Config, now: datetime, silent_hours: float
) -> Check:
    """``sensors``: every sensor heard from within ``silent_hours``; the silent ones are
    summarised per apartment (the full list is in ``data``), as are configured apartments
    the hub never heard from.

    >>> from edge.config import Config
    >>> seen = {"last_seen": "2026-01-05T07:00:00+00:00"}
    >>> saved = {"state": {"apartments": {
    ...     "a1": {"sensors": {"a1/hall/motion": seen, "a1/bedroom/bed": seen}},
    ...     "a2": {"sensors": {"a2/hall/motion": seen}}}}}
    >>> c = check_sensors(saved, Config(), datetime(2026, 1, 6, 12, 0, tzinfo=UTC), 25)
    >>> c.status
    'FAIL'
    >>> print(c.detail)
    3 silent for over 25 h in 2 apartments: a1 (2: bedroom/bed, hall/motion), a2/hall/motion
    >>> c.data["silent"]
    {'a1': ['a1/bedroom/bed', 'a1/hall/motion'], 'a2': ['a2/hall/motion']}
    """
    if isinstance(saved, str):
        return Check("sensors", FAIL, saved)
    apartments = saved.get("state", {}).get("apartments", {})
    if not apartments:
        return Check("sensors", FAIL, "no sensor seen yet", {"sensors": 0, "apartments": 0})
    limit = timedelta(hours=silent_hours)
    silent: dict[str, list[str]] = {}
    count = 0
    for apt, st in sorted(apartments.items()):
        for sid, sensor in sorted(st.get("sensors", {}).items()):
            count += 1
            last = datetime.fromisoformat(sensor["last_seen"])
            if now - last > limit or not sensor.get("available", True):
                silent.setdefault(apt, []).append(sid)
    expected = sorted(set(config.apartments) - set(apartments))
    data: dict[str, Any] = {
        "sensors": count,
        "apartments": len(apartments),
        "silent_hours": silent_hours,
        "silent": silent,
        "never_seen": expected,
    }
    problems = []
    if silent:
        n = sum(len(s) for s in silent.values())
        where = "" if len(silent) == 1 else f" in {len(silent)} apartments"
        per = [_silent_in(apt, sids) for apt, sids in silent.items()]
        problems.append(f"{n} silent for over {silent_hours:g} h{where}: {_some(per)}")
    if expected:
        problems.append(f"configured but never seen: {_some(expected)}")
    if problems:
        return Check("sensors", FAIL, "; ".join(problems), data)
    return Check(
        "sensors",
        OK,
        f"{count} sensors in {len(apartments)} apartments heard from within {silent_hours:g} h",
        data,
    )


def _silent_in(apartment: str, sensors: list[str]) -> str:
    """One apartment's silent sensors, without repeating the apartment in each id."""
    if len(sensors) == 1:
        return sensors[0]
    short = [s.removeprefix(f"{apartment}/") for s in sensors]
    return f"{apartment} ({len(short)}: {_some(short, 4)})"


def check_alarm_buttons(saved: dict[str, Any] | str, config: Config) -> Check:
    """``buttons``: the sensors heard from that are named like an alarm button (noodknop,
    sos, pendant, ...) but have no role ``sos_button``: a plain press of one raises no SOS.

    >>> from edge.config import Config
    >>> seen = {"state": {"apartments": {"a1": {"sensors": {"a1/hall/noodknop": {}}}}}}
    >>> check_alarm_buttons(seen, Config()).detail[:52]
    '1 named like an alarm button without role sos_button'
    """
    if isinstance(saved, str):
        return Check("buttons", WARN, "not checked: no saved state to read")
    apartments = saved.get("state", {}).get("apartments", {})
    seen = [sid for st in apartments.values() for sid in st.get("sensors", {})]
    found = unroled_sos(seen, config.device_roles())
    data = {"unroled": found}
    if not found:
        return Check("buttons", OK, "every button named like an alarm button has its role", data)
    return Check(
        "buttons",
        WARN,
        f"{len(found)} named like an alarm button without role sos_button (a plain press "
        f"raises no SOS; set the role under devices: in the config): {_some(found)}",
        data,
    )


def check_service(name: str = "thuisplus") -> Check:
    systemctl = shutil.which("systemctl")
    if not systemctl:
        return Check("service", WARN, "no systemctl here: cannot check the service")
    proc = subprocess.run(  # noqa: S603  (a fixed command; the unit name is ours)
        [systemctl, "is-active", name], capture_output=True, text=True, check=False, timeout=10
    )
    state = proc.stdout.strip() or proc.stderr.strip()
    data = {"unit": f"{name}.service", "state": state or None}
    if state == "active":
        return Check("service", OK, f"{name}.service is active", data)
    return Check("service", FAIL, f"{name}.service is {state or 'unknown'}", data)


def check_backup(config: Config, state_dir: Path, now: datetime) -> list[Check]:
    """The newest backup's age (WARN when none is configured or it is too old) and, on a
    restored store, that it is intact (``restore``; edge/backup.py)."""
    from edge.backup import backups, check_restored

    conf = config.backup
    out: list[Check] = []
    restored = check_restored(state_dir)
    if restored is not None:
        ok, detail = restored
        out.append(Check("restore", OK if ok else FAIL, detail))
    if not conf.recipients:
        out.append(Check("backup", WARN, "no backups: set backup.recipients (age public keys)"))
        return out
    found = backups(conf.dir, config.flat)
    if not found:
        out.append(Check("backup", WARN, f"no backup in {conf.dir} yet", {"dir": str(conf.dir)}))
        return out
    newest = found[-1]
    age_h = (now.timestamp() - newest.stat().st_mtime) / 3600
    data = {"newest": newest.name, "age_hours": round(age_h, 1), "count": len(found)}
    status = OK if age_h <= conf.max_age_hours else WARN
    out.append(Check("backup", status, f"newest {newest.name}, {age_h:.0f} h old", data))
    return out


def run_checks(
    config: Config,
    state_dir: Path,
    silent_hours: float = 25.0,
    service: bool = True,
    now: datetime | None = None,
    source: Path | None = None,
) -> list[Check]:
    """Every check, in the order printed; ``source``: the file ``config`` was read from."""
    checks = [check_config(config, source)]
    checks += check_broker(config)
    checks.append(check_clock())
    checks.append(check_disk(state_dir))
    saved = saved_state(state_dir, config)
    checks.append(check_sensors(saved, config, now or datetime.now(UTC), silent_hours))
    checks.append(check_coverage(saved, config))
    checks.append(check_alarm_buttons(saved, config))
    checks += check_backup(config, state_dir, now or datetime.now(UTC))
    if service:
        checks.append(check_service())
    return checks
