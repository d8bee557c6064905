"""The ``influx:`` section: history in a time-series server (:mod:`integrations.influx`)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class InfluxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Write history to a time-series server.")
    url: str = Field("http://localhost:8086", description="The server's base URL.")
    org: str = Field("thuisplus", description="InfluxDB organisation (ignored by others).")
    bucket: str = Field("thuisplus", description="InfluxDB bucket (database).")
    token_env: str = Field("THUISPLUS_INFLUX_TOKEN", description="Variable with the token.")
    token_file: Path | None = Field(None, description="File with the token instead.")
    batch_size: int = Field(500, ge=1, le=50000, description="Points per write.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Per write.")
    buffer_max_points: int = Field(
        1_000_000, ge=100, description="Points kept on disk while the server is away."
    )

    def token(self) -> str:
        value = os.environ.get(self.token_env)
        if value is None and self.token_file is not None:
            value = self.token_file.read_text(encoding="utf-8").strip()
        return value or ""
