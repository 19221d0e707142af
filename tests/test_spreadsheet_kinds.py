"""The import reads the files clinics really produce (issue #12, "Spreadsheets as clinics have them"): one test
per kind of file or cell that was misread or refused for the wrong reason, each with the value it must give.
Through the command line: test_spreadsheet_cli.py.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from db import models
from tests.import_samples import PATIENTS, SESSIONS, VISITS, files, measurements, refused, run, write
from tests.spreadsheet_samples import (
    ENCRYPTED_XLSX,
    date_cell,
    number_cell,
    ods,
    save_with_results,
    text_cell,
    workbook,
)
from tracker.database import transaction

RETYPE = "format the column as Text and type the values again"
SAVE_AS = "save it from Excel or LibreOffice as .xlsx or as 'CSV UTF-8'"


def patients_by_mrn(url: str) -> dict[str, tuple[str, str, date]]:
    with transaction(url) as session:
        return {p.mrn: (p.full_name, p.sex, p.birth_date) for p in session.scalars(select(models.Patient))}


def lots(url: str) -> list[str]:
    with transaction(url) as session:
        return sorted(session.scalars(select(models.TreatmentSession.lot_number)))


def test_sex_as_clinics_write_it(clinic, tmp_path):
    """F/M/O/U, the usual clinic codes, and the words, in any capitals."""
    patients = [PATIENTS[0]] + [[f"RT-00{n}", f"Patient {n}", sex, "1980-05-01", "other"]
                                for n, sex in enumerate(["F", "m", "Female", "MALE", "o", "U", "unknown"], start=1)]
    run(clinic, files(tmp_path, patients, SESSIONS[:1], VISITS[:1]))
    assert [sex for _, sex, _ in sorted(patients_by_mrn(clinic).values())] == [
        "female", "male", "female", "male", "other", "unknown", "unknown"]


def test_a_semicolon_file_with_its_sep_line_and_decimal_commas(clinic, tmp_path):
    """Excel in a decimal-comma locale writes `sep=;` first (and hides it) and 58,3 for 58.3."""
    paths = files(tmp_path)
    paths[2].write_text(
        "sep=;\nmrn;date;density_per_cm2;site\nRT-001;2025-01-10;58,3;vertex\nRT-001;2025-01-10;120;primary\n",
        encoding="utf-8")
    assert run(clinic, paths).measurements_added == 2
    assert [(site, density) for _, _, site, density, _ in measurements(clinic)] == [("primary", 120.0),
                                                                                     ("vertex", 58.3)]
    # rows are numbered as Excel shows them, without the hidden sep line: the header is row 1
    paths[2].write_text("sep=;\nmrn;date;density_per_cm2\nRT-002;2025-01-15;12,5,1\n", encoding="utf-8")
    assert refused(clinic, paths) == ["visits.csv, row 2: density_per_cm2 '12,5,1' is not a number "
                                      "(more than 0 and at most 600 hairs/cm²)"]


def test_a_decimal_comma_in_a_comma_separated_file_is_refused_never_read_as_a_bigger_number(clinic, tmp_path):
    problems = refused(clinic, files(tmp_path, visits=[VISITS[0], ["RT-001", "2025-01-10", "58,3", ""]]))
    assert problems == ["visits.csv, row 2: density_per_cm2 '58,3' is not a number: use a point for decimals (58.3)"]


def test_unicode_text_from_excel_is_read(clinic, tmp_path):
    """Excel's "Unicode text": UTF-16 with its byte-order mark, tab-separated."""
    lines = ["\t".join(PATIENTS[0]), "RT-001\tZoë Durand\tF\t1980-05-01\tandrogenetic_alopecia"]
    (tmp_path / "patients.txt").write_bytes("\r\n".join(lines).encode("utf-16"))
    paths = (tmp_path / "patients.txt", *files(tmp_path, sessions=SESSIONS[:1], visits=VISITS[:1])[1:])
    assert run(clinic, paths).patients_added == 1
    assert patients_by_mrn(clinic) == {"RT-001": ("Zoë Durand", "female", date(1980, 5, 1))}


