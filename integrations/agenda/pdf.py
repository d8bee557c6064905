"""The agenda as a PDF, printed by headless Chromium with the page's own A4 stylesheet.

Chromium comes from Debian's packages (``chromium``; ``make test-deps`` installs it on a
development machine, the gateway role does not need it: the agenda is usually printed on
the office's machine from the HTML). Nothing leaves the machine: the page is
self-contained (pictures embedded) and Chromium runs without network or a profile of
its own beyond a temporary one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class PdfError(Exception):
    """No PDF could be made (no browser, or it failed): the message says what to do."""


def browser() -> str | None:
    """The headless browser to print with: ``THUISPLUS_CHROMIUM`` or the first on PATH."""
    named = os.environ.get("THUISPLUS_CHROMIUM")
    if named:
        return named if shutil.which(named) else None
    return next((found for b in BROWSERS if (found := shutil.which(b))), None)


def headless_args(exe: str, profile: Path) -> list[str]:
    """Chromium without sandbox (root in CI), network, sync or first-run screens."""
    return [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def html_to_pdf(html: Path, pdf: Path, timeout_s: float = 120.0) -> Path:
    """Print ``html`` to ``pdf`` (A4, the page's print stylesheet, no header or footer)."""
    exe = browser()
    if exe is None:
        raise PdfError(
            "--pdf needs headless Chromium: install Debian's 'chromium' package "
            "(or set THUISPLUS_CHROMIUM to a Chromium binary); the HTML agenda prints "
            "to PDF from any browser too"
        )
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="thuisplus-pdf-") as tmp:
        args = headless_args(exe, Path(tmp))
        args += ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()]
        try:
            proc = subprocess.run(  # noqa: S603 (our own argument list, no shell)
                args, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as err:
            raise PdfError(f"Chromium did not print {html} within {timeout_s:.0f} s") from err
    if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise PdfError(f"Chromium could not print {html} to {pdf}: {' / '.join(tail)}")
    return pdf
