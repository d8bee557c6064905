"""A webhook target of the alarm path (``alerts.webhooks``; :mod:`integrations.webhook`).

>>> from pydantic import ValidationError
>>> try:
...     WebhookConfig(url="ftp://example.invalid/x")
... except ValidationError as err:
...     print(err.errors()[0]["msg"])
Value error, the URL must start with http:// or https://
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where alerts for this target are POSTed (JSON).")
    token_env: str | None = Field(
        None, description="Environment variable holding a bearer token for the endpoint."
    )
    token_file: Path | None = Field(None, description="File holding that token instead.")
    timeout_s: float = Field(5.0, gt=0, le=60, description="Per attempt.")
    attempts: int = Field(3, ge=1, le=10, description="Tries per alert before giving up.")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        return value

    def token(self) -> str | None:
        if self.token_env and os.environ.get(self.token_env):
            return os.environ[self.token_env]
        if self.token_file is not None:
            return self.token_file.read_text(encoding="utf-8").strip()
        return None
