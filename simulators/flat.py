"""The simulated flat: apartments, their residents' habits and the sensors they carry.

Everything is drawn from one seeded :class:`numpy.random.Generator`, so the same seed gives
the same flat. Apartment ids are ``a001``..``aNNN``; the shared spaces are ``common``.

>>> flat = build_flat(5, seed=1)
>>> [a.id for a in flat.apartments]
['a001', 'a002', 'a003', 'a004', 'a005']
>>> flat.apartments[0].devices["entrance/door"].kind
'contact'
>>> flat_config(flat)["apartments"]["a001"]["devices"]["entrance/door"]
{'role': 'front_door'}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from simulators.knobs import Knobs

logger = logging.getLogger(__name__)

TIMEZONE = "Europe/Amsterdam"
COMMON = "common"


@dataclass(frozen=True, slots=True)
class Device:
    """One Zigbee device: ``key`` is ``<room>/<device>``; ``kind`` says what it reports."""

    key: str
    kind: str  # pir | contact | bed_pad | chair_pad | plug | fall_radar | sos
    battery: bool
    battery_start: float  # % at day 0
    drain_per_day: float  # % per day
    linkquality: int
    timeout_s: float = 75.0  # PIR: occupancy clears this long after the last reported motion
    report_s: float = 3600.0  # periodic report interval (heartbeat) in seconds
    phase_s: float = 0.0

    def battery_at(self, days: np.ndarray) -> np.ndarray:
        """Battery % after ``days`` days; replaced (back to 100) when it would pass 25 %."""
        level = self.battery_start - self.drain_per_day * days
        if self.drain_per_day <= 0:
            return level
        first = (self.battery_start - 25.0) / self.drain_per_day
        cycle = 75.0 / self.drain_per_day
        later = 100.0 - self.drain_per_day * np.mod(days - first, cycle)
        return np.where(days > first, later, level)

    @property
    def room(self) -> str:
        return self.key.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Habits:
    """One resident's routine, as means and spreads in local hours or counts per day."""

    wake_h: float
    wake_sd_h: float
    bed_h: float  # may exceed 24 (after midnight)
    bed_sd_h: float
    p_outing: float  # chance of a morning outing (shopping, errands)
    p_afternoon_out: float  # chance of an afternoon outing (family, club)
    p_common: float  # chance of joining the morning coffee in the common room
    visitors_per_week: float
    p_nap: float
    night_toilet: float  # mean visits per night
    day_toilet_every_h: float
    shower_every_days: float
    p_kettle: float  # per meal
    travel_s: float  # seconds to walk between two rooms (through the hall)
    p_tv: float
    night_owl: bool


@dataclass(slots=True)
class Apartment:
    id: str
    index: int
    residents: list[Habits]
    devices: dict[str, Device]
    radar_room: str | None
    has_chair_pad: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def single(self) -> bool:
        return len(self.residents) == 1

    def pir(self, room: str) -> str:
        return f"{room}/motion"


@dataclass(slots=True)
class Flat:
    name: str
    apartments: list[Apartment]
    common_devices: dict[str, Device]
    naming: str = "ours"
    """The world's device names (``Knobs.naming``): ``other`` writes no device roles."""


MOTION_ROOMS = ("bedroom", "bathroom", "toilet", "kitchen", "living", "hall")


def _device(rng: np.random.Generator, key: str, kind: str, *, battery: bool = True) -> Device:
    return Device(
        key=key,
        kind=kind,
        battery=battery,
        battery_start=float(rng.uniform(60.0, 100.0)) if battery else 100.0,
        drain_per_day=float(rng.uniform(0.02, 0.09)) if battery else 0.0,
        linkquality=int(rng.integers(40, 200)),
        timeout_s=float(rng.uniform(60.0, 90.0)),
        report_s=float(rng.uniform(3000.0, 4000.0)),
        phase_s=float(rng.uniform(0.0, 4000.0)),
    )


def _habits(rng: np.random.Generator, partner: Habits | None = None) -> Habits:
    owl = partner is None and bool(rng.random() < 0.08)
    if partner is not None:
        wake = partner.wake_h + float(rng.normal(0.0, 0.4))
        bed = partner.bed_h + float(rng.normal(0.0, 0.4))
    elif owl:
        wake = float(rng.uniform(9.0, 10.5))
        bed = float(rng.uniform(24.5, 26.0))
    else:
        wake = float(np.clip(rng.normal(7.5, 0.6), 6.0, 9.0))
        bed = float(np.clip(rng.normal(22.75, 0.6), 21.0, 24.0))
    return Habits(
        wake_h=wake,
        wake_sd_h=float(rng.uniform(0.15, 0.45)),
        bed_h=bed,
        bed_sd_h=float(rng.uniform(0.2, 0.5)),
        p_outing=float(rng.uniform(0.25, 0.75)),
        p_afternoon_out=float(rng.uniform(0.1, 0.5)),
        p_common=float(rng.uniform(0.05, 0.6)),
        visitors_per_week=float(rng.uniform(0.3, 4.0)),
        p_nap=float(rng.uniform(0.1, 0.8)),
        night_toilet=float(rng.uniform(0.3, 1.8)),
        day_toilet_every_h=float(rng.uniform(2.0, 3.5)),
        shower_every_days=float(rng.choice([1.0, 1.0, 2.0, 2.0, 3.0])),
        p_kettle=float(rng.uniform(0.3, 0.95)),
        travel_s=float(rng.uniform(4.0, 10.0)),
        p_tv=float(rng.uniform(0.4, 0.95)),
        night_owl=owl,
    )