def test_a_windows_1252_file_is_read_with_a_note_in_the_summary(clinic, tmp_path):
    paths = files(tmp_path, sessions=SESSIONS[:1], visits=VISITS[:1])
    paths[0].write_bytes(b"mrn,full_name,sex,birth_date,condition\r\nRT-001,Zo\xeb Durand,F,1980-05-01,other\r\n")
    result = run(clinic, paths)
    assert patients_by_mrn(clinic) == {"RT-001": ("Zoë Durand", "female", date(1980, 5, 1))}
    assert result.summary().splitlines()[-1] == (
        "Note: patients.csv was read as Windows-1252 text, not UTF-8: check that accented letters look right "
        "(for example 'Zoë'), or save the file as 'CSV UTF-8'")


def test_an_mrn_shown_with_leading_zeros_is_the_mrn_excel_shows(clinic, tmp_path):
    """123 under the format 00000 is MRN 00123; a later CSV row for 00123 is the same patient."""
    book, sheet = workbook()
    sheet.append(PATIENTS[0])
    sheet.append([123, "Jane Doe", "F", date(1980, 5, 1), "other"])
    sheet.append([42, "Omar Haddad", "M", date(1975, 11, 30), "other"])
    sheet["A2"].number_format = "00000"
    sheet["A3"].number_format = '"RT-"0000'
    book.save(tmp_path / "patients.xlsx")
    paths = (tmp_path / "patients.xlsx", *files(tmp_path, sessions=SESSIONS[:1], visits=VISITS[:1])[1:])
    assert run(clinic, paths).patients_added == 2
    assert sorted(patients_by_mrn(clinic)) == ["00123", "RT-0042"]

    (tmp_path / "later").mkdir()
    later = files(tmp_path / "later", [PATIENTS[0], ["00123", "Jane Doe", "female", "1980-05-01", "other"]],
                  SESSIONS[:1], [VISITS[0], ["00123", "2025-01-10", "120", ""]])
    result = run(clinic, later)
    assert (result.patients_added, result.patients_skipped, result.measurements_added) == (0, 1, 1)
    assert sorted(patients_by_mrn(clinic)) == ["00123", "RT-0042"]


def test_an_identifier_stored_as_a_plain_number_is_refused(clinic, tmp_path):
    """Lot 0457 shown as 457, lot 24E07 as 2.4E+08, MRN 1001 as a General number: the text may be lost."""
    book, sheet = workbook()
    sheet.append(SESSIONS[0])
    sheet.append(["RT-001", date(2025, 1, 10), "exosome", "ExoGen 5", 457])
    sheet.append(["RT-001", date(2025, 2, 10), "exosome", "ExoGen 5", 240000000])
    sheet.append([1001, date(2025, 3, 10), "prp", "", ""])
    sheet["E3"].number_format = "0.00E+00"
    book.save(tmp_path / "sessions.xlsx")
    paths = files(tmp_path)
    problems = refused(clinic, (paths[0], tmp_path / "sessions.xlsx", paths[2]))
    assert problems == [
        "sessions.xlsx, row 2: lot_number: cell E2 holds the number 457 rather than text, so the spreadsheet may "
        f"have changed it (0457 becomes 457, 24E07 becomes 2.4E+08); {RETYPE}",
        "sessions.xlsx, row 3: lot_number: cell E3 holds the number 2.4e+08 rather than text, so the spreadsheet "
        f"may have changed it (0457 becomes 457, 24E07 becomes 2.4E+08); {RETYPE}",
        "sessions.xlsx, row 4: mrn: cell A4 holds the number 1001 rather than text, so the spreadsheet may have "
        f"changed it (0457 becomes 457, 24E07 becomes 2.4E+08); {RETYPE}",
    ]


