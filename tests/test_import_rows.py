"""The import's rows on their own (``tracker.exchange.import_rows``): spreadsheet quirks tolerated, columns and cells
that are wrong refused with file, row and reason, exact duplicates imported once.
"""

from __future__ import annotations

from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from db import models
from tests.import_samples import PATIENTS, SESSIONS, VISITS, assert_clinic_imported, files, refused, run, write
from tracker.access.actors import command_line_actor
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.exchange.spreadsheet_import import ImportResult, import_spreadsheets


def test_exact_duplicate_rows_are_imported_once(clinic, tmp_path):
    result = run(clinic, files(tmp_path, PATIENTS + PATIENTS[1:2], SESSIONS + SESSIONS[1:2], VISITS + VISITS[1:3]))
    assert result.duplicate_rows == 4
    assert "4 row(s) repeated an earlier row exactly" in result.summary()
    assert_clinic_imported(clinic)


def test_spreadsheet_quirks_are_tolerated(clinic, tmp_path):
    """A byte-order mark, spaces around values and headers, capitals, blank and trailing rows, semicolons."""
    (tmp_path / "patients.csv").write_bytes(
        "\ufeff mrn ; full_name ;sex;birth_date;condition\r\n"
        " RT-001 ;  Jane   Doe ; Female ;1980-05-01; Androgenetic alopecia \r\n"
        ";;;;\r\n\r\n".encode("utf-8")
    )
    write(tmp_path / "sessions.csv", SESSIONS[:2] + [["", "", "", "", ""], []])
    write(tmp_path / "visits.csv", [["mrn", "date", "density_per_cm2"], [" RT-001", " 2025-01-10 ", " 120 "], []])
    result = run(clinic, (tmp_path / "patients.csv", tmp_path / "sessions.csv", tmp_path / "visits.csv"))
    assert result == ImportResult(patients_added=1, sessions_added=1, visits_added=1, measurements_added=1)
    with transaction(clinic) as session:
        patient = session.scalars(select(models.Patient)).one()
    assert (patient.mrn, patient.full_name, patient.sex, patient.condition) == (
        "RT-001", "Jane Doe", "female", "androgenetic_alopecia")


def test_workbook_rows_are_numbered_as_excel_shows_them(clinic, tmp_path):
    """Blank rows above the header and between rows count; rows that are only formatted are ignored."""
    workbook = Workbook()
    sheet = workbook.active
    for number, row in ((3, VISITS[0]), (4, VISITS[1]), (6, ["RT-001", "2025-02-01", 0, None])):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=number, column=column, value=value)
    sheet.cell(row=30, column=2).number_format = "yyyy-mm-dd"
    workbook.save(tmp_path / "visits.xlsx")
    paths = (write(tmp_path / "patients.csv", PATIENTS[:2]), write(tmp_path / "sessions.csv", SESSIONS[:1]),
             tmp_path / "visits.xlsx")
    assert refused(clinic, paths) == [
        "visits.xlsx, row 6: density_per_cm2 0 is out of range: it must be more than 0 and at most 600 hairs/cm²"
    ]
    sheet.delete_rows(6)
    workbook.save(tmp_path / "visits.xlsx")
    assert run(clinic, paths).measurements_added == 1


def test_cells_that_look_like_formulas_are_kept_as_text_never_evaluated(clinic, tmp_path):
    patients = [PATIENTS[0], ["RT-001", '=HYPERLINK("http://x","Jane")', "female", "1980-05-01", "other"],
                ["RT-002", "@SUM(1+1)", "male", "1975-11-30", "other"],
                ["RT-003", "+1 Mei", "female", "1992-02-29", "other"],
                ["RT-004", "-Lin", "female", "1992-02-29", "other"]]
    run(clinic, files(tmp_path, patients, SESSIONS[:1], VISITS[:1]))
    with transaction(clinic) as session:
        names = session.scalars(select(models.Patient.full_name).order_by(models.Patient.mrn)).all()
    assert names == ['=HYPERLINK("http://x","Jane")', "@SUM(1+1)", "+1 Mei", "-Lin"]
    # a workbook formula is never computed here: saved without its result (as openpyxl writes it), it is refused
    problems = refused(clinic, files(tmp_path, PATIENTS[:1], SESSIONS[:1],
                                     [VISITS[0], ["RT-001", "2025-01-10", "=100+50", ""]], ext="xlsx"))
    assert problems == ["visits.xlsx, row 2: density_per_cm2: cell C2 holds the formula '=100+50' but the file was "
                        "saved without its result; copy the column and paste it back as values only (Paste Special "
                        "→ Values), then save the file again"]


COLUMNS = "(the columns are: mrn, full_name, sex, birth_date, condition; optional: protocol)"


@pytest.mark.parametrize("header, problem", [
    (["mrn", "full_name", "sex", "condition"], f"patients.csv, row 1: missing column 'birth_date' {COLUMNS}"),
    (["mrn", "full_name", "sex", "birth_date", "condition", "notes"],
     f"patients.csv, row 1: unknown column 'notes' in column F {COLUMNS}"),
    (["mrn", "full_name", "sex", "birth_date", "condition", "MRN"],
     "patients.csv, row 1: column 'mrn' appears more than once (columns A and F)"),
])
def test_header_problems(clinic, tmp_path, header, problem):
    assert refused(clinic, files(tmp_path, patients=[header])) == [problem]


