"""The ``serve:`` section of the flat configuration (``thuisplus serve``).

The page is served over TLS with the gateway's certificate; plain HTTP only on a
loopback address, for development, and only when asked for (``allow_http``).

>>> conf = ServeConfig.model_validate({"cert_file": "/etc/ssl/gw.crt", "key_file": "/k"})
>>> (conf.host, conf.port, conf.session_minutes, conf.tls)
('0.0.0.0', 8443, 480.0, True)
>>> from pydantic import ValidationError
>>> try:
...     ServeConfig.model_validate({"cert_file": "/etc/ssl/gw.crt"})
... except ValidationError as err:
...     print(err.errors()[0]["msg"])
Value error, cert_file and key_file go together
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ::1 (nothing else reaches it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServeConfig(BaseModel):
    """The team's web page on the gateway: where it listens, its certificate, sessions
    and the login limits."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(
        "0.0.0.0",  # noqa: S104  (the team's page is for the flat's network; TLS only)
        min_length=1,
        max_length=253,
        description="Address to listen on (all of the gateway's by default).",
    )
    port: int = Field(8443, ge=1, le=65535, description="Port to listen on.")
    cert_file: Path | None = Field(
        None,
        description="The gateway's TLS certificate (PEM, the chain after it), e.g. the one "
        "the Ansible role makes for Mosquitto.",
    )
    key_file: Path | None = Field(None, description="The certificate's private key (PEM).")
    allow_http: bool = Field(
        False,
        description="Development only: plain HTTP, and only on a loopback address.",
    )
    session_minutes: float = Field(
        480.0, ge=5, le=7 * 24 * 60, description="A login lasts this long (a working day)."
    )
    idle_minutes: float = Field(
        60.0, ge=5, le=24 * 60, description="A session unused this long ends earlier."
    )
    login_attempts: int = Field(5, ge=1, le=100, description="Failed logins for one account ...")
    login_attempts_per_address: int = Field(
        20,
        ge=1,
        le=1000,
        description="... or from one address (an office's computers may share one) ...",
    )
    login_window_minutes: float = Field(
        15.0, ge=1, le=24 * 60, description="... within this time lock its logins out."
    )

    @model_validator(mode="after")
    def _pair(self) -> ServeConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def tls(self) -> bool:
        return self.cert_file is not None
