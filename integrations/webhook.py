"""Alerts to a web endpoint, such as an alarm centre's: a JSON POST per alert.

Posting happens on one worker thread with a bounded queue, so a slow or unreachable
endpoint never stalls the hub; each alert is tried a few times with backoff, then logged
as lost (alerts repeat by design until someone acknowledges). The token, if any, comes
from an environment variable or a file, never from the YAML (:mod:`edge.sections.webhook`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from edge.heartbeat import Beat
from edge.models import Signal
from edge.sections.webhook import WebhookConfig

logger = logging.getLogger(__name__)


class WebhookSink:
    """An alert sink for the targets that have a webhook (``alerts.webhooks``)."""

    def __init__(self, flat: str, hooks: dict[str, WebhookConfig], queue_size: int = 100) -> None:
        self.flat = flat
        self.hooks = hooks
        self._queue: queue.Queue[tuple[WebhookConfig, bytes, str, Beat | None] | None] = (
            queue.Queue(queue_size)
        )
        self.delivered = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._work, name="webhooks", daemon=True)
        self._thread.start()

    def alert(self, signal: Signal, target: str, level: int, attempt: int, at: datetime) -> None:
        hook = self.hooks.get(target)
        if hook is None:
            return
        body = json.dumps(
            {
                "flat": self.flat,
                "target": target,
                "level": level,
                "attempt": attempt,
                "at": at.isoformat(),
                "signal": json.loads(signal.to_json()),
            }
        ).encode()
        if self._queue.full():  # the hub is the only producer: no race with this check
            self.failed += 1
            logger.error("Webhook queue full: alert for %s to %s dropped", signal.id, target)
            return
        self._queue.put_nowait((hook, body, signal.id, None))

    def heartbeat(self, at: datetime, every_minutes: float) -> list[Beat]:
        """A beat to every endpoint (``edge.heartbeat``): a POST with ``"heartbeat": true``
        and no signal, answered by a 2xx. A receiver can expect the next one within
        ``every_minutes`` and treat its absence as the hub being down."""
        beats = []
        for target, hook in sorted(self.hooks.items()):
            beat = Beat(f"webhook:{target}")
            beats.append(beat)
            body = json.dumps(
                {
                    "flat": self.flat,
                    "target": target,
                    "heartbeat": True,
                    "at": at.isoformat(timespec="seconds"),
                    "every_minutes": every_minutes,
                }
            ).encode()
            try:
                self._queue.put_nowait((hook, body, "heartbeat", beat))
            except queue.Full:
                beat.fail("the hub's webhook queue is full (the endpoint is slow or down)")
        return beats

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            hook, body, sid, beat = item
            if beat is not None:
                problem = self._post(hook, body, sid, attempts=1)
                if problem is None:
                    beat.succeed()
                else:
                    beat.fail(problem)
            elif self._post(hook, body, sid) is None:
                self.delivered += 1
            else:
                self.failed += 1

    def _post(
        self, hook: WebhookConfig, body: bytes, sid: str, attempts: int | None = None
    ) -> str | None:
        """POST ``body``; ``None`` once delivered, else what went wrong the last time."""
        attempts = attempts or hook.attempts
        headers = {"Content-Type": "application/json", "User-Agent": "thuisplus-hub"}
        try:
            token = hook.token()
        except OSError as err:
            logger.exception("Webhook token for %s cannot be read", hook.url)
            return f"the token cannot be read: {err}"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        wait = 0.5
        problem = ""
        for attempt in range(1, attempts + 1):
            request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")  # noqa: S310  (http(s) only, checked)
            try:
                with urllib.request.urlopen(request, timeout=hook.timeout_s) as response:  # noqa: S310  (http(s) only, checked)
                    if 200 <= response.status < 300:
                        return None
                    problem = f"HTTP {response.status}"
            except urllib.error.HTTPError as err:
                problem = f"HTTP {err.code}"
            except (urllib.error.URLError, OSError) as err:
                problem = str(getattr(err, "reason", err))
            logger.warning(
                "Webhook %s for %s, attempt %d of %d: %s",
                hook.url,
                sid,
                attempt,
                attempts,
                problem,
            )
            if attempt < attempts:
                time.sleep(wait)
                wait *= 2
        what = "the heartbeat" if sid == "heartbeat" else f"alert for {sid}"
        logger.error("Webhook %s: %s not delivered", hook.url, what)
        return f"{hook.url}: {problem}"

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``), then stop the worker."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def stats(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "failed": self.failed}
