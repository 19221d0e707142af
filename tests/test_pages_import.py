"""The "Import spreadsheets" page, driven through the app with AppTest: three uploads, "Check files" shows the
problems table (file, row, column, reason) or what the import will add, "Import" only after a clean check of these
very files, then the command line's summary; nothing is imported on any refusal.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tests.import_samples import PATIENTS, SESSIONS, VISITS, assert_clinic_imported, counts, files
from tracker.access.actors import Actor
from tracker.database import transaction

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/import_data.py"
DR = Actor(username="dr.lee", role="clinician")
ADMIN = Actor(username="admin.kim", role="admin")
KINDS = ("patients", "sessions", "visits")
NOTHING = {"Patient": 0, "TreatmentSession": 0, "Visit": 0, "DensityMeasurement": 0}


def open_page(actor: Actor = DR) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def shown(text: str) -> str:
    """What the reader sees of a Markdown string: the pages escape punctuation with backslashes."""
    return re.sub(r"\\(.)", r"\1", text)


def upload(at: AppTest, paths, round_: int = 0) -> None:
    for kind, path in zip(KINDS, paths, strict=True):
        at.file_uploader(key=f"import_{kind}_{round_}").upload(path.name, path.read_bytes(), "text/csv")
    at.run()
    assert not at.exception, at.exception


def check(at: AppTest) -> None:
    at.button(key="import_check").click().run()
    assert not at.exception, at.exception


def table(frame) -> list[dict[str, object]]:
    return frame.value.to_dict("records")


def has_button(at: AppTest, key: str) -> bool:
    return any(button.key == key for button in at.button)


@pytest.mark.parametrize("actor", [DR, ADMIN])
def test_staff_find_the_page_with_the_expected_columns(clinic, actor):
    at = open_page(actor)
    assert [t.value for t in at.title] == ["Import spreadsheets"]
    captions = [c.value for c in at.caption]
    assert "Columns: mrn, full_name, sex, birth_date, condition; optional: protocol" in captions
    assert "Columns: mrn, date, treatment, product, lot_number" in captions
    assert ("Columns: mrn, date; optional: density_per_cm2, site, salt (each row gives density_per_cm2 or salt, or "
            "both)") in captions
    assert at.button(key="import_check").disabled  # three files first
    assert not has_button(at, "import_run")


def test_patient_accounts_have_no_import_page(clinic):
    with transaction(clinic) as session:
        patient = models.Patient(mrn="RT-0001", full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia", created_by="test")
        session.add(patient)
        session.flush()
        patient_id = patient.id
    ana = Actor(username="ana", role="patient", patient_id=patient_id)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = ana
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)
    direct = AppTest.from_file(str(Path(APP).parent / PAGE), default_timeout=30)  # the page's own guard
    direct.session_state["actor"] = ana
    direct.run()
    assert not direct.exception
    assert [e.value for e in direct.error] == ["This page is not available to your account."]
    assert not direct.title and not direct.file_uploader


def test_check_then_import_shows_what_will_happen_then_the_summary(clinic, tmp_path):
    at = open_page()
    upload(at, files(tmp_path))
    check(at)
    assert not at.error
    assert [s.value for s in at.success] == ["The files passed every check. Importing them now would give:"]
    assert table(at.dataframe[0]) == [
        {"Records": "patients", "New (to be added)": 3, "Already present (left as they are)": 0},
        {"Records": "treatment sessions", "New (to be added)": 3, "Already present (left as they are)": 0},
        {"Records": "visits", "New (to be added)": 4, "Already present (left as they are)": 0},
        {"Records": "density measurements", "New (to be added)": 5, "Already present (left as they are)": 0},
    ]
    assert counts(clinic) == NOTHING  # a check imports nothing

    at.button(key="import_run").click().run()
    assert not at.exception and not at.error
    assert [shown(s.value).split("  \n") for s in at.success] == [[
        "Import complete.",
        "  patients: 3 added, 0 already present",
        "  treatment sessions: 3 added, 0 already present",
        "  visits: 4 added, 0 already present",
        "  density measurements: 5 added, 0 already present",
    ]]
    assert_clinic_imported(clinic, by="dr.lee")
    # The uploaders are emptied and "Import" is gone: the same files are not imported twice by mistake.
    assert all(at.file_uploader(key=f"import_{kind}_1").value is None for kind in KINDS)
    assert not has_button(at, "import_run")


def test_a_bad_visits_file_lists_every_problem_in_a_table_and_imports_nothing(clinic, tmp_path):
    visits = VISITS + [["RT-001", "2025-02-01", "abc", ""], ["RT-404", "2025-02-01", "120", ""],
                       ["RT-002", "20/08/2025", "130", ""]]
    at = open_page()
    upload(at, files(tmp_path, visits=visits))
    check(at)
    assert [shown(e.value) for e in at.error] == ["3 problems found in the spreadsheets; nothing was imported"]
    assert table(at.dataframe[0]) == [
        {"File": "visits.csv", "Row": "7", "Column": "density_per_cm2",
         "Reason": "density_per_cm2 'abc' is not a number (more than 0 and at most 600 hairs/cm²)"},
        {"File": "visits.csv", "Row": "8", "Column": "mrn",
         "Reason": "MRN 'RT-404' is neither in patients.csv nor in the database"},
        {"File": "visits.csv", "Row": "9", "Column": "date",
         "Reason": "date '20/08/2025' is not written YYYY-MM-DD; type it as YYYY-MM-DD, for example "
                   "2026-08-20"},
    ]
    assert not has_button(at, "import_run")
    assert counts(clinic) == NOTHING


def test_import_is_offered_only_for_the_files_that_were_checked(clinic, tmp_path):
    at = open_page()
    upload(at, files(tmp_path))
    check(at)
    assert has_button(at, "import_run")
    changed = tmp_path / "changed"
    changed.mkdir()
    other = files(changed, visits=VISITS[:2])[2]
    at.file_uploader(key="import_visits_0").upload(other.name, other.read_bytes(), "text/csv")
    at.run()
    assert not has_button(at, "import_run")
    assert [i.value for i in at.info] == ["The files changed since they were checked: check them again before "
                                          "importing."]
    check(at)
    assert table(at.dataframe[0])[3]["New (to be added)"] == 1  # the one density of that file


def test_a_problem_found_at_import_time_is_shown_and_nothing_is_imported(clinic, tmp_path):
    at = open_page()
    upload(at, files(tmp_path))
    check(at)
    with transaction(clinic) as session:  # meanwhile, a colleague registers RT-001 with another name
        session.add(models.Patient(mrn="RT-001", full_name="Janet Doe", sex="female", birth_date=date(1980, 5, 1),
                                   condition="androgenetic_alopecia", created_by="dr.other"))
    at.button(key="import_run").click().run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        "patients.csv, row 2: MRN 'RT-001' is already in the database with different details: full_name 'Janet Doe' "
        "in the database, 'Jane Doe' here. An import never changes a patient's record: correct the spreadsheet or "
        "the record (nothing was imported)"]
    assert table(at.dataframe[0]) == [{"File": "patients.csv", "Row": "2", "Column": "full_name", "Reason": (
        "MRN 'RT-001' is already in the database with different details: full_name 'Janet Doe' in the database, "
        "'Jane Doe' here. An import never changes a patient's record: correct the spreadsheet or the record")}]
    assert not at.success  # the check's counts are gone with the files' clean check
    assert counts(clinic) == {**NOTHING, "Patient": 1}
    with transaction(clinic) as session:
        assert session.scalars(select(models.Patient.full_name)).all() == ["Janet Doe"]


def test_an_upload_over_the_limit_is_refused_by_name(clinic, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_MAX_UPLOAD_MB", "0.01")
    paths = files(tmp_path, patients=PATIENTS, sessions=SESSIONS)
    paths[2].write_bytes(b"mrn,date,density_per_cm2\n" + b"RT-001,2025-01-10,120\n" * 1000)
    at = open_page()
    upload(at, paths)
    check(at)
    assert table(at.dataframe[0]) == [{"File": "visits.csv", "Row": "", "Column": "", "Reason": (
        "the file is too large for a spreadsheet import (22 KB; at most 11 KB)")}]
    assert counts(clinic) == NOTHING


@pytest.mark.parametrize("step, told", [
    ("import", "The import was interrupted because the page was used before it finished: nothing was imported. "
               "Check the files and import them again."),
    ("check", "The check was interrupted because the page was used before it finished. Check the files again."),
])
def test_a_run_stopped_inside_the_service_is_told_on_the_next_run(clinic, step, told):
    """Streamlit stops a run when the page is used meanwhile, inside the service's progress report (before it
    commits: test_import_preview.py); the page's mark of the step under way is still set on the next run."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = DR
    at.run()
    at.switch_page(PAGE)
    at.session_state["import_running"] = step
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [told]
    at.run()
    assert not at.warning  # told once
