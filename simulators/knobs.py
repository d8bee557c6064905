"""The simulator's modelling assumptions as explicit knobs (docs/simulator.md, "Worlds").

Every knob's default is the simulator's behaviour before the knobs existed, so
``Knobs()`` gives the same bytes for the same seed. A knob that is off draws nothing
from the generators: the ordinary stream does not move. The knobs that only take
messages away or change what a device reports (``pir_miss``, ``plug_use_days``,
``checkins``, ``event_only``, ``availability``) draw from generators of their own, so the
residents' days stay those of the default world (the transport's random repeats and late
arrivals fall on other messages); the ones that change what residents do
(``seated_trip_min``, the night and social habits, ``episodes_from_day``) give other days.

>>> Knobs().is_default()
True
>>> Knobs(pir_miss=0.15).is_default()
False
>>> Knobs(event_only=("tv",)).event_only_keys()
frozenset({'living/tv'})
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

logger = logging.getLogger(__name__)

EVENT_ONLY_DEVICES = {"tv": "living/tv", "kettle": "kitchen/kettle", "fridge": "kitchen/fridge"}
"""Devices that may report only when used: short name -> ``<room>/<device>``."""
PLUG_KEYS = ("kitchen/kettle", "living/tv")
AVAILABILITY_MODES = ("episodes", "off", "on")
NAMINGS = ("ours", "other")
OTHER_ROOMS = {
    "bedroom": "slaapkamer",
    "bathroom": "badkamer",
    "toilet": "wc",
    "kitchen": "keuken",
    "living": "woonkamer",
    "hall": "gang",
    "entrance": "entree",
    "common_room": "ontmoetingsruimte",
}
"""Another installer's rooms (``Knobs.naming == "other"``): the Dutch names the hub reads."""
OTHER_DEVICES = {
    "motion": "bewegingsmelder",
    "door": "voordeur",
    "bed_pad": "bed_occupancy",
    "bed_pad_2": "bed_occupancy_2",
    "chair_pad": "armchair",
    "chair_pad_2": "armchair_2",
    "fridge": "fridge_door",
    "kettle": "waterkoker",
    "tv": "tv_plug",
    "sos_pendant": "alarm_button",
    "fall_radar": "fall_sensor",
}
"""Another installer's device names: what each device is, in their words."""
SEATED_TRIP_MIN = 15.0
"""Minutes between PIR trips of a seated resident by default (``RATE["still"]`` = 1/900 s)."""