CHAIR_PADS = 0.3
"""Share of apartments with a chair pad in the living room, by default."""
FALL_RADARS = 0.35
"""Share of apartments with a fall radar (in the bathroom, living room or bedroom)."""


def build_flat(
    n_apartments: int,
    seed: int,
    name: str = "sim-flat",
    chair_pads: float = CHAIR_PADS,
    fall_radars: float = FALL_RADARS,
    knobs: Knobs | None = None,
) -> Flat:
    """Draw a flat of ``n_apartments`` apartments (about one in six a couple); about
    ``chair_pads`` of them with a chair pad, ``fall_radars`` with a fall radar (other
    shares draw another flat from the same seed: the devices are drawn in turn). The
    ``knobs``' habit scales (night toilet, visitors, common room) change the drawn habits
    afterwards, so the flat and its devices stay the same."""
    rng = np.random.default_rng([seed, 0xF1A7])
    apartments: list[Apartment] = []
    for i in range(n_apartments):
        first = _habits(rng)
        residents = [first]
        if rng.random() < 0.17:
            residents.append(_habits(rng, partner=first))
        devices: dict[str, Device] = {}
        for room in MOTION_ROOMS:
            devices[f"{room}/motion"] = _device(rng, f"{room}/motion", "pir")
        devices["entrance/door"] = _device(rng, "entrance/door", "contact")
        for k in range(len(residents)):
            key = "bedroom/bed_pad" if k == 0 else f"bedroom/bed_pad_{k + 1}"
            devices[key] = _device(rng, key, "bed_pad")
        devices["kitchen/fridge"] = _device(rng, "kitchen/fridge", "contact")
        devices["kitchen/kettle"] = _device(rng, "kitchen/kettle", "plug", battery=False)
        devices["living/tv"] = _device(rng, "living/tv", "plug", battery=False)
        devices["living/sos_pendant"] = _device(rng, "living/sos_pendant", "sos")
        radar_room: str | None = None
        if rng.random() < fall_radars:
            radar_room = str(rng.choice(["bathroom", "living", "bedroom"]))
            key = f"{radar_room}/fall_radar"
            devices[key] = _device(rng, key, "fall_radar", battery=False)
        chair = bool(rng.random() < chair_pads)
        if chair:
            devices["living/chair_pad"] = _device(rng, "living/chair_pad", "chair_pad")
        apartments.append(
            Apartment(
                id=f"a{i + 1:03d}",
                index=i,
                residents=residents,
                devices=devices,
                radar_room=radar_room,
                has_chair_pad=chair,
            )
        )
    common = {
        "common_room/motion": _device(rng, "common_room/motion", "pir"),
        "hall/motion": _device(rng, "hall/motion", "pir"),
        "entrance/door": _device(rng, "entrance/door", "contact"),
    }
    if knobs is not None:
        for apt in apartments:
            apt.residents = [_scaled(h, knobs) for h in apt.residents]
        if knobs.kit:
            _fit_kit(apartments, seed)
    naming = knobs.naming if knobs is not None else "ours"
    return Flat(name=name, apartments=apartments, common_devices=common, naming=naming)


def chair_pad_key(resident: int) -> str:
    """The chair pad of the ``resident``-th resident (0: the first) of an apartment."""
    return "living/chair_pad" if resident == 0 else f"living/chair_pad_{resident + 1}"


def _fit_kit(apartments: list[Apartment], seed: int) -> None:
    """The standard kit: a chair pad for each resident (drawn from a generator of its own,
    so every other device of the flat stays as drawn)."""
    rng = np.random.default_rng([seed, 0x4B17])
    for apt in apartments:
        for k in range(len(apt.residents)):
            key = chair_pad_key(k)
            if key not in apt.devices:
                apt.devices[key] = _device(rng, key, "chair_pad")
        apt.has_chair_pad = True


def _scaled(h: Habits, knobs: Knobs) -> Habits:
    """A resident's habits under a world's scales (the same object when none is set)."""
    changes: dict[str, Any] = {}
    if knobs.night_toilet_scale != 1.0:
        changes["night_toilet"] = h.night_toilet * knobs.night_toilet_scale
    if knobs.visitor_scale != 1.0:
        changes["visitors_per_week"] = h.visitors_per_week * knobs.visitor_scale
    if knobs.common_scale != 1.0:
        changes["p_common"] = min(1.0, h.p_common * knobs.common_scale)
    return replace(h, **changes) if changes else h


ROLE_BY_KIND = {"bed_pad": "bed_pad", "chair_pad": "chair_pad", "sos": "sos_button"}


def flat_config(flat: Flat) -> dict[str, Any]:
    """The flat configuration (the keys ``edge.config.Config`` accepts) as a plain dict.
    With another installer's names (``flat.naming == "other"``) the residents only: the
    hub reads every device's kind and role from its name and payload."""
    apartments: dict[str, Any] = {}
    for apt in flat.apartments:
        if flat.naming != "ours":
            apartments[apt.id] = {"residents": len(apt.residents)}
            continue
        devices: dict[str, Any] = {}
        for key, dev in apt.devices.items():
            if key == "entrance/door":
                devices[key] = {"role": "front_door"}
            elif dev.kind in ROLE_BY_KIND:
                devices[key] = {"role": ROLE_BY_KIND[dev.kind]}
        apartments[apt.id] = {"residents": len(apt.residents), "devices": devices}
    return {"flat": flat.name, "timezone": TIMEZONE, "apartments": apartments}
