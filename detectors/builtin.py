"""Importing this module registers every built-in detector."""

from __future__ import annotations

from detectors import (
    battery,
    fall,
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
    "fall",
    "mobility_decline",
    "night_toilet",
    "night_wandering",
    "no_wake",
    "nutrition",
    "offline",
    "sos",
    "withdrawal",
]
