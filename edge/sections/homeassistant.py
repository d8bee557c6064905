"""The ``homeassistant:`` section of the flat configuration.

The long-lived access token never lives in the YAML: it comes from the environment
variable ``THUISPLUS_HA_TOKEN`` or from ``token_file`` (e.g. ``/run/secrets/ha_token``).

>>> conf = HomeAssistantConfig.model_validate(
...     {"enabled": True, "url": "http://127.0.0.1:8123", "notify": {"on_call": "notify.team"}}
... )
>>> (conf.discovery_prefix, conf.notify["on_call"], conf.persistent_notifications)
('homeassistant', 'notify.team', True)
>>> from pydantic import ValidationError
>>> try:
...     HomeAssistantConfig.model_validate({"notify": {"on_call": "team"}})
... except ValidationError as err:
...     print(err.errors()[0]["msg"])
Value error, a notify service such as 'notify.mobile_app_team_phone', not 'team'
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

logger = logging.getLogger(__name__)

TOKEN_ENV = "THUISPLUS_HA_TOKEN"  # noqa: S105  (the variable's name, not a secret)
_SERVICE = re.compile(r"^notify\.[a-z0-9_]{1,64}$")
_TARGET = re.compile(r"^[a-z0-9_-]{1,32}$")


class HomeAssistantError(Exception):
    """The root of this package's errors: a call to Home Assistant failed (unreachable,
    refused, an unexpected answer), or the integration cannot be set up."""


class HomeAssistantTokenError(HomeAssistantError):
    """The token cannot be read (the file is missing or empty and the variable unset)."""


class HomeAssistantConfig(BaseModel):
    """Home Assistant: MQTT discovery of each apartment's entities, and notifications of
    urgent signals through Home Assistant's notify services."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Publish discovery and send notifications.")
    url: str | None = Field(
        None,
        description="Home Assistant's address, e.g. http://homeassistant.local:8123 "
        "(for notifications; discovery goes over the broker and needs no address).",
    )
    token_file: Path | None = Field(
        None, description="File holding a long-lived access token (or THUISPLUS_HA_TOKEN)."
    )
    discovery_prefix: str = Field(
        "homeassistant",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        description="Home Assistant's MQTT discovery prefix.",
    )
    notify: dict[str, str] = Field(
        default_factory=dict,
        description="Per alert chain target (on_call, team_lead...), the notify service that "
        "reaches it, e.g. notify.mobile_app_team_phone. Targets not named get no push.",
    )
    persistent_notifications: bool = Field(
        True, description="Also show each urgent signal as a persistent notification."
    )
    android_channel: str = Field(
        "alarm_stream",
        pattern=r"^[A-Za-z0-9_ -]{1,64}$",
        description="The Android notification channel of a critical push (a chain step "
        "with push: critical). The companion app plays alarm_stream on the alarm stream; "
        "another name makes a channel of its own whose sound and Do Not Disturb override "
        "are set on the phone.",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="Per request to Home Assistant.")
    retries: int = Field(
        3, ge=1, le=10, description="Tries per call before it is dropped (alerts repeat)."
    )
    queue_size: int = Field(
        100, ge=1, le=10000, description="Calls waiting for Home Assistant; more are dropped."
    )

    token: None = Field(None, exclude=True, description="Refused: see the class doc.")

    @field_validator("token", mode="before")
    @classmethod
    def _no_inline_secret(cls, value: Any) -> None:
        raise ValueError(
            f"a token never goes in the YAML: set {TOKEN_ENV} or homeassistant.token_file"
        )

    @field_validator("notify")
    @classmethod
    def _services(cls, value: dict[str, str]) -> dict[str, str]:
        for target, service in value.items():
            if not _TARGET.match(target):
                raise ValueError(f"{target!r} is not an alert target name (a-z, 0-9, _ and -)")
            if not _SERVICE.match(service):
                raise ValueError(
                    f"a notify service such as 'notify.mobile_app_team_phone', not {service!r}"
                )
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"an http:// or https:// address, not {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _url_for_notifications(self) -> HomeAssistantConfig:
        if self.enabled and self.url is None and (self.notify or self.persistent_notifications):
            raise ValueError(
                "notifications need homeassistant.url (or set notify: {} and "
                "persistent_notifications: false for discovery only)"
            )
        return self

    @property
    def notifications(self) -> bool:
        """Whether any REST call to Home Assistant is configured."""
        return self.url is not None and (bool(self.notify) or self.persistent_notifications)

    def read_token(self) -> str:
        """The token from ``THUISPLUS_HA_TOKEN`` or ``token_file``."""
        token = os.environ.get(TOKEN_ENV)
        if not token and self.token_file is not None:
            try:
                token = self.token_file.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise HomeAssistantTokenError(
                    f"homeassistant -> token_file: cannot read {self.token_file}: {err.strerror}"
                ) from err
        if not token:
            raise HomeAssistantTokenError(
                f"homeassistant: no token: set {TOKEN_ENV} or homeassistant.token_file"
            )
        return token