@pytest.mark.parametrize("header, problem", [
    # a header that is not a column, where a column is missing, is one problem, not "missing" and "unknown"
    (["mrn", "Name", "sex", "birth_date", "condition"],
     f"patients.csv, row 1: unknown column 'Name' in column B; did you mean 'full_name'? {COLUMNS}"),
    (["mrn", "full_name", "sex", "DOB", "condition"],
     f"patients.csv, row 1: unknown column 'DOB' in column D; did you mean 'birth_date'? {COLUMNS}"),
    (["mrn", "full_name", "sex", "birth_date", "condition", "Protocl"],
     f"patients.csv, row 1: unknown column 'Protocl' in column F; did you mean 'protocol'? {COLUMNS}"),
])
def test_a_header_that_is_not_a_column_gets_one_message_with_a_suggestion(clinic, tmp_path, header, problem):
    assert refused(clinic, files(tmp_path, patients=[header])) == [problem]


def test_headers_in_any_capitals_and_spacing_are_accepted(clinic, tmp_path):
    patients = [["MRN", " Full Name ", "SEX", "Birth-Date", "Condition "], *PATIENTS[1:]]
    visits = [["Mrn", "DATE", "Density per cm2", " Site"], *VISITS[1:]]
    result = run(clinic, files(tmp_path, patients=patients, visits=visits))
    assert result == ImportResult(patients_added=3, sessions_added=3, visits_added=4, measurements_added=5)
    assert_clinic_imported(clinic)


def test_values_under_no_column_name_are_refused(clinic, tmp_path):
    problems = refused(clinic, files(tmp_path, visits=[VISITS[0] + [""], VISITS[1] + ["note"]]))
    assert problems == ["visits.csv, row 1: column E holds values but has no name in the header row"]


def test_an_unquoted_comma_splitting_a_value_is_refused(clinic, tmp_path):
    (tmp_path / "patients.csv").write_text(
        "mrn,full_name,sex,birth_date,condition\nRT-001,Doe, Jane,female,1980-05-01,other\n", encoding="utf-8")
    paths = (tmp_path / "patients.csv", write(tmp_path / "sessions.csv", SESSIONS[:1]),
             write(tmp_path / "visits.csv", VISITS[:1]))
    problems = refused(clinic, paths)
    assert problems[0] == ("patients.csv, row 2: 1 value(s) to the right of the last named column; is there a "
                           "comma or semicolon inside a value that is not in quotes?")


@pytest.mark.parametrize("value, reason", [
    ("2025-02-30", "date '2025-02-30' is not a real date: February 2025 has 28 days"),
    ("02/03/2025",
     "date '02/03/2025' is not written YYYY-MM-DD, which could be read two ways; "
     "type it as YYYY-MM-DD, for example 2026-08-20"),
])
def test_bad_dates(clinic, tmp_path, value, reason):
    problems = refused(clinic, files(tmp_path, sessions=SESSIONS + [["RT-002", value, "prp", "", ""]]))
    assert problems == [f"sessions.csv, row 5: {reason}"]


@pytest.mark.parametrize("value, reason", [
    ("0", "density_per_cm2 0 is out of range: it must be more than 0 and at most 600 hairs/cm²"),
    ("-5", "density_per_cm2 -5 is out of range: it must be more than 0 and at most 600 hairs/cm²"),
    ("601", "density_per_cm2 601 is out of range: it must be more than 0 and at most 600 hairs/cm²"),
    ("abc", "density_per_cm2 'abc' is not a number (more than 0 and at most 600 hairs/cm²)"),
    ("", "density_per_cm2 is required: a number more than 0 and at most 600 hairs/cm²"),
])
def test_bad_densities(clinic, tmp_path, value, reason):
    problems = refused(clinic, files(tmp_path, visits=VISITS + [["RT-003", "2025-04-01", value, ""]]))
    assert problems == [f"visits.csv, row 7: {reason}"]


def test_dates_in_the_future(clinic, tmp_path):
    problems = refused(clinic, files(
        tmp_path,
        patients=PATIENTS + [["RT-004", "Baby Future", "other", "2025-06-02", "other"]],
        sessions=SESSIONS + [["RT-001", "2025-06-02", "prp", "", ""]],
        visits=VISITS + [["RT-001", "2026-01-01", "150", ""]],
    ))
    assert problems == [
        "patients.csv, row 5: birth_date 2025-06-02 is in the future (today is 2025-06-01)",
        "sessions.csv, row 5: date 2025-06-02 is in the future (today is 2025-06-01)",
        "visits.csv, row 7: date 2026-01-01 is in the future (today is 2025-06-01)",
    ]


def test_today_defaults_to_the_current_date(clinic, tmp_path):
    with pytest.raises(ValidationError) as caught:
        import_spreadsheets(*files(tmp_path, sessions=SESSIONS + [["RT-001", "2999-01-01", "prp", "", ""]]),
                            actor=command_line_actor("import"), url=clinic)
    assert f"(today is {date.today().isoformat()})" in caught.value.problems[0]


def test_an_exosome_session_without_its_lot_is_refused(clinic, tmp_path):
    sessions = SESSIONS + [["RT-003", "2025-03-01", "Exosome", "ExoGen", " "]]
    problems = refused(clinic, files(tmp_path, sessions=sessions))
    assert problems == ["sessions.csv, row 5: lot_number is required for exosome sessions "
                        "(it is how patients are found if a batch is recalled)"]


def test_conflicting_duplicate_rows_are_refused(clinic, tmp_path):
    problems = refused(clinic, files(tmp_path, visits=VISITS + [["RT-001", "2025-01-10", "125", "primary"]]))
    assert problems == ["visits.csv, row 7: MRN 'RT-001' on 2025-01-10 at site 'primary' is also on row 2 with a "
                        "different density (120 there, 125 here); keep one of them"]
