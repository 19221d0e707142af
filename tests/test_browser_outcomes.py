"""Browser journey (issue #15, clinic outcomes), against ``streamlit run`` on the demo clinic: a clinician opens
Clinic outcomes, sees the figures the service computes, narrows the range of day 0, and downloads the XLSX, which holds
exactly the tables the service gives for that filter. A patient account has no such page."""

from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
import pytest

from tests.browser import (
    browser_page,
    load_demo_clinic,
    navigate,
    open_menu,
    require_chromium,
    shot,
    sign_in,
    streamlit_server,
    type_date,
    wait_rendered,
)
from tracker.access.actors import Actor
from tracker.progress.outcome_tables import outcome_tables
from tracker.progress.outcomes import clinic_outcomes
from tracker.safe_csv import spreadsheet_safe

JOURNEY = "outcomes"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-outcomes") / "data"
    passwords = load_demo_clinic(data_dir, limit=8)
    with streamlit_server(data_dir) as base:
        yield base, passwords, f"sqlite:///{data_dir / 'tracker.db'}"


def metric(page, label: str) -> str:
    box = page.get_by_test_id("stMetric").filter(has_text=label).first
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def test_outcomes_page_filter_and_xlsx(server):
    base, passwords, url = server
    staff = Actor("test.reader", "clinician")
    everyone = clinic_outcomes(staff, today=date.today(), url=url)
    since = date.today() - timedelta(days=300)  # the demo's courses started 2.6 to 18 months ago
    recent = clinic_outcomes(staff, start=since, today=date.today(), url=url)
    assert everyone.patients > recent.patients > 0
    with browser_page(viewport=(1500, 1800)) as page:
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        open_menu(page, "Clinic outcomes", timeout=300_000)
        # The server's first run of the page imports numpy, plotly and openpyxl: minutes on a loaded CI machine.
        page.get_by_role("heading", name="Responders").wait_for(timeout=300_000)
        wait_rendered(page)
        shot(page, JOURNEY, "1-every-condition")
        assert metric(page, "Patients") == f"{everyone.patients:,}"
        assert metric(page, "Sessions") == f"{everyone.sessions:,}"
        type_date(page, "First day 0", since)
        wait_rendered(page)
        shot(page, JOURNEY, "2-recent-courses")
        assert metric(page, "Patients") == f"{recent.patients:,}"
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="Download XLSX").click()
        data = download.value.path().read_bytes()
        wait_rendered(page)
    book = openpyxl.load_workbook(io.BytesIO(data))
    for table in outcome_tables(recent):
        rows = list(book[table.title].iter_rows(values_only=True))
        assert [tuple(row) for row in rows[1:]] == [tuple(spreadsheet_safe(c) for c in row) for row in table.rows]


def test_a_patient_account_has_no_outcomes_page(server):
    base, passwords, _url = server
    patient = next(name for name in passwords if name.startswith("demo.patient"))
    with browser_page() as page:
        sign_in(page, base, patient, passwords[patient])
        assert page.get_by_test_id("stSidebarNav").get_by_role("link", name="Clinic outcomes").count() == 0
        navigate(page, "/outcomes")
        shot(page, JOURNEY, "3-patient-account")
        assert page.get_by_role("heading", name="Responders").count() == 0
