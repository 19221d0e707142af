"""The import writes its rows in bulk, unseen by the ORM's tracking of writes: it refreshes the whole-clinic
lists' outlook (``tracker.progress.outlook``) of every patient it gives a record, in its own transaction, so that
the Patients list and the Schedule show what the engine says about the imported patients (issue #13)."""

from __future__ import annotations

from sqlalchemy import func, select

from db import models
from tests.import_samples import PATIENTS, SESSIONS, VISITS, files, run
from tests.test_import_preview import preview
from tests.test_outlook import differences
from tracker.database import transaction
from tracker.progress import outlook


def outlook_patients(url: str) -> int:
    with transaction(url) as session:
        return session.execute(select(func.count()).select_from(outlook.OUTLOOK)).scalar_one()


def test_imported_patients_have_the_engine_s_outlook(clinic, tmp_path):
    assert preview(clinic, files(tmp_path)).patients_added == 3
    assert outlook_patients(clinic) == 0, "a check writes nothing, the outlook included"
    run(clinic, files(tmp_path))
    assert outlook_patients(clinic) == 3
    assert differences(clinic) == []


def test_records_imported_for_known_patients_refresh_their_outlook(clinic, tmp_path):
    """A second import adds a session and a visit to a patient of the first: the outlook follows."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    run(clinic, files(tmp_path / "first"))
    with transaction(clinic) as session:
        before = session.execute(select(outlook.SPAN.c.last_visit).join(
            models.Patient, models.Patient.id == outlook.SPAN.c.patient_id).where(
            models.Patient.mrn == "RT-002")).scalars().all()
    assert {str(day) for day in before} == {"2025-01-15"}, "RT-002's one visit of the first files"
    later = run(clinic, files(
        tmp_path / "second", patients=PATIENTS,
        sessions=[*SESSIONS, ["RT-002", "2025-04-20", "prp", "", ""]],
        visits=[*VISITS, ["RT-002", "2025-05-20", "151", "primary"]],
    ))
    assert (later.sessions_added, later.visits_added, later.patients_skipped) == (1, 1, 3)
    with transaction(clinic) as session:
        last_visits = session.execute(select(outlook.SPAN.c.last_visit).join(
            models.Patient, models.Patient.id == outlook.SPAN.c.patient_id).where(
            models.Patient.mrn == "RT-002")).scalars().all()
    assert {str(day) for day in last_visits} == {"2025-05-20"}
    assert differences(clinic) == []
