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
        yield base, cli


def test_a_disabled_clinician_is_signed_out_at_the_next_click(server):
    base, cli = server
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
