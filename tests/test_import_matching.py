"""The import against the database (``tracker.exchange.import_matching``): nothing imported twice, nothing recorded
changed, removed records not restored, references to patients already recorded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from db import models
from tests.import_samples import PATIENTS, SESSIONS, VISITS, assert_clinic_imported, counts, files, refused, run, write
from tracker.database import transaction
from tracker.exchange.spreadsheet_import import ImportResult


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


def test_visits_and_sessions_may_refer_to_patients_already_in_the_database(clinic, tmp_path):
    run(clinic, files(tmp_path))
    later = tmp_path / "later"
    later.mkdir()
    result = run(clinic, files(later, PATIENTS[:1], SESSIONS[:1] + [["RT-003", "2025-05-01", "prp", "", ""]],
                               VISITS[:1] + [["RT-003", "2025-05-01", "190", ""]]))
    assert (result.sessions_added, result.visits_added, result.measurements_added) == (1, 1, 1)


def test_mrn_found_neither_in_the_patients_file_nor_in_the_database(clinic, tmp_path):
    problems = refused(clinic, files(tmp_path, visits=VISITS + [["RT-999", "2025-01-10", "100", ""]]))
    assert problems == ["visits.csv, row 7: MRN 'RT-999' is neither in patients.csv nor in the database"]


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


def test_mrns_match_whatever_their_capitals(clinic, tmp_path):
    """A later file writing ux-0001 for the record UX-0001 adds to that patient, never a second one."""
    run(clinic, files(tmp_path, [PATIENTS[0], ["UX-0001", "Jane Doe", "female", "1980-05-01", "other"]],
                      SESSIONS[:1], VISITS[:1]))
    later = tmp_path / "later"
    later.mkdir()
    result = run(clinic, files(later, [PATIENTS[0], ["ux-0001", "Jane Doe", "female", "1980-05-01", "other"]],
                               [SESSIONS[0], ["Ux-0001", "2025-01-10", "prp", "", ""]],
                               [VISITS[0], ["ux-0001", "2025-01-10", "120", ""],
                                ["UX-0001", "2025-01-10", "90", "vertex"]]))
    assert (result.patients_added, result.patients_skipped, result.sessions_added, result.visits_added,
            result.measurements_added) == (0, 1, 1, 1, 2)
    with transaction(clinic) as session:
        assert session.scalars(select(models.Patient.mrn)).all() == ["UX-0001"]
    # within one file too: two rows for one MRN in other capitals are one patient, or a conflict
    (tmp_path / "again").mkdir()
    problems = refused(clinic, files(tmp_path / "again", [
        PATIENTS[0], ["AB-1", "Omar Haddad", "male", "1975-11-30", "other"],
        ["ab-1", "Omar Haddad", "male", "1975-11-30", "other"]], SESSIONS[:1], VISITS[:1]))
    assert problems == ["patients.csv, row 3: MRN 'ab-1' is also on row 2 with different details: "
                        "mrn 'AB-1' there, 'ab-1' here"]
