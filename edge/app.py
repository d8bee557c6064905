"""The composition root (issue 19): the one module of the core that imports detectors and
integrations, and wires them to the hub, for replay and live alike.

The core knows detectors only by their contract (:mod:`edge.contract`). Here the built-in
ones are found and registered (``detectors/builtin.py``, before a configuration is read:
its ``detectors`` keys are checked against their settings models), and the hub is handed
what it runs (:func:`detector_kit`: the detector classes, the step that takes the silence
detectors together, the summaries' rendering). ``thuisplus replay`` (one process or
shards, :mod:`edge.replay`) and ``thuisplus run`` build their hubs here; the live hub gets
its integrations here too (Home Assistant, webhooks, the history, the flat's daily stats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.base import registry
from detectors.rhythm import share_silence
from detectors.text import render
from edge import config as configuration
from edge.config import Config, ConfigError
from edge.contract import DetectorKit
from edge.escalation import AlertSink
from edge.mqtt import LiveExtension, LiveHub, MqttError
from edge.pipeline import FeatureSink, Hub, ScoreSink, SignalSink
from edge.store import Store


def detector_kit() -> DetectorKit:
    """The registered detectors (the built-in ones imported first) and the detectors'
    helpers the hub calls: what :class:`~edge.pipeline.Hub` runs."""
    return DetectorKit(classes=registry(), combine=share_silence, render=render)


def load_config(path: Path | None) -> Config:
    """The configuration in ``path`` (:func:`edge.config.load_config`), read once every
    detector is registered (a misspelt detector key is then one clear error)."""
    registry()
    return configuration.load_config(path)


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


class SetupError(Exception):
    """The live hub could not be wired; the text says why (for the terminal)."""


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
    raises :class:`SetupError` when one cannot start."""
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
            raise SetupError(str(err)) from err
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
        raise SetupError(str(err)) from err
    return Live(live, closing)
