"""The flat configuration: optional YAML validated by pydantic, every key documented.

Without a file the hub runs on defaults and the topic names alone. A file adds what names
cannot say: the flat's id and time zone, MQTT connection, per-apartment consent and
overrides. Unknown keys are errors; secrets never live in the YAML (see :class:`MqttConfig`).

Errors come back as one line each, with the YAML line, the key path and the reason:

>>> try:
...     load_config_text("flat: f1\\nmqtt:\\n  prot: 1883\\n", "flat.yaml")
... except ConfigError as err:
...     print(err.lines[0])
flat.yaml:3: mqtt -> prot: unknown key (Extra inputs are not permitted)
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.clock import ClockConfig
from edge.contract import DetectorSettings, settings_models
from edge.decode import Limits
from edge.escalation import AlertsConfig
from edge.naming import DUTCH_ROOM_NAMES, ROOM_NAMES, DeviceNames, looks_like_sos, room_of
from edge.sections.homeassistant import HomeAssistantConfig
from edge.sections.influx import InfluxConfig
from edge.sections.serve import ServeConfig
from edge.state import StateConfig
from edge.store import StoreConfig, writable

logger = logging.getLogger(__name__)

_ZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+){0,2}$")
SECRET_ENV = "THUISPLUS_MQTT_PASSWORD"  # noqa: S105  (the variable's name, not a secret)
USERNAME_ENV = "THUISPLUS_MQTT_USERNAME"


class ConfigError(Exception):
    """A configuration that cannot be used; ``lines`` has one readable line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsConfig(_Section):
    enabled: bool = Field(False, description="Connect to the broker with TLS.")
    ca_file: Path | None = Field(None, description="CA bundle that signed the broker's cert.")
    cert_file: Path | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(None, description="Client certificate's key.")

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


_AGE_RECIPIENT = re.compile(r"^(age1[0-9a-z]{58}|ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( .*)?)$")


class BackupConfig(_Section):
    """Encrypted backups of the gateway (``thuisplus backup``, edge/backup.py)."""

    recipients: list[str] = Field(
        default_factory=list,
        description="age public keys (age1...) the backups are encrypted to; the private "
        "keys stay off the gateway, with whoever restores.",
    )
    dir: Path = Field(Path("/var/backups/thuisplus"), description="Where backups are written.")
    keep: int = Field(14, ge=1, le=1000, description="How many backups are kept (newest).")
    include: list[Path] = Field(
        default_factory=lambda: [
            Path("/opt/zigbee2mqtt/data"),
            Path("/etc/mosquitto"),
            Path("/etc/thuisplus"),
        ],
        description="Files and folders saved beside the store: Zigbee2MQTT's data (network "
        "key, device database), Mosquitto's accounts and ACL, the hub's config.",
    )
    max_age_hours: float = Field(
        36.0, gt=0, description="doctor warns when the newest backup is older than this."
    )

    @field_validator("recipients")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        for r in value:
            if not _AGE_RECIPIENT.match(r):
                shown = r if r.startswith(("age1", "ssh-")) else "a secret?"
                raise ValueError(
                    f"{shown[:20]}...: not an age public key (age1... from age-keygen -y) "
                    "or an ssh public key"
                )
        return value


