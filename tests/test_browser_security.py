"""Browser journeys (security), against ``streamlit run`` with the demo clinic, a clinician account and one
patient whose name, visit note and lot number are hostile text:

(a) hostile text is shown literally (patients list, record, session message, lot lookup): no element,
    script or link is made of it and no dialog opens;
(b) URLs reach nothing they should not: signed out, clinician on admin pages, patient on staff pages or
    another patient's progress;
(c) consult mode: no menu and no other patient anywhere, the URL cannot leave it, only the clinician's
    password ends it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.browser import (
    ROOT,
    browser_page,
    choose,
    dataframe_rows,
    dialogs_seen,
    navigate,
    open_menu,
    require_chromium,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from ui.consult_mode import CONSULT_REFUSED

CLINICIAN, CLINICIAN_PASSWORD = "dr.guard", "Consult-Screen-4821"
HOSTILE_MRN = "XSS-0001"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_NOTE = "**bold** <script>alert(3)</script> [click](javascript:alert(4)) <b>raw</b>"
HOSTILE_LOT = "<img src=x onerror=alert(2)>*LOT*"
HOSTILE_SESSION_NOTE = "<svg onload=alert(5)> _under_ :smile:"
JOURNEY = "security"

# Registers the hostile patient with a visit carrying the hostile note, through the services (as the command
# line does), and prints every patient's MRN and name.
SEED = """
import json, sys
from datetime import date, timedelta
from tracker.access.actors import command_line_actor
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.patient_list import list_patients
from tracker.records.visit_form import SiteEntry, VisitEntry
from tracker.records.visits import log_visit

mrn, name, note = sys.argv[1:4]
actor = command_line_actor("browser-test")
create_patient(actor, NewPatient(mrn=mrn, full_name=name, sex="female", birth_date="1975-06-01",
                                 condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
                                 target_areas="vertex"))
log_visit(actor, mrn, VisitEntry(date=date.today() - timedelta(days=10), sites=[SiteEntry("vertex", 120)],
                                 notes=note))
print(json.dumps({p.mrn: p.full_name for p in list_patients(actor)}))
"""


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """(base URL, demo passwords, {MRN: name} of every patient)."""
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-security") / "data"
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)

    def run(*args: str, stdin: str | None = None) -> str:
        return subprocess.run([sys.executable, *args], input=stdin, cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300, check=True).stdout

    demo = run("-m", "tracker", "demo", "--limit", "4", "--no-photos")
    passwords = dict(re.findall(r"^\s+(demo\.\w+)\s+\w+\s+password: (\S+)", demo, re.MULTILINE))
    run("-m", "tracker", "user", "add", "--role", "clinician", "--username", CLINICIAN, "--password-stdin",
        stdin=CLINICIAN_PASSWORD + "\n")
    names = json.loads(run("-c", SEED, HOSTILE_MRN, HOSTILE_NAME, HOSTILE_NOTE))
    assert names[HOSTILE_MRN] == HOSTILE_NAME and {"DEMO-0001", "DEMO-0002"} <= set(names)
    with streamlit_server(data_dir) as base:
        yield base, passwords, names


def body(page) -> str:
    return page.inner_text("body")


def assert_inert(page) -> None:
    """Nothing typed became markup: no image, handler, script, link or dialog came from it."""
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("[onerror], [onload]").count() == 0
    assert page.evaluate("() => [...document.scripts].filter(s => s.textContent.includes('alert(')).length") == 0
    assert page.locator('a[href^="javascript"]').count() == 0
    assert page.locator("strong", has_text=re.compile(r"^(bold|raw|LOT)$")).count() == 0
    assert dialogs_seen(page) == []


def assert_signed_out(page) -> None:
    page.get_by_role("button", name="Sign in").wait_for()
    wait_rendered(page)
    assert page.get_by_test_id("stSidebarNav").count() == 0


def others(names: dict[str, str], mrn: str) -> list[str]:
    """Every other patient's MRN and name."""
    return [text for other, name in names.items() if other != mrn for text in (other, name)]


# --- (a) hostile text -------------------------------------------------------------------------------------

