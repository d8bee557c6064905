"""Importing this module registers every built-in detector."""

from __future__ import annotations

from detectors import (
    battery,
    door_open,
    fall,
    fall_silence,
    inactivity,
    long_bathroom,
    mobility_decline,
    night_toilet,
    night_wandering,
    no_wake,
    nutrition,
    offline,
    sos,
    withdrawal,
)

__all__ = [
    "battery",
    "door_open",
    "fall",
    "fall_silence",
    "inactivity",
    "long_bathroom",
    "mobility_decline",
    "night_toilet",
    "night_wandering",
    "no_wake",
    "nutrition",
    "offline",
    "sos",
    "withdrawal",
]
