"""``thuisplus serve``: the team's web page on the gateway, used in a real browser.

A real server (``thuisplus serve`` in its own process, TLS with a certificate made here)
on a store the real hub wrote (the demo recording, plus slow trend signals raised through
the register), and headless Chromium from Debian's packages clicking through it: log in
(a wrong password refused), take a signal on, record the discussion, close one with a
verdict, see both in next week's agenda (``thuisplus agenda``) and the verdict reach the
detector; another role cannot close a care signal, a POST without the CSRF token is
refused. Without a browser the browser test skips, saying so.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.app import build_hub
from edge.config import Config
from edge.models import Domain, Severity, Signal, SignalKind
from edge.register import Register
from edge.replay import replay
from edge.store import Store, StoreConfig
from integrations.agenda.pdf import browser
from integrations.web.accounts import Accounts, may
from tests.conftest import Broker, free_port

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "edge" / "data" / "demo.jsonl"
PASSWORDS = {"zorg-anouk": "koffie-met-twee-suikers", "welzijn-bram": "bingo op dinsdagmiddag",
             "lead-carla": "signaaloverleg-op-maandag"}  # fmt: skip
TZ = ZoneInfo("Europe/Amsterdam")


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "edge.cli", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=False,
                          timeout=120, cwd=ROOT)  # fmt: skip


@dataclass
class Flat:
    state: Path
    fall: str  # the demo's fall in a001 (urgent, care)
    nutrition: str  # eating less in a003 (care, attention)
    night_toilet: str  # night toilet visits in a005 (care, attention)
    withdrawal: str  # withdrawal in a004 (welfare, attention)


def trend(kind: SignalKind, domain: Domain, apartment: str, observed: float, usual: float,
          summary: str) -> Signal:  # fmt: skip
    """A slow trend raised ten days ago (event time), as its detector writes one."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    first = (at - timedelta(days=6)).date().isoformat()
    window = {"recent": [first, at.date().isoformat()], "baseline_days": 28}
    evidence = {"detector": kind.value, "observed": observed, "baseline": usual, "score": -3.2,
                "window": window}  # fmt: skip
    return Signal(id=f"t{apartment}{kind.value.replace('_', '')}", flat="demo-flat",
                  apartment=apartment, kind=kind, domain=domain, severity=Severity.ATTENTION,
                  start=at - timedelta(days=6), detected_at=at, evidence=evidence,
                  summary=summary)  # fmt: skip


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> Flat:
    state = tmp_path_factory.mktemp("serve") / "state"
    config = Config()
    hub = build_hub(config, Store(state / "thuisplus.sqlite", config.store))
    replay([DEMO], hub)
    signals = [
        trend(SignalKind.NUTRITION, Domain.CARE, "a003", 12, 25,
              "Minder in de keuken: 12 keer per dag, gewoonlijk 25 (een week lang)."),
        trend(SignalKind.NIGHT_TOILET, Domain.CARE, "a005", 3.5, 1.2,
              "'s Nachts vaker naar het toilet: 3,5 keer per nacht, gewoonlijk 1,2."),
        trend(SignalKind.WITHDRAWAL, Domain.WELFARE, "a004", 40, 95,
              "Minder de deur uit of bezoek: 40 min per dag, gewoonlijk 95."),
    ]  # fmt: skip
    for s in signals:
        hub.register.raise_signal(s)
    (fall,) = [e for e in hub.register.entries(apartment="a001") if e.kind == "fall"]
    hub.close()
    hub.store.close()
    # one account through the command line (the password on stdin), the rest directly
    added = cli("users", "--state-dir", str(state), "add", "zorg-anouk", "--role", "care",
                "--password-stdin", stdin=PASSWORDS["zorg-anouk"] + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    store = Store(state / "thuisplus.sqlite", StoreConfig())
    Accounts(store).add("welzijn-bram", "welfare", PASSWORDS["welzijn-bram"])
    Accounts(store).add("lead-carla", "lead", PASSWORDS["lead-carla"])
    store.close()
    return Flat(state, fall.id, *(s.id for s in signals))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The gateway's certificate for 127.0.0.1 (as the Ansible role makes one), its key,
    and the base64 SHA-256 of its public key (which Chromium is told to trust)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl missing: `make test` installs it")
    folder = tmp_path_factory.mktemp("pki")
    crt, key = folder / "gateway.crt", folder / "gateway.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=gateway",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)  # fmt: skip
    der = subprocess.run(["openssl", "x509", "-in", str(crt), "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout  # fmt: skip
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=der,
                         check=True, capture_output=True).stdout  # fmt: skip
    import base64
    import hashlib

    return crt, key, base64.b64encode(hashlib.sha256(der).digest()).decode()


class Server:
    """``thuisplus serve`` in its own process on a free loopback port."""

    def __init__(self, state: Path, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "serve", "--state-dir", str(state),
             "--host", "127.0.0.1", "--port", str(self.port), *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                time.sleep(0.1)
            else:
                return
        raise AssertionError("serve did not listen within 30 s")

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=20)
        return out


@pytest.fixture(scope="module")
def server(flat: Flat, cert: tuple[Path, Path, str]) -> Iterator[Server]:
    crt, key, _ = cert
    s = Server(flat.state, "--cert", str(crt), "--key", str(key))
    yield s
    s.stop()


class Client:
    """A bare HTTPS client that verifies the gateway's certificate and keeps one cookie."""

    def __init__(self, port: int, ca: Path) -> None:
        self.port = port
        self.context = ssl.create_default_context(cafile=str(ca))
        self.cookie = ""

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        from urllib.parse import urlencode

        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context)
        head: dict[str, str] = {}
        if self.cookie:
            head["Cookie"] = self.cookie
        body = None
        if form is not None:
            body = urlencode(form)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=head)
        r = conn.getresponse()
        got = {k.lower(): v for k, v in r.getheaders()}
        if "set-cookie" in got:
            self.cookie = got["set-cookie"].split(";")[0]
        text = r.read().decode()
        conn.close()
        return r.status, got, text

    def csrf(self, path: str = "/login") -> str:
        _, _, page = self.request("GET", path)
        return page.split('name="csrf" value="')[1].split('"')[0]

    def login(self, name: str, password: str) -> int:
        return self.request("POST", "/login", {"csrf": self.csrf(), "name": name,
                                               "password": password})[0]  # fmt: skip