def test_hostile_text_is_shown_literally(clinic):
    base, _passwords, _names = clinic
    with browser_page(viewport=(1400, 1800)) as page:
        sign_in(page, base, CLINICIAN, CLINICIAN_PASSWORD)

        # Patients list: the row (a canvas grid, read through its accessible table) and the chooser.
        page.get_by_role("textbox", name="Search by name or MRN").fill(HOSTILE_MRN)
        page.keyboard.press("Enter")
        page.get_by_text("Showing 1–1 of 1", exact=True).wait_for()
        wait_rendered(page)
        rows = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert [(r["MRN"], r["Name"]) for r in rows] == [(HOSTILE_MRN, HOSTILE_NAME)]
        page.get_by_role("combobox", name="Patient", exact=True).click()
        option = page.get_by_role("option", name=f"{HOSTILE_MRN} — {HOSTILE_NAME}", exact=True)
        option.wait_for()
        assert f"{HOSTILE_MRN} — {HOSTILE_NAME}" in body(page)
        assert_inert(page)
        shot(page, JOURNEY, "a1-patients-list")
        option.click()
        wait_rendered(page)

        # The record: the name as the title, the note in the timeline.
        page.get_by_role("button", name="Open the record").click()
        page.get_by_role("heading", name=HOSTILE_NAME).wait_for()
        wait_rendered(page)
        assert HOSTILE_NAME in body(page)
        rows = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert [r["Notes"] for r in rows] == [HOSTILE_NOTE]
        assert_inert(page)
        shot(page, JOURNEY, "a2-record")

        # A session with a hostile lot number and note: the saved message quotes the lot literally.
        open_menu(page, "Log treatment session")
        page.get_by_role("button", name="Save session").wait_for()
        wait_rendered(page)
        assert f"{HOSTILE_NAME} · MRN {HOSTILE_MRN}" in body(page)
        page.get_by_role("textbox", name="Product").fill("ExoHair serum")
        page.get_by_role("textbox", name="Lot / batch number (required for exosome)").fill(HOSTILE_LOT)
        page.get_by_role("textbox", name="Notes").fill(HOSTILE_SESSION_NOTE)
        page.get_by_role("button", name="Save session").click()
        saved = page.get_by_test_id("stAlertContentSuccess").first
        saved.wait_for()
        wait_rendered(page)
        assert re.fullmatch(r"Exosome session of \d{4}-\d\d-\d\d saved, lot " + re.escape(HOSTILE_LOT) + r"\.",
                            saved.inner_text().strip()), saved.inner_text()
        assert_inert(page)
        shot(page, JOURNEY, "a3-session-saved")

        open_menu(page, "Patient record")
        page.get_by_role("heading", name=HOSTILE_NAME).wait_for()
        wait_rendered(page)
        rows = {r["Entry"]: r for r in dataframe_rows(page.get_by_test_id("stDataFrame").first)}
        assert rows["Exosome session"]["Lot"] == HOSTILE_LOT
        assert rows["Exosome session"]["Notes"] == HOSTILE_SESSION_NOTE
        assert rows["Visit"]["Notes"] == HOSTILE_NOTE
        assert_inert(page)
        shot(page, JOURNEY, "a4-record-with-session")

        open_menu(page, "Progress")
        page.get_by_role("heading", name=HOSTILE_NAME).wait_for()
        wait_rendered(page)
        assert f"MRN {HOSTILE_MRN}" in body(page)
        assert_inert(page)
        shot(page, JOURNEY, "a5-progress")

        # Lot lookup: the searched lot echoed as plain text, the patient found by it.
        open_menu(page, "Lot lookup")
        page.get_by_role("textbox", name="Lot number").fill(HOSTILE_LOT)
        page.get_by_role("button", name="Look up").click()
        page.get_by_text(f"Searched lot number (exact): {HOSTILE_LOT}", exact=True).wait_for()
        wait_rendered(page)
        rows = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert [(r["Name"], r["Lot number"]) for r in rows] == [(HOSTILE_NAME, HOSTILE_LOT)]
        assert_inert(page)
        shot(page, JOURNEY, "a6-lot-lookup")


# --- (b) URL access -----------------------------------------------------------------------------------------

def test_signed_out_urls_show_only_the_sign_in_page(clinic):
    base, _passwords, names = clinic
    with browser_page() as page:
        for path in ("/patients", "/protocols", "/audit_trail", "/progress?mrn=DEMO-0002"):
            page.goto(base + path)
            assert_signed_out(page)
            text = body(page)
            assert "Username" in text and "Password" in text, path
            for title in ("Patients", "Protocols", "Audit trail", "Progress"):
                assert page.get_by_role("heading", name=title, exact=True).count() == 0, path
            assert not [t for t in names.items() for t in t if t in text], path
            assert not [t for t in names.values() if t in page.content()], path
            shot(page, JOURNEY, f"b1-signed-out{re.sub(r'[/?=]', '-', path)}")


def test_clinician_cannot_open_admin_pages_by_url(clinic):
    base, _passwords, _names = clinic
    with browser_page() as page:
        sign_in(page, base, CLINICIAN, CLINICIAN_PASSWORD)
        page.get_by_role("heading", name="Patients").wait_for()
        nav = page.get_by_test_id("stSidebarNav").inner_text()
        assert "Protocols" not in nav and "Accounts" not in nav and "Audit trail" not in nav
        navigate(page, "/lot_lookup")  # a page of the clinician's: the URL does lead there
        page.get_by_role("heading", name="Lot lookup", exact=True).wait_for()
        for path, title, content in (("/protocols", "Protocols", "Expected band"),
                                     ("/accounts", "Accounts", "Create an account")):
            navigate(page, path)
            # Still signed in, on the workspace's first page: the patient list, fully drawn.
            page.get_by_role("heading", name="Patients", exact=True).wait_for()
            page.get_by_role("combobox", name="Patient", exact=True).wait_for()
            wait_rendered(page)
            text = body(page)
            assert page.get_by_role("heading", name=title, exact=True).count() == 0
            assert content not in text and "demo.admin" not in text and CLINICIAN_PASSWORD not in text
            shot(page, JOURNEY, f"b2-clinician{path.replace('/', '-')}")


