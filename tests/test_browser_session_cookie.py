"""Browser journeys (sign-in cookie), against ``streamlit run serve.py``: a reload (F5) keeps the clinician
signed in on the same page, the consult screen included; the ``rt_session`` cookie is HttpOnly and
SameSite=Strict; ``/media/`` answers 403 without it; after a sign-out, an account disable or the idle limit
the old cookie value restores nothing; activity keeps it alive past the idle limit; a cross-site form post
to the sign-in route is refused."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request

import pytest

from tests import forked_python
from tests.browser import (
    ROOT,
    browser_page,
    navigate,
    open_menu,
    require_chromium,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from tracker.access.sign_in import REFUSED
from tracker.access.web_sessions import COOKIE

JOURNEY = "session-cookie"
CLINICIAN, PASSWORD = "dr.reload", "Reload-Keeps-Me-4417"
LEAVER, LEAVER_PASSWORD = "dr.leaver", "Leaver-Account-9931"
MRN = "DEMO-0001"
IDLE_MINUTES = 0.2  # 12 s on the idle server: the web session is touched every 3 s


def _cli(env: dict, *args: str, stdin: str | None = None) -> str:
    """``python -m tracker ARGS`` in a process of its own (tests/forked_python.py); its output."""
    done = forked_python.run(["-m", "tracker", *args], input=stdin, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def _clinic(tmp_path_factory, name: str) -> tuple:
    data_dir = tmp_path_factory.mktemp(name) / "data"
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    _cli(env, "init")
    _cli(env, "demo", "--no-photos", "--limit", "1")
    for username, password in ((CLINICIAN, PASSWORD), (LEAVER, LEAVER_PASSWORD)):
        _cli(env, "user", "add", "--role", "clinician", "--username", username, "--password-stdin",
             stdin=password + "\n")
    return data_dir, env


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    data_dir, env = _clinic(tmp_path_factory, "browser-cookie")
    with streamlit_server(data_dir) as base:
        yield base, env


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory):
    require_chromium()
    data_dir, env = _clinic(tmp_path_factory, "browser-cookie-idle")
    with streamlit_server(data_dir, {"TRACKER_IDLE_MINUTES": str(IDLE_MINUTES)}) as base:
        yield base


def fetch(url: str, cookie: str | None = None, data: bytes | None = None, headers: dict | None = None) -> tuple:
    """(status, headers) of a plain request, without a browser."""
    request = urllib.request.Request(url, data=data, headers={**(headers or {})})
    if cookie is not None:
        request.add_header("Cookie", f"{COOKIE}={cookie}")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session_cookie(page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == COOKIE), None)


def shows_sign_in(page) -> None:
    page.get_by_role("button", name="Sign in").wait_for()
    wait_rendered(page)
    assert page.get_by_text("Signed in as").count() == 0
    assert page.get_by_test_id("stSidebarNav").count() == 0


def replayed(page, base: str, value: str):
    """A fresh browser context (no shared state) given only the cookie ``value``; its page at ``base``."""
    context = page.context.browser.new_context()
    context.add_cookies([{"name": COOKIE, "value": value, "url": base}])
    other = context.new_page()
    other.set_default_timeout(30_000)
    other.goto(base)
    return other


def test_a_reload_keeps_the_clinician_signed_in_on_the_same_page(server):
    base, _env = server
    with browser_page() as page:
        elsewhere: list[str] = []  # a clinic's browser asks no other host for anything (fonts, icons…)
        page.on("request", lambda request: None if request.url.startswith((base, "data:", "blob:"))
                else elsewhere.append(request.url))
        page.goto(base)
        page.get_by_role("button", name="Sign in").wait_for()
        shot(page, JOURNEY, "1-sign-in-form")
        sign_in(page, base, CLINICIAN, PASSWORD)
        open_menu(page, "Schedule")
        page.get_by_role("heading", name="Schedule", exact=True).wait_for()

        page.reload()
        page.get_by_text(f"Signed in as {CLINICIAN}").wait_for()
        page.get_by_role("heading", name="Schedule", exact=True).wait_for()
        wait_rendered(page)
        assert page.url.endswith("/schedule")
        shot(page, JOURNEY, "2-after-reload-still-signed-in")

        cookie = session_cookie(page)
        assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/"
        assert COOKIE not in page.evaluate("document.cookie")  # no script can read it

        # /media/ files need the cookie: without it 403, with it the usual answer (404 for no such file).
        assert fetch(f"{base}/media/0123456789abcdef.pdf")[0] == 403
        assert fetch(f"{base}/media/0123456789abcdef.pdf", cookie["value"])[0] == 404
        assert elsewhere == [], "\n".join(elsewhere)
    assert not server_alarms(base)


def test_a_reload_keeps_the_consult_screen(server):
    base, _env = server
    with browser_page(viewport=(1400, 1400)) as page:
        sign_in(page, base, CLINICIAN, PASSWORD)
        navigate(page, f"/progress?mrn={MRN}")
        page.get_by_role("button", name="Consult mode: show this to the patient").click()
        page.get_by_text("Clinician: end the consult").wait_for()

        page.reload()  # the patient presses F5: still the consult screen, no menu
        page.get_by_text("Clinician: end the consult").wait_for()
        wait_rendered(page)
        assert page.get_by_test_id("stSidebarNav").count() == 0
        assert page.get_by_text("Signed in as").count() == 0
        shot(page, JOURNEY, "3-consult-after-reload")

        page.get_by_text("Clinician: end the consult").click()
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Back to the workspace").click()
        page.get_by_test_id("stSidebarNav").wait_for()
        page.reload()
        page.get_by_text(f"Signed in as {CLINICIAN}").wait_for()
        wait_rendered(page)
        assert page.get_by_text("Clinician: end the consult").count() == 0


def test_after_sign_out_the_old_cookie_restores_nothing(server):
    base, _env = server
    with browser_page() as page:
        sign_in(page, base, CLINICIAN, PASSWORD)
        value = session_cookie(page)["value"]
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("You are signed out.").wait_for()
        shows_sign_in(page)
        shot(page, JOURNEY, "4-signed-out")
        page.wait_for_function("() => true")  # the sign-in page asks the server to drop the dead cookie
        deadline = time.time() + 10
        while session_cookie(page) is not None and time.time() < deadline:
            page.wait_for_timeout(200)
        assert session_cookie(page) is None

        other = replayed(page, base, value)
        shows_sign_in(other)
        shot(other, JOURNEY, "5-old-cookie-replayed")
        assert fetch(f"{base}/media/0123456789abcdef.pdf", value)[0] == 403

        # The sign-out route, too, revokes the session it is sent with.
        sign_in(page, base, CLINICIAN, PASSWORD)
        value = session_cookie(page)["value"]
        status, headers = fetch(f"{base}/auth/sign-out", value, data=b"", headers={"Origin": base})
        assert status == 303 and f"{COOKIE}=\"\"" in headers.get("set-cookie", "")
        assert fetch(f"{base}/media/0123456789abcdef.pdf", value)[0] == 403
        page.reload()
        shows_sign_in(page)


def test_a_disabled_account_s_cookie_restores_nothing(server):
    base, env = server
    with browser_page() as page:
        sign_in(page, base, LEAVER, LEAVER_PASSWORD)
        value = session_cookie(page)["value"]
        _cli(env, "user", "disable", LEAVER)
        try:
            other = replayed(page, base, value)
            shows_sign_in(other)
            page.reload()
            shows_sign_in(page)
            shot(page, JOURNEY, "6-disabled-account-reload")
            assert fetch(f"{base}/media/0123456789abcdef.pdf", value)[0] == 403
        finally:
            _cli(env, "user", "enable", LEAVER)
        page.reload()  # enabled again, the old cookie still restores nothing: the account's version moved on
        shows_sign_in(page)


def test_a_cross_site_sign_in_post_is_refused(server):
    base, _env = server
    form = f"username={CLINICIAN}&password={PASSWORD}".encode()
    for origin in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {}):
        status, headers = fetch(f"{base}/auth/sign-in", data=form, headers=origin)
        assert status == 403 and COOKIE not in headers.get("set-cookie", ""), origin
    status, headers = fetch(f"{base}/auth/sign-in", data=form, headers={"Referer": "http://evil.example/x"})
    assert status == 403
    status, headers = fetch(f"{base}/auth/sign-in", data=b"username=nobody&password=nope-nope-nope",
                            headers={"Origin": base})
    assert status == 401 and COOKIE not in headers.get("set-cookie", "")
    status, headers = fetch(f"{base}/auth/sign-in", data=form, headers={"Origin": base})
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Max-Age=900" in cookie
    for path in ("/", "/auth/sign-in"):  # no other site may frame the app or its sign-in
        status, headers = fetch(f"{base}{path}")
        assert status == 200 and headers["x-frame-options"] == "DENY", path
        assert headers["content-security-policy"] == "frame-ancestors 'none'", path


def test_odd_sign_in_posts_are_refused_plainly_without_reading_them_whole(server):
    """A post larger than a sign-in form (declared, or chunked without a length) and one with more fields than
    the form has: the one refusal (401), no cookie, no traceback in the server log."""
    base, _env = server
    same_site = {"Origin": base}
    big = b"username=x&password=" + b"y" * 300_000
    status, headers = fetch(f"{base}/auth/sign-in", data=big, headers=same_site)
    assert status == 401 and COOKIE not in headers.get("set-cookie", "")

    def chunks():
        for _ in range(64):  # 4 MB, with no Content-Length
            yield b"z" * 65_536

    request = urllib.request.Request(f"{base}/auth/sign-in", data=chunks(), headers={
        **same_site, "Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (ConnectionError, urllib.error.URLError):
        status = 401  # the server answered before the whole body was sent and closed the connection
    assert status == 401
    status, headers = fetch(f"{base}/auth/sign-in", data=f"a=1&b=2&c=3&d=4&e=5&username={CLINICIAN}&password="
                            f"{PASSWORD}".encode(), headers=same_site)
    assert status == 401 and COOKIE not in headers.get("set-cookie", "")
    assert not server_alarms(base)


def test_a_refused_sign_in_says_the_one_sentence(server):
    base, _env = server
    with browser_page() as page:
        page.goto(base)
        page.get_by_role("textbox", name="Username").fill(CLINICIAN)
        page.get_by_role("textbox", name="Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(REFUSED, exact=True).wait_for()
        assert session_cookie(page) is None
        shot(page, JOURNEY, "7-refused")
        sign_in(page, base, CLINICIAN, PASSWORD)  # and from the refusal page on, the usual way


def test_activity_keeps_the_cookie_and_the_idle_limit_ends_it(idle_server):
    base = idle_server
    with browser_page() as page:
        sign_in(page, base, CLINICIAN, PASSWORD)
        started = time.time()
        while time.time() - started < IDLE_MINUTES * 60 * 1.6:  # working past the idle limit
            open_menu(page, "Schedule" if page.url.endswith("/patients") or page.url.endswith("/") else "Patients")
            page.wait_for_timeout(2_000)
        page.reload()
        page.get_by_text(f"Signed in as {CLINICIAN}").wait_for()
        shot(page, JOURNEY, "8-active-past-idle-limit")

        value = session_cookie(page)["value"]
        page.wait_for_timeout(IDLE_MINUTES * 60 * 1000 + 4_000)  # idle
        assert fetch(f"{base}/media/0123456789abcdef.pdf", value)[0] == 403  # the server refuses it
        page.reload()
        shows_sign_in(page)
        shot(page, JOURNEY, "9-reload-after-idle-limit")
        other = replayed(page, base, value)
        shows_sign_in(other)