def this_week() -> str:
    year, week, _ = datetime.now(TZ).isocalendar()
    return f"{year}-W{week:02d}"


@pytest.mark.slow
def test_the_team_works_the_register_in_a_real_browser(
    flat: Flat, server: Server, cert: tuple[Path, Path, str], tmp_path: Path
) -> None:
    if browser() is None:
        pytest.skip("chromium is not installed: `make test` installs it")
    from tests.browser import Chromium

    base = f"https://127.0.0.1:{server.port}"
    shots = ROOT / "out"
    shots.mkdir(exist_ok=True)
    # Chromium trusts exactly the gateway's key (as a team's browser trusts the flat's CA)
    b = Chromium(tmp_path / "profile", [f"--ignore-certificate-errors-spki-list={cert[2]}"])
    try:
        b.goto(base + "/")
        assert b.url() == base + "/login"
        assert "Inloggen" in b.text("h1")
        b.fill("input[name=name]", "zorg-anouk")
        b.fill("input[name=password]", "koffie-met-drie-suikers")
        b.click("#login button")
        assert b.status() == 401
        assert "Naam of wachtwoord klopt niet" in b.text("#error")

        b.fill("input[name=name]", "zorg-anouk")
        b.fill("input[name=password]", PASSWORDS["zorg-anouk"])
        b.click("#login button")
        assert b.url() == base + "/"
        assert "zorg-anouk (zorg)" in b.text("header")
        care = b.text("#domain-care")
        assert "a003" in care
        assert "minder eten (voeding)" in care
        assert "a004" not in care
        assert "a004" in b.text("#domain-welfare")
        assert b.exists(f"#row-{flat.fall} a.urgent")
        b.screenshot(shots / "serve-register-nl.png")

        # take the nutrition signal on, and record what was discussed
        b.click(f"#row-{flat.nutrition} a")
        b.click("#form-assign-me button")
        assert b.url().endswith(f"/signal/{flat.nutrition}?done=assign")
        assert b.text("#status") == "toegewezen (Zorg, zorg-anouk)"
        b.fill("#form-discuss textarea", "Dochter belt deze week; diëtist inschakelen.")
        b.click("#form-discuss button")
        assert "Dochter belt deze week; diëtist inschakelen." in b.text("#history")
        assert "zorg-anouk: toegewezen aan Zorg, zorg-anouk" in b.text("#history")

        # close the night-toilet signal with a verdict
        b.goto(f"{base}/signal/{flat.night_toilet}")
        b.fill("#form-close select[name=verdict]", "false_alarm")
        b.fill("#form-close textarea[name=notes]", "Nieuwe plaspillen sinds vorige week.")
        b.screenshot(shots / "serve-signal-nl.png")
        b.click("#form-close button")
        assert b.text("#status") == "gesloten: vals alarm"
        assert not b.exists("#form-close")  # closed is final: no more actions

        # a POST without the CSRF token is refused, and changes nothing
        forged = ("const f = document.createElement('form'); f.method = 'post'; "
                  "f.action = '/signal/{id}/discuss'; f.innerHTML = '<textarea name=notes>"
                  "vervalst</textarea>{extra}<button id=forged>x</button>'; "
                  "document.body.appendChild(f);")  # fmt: skip
        b.goto(f"{base}/signal/{flat.nutrition}")
        b.eval(forged.replace("{id}", flat.nutrition).replace("{extra}", ""))
        b.click("#forged")
        assert b.status() == 403
        assert "Dit formulier is verlopen" in b.text("#error")

        b.goto(base + "/?lang=en")
        assert "Signals" in b.text("h1")
        assert "Care" in b.text("#domain-care h2")
        b.goto(base + "/?lang=nl")
        b.click("header form button")  # log out
        assert b.url() == base + "/login"
        b.goto(base + "/")
        assert b.url() == base + "/login"  # the session is gone

        # the welfare account may read and discuss a care signal, not close it
        b.fill("input[name=name]", "welzijn-bram")
        b.fill("input[name=password]", PASSWORDS["welzijn-bram"])
        b.click("#login button")
        b.goto(f"{base}/signal/{flat.fall}")
        assert not b.exists("#form-close")
        assert not b.exists("#form-assign-me")
        assert b.exists("#form-discuss")
        assert "Oppakken en sluiten doen Zorg" in b.text("#not-allowed")
        token = b.eval("document.querySelector('#form-discuss input[name=csrf]').value")
        extra = f"<input name=csrf value={token}><input name=verdict value=confirmed>"
        b.eval(forged.replace("{id}/discuss", f"{flat.fall}/close").replace("{extra}", extra))
        b.click("#forged")
        assert b.status() == 403
        assert "Met de rol welzijn mag u signalen van zorg niet" in b.text("#error")

        # the live agenda of this week, on the page, with what was decided
        b.goto(base + "/agenda")
        assert "zorg-anouk: toegewezen aan Zorg" in b.text(f"#signal-{flat.nutrition}")
        assert b.exists(f"#closed #signal-{flat.night_toilet}")
        b.click(".webnav a:nth-of-type(3)")  # volgende week
        year, week, _ = (datetime.now(TZ) + timedelta(days=7)).isocalendar()
        assert b.url() == f"{base}/agenda?week={year}-W{week:02d}"
    finally:
        b.close()

    store = Store(flat.state / "thuisplus.sqlite", StoreConfig())
    reg = Register(store)
    assert reg.get(flat.fall).status == "open"  # type: ignore[union-attr]
    trail = reg.audit_trail(flat.nutrition)
    assert [(a["actor"], a["action"]) for a in trail[1:]] == [
        ("zorg-anouk", "assigned"), ("zorg-anouk", "discussed")]  # fmt: skip
    assert "vervalst" not in json.dumps(trail)
    # the verdict reaches the detector that raised the signal, as the live hub reads it
    hub = build_hub(Config(), store)
    assert hub.apply_feedback() == 1
    (feedback,) = [a for a in reg.audit_trail(flat.night_toilet) if a["action"] == "feedback"]
    assert feedback["details"]["detector"] == "night_toilet"
    hub.close()
    store.close()

    # next week's agenda (the one after this meeting) shows what was decided
    out = tmp_path / "agenda.html"
    done = cli("agenda", "--week", this_week(), "--out", str(out), "--state-dir", str(flat.state))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    decided = page.split(f'id="signal-{flat.nutrition}"')[1].split("</article>")[0]
    assert "zorg-anouk: toegewezen aan Zorg, zorg-anouk" in decided
    assert "Dochter belt deze week; diëtist inschakelen." in decided
    closed = page.split('<section id="closed">')[1].split("</section>")[0]
    assert f'id="signal-{flat.night_toilet}"' in closed
    assert "zorg-anouk: gesloten; oordeel: vals alarm" in closed


