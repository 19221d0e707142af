"""Browser journey (patient): sign in from the demo data → chart and milestone cards → before/after →
download the PDF report (valid PDF with the patient's name and no other patient's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.browser import (
    ROOT,
    browser_page,
    load_demo_clinic,
    require_chromium,
    shot,
    sign_in,
    streamlit_server,
    wait_idle,
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
        assert "DEMO-0001" in body and "DEMO-0002" not in body
        assert "What comes next" in body
        shot(page, "patient", "02-progress-cards")
        chart = page.locator(".js-plotly-plot").first
        chart.scroll_into_view_if_needed()
        chart.screenshot(path=str(shot(page, "patient", "03-progress-chart")))
        # the photo record: which views were photographed at which visits
        record = page.get_by_text("Photo record").first
        record.scroll_into_view_if_needed()
        page.get_by_text("Open the photo timeline and before/after").first.wait_for()
        assert re.search(r"\d+ photos at \d+ visits", page.inner_text("body"))
        shot(page, "patient", "03b-photo-record")
        # the menu offers only the patient's own pages
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Progress" in nav and "Patients" not in nav and "Log visit" not in nav
        # a crafted URL for another record shows nothing of it
        # (in the same signed-in session, as typing the address into the running app does)
        page.evaluate("path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
                      "/progress?mrn=DEMO-0002")
        wait_idle(page)
        page.get_by_text("not available to your account").first.wait_for()
        body = page.inner_text("body")
        assert all(name not in body for name in other_names(data_dir, ""))
        shot(page, "patient", "04-other-mrn-refused")

        # before/after on the Photos page
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Photos", exact=True).click()
        wait_idle(page)
        page.get_by_text("Before and after").first.wait_for()
        page.get_by_text("Fade from before").first.wait_for()
        assert page.locator('[data-testid="stImage"] img').count() >= 3
        body = page.inner_text("body")
        assert "DEMO-0002" not in body
        page.get_by_text("Before and after").first.scroll_into_view_if_needed()
        shot(page, "patient", "05-before-after")

        # the PDF report: valid, with this patient's name and nobody else's
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Progress", exact=True).click()
        wait_idle(page)
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
