"""Regrowth Tracker's server entry: ``streamlit run serve.py`` (``make run``). ``app.py`` stays the page script.

Streamlit alone keeps a sign-in in its websocket session, which a reload (F5) ends, and a page script cannot
set a cookie. So this launcher adds a few plain HTTP routes to Streamlit's own server (``st.App``):

- ``GET /auth/sign-in``: a plain sign-in form (the app's sign-in page draws the same form);
- ``POST /auth/sign-in``: same-origin only; ``tracker.access.sign_in.sign_in`` (throttling, the one refusal sentence),
  then a web session (``tracker.access.web_sessions``) whose random token becomes the ``rt_session`` cookie:
  HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Path=/, Max-Age the idle
  limit, Secure when the request came over https; then 303 to ``/``;
- ``POST /auth/sign-out``: same-origin only; revokes the web session, clears the cookie, 303 to ``/``;
- ``GET /auth/keep-alive``: renews the cookie's Max-Age while the session stands. The signed-in page asks
  for it (a CSS image) each time it touches its web session, since its clicks travel over the websocket,
  which cannot set a cookie;

a guard in front of Streamlit's ``/media/`` files: 403 unless the request carries a standing cookie; and
``X-Frame-Options: DENY`` with ``frame-ancestors 'none'`` on every response (no framing by another site).
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from streamlit.runtime.pages_manager import PagesManager

from tracker.access import web_sessions
from tracker.access.sign_in import REFUSED, sign_in
from tracker.database import database_busy
from tracker.errors import TrackerError
from ui.sign_in_form import KEEP_ALIVE, SIGN_IN, SIGN_IN_FORM, SIGN_OUT

log = logging.getLogger("regrowth")

# Tells the page script that sign-in goes through these routes (pages/sign_in.py draws the HTML form).
os.environ["TRACKER_COOKIE_SIGN_IN"] = "1"

FORM_BYTES_MAX = 4096  # a username (80) and a password (256), URL-encoded, with room to spare
BUSY = "The database is busy; nothing was lost. Try again in a moment."
FAILED = "Something went wrong. Please try again; if it persists, tell your administrator."
CROSS_SITE = "Refused: this form may only be sent from the Regrowth Tracker's own pages."


def same_origin(request: Request) -> bool:
    """Whether a form post comes from a page of this server: its Origin (else its Referer) names this host.

    A browser always sends Origin with a form POST; a request with neither header is refused too.
    """
    host = request.headers.get("host", "").lower()
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    return bool(host) and source != "null" and urlsplit(source).netloc.lower() == host


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(web_sessions.COOKIE, token, max_age=max(int(web_sessions.idle_limit_seconds()), 1),
                        path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(web_sessions.COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def sign_in_page(message: str = "", status: int = 200) -> HTMLResponse:
    """The plain sign-in page (shown after a refusal, or asked for directly)."""
    notice = f'<p class="notice" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Regrowth Tracker</title>
<style>
body {{font-family: system-ui, sans-serif; margin: 0; background: #f7f9fa; color: #1f2933;}}
main {{max-width: 22rem; margin: 12vh auto; padding: 2rem; background: #fff; border-radius: .5rem;
       box-shadow: 0 1px 4px rgba(0,0,0,.12);}}
h1 {{font-size: 1.5rem; margin-top: 0;}}
.notice {{background: #fdecea; color: #7d1a1a; padding: .6rem .8rem; border-radius: .35rem;}}
</style></head>
<body><main><h1>Regrowth Tracker</h1>{notice}{SIGN_IN_FORM}</main></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})




async def form_body(request: Request) -> bytes | None:
    """The posted form, or None when it is larger than a sign-in form can be: refused by its declared length
    before anything is read, and read in pieces up to ``FORM_BYTES_MAX`` otherwise (a chunked upload of
    hundreds of MB must not be held in memory before it is refused)."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > FORM_BYTES_MAX):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES_MAX:
            return None
    return body


