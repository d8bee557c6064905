"""Which apartment, room and device a Zigbee2MQTT name stands for.

Zigbee2MQTT publishes each device under its *friendly name*
(``zigbee2mqtt/<friendly name>``); a new device's friendly name is its IEEE address
(``0x00158d0001a2b3c4``) until an installer renames it. The hub reads the place of a
device from, in this order:

1. the config's ``devices:`` map: a friendly name or an IEEE address -> apartment,
   room, and optionally device name and role (:class:`DeviceEntry` in edge/config.py);
2. what Zigbee2MQTT itself says (``bridge/devices``, retained): a device whose
   *description* (set in Zigbee2MQTT's frontend) names ``<apartment>/<room>``, or that is a
   member of a *group* named ``<apartment>/<room>`` (``bridge/groups``); also the IEEE
   address behind each friendly name, so the config may key a device by either;
3. the naming convention ``<apartment>/<room>/<device>`` (INTERFACES section 1).

Rooms may be given in English (``bathroom``) or Dutch (``badkamer``), in any case, with
spaces or hyphens (``Woon kamer`` is not a room, ``woonkamer`` is).

>>> room_of("Badkamer"), room_of("living"), room_of("garage")
(<Room.BATHROOM: 'bathroom'>, <Room.LIVING: 'living'>, None)
>>> names = DeviceNames()
>>> names.place("a012/badkamer/motion")
Place(apartment='a012', room=<Room.BATHROOM: 'bathroom'>, device='motion', role=None, source='name')
>>> names.learn_devices([{"ieee_address": "0x00158d0001a2b3c4",
...                       "friendly_name": "Bewegingsmelder 12",
...                       "description": "a012/badkamer"}])
[]
>>> names.place("Bewegingsmelder 12").sensor_id
'a012/bathroom/bewegingsmelder_12'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from edge.models import Room

logger = logging.getLogger(__name__)

ROOM_ALIASES: dict[str, Room] = {
    "badkamer": Room.BATHROOM,
    "douche": Room.BATHROOM,
    "doucheruimte": Room.BATHROOM,
    "wc": Room.TOILET,
    "keuken": Room.KITCHEN,
    "woonkamer": Room.LIVING,
    "zitkamer": Room.LIVING,
    "huiskamer": Room.LIVING,
    "slaapkamer": Room.BEDROOM,
    "gang": Room.HALL,
    "hal": Room.HALL,
    "overloop": Room.HALL,
    "entree": Room.ENTRANCE,
    "ingang": Room.ENTRANCE,
    "voordeur": Room.ENTRANCE,
    "balkon": Room.BALCONY,
    "terras": Room.BALCONY,
    "ontmoetingsruimte": Room.COMMON_ROOM,
    "recreatieruimte": Room.COMMON_ROOM,
    "huiskamer_flat": Room.COMMON_ROOM,
    "gemeenschappelijke_ruimte": Room.COMMON_ROOM,
    "berging": Room.OTHER,
    "overig": Room.OTHER,
    "portaal": Room.HALL,
    "halletje": Room.HALL,
    "bijkeuken": Room.OTHER,
    "logeerkamer": Room.OTHER,
    "werkkamer": Room.OTHER,
}
"""Dutch room names (and a few English spellings) for the rooms of :class:`Room`."""

_ROOMS = {r.value: r for r in Room} | {
    "living_room": Room.LIVING,
    "livingroom": Room.LIVING,
    "lounge": Room.LIVING,
    "sitting_room": Room.LIVING,
    "commonroom": Room.COMMON_ROOM,
    "bath": Room.BATHROOM,
    "shower": Room.BATHROOM,
    "washroom": Room.BATHROOM,
    "restroom": Room.TOILET,
    "lavatory": Room.TOILET,
    "loo": Room.TOILET,
    "hallway": Room.HALL,
    "corridor": Room.HALL,
    "landing": Room.HALL,
    "entry": Room.ENTRANCE,
    "entryway": Room.ENTRANCE,
    "foyer": Room.ENTRANCE,
    "bed_room": Room.BEDROOM,
    "storage": Room.OTHER,
    "utility": Room.OTHER,
}
"""English rooms and a few other English words for them (``hallway``, ``restroom``)."""
ROOM_WORDS = tuple(_ROOMS) + tuple(ROOM_ALIASES)
"""Every room name the hub reads (the Ansible role checks friendly names against these)."""
ROOM_NAMES = ", ".join(r.value for r in Room)
DUTCH_ROOM_NAMES = ", ".join(sorted(ROOM_ALIASES))
APARTMENT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
IEEE = re.compile(r"^0x[0-9a-fA-F]{16}$")
_SLUG = re.compile(r"[^a-z0-9_-]+")
ROLE_DEVICE = {"sos_button": "sos", "bed_pad": "bed", "chair_pad": "chair", "front_door": "door"}
"""The device name a mapped device gets from its role when the map gives none."""


def _key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def room_of(name: str) -> Room | None:
    """The room a name stands for (English or Dutch, any case), or ``None``."""
    key = _key(name)
    return _ROOMS.get(key) or ROOM_ALIASES.get(key)


def slug(name: str) -> str:
    """A device name for the sensor id, made from a friendly name.

    >>> slug("Bewegingsmelder Badkamer (Aqara)"), slug("0x00158D0001A2B3C4")
    ('bewegingsmelder_badkamer_aqara', '0x00158d0001a2b3c4')
    """
    return _SLUG.sub("_", name.strip().lower()).strip("_")[:64] or "device"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a device is, and what the hub calls it."""

    apartment: str
    room: Room
    device: str
    role: str | None = None
    source: str = "name"
    """``config`` (the devices: map), ``description``, ``group`` (Zigbee2MQTT), ``name``."""

    @property
    def sensor_id(self) -> str:
        return f"{self.apartment}/{self.room.value}/{self.device}"