def test_an_identifier_in_scientific_notation_in_a_csv_is_refused_and_a_real_one_kept(clinic, tmp_path):
    sessions = [SESSIONS[0], ["RT-001", "2025-01-10", "exosome", "ExoGen 5", "2.4E+08"],
                ["RT-001", "2025-02-10", "exosome", "ExoGen 5", "2,40E+08"]]
    problems = refused(clinic, files(tmp_path, sessions=sessions))
    assert problems == [
        f"sessions.csv, row {row}: lot_number '{lot}' is a number in scientific notation: an office suite changed "
        f"the identifier (lot 24E07 becomes 2.4E+08); {RETYPE}"
        for row, lot in ((2, "2.4E+08"), (3, "2,40E+08"))
    ]
    run(clinic, files(tmp_path, sessions=[SESSIONS[0], ["RT-001", "2025-01-10", "exosome", "ExoGen 5", "24E07"]]))
    assert lots(clinic) == ["24E07"]


def test_a_formula_gives_the_result_excel_saved(clinic, tmp_path):
    """A density typed as the mean of three counts was refused as "not a number"."""
    book, sheet = workbook()
    sheet.append(VISITS[0])
    sheet.append(["RT-001", date(2025, 1, 10), "=AVERAGE(118,121,122)", "vertex"])
    sheet.append(["RT-001", date(2025, 1, 10), "=AVERAGE(100,101)", "primary"])
    save_with_results(book, tmp_path / "visits.xlsx", {"C2": "120.33333333333333", "C3": "100.5"})
    paths = files(tmp_path)
    assert run(clinic, (*paths[:2], tmp_path / "visits.xlsx")).measurements_added == 2
    assert [(site, density) for _, _, site, density, _ in measurements(clinic)] == [
        ("primary", 100.5), ("vertex", pytest.approx(120.3333333))]


def test_dates_with_a_midnight_time_are_dates(clinic, tmp_path):
    book, sheet = workbook()
    sheet.append(VISITS[0])
    sheet.append(["RT-001", datetime(2025, 1, 10, 0, 0), 120, "primary"])  # a date cell shown with its 00:00
    sheet.append(["RT-001", "2025-04-12 00:00:00", 131, "primary"])  # the same, written out as text
    book.save(tmp_path / "visits.xlsx")
    paths = files(tmp_path)
    run(clinic, (*paths[:2], tmp_path / "visits.xlsx"))
    assert [(day, density) for _, day, _, density, _ in measurements(clinic)] == [
        (date(2025, 1, 10), 120.0), (date(2025, 4, 12), 131.0)]


def test_merged_cells_are_named_as_merged_cells(clinic, tmp_path):
    """One MRN merged over a patient's two visit rows: the second row's MRN is in no cell of its own."""
    book, sheet = workbook()
    sheet.append(VISITS[0])
    sheet.append(["RT-001", "2025-01-10", 120, "primary"])
    sheet.append([None, "2025-04-12", 131, "primary"])
    sheet.merge_cells("A2:A3")
    book.save(tmp_path / "visits.xlsx")
    paths = files(tmp_path)
    assert refused(clinic, (*paths[:2], tmp_path / "visits.xlsx")) == [
        "visits.xlsx, row 3: mrn: cell A3 is part of the merged cells A2:A3, whose value only the first cell holds; "
        "unmerge them and type the value in every row"
    ]


@pytest.mark.parametrize("value", ["45123", 45123])
def test_an_excel_day_number_in_a_date_column_gets_a_hint(clinic, tmp_path, value):
    paths = files(tmp_path)
    visits = write(tmp_path / ("visits.csv" if isinstance(value, str) else "visits.xlsx"),
                   [VISITS[0], ["RT-001", value, "120", ""]])
    problems = refused(clinic, (*paths[:2], visits))
    assert problems == [
        f"{visits.name}, row 2: date 45123 looks like an Excel day number (45123 is 2023-07-16): the column lost "
        "its date format; format the column as a date (YYYY-MM-DD) and type or save the dates again"
    ]


