"""Typed values that flow through the hub: raw messages, sensor events and signals.

The field names and meanings follow ``../shared/spec/INTERFACES.md``; the docs in
``docs/interfaces.md`` list what this project adds to them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

logger = logging.getLogger(__name__)

COMMON_APARTMENT = "common"


class Room(StrEnum):
    """Rooms named in the device convention ``<apartment>/<room>/<device>``."""

    BEDROOM = "bedroom"
    BATHROOM = "bathroom"
    TOILET = "toilet"
    KITCHEN = "kitchen"
    LIVING = "living"
    HALL = "hall"
    ENTRANCE = "entrance"
    BALCONY = "balcony"
    COMMON_ROOM = "common_room"
    OTHER = "other"


class Domain(StrEnum):
    """Who owns a signal at the signal meeting."""

    CARE = "care"
    WELFARE = "welfare"
    HOUSING = "housing"


class Severity(StrEnum):
    URGENT = "urgent"
    ATTENTION = "attention"
    INFO = "info"


class SignalKind(StrEnum):
    FALL = "fall"
    SOS = "sos"
    NO_WAKE = "no_wake"
    INACTIVITY = "inactivity"
    LONG_BATHROOM = "long_bathroom"
    NIGHT_WANDERING = "night_wandering"
    DOOR_OPEN = "door_open"
    WITHDRAWAL = "withdrawal"
    NUTRITION = "nutrition"
    NIGHT_TOILET = "night_toilet"
    MOBILITY_DECLINE = "mobility_decline"
    SENSOR_OFFLINE = "sensor_offline"
    LOW_BATTERY = "low_battery"
    HUB_FAULT = "hub_fault"
    """The hub itself: it restarted too often (a crash loop); raised by the hub, not by a
    detector, for the apartment ``common``, urgent, paged from the lead's step."""


HUB_KINDS = frozenset({SignalKind.HUB_FAULT})
"""Kinds about the hub itself, not a resident's situation: no simulator or recording has
them, and replay never raises them."""


@dataclass(frozen=True, slots=True)
class KindInfo:
    """One row of :data:`KINDS`."""

    kind: SignalKind
    domain: Domain
    """Who owns its signals at the signal meeting."""
    severity: Severity
    """``urgent`` pages (escalation), ``attention`` goes on the meeting's agenda."""
    detectors: tuple[str, ...]
    """The detectors whose signals these are (named in the signal's evidence; the meeting's
    verdict goes to them), the first the kind's owner; ``hub`` for the hub's own."""

    @property
    def label(self) -> str:
        """Its name in the translation catalogue (edge/catalogue.py), Dutch and English."""
        return f"kind.{self.kind.value}"


KINDS: dict[SignalKind, KindInfo] = {
    row.kind: row
    for row in (
        KindInfo(SignalKind.FALL, Domain.CARE, Severity.URGENT, ("fall", "fall_silence")),
        KindInfo(SignalKind.SOS, Domain.CARE, Severity.URGENT, ("sos",)),
        KindInfo(SignalKind.NO_WAKE, Domain.CARE, Severity.URGENT, ("no_wake",)),
        KindInfo(SignalKind.INACTIVITY, Domain.CARE, Severity.URGENT, ("inactivity",)),
        KindInfo(SignalKind.LONG_BATHROOM, Domain.CARE, Severity.URGENT, ("long_bathroom",)),
        KindInfo(SignalKind.NIGHT_WANDERING, Domain.CARE, Severity.ATTENTION, ("night_wandering",)),
        KindInfo(SignalKind.DOOR_OPEN, Domain.CARE, Severity.ATTENTION, ("door_open",)),
        KindInfo(SignalKind.WITHDRAWAL, Domain.WELFARE, Severity.ATTENTION, ("withdrawal",)),
        KindInfo(SignalKind.NUTRITION, Domain.CARE, Severity.ATTENTION, ("nutrition",)),
        KindInfo(SignalKind.NIGHT_TOILET, Domain.CARE, Severity.ATTENTION, ("night_toilet",)),
        KindInfo(
            SignalKind.MOBILITY_DECLINE, Domain.CARE, Severity.ATTENTION, ("mobility_decline",)
        ),
        KindInfo(
            SignalKind.SENSOR_OFFLINE, Domain.HOUSING, Severity.ATTENTION, ("sensor_offline",)
        ),
        KindInfo(SignalKind.LOW_BATTERY, Domain.HOUSING, Severity.ATTENTION, ("low_battery",)),
        KindInfo(SignalKind.HUB_FAULT, Domain.HOUSING, Severity.URGENT, ("hub",)),
    )
}
"""The one signal-kind table: per kind its domain, severity, detectors and catalogue label.
A candidate takes its domain and severity from here (:class:`edge.contract.Candidate`);
``tests/test_kinds.py`` holds every kind, every registered detector and every label to it.
A new kind: its member in :class:`SignalKind`, its row here, its label (``kind.<kind>``)
in both languages in edge/catalogue.py.

>>> KINDS[SignalKind.NO_WAKE].severity.value, KINDS[SignalKind.NO_WAKE].label
('urgent', 'kind.no_wake')
>>> KINDS[SignalKind.FALL].detectors
('fall', 'fall_silence')
"""


_ZONES: dict[tzinfo, tzinfo] = {}
_ZONES_MAX = 64


