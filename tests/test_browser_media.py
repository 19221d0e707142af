"""Browser attacks on photos and downloads, against ``streamlit run`` with the demo clinic (with photos):

(a) photos: the page uses no ``/media/`` URL for them (each is inline in the page), and no URL the page
    requested hands an image to a client without the session's cookie (plain HTTP, second browser);
(b) downloads made after the idle limit (progress PDF, lot CSV, audit CSV) produce nothing: no file,
    no ``/media/`` URL, no new audit entry, and the next click shows the sign-in page;
(c) a download clicked while signed in works once, its ``/media/`` URL answers 403 to a client without the
    sign-in cookie (``serve.py``), and it is gone a few seconds later;
(d) a download request replayed over the websocket after signing out produces nothing.
"""

from __future__ import annotations

import re
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser import (
    browser_page,
    load_demo_clinic,
    navigate,
    open_menu,
    require_chromium,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from ui.private_media import DOWNLOAD_LIFETIME_S

JOURNEY = "media"
IDLE_MINUTES = 0.2  # 12 s: the idle server's limit (short, yet longer than any step of a busy test machine)
IDLE_MESSAGE = "Your session ended after a period of inactivity. Please sign in again."


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(data dir, demo passwords): the demo clinic with photos, four patients."""
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-media") / "data"
    return data_dir, load_demo_clinic(data_dir)


@pytest.fixture(scope="module")
def server(demo):
    data_dir, passwords = demo
    with streamlit_server(data_dir) as base:
        yield base, passwords, data_dir


@pytest.fixture(scope="module")
def idle_server(demo):
    data_dir, passwords = demo
    with streamlit_server(data_dir, {"TRACKER_IDLE_MINUTES": str(IDLE_MINUTES)}) as base:
        yield base, passwords, data_dir


def query(data_dir: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(data_dir / "tracker.db") as db:
        return db.execute(sql, args).fetchall()


def audit_count(data_dir: Path, action: str) -> int:
    return query(data_dir, "SELECT count(*) FROM audit_entry WHERE action = ?", action)[0][0]


def patient_with_photos(data_dir: Path) -> str:
    """The MRN of the patient with photos at the most visits."""
    return query(data_dir, "SELECT p.mrn FROM photo ph JOIN visit v ON ph.visit_id = v.id "
                           "JOIN patient p ON v.patient_id = p.id GROUP BY p.mrn "
                           "ORDER BY count(DISTINCT v.id) DESC, p.mrn LIMIT 1")[0][0]


def fetch(url: str) -> tuple[int, str, bytes]:
    """A plain HTTP GET without any cookie: (status, content type, body)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), b""


def is_media(url: str) -> bool:
    return urlparse(url).path.startswith("/media/")


class Traffic:
    """Every URL the page requested, and every download it started."""

    def __init__(self, page) -> None:
        self.urls: list[str] = []
        self.downloads: list = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("download", lambda download: self.downloads.append(download))

    def media(self) -> list[str]:
        return [url for url in self.urls if is_media(url)]


def assert_signed_out_after_idle(page) -> None:
    page.get_by_role("button", name="Sign in").wait_for()
    wait_rendered(page)
    page.get_by_text(IDLE_MESSAGE).wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0


def click_when_idle(page, button: str, data_dir: Path, action: str, step: str, base: str) -> None:
    """Wait past the idle limit, click the download, and check that nothing at all came of it (and that the
    refusal left the server log one line, no stack trace or warning)."""
    traffic = Traffic(page)
    before = audit_count(data_dir, action)
    page.wait_for_timeout(IDLE_MINUTES * 60_000 + 1500)
    page.get_by_role("button", name=button).click()
    # The click runs no page (a run would drop the file id the browser asks for): the browser says the
    # download failed, and the next click anywhere shows the sign-in page.
    page.get_by_text("Failed to generate file for download").wait_for()
    page.wait_for_timeout(2000)  # time for a file the callable might still have made
    page.get_by_test_id("stSidebarNav").get_by_role("link").first.click()
    assert_signed_out_after_idle(page)
    shot(page, JOURNEY, step)
    assert traffic.downloads == [], step
    assert traffic.media() == [], step
    assert audit_count(data_dir, action) == before, step
    assert server_alarms(base) == [], step


# --- (a) photos ----------------------------------------------------------------------------------------------

def test_photos_have_no_url_a_stranger_can_fetch(server):
    base, passwords, data_dir = server
    mrn = patient_with_photos(data_dir)
    with browser_page(viewport=(1400, 1800)) as page:
        traffic = Traffic(page)
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        navigate(page, f"/photos?mrn={mrn}", timeout=120_000)
        page.get_by_text("Compare closely").wait_for(timeout=120_000)
        wait_rendered(page)
        images = page.locator('[data-testid="stImage"] img')
        assert images.count() >= 4  # thumbnails and the pair (the swipe and fade are in the viewer's frame)
        sources = images.evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
        assert all(src.startswith("data:image/jpeg;base64,") for src in sources), [s[:40] for s in sources]
        viewer = page.locator('iframe[title="Before and after viewer"]').content_frame
        shown = viewer.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
        assert shown and all(src.startswith("data:image/jpeg;base64,") for src in shown), [s[:40] for s in shown]
        assert page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        shot(page, JOURNEY, "a1-photos-inline")

        page.get_by_role("button", name="Enlarge").first.click()
        dialog = page.get_by_role("dialog")
        dialog.locator('[data-testid="stImage"] img').wait_for()
        wait_rendered(page)
        assert dialog.locator("img").first.get_attribute("src").startswith("data:image/jpeg;base64,")
        shot(page, JOURNEY, "a2-enlarged-inline")

        assert traffic.media() == []
        # Everything the page asked the server for, asked again without the session: no photo (JPEG) comes back.
        leaks = []
        for url in sorted(set(traffic.urls)):
            if url.startswith(base) and "/_stcore/stream" not in url:
                status, _kind, body = fetch(url)
                if status == 200 and body.startswith(b"\xff\xd8"):
                    leaks.append(url)
        assert leaks == []


