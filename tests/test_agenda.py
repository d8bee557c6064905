"""The weekly agenda: valid HTML, every signal of the week, embedded pictures, Dutch by
default, escaped text, and a real browser that shows it."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from edge.config import Config
from edge.models import Domain, Severity, Signal, SignalKind
from edge.pipeline import Hub
from edge.register import Register
from edge.replay import replay
from edge.store import Store
from integrations.agenda.report import build_agenda, render_html

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "edge" / "data" / "demo.jsonl"
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


class Checker(HTMLParser):
    """Tags balanced and nested properly; collects image sources and element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            if a["id"] in self.ids:
                self.errors.append(f"duplicate id {a['id']}")
            self.ids.add(str(a["id"]))
        if tag == "img":
            self.images.append(str(a.get("src")))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    state = tmp_path_factory.mktemp("state") / "thuisplus.sqlite"
    config = Config()
    hub = Hub(config, Store(state, config.store))
    replay([DEMO], hub)
    reg = hub.register
    (fall,) = reg.entries(apartment="a001")
    reg.acknowledge(fall.id, "on_call", at=fall.opened + timedelta(minutes=4))
    sos = next(e for e in reg.entries(apartment="a002") if e.kind == "sos")
    reg.acknowledge(sos.id, "on_call", at=sos.opened + timedelta(minutes=12))
    reg.assign(sos.id, "care", "wijkverpleegkundige", "coordinator")
    return hub.store


def check(html: str) -> Checker:
    c = Checker()
    c.feed(html)
    c.close()
    assert c.doctype
    assert c.errors == []
    assert c.stack == []
    return c


def test_agenda_has_every_signal_of_the_week_with_pictures(store: Store) -> None:
    config = Config()
    agenda = build_agenda(store, config, "2026-W02")
    html = render_html(agenda, datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    c = check(html)
    ids = {e.id for e in Register(store).entries()}
    assert len(ids) == 4
    assert {f"signal-{i}" for i in ids} <= c.ids
    assert {"apartment-a001", "apartment-a002"} <= c.ids  # (a003 has no signal this week)
    assert len(c.images) == 4  # a heatmap and a trend line for each apartment with a signal
    for src in c.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Agenda signaaloverleg" in html
    assert "Zorg" in html
    assert "Wonen" in html
    # the flat-level part: response times of the two urgent alerts, 4 and 12 minutes
    assert agenda.response_minutes == [12.0, 4.0]
    assert "mediaan 8 min" in html
    assert agenda.open_counts == {"care": 2, "housing": 2}  # not closed yet
    assert "wijkverpleegkundige" in html


def test_heatmap_counts_are_real_activity(store: Store) -> None:
    agenda = build_agenda(store, Config(), "2026-W02")
    assert agenda.common_hours  # the common room's motion sensor reported
    assert sum(h for _, h in agenda.common_hours) >= 4


def test_english_and_a_week_without_signals(store: Store) -> None:
    html = render_html(build_agenda(store, Config(), "2026-W02", "en"), datetime.now(UTC))
    assert "Signal meeting agenda" in html
    assert "Housing" in html
    # every summary in English too (the flat speaks Dutch; its signals carry both)
    english = build_agenda(store, Config(), "2026-W02", "en")
    dutch = build_agenda(store, Config(), "2026-W02")
    items = [i for items in english.by_domain.values() for i in items]
    assert items
    for item in items:
        assert item.summary == item.entry.signal.summary_en
        assert escape(item.summary).replace("&#x27;", "&#39;") in html
    assert {i.summary for v in dutch.by_domain.values() for i in v}.isdisjoint(
        {i.summary for i in items}
    )
    empty = build_agenda(store, Config(), "2025-W40")
    assert empty.signal_ids == []
    assert "Geen signalen voor dit domein." in render_html(empty, datetime.now(UTC))


def test_text_from_the_store_is_escaped(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", Config().store)
    t = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    Register(store).raise_signal(
        Signal(
            id="x1",
            flat="f",
            apartment="a9",
            kind=SignalKind.DOOR_OPEN,
            domain=Domain.WELFARE,
            severity=Severity.ATTENTION,
            start=t,
            detected_at=t,
            summary="<script>alert(1)</script>",
            evidence={"room": "<b>hall</b>"},
        )
    )
    html = render_html(build_agenda(store, Config(), "2026-W02"), t)
    check(html)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_agenda_command(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "agenda.html"
    state = Path(str(store.path)).parent
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "agenda",
            "--week",
            "2026-W02",
            "--out",
            str(out),
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"written to {out}" in proc.stdout
    check(out.read_text())
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "agenda",
            "--week",
            "2026-53",
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "week must look like 2026-W05" in bad.stderr


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_a_real_browser_shows_the_page(store: Store, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed: `make test` installs it")
    page = tmp_path / "agenda.html"
    page.write_text(render_html(build_agenda(store, Config(), "2026-W02"), datetime.now(UTC)))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = mpimg.imread(shot)
    assert pixels.shape[0] >= 2000
    assert pixels.shape[1] >= 1000
    assert pixels.std() > 0.05  # not a blank page: text, tables and pictures