class MqttConfig(_Section):
    """Broker connection. The password comes from the environment variable
    ``THUISPLUS_MQTT_PASSWORD`` or from ``password_file`` (e.g. ``/run/secrets/mqtt``),
    never from the YAML itself."""

    host: str = Field("localhost", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    client_id: str = Field("thuisplus-hub", min_length=1, max_length=64)
    username: str | None = Field(None, description="Broker user (or THUISPLUS_MQTT_USERNAME).")
    password_file: Path | None = Field(None, description="File holding the broker password.")
    tls: TlsConfig = Field(default_factory=TlsConfig)
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive in seconds.")
    zigbee_base_topic: str = Field("zigbee2mqtt", min_length=1, description="Zigbee2MQTT base.")
    base_topic: str = Field("thuisplus", min_length=1, description="Where the hub publishes.")
    reconnect_max_s: float = Field(15.0, gt=0, le=3600, description="Longest reconnect wait.")
    flapping_per_s: float = Field(
        10.0,
        gt=0,
        description="A sensor topic sending more messages a second than this (over 5 s) is "
        "reported as flapping in the hub's health; its messages are still all kept.",
    )
    behind_s: float = Field(
        30.0,
        gt=0,
        description="Messages waiting longer than this at the broker before the hub handles "
        "them (a backlog: a flood, a slow disk) are reported in the hub's health. Measured "
        "with a probe the hub sends itself on .../hub/probe, which queues behind them.",
    )
    allow_insecure: bool = Field(
        False,
        description="Development only: allow a plain-text or anonymous broker connection. "
        "Off, the hub refuses to connect without TLS and a broker account.",
    )

    password: None = Field(None, exclude=True, description="Refused: see the class doc.")

    @field_validator("password", mode="before")
    @classmethod
    def _no_inline_secret(cls, value: Any) -> None:
        raise ValueError(
            f"a password never goes in the YAML: set {SECRET_ENV} or mqtt.password_file"
        )

    def insecure_reasons(self) -> list[str]:
        """Why this connection is not fit for production (empty when it is):

        >>> MqttConfig().insecure_reasons()
        ['plain text (mqtt -> tls -> enabled is false)', 'anonymous (no mqtt -> username)']
        """
        reasons = []
        if not self.tls.enabled:
            reasons.append("plain text (mqtt -> tls -> enabled is false)")
        if not (os.environ.get(USERNAME_ENV) or self.username):
            reasons.append("anonymous (no mqtt -> username)")
        return reasons

    def credentials(self) -> tuple[str | None, str | None]:
        """The username and password to use, read from the environment or the secrets file."""
        user = os.environ.get(USERNAME_ENV) or self.username
        password = os.environ.get(SECRET_ENV)
        if password is None and self.password_file is not None:
            try:
                password = self.password_file.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise ConfigError(
                    [f"mqtt -> password_file: cannot read {self.password_file}: {err.strerror}"]
                ) from err
        return user, password


class LimitsConfig(_Section):
    """How large a JSON text from outside may be before the hub reads it: sensor messages
    and commands over MQTT, recording lines (edge/decode.py). A text over a limit is a dead
    letter (reason ``limits: ...``, its first 4 KiB kept), counted on the health topic;
    the hub carries on. The defaults are far above what Zigbee2MQTT sends for a device."""

    max_bytes: int = Field(65_536, ge=1_024, le=16 * 1024 * 1024, description="Whole text.")
    max_depth: int = Field(32, ge=4, le=200, description="Objects and arrays inside one another.")
    max_keys: int = Field(1_000, ge=16, le=1_000_000, description="Object keys, all levels.")
    max_items: int = Field(
        10_000, ge=16, le=10_000_000, description="Values in objects and arrays, all levels."
    )
    max_string: int = Field(8_192, ge=64, le=16 * 1024 * 1024, description="One string.")

    def limits(self) -> Limits:
        return Limits(**self.model_dump())


class DeviceOverride(_Section):
    """What a device's name cannot say, e.g. that a plain button is an SOS pendant."""

    role: str | None = Field(
        None,
        description="'sos_button': any press is a call for help; 'bed_pad', 'chair_pad': "
        "occupancy means lying or sitting; 'front_door': this contact is the front door.",
    )
    ignore: bool = Field(False, description="Drop this device's messages (kept in dead letters).")

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str | None) -> str | None:
        if value is not None and value not in DEVICE_ROLES:
            raise ValueError(f"unknown role {value!r}; one of {', '.join(sorted(DEVICE_ROLES))}")
        return value


DEVICE_ROLES = frozenset({"sos_button", "bed_pad", "chair_pad", "front_door"})