async def sign_in_route(request: Request) -> Response:
    if request.method == "GET":
        return sign_in_page()
    if not same_origin(request):
        log.warning("sign-in refused: cross-site post (origin %r)", request.headers.get("origin"))
        return PlainTextResponse(CROSS_SITE, status_code=403)
    body = await form_body(request)
    try:
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4) if body is not None else {}
    except ValueError:  # more fields than a sign-in form has
        form = {}
    username = (form.get("username") or [""])[0]
    password = (form.get("password") or [""])[0]
    if not (username and password):
        return sign_in_page(REFUSED, 401)
    try:
        actor = await run_in_threadpool(sign_in, username, password, address=client_address(request))
        token = await run_in_threadpool(web_sessions.open_session, actor)
    except TrackerError:
        return sign_in_page(REFUSED, 401)
    except Exception as error:  # never a traceback in front of a clinician; the server log keeps it
        busy = database_busy(error)
        if busy is not None:
            log.warning("database busy in sign-in: %s", busy)
            return sign_in_page(BUSY, 503)
        log.exception("unexpected error in sign-in")
        return sign_in_page(FAILED, 500)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, token)
    return response


async def sign_out_route(request: Request) -> Response:
    if not same_origin(request):
        return PlainTextResponse(CROSS_SITE, status_code=403)
    token = request.cookies.get(web_sessions.COOKIE)
    try:
        await run_in_threadpool(web_sessions.revoke, token, "signed out", client_address(request))
    except Exception:
        log.exception("sign-out: the web session could not be revoked")
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, request)
    return response


async def keep_alive_route(request: Request) -> Response:
    token = request.cookies.get(web_sessions.COOKIE)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    actor = await run_in_threadpool(web_sessions.actor_for_token, token, client_address(request))
    if actor is not None and token is not None:  # only a token names an actor
        set_session_cookie(response, request, token)
    elif token:
        clear_session_cookie(response, request)
    return response


class MediaGuard:
    """403 for ``/media/`` unless the request carries a standing ``rt_session`` cookie (pure ASGI)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/media/"):
            cookies = SimpleCookie()
            for name, value in scope.get("headers", []):
                if name == b"cookie":
                    with contextlib.suppress(Exception):  # a malformed header carries no session
                        cookies.load(value.decode("latin-1"))
            morsel = cookies.get(web_sessions.COOKIE)
            address = (scope.get("client") or (None,))[0]
            try:
                actor = await run_in_threadpool(web_sessions.actor_for_token, morsel.value if morsel else None,
                                                address)
            except Exception:
                log.exception("media guard: the session could not be checked")
                actor = None
            if actor is None:
                await PlainTextResponse("Sign in to see this file.", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# No other site may show these pages in a frame (a framed sign-in or record invites clickjacking).
NO_FRAMING = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]


class NoFraming:
    """Adds ``NO_FRAMING`` to every HTTP response (pure ASGI)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *NO_FRAMING]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Streamlit still knows its first multipage design, in which a ``pages/`` folder beside the script makes each file
# a page of its own, run *instead of* the main script. It leaves that design only once ``st.navigation`` has run,
# so the very first visitor of a fresh server who opened a deep link (``/patients``) ran that page script alone:
# no sign-in page, and a menu of every page file (the page's own guard still showed no data). The app builds its
# menu with ``st.navigation`` on every run, so the old design is switched off before any visitor arrives.
PagesManager.uses_pages_directory = False

app = st.App(
    str(Path(__file__).with_name("app.py")),
    routes=[
        Route(SIGN_IN, sign_in_route, methods=["GET", "POST"]),
        Route(SIGN_OUT, sign_out_route, methods=["POST"]),
        Route(KEEP_ALIVE, keep_alive_route, methods=["GET"]),
    ],
    middleware=[Middleware(NoFraming), Middleware(MediaGuard)],
)