def test_tls_with_the_gateway_certificate_and_secure_cookies(
    server: Server, cert: tuple[Path, Path, str]
) -> None:
    c = Client(server.port, cert[0])  # verifies the certificate and the address
    status, headers, page = c.request("GET", "/login")
    assert status == 200
    assert "<h1>Inloggen</h1>" in page
    cookie = headers["set-cookie"]
    assert cookie.startswith("__Host-thuisplus=")
    for part in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert part in cookie, cookie
    assert "max-age=" in headers["strict-transport-security"]
    assert "script-src" not in headers["content-security-policy"]  # no script at all
    assert headers["cache-control"] == "no-store"
    # plain HTTP on the TLS port gets no page
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/login")
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.getresponse()


def test_an_action_waits_for_the_hub_writing_the_store(
    flat: Flat, server: Server, cert: tuple[Path, Path, str]
) -> None:
    """The live hub writes the same SQLite file (WAL): while another process holds the
    write lock, the page's action waits for it instead of failing, then lands."""
    import sqlite3
    import threading

    c = Client(server.port, cert[0])
    assert c.login("welzijn-bram", PASSWORDS["welzijn-bram"]) == 303
    token = c.csrf(f"/signal/{flat.withdrawal}")

    def assign_while_locked(hold_s: float) -> tuple[int, dict[str, str], str, float]:
        hub = sqlite3.connect(flat.state / "thuisplus.sqlite", isolation_level=None,
                              check_same_thread=False)  # fmt: skip
        hub.execute("BEGIN IMMEDIATE")  # as the hub does while it writes a batch
        hub.execute("UPDATE meta SET value=value WHERE key='schema'")
        timer = threading.Timer(hold_s, lambda: hub.execute("COMMIT"))
        timer.start()
        started = time.monotonic()
        status, headers, page = c.request("POST", f"/signal/{flat.withdrawal}/assign",
                                          {"csrf": token, "to": "me"})  # fmt: skip
        waited = time.monotonic() - started
        timer.join()
        hub.close()
        return status, headers, page, waited

    # held past the store's busy timeout (5 s): refused with a reason, nothing half-written
    status, _, page, _ = assign_while_locked(5.8)
    assert status == 503
    assert "Niet opgeslagen: de hub kon het nu niet schrijven" in page
    store = Store(flat.state / "thuisplus.sqlite", StoreConfig())
    entry = Register(store).get(flat.withdrawal)
    assert entry is not None
    assert (entry.status, entry.assigned_domain) == ("open", None)
    assert [a["action"] for a in Register(store).audit_trail(flat.withdrawal)] == ["raised"]
    store.close()
    # held briefly: the action waits for it, then lands
    status, headers, _, waited = assign_while_locked(1.5)
    assert (status, headers["location"]) == (303, f"/signal/{flat.withdrawal}?done=assign")
    assert waited >= 1.0
    store = Store(flat.state / "thuisplus.sqlite", StoreConfig())
    entry = Register(store).get(flat.withdrawal)
    store.close()
    assert entry is not None
    assert (entry.status, entry.assigned_domain, entry.assigned_role) == (
        "assigned", "welfare", "welzijn-bram")  # fmt: skip
    # what the register would refuse is refused in the page's words, and changes nothing
    bad = {"csrf": token, "domain": "welfare", "role": "Mw. Jansen; DROP TABLE"}
    status, _, page = c.request("POST", f"/signal/{flat.withdrawal}/assign", bad)
    assert status == 400
    assert "Geef een domein en een rol" in page
    close = {"csrf": token, "verdict": "confirmed", "notes": "Meedoen met de maaltijd."}
    assert c.request("POST", f"/signal/{flat.withdrawal}/close", close)[0] == 303
    status, _, page = c.request("POST", f"/signal/{flat.withdrawal}/close", close)
    assert status == 409
    assert "Dit signaal is al gesloten." in page
    store = Store(flat.state / "thuisplus.sqlite", StoreConfig())
    trail = Register(store).audit_trail(flat.withdrawal)
    store.close()
    assert [a["action"] for a in trail] == ["raised", "assigned", "closed"]


