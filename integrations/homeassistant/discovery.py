"""Home Assistant MQTT discovery: each apartment as a device with a few entities.

A :class:`Discovery` rides on the live hub's broker connection (a ``LiveExtension``). On
every (re)connect it publishes, retained, one discovery config per entity under
``<discovery_prefix>/<component>/thuisplus_<flat>_<apartment>/<key>/config`` and the
entities' states under ``<base>/<flat>/ha/<apartment>/<key>``; afterwards it publishes a
state (or a config) only when it changed. Devices are named by the apartment id alone;
every entity is available while the hub is (``<base>/<flat>/hub/availability``).

The entities come from one table, :data:`ENTITIES`: each description says what the entity
is and how its value follows from an :class:`ApartmentView`.

>>> from datetime import datetime, timezone
>>> view = ApartmentView("a012", "home", datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc), ())
>>> [(d.key, d.value_fn(view)) for d in ENTITIES]
[('needs_attention', 'OFF'), ('last_activity', '2026-01-05T07:00:00+00:00'), \
('presence', 'home'), ('open_signals', '0'), ('acknowledge', 'offline')]
>>> topics = Topics("thuisplus", "f1", "homeassistant")
>>> config = entity_config(ENTITIES[0], view, topics, "nl")
>>> config["name"], config["unique_id"], config["device"]["name"]
('Aandacht nodig', 'thuisplus_f1_a012_needs_attention', 'a012')
>>> config["state_topic"], config["availability"]
('thuisplus/f1/ha/a012/needs_attention', [{'topic': 'thuisplus/f1/hub/availability'}])
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import paho.mqtt.client as mqtt

from edge.i18n import LANGUAGES, text
from edge.models import COMMON_APARTMENT, Signal
from edge.register import Entry

if TYPE_CHECKING:
    from edge.config import Config
    from edge.mqtt import LiveHub

logger = logging.getLogger(__name__)

ACK_BY = "home_assistant"
NONE = "None"  # Home Assistant's MQTT entities read this payload as "unknown"
CHANGED_EVERY_S = 1.0
REFRESH_EVERY_S = 30.0  # at least this often: a change made outside the broker shows
HANDLED = ("acknowledged", "discussed", "assigned")  # someone has it; not closed yet
_TOPIC_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # as the hub's topic convention allows


@dataclass(frozen=True)
class UrgentState:
    """An urgent signal not closed yet, as the register has it now."""

    id: str
    status: str  # open | acknowledged | discussed | assigned
    taken_by: str | None = None
    """Who took it on (the role that moved it on from ``open``); ``None`` while open."""


class OpenSignalsListener(Protocol):
    """Told, after every refresh, which urgent signals are not closed yet and who took each
    on: a signal missing from ``urgent`` is closed (or was never urgent)."""

    def urgent(self, urgent: Mapping[str, UrgentState]) -> None: ...


@dataclass(frozen=True)
class ApartmentView:
    """What the team's dashboard shows of one apartment; equal views publish nothing."""

    apartment: str
    presence: str  # home | away | unknown
    last_activity: datetime | None
    open: tuple[Entry, ...]  # signals with status "open", oldest first
    handled: tuple[Entry, ...] = ()  # acknowledged, discussed or assigned: not closed yet
    taken_by: tuple[tuple[str, str], ...] = ()  # (signal id, role) for those handled

    @property
    def urgent_id(self) -> str | None:
        """The newest open urgent signal: what the acknowledge button acknowledges."""
        urgent = [e.id for e in self.open if e.severity == "urgent"]
        return urgent[-1] if urgent else None

    @property
    def unresolved(self) -> tuple[Entry, ...]:
        """Every signal not closed yet, oldest first: what needs attention."""
        return tuple(sorted(self.open + self.handled, key=lambda e: (e.opened, e.id)))


@dataclass(frozen=True)
class Topics:
    base: str
    flat: str
    prefix: str

    @property
    def availability(self) -> str:
        return f"{self.base}/{self.flat}/hub/availability"

    @property
    def ack(self) -> str:
        return f"{self.base}/{self.flat}/command/ack"

    @property
    def health(self) -> str:
        return f"{self.base}/{self.flat}/hub/health"

    @property
    def result(self) -> str:
        return f"{self.base}/{self.flat}/command/result"

    def state(self, apartment: str, key: str) -> str:
        return f"{self.base}/{self.flat}/ha/{apartment}/{key}"

    def config(self, component: str, apartment: str, key: str) -> str:
        return f"{self.prefix}/{component}/thuisplus_{self.flat}_{apartment}/{key}/config"