class DeviceEntry(DeviceOverride):
    """A Zigbee2MQTT device by its own name (``devices:``, keyed by friendly name or IEEE
    address): where it is, for a device not named ``<apartment>/<room>/<device>``."""

    apartment: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="Apartment id.")
    room: str = Field(description="A room in English or Dutch (bathroom, badkamer, ...).")
    device: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The device part of its sensor id (default: from its role or its name).",
    )

    @field_validator("room")
    @classmethod
    def _known_room(cls, value: str) -> str:
        room = room_of(value)
        if room is None:
            raise ValueError(
                f"unknown room {value[:40]!r} (one of {ROOM_NAMES}; or in Dutch {DUTCH_ROOM_NAMES})"
            )
        return room.value


class ApartmentConfig(_Section):
    residents: int = Field(1, ge=0, le=6, description="How many residents live here.")
    consent: dict[str, bool] = Field(
        default_factory=dict,
        description="Per detector: false switches it off for this apartment.",
    )
    detectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-detector settings that differ from the flat's."
    )
    devices: dict[str, DeviceOverride] = Field(
        default_factory=dict, description="Keyed by '<room>/<device>'."
    )

    @field_validator("devices")
    @classmethod
    def _device_keys(cls, value: dict[str, DeviceOverride]) -> dict[str, DeviceOverride]:
        for key in value:
            room, _, device = key.partition("/")
            if not device:
                raise ValueError(f"{key[:60]!r}: a device is keyed by '<room>/<device>'")
            if room_of(room) is None:
                raise ValueError(
                    f"{key[:60]!r}: unknown room {room[:40]!r} (one of {ROOM_NAMES}; or in "
                    f"Dutch {DUTCH_ROOM_NAMES})"
                )
        return value