def shared_zone(ts: datetime) -> datetime:
    """``ts`` (parsed by ``datetime.fromisoformat``: a fixed offset without a name) with
    one shared tzinfo object per UTC offset: the same instant, offset and text.
    ``datetime.fromisoformat`` makes a new tzinfo for each time it parses, and two
    times with different tzinfo objects compare about twenty times slower than two with
    the same one (each side's offset is worked out first); the hub compares event times
    dozens of times per event (clock, state, due times).

    >>> a = shared_zone(datetime.fromisoformat("2026-01-05T07:31:02.120+01:00"))
    >>> b = shared_zone(datetime.fromisoformat("2026-01-05T09:00:00+01:00"))
    >>> a.tzinfo is b.tzinfo, a.isoformat()
    (True, '2026-01-05T07:31:02.120000+01:00')
    """
    tz = ts.tzinfo
    if tz is None:
        return ts
    shared = _ZONES.get(tz)
    if shared is None:
        if len(_ZONES) >= _ZONES_MAX or type(tz) is not timezone:
            return ts  # (only fixed offsets, and only a few of them, are shared)
        shared = _ZONES[tz] = tz
    return ts if shared is tz else ts.astimezone(shared)


class Message(NamedTuple):
    """One MQTT message as received (live) or as read from a recording line.

    ``payload`` is the decoded JSON value, or the raw text when it was not JSON.
    ``received`` is the receive time (wall time live, the line's ``ts`` in replay).
    ``source`` says where it came from, for dead letters (``file.jsonl:12`` or ``mqtt``).
    """

    received: datetime
    topic: str
    payload: Any
    source: str = "mqtt"


class SensorEvent(BaseModel):
    """A sensor message turned into typed readings.

    Only the readings the payload carried are set; ``None`` means "not in this message".
    ``ts`` is the event time (``last_seen`` in the payload when present, else the receive
    time); ``received`` is when the hub (or the recorder) got it.

    >>> from datetime import datetime, timezone
    >>> ev = SensorEvent(ts=datetime(2026, 1, 5, 7, 31, tzinfo=timezone.utc),
    ...                  received=datetime(2026, 1, 5, 7, 31, tzinfo=timezone.utc),
    ...                  apartment="a012", room=Room.BATHROOM, device="motion",
    ...                  occupancy=True, battery=87)
    >>> ev.sensor_id, ev.occupancy, ev.contact
    ('a012/bathroom/motion', True, None)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts: datetime
    received: datetime
    apartment: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    room: Room
    device: str = Field(min_length=1, max_length=64)
    sensor_id: str = Field("", description="'<apartment>/<room>/<device>', filled in when empty")
    occupancy: bool | None = None
    contact: bool | None = None
    fall: bool | None = None
    action: str | None = None
    power: float | None = None
    vibration: bool | None = None
    battery: float | None = Field(default=None, ge=0, le=100)
    battery_low: bool | None = None
    """Zigbee2MQTT's ``battery_low`` (devices that report no level, only "low")."""
    linkquality: int | None = Field(default=None, ge=0, le=255)
    tamper: bool | None = None
    available: bool | None = None

    @field_validator("ts", "received")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a UTC offset")
        return value

    @model_validator(mode="after")
    def _sensor_id(self) -> SensorEvent:
        expected = f"{self.apartment}/{self.room.value}/{self.device}"
        if not self.sensor_id:
            object.__setattr__(self, "sensor_id", expected)
        elif self.sensor_id != expected:
            raise ValueError(f"sensor_id {self.sensor_id!r} is not {expected!r}")
        return self

    @classmethod
    def trusted(cls, fields: dict[str, Any]) -> SensorEvent:
        """Build from fields the normalisers already checked, skipping validation.

        The hot path of the hub: ``model_construct`` costs ~20 us an event, this ~1 us.
        The tests check that what it builds equals what full validation gives.
        """
        event = cls.__new__(cls)
        values = dict(_EVENT_DEFAULTS)
        values.update(fields)
        if not values["sensor_id"]:
            values["sensor_id"] = f"{values['apartment']}/{values['room'].value}/{values['device']}"
        object.__setattr__(event, "__dict__", values)
        object.__setattr__(event, "__pydantic_fields_set__", set(fields))
        object.__setattr__(event, "__pydantic_extra__", None)
        object.__setattr__(event, "__pydantic_private__", None)
        return event


_EVENT_DEFAULTS: dict[str, Any] = {
    name: f.default for name, f in SensorEvent.model_fields.items() if not f.is_required()
}


class Signal(BaseModel):
    """A signal as published on MQTT and written to ``--signals-out`` (INTERFACES section 4)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    flat: str
    apartment: str
    kind: SignalKind
    domain: Domain
    severity: Severity
    start: datetime
    detected_at: datetime
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    summary_en: str | None = None
    """The summary in English, beside a flat language other than English (an English
    agenda, page or Home Assistant entity reads it)."""
    status: str | None = None
    """Only on the message that says the hub closed the signal by itself: ``closed``
    (register statuses; a raised signal carries no status)."""
    closed_at: datetime | None = None
    """With ``status``: the event time the condition cleared."""
    reason: str | None = None
    """With ``status``: why, in the flat's language ("Deur weer dicht om 14:32")."""

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


def signal_id(flat: str, apartment: str, kind: str, start: datetime, key: str = "") -> str:
    """A stable id: the same situation gives the same id live and in replay.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 5, 8, 10, tzinfo=timezone.utc)
    >>> signal_id("f1", "a012", "fall", t) == signal_id("f1", "a012", "fall", t)
    True
    >>> signal_id("f1", "a012", "fall", t) == signal_id("f1", "a013", "fall", t)
    False
    """
    raw = f"{flat}|{apartment}|{kind}|{start.timestamp():.3f}|{key}"
    return hashlib.blake2b(raw.encode(), digest_size=10).hexdigest()