@dataclass(frozen=True, kw_only=True)
class HaEntityDescription:
    """One entity per apartment: its component, names and how its value is computed."""

    key: str
    component: str
    names: Mapping[str, str]  # language -> entity name
    value_fn: Callable[[ApartmentView], str | None]  # None: nothing to publish (yet)
    state_field: str | None = "state_topic"  # the config field that points at the value
    attributes_fn: Callable[[ApartmentView], dict[str, Any]] | None = None
    static: Mapping[str, Any] = field(default_factory=dict)
    config_fn: Callable[[ApartmentView, Topics, str], dict[str, Any]] | None = None


def _iso(at: datetime | None) -> str | None:
    # a timestamp sensor logs a warning on "None": publish nothing until there is one
    return at.isoformat() if at is not None else None


def _texts(entry: Entry) -> dict[str, str]:
    """The signal's text: ``summary`` in the flat's language, ``summary_en`` in English
    (the same text in an English flat)."""
    signal = entry.signal
    return {"summary": signal.summary, "summary_en": signal.summary_en or signal.summary}


def _open_attributes(view: ApartmentView) -> dict[str, Any]:
    return {
        "signals": [
            {
                "id": e.id,
                "kind": e.kind,
                "severity": e.severity,
                "domain": e.domain,
                "since": e.opened.isoformat(),
                **_texts(e),
            }
            for e in view.open
        ],
        "kinds": sorted({e.kind for e in view.open}),
        "ids": [e.id for e in view.open],
    }


def _attention_attributes(view: ApartmentView) -> dict[str, Any]:
    """Every signal not closed yet, with its text and who took it on; ``summary`` and
    ``summary_en`` at the top are the newest one's (for automations and cards)."""
    taken = dict(view.taken_by)
    signals = [
        {
            "id": e.id,
            "kind": e.kind,
            "severity": e.severity,
            "status": e.status,
            "since": e.opened.isoformat(),
            "taken_by": taken.get(e.id),
            **_texts(e),
        }
        for e in view.unresolved
    ]
    newest = signals[-1] if signals else {}
    return {
        "summary": newest.get("summary"),
        "summary_en": newest.get("summary_en"),
        "signal": newest.get("id"),
        "status": newest.get("status"),
        "signals": signals,
    }


def _ack_config(view: ApartmentView, topics: Topics, key: str) -> dict[str, Any]:
    """The button presses the ack command for the open urgent signal; it is available only
    while there is one (and the hub is online)."""
    return {
        "command_topic": topics.ack,
        "payload_press": json.dumps({"signal": view.urgent_id or "", "by": ACK_BY}),
        "availability": [
            {"topic": topics.availability},
            {"topic": topics.state(view.apartment, key)},
        ],
        "availability_mode": "all",
    }


def _names(key: str) -> dict[str, str]:
    """An entity's name in each language, from the one catalogue (``ha.entity.*``)."""
    return {lang: text(f"ha.entity.{key}", lang) for lang in LANGUAGES}


ENTITIES: tuple[HaEntityDescription, ...] = (
    HaEntityDescription(
        key="needs_attention",
        component="binary_sensor",
        names=_names("needs_attention"),
        value_fn=lambda v: "ON" if v.unresolved else "OFF",
        attributes_fn=_attention_attributes,
        static={"device_class": "problem"},
    ),
    HaEntityDescription(
        key="last_activity",
        component="sensor",
        names=_names("last_activity"),
        value_fn=lambda v: _iso(v.last_activity),
        static={"device_class": "timestamp"},
    ),
    HaEntityDescription(
        key="presence",
        component="binary_sensor",
        names=_names("presence"),
        value_fn=lambda v: v.presence if v.presence in ("home", "away") else NONE,
        static={"device_class": "presence", "payload_on": "home", "payload_off": "away"},
    ),
    HaEntityDescription(
        key="open_signals",
        component="sensor",
        names=_names("open_signals"),
        value_fn=lambda v: str(len(v.open)),
        attributes_fn=_open_attributes,
        static={"state_class": "measurement", "icon": "mdi:alert-circle-outline"},
    ),
    HaEntityDescription(
        key="acknowledge",
        component="button",
        names=_names("acknowledge"),
        value_fn=lambda v: "online" if v.urgent_id else "offline",
        state_field=None,
        static={"icon": "mdi:check-circle-outline"},
        config_fn=_ack_config,
    ),
)


def taken_by(trail: list[dict[str, Any]]) -> str:
    """Who took a signal on, from its audit trail: the role that moved it on from ``open``
    (an acknowledgement, usually); ``""`` when the trail does not say.

    >>> taken_by([{"actor": "hub", "action": "alerted", "details": {}},
    ...           {"actor": "on_call", "action": "acknowledged", "details": {"from": "open"}}])
    'on_call'
    """
    for line in trail:
        if line["details"].get("from") == "open" and line["action"] != "closed":
            return str(line["actor"])
    return ""


