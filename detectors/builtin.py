"""Importing this module registers every built-in detector."""

from __future__ import annotations

from detectors import (  # issue #4, urgent
    battery,
    door_open,
    fall,
    fall_silence,
    inactivity,
    long_bathroom,
    no_wake,
    offline,
    sos,
)

__all__ = ["battery", "fall", "no_wake", "offline", "sos"]
__all__ += ["door_open", "fall_silence", "inactivity", "long_bathroom"]
