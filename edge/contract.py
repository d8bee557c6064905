"""The detector contract: what the hub and every detector agree on, and the registry.

The core (``edge/``) runs detectors through this contract alone; the detectors
(``detectors/``) build on it (``detectors/base.py`` re-exports it, with its example as a
doctest), and the composition root (:mod:`edge.app`) hands the registered ones to the hub.

A detector sees typed sensor events and the apartment state, and explicit clock ticks; it
never reads the wall clock. It keeps its own state (what it learned, what it already
raised) and can save and restore it, so a restart neither forgets nor alarms again.

The contract, small on purpose (river's ``learn_one``/``predict_one`` in spirit): the hub
calls three hooks, and each returns what it found as one :class:`Found`:

- :meth:`Detector.on_event`: one accepted event (the apartment state already updated);
- :meth:`Detector.on_tick`: event time reached a due time the detector gave;
- :meth:`Detector.on_day`: one apartment's finished local day (its daily features).

A :class:`Found` carries the candidates (signals to raise), the resolutions (signals whose
condition cleared by itself) and ``due``: the soonest event time at which the detector
wants :meth:`Detector.on_tick` called, of the times this call scheduled. The hub keeps one
schedule for all detectors (:class:`edge.dues.Dues`): it calls ``on_tick`` once event time
reaches the soonest due a detector gave, and that tick takes the detector's whole entry,
so ``on_tick`` returns the detector's next due of all it still has
(:meth:`Detector.next_due`, which the hub also asks at start and after a verdict).
Nothing is shared between detectors and the hub but these return values. Most calls find
nothing: they return :data:`NOTHING`, one shared object (no allocation per event).

Time-based detectors stamp what they raise with its due time, not with the tick that
noticed it: then the same stream gives the same signals whether it is replayed or live.

A detector becomes known by :func:`register` (a class decorator) when its module is
imported; finding and importing the built-in ones is the detectors' side
(``detectors/builtin.py``), done by the composition root before a configuration is read.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from pydantic import BaseModel, ConfigDict, Field

from edge.models import KINDS, Domain, Room, SensorEvent, Severity, SignalKind

if TYPE_CHECKING:
    from edge.features import DayFeatures
    from edge.state import FlatState


class DetectorSettings(BaseModel):
    """Base of each detector's settings; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Run this detector (per flat or per apartment).")


@dataclass(slots=True)
class Candidate:
    """What a detector raises; the pipeline adds the flat, the id and the summary language.
    Its domain and severity are its kind's (:data:`edge.models.KINDS`)."""

    kind: SignalKind
    apartment: str
    start: datetime
    detected_at: datetime
    summary: dict[str, str]
    evidence: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    """Distinguishes two candidates of the same kind and start (e.g. two sensors)."""
    severity_override: Severity | None = None
    """Another severity than the kind's, for a detector that has reason to (none of the
    built-in ones has: each raises its kinds at the table's severity)."""

    @property
    def domain(self) -> Domain:
        return KINDS[self.kind].domain

    @property
    def severity(self) -> Severity:
        return self.severity_override or KINDS[self.kind].severity


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


@dataclass(frozen=True, slots=True)
class Found:
    """What one call of a detector's hook found (see the module docstring)."""

    candidates: tuple[Candidate, ...] = ()
    """Signals to raise, in order."""
    resolutions: tuple[Resolution, ...] = ()
    """Signals this detector raised whose condition cleared by itself (for the hub to close;
    only where the detector's ``auto_close`` setting allows it)."""
    due: datetime | None = None
    """The soonest event time at which the detector wants :meth:`Detector.on_tick` called,
    of the due times this call scheduled (``None``: it scheduled none). A due that later
    moved on costs one tick that finds nothing. From ``on_tick``: the soonest of all the
    detector still has, since the tick took its entry in the hub's schedule."""


NOTHING: Final = Found()
"""What most calls return: nothing found, nothing scheduled (one shared object)."""


class EventStep(Protocol):
    """What the pipeline calls for each event: a detector, or several taken together
    (a :class:`StepGroup`); what it raises is routed under ``name``."""

    @property
    def name(self) -> str: ...

    def on_event(self, event: SensorEvent, state: FlatState) -> Found: ...


SettingsLookup = Callable[[str], DetectorSettings]
"""Given an apartment id, that apartment's settings of this detector."""


