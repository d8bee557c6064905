"""From a Zigbee2MQTT message to a typed :class:`~edge.models.SensorEvent`.

The apartment, room and device come from the topic (``zigbee2mqtt/<apartment>/<room>/<device>``,
INTERFACES section 1); the readings from the payload's fields, each through a small pure
converter in a registry (INTERFACES section 2, plus the extensions listed below). A
converter returns the normalised fields or raises :class:`Reject` naming what was wrong.

A message is never lost: when the topic or the payload cannot be used at all, the result
carries the reason and the caller keeps the message as a dead letter. When only some
fields are bad, the good ones still make an event and the bad ones are reported.

Extensions beyond INTERFACES section 2 (device quirks seen in Zigbee2MQTT):
``battery_low`` (devices that report no level, e.g. Tuya door contacts) as ``battery_low``;
``presence`` (mmWave radars) is read as ``occupancy``; ``fall_down_status`` (Tuya fall
radars: ``"fall"``/``"none"``) as ``fall``; ``last_seen`` (ISO 8601 with offset, or epoch
milliseconds) is the event time, on availability payloads too (a simulator publishing
accelerated time sets it there).

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 5, 7, 31, tzinfo=timezone.utc)
>>> r = normalise(Message(t, "zigbee2mqtt/a012/bathroom/motion",
...                       {"occupancy": True, "battery": 87, "illuminance": 12}))
>>> r.event.sensor_id, r.event.occupancy, r.event.battery, r.problems
('a012/bathroom/motion', True, 87.0, [])
>>> normalise(Message(t, "zigbee2mqtt/a012/garage/motion", {"occupancy": True})).reason[:60]
"topic: unknown room 'garage' (one of bedroom, bathroom, toil"
>>> normalise(Message(t, "zigbee2mqtt/a012/hall/m", {"occupancy": "yes"})).reason
"payload: no usable field (occupancy: expected true or false, got 'yes')"
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edge.models import Message, Room, SensorEvent, shared_zone
from edge.naming import DeviceNames, Place

logger = logging.getLogger(__name__)

_COMMAND_SUFFIXES = ("/set", "/get")


class Reject(ValueError):
    """A payload field whose value cannot be used; the message names the field."""


INTERFACES_FIELDS = (
    "occupancy",
    "contact",
    "fall",
    "action",
    "power",
    "vibration",
    "battery",
    "linkquality",
    "tamper",
)
"""The payload fields of INTERFACES section 2, each read by a converter below."""

Converter = Callable[[Any], dict[str, Any]]
CONVERTERS: dict[str, Converter] = {}


def converter(*names: str) -> Callable[[Converter], Converter]:
    """Register a converter for the payload fields ``names``."""

    def deco(fn: Converter) -> Converter:
        for name in names:
            if name in CONVERTERS:
                raise ValueError(f"two converters for payload field {name!r}")
            CONVERTERS[name] = fn
        return fn

    return deco


def _bool(name: str, value: Any) -> bool:
    if value is True or value is False:
        return value
    raise Reject(f"{name}: expected true or false, got {_show(value)}")


def _number(name: str, value: Any, low: float, high: float) -> float:
    kind = type(value)
    if (kind is int or kind is float) and low <= value <= high:
        return float(value)  # the usual case (NaN and infinities fail the range)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Reject(f"{name}: expected a number, got {_show(value)}")
    if not low <= value <= high:
        raise Reject(f"{name}: {value} is outside {low:g}..{high:g}")
    return float(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@converter("occupancy")
def _occupancy(value: Any) -> dict[str, Any]:
    return {"occupancy": _bool("occupancy", value)}


@converter("presence")
def _presence(value: Any) -> dict[str, Any]:
    return {"occupancy": _bool("presence", value)}


@converter("contact")
def _contact(value: Any) -> dict[str, Any]:
    return {"contact": _bool("contact", value)}


_FALL_WORDS = {"fall": True, "fallen": True, "normal": False, "none": False, "no_fall": False}


@converter("fall")
def _fall(value: Any) -> dict[str, Any]:
    if value is True or value is False:
        return {"fall": value}
    if isinstance(value, str) and value.lower() in _FALL_WORDS:
        return {"fall": _FALL_WORDS[value.lower()]}
    raise Reject(f"fall: expected true, false or 'fall', got {_show(value)}")


@converter("fall_down_status")
def _fall_down_status(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value.lower() in _FALL_WORDS:
        return {"fall": _FALL_WORDS[value.lower()]}
    raise Reject(f"fall_down_status: expected 'fall' or 'none', got {_show(value)}")


@converter("action")
def _action(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}  # Zigbee2MQTT clears the action field after a press
    if not isinstance(value, str) or len(value) > 64:
        raise Reject(f"action: expected a short text, got {_show(value)}")
    return {"action": value.lower()}


@converter("power")
def _power(value: Any) -> dict[str, Any]:
    # a few plugs report tiny negative values at rest
    return {"power": max(0.0, _number("power", value, -5.0, 50000.0))}


@converter("vibration")
def _vibration(value: Any) -> dict[str, Any]:
    return {"vibration": _bool("vibration", value)}


@converter("battery")
def _battery(value: Any) -> dict[str, Any]:
    return {"battery": _number("battery", value, 0.0, 100.0)}


@converter("battery_low")
def _battery_low(value: Any) -> dict[str, Any]:
    return {"battery_low": _bool("battery_low", value)}


@converter("linkquality")
def _linkquality(value: Any) -> dict[str, Any]:
    return {"linkquality": int(_number("linkquality", value, 0.0, 255.0))}


@converter("tamper")
def _tamper(value: Any) -> dict[str, Any]:
    return {"tamper": _bool("tamper", value)}


def parse_last_seen(value: Any) -> datetime:
    """Zigbee2MQTT's ``last_seen``: ISO 8601 with an offset, or epoch milliseconds.

    >>> parse_last_seen("2026-01-05T07:31:02.120+01:00").isoformat()
    '2026-01-05T07:31:02.120000+01:00'
    >>> parse_last_seen(1767594662120).isoformat()
    '2026-01-05T06:31:02.120000+00:00'
    """
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError as err:
            raise Reject(f"last_seen: not an ISO 8601 time: {_show(value)}") from err
        if ts.tzinfo is None:
            raise Reject(f"last_seen: no UTC offset in {_show(value)}")
        return shared_zone(ts)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if not 0 <= value < 1e14:
            raise Reject(f"last_seen: {value} is not epoch milliseconds")
        return datetime.fromtimestamp(value / 1000.0, tz=UTC)
    raise Reject(f"last_seen: expected a time, got {_show(value)}")


@dataclass(frozen=True, slots=True)
class Topic:
    apartment: str
    room: Room
    device: str
    availability: bool
    attribute: str | None = None
    """Zigbee2MQTT's ``output: attribute``: the payload is this one field's value."""
    role: str | None = None

    @property
    def sensor_id(self) -> str:
        return f"{self.apartment}/{self.room.value}/{self.device}"


@dataclass(slots=True)
class Result:
    """The outcome for one message: an event, or a reason; ``ignored`` for non-sensor topics."""

    event: SensorEvent | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)
    ignored: bool = False


IGNORED = Result(ignored=True)
_BASE_FIELDS = 6  # ts, received, apartment, room, device, sensor_id
_CONVENTION = DeviceNames()


def parse_topic(
    topic: str, base: str = "zigbee2mqtt", names: DeviceNames | None = None
) -> Topic | Result:
    """Split a sensor topic, or return why it is not one (``ignored`` for bridge topics).

    The device part is a Zigbee2MQTT friendly name, placed by ``names`` (the config's
    ``devices:`` map, what Zigbee2MQTT says, or ``<apartment>/<room>/<device>``); a last
    part ``availability`` is its availability, one that is a payload field (``occupancy``,
    ``battery``, ...) is one attribute of it (Zigbee2MQTT's ``output: attribute``).

    >>> parse_topic("zigbee2mqtt/a012/woonkamer/motion/occupancy").attribute
    'occupancy'
    >>> parse_topic("zigbee2mqtt/Sensor 7").reason[:66]
    'topic: expected zigbee2mqtt/<apartment>/<room>/<device>, a device '
    """
    prefix = base + "/"
    if not topic.startswith(prefix):
        return Result(reason=f"topic: not under {prefix}")
    rest = topic[len(prefix) :]
    if rest.startswith("bridge/") or rest == "bridge" or rest.endswith(_COMMAND_SUFFIXES):
        return IGNORED
    names = names or _CONVENTION
    head, sep, last = rest.rpartition("/")
    if sep and (last == "availability" or last in CONVERTERS or last == "last_seen"):
        place = names.place(head)
        if isinstance(place, Place):
            if last == "availability":
                return _topic_at(place, availability=True)
            return _topic_at(place, attribute=last)
    place = names.place(rest)
    if isinstance(place, Place):
        return _topic_at(place)
    if place == "not <apartment>/<room>/<device>":
        return Result(
            reason=f"topic: expected {base}/<apartment>/<room>/<device>, a device mapped under "
            "devices: in the config, or one described as <apartment>/<room> in Zigbee2MQTT "
            f"({_show(rest)} is none of these)"
        )
    return Result(reason=f"topic: {place}")


def _topic_at(place: Place, availability: bool = False, attribute: str | None = None) -> Topic:
    return Topic(place.apartment, place.room, place.device, availability, attribute, place.role)


def _availability(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.get("state")
    if value == "online":
        return True
    if value == "offline":
        return False
    raise Reject(f"availability: expected 'online' or 'offline', got {_show(value)}")


_TOPICS: dict[tuple[str, str, int, int], tuple[Topic | Result, str]] = {}
_TOPIC_CACHE_MAX = 50_000


def _topic(topic: str, base: str, names: DeviceNames | None) -> tuple[Topic | Result, str]:
    """:func:`parse_topic`, remembered: a flat has a few thousand topics, seen again and
    again (per ``names`` and what it knew: a new ``bridge/devices`` places anew)."""
    key = (topic, base, id(names), names.version if names is not None else 0)
    found = _TOPICS.get(key)
    if found is None:
        if len(_TOPICS) >= _TOPIC_CACHE_MAX:
            _TOPICS.clear()  # a flood of made-up topics must not grow memory without bound
        where = parse_topic(topic, base, names)
        found = _TOPICS[key] = (where, where.sensor_id if isinstance(where, Topic) else "")
    return found


def normalise(
    message: Message, base: str = "zigbee2mqtt", names: DeviceNames | None = None
) -> Result:
    """Turn one message into an event, a reason to reject it, or ``ignored``."""
    where, sensor_id = _topic(message.topic, base, names)
    if isinstance(where, Result):
        return where
    payload = message.payload
    if where.attribute is not None:
        payload = {where.attribute: _attribute_value(payload)}
    received = message.received
    if where.availability:
        try:
            up = _availability(payload)
            seen = payload.get("last_seen") if isinstance(payload, dict) else None
            ts = received if seen is None else parse_last_seen(seen)
        except Reject as err:
            return Result(reason=f"payload: {err}")
        event = SensorEvent.trusted(
            {
                "ts": ts,
                "received": received,
                "apartment": where.apartment,
                "room": where.room,
                "device": where.device,
                "sensor_id": sensor_id,
                "available": up,
            }
        )
        return Result(event=event)
    if not isinstance(payload, dict):
        kind = "text" if isinstance(payload, str) else type(payload).__name__
        return Result(reason=f"payload: not a JSON object ({kind})")

    fields: dict[str, Any] = {
        "ts": received,
        "received": received,
        "apartment": where.apartment,
        "room": where.room,
        "device": where.device,
        "sensor_id": sensor_id,
    }
    problems: list[str] = []
    for key, value in payload.items():
        conv = CONVERTERS.get(key)
        if conv is not None:
            try:
                fields.update(conv(value))
            except Reject as err:
                problems.append(str(err))
        elif key == "last_seen":
            try:
                fields["ts"] = parse_last_seen(value)
            except Reject as err:
                problems.append(str(err))
    if problems and len(fields) == _BASE_FIELDS:
        return Result(reason=f"payload: no usable field ({'; '.join(problems)})")
    return Result(event=SensorEvent.trusted(fields), problems=problems)


def _attribute_value(value: Any) -> Any:
    """One attribute's payload (``output: attribute``): JSON where it parses (``true``,
    ``87``), else the text (``single``, ``ON``); numbers sent as text are read as numbers."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        try:
            number = float(low)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in low else number
    return value