# --- (b) downloads after the idle limit ------------------------------------------------------------------------

def test_progress_report_after_idle_is_not_made(idle_server):
    base, passwords, data_dir = idle_server
    with browser_page() as page:
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        navigate(page, f"/progress?mrn={patient_with_photos(data_dir)}")
        page.get_by_role("button", name="Download progress report").wait_for()
        wait_rendered(page)
        click_when_idle(page, "Download progress report", data_dir, "report", "b1-report-after-idle", base)


def test_lot_csv_after_idle_is_not_made(idle_server):
    base, passwords, data_dir = idle_server
    lot = query(data_dir, "SELECT lot_number FROM treatment_session WHERE lot_number IS NOT NULL LIMIT 1")[0][0]
    with browser_page() as page:
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        open_menu(page, "Lot lookup")
        page.get_by_role("textbox", name="Lot number").fill(lot)
        page.get_by_role("button", name="Look up").click()
        page.get_by_role("button", name="Download CSV").wait_for()
        wait_rendered(page)
        click_when_idle(page, "Download CSV", data_dir, "export", "b2-lot-csv-after-idle", base)


def test_audit_csv_after_idle_is_not_made(idle_server):
    base, passwords, data_dir = idle_server
    with browser_page() as page:
        sign_in(page, base, "demo.admin", passwords["demo.admin"])
        navigate(page, "/audit_trail")  # (the admin's menu may fold it under "View more")
        page.get_by_role("button", name="Download audit trail (CSV)").wait_for()
        wait_rendered(page)
        click_when_idle(page, "Download audit trail (CSV)", data_dir, "export", "b3-audit-csv-after-idle", base)


# --- (c) a download while signed in -------------------------------------------------------------------------------

def test_report_is_made_once_and_its_url_expires(server):
    base, passwords, data_dir = server
    mrn = patient_with_photos(data_dir)
    with browser_page() as page:
        traffic = Traffic(page)
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        navigate(page, f"/progress?mrn={mrn}")
        button = page.get_by_role("button", name="Download progress report")
        button.wait_for()
        wait_rendered(page)
        assert traffic.media() == []  # drawing the button made nothing
        before = audit_count(data_dir, "report")
        with page.expect_download(timeout=120_000) as download:
            button.click()
        assert download.value.path().read_bytes().startswith(b"%PDF-")
        wait_rendered(page)
        assert "Signed in as demo.clinician" in page.inner_text("body")
        assert audit_count(data_dir, "report") == before + 1
        [url] = traffic.media()
        shot(page, JOURNEY, "c1-report-downloaded")
        # While the made file is still there, only the signed-in browser (its sign-in cookie) may fetch it.
        assert fetch(url)[0] == 403
        stranger = page.context.browser.new_context()  # a second browser context, without the session
        try:
            assert stranger.request.get(url).status == 403
        finally:
            stranger.close()

        page.wait_for_timeout(DOWNLOAD_LIFETIME_S * 1000 + 3000)
        assert page.context.request.get(url).status == 404  # gone, also for the signed-in browser


# --- (d) a replayed download request after signing out ----------------------------------------------------------

def test_replayed_download_request_after_sign_out_makes_nothing(server):
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    base, passwords, data_dir = server
    sockets, received = [], []

    def relay(ws) -> None:
        upstream = ws.connect_to_server()
        ws.on_message(lambda message: upstream.send(message))
        upstream.on_message(lambda message: (received.append(message), ws.send(message)))
        sockets.append(upstream)

    def button_file_ids() -> list[str]:
        ids = []
        for message in received:
            if isinstance(message, bytes):
                forward = ForwardMsg()
                forward.ParseFromString(message)
                if forward.WhichOneof("type") == "delta" and forward.delta.new_element.HasField("download_button"):
                    ids.append(forward.delta.new_element.download_button.deferred_file_id)
        return [i for i in ids if i]

    with browser_page() as page:
        page.route_web_socket(re.compile(r".*/_stcore/stream"), relay)
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        navigate(page, f"/progress?mrn={patient_with_photos(data_dir)}")
        page.get_by_role("button", name="Download progress report").wait_for()
        wait_rendered(page)
        file_id = button_file_ids()[-1]
        before = audit_count(data_dir, "report")

        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in").wait_for()
        wait_rendered(page)
        received.clear()
        request = BackMsg()
        request.backend_operation_request.request_id = "replayed-after-sign-out"
        request.backend_operation_request.deferred_file.file_id = file_id
        sockets[-1].send(request.SerializeToString())
        deadline = time.time() + 20
        answer = None
        while answer is None and time.time() < deadline:
            page.wait_for_timeout(200)
            for message in received:
                forward = ForwardMsg()
                forward.ParseFromString(message) if isinstance(message, bytes) else None
                if forward.WhichOneof("type") == "backend_operation_response":
                    answer = forward.backend_operation_response
        assert answer is not None and answer.request_id == "replayed-after-sign-out"
        assert answer.error_msg and not answer.deferred_file.url
        assert audit_count(data_dir, "report") == before
        shot(page, JOURNEY, "d1-replay-after-sign-out")
