"""Browser journey (issue #15, data exports), against ``streamlit run`` on the demo clinic: a clinician downloads a
patient's complete data as XLSX from the patient record, the patient downloads their own as a zip of CSVs from
their progress page, and an admin downloads the clinic's workbook. Each file is made when clicked, opened here
with openpyxl (or zipfile and csv), and audited once as an export."""

from __future__ import annotations

import csv
import io
import sqlite3
import zipfile
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import (
    browser_page,
    load_demo_clinic,
    navigate,
    require_chromium,
    server_log,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)

JOURNEY = "exports"
STAFF_SHEETS = ["Patient", "Visits", "Density measurements", "Scale scores", "Treatment sessions",
                "Concurrent therapies", "Photos", "Corrections", "Removals"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-exports") / "data"
    passwords = load_demo_clinic(data_dir, limit=3)
    with streamlit_server(data_dir) as base:
        yield base, passwords, data_dir


def query(data_dir: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(data_dir / "tracker.db") as db:
        return db.execute(sql, args).fetchall()


def exports(data_dir: Path) -> list[tuple]:
    return query(data_dir, "SELECT username, patient_id, detail FROM audit_entry WHERE action = 'export' ORDER BY id")


def _download(page, base: str, button: str) -> bytes:
    wait_rendered(page)
    try:
        with page.expect_download(timeout=180_000) as download:
            page.get_by_role("button", name=button).click()
    except PlaywrightTimeout:
        pytest.fail(f"no download from {button!r}; the server said:\n{server_log(base)[-3000:]}")
    return download.value.path().read_bytes()


def test_a_clinician_downloads_a_patients_data_as_xlsx(server):
    base, passwords, data_dir = server
    (mrn, patient_id, visits), = query(
        data_dir, "SELECT p.mrn, p.id, (SELECT count(*) FROM visit v WHERE v.patient_id = p.id AND v.deleted_at IS "
                  "NULL) FROM patient p ORDER BY p.mrn LIMIT 1")
    before = exports(data_dir)
    with browser_page(viewport=(1400, 1200)) as page:
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        navigate(page, f"/patient_record?mrn={mrn}")
        page.get_by_role("button", name="Download all data (XLSX)").wait_for()
        shot(page, JOURNEY, "1-patient-record-buttons")
        data = _download(page, base, "Download all data (XLSX)")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == STAFF_SHEETS
    assert book["Patient"]["A2"].value == mrn
    assert book["Visits"].max_row == visits + 1  # the header, then one row per live visit
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)
    new = exports(data_dir)[len(before):]
    assert [(user, who) for user, who, _ in new] == [("demo.clinician", patient_id)]
    assert new[0][2].startswith("patient data export (XLSX): Patient 1, Visits ")


def test_a_patient_downloads_their_own_data_as_csv_files(server):
    base, passwords, data_dir = server
    (mrn, patient_id), = query(data_dir, "SELECT p.mrn, p.id FROM user_account u JOIN patient p ON p.id = u.patient_id "
                                         "WHERE u.username = 'demo.patient'")
    before = exports(data_dir)
    with browser_page(viewport=(1400, 1400)) as page:
        sign_in(page, base, "demo.patient", passwords["demo.patient"])
        navigate(page, "/progress")
        button = page.get_by_role("button", name="Download all data (CSV, zip)")
        button.wait_for(timeout=60_000)
        button.scroll_into_view_if_needed()
        shot(page, JOURNEY, "2-patient-own-progress")
        data = _download(page, base, "Download all data (CSV, zip)")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        patient_rows = list(csv.reader(io.StringIO(archive.read("patient.csv").decode("utf-8-sig"))))
    # The patient's own export: no sheet of the clinicians' correction reasons.
    assert names == ["patient.csv", "visits.csv", "density_measurements.csv", "scale_scores.csv",
                     "treatment_sessions.csv", "concurrent_therapies.csv", "photos.csv"]
    assert [row[0] for row in patient_rows] == ["MRN", mrn]
    new = exports(data_dir)[len(before):]
    assert [(user, who) for user, who, _ in new] == [("demo.patient", patient_id)]


def test_an_admin_downloads_the_clinic_workbook(server):
    base, passwords, data_dir = server
    mrns = [row[0] for row in query(data_dir, "SELECT mrn FROM patient WHERE deleted_at IS NULL ORDER BY mrn")]
    with browser_page(viewport=(1400, 900)) as page:
        sign_in(page, base, "demo.admin", passwords["demo.admin"])
        navigate(page, "/clinic_export")
        page.get_by_role("button", name="Download clinic data (XLSX)").wait_for()
        shot(page, JOURNEY, "3-clinic-export-page")
        data = _download(page, base, "Download clinic data (XLSX)")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == STAFF_SHEETS
    assert [row[0].value for row in book["Patient"].iter_rows(min_row=2)] == mrns
    user, who, detail = exports(data_dir)[-1]
    assert (user, who) == ("demo.admin", None)
    assert detail.startswith(f"clinic data export (XLSX); {len(mrns)} patients")