def entity_config(
    desc: HaEntityDescription, view: ApartmentView, topics: Topics, language: str
) -> dict[str, Any]:
    """The discovery config of one entity of one apartment."""
    apt = view.apartment
    config: dict[str, Any] = {
        "name": desc.names.get(language, desc.names["en"]),
        "unique_id": f"thuisplus_{topics.flat}_{apt}_{desc.key}",
        "object_id": f"thuisplus_{apt}_{desc.key}",
        "device": {
            "identifiers": [f"thuisplus_{topics.flat}_{apt}"],
            "name": apt,
            "manufacturer": "Thuisplus",
            "model": text("ha.model", language),
        },
        "origin": {"name": "thuisplus"},
        "availability": [{"topic": topics.availability}],
        "qos": 1,
        **desc.static,
    }
    if desc.state_field is not None:
        config[desc.state_field] = topics.state(apt, desc.key)
    if desc.attributes_fn is not None:
        config["json_attributes_topic"] = topics.state(apt, f"{desc.key}/attributes")
    if desc.config_fn is not None:
        config.update(desc.config_fn(view, topics, desc.key))
    return config


HUB_ENTITIES: tuple[tuple[str, str, Mapping[str, str], Mapping[str, Any]], ...] = (
    (
        "problem",
        "binary_sensor",
        _names("hub_problem"),
        {
            "device_class": "problem",
            "value_template": "{{ 'OFF' if value_json.status == 'ok' else 'ON' }}",
            "json_attributes_template": "{{ {'faults': value_json.faults, "
            "'counters': value_json.counters} | tojson }}",
        },
    ),
    (
        "faults",
        "sensor",
        _names("hub_faults"),
        {
            "value_template": "{{ value_json.faults | length }}",
            "json_attributes_template": "{{ value_json.faults | tojson }}",
            "state_class": "measurement",
            "icon": "mdi:alert-outline",
        },
    ),
)
"""The hub as a device of its own: its health topic (``edge.mqtt``: ``status``, ``faults``
by name with what is wrong, ``counters``) read by Home Assistant itself, so the entities
follow the hub's own view, and go unavailable with the hub (its last will)."""


