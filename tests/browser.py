"""Real-browser test support: ``streamlit run`` on a free localhost port with a fresh data dir, and
Debian's Chromium driven by Playwright (headless). Screenshots go to ``test-artifacts/`` (git-ignored).

Browser tests are skipped, saying why, when ``/usr/bin/chromium`` is missing (``make test`` installs it).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import forked_python
from tracker.clinic_dates import show_date

if TYPE_CHECKING:  # imported where used: a machine without playwright skips the browser tests
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
# Flags the workplace's closed network needs (no background calls home) and root needs (no sandbox).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def clinic_with_accounts(tmp_path_factory, name: str, *accounts: tuple[str, str, str]) -> tuple[Path, dict[str, str]]:
    """A fresh data folder ``<name>/data`` whose accounts (role, username, password) are made by the command line,
    as an admin makes them; returns the folder and the environment that points the app and commands at it
    (SQLite: a browser file's clinic is its own). Skips when Chromium is missing."""
    require_chromium()
    data_dir = tmp_path_factory.mktemp(name) / "data"
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    for role, username, password in accounts:
        subprocess.run([sys.executable, "-m", "tracker", "user", "add", "--role", role, "--username", username,
                        "--password-stdin"], input=password + "\n", cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120, check=True)
    return data_dir, env


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("browser test skipped: /usr/bin/chromium is not installed (make test installs it)")
    try:
        import playwright  # noqa: F401 (only whether it imports)
    except ImportError:
        pytest.skip("browser test skipped: playwright is not installed")


_SERVER_LOGS: dict[str, Path] = {}


def server_log(base: str) -> str:
    """Everything the app server at ``base`` has written to its stdout and stderr so far."""
    return _SERVER_LOGS[base].read_text(errors="replace")


def server_alarms(base: str) -> list[str]:
    """Lines of the server's output that should not appear in normal use: stack traces and warnings."""
    return [line for line in server_log(base).splitlines()
            if "Traceback" in line or "warning" in line.lower() or line.startswith('  File "')]


DEMO_PASSWORD = re.compile(r"^\s+(demo\.\w+)\s+\w+\s+password: (\S+)", re.M)


def load_demo_clinic(data_dir: Path, limit: int = 4) -> dict[str, str]:
    """The fictional demo clinic (with photos) in ``data_dir``, loaded through the command line as ``make run``
    does (in a process of its own: tests/forked_python.py); returns the demo accounts' passwords as it printed
    them ({"demo.admin": …})."""
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    done = forked_python.run(["-m", "tracker", "demo", "--limit", str(limit)], cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(DEMO_PASSWORD.findall(done.stdout))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def streamlit_server(data_dir: Path, env_extra: dict | None = None) -> Iterator[str]:
    """A real ``streamlit run serve.py`` (the server entry, with its sign-in routes) on localhost; yields its
    base URL; always stopped afterwards."""
    port = free_port()
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir), **(env_extra or {})}
    env.pop("DATABASE_URL", None) if "DATABASE_URL" not in (env_extra or {}) else None
    with open(data_dir.parent / f"streamlit-{port}.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        _SERVER_LOGS[base] = Path(log.name)
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.3)
            else:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


# The messages of the dialogs (alert, confirm) each open page showed, by id(page): see dialogs_seen.
DIALOGS: dict[int, list[str]] = {}


def dialogs_seen(page: Page) -> list[str]:
    """The messages of every dialog ``page`` (from ``browser_page``) has opened so far."""
    return DIALOGS[id(page)]


# One Chromium per test module (the conftest closes it after each module). Starting Playwright's driver and
# Chromium takes seconds on a busy machine; every ``browser_page`` still opens a context of its own, which
# shares no cookie, storage or cache with any other, as a browser started afresh would.
_SHARED: dict = {}


def _shared_browser():
    browser = _SHARED.get("browser")
    if browser is None or not browser.is_connected():
        if "playwright" not in _SHARED:
            from playwright.sync_api import sync_playwright

            _SHARED["playwright"] = sync_playwright().start()
        browser = _SHARED["playwright"].chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                        args=CHROMIUM_ARGS)
        _SHARED["browser"] = browser
    return browser


def close_shared_browser() -> None:
    """Close the module's Chromium and Playwright's driver, if a test started them."""
    browser, playwright = _SHARED.pop("browser", None), _SHARED.pop("playwright", None)
    try:
        if browser is not None and browser.is_connected():
            browser.close()
    finally:
        if playwright is not None:
            playwright.stop()


