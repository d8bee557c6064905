"""A headless Chromium a test can click through: the DevTools protocol over a pipe.

Chromium from Debian's packages (``make test`` installs it) with
``--remote-debugging-pipe``: commands go in on file descriptor 3 and answers come out on
4, one JSON object each, ended by a NUL byte; no WebSocket library and no port. A page
is driven as a person would: load a URL, fill a field, click a button, wait for the next
page, read what it says.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from integrations.agenda.pdf import browser, headless_args


class BrowserError(Exception):
    """Chromium answered with an error, or not in time."""


class Chromium:
    def __init__(self, profile: Path, extra: list[str] | None = None) -> None:
        exe = browser()
        if exe is None:
            raise BrowserError("chromium is not installed: `make test` installs it")
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()

        def wire() -> None:  # in the child: its fd 3 reads our commands, fd 4 answers
            a, b = os.dup(to_chrome), os.dup(from_chrome)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [*headless_args(exe, profile), "--remote-debugging-pipe", "--window-size=1200,1600"]
        self.proc = subprocess.Popen(
            [*args, *(extra or []), "about:blank"],
            preexec_fn=wire,  # (runs before exec; no threads of ours take locks meanwhile)
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._next = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]

    # --- the protocol --------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, page: bool = False,
             timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if page:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium went away")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    # --- as a person uses a page ---------------------------------------------------------

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           page=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.eval("window.__old = 1")
        self.call("Page.navigate", {"url": url}, page=True)
        self.wait_for_next_page()

    def wait_for_next_page(self, timeout: float = 20.0) -> None:
        """Until a new document (not the one marked ``__old``) has loaded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.eval("typeof window.__old === 'undefined' && document.readyState"
                             " === 'complete'"):  # fmt: skip
                    return
            except BrowserError:
                pass  # between two documents
            time.sleep(0.05)
        raise BrowserError("the next page did not load in time")

    def fill(self, selector: str, value: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")

    def click(self, selector: str) -> None:
        """Click ``selector`` (a submit button) and wait for the page it leads to."""
        self.eval("window.__old = 1")
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")
        self.wait_for_next_page()

    def text(self, selector: str = "body") -> str:
        found = self.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText")
        return str(found) if found is not None else ""

    def exists(self, selector: str) -> bool:
        return bool(self.eval(f"!!document.querySelector({json.dumps(selector)})"))

    def status(self) -> int:
        """The HTTP status of the page shown (after redirects)."""
        return int(self.eval("performance.getEntriesByType('navigation')[0].responseStatus"))

    def url(self) -> str:
        return str(self.eval("location.href"))

    def screenshot(self, path: Path) -> None:
        shot = self.call("Page.captureScreenshot", {"format": "png"}, page=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)
