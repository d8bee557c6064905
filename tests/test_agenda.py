"""The weekly agenda: valid HTML, every signal of the week, embedded pictures, Dutch by
default, escaped text, and a real browser that shows it."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import pytest

from edge.app import build_hub
from edge.config import Config
from edge.models import Domain, Severity, Signal, SignalKind
from edge.register import Register
from edge.replay import replay
from edge.store import Store
from integrations.agenda import pictures
from integrations.agenda.pdf import browser, headless_args
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
    hub = build_hub(config, Store(state, config.store))
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


ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
PYTHONISH = re.compile(r"\bNone\b|\[\'|\{\'|\bTrue\b|\bFalse\b|\?\s*(min|uur|h)\b")


class Cells(HTMLParser):
    """The text of every element with class ``evidence`` (what the meeting reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag not in VOID
        elif "evidence" in (dict(attrs).get("class") or "").split():
            self.depth = 1
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.cells[-1] += data


def evidence_cells(html: str) -> list[str]:
    c = Cells()
    c.feed(html)
    return c.cells


def assert_readable(html: str) -> list[str]:
    """No evidence cell holds None, an ISO timestamp, a Python list or dict, or a '?'."""
    cells = evidence_cells(html)
    for cell in cells:
        assert cell.strip(), "an empty evidence cell"
        assert not ISO.search(cell), cell
        assert not PYTHONISH.search(cell), cell
    return cells


def test_agenda_has_every_signal_of_the_week_for_deciding(store: Store) -> None:
    config = Config()
    agenda = build_agenda(store, config, "2026-W02")
    html = render_html(agenda, datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    c = check(html)
    entries = {e.id: e for e in Register(store).entries()}
    assert len(entries) == 4
    assert sorted(agenda.signal_ids) == sorted(entries)
    # the two urgent pages: in the week's summary, one line each, not as signals to decide
    urgent = {i for i, e in entries.items() if e.severity == "urgent"}
    assert {item.entry.id for item, _ in agenda.urgent.lines} == urgent
    assert {f"signal-{i}" for i in urgent} <= c.ids
    assert all(items == [] for items in agenda.decide.values())
    assert "2 urgente meldingen: 1 alarmknop, 1 val." in html
    # the flat-level part: response times of the two urgent alerts, 4 and 12 minutes
    assert agenda.response_minutes == [12.0, 4.0]
    assert "Bevestigd: 2, na mediaan 8 min (langzaamst 12 min)." in html
    assert agenda.urgent.unacknowledged == []
    # device problems: one line per device for housing, with how often it went quiet
    lines = {line.device: line for line in agenda.devices}
    assert set(lines) == {"'motion' in de gang", "'motion' in het toilet"}
    assert lines["'motion' in het toilet"].quiet_times == 1
    assert lines["'motion' in de gang"].problems == "batterij bijna leeg"
    assert {"device-1", "device-2"} <= c.ids
    assert "Agenda signaaloverleg" in html
    assert "Zorg" in html
    assert "Wonen" in html
    assert agenda.open_counts == {"care": 2, "housing": 2}  # not closed yet
    assert "wijkverpleegkundige" in html
    cells = assert_readable(html)
    assert "Alarmknop 'pendant' in de woonkamer ingedrukt." in " ".join(cells)
    assert "a002" in html
    assert "a001" in html


def test_an_unacknowledged_page_comes_first(tmp_path: Path) -> None:
    config = Config()
    hub = build_hub(config, Store(tmp_path / "s.sqlite", config.store))
    replay([DEMO], hub)
    agenda = build_agenda(hub.store, config, "2026-W02")
    assert {i.entry.kind for i in agenda.urgent.unacknowledged} == {"sos", "fall"}
    html = render_html(agenda, datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    check(html)
    assert "Nog niet bevestigd: 2. Bespreek deze eerst." in html
    assert html.index("Nog niet bevestigd") < html.index('id="devices"')
    # 20 alerts each, folded into one history line per signal, in local time
    item = agenda.urgent.unacknowledged[0]
    assert len(item.history) == 2
    assert "20 keer" in item.history[1]
    assert not any(ISO.search(line) for line in item.history)


def test_heatmap_counts_are_real_activity(store: Store) -> None:
    agenda = build_agenda(store, Config(), "2026-W02")
    assert agenda.common_hours  # the common room's motion sensor reported
    assert sum(h for _, h in agenda.common_hours) >= 4


def test_english_and_a_week_without_signals(store: Store) -> None:
    html = render_html(build_agenda(store, Config(), "2026-W02", "en"), datetime.now(UTC))
    assert "Signal meeting agenda" in html
    assert "Housing" in html
    # every text in English too (the flat speaks Dutch; its signals carry both)
    english = build_agenda(store, Config(), "2026-W02", "en")
    dutch = build_agenda(store, Config(), "2026-W02")
    items = [i for i, _ in english.urgent.lines]
    assert items
    for item in items:
        assert item.summary == item.entry.signal.summary_en
    assert "Acknowledged: 2, after a median 8 min (slowest 12 min)." in html
    assert "Alarm button 'pendant' in the living room pressed." in " ".join(assert_readable(html))
    assert {s for i, _ in dutch.urgent.lines for s in i.sentences}.isdisjoint(
        {s for i in items for s in i.sentences}
    )
    for word in ("Bevestigd", "niet bevestigd", "gepiept", "dagen open"):
        assert word not in html, word
    empty = build_agenda(store, Config(), "2025-W40")
    assert empty.signal_ids == []
    assert "Geen open signalen voor dit domein." in render_html(empty, datetime.now(UTC))


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


PROBE = """<script>
window.addEventListener("load", () => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("table")]
    .filter((t) => t.getBoundingClientRect().right > width + 1).length;
  const cells = [...document.querySelectorAll(".evidence")].map((c) => c.textContent);
  const slow = [...document.querySelectorAll("article.signal")]
    .filter((a) => TRENDS.includes(a.dataset.kind))
    .map((a) => { const i = a.querySelector("img.trend"); return !!i && i.naturalWidth > 0; });
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({ width, wide, cells, slow });
  document.body.appendChild(pre);
});
</script>"""
A4_PX = 703
"""A4's width less the print margins (12 mm a side), in CSS pixels (96 per inch)."""


def in_browser(
    page: Path, width: int, tmp: Path, shot: Path | None = None, probe: bool = True
) -> dict[str, Any]:
    """Render ``page`` in headless Chromium ``width`` pixels wide; what the probe saw."""
    exe = browser()
    if exe is None:
        pytest.skip("chromium is not installed: `make test` installs it")
    run = [*headless_args(exe, tmp / "profile"), f"--window-size={width},2400"]
    if shot is not None:
        done = subprocess.run([*run, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                              timeout=120, check=True)  # fmt: skip
        assert done.returncode == 0
    if not probe:
        return {}
    out = subprocess.run([*run, "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    m = re.search(r'<pre id="probe">(.*?)</pre>', out.stdout, re.S)
    assert m, "the probe did not run in the browser"
    return dict(json.loads(unescape(m.group(1))))


def with_probe(html: str, print_layout: bool = False) -> str:
    trends = json.dumps(sorted(pictures.TREND_FEATURES))
    if print_layout:  # the print stylesheet on screen, at the printed page's width
        assert "@media print {" in html
        html = html.replace("@media print {", "@media all {")
    return html.replace("</body>", PROBE.replace("TRENDS", trends) + "</body>")


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_real_browser_shows_words_pictures_and_a_printable_page(
    trend_store: tuple[Store, Config, str], store: Store, tmp_path: Path, lang: str
) -> None:
    """Headless Chromium renders agendas (a slow trend; urgent pages and devices) in
    Dutch and English: no evidence holds None, an ISO time or a Python list, every slow
    signal shows its picture, and printed on A4 no table is wider than the page."""
    shots = ROOT / "out"
    shots.mkdir(exist_ok=True)
    trend, config, week = trend_store
    for name, agenda in (
        ("trend", build_agenda(trend, config, week, lang)),
        ("urgent", build_agenda(store, Config(), "2026-W02", lang)),
    ):
        html = render_html(agenda, datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
        plain, page = tmp_path / f"{name}-plain.html", tmp_path / f"{name}.html"
        plain.write_text(html)
        page.write_text(with_probe(html))
        shot = shots / f"agenda-{name}-{lang}.png"
        seen = in_browser(page, 1200, tmp_path)
        in_browser(plain, 1200, tmp_path, shot, probe=False)
        assert seen["cells"], "no evidence in the page"
        for cell in seen["cells"]:
            assert cell.strip()
            assert not ISO.search(cell), cell
            assert not PYTHONISH.search(cell), cell
        assert len(seen["slow"]) == len(agenda.slow_items)
        assert all(seen["slow"]), "a slow signal without its picture"
        pixels = mpimg.imread(shot)
        assert pixels.shape[1] >= 1000
        assert pixels.std() > 0.05  # not a blank page: text, tables and pictures
        printed = tmp_path / f"{name}-print.html"
        printed.write_text(with_probe(html, print_layout=True))
        seen = in_browser(printed, A4_PX, tmp_path)
        assert seen["width"] <= A4_PX
        assert seen["wide"] == 0, "a table wider than the printed page"


def test_the_agenda_prints_to_a_pdf(store: Store, tmp_path: Path) -> None:
    if browser() is None:
        pytest.skip("chromium is not installed: `make test` installs it")
    out = tmp_path / "agenda.html"
    state = Path(str(store.path)).parent
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "agenda", "--week", "2026-W02", "--out", str(out),
         "--state-dir", str(state), "--pdf"],
        capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pdf = out.with_suffix(".pdf")
    assert f"PDF (A4) written to {pdf}" in proc.stdout
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b", body))
    assert pages >= 3  # page breaks per part: to decide, urgent pages, devices
    # A4 portrait on every page: 595 x 842 points
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", body)
    assert len(boxes) == pages
    for w, h in boxes:
        assert abs(float(w) - 595.3) < 1
        assert abs(float(h) - 841.9) < 1


def test_no_browser_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    state = Path(str(store.path)).parent
    env = {**os.environ, "THUISPLUS_CHROMIUM": "no-such-browser"}
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "agenda", "--week", "2026-W02",
         "--out", str(tmp_path / "a.html"), "--state-dir", str(state), "--pdf"],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--pdf needs headless Chromium" in proc.stderr
    assert (tmp_path / "a.html").is_file()  # the HTML is written all the same


@pytest.fixture(scope="module")
def trend_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Config, str]:
    """A simulated resident who walks ever more slowly, 90 days, through the whole hub."""
    from edge.config import load_config
    from simulators.__main__ import main as simulate_main

    out = tmp_path_factory.mktemp("trend-agenda")
    args = ["simulate", "--apartments", "2", "--days", "90", "--seed", "1", "--out", str(out)]
    for rate in ["mobility_decline=30", "night_toilet=0", "withdrawal=0", "nutrition=0"]:
        args += ["--rate", rate]
    args += ["--rate", "night_wandering=0"]
    assert simulate_main(args) == 0
    # the meeting looks at the hub as it is in that week: replay the first 45 days only
    cut = out / "first-45-days.jsonl"
    with gzip.open(out / "recording.jsonl.gz", "rt") as src, cut.open("w") as dst:
        first = None
        for line in src:
            ts = datetime.fromisoformat(json.loads(line)["ts"])
            first = first or ts
            if ts - first > timedelta(days=45):
                break
            dst.write(line)
    config = load_config(out / "flat.yaml")
    hub = build_hub(config, Store(out / "state.sqlite", config.store))
    replay([cut], hub)
    hub.close()
    trend = next(e for e in hub.register.entries() if e.kind == "mobility_decline")
    year, week, _ = trend.opened.astimezone(config.tz).isocalendar()
    return hub.store, config, f"{year}-W{week:02d}"


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_slow_signal_has_its_picture(
    trend_store: tuple[Store, Config, str], lang: str
) -> None:
    store, config, week = trend_store
    agenda = build_agenda(store, config, week, lang)
    slow = agenda.slow_items
    assert [i.entry.kind for i in slow] == ["mobility_decline"]
    html = render_html(agenda, datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    c = check(html)
    for item in slow:
        assert f"signal-{item.entry.id}" in c.ids
        for src in (item.picture, item.heatmap):
            assert src is not None
            assert src.startswith("data:image/png;base64,")
            assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
            assert src in c.images
        assert item.sentences
        assert item.since
        assert item.changed
        assert item.sure is not None  # how sure the hub is, against its own limit
    cells = assert_readable(html)
    assert len(cells) >= len(slow)
    # the picture: the resident's own walking speed over 12 weeks, not a blank canvas
    # over the resident's own days, weeks of them: the baseline band has its days
    saved = store.load_state()
    item = slow[0]
    days = pictures.detector_days(saved, "mobility_decline", item.entry.apartment)
    last = (agenda.end - timedelta(days=1)).date().toordinal()
    assert sum(last - pictures.TREND_DAYS < d <= last for d in days) >= 28
    pixels = mpimg.imread(io.BytesIO(base64.b64decode(slow[0].picture.split(",", 1)[1])))  # type: ignore[union-attr]
    assert pixels.std() > 0.05