@dataclass(frozen=True, slots=True)
class Knobs:
    """What a world assumes about sensors, devices and residents (defaults: today's)."""

    pir_miss: float = 0.0
    """Chance that a PIR misses a walk through its room (entry and exit unseen) and each
    other movement it would have seen."""
    seated_trip_min: float = SEATED_TRIP_MIN
    """Mean minutes between PIR trips of a seated resident; watching TV, napping, sleeping
    and visiting keep their ratio to it (by default 18, 40, 240 and 4 minutes)."""
    event_only: tuple[str, ...] = ()
    """Short names (``EVENT_ONLY_DEVICES``) of devices that send no periodic reports."""
    plug_use_days: float = 1.0
    """Share of days on which the kettle and TV plugs are used at all."""
    checkins: bool = True
    """Every device's periodic report (every 50-67 min); off: messages only on change."""
    availability: str = "episodes"
    """``episodes``: Zigbee2MQTT availability only around sensor troubles (offline after
    25 h of silence, online when back); ``off``: never; ``on``: as Zigbee2MQTT's
    availability feature, ``online`` for every device at the start, ``offline`` after the
    device's own silence passes the timeout (25 h battery, 10 min mains), ``online`` again
    with its next message."""
    episodes_from_day: int = 1
    """No labelled episode starts before this day (0 is the first day)."""
    night_toilet_scale: float = 1.0
    """Multiplies every resident's night toilet visits (0.3-1.8 a night by default)."""
    night_kitchen: float = 0.0
    """Mean night kitchen visits per night (out of bed, to the kitchen, back)."""
    visitor_scale: float = 1.0
    """Multiplies every resident's day visits per week (0.3-4 by default)."""
    common_scale: float = 1.0
    """Multiplies every resident's chance of the common room's coffee (0.05-0.6)."""
    loss: float = 0.0
    """Share of messages lost on the way (a Zigbee mesh drops some; each message
    independently, any device: a door's "open", a pad's "occupied", a PIR's detection)."""
    naming: str = "ours"
    """``ours``: the simulator's device names (``living/chair_pad``) and a flat.yaml that
    gives each pad, pendant and front door its role; ``other``: another installer's names
    (``woonkamer/armchair``, ``slaapkamer/bed_occupancy``, :data:`OTHER_DEVICES`; the front
    door hung in the hall, ``gang/voordeur``) and a
    flat.yaml with the residents only, as a new user writes it. Nothing else changes."""
    kit: bool = False
    """The standard installation (issue 18): a chair pad for each resident in every
    apartment (``living/chair_pad``, ``living/chair_pad_2`` for a partner), beside the
    front-door contact, hall motion and a bed pad for each resident that every simulated
    apartment has. Off: about 30 % of apartments have one chair pad (``--chair-pads``)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.pir_miss <= 1.0:
            raise ValueError(f"pir_miss {self.pir_miss} is not between 0 and 1")
        if not 0.0 <= self.plug_use_days <= 1.0:
            raise ValueError(f"plug_use_days {self.plug_use_days} is not between 0 and 1")
        if self.seated_trip_min <= 0:
            raise ValueError("seated_trip_min must be positive")
        if self.availability not in AVAILABILITY_MODES:
            raise ValueError(
                f"availability {self.availability!r}: one of {', '.join(AVAILABILITY_MODES)}"
            )
        if not 0.0 <= self.loss <= 0.5:
            raise ValueError(f"loss {self.loss} is not between 0 and 0.5")
        if self.naming not in NAMINGS:
            raise ValueError(f"naming {self.naming!r}: one of {', '.join(NAMINGS)}")
        unknown = [d for d in self.event_only if d not in EVENT_ONLY_DEVICES]
        if unknown:
            raise ValueError(
                f"event-only device {unknown[0]!r}: one of {', '.join(EVENT_ONLY_DEVICES)}"
            )
        if self.episodes_from_day < 1:
            raise ValueError("episodes_from_day must be at least 1 (day 0 is always calm)")
        for name in ("night_toilet_scale", "night_kitchen", "visitor_scale", "common_scale"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def is_default(self) -> bool:
        return self == Knobs()

    def event_only_keys(self) -> frozenset[str]:
        return frozenset(EVENT_ONLY_DEVICES[d] for d in self.event_only)

    def published(self, key: str) -> str:
        """The ``<room>/<device>`` a device publishes under in this world (``key``: the
        simulator's own)."""
        if self.naming == "ours":
            return key
        return published_key(key)

    @property
    def trip_factor(self) -> float:
        """Factor on the PIR rates of resting activities (1.0 by default)."""
        return SEATED_TRIP_MIN / self.seated_trip_min

    def changed(self) -> dict[str, object]:
        """The knobs that differ from the default, by name."""
        base = Knobs()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(base, f.name)
        }


def published_key(key: str) -> str:
    """Another installer's ``<room>/<device>`` for the simulator's ``key``.

    >>> published_key("living/chair_pad"), published_key("entrance/door")
    ('woonkamer/armchair', 'gang/voordeur')
    """
    if key == "entrance/door":  # hung in the hall, named as what it is
        return "gang/voordeur"
    room, _, device = key.partition("/")
    return f"{OTHER_ROOMS.get(room, room)}/{OTHER_DEVICES.get(device, device)}"
