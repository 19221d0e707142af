"""The spreadsheet import: all or nothing, every problem listed with file, row and reason, never twice."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from db import models
from tracker.access.actors import Actor, command_line_actor
from tracker.errors import ValidationError
from tracker.exchange.spreadsheet_import import ImportResult, import_spreadsheets
from tracker.operations.database import transaction

TODAY = date(2025, 6, 1)

PATIENTS = [
    ["mrn", "full_name", "sex", "birth_date", "condition"],
    ["RT-001", "Jane Doe", "female", "1980-05-01", "androgenetic_alopecia"],
    ["RT-002", "Omar Haddad", "male", "1975-11-30", "androgenetic_alopecia"],
    ["RT-003", "Mei Lin", "female", "1992-02-29", "telogen_effluvium"],
]
SESSIONS = [
    ["mrn", "date", "treatment", "product", "lot_number"],
    ["RT-001", "2025-01-10", "exosome", "ExoGen 5", "EX-2501"],
    ["RT-001", "2025-04-12", "exosome", "ExoGen 5", "EX-2503"],
    ["RT-002", "2025-01-15", "prp", "", ""],
]
VISITS = [
    ["mrn", "date", "density_per_cm2", "site"],
    ["RT-001", "2025-01-10", "120", "primary"],
    ["RT-001", "2025-01-10", "95.5", "vertex"],
    ["RT-001", "2025-04-12", "131", ""],
    ["RT-002", "2025-01-15", "140", "primary"],
    ["RT-003", "2025-03-01", "180", "Frontal"],
]


def write(path: Path, rows: list[list[object]]) -> Path:
    """A CSV or an .xlsx file (by the name's extension) holding ``rows``, the first being the header."""
    if path.suffix == ".xlsx":
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None  # a new workbook has one sheet
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    else:
        with path.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(rows)
    return path


def files(tmp_path: Path, patients=PATIENTS, sessions=SESSIONS, visits=VISITS, ext="csv") -> tuple[Path, ...]:
    return (write(tmp_path / f"patients.{ext}", patients), write(tmp_path / f"sessions.{ext}", sessions),
            write(tmp_path / f"visits.{ext}", visits))


def run(url: str, paths, **kwargs) -> ImportResult:
    return import_spreadsheets(*paths, url=url, today=TODAY, **{"actor": command_line_actor("import"), **kwargs})


def refused(url: str, paths) -> list[str]:
    """The problems of an import that must be refused, after checking the database was left alone."""
    before = counts(url)
    with pytest.raises(ValidationError) as caught:
        run(url, paths)
    assert counts(url) == before, "a refused import must write nothing"
    return caught.value.problems


def counts(url: str) -> dict[str, int]:
    with transaction(url) as session:
        return {
            model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (models.Patient, models.TreatmentSession, models.Visit, models.DensityMeasurement)
        }


def measurements(url: str) -> list[tuple[object, ...]]:
    with transaction(url) as session:
        rows = session.execute(
            select(models.Patient.mrn, models.Visit.date, models.DensityMeasurement.site,
                   models.DensityMeasurement.density_per_cm2, models.DensityMeasurement.created_by)
            .join(models.Visit, models.Visit.patient_id == models.Patient.id)
            .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
            .order_by(models.Patient.mrn, models.Visit.date, models.DensityMeasurement.site)
        )
        return [tuple(row) for row in rows]


EXPECTED_MEASUREMENTS = [
    ("RT-001", date(2025, 1, 10), "primary", 120.0, "cli:import"),
    ("RT-001", date(2025, 1, 10), "vertex", 95.5, "cli:import"),
    ("RT-001", date(2025, 4, 12), "primary", 131.0, "cli:import"),
    ("RT-002", date(2025, 1, 15), "primary", 140.0, "cli:import"),
    ("RT-003", date(2025, 3, 1), "frontal", 180.0, "cli:import"),
]


def assert_clinic_imported(url: str) -> None:
    assert counts(url) == {"Patient": 3, "TreatmentSession": 3, "Visit": 4, "DensityMeasurement": 5}
    with transaction(url) as session:
        patients = session.scalars(select(models.Patient).order_by(models.Patient.mrn)).all()
        assert [(p.mrn, p.full_name, p.sex, p.birth_date, p.condition, p.created_by) for p in patients] == [
            ("RT-001", "Jane Doe", "female", date(1980, 5, 1), "androgenetic_alopecia", "cli:import"),
            ("RT-002", "Omar Haddad", "male", date(1975, 11, 30), "androgenetic_alopecia", "cli:import"),
            ("RT-003", "Mei Lin", "female", date(1992, 2, 29), "telogen_effluvium", "cli:import"),
        ]
        sessions = session.execute(
            select(models.Patient.mrn, models.TreatmentSession.date, models.TreatmentSession.treatment,
                   models.TreatmentSession.product, models.TreatmentSession.lot_number,
                   models.TreatmentSession.created_by)
            .join(models.Patient, models.Patient.id == models.TreatmentSession.patient_id)
            .order_by(models.TreatmentSession.date)
        ).all()
        assert [tuple(row) for row in sessions] == [
            ("RT-001", date(2025, 1, 10), "exosome", "ExoGen 5", "EX-2501", "cli:import"),
            ("RT-002", date(2025, 1, 15), "prp", "", "", "cli:import"),
            ("RT-001", date(2025, 4, 12), "exosome", "ExoGen 5", "EX-2503", "cli:import"),
        ]
    # one visit per patient per day, holding one measurement per site
    assert measurements(url) == EXPECTED_MEASUREMENTS


# --- what goes in -------------------------------------------------------------------------------------


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


def test_importing_the_same_files_again_adds_nothing(clinic, tmp_path):
    paths = files(tmp_path)
    run(clinic, paths)
    again = run(clinic, paths)
    assert again == ImportResult(patients_skipped=3, sessions_skipped=3, visits_skipped=4, measurements_skipped=5)
    assert_clinic_imported(clinic)
    # the same records saved as a workbook are recognised too
    assert run(clinic, files(tmp_path, ext="xlsx")) == again


def test_a_later_spreadsheet_adds_only_what_is_new(clinic, tmp_path):
    run(clinic, files(tmp_path))
    later = tmp_path / "later"
    later.mkdir()
    visits = VISITS + [["RT-001", "2025-01-10", "80", "occipital"], ["RT-002", "2025-05-20", "150", "primary"]]
    result = run(clinic, files(later, patients=PATIENTS[:1], sessions=SESSIONS[:1], visits=visits))
    assert result == ImportResult(visits_added=1, visits_skipped=4, measurements_added=2,
                                  measurements_skipped=5)
    assert counts(clinic) == {"Patient": 3, "TreatmentSession": 3, "Visit": 5, "DensityMeasurement": 7}


def test_exact_duplicate_rows_are_imported_once(clinic, tmp_path):
    result = run(clinic, files(tmp_path, PATIENTS + PATIENTS[1:2], SESSIONS + SESSIONS[1:2], VISITS + VISITS[1:3]))
    assert result.duplicate_rows == 4
    assert "4 row(s) repeated an earlier row exactly" in result.summary()
    assert_clinic_imported(clinic)


def test_rows_carry_the_acting_user(clinic, tmp_path):
    run(clinic, files(tmp_path), actor=Actor("dr.smith", "clinician"))
    assert {row[4] for row in measurements(clinic)} == {"dr.smith"}


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
    run(clinic, files(tmp_path, patients, SESSIONS[:1], VISITS[:1], ext="xlsx"))
    with transaction(clinic) as session:
        names = session.scalars(select(models.Patient.full_name).order_by(models.Patient.mrn)).all()
    assert names == ['=HYPERLINK("http://x","Jane")', "@SUM(1+1)", "+1 Mei", "-Lin"]
    # a formula that would compute a valid density is not computed
    problems = refused(clinic, files(tmp_path, PATIENTS[:1], SESSIONS[:1],
                                     [VISITS[0], ["RT-001", "2025-01-10", "=100+50", ""]], ext="xlsx"))
    assert problems == ["visits.xlsx, row 2: density_per_cm2 '=100+50' is not a number "
                        "(more than 0 and at most 600 hairs/cm²)"]


def test_visits_and_sessions_may_refer_to_patients_already_in_the_database(clinic, tmp_path):
    run(clinic, files(tmp_path))
    later = tmp_path / "later"
    later.mkdir()
    result = run(clinic, files(later, PATIENTS[:1], SESSIONS[:1] + [["RT-003", "2025-05-01", "prp", "", ""]],
                               VISITS[:1] + [["RT-003", "2025-05-01", "190", ""]]))
    assert (result.sessions_added, result.visits_added, result.measurements_added) == (1, 1, 1)


# --- what is refused ----------------------------------------------------------------------------------


def test_every_problem_in_all_three_files_is_listed_and_nothing_is_written(clinic, tmp_path):
    run(clinic, files(tmp_path))  # an existing clinic, which a refused import must leave exactly as it was
    before = measurements(clinic)
    bad = tmp_path / "bad"
    bad.mkdir()
    patients = PATIENTS + [
        ["RT-010", "Ana Ruiz", "female", "02/03/1985", "alopecia_areata"],
        ["RT-011", "", "unknown", "1985-01-01", "baldness"],
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
        "write it like 2025-03-14",
        "patients.csv, row 6: full_name is required",
        "patients.csv, row 6: sex 'unknown' is not one of female, male, other",
        "patients.csv, row 6: condition 'baldness' is not one of androgenetic_alopecia, alopecia_areata, "
        "telogen_effluvium, other",
        "patients.csv, row 7: MRN 'RT-001' is also on row 2 with different details: "
        "full_name 'Jane Doe' there, 'Janet Doe' here",
        "sessions.csv, row 5: date '2025-02-30' is not a real date: 2025-02 has 28 days",
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


@pytest.mark.parametrize("header, problem", [
    (["mrn", "full_name", "sex", "condition"],
     "patients.csv, row 1: missing column 'birth_date' (the columns are: mrn, full_name, sex, birth_date, condition)"),
    (["mrn", "full_name", "sex", "birth_date", "condition", "notes"],
     "patients.csv, row 1: unknown column 'notes' in column F "
     "(the columns are: mrn, full_name, sex, birth_date, condition)"),
    (["MRN", "full_name", "sex", "birth_date", "condition"],
     "patients.csv, row 1: missing column 'mrn' (the columns are: mrn, full_name, sex, birth_date, condition)"),
    (["mrn", "full_name", "sex", "birth_date", "condition", "mrn"],
     "patients.csv, row 1: column 'mrn' appears more than once (columns A and F)"),
])
def test_header_problems(clinic, tmp_path, header, problem):
    problems = refused(clinic, files(tmp_path, patients=[header]))
    assert problem in problems


def test_a_misspelt_column_gets_a_suggestion(clinic, tmp_path):
    visits = [["mrn", "date", "Density per cm2"], ["RT-001", "2025-01-10", "1"]]
    problems = refused(clinic, files(tmp_path, visits=visits))
    assert ("visits.csv, row 1: unknown column 'Density per cm2' in column C; did you mean 'density_per_cm2'?"
            in problems)


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


def test_mrn_found_neither_in_the_patients_file_nor_in_the_database(clinic, tmp_path):
    problems = refused(clinic, files(tmp_path, visits=VISITS + [["RT-999", "2025-01-10", "100", ""]]))
    assert problems == ["visits.csv, row 7: MRN 'RT-999' is neither in patients.csv nor in the database"]


@pytest.mark.parametrize("value, reason", [
    ("2025-02-30", "date '2025-02-30' is not a real date: 2025-02 has 28 days"),
    ("02/03/2025",
     "date '02/03/2025' is not written YYYY-MM-DD, which could be read two ways; write it like 2025-03-14"),
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
                            actor=command_line_actor("import"),
                            url=clinic)
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


def test_a_density_differing_from_the_recorded_one_is_refused(clinic, tmp_path):
    run(clinic, files(tmp_path))
    visits = [VISITS[0], ["RT-001", "2025-01-10", "121", "primary"]]
    problems = refused(clinic, files(tmp_path, visits=visits))
    assert problems == ["visits.csv, row 2: the database already has 120 hairs/cm² for MRN 'RT-001' on 2025-01-10 at "
                        "site 'primary'; this row says 121. An import never changes a recorded measurement"]


def test_an_mrn_already_in_the_database_with_different_details_is_refused(clinic, tmp_path):
    run(clinic, files(tmp_path))
    patients = [PATIENTS[0], ["RT-001", "Janet Doe", "female", "1981-05-01", "androgenetic_alopecia"],
                ["RT-002", "OMAR  haddad", "male", "1975-11-30", "androgenetic_alopecia"]]  # same name, other case
    problems = refused(clinic, files(tmp_path, patients=patients))
    assert problems == [
        "patients.csv, row 2: MRN 'RT-001' is already in the database with different details: "
        "full_name 'Jane Doe' in the database, 'Janet Doe' here; birth_date '1980-05-01' in the database, "
        "'1981-05-01' here. An import never changes a patient's record: correct the spreadsheet or the record"
    ]


def test_sessions_and_visits_before_birth_are_refused(clinic, tmp_path):
    run(clinic, files(tmp_path))
    problems = refused(clinic, files(tmp_path, patients=PATIENTS[:1],
                                     sessions=SESSIONS + [["RT-003", "1992-02-28", "prp", "", ""]]))
    assert problems == ["sessions.csv, row 5: date 1992-02-28 is before the patient's birth date 1992-02-29"]


def test_rows_matching_removed_records_are_refused_rather_than_restored(clinic, tmp_path):
    paths = files(tmp_path)
    run(clinic, paths)
    with transaction(clinic) as session:
        visit = session.scalars(select(models.Visit).where(models.Visit.date == date(2025, 4, 12))).one()
        visit.deleted_at, visit.deleted_by, visit.deleted_reason = datetime.now(UTC), "dr.smith", "wrong"
        patient = session.scalars(select(models.Patient).where(models.Patient.mrn == "RT-003")).one()
        patient.deleted_at = datetime(2025, 5, 1, 12, tzinfo=UTC)
        patient.deleted_by, patient.deleted_reason = "admin", "duplicate"
    problems = refused(clinic, paths)
    assert problems == [
        "patients.csv, row 4: MRN 'RT-003' belongs to a patient record removed from the app on 2025-05-01; "
        "restore that record or use another MRN",
        "visits.csv, row 4: this measurement was removed in the app; delete the row from the spreadsheet, or "
        "restore the measurement in the app",
    ]
    # without the patients file, the visits of the removed patient say so themselves
    problems = refused(clinic, (write(tmp_path / "patients.csv", PATIENTS[:1]), *paths[1:]))
    assert problems[-1] == ("visits.csv, row 6: MRN 'RT-003' belongs to a patient record removed from the app on "
                            "2025-05-01; restore that record or use another MRN")


# --- files that are not what they should be ---------------------------------------------------------


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
                        "mrn, date, density_per_cm2, site"]


def test_a_file_with_only_its_header_imports_nothing_from_it(clinic, tmp_path):
    result = run(clinic, files(tmp_path, sessions=SESSIONS[:1], visits=VISITS[:1]))
    assert (result.patients_added, result.sessions_added, result.measurements_added) == (3, 0, 0)


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") + b"\x00" * 32


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
    (tmp_path / "latin1.csv").write_bytes("mrn,full_name,sex,birth_date,condition\nRT-9,Jos\xe9,male,1980-01-01,other\n"
                                          .encode("latin-1"))
    problems = refused(clinic, (tmp_path / "latin1.csv", tmp_path / "old.xls", tmp_path / "zip.xlsx"))
    assert [problem.split(";")[0] for problem in problems] == [
        "latin1.csv: is not a spreadsheet saved as UTF-8 text (it may be another file, or a CSV in an older encoding)",
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
