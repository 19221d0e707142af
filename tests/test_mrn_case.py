"""MRN lookups ignore capitals everywhere (issue #12: creating a patient account for ``ux-0001`` failed where the
record is ``UX-0001``): the patient lookup behind progress, photos and reports, accounts, corrections, the audit
filter. The import's matching: test_import_matching.py.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from db import models
from tests.account_samples import CLI, GOOD
from tracker.access.accounts import create_user
from tracker.access.actors import Actor
from tracker.access.audit import browse
from tracker.access.patient_lookup import resolve_patient
from tracker.database import transaction
from tracker.progress.patient_progress import progress_json
from tracker.records.patient_corrections import update_patient
from tracker.records.patient_record import patient_record

ADMIN = Actor("boss", "admin")


def add_patient(url: str, mrn: str) -> int:
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name="Jane Doe", sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia", created_by="test")
        session.add(patient)
        session.flush()
        return patient.id


def test_every_lookup_by_mrn_ignores_capitals(clinic):
    patient_id = add_patient(clinic, "UX-0001")
    create_user(CLI, username="jane", password=GOOD, role="patient", patient_mrn=" ux-0001 ", url=clinic)
    with transaction(clinic) as session:
        assert session.scalar(select(models.User.patient_id).where(models.User.username == "jane")) == patient_id
        assert resolve_patient(session, ADMIN, "ux-0001").mrn == "UX-0001"
        # a patient account asking for its own record in other capitals gets it
        assert resolve_patient(session, Actor("jane", "patient", patient_id), "Ux-0001").id == patient_id
    assert progress_json(CLI, "ux-0001", date(2025, 6, 1), clinic)["mrn"] == "UX-0001"
    assert patient_record(ADMIN, "ux-0001", url=clinic).details.mrn == "UX-0001"
    assert update_patient(ADMIN, "ux-0001", {"full_name": "Jane Smith"}, "married", expected_version=1,
                          url=clinic) == 2
    # the audit page's MRN filter finds that patient's entries (the views and the correction above)
    assert {row.patient_mrn for row in browse(ADMIN, mrn="ux-0001", url=clinic)} == {"UX-0001"}


def test_the_exact_spelling_wins_when_two_records_differ_only_in_capitals(clinic):
    """Intake refuses such a pair now; older records may hold one, and each must stay reachable."""
    add_patient(clinic, "ab-1")
    upper = add_patient(clinic, "AB-1")
    with transaction(clinic) as session:
        assert resolve_patient(session, ADMIN, "AB-1").id == upper
        assert resolve_patient(session, ADMIN, "ab-1").mrn == "ab-1"