@contextmanager
def browser_page(viewport=(1400, 1000), **context_options) -> Iterator:
    """A page in a new, empty browser context (the module's Chromium); the context is closed afterwards.
    ``context_options`` go to Playwright's ``new_context`` (``ignore_https_errors=True`` for a test's own
    self-signed certificate)."""
    context = _shared_browser().new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                            accept_downloads=True, **context_options)
    page = None
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        dialogs: list[str] = []

        def on_dialog(dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        DIALOGS[id(page)] = dialogs  # any alert() would land here: the XSS test asserts it stays empty
        yield page
    except Exception:
        if page is not None:
            _show_failure(page)
        raise
    finally:
        if page is not None:
            DIALOGS.pop(id(page), None)
        context.close()


def _show_failure(page) -> None:
    """A browser test failed: keep what the page showed (a screenshot under ``test-artifacts/failures``) and
    print its text and the app servers' last log lines, so a failure in CI can be read from its output alone.
    Never raises: the page may be gone."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split(" ")[0]
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", test)[-150:]
    try:
        folder = ARTIFACTS / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True, timeout=10_000)
        text = page.inner_text("body", timeout=10_000)
        print(f"--- the page at the failure ({page.url}), saved as test-artifacts/failures/{name}.png:\n"
              f"{text[-4000:]}")
    except Exception as error:  # the page or browser is gone: say so, and keep the test's own error
        print(f"--- the page at the failure could not be read: {error}")
    for base, log in list(_SERVER_LOGS.items())[-2:]:  # this test's servers, not every earlier one
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        print(f"--- the last lines of the app server at {base}:", *lines[-40:], sep="\n")


def shot(page, journey: str, step: str) -> Path:
    folder = ARTIFACTS / journey
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^a-z0-9_-]+', '-', step.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=60_000,
    )
    page.wait_for_timeout(300)


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(base)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    wait_idle(page)
    page.get_by_text("Signed in as").wait_for()


# Signs that Streamlit is still at work: the running icon, placeholders of elements not drawn yet, and
# elements left from the previous run (marked stale until the new run replaces them).
RENDERING = ('[data-testid^="stStatusWidgetRunning"], [data-testid="stSkeleton"], '
             '[data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"], [data-stale="true"]')


def wait_rendered(page, timeout: float = 60_000) -> None:
    """Wait until the script run has finished and every element is drawn (stricter than ``wait_idle``)."""
    page.wait_for_timeout(250)
    page.wait_for_function("selector => !document.querySelector(selector)", arg=RENDERING, timeout=timeout)
    page.wait_for_timeout(100)


# An element of the page itself (not of the sidebar): every page of the app draws at least one.
PAGE_ELEMENT = '[data-testid="stMain"] [data-testid="stElementContainer"]'
# Streamlit shows its running icon only once a run has lasted 500 ms (``IO=500`` in its frontend).
RUNNING_ICON_DELAY_MS = 500


def wait_page_drawn(page, timeout: float = 60_000) -> None:
    """After opening another page: wait until it is drawn. Stricter than ``wait_rendered``, which is enough
    within one page (there, the elements of the run before stay, marked stale, until the new run replaces them).
    A new page starts empty, with no stale element, and Streamlit shows its running icon only after 500 ms: a
    page empty or half drawn then looked finished (a test read an empty Progress page on a busy machine). So
    this waits until the page has elements and nothing has been at work for longer than that delay."""
    page.wait_for_timeout(250)
    page.evaluate("() => { window.__trackerBusyAt = performance.now(); }")
    page.wait_for_function(
        """([rendering, element, quiet]) => {
            const now = performance.now();
            if (document.querySelector(rendering) || !document.querySelector(element)) window.__trackerBusyAt = now;
            return now - window.__trackerBusyAt >= quiet;
        }""",
        arg=[RENDERING, PAGE_ELEMENT, RUNNING_ICON_DELAY_MS + 100], timeout=timeout, polling=50)


def navigate(page, path: str, timeout: float = 60_000) -> None:
    """Open an app URL (``/patients``, ``/progress?mrn=X``) inside the current session, as typing it in
    the address bar of a running app does for Streamlit's router. ``page.goto`` would load the app afresh:
    a new session, signed out. ``timeout`` (ms): how long the page may take to be drawn."""
    page.evaluate("path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
                  path)
    wait_page_drawn(page, timeout)


def open_menu(page, title: str, timeout: float = 60_000) -> None:
    """Click a page in the sidebar menu. The pointer first leaves whatever it rests on: a button's help tooltip
    (the record page's download buttons) stays open while it hovers and can cover the menu's links.
    ``timeout`` (ms): how long the page may take to be drawn."""
    page.mouse.move(0, 0)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    wait_page_drawn(page, timeout)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox or multiselect labelled ``label``."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_rendered(page)


def type_date(page, label: str, day) -> None:
    """Type a date, as the clinic writes it, into the date field labelled ``label`` (its label ends with the
    expected form, for example "Birth date (YYYY-MM-DD)")."""
    field = page.get_by_label(re.compile(rf"^{re.escape(label)} \("))
    field.fill(show_date(day))
    field.press("Tab")


def dataframe_rows(frame, containing: str | None = None) -> list[dict[str, str]]:
    """The rows of an ``st.dataframe`` (a locator for its ``stDataFrame``), each as column → text.

    The grid is drawn on a canvas; it keeps an accessible table of the rows in view, read here. After a rerun
    that table may still hold the previous run's rows for a moment (seen once in a full run: the new visit's
    "saved" text was there, its grid still the last visit's): ``containing``, a cell text the new rows have,
    waits for them first."""
    frame.locator("tr").first.wait_for(state="attached")
    if containing is not None:
        frame.locator("td", has_text=containing).first.wait_for(state="attached")
    header, *rows = frame.evaluate(
        "el => [...el.querySelectorAll('tr')].map(tr => [...tr.querySelectorAll('th, td')].map(c => c.textContent))")
    return [dict(zip(header, row, strict=False)) for row in rows]


@contextmanager
def camera_page(video: Path, *, allowed: bool, viewport=(1400, 1800)) -> Iterator:
    """A page in a Chromium of its own whose camera is Chromium's fake one, showing ``video`` (a .y4m file), with
    the camera permission granted (``allowed``) or refused as a person refusing the browser's question would;
    closed afterwards (the capture guide's test)."""
    _shared_browser()  # Playwright's driver, started once per module
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
    if not allowed:
        args.append("--deny-permission-prompts")
    browser = _SHARED["playwright"].chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    try:
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                      permissions=["camera"] if allowed else [])
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
    finally:
        browser.close()