class Config(_Section):
    flat: str = Field("demo-flat", pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$", description="Flat id.")
    timezone: str = Field("Europe/Amsterdam", description="IANA time zone of the flat.")
    language: str = Field("nl", pattern="^(nl|en)$", description="Language of summaries.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    influx: InfluxConfig = Field(default_factory=InfluxConfig)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)
    backup: BackupConfig = Field(default_factory=BackupConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    detectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Flat-wide detector settings, keyed by detector."
    )
    apartments: dict[str, ApartmentConfig] = Field(default_factory=dict)
    devices: dict[str, DeviceEntry] = Field(
        default_factory=dict,
        description="Zigbee2MQTT devices by friendly name or IEEE address -> apartment, room.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        # ZoneInfo reads a file named after the value: check its shape first
        if not _ZONE.match(value) or ".." in value:
            raise ValueError(f"unknown time zone {value[:64]!r}")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @model_validator(mode="after")
    def _detector_settings(self) -> Config:
        problems = detector_problems(self.model_dump(include={"detectors", "apartments"}))
        if problems:
            raise ValueError("; ".join(f"{' -> '.join(map(str, loc))}: {m}" for loc, m in problems))
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def apartment(self, apartment: str) -> ApartmentConfig:
        return self.apartments.get(apartment) or _DEFAULT_APARTMENT

    def consents(self, apartment: str, detector: str) -> bool:
        return self.apartment(apartment).consent.get(detector, True)

    def detector_settings(self, detector: str, apartment: str | None = None) -> DetectorSettings:
        """The settings of ``detector``: defaults, then the flat's, then the apartment's."""
        values = dict(self.detectors.get(detector, {}))
        if apartment is not None:
            values.update(self.apartment(apartment).detectors.get(detector, {}))
        return settings_models()[detector].model_validate(values)

    def device_roles(self) -> dict[str, str]:
        """Sensor id (``apartment/room/device``) -> its role, where the config gives one
        (under an apartment's ``devices``, or in the flat's ``devices:`` map)."""
        roles = {
            _sensor_id(apt, dev): o.role
            for apt, conf in self.apartments.items()
            for dev, o in conf.devices.items()
            if o.role
        }
        roles.update(self.device_names().roles())
        return roles

    def ignored_sensors(self) -> set[str]:
        """Sensor ids whose messages the config says to drop."""
        ignored = {
            _sensor_id(apt, dev)
            for apt, conf in self.apartments.items()
            for dev, o in conf.devices.items()
            if o.ignore
        }
        return ignored | self.device_names().ignored

    def warnings(self) -> list[str]:
        """What is valid but probably not meant: a device named like an alarm button with
        no role ``sos_button`` (its plain presses raise no SOS)."""
        named = [
            f"devices -> {key}"
            for key, e in self.devices.items()
            if looks_like_sos(key) and e.role != "sos_button"
        ]
        named += [
            f"apartments -> {apt} -> devices -> {dev}"
            for apt, conf in self.apartments.items()
            for dev, o in conf.devices.items()
            if looks_like_sos(dev) and o.role != "sos_button"
        ]
        return [
            f"{where}: named like an alarm button but has no role sos_button: only an "
            "'sos' or 'emergency' action from it raises an SOS (add role: sos_button)"
            for where in named
        ]

    def device_names(self) -> DeviceNames:
        """A fresh :class:`~edge.naming.DeviceNames` with this config's ``devices:`` map."""
        return DeviceNames(self.devices)

    def residents(self) -> dict[str, int]:
        """Apartment -> how many live there, for the apartments the config names."""
        return {apt: conf.residents for apt, conf in self.apartments.items()}

    def device_override(self, sensor_id: str) -> DeviceOverride | None:
        apartment = sensor_id.partition("/")[0]
        conf = self.apartments.get(apartment)
        if conf is None:
            return None
        found = (o for k, o in conf.devices.items() if _sensor_id(apartment, k) == sensor_id)
        return next(found, None)


def _sensor_id(apartment: str, room_device: str) -> str:
    """``apartment`` + an apartment's ``devices`` key (``<room>/<device>``, the room in
    English or Dutch) as the sensor id events carry."""
    room_name, _, device = room_device.partition("/")
    room = room_of(room_name)
    return f"{apartment}/{room.value if room else room_name}/{device}"


_DEFAULT_APARTMENT = ApartmentConfig()


def detector_problems(data: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Unknown detectors and bad detector settings, each with its key path.

    Works on the raw mapping so every problem is found even when other keys are wrong;
    per-apartment settings are checked merged over the flat's.
    """
    if not isinstance(data, dict):
        return []
    models = settings_models()
    problems: list[tuple[tuple[Any, ...], str]] = []
    flat = data.get("detectors")
    flat = flat if isinstance(flat, dict) else {}
    scopes: list[tuple[tuple[Any, ...], Any]] = [(("detectors",), flat)]
    apartments = data.get("apartments")
    for apt, conf in apartments.items() if isinstance(apartments, dict) else []:
        if not isinstance(conf, dict):
            continue
        scopes.append((("apartments", apt, "detectors"), conf.get("detectors")))
        consent = conf.get("consent")
        for name in consent if isinstance(consent, dict) else []:
            if name not in _known(models):
                problems.append((("apartments", apt, "consent", name), "unknown detector"))
    for where, table in scopes:
        for name, values in table.items() if isinstance(table, dict) else []:
            if name not in _known(models):
                known = ", ".join(sorted(models))
                problems.append(((*where, name), f"unknown detector (one of {known})"))
                continue
            if not isinstance(values, dict):
                continue
            found = flat.get(name)
            base: dict[str, Any] = found if isinstance(found, dict) else {}
            try:
                models[name].model_validate({**base, **values})
            except ValidationError as err:
                for e in err.errors():
                    problems.append(((*where, name, *e["loc"]), e["msg"]))
    return problems


def _known(models: dict[str, type[DetectorSettings]]) -> dict[str, type[DetectorSettings]]:
    """``models``, when any detector is registered: without one, every key would read as
    unknown, and that is the wiring's fault, not the configuration's."""
    if not models:
        raise RuntimeError(
            "no detector is registered: the composition root (edge.app) imports the "
            "detectors before a configuration is read"
        )
    return models


# --- YAML with line numbers -------------------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, tuple[dict[Any, Any], dict[Any, int]]] = {}


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    loader.key_lines[id(mapping)] = (mapping, lines)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(root: Any, loc: tuple[Any, ...], key_lines: dict[int, Any]) -> int | None:
    node, line = root, None
    for part in loc:
        entry = key_lines.get(id(node)) if isinstance(node, dict) else None
        if entry is None:
            break
        mapping, lines = entry
        if part not in mapping:
            break
        line, node = lines[part], mapping[part]
    return line


def _not_unicode(node: Any, loc: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where the parsed YAML has a key or text that is not valid Unicode (cannot be
    written as UTF-8), or ``None``."""
    if isinstance(node, str):
        return loc if writable(node) != node else None
    if isinstance(node, dict):
        for key, value in node.items():
            if _not_unicode(key) is not None:
                return (*loc, key)
            found = _not_unicode(value, (*loc, key))
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _not_unicode(value, (*loc, i))
            if found is not None:
                return found
    return None


CONFIG_MAX_BYTES = 1024 * 1024
CONFIG_MAX_VALUES = 100_000
CONFIG_MAX_DEPTH = 32


def _too_large(data: Any) -> str | None:
    """Why the parsed YAML is too large to check, or ``None``. The walk is iterative and
    stops at the limit, so a YAML alias bomb (anchors that expand a billion-fold) costs
    no more than the limit to find."""
    todo: list[tuple[Any, int]] = [(data, 0)]
    seen = 0
    while todo:
        node, depth = todo.pop()
        seen += 1
        if seen > CONFIG_MAX_VALUES:
            return (
                f"limits: more than {CONFIG_MAX_VALUES:,} values (anchors and aliases "
                "count each time they are used)"
            )
        if depth > CONFIG_MAX_DEPTH:
            return f"limits: nested over {CONFIG_MAX_DEPTH} levels deep"
        if isinstance(node, dict):
            todo.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            todo.extend((v, depth + 1) for v in node)
    return None


def load_config_text(text: str, name: str = "<config>") -> Config:
    """Validate a YAML text; raise :class:`ConfigError` with one line per problem."""
    if len(text) > CONFIG_MAX_BYTES:
        raise ConfigError(
            [f"{name}: limits: {len(text):,} characters, over the {CONFIG_MAX_BYTES:,} allowed"]
        )
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(text)
        data = loader.get_single_data()
    except RecursionError as err:
        # (the YAML parser recurses per level: a text nested thousands deep overflows it)
        raise ConfigError([f"{name}: limits: nested too deep to read"]) from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(err, "problem", None) or getattr(err, "reason", None) or str(err)
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from err
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{name}: the top level must be a mapping of keys"])
    key_lines = loader.key_lines
    large = _too_large(data)
    if large is not None:
        raise ConfigError([f"{name}: {large}"])
    bad = _not_unicode(data)
    if bad is not None:  # (YAML lets a "\ud800" escape through; nothing can write it out)
        line = _line_of(data, bad, key_lines)
        where = f"{name}:{line}" if line is not None else name
        path = " -> ".join(writable(str(part)) for part in bad)
        raise ConfigError([f"{where}: {path}: not valid Unicode text (a lone surrogate)"])
    own = detector_problems(data)
    own_lines = []
    for loc, msg in own:
        line = _line_of(data, loc, key_lines)
        where = f"{name}:{line}" if line is not None else name
        own_lines.append(f"{where}: {' -> '.join(map(str, loc))}: {msg}")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        lines = _error_lines(err, data, key_lines, name, skip_whole=bool(own))
        raise ConfigError(lines + own_lines) from err


def _error_lines(
    err: ValidationError, data: Any, key_lines: dict[int, Any], name: str, skip_whole: bool
) -> list[str]:
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"])
        if skip_whole and not loc:
            continue  # the detector check, already reported key by key
        line = _line_of(data, loc, key_lines)
        where = f"{name}:{line}" if line is not None else name
        path = " -> ".join(str(p) for p in loc) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key ({msg})"
        value = e.get("input")
        secret = any(w in str(p).lower() for p in loc for w in ("password", "secret", "token"))
        shown = (
            f" (got {value!r})"
            if e["type"] not in {"extra_forbidden", "missing"}
            and (isinstance(value, str | int | float | bool))
            and not secret
            else ""
        )
        lines.append(f"{where}: {path}: {msg}{shown}")
    return lines


def load_config(path: Path | None) -> Config:
    """The configuration in ``path``, or the defaults when ``path`` is ``None``."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror}"]) from err
    return load_config_text(text, str(path))