class MapEntry(Protocol):
    """One entry of the config's ``devices:`` map (edge.config.DeviceEntry)."""

    apartment: str
    room: str
    device: str | None
    role: str | None
    ignore: bool


def place_of_entry(key: str, entry: MapEntry) -> Place:
    """The place a ``devices:`` entry gives (its room already checked by the config)."""
    room = room_of(entry.room)
    if room is None:  # (the config refuses this; a safe answer all the same)
        room = Room.OTHER
    device = entry.device or (ROLE_DEVICE.get(entry.role or "") or slug(key))
    return Place(entry.apartment, room, device, entry.role, "config")


def parse_convention(name: str) -> Place | str:
    """``<apartment>/<room>/<device>``, or why ``name`` is not that."""
    parts = name.split("/")
    if len(parts) < 3 or not all(parts):
        return "not <apartment>/<room>/<device>"
    apartment, room_name = parts[0], parts[1]
    device = "/".join(parts[2:])
    if not APARTMENT.match(apartment):
        return f"apartment id {_show(apartment)} is not 1-32 of A-Z a-z 0-9 _ -"
    room = room_of(room_name)
    if room is None:
        return f"unknown room {room_name!r} (one of {ROOM_NAMES}; or in Dutch {DUTCH_ROOM_NAMES})"
    if len(device) > 64:
        return "device name longer than 64 characters"
    if not device.isprintable():
        return "device name has control characters"
    return Place(apartment, _door_room(room, device), device)


_FRONT = frozenset({"front", "main", "entrance", "entry", "apartment", "voor", "hoofd"})
_DOOR = frozenset({"door", "deur"})
_FRONT_DOORS = frozenset(
    {"voordeur", "huisdeur", "frontdoor", "maindoor", "entrancedoor", "hoofddeur", "buitendeur"}
)
_NOT_A_CONTACT = frozenset(
    {"motion", "pir", "presence", "occupancy", "beweging", "bewegingsmelder", "aanwezigheid"}
)


def is_front_door_name(device: str) -> bool:
    """A device name that says *front door* (``front_door``, ``Voordeur``, ``main door
    contact``), not a motion sensor near it.

    >>> [is_front_door_name(d) for d in ("front_door", "Voordeur", "main door contact")]
    [True, True, True]
    >>> [is_front_door_name(d) for d in ("door", "fridge_door", "front_door_motion")]
    [False, False, False]
    """
    words = set(re.findall(r"[a-z]+", device.lower()))
    if words & _NOT_A_CONTACT:
        return False
    return bool(words & _FRONT_DOORS) or bool(words & _DOOR and words & _FRONT)


