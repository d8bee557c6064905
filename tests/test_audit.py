"""``make audit``'s advisory check (scripts/audit.py) against a local stand-in for PyPI's
JSON API: a vulnerability in an installed release cannot be caused for real."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import audit

VULN = {"id": "PYSEC-0000-1", "aliases": ["CVE-0000-1"], "fixed_in": ["2.0"], "withdrawn": None}
WITHDRAWN = {"id": "PYSEC-0000-2", "aliases": [], "fixed_in": [], "withdrawn": "2026-01-01"}

# path -> JSON; anything else 404 (as PyPI's per-release JSON is on this machine)
PAGES: dict[str, Any] = {
    "/pypi/oldlib/1.0/json": {"info": {"version": "1.0"}, "vulnerabilities": [VULN]},
    "/pypi/newlib/json": {"info": {"version": "3.1"}, "vulnerabilities": [VULN, WITHDRAWN]},
    "/pypi/cleanlib/json": {"info": {"version": "0.9"}, "vulnerabilities": [WITHDRAWN]},
    "/pypi/behind/json": {"info": {"version": "5.0"}, "vulnerabilities": []},
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = PAGES.get(self.path)
        body = json.dumps(page).encode() if page is not None else b"not found"
        self.send_response(200 if page is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def index() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pypi"
    server.shutdown()
    server.server_close()


def test_a_release_with_its_own_advisory_is_vulnerable(index: str) -> None:
    found = audit.check("oldlib", "1.0", index)
    assert found.how == "release"
    assert [v["id"] for v in found.vulns] == ["PYSEC-0000-1"]


def test_without_the_release_json_the_latest_release_speaks_for_itself(index: str) -> None:
    found = audit.check("newlib", "3.1", index)
    assert found.how == "latest"
    assert [v["id"] for v in found.vulns] == ["PYSEC-0000-1"]  # the withdrawn one dropped
    clean = audit.check("cleanlib", "0.9", index)
    assert (clean.how, clean.vulns) == ("latest", [])


def test_an_older_release_without_its_json_is_not_checked_not_passed(index: str) -> None:
    found = audit.check("behind", "4.2", index)
    assert found.how == ""
    assert "installed 4.2, latest 5.0" in found.why
    gone = audit.check("nosuchlib", "1.0", index)
    assert (gone.how, gone.why) == ("", "not on the index")


def test_an_unreachable_index_is_not_checked(index: str) -> None:
    found = audit.check("newlib", "3.1", "http://127.0.0.1:9/pypi", timeout=2)
    assert found.how == ""
    assert found.why.startswith("index not reachable")


def test_the_command_fails_on_a_vulnerability_and_strictly_on_the_unchecked(
    index: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = [("cleanlib", "0.9"), ("behind", "4.2")]
    monkeypatch.setattr(audit, "installed", lambda skip: installed)
    assert audit.main(["--index", index]) == 0
    assert audit.main(["--index", index, "--strict"]) == 2
    installed.append(("newlib", "3.1"))
    assert audit.main(["--index", index]) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE newlib 3.1: PYSEC-0000-1, CVE-0000-1 (fixed in 2.0)" in out
    assert "not checked behind 4.2" in out


def test_this_project_itself_is_left_out() -> None:
    names = [name for name, _ in audit.installed(set())]
    assert "thuisplus" not in names
    assert "pydantic" in names