def hub_configs(topics: Topics, language: str) -> list[tuple[str, dict[str, Any]]]:
    """The discovery configs of the hub's own device: a problem sensor (on while any
    fault is open; the faults and counters as attributes) and the number of faults.

    >>> [(t.split("/")[1], c["object_id"]) for t, c in hub_configs(Topics("t", "f", "ha"), "nl")]
    [('binary_sensor', 'thuisplus_hub_problem'), ('sensor', 'thuisplus_hub_faults')]
    """
    out = []
    for key, component, names, static in HUB_ENTITIES:
        config = {
            "name": names.get(language, names["en"]),
            "unique_id": f"thuisplus_{topics.flat}_hub_{key}",
            "object_id": f"thuisplus_hub_{key}",
            "device": {
                "identifiers": [f"thuisplus_{topics.flat}_hub"],
                "name": f"Thuisplus hub {topics.flat}",
                "manufacturer": "Thuisplus",
                "model": text("ha.model", language),
            },
            "origin": {"name": "thuisplus"},
            "availability": [{"topic": topics.availability}],
            "state_topic": topics.health,
            "json_attributes_topic": topics.health,
            "qos": 1,
            **static,
        }
        out.append((topics.config(component, "hub", key), config))
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class Discovery:
    """Publishes and keeps up to date each apartment's entities (a ``LiveExtension``).

    Every hook runs on the hub's one thread. Acknowledgements arrive as MQTT commands,
    which the hub handles without calling ``changed``; the hub's own answer on
    ``.../command/result`` is the cue to refresh (a per-topic paho callback, so the hub's
    message handler does not see it; it ignores results anyway).
    """

    def __init__(
        self,
        config: Config,
        listeners: list[OpenSignalsListener] | None = None,
        entities: tuple[HaEntityDescription, ...] = ENTITIES,
    ) -> None:
        self.topics = Topics(
            config.mqtt.base_topic, config.flat, config.homeassistant.discovery_prefix
        )
        self.language = config.language
        self.entities = entities
        self.listeners = list(listeners or [])
        self._configured = set(config.apartments) - {COMMON_APARTMENT}
        self._views: dict[str, ApartmentView] = {}
        self._published: dict[str, str] = {}
        self._taken_by: dict[str, str] = {}  # signal id -> role, read once from the audit
        self.publishes = 0

    # --- LiveExtension hooks ------------------------------------------------------------

    _refreshed = float("-inf")
    _dirty = False

    def connected(self, live: LiveHub) -> None:
        # the broker may have lost what it held: publish everything again
        self._views.clear()
        self._published.clear()
        live.client.message_callback_add(self.topics.result, self._result_callback(live))
        for topic, config in hub_configs(self.topics, self.language):
            self._publish(live, topic, _dumps(config))
        self.refresh(live)

    def signal(self, live: LiveHub, signal: Signal) -> None:
        self.refresh(live)

    def changed(self, live: LiveHub) -> None:
        # after every sensor message: at most once a second (a busy flat sends many; what
        # the team must see at once, a signal or a command, refreshes directly); what is
        # held back here goes out on the next tick
        self._dirty = True
        self.tick(live)

    def tick(self, live: LiveHub) -> None:
        # also every REFRESH_EVERY_S: `thuisplus signals ack|close` on the command line
        # changes the register without a message through the broker
        since = time.monotonic() - self._refreshed
        if (self._dirty and since >= CHANGED_EVERY_S) or since >= REFRESH_EVERY_S:
            self.refresh(live)

    # --- the work -----------------------------------------------------------------------

    def _result_callback(
        self, live: LiveHub
    ) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
        def on_result(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            try:
                self.refresh(live)
            except Exception:
                logger.exception("Home Assistant discovery: refresh after a command failed")

        return on_result

    def _unresolved(self, live: LiveHub) -> tuple[list[Entry], list[Entry]]:
        """The register's signals not closed, of every apartment (``common`` too): those
        still ``open`` and those someone took on (whose role is then read once)."""
        register = live.hub.register
        opened = register.entries(status="open")
        handled = [e for status in HANDLED for e in register.entries(status=status)]
        handled.sort(key=lambda e: (e.opened, e.id))
        handled_ids = {e.id for e in handled}
        for sid in set(self._taken_by) - handled_ids:
            del self._taken_by[sid]  # closed: forget
        for sid in sorted(handled_ids - set(self._taken_by)):
            self._taken_by[sid] = taken_by(register.audit_trail(sid))
        return opened, handled

    def views(
        self, live: LiveHub, unresolved: tuple[list[Entry], list[Entry]] | None = None
    ) -> dict[str, ApartmentView]:
        """Every apartment seen (in events, the register or the config), as it is now."""
        opened, handled_all = unresolved or self._unresolved(live)
        open_by_apt: dict[str, list[Entry]] = {}
        for entry in opened:
            open_by_apt.setdefault(entry.apartment, []).append(entry)
        handled_by_apt: dict[str, list[Entry]] = {}
        for entry in handled_all:
            handled_by_apt.setdefault(entry.apartment, []).append(entry)
        apartments = self._configured | set(live.hub.state.apartments)
        apartments |= set(open_by_apt) | set(handled_by_apt)
        apartments.discard(COMMON_APARTMENT)
        out = {}
        for apt in sorted(a for a in apartments if _TOPIC_SAFE.match(a)):
            st = live.hub.state.apartments.get(apt)
            handled = handled_by_apt.get(apt, [])
            out[apt] = ApartmentView(
                apartment=apt,
                presence=st.presence if st else "unknown",
                last_activity=st.last_activity if st else None,
                open=tuple(open_by_apt.get(apt, ())),
                handled=tuple(handled),
                taken_by=tuple((e.id, self._taken_by[e.id]) for e in handled),
            )
        return out

    def refresh(self, live: LiveHub) -> None:
        """Publish what changed since the last refresh (everything after a connect)."""
        self._refreshed = time.monotonic()
        self._dirty = False
        opened, handled = unresolved = self._unresolved(live)
        views = self.views(live, unresolved)
        if self.listeners:
            # every apartment's, common too (a fall in the common room, the hub's own fault):
            # a signal missing here is closed, and its notifications go
            urgent = {
                e.id: UrgentState(e.id, e.status, self._taken_by.get(e.id))
                for e in opened + handled
                if e.severity == "urgent"
            }
            for listener in self.listeners:
                listener.urgent(urgent)
        if not live.connected:
            return
        for apt, view in views.items():
            if self._views.get(apt) == view:
                continue
            for desc in self.entities:
                self._publish(
                    live,
                    self.topics.config(desc.component, apt, desc.key),
                    _dumps(entity_config(desc, view, self.topics, self.language)),
                )
                value = desc.value_fn(view)
                if value is not None:
                    self._publish(live, self.topics.state(apt, desc.key), value)
                if desc.attributes_fn is not None:
                    self._publish(
                        live,
                        self.topics.state(apt, f"{desc.key}/attributes"),
                        _dumps(desc.attributes_fn(view)),
                    )
            self._views[apt] = view

    def _publish(self, live: LiveHub, topic: str, payload: str) -> None:
        if self._published.get(topic) == payload:
            return
        info = live.client.publish(topic, payload, qos=1, retain=True)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._published[topic] = payload
            self.publishes += 1
        else:
            logger.debug("Home Assistant discovery: %s not published (%s)", topic, info.rc)
