"""Browser journey (accounts), against ``streamlit run``: a refused sign-in says the one refusal sentence; a
clinician signed in and working is signed out at their next click once an admin disables the account on
the command line; the account, enabled again, signs in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.browser import (
    ROOT,
    browser_page,
    navigate,
    open_menu,
    require_chromium,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from tracker.access.sign_in import REFUSED

CLINICIAN, PASSWORD = "dr.leaving", "Leaving-Clinic-7731"
JOURNEY = "accounts"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-accounts") / "data"
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)

    def cli(*args: str, stdin: str | None = None) -> str:
        return subprocess.run([sys.executable, "-m", "tracker", *args], input=stdin, cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300, check=True).stdout

    cli("user", "add", "--role", "admin", "--username", "boss", "--password-stdin", stdin="Boss-Passphrase-5521\n")
    cli("user", "add", "--role", "clinician", "--username", CLINICIAN, "--password-stdin", stdin=PASSWORD + "\n")
    with streamlit_server(data_dir) as base:
        yield base, cli, data_dir


def test_a_disabled_clinician_is_signed_out_at_the_next_click(server):
    base, cli, _ = server
    with browser_page() as page:
        page.goto(base)
        page.get_by_role("textbox", name="Username").fill(CLINICIAN)
        page.get_by_role("textbox", name="Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(REFUSED, exact=True).wait_for()
        shot(page, JOURNEY, "1-refused")

        sign_in(page, base, CLINICIAN, PASSWORD)
        page.get_by_role("heading", name="Patients", exact=True).wait_for()
        cli("user", "disable", CLINICIAN)
        open_menu(page, "Schedule")  # the next click: the session is checked against the account
        page.get_by_role("button", name="Sign in").wait_for()
        page.get_by_text("You are signed out: your account was disabled").wait_for()
        wait_rendered(page)
        assert page.get_by_test_id("stSidebarNav").count() == 0
        assert page.get_by_role("heading", name="Schedule", exact=True).count() == 0
        shot(page, JOURNEY, "2-signed-out-after-disable")

        page.get_by_role("textbox", name="Username").fill(CLINICIAN)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(REFUSED, exact=True).wait_for()  # disabled: the same sentence as any refusal

        cli("user", "enable", CLINICIAN)
        sign_in(page, base, CLINICIAN, PASSWORD)
        page.get_by_role("heading", name="Patients", exact=True).wait_for()
        shot(page, JOURNEY, "3-enabled-again")


def test_a_download_clicked_after_the_account_was_disabled_makes_nothing(server):
    """A download click runs no page (``ui.private_media``), so the download itself checks the account: once an
    admin is disabled, the audit CSV their open page still offers is not made (no file, no export audited)."""
    import sqlite3

    base, cli, data_dir = server
    cli("user", "add", "--role", "admin", "--username", "auditor", "--password-stdin",
        stdin="Auditor-Passphrase-8842\n")

    def exports() -> int:
        with sqlite3.connect(data_dir / "tracker.db") as db:
            return db.execute("SELECT count(*) FROM audit_entry WHERE action = 'export'").fetchone()[0]

    with browser_page() as page:
        downloads: list = []
        page.on("download", lambda download: downloads.append(download))
        sign_in(page, base, "auditor", "Auditor-Passphrase-8842")
        navigate(page, "/audit_trail")
        button = page.get_by_role("button", name="Download audit trail (CSV)")
        button.wait_for()
        wait_rendered(page)
        before = exports()
        cli("user", "disable", "auditor")
        button.click()
        page.get_by_text("Failed to generate file for download").wait_for()
        page.wait_for_timeout(2000)  # time for a file the callable might still have made
        shot(page, JOURNEY, "4-download-after-disable")
        assert downloads == [] and exports() == before
        open_menu(page, "Patients")  # and the next click signs the page out
        page.get_by_text("You are signed out: your account was disabled").wait_for()