class Detector(ABC):
    """One detector. Subclasses set ``name``, ``settings_model`` and implement the hooks."""

    name: ClassVar[str]
    settings_model: ClassVar[type[DetectorSettings]]
    per_event: ClassVar[bool] = True
    """False for a detector whose :meth:`on_event` does nothing (it learns from whole days
    or from time passing): the pipeline then does not call it for every event."""
    takes: ClassVar[frozenset[str] | None] = None
    """The readings (:class:`SensorEvent` fields: ``contact``, ``battery``...) whose events
    :meth:`on_event` looks at: the pipeline calls it only for an event that carries at
    least one of them. ``None``: every event. Declare only what ``on_event`` returns
    :data:`NOTHING` without any other effect for (its early return)."""
    takes_rooms: ClassVar[frozenset[Room] | None] = None
    """The rooms whose events :meth:`on_event` looks at, on the same terms (``None``: every
    room; none of the built-in ones restricts: a device's role may place it anywhere)."""

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
    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        """Look at one accepted event (state already updated with it)."""

    def on_tick(self, now: datetime, state: FlatState) -> Found:
        """Event time reached ``now``, at or after a due this detector gave: raise what has
        come due (stamped with its due time) and give the next due of all it still has."""
        return NOTHING

    def next_due(self) -> datetime | None:
        """The earliest event time at which :meth:`on_tick` may raise something (asked when
        the hub starts, after its state was restored, and after a verdict)."""
        return None

    def on_day(self, day: DayFeatures, state: FlatState) -> Found:
        """One apartment's finished local day (its daily features), handed over when event
        time passes local midnight; trend detectors learn from these and raise here
        (stamped with the day's end, so replay and live agree)."""
        return NOTHING

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

    def state_text(self) -> str:
        """:meth:`state_dict` as the saved state's JSON text (keys sorted); a detector with
        a large state may make the same text in parts (:func:`spliced_json`)."""
        return json.dumps(self.state_dict(), sort_keys=True)

    def load_state(self, data: dict[str, Any]) -> None:  # noqa: B027  (a stateless default)
        """Restore what :meth:`state_dict` gave."""


def spliced_json(plain: dict[str, Any], **parts: Iterable[tuple[str, Any]]) -> str:
    """The text of ``json.dumps(plain | {name: dict(items), ...}, sort_keys=True)``, each
    part's items (in key order) made and encoded one at a time: a month-old flat's learned
    history as dicts at once was a save's peak memory.

    >>> rows = (("a1", [1.0]), ("a2", {"x": 2}))
    >>> spliced_json({"z": 1, "b": [True]}, hist=iter(rows))
    '{"b": [true], "hist": {"a1": [1.0], "a2": {"x": 2}}, "z": 1}'
    >>> _ == json.dumps({"z": 1, "b": [True], "hist": dict(rows)}, sort_keys=True)
    True
    """
    out = []
    for key in sorted({*plain, *parts}):
        if key in parts:
            items = ", ".join(
                f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in parts[key]
            )
            out.append(f"{json.dumps(key)}: {{{items}}}")
        else:
            out.append(f"{json.dumps(key)}: {json.dumps(plain[key], sort_keys=True)}")
    return "{" + ", ".join(out) + "}"


class StepGroup(ABC):
    """Several detectors of one apartment taken together as one :class:`EventStep` (one
    call per event instead of one per detector; :attr:`DetectorKit.combine` makes them,
    e.g. ``detectors.rhythm.SharedSilence``). The hub routes what it raises under the
    names of :attr:`detectors`, and runs them one by one where the group fails."""

    name: ClassVar[str]
    detectors: tuple[Detector, ...]

    @abstractmethod
    def on_event(self, event: SensorEvent, state: FlatState) -> Found:
        """The group's detectors' :meth:`Detector.on_event` for one event, taken together."""


@dataclass(frozen=True, slots=True)
class DetectorKit:
    """What the hub is handed of the detectors' side (by :mod:`edge.app`)."""

    classes: Mapping[str, type[Detector]]
    """The detectors it may run, by name (the registry's order: :func:`registered`)."""
    combine: Callable[[Sequence[EventStep]], list[EventStep]]
    """An apartment's per-event steps, in order, with some taken together into a
    :class:`StepGroup` (where that changes nothing any detector sees or does)."""
    render: Callable[[dict[str, str], str], str]
    """A summary (one text per language) in the given language."""


_REGISTRY: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector known by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two detectors are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> dict[str, type[Detector]]:
    """The detectors registered so far by name, in the order of their names (whatever
    imported them first)."""
    return dict(sorted(_REGISTRY.items()))


def settings_models() -> dict[str, type[DetectorSettings]]:
    """Each registered detector's settings model, by detector name (what a configuration's
    ``detectors`` keys are checked against)."""
    return {name: cls.settings_model for name, cls in registered().items()}
