"""The spreadsheet import (``tracker.exchange.spreadsheet_import``): all or nothing, every problem listed with file,
row and reason, files that are not what they should be refused. Rows on their own: test_import_rows.py; against
the database: test_import_matching.py.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from openpyxl import Workbook

from tests.import_samples import (
    PATIENTS,
    PNG,
    SESSIONS,
    VISITS,
    assert_clinic_imported,
    files,
    measurements,
    refused,
    run,
)
from tracker.access.actors import Actor
from tracker.errors import ValidationError
from tracker.exchange.spreadsheet_import import ImportResult


def test_csv_files_are_imported_in_full(clinic, tmp_path):
    result = run(clinic, files(tmp_path))
    assert result == ImportResult(patients_added=3, sessions_added=3, visits_added=4, measurements_added=5)
    assert_clinic_imported(clinic)


def test_xlsx_files_with_date_and_number_cells_are_imported_the_same(clinic, tmp_path):
    patients = [PATIENTS[0]] + [[*row[:3], date.fromisoformat(row[3]), row[4]] for row in PATIENTS[1:]]
    sessions = [SESSIONS[0]] + [[row[0], datetime.fromisoformat(row[1]), *row[2:]] for row in SESSIONS[1:]]
    visits = [VISITS[0]] + [[row[0], row[1], float(row[2]), row[3] or None] for row in VISITS[1:]]
    result = run(clinic, files(tmp_path, patients, sessions, visits, ext="xlsx"))
    assert result == ImportResult(patients_added=3, sessions_added=3, visits_added=4, measurements_added=5)
    assert_clinic_imported(clinic)


def test_rows_carry_the_acting_user(clinic, tmp_path):
    run(clinic, files(tmp_path), actor=Actor("dr.smith", "clinician"))
    assert {row[4] for row in measurements(clinic)} == {"dr.smith"}


def test_every_problem_in_all_three_files_is_listed_and_nothing_is_written(clinic, tmp_path):
    run(clinic, files(tmp_path))  # an existing clinic, which a refused import must leave exactly as it was
    before = measurements(clinic)
    bad = tmp_path / "bad"
    bad.mkdir()
    patients = PATIENTS + [
        ["RT-010", "Ana Ruiz", "female", "02/03/1985", "alopecia_areata"],
        ["RT-011", "", "x", "1985-01-01", "baldness"],
        ["RT-001", "Janet Doe", "female", "1980-05-01", "androgenetic_alopecia"],
    ]
    sessions = SESSIONS + [
        ["RT-010", "2025-02-30", "exosome", "ExoGen 5", "EX-1"],
        ["RT-002", "2025-03-01", "exosome", "ExoGen 5", ""],
        ["RT-404", "2025-03-01", "prp", "", ""],
    ]
    visits = VISITS + [
        ["RT-002", "2025-03-01", "0", ""],
        ["RT-002", "2025-03-02", "abc", ""],
        ["RT-002", "2025-07-01", "150", ""],
        ["RT-003", "1990-01-01", "150", ""],
    ]
    problems = refused(clinic, files(bad, patients, sessions, visits))
    assert problems == [
        "patients.csv, row 5: birth_date '02/03/1985' is not written YYYY-MM-DD, which could be read two ways; "
        "type it as YYYY-MM-DD, for example 2026-08-20",
        "patients.csv, row 6: full_name is required",
        "patients.csv, row 6: sex 'x' is not one of female, male, other, unknown",
        "patients.csv, row 6: condition 'baldness' is not one of androgenetic_alopecia, alopecia_areata, "
        "telogen_effluvium, other",
        "patients.csv, row 7: MRN 'RT-001' is also on row 2 with different details: "
        "full_name 'Jane Doe' there, 'Janet Doe' here",
        "sessions.csv, row 5: date '2025-02-30' is not a real date: February 2025 has 28 days",
        "sessions.csv, row 6: lot_number is required for exosome sessions "
        "(it is how patients are found if a batch is recalled)",
        "sessions.csv, row 7: MRN 'RT-404' is neither in patients.csv nor in the database",
        "visits.csv, row 7: density_per_cm2 0 is out of range: it must be more than 0 and at most 600 hairs/cm²",
        "visits.csv, row 8: density_per_cm2 'abc' is not a number (more than 0 and at most 600 hairs/cm²)",
        "visits.csv, row 9: date 2025-07-01 is in the future (today is 2025-06-01)",
        "visits.csv, row 10: date 1990-01-01 is before the patient's birth date 1992-02-29",
    ]
    assert measurements(clinic) == before


def test_the_error_message_says_nothing_was_imported(clinic, tmp_path):
    with pytest.raises(ValidationError) as one:
        run(clinic, files(tmp_path, visits=VISITS + [["RT-001", "2025-02-01", "601", ""]]))
    assert str(one.value) == ("visits.csv, row 7: density_per_cm2 601 is out of range: it must be more than 0 and "
                              "at most 600 hairs/cm² (nothing was imported)")
    with pytest.raises(ValidationError) as two:
        run(clinic, files(tmp_path, visits=VISITS + [["RT-001", "2025-02-01", "601", ""],
                                                     ["RT-001", "2025-02-02", "-1", ""]]))
    assert str(two.value) == "2 problems found in the spreadsheets; nothing was imported"


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b",,,\n,,,\n"])
def test_an_empty_file_is_refused(clinic, tmp_path, content):
    paths = files(tmp_path)
    paths[1].write_bytes(content)
    assert refused(clinic, paths) == [
        "sessions.csv: the file is empty; its first row must name the columns: "
        "mrn, date, treatment, product, lot_number"
    ]


def test_an_empty_workbook_is_refused(clinic, tmp_path):
    paths = files(tmp_path)
    Workbook().save(tmp_path / "visits.xlsx")
    problems = refused(clinic, (*paths[:2], tmp_path / "visits.xlsx"))
    assert problems == ["visits.xlsx: the file is empty; its first row must name the columns: "
                        "mrn, date; optional: density_per_cm2, site, salt"]


def test_a_file_with_only_its_header_imports_nothing_from_it(clinic, tmp_path):
    result = run(clinic, files(tmp_path, sessions=SESSIONS[:1], visits=VISITS[:1]))
    assert (result.patients_added, result.sessions_added, result.measurements_added) == (3, 0, 0)


@pytest.mark.parametrize("name, problem", [
    ("visits.csv", "visits.csv: is not a spreadsheet"),
    ("visits.xlsx", "visits.xlsx: is not an Excel workbook although its name ends in .xlsx"),
])
def test_a_picture_named_like_a_spreadsheet_is_refused(clinic, tmp_path, name, problem):
    paths = files(tmp_path)
    (tmp_path / name).write_bytes(PNG)
    problems = refused(clinic, (*paths[:2], tmp_path / name))
    assert len(problems) == 1 and problems[0].startswith(problem)
    assert "save it from Excel or LibreOffice as .xlsx or as 'CSV UTF-8'" in problems[0]


def test_other_unreadable_files_are_refused_with_a_reason(clinic, tmp_path):
    paths = files(tmp_path)
    (tmp_path / "zip.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "old.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 64)
    # 0x81 is a byte no Windows-1252 text holds
    (tmp_path / "binary.csv").write_bytes(b"mrn,full_name,sex,birth_date,condition\n"
                                          b"RT-9,Jos\x81,male,1980-01-01,other\n")
    problems = refused(clinic, (tmp_path / "binary.csv", tmp_path / "old.xls", tmp_path / "zip.xlsx"))
    assert [problem.split(";")[0] for problem in problems] == [
        "binary.csv: is not a spreadsheet saved as text in UTF-8 or Windows-1252 (it may be another file, or a CSV "
        "in another encoding)",
        "old.xls: the old Excel format (.xls) is not supported",
        "zip.xlsx: cannot be read as an Excel workbook (.xlsx)",
    ]
    problems = refused(clinic, (tmp_path / "missing.csv", tmp_path, paths[2]))
    assert problems[0] == f"missing.csv: file not found ({tmp_path / 'missing.csv'})"
    assert problems[1] == f"{tmp_path.name}: is not a file"


def test_a_workbook_that_is_some_other_zip_is_refused(clinic, tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "visits.xlsx", "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    paths = files(tmp_path)
    problems = refused(clinic, (*paths[:2], tmp_path / "visits.xlsx"))
    assert problems == ["visits.xlsx: cannot be read as an Excel workbook (.xlsx); save it from Excel or "
                        "LibreOffice as .xlsx or as 'CSV UTF-8'"]
