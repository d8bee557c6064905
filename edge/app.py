"""The composition root (issue 19): the one module of the core that imports detectors and
integrations, and wires them to the hub, for replay and live alike.

The core knows detectors only by their contract (:mod:`edge.contract`). Here the built-in
ones are found and registered (``detectors/builtin.py``, before a configuration is read:
its ``detectors`` keys are checked against their settings models), and the hub is handed
what it runs (:func:`detector_kit`: the detector classes, the step that takes the silence
detectors together, the summaries' rendering). ``thuisplus replay`` (one process or
shards, :mod:`edge.replay`) and ``thuisplus run`` build their hubs here; the live hub gets
its integrations here too (Home Assistant, webhooks, the history, the flat's daily stats),
and the commands that are an integration's (agenda, serve, users, aggregate) reach it
through here. An integration's refusal comes back as one :class:`AppError`.

Everything is imported where it is used, as in :mod:`edge.cli`: a command loads only what
it needs (``thuisplus users`` no detector).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.config import Config
    from edge.contract import DetectorKit
    from edge.escalation import AlertSink
    from edge.mqtt import LiveHub
    from edge.pipeline import FeatureSink, Hub, ScoreSink, SignalSink
    from edge.sections.serve import ServeConfig
    from edge.store import Store
    from integrations.agenda.report import Agenda
    from integrations.web.accounts import Accounts


class AppError(Exception):
    """What could not be done, in one line for the terminal (an integration's own error,
    or the live hub's wiring's, passed on with its text)."""


# --- the detectors and the hub ---------------------------------------------------------


def detector_kit() -> DetectorKit:
    """The registered detectors (the built-in ones imported first) and the detectors'
    helpers the hub calls: what :class:`~edge.pipeline.Hub` runs."""
    from detectors.base import registry
    from detectors.rhythm import share_silence
    from detectors.text import render
    from edge.contract import DetectorKit

    return DetectorKit(classes=registry(), combine=share_silence, render=render)


def load_config(path: Path | None) -> Config:
    """The configuration in ``path`` (:func:`edge.config.load_config`), read once every
    detector is registered (a misspelt detector key is then one clear error)."""
    from detectors.base import registry
    from edge import config

    registry()
    return config.load_config(path)


def build_hub(
    config: Config,
    store: Store,
    sinks: Iterable[SignalSink] = (),
    detectors: Iterable[str] | None = None,
    alert_sinks: Iterable[AlertSink] = (),
    feature_sinks: Iterable[FeatureSink] = (),
    score_sinks: Iterable[ScoreSink] = (),
) -> Hub:
    """A hub running the registered detectors (or those named in ``detectors``)."""
    from edge.pipeline import Hub

    return Hub(
        config,
        store,
        detector_kit(),
        sinks,
        detectors=detectors,
        alert_sinks=alert_sinks,
        feature_sinks=feature_sinks,
        score_sinks=score_sinks,
    )


def attach_history(config: Config, hub: Hub, state_dir: Path | None) -> Any:
    """The time-series writer when the config enables it, attached to the hub."""
    if not config.influx.enabled:
        return None
    import tempfile

    from integrations.influx import InfluxWriter

    folder = state_dir or Path(tempfile.mkdtemp(prefix="thuisplus-history-"))
    writer = InfluxWriter(
        config.influx,
        config.flat,
        config.timezone,
        folder / "history-buffer.sqlite",
        state=hub.state,
    )
    hub.sinks.append(writer)
    hub.feature_sinks.append(writer)
    hub.score_sinks.append(writer)
    return writer


# --- live --------------------------------------------------------------------------------


def flat_stats(live: LiveHub) -> FeatureSink:
    """The flat's daily stats for the city, through the live hub's outbox (the bridge
    carries ``<base>/<flat>/stats/daily`` to the city's broker)."""
    from integrations.central import FlatDay, FlatStats, stats_topic

    config = live.config

    def send(day: FlatDay) -> None:
        topic = stats_topic(config.mqtt.base_topic, day.flat)
        key = f"stats:{day.flat}:{day.day.isoformat()}"
        live.send_kept(key, topic, day.model_dump_json(), "the flat's daily stats")

    return FlatStats(config.flat, live.hub.register, config.tz, send)


@dataclass
class Live:
    """The live hub with what was wired to it, and what :meth:`close` closes."""

    live: LiveHub
    closing: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Close the notifier, the signal sinks, the webhooks, the history and the store,
        in that order."""
        for close in self.closing:
            close()


def build_live(config: Config, store: Store, sinks: list[SignalSink], state_dir: Path) -> Live:
    """The live hub on ``store`` with ``sinks`` and the integrations the config enables;
    raises :class:`AppError` when one cannot start."""
    from edge.config import ConfigError
    from edge.mqtt import LiveExtension, LiveHub, MqttError

    hub = build_hub(config, store, sinks)
    extensions: list[LiveExtension] = []
    closing: list[Callable[[], None]] = []
    if config.homeassistant.enabled:
        from integrations.homeassistant.discovery import Discovery
        from integrations.homeassistant.notify import HomeAssistantError, Notifier

        notifier = None
        try:
            if config.homeassistant.notifications:
                notifier = Notifier.from_config(config.homeassistant, config.language)
                hub.escalator.sinks.append(notifier)
        except HomeAssistantError as err:
            raise AppError(str(err)) from err
        extensions.append(Discovery(config, [notifier] if notifier else []))
        if notifier is not None:
            closing.append(notifier.close)
    closing += [sink.close for sink in sinks]
    history = attach_history(config, hub, state_dir)
    if config.alerts.webhooks:
        from integrations.webhook import WebhookSink

        webhooks = WebhookSink(config.flat, config.alerts.webhooks)
        hub.escalator.sinks.append(webhooks)
        closing.append(webhooks.close)
    if history is not None:
        closing.append(history.close)
    closing.append(store.close)
    try:
        live = LiveHub(hub, config, extensions=extensions)
        live.feature_sinks.append(flat_stats(live))
    except (MqttError, ConfigError) as err:
        raise AppError(str(err)) from err
    return Live(live, closing)


# --- the commands that are an integration's ---------------------------------------------


def write_agenda(
    store: Store, config: Config, week: str, out: Path, lang: str | None, generated: datetime
) -> Agenda:
    """The week's signal-meeting agenda written to ``out`` (integrations/agenda)."""
    from integrations.agenda.report import AgendaError
    from integrations.agenda.report import write_agenda as write

    try:
        return write(store, config, week, out, lang, generated)
    except AgendaError as err:
        raise AppError(str(err)) from err


def agenda_pdf(html: Path, pdf: Path) -> None:
    """The agenda ``html`` printed to an A4 ``pdf`` (headless Chromium)."""
    from integrations.agenda.pdf import PdfError, html_to_pdf

    try:
        html_to_pdf(html, pdf)
    except PdfError as err:
        raise AppError(str(err)) from err


def serve(config: Config, conf: ServeConfig, state_dir: Path) -> None:
    """The team's web page (integrations/web), until stopped."""
    from integrations.web.server import ServeError, check_listen, run

    try:
        check_listen(conf)
        run(config, conf, state_dir)
    except ServeError as err:
        raise AppError(str(err)) from err


def users(
    store: Store, action: str, name: str, role: str, password: Callable[[], str]
) -> list[str]:
    """One ``thuisplus users`` action on the web page's accounts; the lines to print.
    ``password`` gives the new password (asked only once the name and role are fine)."""
    from integrations.web.accounts import AccountError, Accounts

    accounts = Accounts(store)
    try:
        lines = _account_action(accounts, action, name, role, password)
    except (AccountError, ValueError) as err:
        raise AppError(str(err)) from err
    return lines


def _account_action(
    accounts: Accounts, action: str, name: str, role: str, password: Callable[[], str]
) -> list[str]:
    if action == "list":
        found = accounts.list()
        lines = [f"{u.name:<32} {u.role:<8} changed {u.changed[:16]}" for u in found]
        return [*lines, f"{len(found)} account(s)"]
    if action == "remove":
        accounts.remove(name)
        return [f"Account {name} removed; its sessions end at its next request"]
    if action == "role":
        accounts.update(name, role=role)
        return [f"Account {name} is now {role}; its sessions ended"]
    if action == "add":
        accounts.check_new(name, role)  # before asking for a password
        accounts.add(name, role, password())
        return [f"Account {name} ({role}) added"]
    accounts.update(name, password=password())
    return [f"Password of {name} changed; its sessions ended"]


def aggregate(
    config: Config, host: str, port: int, state_dir: Path, max_seconds: float | None
) -> tuple[int, Any]:
    """Every flat's daily stats from the city's broker to the time-series server (the
    central aggregator): how many flat-days, and the history writer's counts."""
    from integrations.central import run_aggregator
    from integrations.influx import InfluxWriter

    writer = InfluxWriter(
        config.influx, config.flat, config.timezone, state_dir / "aggregator-buffer.sqlite"
    )
    user, password = config.mqtt.credentials()
    try:
        n = run_aggregator(
            host,
            port,
            writer.add,
            config.mqtt.base_topic,
            user,
            password,
            max_seconds=max_seconds,
        )
    finally:
        writer.close()
    return n, writer.stats()
