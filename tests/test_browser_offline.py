"""Nothing the app serves makes a browser ask another host for anything (issue #13, "Deployable"): on a clinic's
closed network such a request fails, and before this was fixed every page asked Google's font server for the
current page's Material icon, the browser's favicon (fonts.gstatic.com/s/i/…/materialsymbolsrounded/…).

Real Chromium on the demo clinic, as admin, clinician and patient: every request and websocket of the sign-in
page and of each page the role opens is recorded (``page.on("request")``, ``page.on("websocket")``), and every
URL's host must be the app's own (127.0.0.1:port). The failure message lists the offending URLs by page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser import (
    browser_page,
    load_demo_clinic,
    navigate,
    require_chromium,
    server_alarms,
    server_log,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)

MRN = "DEMO-0001"
# Per role, each page opened and a text that shows it was drawn (not left blank or refused).
STAFF_PAGES = [("/patients", MRN), ("/schedule", "Milestone follow-ups"), (f"/patient_record?mrn={MRN}", f"MRN {MRN}"),
               (f"/progress?mrn={MRN}", "Milestones"), (f"/photos?mrn={MRN}", "Before and after"),
               (f"/log_visit?mrn={MRN}", "Save visit"), ("/lot_lookup", "Lot lookup")]
JOURNEYS = {
    "demo.admin": [*STAFF_PAGES, ("/protocols", "Protocols"), ("/accounts", "demo.clinician"),
                   ("/audit_trail", "Audit trail")],
    "demo.clinician": STAFF_PAGES,
    "demo.patient": [("/progress", "Milestones"), ("/photos", "Before and after"),
                     ("/change_password", "Change password")],
}
OWN_SCHEMES = ("data:", "blob:")  # made in the browser, never fetched from a network


@pytest.fixture(scope="module")
def demo_clinic(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-offline") / "data"
    passwords = load_demo_clinic(data_dir, limit=2)
    with streamlit_server(data_dir) as base:
        yield base, passwords


def outside(urls: list[str], base: str) -> list[str]:
    """The URLs among ``urls`` that name a host (or port) other than the app's own at ``base``."""
    own = urlsplit(base).netloc
    return [url for url in urls if not url.startswith(OWN_SCHEMES) and urlsplit(url).netloc != own]


@pytest.mark.parametrize("username", list(JOURNEYS))
def test_no_page_asks_another_host_for_anything(demo_clinic, username):
    base, passwords = demo_clinic
    requested: dict[str, list[str]] = {}
    with browser_page() as page:
        current = ["sign-in"]  # the page the requests being recorded belong to

        def record(url: str) -> None:
            requested.setdefault(current[0], []).append(url)

        page.on("request", lambda request: record(request.url))
        page.on("websocket", lambda socket: record(socket.url))
        sign_in(page, base, username, passwords[username])
        wait_rendered(page)
        for path, drawn in JOURNEYS[username]:
            current[0] = path
            navigate(page, path)
            page.get_by_text(drawn).first.wait_for(state="attached")  # a grid cell is in the page, not "visible"
            wait_rendered(page)
            page.wait_for_timeout(500)  # a favicon or image asked for once the run has ended
        shot(page, "offline", f"{username}-last-page")

    offending = {path: outside(urls, base) for path, urls in requested.items() if outside(urls, base)}
    assert not offending, "requests to other hosts:\n" + "\n".join(
        f"{path}: {url}" for path, urls in offending.items() for url in urls)
    # What was recorded is what the pages asked for: the app's scripts and icon font when signing in, the
    # websocket, and the photos (served at /media/) of the record and Photos pages.
    signing_in = requested["sign-in"]
    assert any("/static/js/" in url for url in signing_in) and any("MaterialSymbols" in url for url in signing_in)
    assert any(url.endswith("/_stcore/stream") and url.startswith("ws://") for url in signing_in)
    assert any("/media/" in url for urls in requested.values() for url in urls), requested
    assert not server_alarms(base), server_alarms(base)
    assert "gstatic" not in server_log(base) and "googleapis" not in server_log(base)
