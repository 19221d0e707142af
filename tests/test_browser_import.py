"""Browser journey (issue #12, "Import in the browser"): a clinician uploads the clinic's three spreadsheets, checks
them (what the import will add), imports them (progress bar, then the command line's summary) and finds the patients
in the Patients list; a bad visits file is refused with every problem in a table (file, row, column, reason) and
nothing is imported, counted in the database itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from db import models
from tests.browser import (
    browser_page,
    clinic_with_accounts,
    dataframe_rows,
    open_menu,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from tests.import_samples import PATIENTS, SESSIONS, VISITS, files
from tracker.database import transaction

USERNAME, PASSWORD = "dr.import", "Spreadsheet-Journey-4418"
JOURNEY = "import"
UPLOADERS = ("Patients file", "Treatment sessions file", "Visits file")


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    data_dir, env = clinic_with_accounts(tmp_path_factory, "browser-import", ("clinician", USERNAME, PASSWORD))
    with streamlit_server(data_dir) as base:
        yield base, f"sqlite:///{data_dir / 'tracker.db'}"


def rows_in_database(url: str) -> dict[str, int]:
    with transaction(url) as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (models.Patient, models.TreatmentSession, models.Visit, models.DensityMeasurement)}


def choose_files(page, paths: tuple[Path, ...]) -> None:
    for label, path in zip(UPLOADERS, paths, strict=True):
        uploader = page.get_by_test_id("stFileUploader").filter(has_text=label)
        uploader.locator("input[type=file]").set_input_files(str(path))
        uploader.get_by_text(path.name).wait_for()  # uploaded: the file is listed under its uploader
        wait_rendered(page)


def check_files(page) -> None:
    button = page.get_by_role("button", name="Check files")
    button.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('button')].some("
                           "b => b.innerText.trim() === 'Check files' && !b.disabled)")
    button.click()
    wait_rendered(page)


def test_a_clinician_checks_and_imports_the_clinics_spreadsheets(clinic, tmp_path):
    base, url = clinic
    paths = files(tmp_path)
    before = rows_in_database(url)
    with browser_page(viewport=(1400, 1400)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        open_menu(page, "Import spreadsheets")
        page.get_by_role("heading", name="Import spreadsheets").wait_for()
        choose_files(page, paths)
        shot(page, JOURNEY, "01-files-chosen")

        check_files(page)
        page.get_by_text("The files passed every check. Importing them now would give:").wait_for()
        preview = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert [(row["Records"], row["New (to be added)"], row["Already present (left as they are)"])
                for row in preview] == [("patients", "3", "0"), ("treatment sessions", "3", "0"), ("visits", "4", "0"),
                                        ("density measurements", "5", "0")]
        assert rows_in_database(url) == before  # checking imports nothing
        shot(page, JOURNEY, "02-checked")

        page.get_by_role("button", name="Import", exact=True).click()
        page.get_by_text("Import complete.").wait_for()
        wait_rendered(page)
        summary = page.get_by_test_id("stAlertContentSuccess").inner_text()
        assert summary.splitlines() == [
            "Import complete.", "patients: 3 added, 0 already present",
            "treatment sessions: 3 added, 0 already present", "visits: 4 added, 0 already present",
            "density measurements: 5 added, 0 already present"]
        assert page.get_by_role("button", name="Import", exact=True).count() == 0
        shot(page, JOURNEY, "03-imported")
        assert rows_in_database(url) == {key: before[key] + added for key, added in
                                         {"Patient": 3, "TreatmentSession": 3, "Visit": 4,
                                          "DensityMeasurement": 5}.items()}

        open_menu(page, "Patients")
        listed = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert {(row["MRN"], row["Name"]) for row in listed} >= {
            ("RT-001", "Jane Doe"), ("RT-002", "Omar Haddad"), ("RT-003", "Mei Lin")}
        shot(page, JOURNEY, "04-patients-list")
    assert not server_alarms(base)


def test_a_bad_visits_file_is_refused_with_every_problem_and_nothing_is_imported(clinic, tmp_path):
    base, url = clinic
    patients = [PATIENTS[0], ["RT-501", "Lea Brandt", "female", "1983-07-09", "telogen_effluvium"]]
    sessions = [SESSIONS[0], ["RT-501", "2025-02-03", "prp", "", ""]]
    visits = [VISITS[0], ["RT-501", "2025-02-03", "abc", "primary"], ["RT-502", "2025-02-03", "150", ""],
              ["RT-501", "2025-02-30", "160", ""], ["RT-501", "2025-02-04", "150", "primary", "vertex 140"]]
    before = rows_in_database(url)
    with browser_page(viewport=(1400, 1400)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        open_menu(page, "Import spreadsheets")
        choose_files(page, files(tmp_path, patients, sessions, visits))
        check_files(page)
        page.get_by_text("4 problems found in the spreadsheets; nothing was imported").wait_for()
        problems = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert problems == [
            {"File": "visits.csv", "Row": "2", "Column": "density_per_cm2",
             "Reason": "density_per_cm2 'abc' is not a number (more than 0 and at most 600 hairs/cm²)"},
            {"File": "visits.csv", "Row": "3", "Column": "mrn",
             "Reason": "MRN 'RT-502' is neither in patients.csv nor in the database"},
            {"File": "visits.csv", "Row": "4", "Column": "date",
             "Reason": "date '2025-02-30' is not a real date: February 2025 has 28 days"},
            {"File": "visits.csv", "Row": "5", "Column": "",
             "Reason": "1 value(s) to the right of the last named column; is there a comma or semicolon inside a value "
                       "that is not in quotes?"},
        ]
        assert page.get_by_role("button", name="Import", exact=True).count() == 0
        shot(page, JOURNEY, "05-problems")
    assert rows_in_database(url) == before
    with transaction(url) as session:
        assert session.scalar(select(models.Patient.id).where(models.Patient.mrn == "RT-501")) is None
    assert not server_alarms(base)