def test_patient_sees_nothing_of_other_patients_by_url(clinic):
    base, passwords, names = clinic
    own = "DEMO-0001"
    with browser_page() as page:
        sign_in(page, base, "demo.patient", passwords["demo.patient"])
        page.get_by_role("heading", name=names[own]).wait_for()
        navigate(page, "/photos")  # a page of the patient's: the URL does lead there
        page.get_by_role("heading", name=names[own]).wait_for()
        assert "Photos" in page.title() or "/photos" in page.url
        for path in ("/patients", "/log_visit", "/progress?mrn=DEMO-0002", f"/progress?mrn={HOSTILE_MRN}"):
            navigate(page, path)
            page.get_by_test_id("stSidebarNav").wait_for()
            wait_rendered(page)
            text, html = body(page), page.content()
            assert "Signed in as demo.patient" in text
            if "mrn=" in path:
                refusal = page.get_by_test_id("stAlertContentError")
                assert refusal.inner_text().strip() == "This record is not available to your account."
            else:  # a staff page's URL: the patient stays on their own progress
                page.get_by_role("heading", name=names[own]).wait_for()
            assert not [t for t in others(names, own) if t in text], path
            assert not [name for mrn, name in names.items() if mrn != own and name in html], path
            assert page.get_by_role("heading", name="Patients", exact=True).count() == 0
            assert page.get_by_role("heading", name="Log visit", exact=True).count() == 0
            assert_inert(page)
            shot(page, JOURNEY, f"b3-patient{re.sub(r'[/?=]', '-', path)}")


# --- (c) consult mode ---------------------------------------------------------------------------------------

def test_consult_mode_shows_one_patient_and_needs_the_password_to_leave(clinic):
    base, _passwords, names = clinic
    mrn = "DEMO-0002"
    hidden = others(names, mrn)
    with browser_page(viewport=(1400, 1600)) as page:
        sign_in(page, base, CLINICIAN, CLINICIAN_PASSWORD)
        page.get_by_role("heading", name="Patients").wait_for()
        choose(page, "Patient", f"{mrn} — {names[mrn]}")
        open_menu(page, "Progress")
        start = page.get_by_role("button", name="Consult mode: show this to the patient")
        start.wait_for()
        assert names[mrn] in body(page)
        shot(page, JOURNEY, "c1-progress")

        def assert_consult_screen(step: str) -> None:
            page.get_by_text("Clinician: end the consult").wait_for()
            wait_rendered(page)
            text, html = body(page), page.content()
            assert names[mrn] in text
            assert not page.get_by_test_id("stSidebar").is_visible()
            assert page.get_by_test_id("stSidebarNav").count() == 0
            assert "Signed in as" not in text and "Sign out" not in text
            assert not [t for t in hidden if t in text], step
            assert not [name for other, name in names.items() if other != mrn and name in html], step
            assert_inert(page)
            shot(page, JOURNEY, step)

        start.click()
        assert_consult_screen("c2-consult-screen")

        # The URL of the patient list (or another record) leads back to the consult screen.
        navigate(page, "/patients")
        assert_consult_screen("c3-consult-url-patients")
        navigate(page, f"/progress?mrn={HOSTILE_MRN}")
        assert_consult_screen("c4-consult-url-other-record")

        # Leaving: a wrong password keeps the consult screen, the right one returns to the workspace.
        page.get_by_text("Clinician: end the consult").click()
        page.get_by_label("Your password").fill("not-the-password-1")
        page.get_by_role("button", name="Back to the workspace").click()
        refused = page.get_by_text(CONSULT_REFUSED)
        refused.wait_for()
        refused.scroll_into_view_if_needed()
        assert_consult_screen("c5-consult-wrong-password")

        page.get_by_label("Your password").fill(CLINICIAN_PASSWORD)
        page.get_by_role("button", name="Back to the workspace").click()
        page.get_by_test_id("stSidebarNav").wait_for()
        wait_rendered(page)
        heading = page.get_by_role("heading", name=names[mrn])
        heading.wait_for()
        heading.scroll_into_view_if_needed()
        text = body(page)
        assert f"Signed in as {CLINICIAN}" in text
        # Back on the patient of the consult, not on the record whose URL was typed meanwhile.
        assert f"MRN {mrn}" in text and HOSTILE_MRN not in text and HOSTILE_NAME not in text
        assert page.get_by_role("button", name="Consult mode: show this to the patient").is_visible()
        shot(page, JOURNEY, "c6-back-to-workspace")
