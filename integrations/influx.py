"""History in a time-series database: InfluxDB 2.x/3.x, or anything that accepts
InfluxDB's ``/api/v2/write`` line protocol (VictoriaMetrics, for one).

What is written (the schema, also in docs/history.md): daily features per apartment,
signals, and at each day's end sensor health and the detectors' scores. Tags are ids
(flat, apartment, room, kind, detector), never names. Raw events are not written.

Points first go to a small buffer on disk (SQLite); one worker thread sends them in
batches, in order, and deletes what the server accepted. When the server is down the
buffer grows up to ``buffer_max_points`` (then the oldest points go, counted and logged)
and drains when the server is back. The hub never waits for the server.

>>> from datetime import date
>>> from edge.features import DayFeatures
>>> feature_line("f1", DayFeatures("a012", date(2026, 1, 5), {"outings": 2.0}), "UTC")
'daily_features,apartment=a012,flat=f1 outings=2 1767571200'
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from edge.features import DayFeatures
from edge.models import Signal
from edge.sections.influx import InfluxConfig
from edge.state import FlatState

logger = logging.getLogger(__name__)

MEASUREMENTS = {
    "daily_features": "per apartment per local day; fields: the daily features",
    "signals": "one point per signal; tags kind, severity, domain; field count=1",
    "sensor_health": "per sensor at each day's end; tags room, device; battery, linkquality",
    "detector_score": "per detector and apartment at each day's end; tag detector; fields: "
    "its scores()",
}


# (influxdb_client is imported where it is used: it takes ~0.2 s to import)


def _line_api() -> tuple[Any, Any]:
    from influxdb_client.client.write.point import Point
    from influxdb_client.domain.write_precision import WritePrecision

    return Point, WritePrecision


def feature_line(flat: str, day: DayFeatures, tz: str) -> str:
    Point, WritePrecision = _line_api()
    start = datetime.combine(day.day, dtime(0), ZoneInfo(tz))
    point = Point("daily_features").tag("flat", flat).tag("apartment", day.apartment)
    for name, value in sorted(day.values.items()):
        point = point.field(name, float(value))
    return str(point.time(int(start.timestamp()), WritePrecision.S).to_line_protocol())


def signal_line(signal: Signal) -> str:
    Point, WritePrecision = _line_api()
    point = (
        Point("signals")
        .tag("flat", signal.flat)
        .tag("apartment", signal.apartment)
        .tag("kind", signal.kind.value)
        .tag("severity", signal.severity.value)
        .tag("domain", signal.domain.value)
        .field("count", 1)
        .field("id", signal.id)
        .time(int(signal.detected_at.timestamp()), WritePrecision.S)
    )
    return str(point.to_line_protocol())


def health_lines(flat: str, state: FlatState, at: datetime) -> list[str]:
    Point, WritePrecision = _line_api()
    lines = []
    for apt, st in sorted(state.apartments.items()):
        for sid, sensor in sorted(st.sensors.items()):
            _, room, device = sid.split("/", 2)
            point = (
                Point("sensor_health")
                .tag("flat", flat)
                .tag("apartment", apt)
                .tag("room", room)
                .tag("device", device)
                .field("available", int(sensor.available))
                .field("silent_s", max(0.0, (at - sensor.last_seen).total_seconds()))
                .time(int(at.timestamp()), WritePrecision.S)
            )
            if sensor.battery is not None:
                point = point.field("battery", float(sensor.battery))
            if sensor.linkquality is not None:
                point = point.field("linkquality", int(sensor.linkquality))
            lines.append(str(point.to_line_protocol()))
    return lines


def score_lines(
    flat: str, day: date, tz: str, scores: dict[str, dict[str, dict[str, float]]]
) -> list[str]:
    """One point per detector and apartment, stamped with the day's last second; values
    that are not finite numbers are left out (a point needs at least one field).

    >>> score_lines("f1", date(2026, 1, 5), "UTC",
    ...             {"sensor_offline": {"a012": {"silence_limit_h": 25.0, "x": float("nan")}}})
    ['detector_score,apartment=a012,detector=sensor_offline,flat=f1 silence_limit_h=25 1767657599']
    """
    Point, WritePrecision = _line_api()
    end = datetime.combine(day, dtime(23, 59, 59), ZoneInfo(tz))
    lines = []
    for detector, per_apartment in sorted(scores.items()):
        for apartment, values in sorted(per_apartment.items()):
            point = (
                Point("detector_score")
                .tag("flat", flat)
                .tag("apartment", apartment)
                .tag("detector", detector)
                .time(int(end.timestamp()), WritePrecision.S)
            )
            fields = 0
            for name, value in sorted(values.items()):
                if isinstance(value, int | float) and math.isfinite(value):
                    point = point.field(name, float(value))
                    fields += 1
            if fields:
                lines.append(str(point.to_line_protocol()))
    return lines


class InfluxWriter:
    """A feature and signal sink that buffers on disk and sends from a worker thread."""

    def __init__(
        self,
        config: InfluxConfig,
        flat: str,
        tz: str,
        buffer: Path,
        state: FlatState | None = None,
    ) -> None:
        self.config = config
        self.flat = flat
        self.tz = tz
        self.state = state
        buffer.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(buffer, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS points (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "line TEXT NOT NULL)"
        )
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._left: int | None = None
        self.sent = 0
        self.dropped = 0
        self.failures = 0
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.domain.write_precision import WritePrecision

        self._precision = cast(WritePrecision, WritePrecision.S)  # (typed as str)

        self._client = InfluxDBClient(
            url=config.url,
            token=config.token(),
            org=config.org,
            timeout=int(config.timeout_s * 1000),
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self._thread = threading.Thread(target=self._work, name="influx", daemon=True)
        self._thread.start()

    # --- sinks (called on the hub's thread) --------------------------------------------

    def features(self, day: DayFeatures) -> None:
        self.add([feature_line(self.flat, day, self.tz)])

    def day_closed(self, day: date) -> None:
        """At each day's end: every sensor's health."""
        if self.state is not None:
            end = datetime.combine(day, dtime(23, 59, 59), ZoneInfo(self.tz))
            self.add(health_lines(self.flat, self.state, end))

    def detector_scores(self, day: date, scores: dict[str, dict[str, dict[str, float]]]) -> None:
        """At each day's end: every detector's scores per apartment."""
        lines = score_lines(self.flat, day, self.tz, scores)
        if lines:
            self.add(lines)

    def emit(self, signal: Signal) -> None:
        self.add([signal_line(signal)])

    def close(self, timeout: float = 10.0) -> None:
        """Send what the server takes within ``timeout``; the rest stays on disk."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline and self.failures == 0:
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._client.close()
        with self._lock:
            self._left = self._count()
            self._db.close()

    # --- the buffer --------------------------------------------------------------------

    def add(self, lines: list[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO points (line) VALUES (?)", [(x,) for x in lines])
            over = self._count() - self.config.buffer_max_points
            if over > 0:
                self._db.execute(
                    "DELETE FROM points WHERE seq IN (SELECT seq FROM points ORDER BY seq LIMIT ?)",
                    (over,),
                )
                self.dropped += over
            self._db.execute("COMMIT")
        if over > 0:
            logger.error("History buffer full: dropped the %d oldest points", over)
        self._wake.set()

    def _count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM points").fetchone()[0])

    def pending(self) -> int:
        """Points not yet accepted by the server (after :meth:`close`: left on disk)."""
        with self._lock:
            return self._count() if self._left is None else self._left

    def _work(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            with self._lock:
                batch = self._db.execute(
                    "SELECT seq, line FROM points ORDER BY seq LIMIT ?", (self.config.batch_size,)
                ).fetchall()
            if not batch:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                self._write.write(
                    bucket=self.config.bucket,
                    org=self.config.org,
                    record=[line for _, line in batch],
                    write_precision=self._precision,
                )
            except Exception as err:
                self.failures += 1
                logger.warning(
                    "History server %s not reachable (%s); %d points kept, retry in %.1f s",
                    self.config.url,
                    type(err).__name__,
                    len(batch),
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            self.failures = 0
            with self._lock:
                self._db.execute("DELETE FROM points WHERE seq <= ?", (batch[-1][0],))
            self.sent += len(batch)

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent, "pending": self.pending(), "dropped": self.dropped}
