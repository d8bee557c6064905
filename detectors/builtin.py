"""Importing this module registers every built-in detector."""

from __future__ import annotations

from detectors import battery, fall, offline, sos

__all__ = ["battery", "fall", "offline", "sos"]
