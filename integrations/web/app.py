"""The team's web page: the live agenda and the signal register, served by Starlette.

Server-rendered HTML (Jinja2, autoescaped), no script at all. Every action goes through
the register exactly as ``thuisplus signals ack|discuss|assign|close`` does, on the same
SQLite store (WAL: the live hub, the command line and this page write it side by side;
the hub notices acknowledgements and verdicts at its next look, as it does for the
command line), with the logged-in account as who acted in the audit trail.

Every POST needs the session's CSRF token (a hidden field, compared in constant time)
and, when the browser sends one, an ``Origin`` of this site; cookies are ``SameSite=
Strict``. Responses carry a strict Content-Security-Policy (no scripts, no frames) and are
never cached.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.config import Config
from edge.i18n import LANGUAGES, has, text
from edge.register import VERDICTS, Entry, Register, RegisterError
from edge.sections.serve import ServeConfig
from edge.store import Store
from integrations.agenda.evidence import Context, raw, sentences
from integrations.agenda.history import history_lines
from integrations.web.accounts import Accounts, may
from integrations.web.sessions import LoginLimiter, Session, Sessions

logger = logging.getLogger(__name__)

DOMAINS = ("care", "welfare", "housing")
MAX_FORM = 16_384
MAX_NOTES = 2000
ROLE_TEXT = re.compile(r"^[\w .-]{1,64}$")
"""An assignee as the register takes it: 1-64 letters, digits, ``_ . -`` and spaces."""
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("integrations.web", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


class Refused(Exception):
    """A request refused with an HTTP status and a message for the page."""

    def __init__(self, status: int, key: str, **values: Any) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.values = values


class SecurityHeaders:
    """Adds the security headers to every response (HSTS only over TLS)."""

    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self.app = app
        self.headers = [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "same-origin"),
            ("cache-control", "no-store"),
            ("cross-origin-opener-policy", "same-origin"),
        ]
        if tls:
            self.headers.append(("strict-transport-security", "max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.headers:
                    headers[key] = value
            await send(message)

        await self.app(scope, receive, sending)


@dataclass
class Site:
    """What the page's handlers share: the store (one connection, used under a lock),
    the register, the accounts, sessions and login limits."""

    config: Config
    serve: ServeConfig
    store: Store
    secure: bool

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.register = Register(self.store)
        self.accounts = Accounts(self.store)
        self.sessions = Sessions(self.serve.session_minutes * 60, self.serve.idle_minutes * 60)
        self.limiter = LoginLimiter(
            self.serve.login_attempts,
            self.serve.login_attempts_per_address,
            self.serve.login_window_minutes * 60,
        )
        self.cookie = "__Host-thuisplus" if self.secure else "thuisplus"

    # --- sessions ------------------------------------------------------------------------

    def session(self, request: Request) -> tuple[Session, bool]:
        """The request's session, or a new anonymous one (True: set its cookie). Blocks
        on the store's lock: call it in the thread pool."""
        s = self.sessions.get(request.cookies.get(self.cookie), time.time())
        if s is not None and s.user is not None:
            with self.lock:
                user = self.accounts.get(s.user)
            if user is None or user.changed != s.changed:
                self.sessions.end(s.token)  # removed, or a new password or role since
                s = None
        if s is None:
            return self.sessions.new(time.time()), True
        return s, False

    def lang(self, request: Request, s: Session) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            s.lang = asked
        return s.lang or self.config.language

    def with_cookie(self, response: Response, s: Session) -> Response:
        response.set_cookie(
            self.cookie,
            s.token,
            max_age=int(self.serve.session_minutes * 60),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )
        return response

    # --- pages ---------------------------------------------------------------------------

    def page(
        self, name: str, s: Session, lang: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        def t(key: str, **v: Any) -> str:
            return text(key, lang, **v)

        body = _ENV.get_template(name).render(
            t=t, s=s, lang=lang, flat=self.config.flat, other="en" if lang == "nl" else "nl",
            **values,
        )  # fmt: skip
        return HTMLResponse(body, status_code=status)

    def refused(self, err: Refused, s: Session, lang: str) -> HTMLResponse:
        values = dict(err.values)
        if "role" in values:
            values["role"] = text(f"web.role.{values['role']}", lang)
        if "domain" in values:
            values["domain"] = text(f"web.role.{values['domain']}", lang)  # zorg, in a sentence
        message = text(err.key, lang, **values)
        return self.page("refused.html.j2", s, lang, status=err.status, message=message)


async def read_form(request: Request, s: Session, site: Site) -> dict[str, str]:
    """The POSTed form, checked: its size, its type, its CSRF token, its origin."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "web.bad_form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Refused(413, "web.bad_form")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError) as err:
        raise Refused(400, "web.bad_form") from err
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    token = form.get("csrf", "")
    if (origin is not None and origin != own) or not hmac.compare_digest(
        token.encode(), s.csrf.encode()
    ):
        logger.warning("POST %s refused: no valid CSRF token or a foreign origin", request.url.path)
        raise Refused(403, "web.csrf")
    return form


def local_day(ts: datetime, tz: Any, lang: str) -> str:
    local = ts.astimezone(tz)
    return f"{text(f'weekday.{local.weekday()}', lang)} {local:%d-%m-%Y %H:%M}"


def kind_name(kind: str, lang: str) -> str:
    return text(f"kind.{kind}", lang) if has(f"kind.{kind}") else kind


@dataclass
class Row:
    """One signal in the register's list."""

    entry: Entry
    kind: str
    summary: str
    since: str
    status: str


def row(entry: Entry, site: Site, lang: str) -> Row:
    sig = entry.signal
    status = text(f"status.{entry.status}", lang)
    if entry.assigned_role:
        status += f" ({text(f'domain.{entry.assigned_domain}', lang)}, {entry.assigned_role})"
    if entry.verdict:
        status += f": {text(f'verdict.{entry.verdict}', lang)}"
    return Row(
        entry,
        kind_name(entry.kind, lang),
        sig.summary_en if lang == "en" and sig.summary_en else sig.summary,
        local_day(entry.opened, site.config.tz, lang),
        status,
    )


def register_view(site: Site, lang: str) -> dict[str, Any]:
    """The open signals by domain (urgent first), and those closed in the last 14 days."""
    with site.lock:
        entries = site.register.entries()
    since = datetime.now(site.config.tz) - timedelta(days=14)
    by_domain: dict[str, list[Row]] = {d: [] for d in DOMAINS}
    closed = []
    for e in entries:
        if e.status != "closed":
            by_domain.setdefault(e.domain, []).append(row(e, site, lang))
        elif e.last_detected >= since:
            closed.append(row(e, site, lang))
    for rows in by_domain.values():
        rows.sort(key=lambda r: (r.entry.severity != "urgent", r.entry.opened))
    closed.sort(key=lambda r: r.entry.last_detected, reverse=True)
    return {"by_domain": by_domain, "closed": closed}


def signal_view(site: Site, ident: str, s: Session, lang: str) -> dict[str, Any]:
    if not ident.isalnum() or len(ident) > 64:
        raise Refused(404, "web.no_signal")
    with site.lock:
        entry = site.register.get(ident)
        trail = site.register.audit_trail(ident) if entry else []
    if entry is None:
        raise Refused(404, "web.no_signal")
    sig = entry.signal
    tz = site.config.tz
    ctx = Context(lang, tz, sig.detected_at.astimezone(tz).date())
    role = s.role or ""
    allowed = {a: may(role, a, entry.domain, entry.assigned_domain) for a in
               ("ack", "discuss", "assign", "close")}  # fmt: skip
    return {
        "r": row(entry, site, lang),
        "sentences": sentences(entry.kind, sig.evidence, ctx),
        "raw": raw(sig.evidence),
        "history": history_lines(trail, tz, lang),
        "allowed": allowed,
        "verdicts": VERDICTS,
        "domains": DOMAINS,
        "mine": role if role in DOMAINS else entry.domain,
    }


def act(site: Site, s: Session, ident: str, action: str, form: dict[str, str]) -> Entry:
    """Carry out ``action`` as the logged-in account, as ``thuisplus signals`` does: the
    register's own methods, in one transaction that holds the store's write lock from the
    start (the live hub may write the file meanwhile; all of an action lands, or none)."""
    with site.lock:
        try:
            entry = site.register.find(ident)
        except RegisterError as err:
            raise Refused(404, "web.no_signal") from err
        if not may(str(s.role), action, entry.domain, entry.assigned_domain):
            logger.warning("%s (%s) may not %s signal %s", s.user, s.role, action, entry.id)
            raise Refused(403, "web.not_yours", role=str(s.role), domain=entry.domain)
        notes = form.get("notes", "").strip()
        if len(notes) > MAX_NOTES:
            raise Refused(400, "web.too_long", n=MAX_NOTES)
        if action == "discuss" and not notes:
            raise Refused(400, "web.notes_needed")
        _check(entry, action, form)
        with site.store.transaction(immediate=True):
            return _apply(site.register, entry, str(s.user), str(s.role), action, form, notes)


def _check(entry: Entry, action: str, form: dict[str, str]) -> None:
    """What the register would refuse, refused here in the page's language."""
    if entry.status == "closed":
        raise Refused(409, "web.closed_already")
    if action == "ack" and entry.status != "open":
        raise Refused(409, "web.acked_already")
    if action == "close" and form.get("verdict") not in VERDICTS:
        raise Refused(400, "web.bad_form")
    if action == "assign" and form.get("to") != "me":
        role = form.get("role", "").strip()
        if form.get("domain") not in DOMAINS or not ROLE_TEXT.match(role):
            raise Refused(400, "web.bad_role")


def _apply(
    reg: Register, entry: Entry, by: str, role: str, action: str, form: dict[str, str], notes: str
) -> Entry:
    if action == "ack":
        return reg.acknowledge(entry.id, by)
    if action == "discuss":
        return reg.discuss(entry.id, by, notes)
    if action == "assign":
        if form.get("to") == "me":  # the account's own domain (the lead's: the signal's)
            return reg.assign(entry.id, role if role in DOMAINS else entry.domain, by, by)
        return reg.assign(entry.id, form.get("domain", ""), form.get("role", ""), by)
    return reg.close(entry.id, form.get("verdict", ""), by, notes)


def agenda_page(site: Site, week: str | None, lang: str) -> str:
    """The agenda of ``week`` (default: this week) from the live store, as ``thuisplus
    agenda`` writes it, with a line on top to the register and the weeks around it."""
    from integrations.agenda.report import build_agenda, parse_week, render_html

    now = datetime.now(site.config.tz)
    if not week:
        year, number, _ = now.isocalendar()
        week = f"{year}-W{number:02d}"
    monday = date.fromisocalendar(*parse_week(week), 1)
    with site.lock:
        agenda = build_agenda(site.store, site.config, week, lang)
        page = render_html(agenda, now)
    links = [("/", text("web.register", lang))]
    for key, day in (("web.prev_week", monday - timedelta(days=7)),
                     ("web.next_week", monday + timedelta(days=7))):  # fmt: skip
        y, n, _ = day.isocalendar()
        links.append((f"/agenda?week={y}-W{n:02d}", text(key, lang)))
    nav = " · ".join(f'<a href="{href}">{escape(label)}</a>' for href, label in links)
    bar = (
        f'<style>@media print {{ .webnav {{ display: none; }} }}</style><p class="webnav">{nav}</p>'
    )
    return page.replace("<body>", "<body>" + bar, 1)


def make_app(site: Site) -> ASGIApp:
    from integrations.web.routes import routes

    app = Starlette(routes=[Route(p, f, methods=m) for p, f, m in routes(site)])
    return SecurityHeaders(app, site.secure)


def open_site(state_dir: Path, config: Config, serve: ServeConfig, secure: bool) -> Site:
    """The page's own connection to the hub's store in ``state_dir`` (WAL: beside the hub)."""
    return Site(config, serve, Store(state_dir / "thuisplus.sqlite", config.store), secure)
