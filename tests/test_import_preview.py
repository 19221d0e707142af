"""The import service as the import page uses it (``tracker.exchange.spreadsheet_import``): problems as data
(file, row, column, reason), a preview that gives the import's own counts and writes nothing but its audit entry,
uploads as (name, bytes) within the photo store's size limit, and progress reported while reading, checking and
writing. The command line's output is unchanged (test_spreadsheet_cli.py).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from db import models
from tests.import_samples import PATIENTS, PNG, SESSIONS, TODAY, VISITS, assert_clinic_imported, counts, files, run
from tracker.access.actors import Actor, command_line_actor
from tracker.database import transaction
from tracker.exchange import import_writing
from tracker.exchange.import_problems import ImportProblem, ImportRefused
from tracker.exchange.spreadsheet_import import ImportResult, preview_import
from tracker.exchange.spreadsheets import UploadedSheet

CLINICIAN = Actor("dr.lee", "clinician")
FULL_IMPORT = ImportResult(patients_added=3, sessions_added=3, visits_added=4, measurements_added=5)


def preview(url: str, sources, **kwargs) -> ImportResult:
    return preview_import(*sources, url=url, today=TODAY, **{"actor": command_line_actor("import"), **kwargs})


def state(url: str) -> dict[str, int]:
    """Rows in every table but the audit trail."""
    with transaction(url) as session:
        return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
                for table in models.Base.metadata.sorted_tables if table.name != "audit_entry"}


def audit_entries(url: str) -> list[tuple[str, str | None, str]]:
    with transaction(url) as session:
        rows = session.execute(select(models.AuditEntry.action, models.AuditEntry.username, models.AuditEntry.detail)
                               .order_by(models.AuditEntry.id))
        return [(action, username, detail) for action, username, detail in rows]


def elsewhere(tmp_path):
    """A folder for files imported earlier, so that the files of the test keep their names."""
    folder = tmp_path / "earlier"
    folder.mkdir()
    return folder


def uploads(paths) -> list[UploadedSheet]:
    return [UploadedSheet(path.name, path.read_bytes()) for path in paths]


def test_each_problem_names_its_file_row_column_and_reason(clinic, tmp_path):
    run(clinic, files(elsewhere(tmp_path), PATIENTS[:2], SESSIONS[:1], VISITS[:1]))  # RT-001 is recorded
    with transaction(clinic) as session:
        session.scalars(select(models.Patient)).one().full_name = "Janet Doe"
    sessions = [["mrn", "date", "treatment", "product", "lotnumber"]]
    visits = [VISITS[0],
              ["RT-001", "2025-01-10", "abc", "primary"],
              ["RT-404", "2025-01-10", "120", ""],
              ["RT-002", "2025-01-15", "140", "primary", "stray"]]
    with pytest.raises(ImportRefused) as caught:
        preview(clinic, uploads(files(tmp_path, PATIENTS, sessions, visits)))
    assert caught.value.found == (
        ImportProblem("patients.csv", 2, "full_name",
                      "MRN 'RT-001' is already in the database with different details: full_name 'Janet Doe' in the "
                      "database, 'Jane Doe' here. An import never changes a patient's record: correct the "
                      "spreadsheet or the record"),
        ImportProblem("sessions.csv", 1, "lotnumber",
                      "unknown column 'lotnumber' in column E; did you mean 'lot_number'? (the columns are: mrn, "
                      "date, treatment, product, lot_number)"),
        ImportProblem("visits.csv", 2, "density_per_cm2",
                      "density_per_cm2 'abc' is not a number (more than 0 and at most 600 hairs/cm²)"),
        ImportProblem("visits.csv", 3, "mrn", "MRN 'RT-404' is neither in patients.csv nor in the database"),
        ImportProblem("visits.csv", 4, None,
                      "1 value(s) to the right of the last named column; is there a comma or semicolon inside a "
                      "value that is not in quotes?"),
    )
    # The command line's lines are the same problems; the page's table the same again, cell by cell.
    assert caught.value.problems == [str(problem) for problem in caught.value.found]
    assert caught.value.problems[2] == ("visits.csv, row 2: density_per_cm2 'abc' is not a number (more than 0 and "
                                        "at most 600 hairs/cm²)")
    assert caught.value.table[4] == {"File": "visits.csv", "Row": "4", "Column": "", "Reason": (
        "1 value(s) to the right of the last named column; is there a comma or semicolon inside a value that is not "
        "in quotes?")}
    assert str(caught.value) == "5 problems found in the spreadsheets; nothing was imported"


def test_a_file_that_is_no_spreadsheet_is_a_problem_with_no_row_or_column(clinic, tmp_path):
    sources = [UploadedSheet("patients.csv", PNG), *uploads(files(tmp_path)[1:])]
    with pytest.raises(ImportRefused) as caught:
        preview(clinic, sources)
    assert caught.value.found == (ImportProblem(
        "patients.csv", None, None,
        "is not a spreadsheet (neither CSV text nor an Excel workbook); save it from Excel or LibreOffice as .xlsx "
        "or as 'CSV UTF-8'"),)
    assert caught.value.table == [{"File": "patients.csv", "Row": "", "Column": "", "Reason": (
        "is not a spreadsheet (neither CSV text nor an Excel workbook); save it from Excel or LibreOffice as .xlsx "
        "or as 'CSV UTF-8'")}]
    assert str(caught.value) == (
        "patients.csv: is not a spreadsheet (neither CSV text nor an Excel workbook); save it from Excel or "
        "LibreOffice as .xlsx or as 'CSV UTF-8' (nothing was imported)")


def test_the_preview_gives_the_counts_of_the_import_into_an_empty_clinic(clinic, tmp_path):
    paths = files(tmp_path)
    assert preview(clinic, paths) == FULL_IMPORT
    assert counts(clinic) == {"Patient": 0, "TreatmentSession": 0, "Visit": 0, "DensityMeasurement": 0}
    assert run(clinic, paths) == FULL_IMPORT
    assert_clinic_imported(clinic)
    # The same files again: everything already present, nothing to add.
    again = ImportResult(patients_skipped=3, sessions_skipped=3, visits_skipped=4, measurements_skipped=5)
    assert preview(clinic, paths) == again == run(clinic, paths)


def test_the_preview_gives_the_counts_of_the_import_into_a_clinic_with_records(clinic, tmp_path):
    run(clinic, files(elsewhere(tmp_path)))
    patients = PATIENTS + [["RT-004", "Ana Ruiz", "female", "1985-03-02", "alopecia_areata"]] * 2
    sessions = SESSIONS + [["RT-004", "2025-02-01", "prp", "", ""]]
    visits = ([VISITS[0] + ["salt"]] + [row + [""] for row in VISITS[1:]]
              + [["RT-004", "2025-02-01", "", "", "40"], ["RT-001", "2025-05-01", "140", "primary", ""]])
    sources = uploads(files(tmp_path, patients, sessions, visits, ext="xlsx"))
    # Worked by hand: RT-004 (its row twice) and its session are new; of six visit days four are recorded and two
    # new (RT-004 on 1 February with a SALT score only, RT-001 on 1 May with one density).
    expected = ImportResult(patients_added=1, patients_skipped=3, sessions_added=1, sessions_skipped=3,
                            visits_added=2, visits_skipped=4, measurements_added=1, measurements_skipped=5,
                            duplicate_rows=1, salt_scores_added=1)
    before = state(clinic)
    assert preview(clinic, sources) == expected
    assert state(clinic) == before
    assert run(clinic, sources) == expected
    assert counts(clinic) == {"Patient": 4, "TreatmentSession": 4, "Visit": 6, "DensityMeasurement": 6}


def test_a_preview_writes_nothing_but_its_audit_entry(clinic, tmp_path):
    run(clinic, files(elsewhere(tmp_path), PATIENTS[:2], SESSIONS[:2], VISITS[:2]))
    before, trail = state(clinic), audit_entries(clinic)
    result = preview(clinic, files(tmp_path), actor=CLINICIAN)
    assert result == ImportResult(patients_added=2, patients_skipped=1, sessions_added=2, sessions_skipped=1,
                                  visits_added=3, visits_skipped=1, measurements_added=4, measurements_skipped=1)
    assert state(clinic) == before
    assert audit_entries(clinic) == trail + [(
        "view", "dr.lee", "import check, nothing imported; would give: patients: 2 added, 1 already present "
        "treatment sessions: 2 added, 1 already present visits: 3 added, 1 already present density measurements: "
        "4 added, 1 already present")]


def test_a_refused_preview_is_audited_and_a_refused_import_is_not(clinic, tmp_path):
    paths = files(tmp_path, visits=VISITS + [["RT-001", "2025-02-01", "601", ""], ["RT-001", "2025-02-02", "-1", ""]])
    trail = audit_entries(clinic)
    with pytest.raises(ImportRefused):
        preview(clinic, paths, actor=CLINICIAN)
    assert audit_entries(clinic) == trail + [("view", "dr.lee", "import check: 2 problems, nothing imported")]
    with pytest.raises(ImportRefused):
        run(clinic, paths, actor=CLINICIAN)
    assert audit_entries(clinic) == trail + [("view", "dr.lee", "import check: 2 problems, nothing imported")]
    assert state(clinic)["patient"] == 0


def test_a_problem_that_arises_after_the_check_stops_the_import(clinic, tmp_path):
    """Someone registers RT-001 differently between the check and the import: the import is refused whole."""
    sources = uploads(files(tmp_path))
    assert preview(clinic, sources) == FULL_IMPORT
    with transaction(clinic) as session:
        session.add(models.Patient(mrn="RT-001", full_name="Janet Doe", sex="female",
                                   birth_date=date(1980, 5, 1),
                                   condition="androgenetic_alopecia", created_by="dr.other"))
    with pytest.raises(ImportRefused) as caught:
        run(clinic, sources)
    assert caught.value.found == (ImportProblem(
        "patients.csv", 2, "full_name",
        "MRN 'RT-001' is already in the database with different details: full_name 'Janet Doe' in the database, "
        "'Jane Doe' here. An import never changes a patient's record: correct the spreadsheet or the record"),)
    assert counts(clinic) == {"Patient": 1, "TreatmentSession": 0, "Visit": 0, "DensityMeasurement": 0}


def test_uploads_are_imported_like_files(clinic, tmp_path):
    paths = files(tmp_path, ext="xlsx")
    assert run(clinic, [(path.name, path.read_bytes()) for path in paths]) == FULL_IMPORT
    assert_clinic_imported(clinic)


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(clinic, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_MAX_UPLOAD_MB", "0.01")  # 10 485 bytes
    paths = files(tmp_path)
    big = b"mrn,date,density_per_cm2\n" + b"RT-001,2025-01-10,120\n" * 1000  # 22 025 bytes
    paths[2].write_bytes(big)
    too_large = ImportProblem("visits.csv", None, None,
                              "the file is too large for a spreadsheet import (22 KB; at most 11 KB)")
    for sources in (uploads(paths), paths):  # an upload, and a file the command line reads
        with pytest.raises(ImportRefused) as caught:
            run(clinic, sources)
        assert caught.value.found == (too_large,)
    assert counts(clinic)["Patient"] == 0


def test_the_limit_is_the_photo_stores_25_mb(clinic, tmp_path):
    paths = files(tmp_path)
    with pytest.raises(ImportRefused) as caught:
        run(clinic, [*uploads(paths[:2]), UploadedSheet("visits.csv", b"x" * (26 * 1024 * 1024))])
    assert caught.value.problems == [
        "visits.csv: the file is too large for a spreadsheet import (26.0 MB; at most 25.0 MB)"]


def test_an_uploaded_name_is_the_file_name_without_its_folder(clinic, tmp_path):
    paths = files(tmp_path)
    sources = [*uploads(paths[:2]), UploadedSheet("C:\\Users\\clinic\\visits.csv", b"mrn,date\n")]
    with pytest.raises(ImportRefused) as caught:
        run(clinic, sources)
    assert [problem.file for problem in caught.value.found] == ["visits.csv"]


def test_an_import_interrupted_while_it_tells_its_progress_imports_nothing(clinic, tmp_path):
    """A page left during the import stops its script inside the progress callback (Streamlit raises a
    BaseException there): the import is rolled back whole, even at its last word."""

    class Interrupted(BaseException):
        pass

    def interrupt_at_the_end(fraction: float, words: str) -> None:
        if fraction == 1.0:
            raise Interrupted(words)

    with pytest.raises(Interrupted, match="Saving the import"):
        run(clinic, files(tmp_path), progress=interrupt_at_the_end)
    assert counts(clinic) == {"Patient": 0, "TreatmentSession": 0, "Visit": 0, "DensityMeasurement": 0}
    assert [action for action, *_ in audit_entries(clinic)] == []


@pytest.mark.parametrize("check", [True, False])
def test_progress_is_told_while_reading_checking_and_writing(clinic, tmp_path, monkeypatch, check):
    monkeypatch.setattr(import_writing, "WRITE_CHUNK", 4)
    told: list[tuple[float, str]] = []
    result = (preview if check else run)(clinic, files(tmp_path), progress=lambda *step: told.append(step))
    assert result == FULL_IMPORT
    # 15 rows to write, each kind in statements of at most 4 rows, progress told after each: 3 patients, 3
    # sessions (6), 4 visits (10), 5 measurements (14, 15).
    verb = "Checking what the import adds" if check else "Writing records"
    assert told == [
        (0.0, "Reading patients.csv"), (pytest.approx(0.1), "Reading sessions.csv"),
        (pytest.approx(0.2), "Reading visits.csv"), (0.3, "Checking every row"),
        (0.4, "Comparing the rows with the clinic's records"),
        *[(pytest.approx(0.5 + 0.45 * done / 15), f"{verb}: {done} of 15") for done in (3, 6, 10, 14, 15)],
        (1.0, "Check complete: nothing has been imported yet" if check else "Saving the import"),
    ]
