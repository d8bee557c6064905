"""Importing this module registers every built-in detector."""

from __future__ import annotations

from detectors import battery, fall, no_wake, offline, sos

__all__ = ["battery", "fall", "no_wake", "offline", "sos"]