def test_sessions_end_with_a_new_password_and_the_login_is_rate_limited(
    flat: Flat, cert: tuple[Path, Path, str], tmp_path: Path
) -> None:
    config = tmp_path / "flat.yaml"
    config.write_text("serve:\n  login_attempts: 3\n  login_window_minutes: 10\n")
    s = Server(flat.state, "--config", str(config), "--cert", str(cert[0]), "--key", str(cert[1]))
    try:
        c = Client(s.port, cert[0])
        assert c.login("lead-carla", PASSWORDS["lead-carla"]) == 303
        assert c.request("GET", "/")[0] == 200
        changed = cli("users", "--state-dir", str(flat.state), "passwd", "lead-carla",
                      "--password-stdin", stdin="een-heel-nieuw-wachtwoord\n")  # fmt: skip
        assert changed.returncode == 0, changed.stderr
        status, headers, _ = c.request("GET", "/")
        assert (status, headers["location"]) == (303, "/login")  # logged out
        assert c.login("lead-carla", PASSWORDS["lead-carla"]) == 401  # the old one: no more
        for _ in range(2):
            assert c.login("lead-carla", "raden-maar") == 401
        # three failures in the window: even the right password waits now
        assert c.login("lead-carla", "een-heel-nieuw-wachtwoord") == 429
        assert c.login("lead-carla", "raden-maar") == 429
    finally:
        log = s.stop()
    assert "Failed login for 'lead-carla'" in log
    assert "een-heel-nieuw-wachtwoord" not in log
    assert "raden-maar" not in log


