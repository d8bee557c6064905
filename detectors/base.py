"""The shared base of every detector and the registry that collects them.

A detector sees typed sensor events and the apartment state, and explicit clock ticks; it
never reads the wall clock. It keeps its own state (what it learned, what it already
raised) and can save and restore it, so a restart neither forgets nor alarms again.

Time-based detectors tell the pipeline when they next need to look (:meth:`Detector.next_due`)
and stamp what they raise with that due time, not with the tick that noticed it: then the
same stream gives the same signals whether it is replayed or live.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from edge.models import Domain, SensorEvent, Severity, SignalKind

if TYPE_CHECKING:
    from edge.features import DayFeatures
    from edge.state import FlatState

logger = logging.getLogger(__name__)


class DetectorSettings(BaseModel):
    """Base of each detector's settings; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Run this detector (per flat or per apartment).")


@dataclass(slots=True)
class Candidate:
    """What a detector raises; the pipeline adds the flat, the id and the summary language."""

    kind: SignalKind
    domain: Domain
    severity: Severity
    apartment: str
    start: datetime
    detected_at: datetime
    summary: dict[str, str]
    evidence: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    """Distinguishes two candidates of the same kind and start (e.g. two sensors)."""


@dataclass(slots=True)
class Resolution:
    """The condition behind a signal this detector raised cleared by itself (the front door
    closed again, the silent sensor reports again). The pipeline finds the signal by the
    same ``kind``, ``start`` and ``key`` the candidate had and closes it in the register
    when it is still ``open`` (nobody acknowledged or took it on)."""

    kind: SignalKind
    apartment: str
    start: datetime
    key: str
    at: datetime
    """Event time at which the condition cleared."""
    reason: dict[str, str]
    """One sentence per language (``nl``, ``en``), e.g. "Deur weer dicht om 14:32"."""


class EventStep(Protocol):
    """What the pipeline calls for each event: a detector, or several taken together
    (:class:`detectors.rhythm.SharedSilence`); what it raises is routed under ``name``."""

    @property
    def name(self) -> str: ...

    def on_event(self, event: SensorEvent, state: FlatState) -> Iterable[Candidate]: ...


SettingsLookup = Callable[[str], DetectorSettings]
"""Given an apartment id, that apartment's settings of this detector."""


class Detector(ABC):
    """One detector. Subclasses set ``name``, ``settings_model`` and implement the hooks."""

    name: ClassVar[str]
    settings_model: ClassVar[type[DetectorSettings]]
    per_event: ClassVar[bool] = True
    """False for a detector whose :meth:`on_event` does nothing (it learns from whole days
    or from time passing): the pipeline then does not call it for every event."""
    reports_due: ClassVar[bool] = False
    """True for a detector that appends every due it schedules to :attr:`scheduled`: the
    pipeline then need not ask its :meth:`next_due` after every event, only when a due it
    knows of has come (a due that moved later merely costs one look too many)."""

    def __init__(
        self,
        settings: SettingsLookup,
        tz: tzinfo = UTC,
        roles: dict[str, str] | None = None,
        residents: dict[str, int] | None = None,
    ) -> None:
        self._settings = settings
        self._cache: dict[str, DetectorSettings] = {}
        self.tz = tz
        self.roles = roles or {}
        """Device roles from the config, keyed by sensor id (``a012/bedroom/pendant``)."""
        self._residents = residents or {}
        self.cleared: list[Resolution] = []
        """Signals whose condition cleared by itself, for the pipeline to close (it drains
        this list; the hub hands every detector the same list)."""
        self.scheduled: list[datetime] = []
        """Dues scheduled by a ``reports_due`` detector, for the pipeline (it drains this
        list; the hub hands every detector the same list)."""

    def local(self, ts: datetime) -> datetime:
        """``ts`` in the flat's time zone, for summaries and time-of-day rules."""
        return ts.astimezone(self.tz)

    def residents(self, apartment: str) -> int:
        """How many people live in ``apartment`` by the config (1 where it does not say)."""
        return self._residents.get(apartment, 1)

    def settings(self, apartment: str) -> Any:
        """This apartment's settings (the flat's, overridden per apartment), cached."""
        found = self._cache.get(apartment)
        if found is None:
            found = self._cache[apartment] = self._settings(apartment)
        return found

    @abstractmethod
    def on_event(self, event: SensorEvent, state: FlatState) -> Iterable[Candidate]:
        """Look at one accepted event (state already updated with it)."""

    def on_tick(self, now: datetime, state: FlatState) -> Iterable[Candidate]:
        """Event time reached ``now``; raise what has come due (stamped with its due time)."""
        return ()

    def next_due(self) -> datetime | None:
        """The earliest event time at which :meth:`on_tick` may raise something."""
        return None

    def on_day(self, day: DayFeatures, state: FlatState) -> Iterable[Candidate]:
        """One apartment's finished local day (its daily features), handed over when event
        time passes local midnight; trend detectors learn from these and raise here
        (stamped with the day's end, so replay and live agree)."""
        return ()

    def resolved(self, resolution: Resolution) -> None:
        """Tell the pipeline that the condition behind a raised signal cleared by itself,
        unless this apartment's ``auto_close`` setting says no (detectors that can tell
        have that setting; the others never call this)."""
        if getattr(self.settings(resolution.apartment), "auto_close", False):
            self.cleared.append(resolution)

    def scores(self) -> dict[str, dict[str, float]]:
        """What this detector currently thinks, per apartment, as numbers worth plotting
        over time (``{apartment: {"baseline": .., "observed": .., "score": ..}}``): the
        learned baseline, today's value, how far off it is. Written to the history each
        day; empty for detectors with nothing to show."""
        return {}

    def feedback(self, apartment: str, verdict: str) -> str | None:
        """The signal meeting judged one of this detector's signals for ``apartment``
        (``confirmed``, ``false_alarm`` or ``not_relevant``). Adapt if that is wise and say
        what changed (kept in the audit trail), or return ``None``."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to carry on after a restart, as JSON-able values."""
        return {}

    def load_state(self, data: dict[str, Any]) -> None:  # noqa: B027  (a stateless default)
        """Restore what :meth:`state_dict` gave."""


_REGISTRY: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector known by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two detectors are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def registry() -> dict[str, type[Detector]]:
    """All registered detectors by name, in the order of their names (whatever imported
    them first), the built-in ones discovered and imported first."""
    import detectors.builtin  # noqa: F401  (registers them)

    return dict(sorted(_REGISTRY.items()))


def all_settings_models() -> dict[str, type[DetectorSettings]]:
    return {name: cls.settings_model for name, cls in registry().items()}
