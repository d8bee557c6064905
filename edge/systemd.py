"""systemd's notify protocol, for the hub's unit (``Type=notify``, ``WatchdogSec=``).

The hub says ``READY=1`` once it runs and ``WATCHDOG=1`` from its loop, a few times within
the unit's ``WatchdogSec``: a hub whose loop stops turning (a hang, not a crash) is killed
and restarted by systemd, as one that exits is. Outside systemd (no ``NOTIFY_SOCKET``)
every call does nothing. The protocol is one datagram per message on a Unix socket
(``sd_notify(3)``); a few lines here rather than a dependency.

>>> n = Notifier(environ={})
>>> n.enabled, n.ping(0.0), n.ready()
(False, False, False)
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)


class Notifier:
    """Messages to systemd; every failure to send is logged once, never raised."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self._address = address
        self.interval: float | None = None
        """How often to ping the watchdog (a third of ``WatchdogSec``), or ``None``."""
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.interval = int(usec) / 1e6 / 3
        self._last = float("-inf")
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, text: str) -> bool:
        """Send one notification; True when it went out."""
        if not self._address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(text.encode())
        except OSError as err:
            if not self._warned:
                self._warned = True
                logger.warning("Cannot notify systemd at %s: %s", self._address, err)
            return False
        return True

    def ready(self) -> bool:
        return self.send("READY=1\nSTATUS=running")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def ping(self, now: float) -> bool:
        """``WATCHDOG=1`` when the last one is a third of the watchdog's time ago (``now``:
        ``time.monotonic()``); cheap to call on every turn of the loop."""
        if self.interval is None or now - self._last < self.interval:
            return False
        self._last = now
        return self.send("WATCHDOG=1")