def test_serve_refuses_plain_http_off_loopback_and_a_bad_certificate(
    flat: Flat, tmp_path: Path
) -> None:
    state = str(flat.state)
    r = cli("serve", "--state-dir", state, "--host", "0.0.0.0", "--allow-http")  # noqa: S104
    assert r.returncode == 2
    assert "plain HTTP only on a loopback address" in r.stderr
    r = cli("serve", "--state-dir", state, "--host", "127.0.0.1")
    assert r.returncode == 2
    assert "serve needs the gateway's TLS certificate: --cert and --key" in r.stderr
    r = cli("serve", "--state-dir", state, "--cert", str(tmp_path / "gw.crt"))
    assert r.returncode == 2
    assert "cert_file and key_file go together" in r.stderr
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    r = cli("serve", "--state-dir", state, "--cert", str(junk), "--key", str(junk))
    assert r.returncode == 2
    assert "are not a PEM certificate and its key" in r.stderr
    r = cli("serve", "--state-dir", str(tmp_path / "nowhere"), "--allow-http",
            "--host", "127.0.0.1")  # fmt: skip
    assert r.returncode == 2
    assert "no store here" in r.stderr


def test_accounts_on_the_command_line(flat: Flat) -> None:
    state = str(flat.state)
    r = cli("users", "--state-dir", state, "add", "kort", "--role", "care", "--password-stdin",
            stdin="kort\n")  # fmt: skip
    assert r.returncode == 1
    assert "at least 12 characters" in r.stderr
    r = cli("users", "--state-dir", state, "add", "Mevrouw Jansen", "--role", "care",
            "--password-stdin", stdin="lang genoeg wachtwoord\n")  # fmt: skip
    assert r.returncode == 1
    assert "an account name is 2-32 of a-z 0-9" in r.stderr
    r = cli("users", "--state-dir", state, "add", "zorg-anouk", "--role", "care",
            "--password-stdin", stdin="lang genoeg wachtwoord\n")  # fmt: skip
    assert r.returncode == 1
    assert "there is an account 'zorg-anouk' already" in r.stderr
    r = cli("users", "--state-dir", state, "list")
    assert r.returncode == 0
    assert "zorg-anouk" in r.stdout
    assert "welzijn-bram" in r.stdout
    store = Store(flat.state / "thuisplus.sqlite", StoreConfig())
    (stored,) = store.db.execute("SELECT hash FROM web_users WHERE name='zorg-anouk'").fetchone()
    store.close()
    assert stored.startswith("scrypt$32768$8$2$")
    assert PASSWORDS["zorg-anouk"] not in stored


