"""Browser journey (patient): sign in from the demo data → chart and milestone cards in the patient's words →
before/after → download the PDF report (valid PDF with the patient's name and no other patient's). And the consult
screen a clinician shows that patient: one area at a time, in the patient's words, without long scrolling."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.browser import (
    ROOT,
    browser_page,
    choose,
    load_demo_clinic,
    navigate,
    open_menu,
    require_chromium,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)


@pytest.fixture(scope="module")
def demo_clinic(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-patient") / "data"
    passwords = load_demo_clinic(data_dir)
    with streamlit_server(data_dir) as base:
        yield base, passwords, data_dir


def test_patient_sees_own_chart_cards_photos_and_report(demo_clinic):
    base, passwords, data_dir = demo_clinic
    with browser_page() as page:
        sign_in(page, base, "demo.patient", passwords["demo.patient"])
        page.get_by_text("Milestones").first.wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        wait_rendered(page)  # the chart comes before the cards: on a busy machine they may not be drawn yet
        shot(page, "patient", "01-signed-in")
        assert page.locator(".js-plotly-plot").count() >= 1
        body = page.inner_text("body")
        assert text_of_own_name(data_dir) in body and "DEMO-0002" not in body
        assert "What comes next" in body
        assert_patient_words(body)
        shot(page, "patient", "02-progress-cards")
        chart = page.locator(".js-plotly-plot").first
        chart.scroll_into_view_if_needed()
        chart.screenshot(path=str(shot(page, "patient", "03-progress-chart")))
        # the glossary instead of the photo record's checks, and a way to the patient's own photos
        page.get_by_text("What the words mean").first.click()
        page.get_by_text("Hairs per square centimetre").first.wait_for()
        page.get_by_text("See your photos and compare them over time").first.scroll_into_view_if_needed()
        assert not re.search(r"\d+ photos at \d+ visits", page.inner_text("body"))
        shot(page, "patient", "03b-glossary")
        # the menu offers only the patient's own pages
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Progress" in nav and "Patients" not in nav and "Log visit" not in nav
        # a crafted URL for another record shows nothing of it
        # (in the same signed-in session, as typing the address into the running app does)
        navigate(page, "/progress?mrn=DEMO-0002")
        page.get_by_text("not available to your account").first.wait_for()
        body = page.inner_text("body")
        assert all(name not in body for name in other_names(data_dir, ""))
        shot(page, "patient", "04-other-mrn-refused")

        # before/after on the Photos page
        open_menu(page, "Photos", timeout=120_000)
        page.get_by_text("Before and after").first.wait_for()
        page.get_by_text("Compare closely").first.wait_for(timeout=120_000)
        assert page.locator('[data-testid="stImage"] img').count() >= 3
        body = page.inner_text("body")
        assert "DEMO-0002" not in body
        page.get_by_text("Before and after").first.scroll_into_view_if_needed()
        shot(page, "patient", "05-before-after")

        # the PDF report: valid, with this patient's name and nobody else's
        open_menu(page, "Progress")
        with page.expect_download(timeout=120_000) as download_info:
            page.get_by_role("button", name="Download progress report").click()
        pdf = download_info.value.path().read_bytes()
        assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
        pdf_path = data_dir.parent / "report.pdf"
        pdf_path.write_bytes(pdf)
        text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True).stdout
        own_name = text_of_own_name(data_dir)
        assert own_name in text and "DEMO-0001" in text
        assert not any(other in text for other in other_names(data_dir, own_name))


# What the patient's words leave out (issue #11): MRN, protocol name, the evidence note's studies, photo-record checks.
STAFF_ONLY = ("DEMO-0001", "MRN", "protocol", "Exosome (default)", "TrichoScan", "open-label", "n = 16",
              "16 patients", "Photo record", "Before/after comparisons need")


def assert_patient_words(body: str) -> None:
    leaks = [word for word in STAFF_ONLY if word in body]
    assert not leaks, leaks
    assert "Results vary from person to person; this range is a guide, not a promise." in body
    assert "What the words mean" in body


def test_consult_screen_speaks_to_the_patient_one_area_at_a_time(demo_clinic):
    base, passwords, data_dir = demo_clinic
    own_name = text_of_own_name(data_dir)
    with browser_page(viewport=(1600, 1000)) as page:  # a consulting-room screen
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        page.get_by_role("heading", name="Patients").wait_for()
        choose(page, "Patient", f"DEMO-0001 — {own_name}")
        open_menu(page, "Progress")
        page.get_by_role("button", name="Consult mode: show this to the patient").click()
        page.get_by_text("Clinician: end the consult").wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        wait_rendered(page)
        body = page.inner_text("body")
        assert own_name in body
        assert_patient_words(body)
        assert page.locator(".js-plotly-plot").count() == 1  # one large chart: the chosen area's
        assert "At your" in body and "hairs per square centimetre" in body  # the area's one sentence
        shot(page, "consult", "01-consult-first-screen")  # what the patient sees before any scrolling
        heights = [whole_screen(page, "02-consult-area-1")]
        areas = page.get_by_role("radiogroup", name="Area of the scalp").get_by_role("radio")
        assert areas.count() == 2  # the demo patient's two areas: frontal and vertex
        for index in range(1, areas.count()):  # every other area, one at a time
            areas.nth(index).click()
            wait_rendered(page)
            assert page.locator(".js-plotly-plot").count() == 1
            heights.append(whole_screen(page, f"02-consult-area-{index + 1}"))
        page.get_by_text("What the words mean").first.click()
        page.get_by_text("Hairs per square centimetre").first.wait_for()
        whole_screen(page, "03-consult-glossary")
        # The conversation fits on about one screen and a half: no scrolling through four screens.
        assert max(heights) <= 1.6 * 1000, heights


def whole_screen(page, step: str) -> int:
    """A screenshot of the whole consult screen (Streamlit scrolls inside its main block, which a full-page
    screenshot does not see: the window is made as tall as that block for it); returns the block's height."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": height})
    wait_rendered(page)
    shot(page, "consult", step)
    page.set_viewport_size({"width": 1600, "height": 1000})
    wait_rendered(page)
    return height


def _names(data_dir) -> dict[str, str]:
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    script = ("from tracker.database import transaction\nfrom db import models\n"
              "from sqlalchemy import select\n"
              "with transaction() as s:\n    [print(m, n, sep='|') for m, n in s.execute(select(models.Patient.mrn, "
              "models.Patient.full_name))]")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


def text_of_own_name(data_dir) -> str:
    return _names(data_dir)["DEMO-0001"]


def other_names(data_dir, own: str) -> list[str]:
    return [name for mrn, name in _names(data_dir).items() if mrn != "DEMO-0001"]
