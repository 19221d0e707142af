"""Spreadsheets that name a protocol per patient and give a SALT score per visit (issue #11): the optional
``protocol`` column of the patients file and ``salt`` column of the visits file.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select

from db import models
from tests.import_samples import PATIENTS, SESSIONS, VISITS, files, measurements, refused, run
from tests.spreadsheet_samples import ods, text_cell, workbook
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.database import transaction

PATIENTS_WITH_PROTOCOL = [PATIENTS[0] + ["protocol"]]
VISITS_WITH_SALT = [VISITS[0] + ["salt"]]


def add_protocol(url: str, name: str, outcome_measure: str = "density") -> int:
    """A protocol like the clinic's default under another name (the band and windows do not matter here)."""
    with transaction(url) as session:
        default = session.scalars(select(models.Protocol).where(models.Protocol.name == DEFAULT_PROTOCOL_NAME)).one()
        protocol = models.Protocol(name=name, band=default.band, windows=default.windows,
                                   evidence_note="set by the clinic", outcome_measure=outcome_measure)
        session.add(protocol)
        session.flush()
        return protocol.id


def protocols_by_mrn(url: str) -> dict[str, str | None]:
    with transaction(url) as session:
        rows = session.execute(select(models.Patient.mrn, models.Protocol.name)
                               .outerjoin(models.Protocol, models.Protocol.id == models.Patient.protocol_id))
        return {mrn: name for mrn, name in rows}


def salt_scores(url: str) -> list[tuple[str, date, str, float | None, float | None, str | None]]:
    with transaction(url) as session:
        rows = session.execute(
            select(models.Patient.mrn, models.Visit.date, models.ScaleScore.scale, models.ScaleScore.salt_score,
                   models.ScaleScore.salt_vertex_pct, models.ScaleScore.created_by)
            .join(models.Visit, models.Visit.patient_id == models.Patient.id)
            .join(models.ScaleScore, models.ScaleScore.visit_id == models.Visit.id)
            .order_by(models.Patient.mrn, models.Visit.date))
        return [(mrn, day, scale, score, vertex, by) for mrn, day, scale, score, vertex, by in rows]


def test_each_patient_follows_the_protocol_its_row_names_or_the_default_for_its_condition(clinic, tmp_path):
    add_protocol(clinic, "PRP monthly")  # "Alopecia areata (SALT)" is seeded at set-up
    patients = PATIENTS_WITH_PROTOCOL + [
        ["AA-1", "Lea Roux", "F", "1990-01-01", "alopecia_areata", ""],  # empty: SALT, for alopecia areata
        ["AA-2", "Tom Roux", "M", "1990-01-01", "alopecia_areata", "prp  MONTHLY"],  # named, any capitals
        ["AG-1", "Ana Ruiz", "F", "1980-01-01", "androgenetic_alopecia", ""],  # empty: the clinic's default
        ["AG-2", "Ben Ruiz", "M", "1980-01-01", "androgenetic_alopecia", "PRP monthly"],
    ]
    run(clinic, files(tmp_path, patients, SESSIONS[:1], VISITS[:1]))
    assert protocols_by_mrn(clinic) == {"AA-1": "Alopecia areata (SALT)", "AA-2": "PRP monthly",
                                        "AG-1": DEFAULT_PROTOCOL_NAME, "AG-2": "PRP monthly"}


def test_without_a_salt_protocol_alopecia_areata_follows_the_default(clinic, tmp_path):
    with transaction(clinic) as session:  # a clinic that removed the seeded SALT protocol
        session.execute(delete(models.Protocol).where(models.Protocol.name == "Alopecia areata (SALT)"))
    run(clinic, files(tmp_path, [PATIENTS[0], ["AA-1", "Lea Roux", "F", "1990-01-01", "alopecia_areata"]],
                      SESSIONS[:1], VISITS[:1]))
    assert protocols_by_mrn(clinic) == {"AA-1": DEFAULT_PROTOCOL_NAME}


def test_an_unknown_protocol_is_refused_with_the_clinics_protocols(clinic, tmp_path):
    add_protocol(clinic, "PRP monthly")
    patients = PATIENTS_WITH_PROTOCOL + [["AG-1", "Ana Ruiz", "F", "1980-01-01", "androgenetic_alopecia", "Exo plan"]]
    assert refused(clinic, files(tmp_path, patients, SESSIONS[:1], VISITS[:1])) == [
        "patients.csv, row 2: protocol 'Exo plan' is not one of the clinic's protocols: 'Alopecia areata (SALT)', "
        f"'{DEFAULT_PROTOCOL_NAME}', 'PRP monthly' (leave the cell empty for the default)"
    ]


def test_a_row_naming_another_protocol_than_the_recorded_one_is_refused(clinic, tmp_path):
    add_protocol(clinic, "PRP monthly")
    row = ["AG-1", "Ana Ruiz", "F", "1980-01-01", "androgenetic_alopecia"]
    run(clinic, files(tmp_path, [PATIENTS[0], row], SESSIONS[:1], VISITS[:1]))
    again = run(clinic, files(tmp_path, [PATIENTS_WITH_PROTOCOL[0], row + [DEFAULT_PROTOCOL_NAME]], SESSIONS[:1],
                              VISITS[:1]))
    assert again.patients_skipped == 1  # the protocol it follows, named
    assert refused(clinic, files(tmp_path, [PATIENTS_WITH_PROTOCOL[0], row + ["PRP monthly"]], SESSIONS[:1],
                                 VISITS[:1])) == [
        "patients.csv, row 2: MRN 'AG-1' is already in the database with different details: protocol "
        f"'{DEFAULT_PROTOCOL_NAME}' in the database, 'PRP monthly' here. An import never changes a patient's "
        "record: correct the spreadsheet or the record"
    ]


