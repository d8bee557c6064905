"""The city's view without personal data: flat-level aggregates, bridged to a central broker.

Each gateway publishes, at the end of every day, one retained message on
``thuisplus/<flat>/stats/daily``: how many signals of each kind were raised, how many are
open per domain, how many apartments reported, and flat-wide means of the daily features
(left out when fewer than ``MIN_APARTMENTS`` apartments reported, so that no single
resident can be read from them). No apartment id is in it. The gateway's Mosquitto
bridges only ``thuisplus/+/stats/#`` to the central broker (the Ansible role configures
it); there :func:`run_aggregator` writes each flat's day to the central time-series
database. Twenty flats or two hundred: one broker cluster and one database.

>>> from datetime import date
>>> from edge.features import DayFeatures
>>> days = [DayFeatures(f"a{n}", date(2026, 1, 5), {"outings": float(n % 2)}) for n in range(6)]
>>> s = flat_day("f1", date(2026, 1, 5), days, {"fall": 1}, {"care": 1})
>>> s.apartments_reporting, s.means["outings"], s.signals
(6, 0.5, {'fall': 1})
>>> flat_day("f1", date(2026, 1, 5), days[:3], {}, {}).means
{}
"""

from __future__ import annotations

import json
import logging
import signal as signals
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.decode import DEFAULT_LIMITS, LimitError, check
from edge.features import DayFeatures
from edge.register import Register

logger = logging.getLogger(__name__)
STATS_LIMITS = DEFAULT_LIMITS.around(1_048_576)
"""A flat's daily stats, as the aggregator reads them (a day of 300 apartments fits)."""

MIN_APARTMENTS = 5


class FlatDay(BaseModel):
    """One flat's day, as it leaves the building."""

    model_config = ConfigDict(extra="forbid")

    flat: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")
    day: date
    apartments_reporting: int = Field(ge=0)
    signals: dict[str, int] = Field(default_factory=dict)
    open_signals: dict[str, int] = Field(default_factory=dict)
    means: dict[str, float] = Field(default_factory=dict)


def flat_day(
    flat: str, day: date, days: list[DayFeatures], raised: dict[str, int], open_: dict[str, int]
) -> FlatDay:
    means: dict[str, float] = {}
    if len(days) >= MIN_APARTMENTS:
        for name in sorted({k for d in days for k in d.values}):
            means[name] = round(statistics.fmean(d.values.get(name, 0.0) for d in days), 3)
    return FlatDay(
        flat=flat,
        day=day,
        apartments_reporting=len(days),
        signals=raised,
        open_signals=open_,
        means=means,
    )


def stats_topic(base: str, flat: str) -> str:
    return f"{base}/{flat}/stats/daily"


class FlatStats:
    """A feature sink on the live hub: at each day's end, publish the flat's day."""

    def __init__(
        self, flat: str, register: Register, tz: Any, publish: Callable[[FlatDay], None]
    ) -> None:
        self.flat = flat
        self.register = register
        self.tz = tz
        self.publish = publish
        self._days: list[DayFeatures] = []

    def features(self, day: DayFeatures) -> None:
        if day.apartment != "common":
            self._days.append(day)

    def day_closed(self, day: date) -> None:
        start = datetime.combine(day, dtime(0), self.tz)
        end = datetime.combine(day, dtime(23, 59, 59, 999999), self.tz)
        raised: dict[str, int] = {}
        open_: dict[str, int] = {}
        for e in self.register.entries():
            if start <= e.opened <= end:
                raised[e.kind] = raised.get(e.kind, 0) + 1 + e.repeats
            if e.status != "closed" and e.opened <= end:
                open_[e.domain] = open_.get(e.domain, 0) + 1
        todays = [d for d in self._days if d.day == day]
        self._days = [d for d in self._days if d.day != day]
        self.publish(flat_day(self.flat, day, todays, raised, open_))


def flat_day_line(day: FlatDay) -> str:
    """InfluxDB line protocol for one flat's day (measurement ``flat_stats``)."""
    fields = {"apartments_reporting": float(day.apartments_reporting)}
    fields.update({f"signals_{k}": float(v) for k, v in day.signals.items()})
    fields.update({f"open_{k}": float(v) for k, v in day.open_signals.items()})
    fields.update({f"mean_{k}": v for k, v in day.means.items()})
    stamp = int(datetime.combine(day.day, dtime(0), UTC).timestamp())
    body = ",".join(f"{k}={v!r}" for k, v in sorted(fields.items()))
    return f"flat_stats,flat={day.flat} {body} {stamp}"


def run_aggregator(
    host: str,
    port: int,
    write: Callable[[list[str]], None],
    base: str = "thuisplus",
    username: str | None = None,
    password: str | None = None,
    max_seconds: float | None = None,
    on_day: Callable[[FlatDay], None] | None = None,
) -> int:
    """Subscribe to every flat's daily stats on the central broker and write them; a bad
    message is logged and skipped. Runs until SIGTERM/SIGINT (or ``max_seconds``)."""
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="thuisplus-aggregator",
        clean_session=False,
    )
    if username:
        client.username_pw_set(username, password)
    stopping = False
    written = 0

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def on_connect(c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        c.subscribe(f"{base}/+/stats/daily", qos=1)
        logger.info("Aggregator connected to %s:%d", host, port)

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        # (no exception may leave paho's loop: one bad flat's message must not stop the
        # city's aggregator for every other flat)
        try:
            handle(msg)
        except Exception:
            logger.exception("Skipped a stats message on %s that failed", msg.topic)

    def handle(msg: mqtt.MQTTMessage) -> None:
        nonlocal written
        try:
            check(bytes(msg.payload), STATS_LIMITS)
            day = FlatDay.model_validate_json(msg.payload)
        except LimitError as err:
            logger.warning("Skipped a stats message on %s: %s", msg.topic, err.reason)
            return
        except ValidationError as err:
            logger.warning(
                "Skipped a bad stats message on %s: %s", msg.topic, err.errors()[0]["msg"]
            )
            return
        if msg.topic != stats_topic(base, day.flat):
            logger.warning("Skipped stats for %s sent on %s", day.flat, msg.topic)
            return
        write([flat_day_line(day)])
        written += 1
        if on_day is not None:
            on_day(day)

    client.on_connect = on_connect
    client.on_message = on_message
    signals.signal(signals.SIGTERM, stop)
    signals.signal(signals.SIGINT, stop)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.connect_async(host, port)
    client.loop_start()
    started = time.monotonic()
    try:
        while not stopping and (max_seconds is None or time.monotonic() - started < max_seconds):
            time.sleep(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    return written


def write_json(path: Path) -> Callable[[FlatDay], None]:
    """For tests and debugging: append each flat's day to a JSON Lines file."""

    def write(day: FlatDay) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(day.model_dump(mode="json")) + "\n")

    return write
