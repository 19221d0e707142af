"""Concurrent therapies (minoxidil, finasteride, Viviscal or any other): added with dose and dates, and
stopped (or the stop corrected) with the previous value, who, when and why kept.

Each service checks the actor (staff only), runs in one transaction and is audited.
"""

from __future__ import annotations

from datetime import date

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import parse_date, show_date
from tracker.database import transaction
from tracker.errors import NotFound
from tracker.progress.patient_progress import find_patient
from tracker.records.history import check_version, clean_reason, lock, reason_problems, record_change, refuse
from tracker.records.patient_fields import DOSE_MAX, THERAPY_NAME_MAX, collect, short_text
from tracker.validation import check_not_before_birth, check_not_in_future


def _therapy_date(value: object, label: str, today: date) -> date:
    return check_not_in_future(parse_date(value, label), today, label)


def add_therapy(actor: Actor, mrn: str, name: str, dose: str | None, start: date | str,
                stop: date | str | None = None, today: date | None = None, url: str | None = None) -> int:
    """Record a concurrent therapy (minoxidil, finasteride, Viviscal or any other); returns its id."""
    require_role(actor, *STAFF)
    today = today or date.today()
    problems: list[str] = []
    name_clean = collect(problems, short_text, name, "therapy name", THERAPY_NAME_MAX, True)
    dose_clean = collect(problems, short_text, dose, "dose", DOSE_MAX, False)
    start_day = collect(problems, _therapy_date, start, "start date", today)
    stop_day = None
    if stop not in (None, ""):
        stop_day = collect(problems, _therapy_date, stop, "stop date", today)
    if start_day and stop_day and stop_day < start_day:
        problems.append(f"stop date {show_date(stop_day)} is before the start date {show_date(start_day)}")
    with transaction(url) as session:
        patient = find_patient(session, mrn or "")
        if start_day:
            collect(problems, check_not_before_birth, start_day, patient.birth_date, "start date")
        if problems:
            refuse("The therapy was not saved", problems)
        therapy = models.ConcurrentTherapy(patient_id=patient.id, name=name_clean, dose=dose_clean, start=start_day,
                                           stop=stop_day, created_by=actor.username)
        session.add(therapy)
        session.flush()
        audit.record(session, actor, "create", patient_id=patient.id, detail=f"concurrent therapy {therapy.id} added")
        return therapy.id


def stop_therapy(actor: Actor, therapy_id: int, stop: date | str, reason: str, expected_version: int | None = None,
                 today: date | None = None, url: str | None = None) -> int:
    """Record (or correct) the day a concurrent therapy stopped, keeping the previous value and the reason.

    Returns the therapy's new version; ``expected_version`` refuses a stale edit (``ConflictError``)."""
    require_role(actor, *STAFF)
    today = today or date.today()
    problems: list[str] = []
    stop_day = collect(problems, _therapy_date, stop, "stop date", today)
    problems += reason_problems(reason)
    with transaction(url) as session:
        therapy = lock(session, models.ConcurrentTherapy, therapy_id)
        patient = session.get(models.Patient, therapy.patient_id) if therapy else None
        if therapy is None or therapy.deleted_at is not None or patient is None or patient.deleted_at is not None:
            raise NotFound(f"No concurrent therapy with id {therapy_id}.")
        check_version(therapy, expected_version)
        if stop_day and stop_day < therapy.start:
            problems.append(f"stop date {show_date(stop_day)} is before the start date {show_date(therapy.start)}")
        if not problems and stop_day is not None and stop_day == therapy.stop:
            problems.append(f"the therapy already stops on {show_date(stop_day)}")
        if problems:
            refuse("Nothing was saved", problems)
        record_change(session, actor, patient_id=patient.id, table_name="concurrent_therapy", row_id=therapy.id,
                      field="stop", old_value=therapy.stop, new_value=stop_day, reason=clean_reason(reason))
        therapy.stop = stop_day
        therapy.version += 1
        audit.record(session, actor, "update", patient_id=patient.id, detail=f"concurrent therapy {therapy.id} stopped")
        return therapy.version