def test_a_salt_score_per_visit_is_stored_as_the_visit_form_stores_it(clinic, tmp_path):
    patients = [PATIENTS[0], ["AA-1", "Lea Roux", "F", "1990-01-01", "alopecia_areata"]]
    visits = VISITS_WITH_SALT + [
        ["AA-1", "2025-01-10", "", "", "62"],  # SALT only: no density
        ["AA-1", "2025-04-10", "", "", "41.5"],
        ["AA-1", "2025-04-10", "95", "vertex", "41.5"],  # a density too; the same visit, the same score
    ]
    result = run(clinic, files(tmp_path, patients, SESSIONS[:1], visits))
    assert (result.visits_added, result.measurements_added, result.salt_scores_added) == (2, 1, 2)
    assert "  SALT scores: 2 added, 0 already present" in result.summary().splitlines()
    assert salt_scores(clinic) == [("AA-1", date(2025, 1, 10), "salt", 62.0, None, "cli:import"),
                                   ("AA-1", date(2025, 4, 10), "salt", 41.5, None, "cli:import")]
    assert [(day, site, density) for _, day, site, density, _ in measurements(clinic)] == [
        (date(2025, 4, 10), "vertex", 95.0)]
    again = run(clinic, files(tmp_path, patients, SESSIONS[:1], visits))  # importing again adds nothing
    assert (again.visits_added, again.salt_scores_added, again.salt_scores_skipped) == (0, 0, 2)


def test_a_salt_only_visits_file_needs_no_density_column(clinic, tmp_path):
    patients = [PATIENTS[0], ["AA-1", "Lea Roux", "F", "1990-01-01", "alopecia_areata"]]
    # "45.5%": a percent-formatted column as a spreadsheet writes it to CSV is the score 45.5, not 0.455.
    visits = [["MRN", "Date", "SALT"], ["AA-1", "2025-01-10", "35"], ["AA-1", "2025-02-10", "45.5%"]]
    assert run(clinic, files(tmp_path, patients, SESSIONS[:1], visits)).salt_scores_added == 2
    assert [score for *_, score, _, _ in salt_scores(clinic)] == [35.0, 45.5]
    problems = refused(clinic, files(tmp_path, patients, SESSIONS[:1], [["mrn", "date"], ["AA-1", "2025-02-10"]]))
    assert problems == ["visits.csv, row 1: missing column 'density_per_cm2' (or 'salt' for a SALT score) "
                        "(the columns are: mrn, date; optional: density_per_cm2, site, salt)"]


def test_salt_scores_that_cannot_be_stored_are_refused(clinic, tmp_path):
    patients = [PATIENTS[0], ["AA-1", "Lea Roux", "F", "1990-01-01", "alopecia_areata"]]
    run(clinic, files(tmp_path, patients, SESSIONS[:1], VISITS_WITH_SALT + [["AA-1", "2025-01-10", "", "", "62"]]))
    visits = VISITS_WITH_SALT + [
        ["AA-1", "2025-02-10", "", "", "120"],
        ["AA-1", "2025-03-10", "", "", ""],
        ["AA-1", "2025-04-10", "", "primary", "30"],
        ["AA-1", "2025-04-10", "", "vertex", "31"],
        ["AA-1", "2025-01-10", "", "", "60"],
    ]
    assert refused(clinic, files(tmp_path, patients, SESSIONS[:1], visits)) == [
        "visits.csv, row 2: salt 120 is out of range: a percentage runs from 0 to 100",
        "visits.csv, row 3: density_per_cm2 or salt is required: a density (a number more than 0 and at most 600 "
        "hairs/cm²) or a SALT score (0 to 100)",
        "visits.csv, row 5: MRN 'AA-1' on 2025-04-10 is also on row 4 with a different SALT score (30 there, 31 "
        "here); a visit has one SALT score: keep one of them",
        "visits.csv, row 6: the database already has the SALT score 62 for MRN 'AA-1' on 2025-01-10; this row says "
        "60. An import never changes a recorded score",
    ]


def test_a_salt_score_typed_as_a_percentage_is_the_percentage_shown(clinic, tmp_path):
    """62.5% in a percentage-formatted cell is held as 0.625; the clinic typed, and sees, 62.5."""
    book, sheet = workbook()
    sheet.append(["mrn", "date", "salt"])
    sheet.append(["AA-1", date(2025, 1, 10), 0.625])
    sheet["C2"].number_format = "0.0%"
    book.save(tmp_path / "visits.xlsx")
    ods(tmp_path / "visits.ods", [[text_cell("mrn"), text_cell("date"), text_cell("salt")],
                                  [text_cell("AA-1"), text_cell("2025-04-10"),
                                   '<table:table-cell office:value-type="percentage" office:value="0.4">'
                                   "<text:p>40%</text:p></table:table-cell>"]])
    patients = [PATIENTS[0], ["AA-1", "Lea Roux", "F", "1990-01-01", "alopecia_areata"]]
    paths = files(tmp_path, patients, SESSIONS[:1], VISITS[:1])
    run(clinic, (*paths[:2], tmp_path / "visits.xlsx"))
    run(clinic, (*paths[:2], tmp_path / "visits.ods"))
    assert [(day, score) for _, day, _, score, _, _ in salt_scores(clinic)] == [(date(2025, 1, 10), 62.5),
                                                                               (date(2025, 4, 10), 40.0)]