def _door_room(room: Room, device: str) -> Room:
    """The front door belongs to the entrance (INTERFACES section 1), wherever an installer
    hung it: a device named as the front door in the hall (``a012/gang/voordeur``) is read
    as the entrance's, so the hub knows the way out and in (the config's map may say
    otherwise).

    >>> _door_room(Room.HALL, "front_door"), _door_room(Room.HALL, "motion")
    (<Room.ENTRANCE: 'entrance'>, <Room.HALL: 'hall'>)
    """
    if room is Room.ENTRANCE or not is_front_door_name(device):
        return room
    return Room.ENTRANCE


def parse_place_text(text: str) -> tuple[str, Room] | None:
    """An ``<apartment>/<room>`` found in a Zigbee2MQTT description or group name.

    >>> parse_place_text("Thuisplus: a012/Badkamer, boven de deur")
    ('a012', <Room.BATHROOM: 'bathroom'>)
    >>> parse_place_text("Aqara motion sensor") is None
    True
    """
    for match in re.finditer(r"([A-Za-z0-9_-]{1,32})/([A-Za-z_][A-Za-z_ -]{1,40})", text):
        room_text = match.group(2)
        # the longest leading run of words that is a room ("badkamer, boven" -> badkamer)
        words = re.split(r"[\s,;.]+", room_text.strip())
        for n in range(len(words), 0, -1):
            room = room_of(" ".join(words[:n]))
            if room is not None:
                return match.group(1), room
    return None


def _show(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:37] + "...")


