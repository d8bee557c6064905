"""The page's routes: log in and out, the register, one signal and its actions, the
agenda. Handlers are async; the store's work runs in Starlette's thread pool."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from edge.register import RegisterError
from integrations.web.accounts import ACTIONS, MAX_PASSWORD, User
from integrations.web.app import (
    Refused,
    Site,
    act,
    agenda_page,
    read_form,
    register_view,
    signal_view,
)
from integrations.web.sessions import Session

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def routes(site: Site) -> list[tuple[str, Handler, list[str]]]:
    async def login_form(request: Request) -> Response:
        s, new = await run_in_threadpool(site.session, request)
        lang = site.lang(request, s)
        if s.user is not None:
            return RedirectResponse("/", status_code=303)
        page = site.page("login.html.j2", s, lang, error=None)
        return site.with_cookie(page, s) if new else page

    async def login(request: Request) -> Response:
        s, new = await run_in_threadpool(site.session, request)
        lang = site.lang(request, s)
        try:
            form = await read_form(request, s, site)
        except Refused as err:
            page = site.refused(err, s, lang)
            return site.with_cookie(page, s) if new else page
        name = form.get("name", "").strip().lower()[:64]
        password = form.get("password", "")[: MAX_PASSWORD + 1]
        address = request.client.host if request.client else "-"
        if site.limiter.blocked(name, address, time.time()):
            logger.warning("Login for %r from %s refused: too many failures", name, address)
            return site.page("login.html.j2", s, lang, status=429, error="web.login_blocked")

        def check() -> User | None:
            with site.lock:
                return site.accounts.check(name, password)

        user = await run_in_threadpool(check)
        if user is None:
            site.limiter.failed(name, address, time.time())
            return site.page("login.html.j2", s, lang, status=401, error="web.login_failed")
        site.limiter.succeeded(name)
        site.sessions.end(s.token)  # a fresh session (and token) for the logged-in user
        fresh = site.sessions.new(time.time(), lang=s.lang)
        fresh.user, fresh.role, fresh.changed = user.name, user.role, user.changed
        logger.info("%s logged in from %s", fresh.user, address)
        return site.with_cookie(RedirectResponse("/", status_code=303), fresh)

    async def logout(request: Request) -> Response:
        s, _ = await run_in_threadpool(site.session, request)
        lang = site.lang(request, s)
        try:
            await read_form(request, s, site)
        except Refused as err:
            return site.refused(err, s, lang)
        site.sessions.end(s.token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(site.cookie, path="/", secure=site.secure, httponly=True,
                               samesite="strict")  # fmt: skip
        return response

    def need_login(handler: Callable[[Request, Session, str], Awaitable[Response]]) -> Handler:
        async def wrapped(request: Request) -> Response:
            s, new = await run_in_threadpool(site.session, request)
            lang = site.lang(request, s)
            if s.user is None:
                if request.method == "POST":
                    return site.refused(Refused(401, "web.login_needed"), s, lang)
                response: Response = RedirectResponse("/login", status_code=303)
                return site.with_cookie(response, s) if new else response
            try:
                return await handler(request, s, lang)
            except Refused as err:
                return site.refused(err, s, lang)

        return wrapped

    @need_login
    async def home(request: Request, s: Session, lang: str) -> Response:
        view = await run_in_threadpool(register_view, site, lang)
        return site.page("register.html.j2", s, lang, **view)

    @need_login
    async def signal(request: Request, s: Session, lang: str) -> Response:
        ident = request.path_params["ident"]
        view = await run_in_threadpool(signal_view, site, ident, s, lang)
        done = request.query_params.get("done")
        return site.page("signal.html.j2", s, lang, done=done in ACTIONS and done, error=None,
                         **view)  # fmt: skip

    @need_login
    async def action(request: Request, s: Session, lang: str) -> Response:
        ident, name = request.path_params["ident"], request.path_params["action"]
        if name not in ACTIONS or not ident.isalnum():
            raise Refused(404, "web.no_signal")
        form = await read_form(request, s, site)
        try:
            entry = await run_in_threadpool(act, site, s, ident, name, form)
        except sqlite3.OperationalError as err:  # locked past the busy timeout, disk full
            logger.warning("%s on signal %s not written: %s", name, ident, err)
            raise Refused(503, "web.busy") from err
        except RegisterError as err:
            view = await run_in_threadpool(signal_view, site, ident, s, lang)
            return site.page("signal.html.j2", s, lang, status=409, done=None,
                             error=str(err), **view)  # fmt: skip
        return RedirectResponse(f"/signal/{entry.id}?done={name}", status_code=303)

    @need_login
    async def agenda(request: Request, s: Session, lang: str) -> Response:
        from integrations.agenda.report import AgendaError

        week = request.query_params.get("week")
        try:
            body = await run_in_threadpool(agenda_page, site, week, lang)
        except AgendaError as err:
            raise Refused(400, "web.bad_week", reason=str(err)) from err
        return HTMLResponse(body)

    return [
        ("/login", login_form, ["GET"]),
        ("/login", login, ["POST"]),
        ("/logout", logout, ["POST"]),
        ("/", home, ["GET"]),
        ("/signal/{ident}", signal, ["GET"]),
        ("/signal/{ident}/{action}", action, ["POST"]),
        ("/agenda", agenda, ["GET"]),
    ]