def test_a_password_protected_workbook_is_called_so(clinic, tmp_path):
    (tmp_path / "patients.xlsx").write_bytes(ENCRYPTED_XLSX)
    ods(tmp_path / "visits.ods", [[text_cell("mrn")]], encrypted=True)
    paths = files(tmp_path)
    assert refused(clinic, (tmp_path / "patients.xlsx", paths[1], tmp_path / "visits.ods")) == [
        "patients.xlsx: the workbook is password-protected, so it cannot be read; open it in Excel, remove the "
        f"password (File → Info → Protect Workbook → Encrypt with Password, empty) and {SAVE_AS}",
        "visits.ods: the spreadsheet is password-protected, so it cannot be read; open it in LibreOffice, remove "
        "the password (File → Properties → Security) and save it from LibreOffice as .xlsx or as 'Text CSV' with "
        "the UTF-8 character set",
    ]


def test_a_libreoffice_spreadsheet_is_read_like_a_workbook(clinic, tmp_path):
    """Shown text for identifiers, dates, a formula's saved result, merged cells; one sheet; blank rows skipped."""
    ods(tmp_path / "patients.ods", [
        [text_cell(column) for column in PATIENTS[0]],
        [number_cell(123, "00123"), text_cell("Zoë Durand"), text_cell("F"), date_cell("1980-05-01", "01/05/80"),
         text_cell("Androgenetic alopecia")],
    ])
    ods(tmp_path / "visits.ods", [
        [text_cell(column) for column in VISITS[0]],
        [text_cell("00123"), date_cell("2025-01-10T00:00:00", "10/01/2025"),
         number_cell(120.33333333333333, "120.33", formula="AVERAGE(118;121;122)"), text_cell("vertex")],
    ])
    sessions = files(tmp_path, sessions=SESSIONS[:1])[1]
    result = run(clinic, (tmp_path / "patients.ods", sessions, tmp_path / "visits.ods"))
    assert (result.patients_added, result.measurements_added) == (1, 1)
    assert patients_by_mrn(clinic) == {"00123": ("Zoë Durand", "female", date(1980, 5, 1))}
    assert [(mrn, day, site, density) for mrn, day, site, density, _ in measurements(clinic)] == [
        ("00123", date(2025, 1, 10), "vertex", pytest.approx(120.3333333))]


def test_a_libreoffice_spreadsheet_names_merged_cells_and_plain_numbers_in_identifiers(clinic, tmp_path):
    ods(tmp_path / "visits.ods", [
        [text_cell(column) for column in VISITS[0]],
        ['<table:table-cell table:number-rows-spanned="2" office:value-type="string"><text:p>RT-001</text:p>'
         "</table:table-cell>", text_cell("2025-01-10"), number_cell(120, "120"), text_cell("primary")],
        ["<table:covered-table-cell/>", text_cell("2025-04-12"), number_cell(131, "131"), text_cell("primary")],
        [number_cell(457, "457"), text_cell("2025-04-12"), number_cell(131, "131"), text_cell("primary")],
    ])
    assert refused(clinic, (*files(tmp_path)[:2], tmp_path / "visits.ods")) == [
        "visits.ods, row 3: mrn: cell A3 is part of the merged cells A2:A3, whose value only the first cell holds; "
        "unmerge them and type the value in every row",
        "visits.ods, row 4: mrn: cell A4 holds the number 457 rather than text, so the spreadsheet may have changed "
        f"it (0457 becomes 457, 24E07 becomes 2.4E+08); {RETYPE}",
    ]



def test_dates_the_import_writes_in_its_messages_are_the_clinics(clinic, tmp_path, monkeypatch):
    """A DD/MM/YYYY clinic reads its own dates in the import's problems (the file's own text is quoted as it is)."""
    monkeypatch.setenv("TRACKER_DATE_FORMAT", "DD/MM/YYYY")
    late = [["RT-001", "10/01/2025", "125", "primary"], ["RT-002", "45123", "120", ""]]
    paths = files(tmp_path, visits=[*VISITS, *late])
    problems = refused(clinic, paths)
    assert problems == [
        "visits.csv, row 7: MRN 'RT-001' on 10/01/2025 at site 'primary' is also on row 2 with a different density "
        "(120 there, 125 here); keep one of them",
        "visits.csv, row 8: date 45123 looks like an Excel day number (45123 is 16/07/2023): the column lost its date "
        "format; format the column as a date (DD/MM/YYYY) and type or save the dates again",
    ]