@pytest.mark.parametrize(
    ("role", "action", "domain", "assigned", "allowed"),
    [
        ("care", "close", "care", None, True),
        ("welfare", "close", "care", None, False),
        ("welfare", "assign", "care", None, False),
        ("welfare", "discuss", "care", None, True),
        ("housing", "close", "care", "housing", True),  # handed over to housing
        ("housing", "ack", "care", None, False),
        ("lead", "close", "welfare", None, True),
        ("care", "drop", "care", None, False),
    ],
)
def test_who_may_do_what(
    role: str, action: str, domain: str, assigned: str | None, allowed: bool
) -> None:
    assert may(role, action, domain, assigned) is allowed


@pytest.mark.broker
@pytest.mark.slow
def test_the_page_works_beside_the_live_hub(
    broker: Broker, cert: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """``thuisplus run`` on a real Mosquitto and the page on the same store: a fall sent
    over MQTT is on the page at once, the page's acknowledgement is the register's, and a
    verdict given on the page reaches the running hub's detector within seconds."""
    from tests.live import FLAT, Collector, HubProcess, Publisher, start_online, wait_for

    hub = HubProcess(broker, tmp_path / "hub")
    quiet = trend(SignalKind.SENSOR_OFFLINE, Domain.HOUSING, "a012", 0, 0, "Sensor stil.")
    quiet = quiet.model_copy(update={"flat": FLAT, "evidence": {"detector": "sensor_offline"}})
    store = Store(hub.state / "thuisplus.sqlite", StoreConfig())
    Register(store).raise_signal(quiet)  # a silent sensor from before this run
    Accounts(store).add("wonen-dirk", "housing", "de lift doet het weer")
    Accounts(store).add("lead-carla", "lead", PASSWORDS["lead-carla"])
    store.close()
    watch = Collector(broker, "thuisplus/#")
    pub = Publisher(broker)
    start_online(hub, watch)
    page = Server(hub.state, "--cert", str(cert[0]), "--key", str(cert[1]))
    try:
        pub.send("zigbee2mqtt/a012/bathroom/radar", {"fall": True, "linkquality": 90})
        wait_for(lambda: watch.payloads(), 10, "the fall's signal")
        (fall,) = watch.payloads()
        c = Client(page.port, cert[0])
        assert c.login("lead-carla", PASSWORDS["lead-carla"]) == 303
        status, _, register = c.request("GET", "/")
        assert status == 200
        assert f'id="row-{fall["id"]}"' in register.split('id="domain-care"')[1]
        token = c.csrf(f"/signal/{fall['id']}")
        status, _, _ = c.request("POST", f"/signal/{fall['id']}/ack", {"csrf": token})
        assert status == 303
        other = Client(page.port, cert[0])
        assert other.login("wonen-dirk", "de lift doet het weer") == 303
        token = other.csrf(f"/signal/{quiet.id}")
        status, _, _ = other.request("POST", f"/signal/{quiet.id}/close",
                                     {"csrf": token, "verdict": "false_alarm"})  # fmt: skip

        def trail(ident: str) -> list[dict[str, object]]:
            s = Store(hub.state / "thuisplus.sqlite", StoreConfig())
            try:
                return Register(s).audit_trail(ident)
            finally:
                s.close()

        assert status == 303
        wait_for(lambda: any(a["action"] == "feedback" for a in trail(quiet.id)), 15,
                 "the running hub's feedback line")  # fmt: skip
        (feedback,) = [a for a in trail(quiet.id) if a["action"] == "feedback"]
        assert feedback["actor"] == "hub"
        assert feedback["details"] == {"detector": "sensor_offline",
                                       "change": "silence limit 25 h -> 38 h"}  # fmt: skip
        acked = [a for a in trail(fall["id"]) if a["action"] == "acknowledged"]
        assert [a["actor"] for a in acked] == ["lead-carla"]
    finally:
        page.stop()
        pub.close()
        watch.close()
        assert hub.stop() == 0