class DeviceNames:
    """The places of devices: from the config's map, what Zigbee2MQTT says, the convention.

    ``version`` changes whenever what it knows changes (callers cache by it).
    """

    def __init__(self, entries: Mapping[str, MapEntry] | None = None) -> None:
        self._config: dict[str, Place] = {}
        self._ignored: set[str] = set()
        self._config_ieee: dict[str, Place] = {}
        for key, entry in (entries or {}).items():
            place = place_of_entry(key, entry)
            target = self._config_ieee if IEEE.match(key) else self._config
            target[key.lower() if IEEE.match(key) else key] = place
            if entry.ignore:
                self._ignored.add(place.sensor_id)
        self._ieee_of: dict[str, str] = {}
        """friendly name -> IEEE address (bridge/devices)."""
        self._learned: dict[str, Place] = {}
        """friendly name -> place from its description or group (bridge/devices, groups)."""
        self._groups: dict[str, tuple[str, Room]] = {}
        """IEEE address -> (apartment, room) of the group it is in."""
        self._descriptions: dict[str, tuple[str, Room]] = {}
        self.version = 0

    @property
    def ignored(self) -> set[str]:
        """Sensor ids the config's map says to drop."""
        return self._ignored

    def roles(self) -> dict[str, str]:
        """Sensor id -> role, for the mapped devices that have one."""
        places = [*self._config.values(), *self._config_ieee.values(), *self._learned.values()]
        return {p.sensor_id: p.role for p in places if p.role}

    def place(self, name: str) -> Place | str:
        """The place of the device Zigbee2MQTT calls ``name``, or why there is none."""
        found = self._config.get(name)
        if found is not None:
            return found
        ieee = self._ieee_of.get(name) or (name.lower() if IEEE.match(name) else None)
        if ieee is not None and ieee in self._config_ieee:
            return self._config_ieee[ieee]
        found = self._learned.get(name)
        if found is not None:
            return found
        return parse_convention(name)

    def learn_devices(self, devices: Any) -> list[str]:
        """Read Zigbee2MQTT's ``bridge/devices`` (a list of devices); returns the problems
        (entries that cannot be read), and keeps every entry that can."""
        if not isinstance(devices, list):
            return [f"bridge/devices: expected a list of devices, got {type(devices).__name__}"]
        problems: list[str] = []
        ieee_of: dict[str, str] = {}
        descriptions: dict[str, tuple[str, Room]] = {}
        for n, dev in enumerate(devices):
            if not isinstance(dev, dict):
                problems.append(f"bridge/devices[{n}]: not an object")
                continue
            ieee, name = dev.get("ieee_address"), dev.get("friendly_name")
            if not isinstance(ieee, str) or not isinstance(name, str):
                problems.append(f"bridge/devices[{n}]: no ieee_address or friendly_name")
                continue
            if dev.get("type") == "Coordinator":
                continue
            ieee_of[name] = ieee.lower()
            text = dev.get("description")
            where = parse_place_text(text) if isinstance(text, str) else None
            if where is not None:
                descriptions[ieee.lower()] = where
        self._ieee_of = ieee_of
        self._descriptions = descriptions
        self._relearn()
        return problems

    def learn_groups(self, groups: Any) -> list[str]:
        """Read Zigbee2MQTT's ``bridge/groups``: a group named (or described as)
        ``<apartment>/<room>`` places its members there."""
        if not isinstance(groups, list):
            return [f"bridge/groups: expected a list of groups, got {type(groups).__name__}"]
        problems: list[str] = []
        placed: dict[str, tuple[str, Room]] = {}
        for n, group in enumerate(groups):
            if not isinstance(group, dict):
                problems.append(f"bridge/groups[{n}]: not an object")
                continue
            texts = [group.get("friendly_name"), group.get("description")]
            where = next(
                (w for t in texts if isinstance(t, str) and (w := parse_place_text(t))), None
            )
            members = group.get("members")
            if where is None or not isinstance(members, list):
                continue
            for member in members:
                ieee = member.get("ieee_address") if isinstance(member, dict) else None
                if isinstance(ieee, str):
                    placed[ieee.lower()] = where
        self._groups = placed
        self._relearn()
        return problems

    def _relearn(self) -> None:
        learned: dict[str, Place] = {}
        for name, ieee in self._ieee_of.items():
            if self._description_or_group(ieee) is None:
                continue
            apartment, room = self._description_or_group(ieee)  # type: ignore[misc]
            source = "description" if ieee in self._descriptions else "group"
            device = slug(name)
            learned[name] = Place(apartment, _door_room(room, device), device, None, source)
        if learned != self._learned:
            logger.info("Zigbee2MQTT places %d devices by description or group", len(learned))
        self._learned = learned
        self.version += 1

    def _description_or_group(self, ieee: str) -> tuple[str, Room] | None:
        return self._descriptions.get(ieee) or self._groups.get(ieee)

    def state_dict(self) -> dict[str, Any]:
        """What Zigbee2MQTT said, for the hub's saved state (its retained messages come
        again on every start, but the event log's tail is replayed before they do)."""
        return {
            "ieee_of": dict(sorted(self._ieee_of.items())),
            "descriptions": {k: [a, r.value] for k, (a, r) in sorted(self._descriptions.items())},
            "groups": {k: [a, r.value] for k, (a, r) in sorted(self._groups.items())},
        }

    def load_state(self, data: Mapping[str, Any]) -> None:
        self._ieee_of = dict(data.get("ieee_of", {}))
        self._descriptions = {k: (a, Room(r)) for k, (a, r) in data.get("descriptions", {}).items()}
        self._groups = {k: (a, Room(r)) for k, (a, r) in data.get("groups", {}).items()}
        self._relearn()


SOS_WORDS = ("sos", "nood", "alarm", "panic", "paniek", "hanger", "pendant", "emergency")
"""Words in a device name that suggest an alarm button (``noodknop``, ``alarmhanger``)."""


def looks_like_sos(name: str) -> bool:
    """A device named like an alarm button (its presses raise an SOS only with the role
    ``sos_button`` or an ``sos``/``emergency`` action: a name alone is a warning).

    >>> looks_like_sos("a012/hall/noodknop"), looks_like_sos("a012/hall/motion")
    (True, False)
    """
    low = name.lower()
    return any(word in low for word in SOS_WORDS)


def unroled_sos(sensor_ids: Iterable[str], roles: Mapping[str, str]) -> list[str]:
    """The sensors named like an alarm button that have no role ``sos_button``."""
    return sorted(s for s in sensor_ids if looks_like_sos(s) and roles.get(s) != "sos_button")
