"""Corrections of a patient's details (``update_patient``, staff only): each changed field keeps the previous
value, who changed it, when and why (``tracker.records.history``; removals are ``history.soft_delete``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.access.patient_lookup import with_mrn
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.database import transaction
from tracker.errors import NotFound, ValidationError
from tracker.records.history import check_version, clean_reason, reason_problems, record_change, refuse
from tracker.records.patient_fields import collect, parse_baseline, parse_notes, parse_target_areas, typed_stage
from tracker.records.patient_intake import _mrn_taken, _protocol_by_name
from tracker.validation import (
    check_not_before_birth,
    parse_birth_date,
    parse_condition,
    parse_full_name,
    parse_mrn,
    parse_sex,
)

# Fields ``update_patient`` accepts; ``protocol`` is given by name.
PATIENT_FIELDS = ("mrn", "full_name", "sex", "birth_date", "condition", "baseline_scale", "baseline_stage",
                  "target_areas", "protocol", "notes")


def _current(patient: models.Patient, name: str) -> object:
    if name == "protocol":
        return patient.protocol.name if patient.protocol else DEFAULT_PROTOCOL_NAME
    return getattr(patient, name)


def update_patient(actor: Actor, mrn: str, changes: Mapping[str, object], reason: str, expected_version: int,
                   today: date | None = None, url: str | None = None) -> int:
    """Correct a patient's details (staff only); returns the record's new version.

    ``changes`` maps fields of ``PATIENT_FIELDS`` to the values typed. Only fields whose value differs are
    changed, each leaving a ``ChangeRecord`` with ``reason``. ``expected_version`` is the version the
    clinician opened: if someone changed the record since, ``ConflictError`` and nothing is saved.
    """
    require_role(actor, *STAFF)
    problems = [f"{name!r} is not a patient detail that can be corrected here"
                for name in changes if name not in PATIENT_FIELDS]
    problems += reason_problems(reason)
    clean = _parse_changes(changes, today or date.today(), problems)
    with transaction(url) as session:
        patient = session.scalar(with_mrn(select(models.Patient).where(models.Patient.deleted_at.is_(None)),
                                          models.Patient.mrn, mrn or "").with_for_update())
        if patient is None:
            raise NotFound(f"No patient with MRN {(mrn or '').strip()!r}.")
        check_version(patient, expected_version)
        protocol = _check_against_record(session, patient, changes, clean, problems)
        if problems:
            refuse("Nothing was saved", problems)
        changed = [name for name in PATIENT_FIELDS if name in clean and clean[name] != _current(patient, name)]
        if not changed:
            raise ValidationError("Nothing was saved: the values are the same as in the record.")
        reason = clean_reason(reason)
        at = datetime.now(UTC)
        for name in changed:
            record_change(session, actor, patient_id=patient.id, table_name="patient", row_id=patient.id,
                          field=name, old_value=_current(patient, name), new_value=clean[name], reason=reason, at=at)
            if name == "protocol":
                patient.protocol = protocol
                patient.protocol_id = protocol.id if protocol else None
            else:
                setattr(patient, name, clean[name])
        patient.version += 1
        audit.record(session, actor, "update", patient_id=patient.id,
                     detail="patient details corrected: " + ", ".join(changed))
        return patient.version


def _parse_changes(changes: Mapping[str, object], today: date, problems: list[str]) -> dict[str, object]:
    """The typed values that need no database, parsed; each refused one adds its problems instead."""
    parsers: dict[str, Callable[[object], object]] = {
        "mrn": parse_mrn, "full_name": parse_full_name, "sex": parse_sex, "condition": parse_condition,
        "birth_date": lambda value: parse_birth_date(value, today), "target_areas": parse_target_areas,
        "notes": parse_notes,
    }
    clean: dict[str, object] = {}
    for name, value in changes.items():
        if name in parsers:
            before = len(problems)
            parsed = collect(problems, parsers[name], value)
            if len(problems) == before:
                clean[name] = parsed
    return clean


def _check_against_record(session: Session, patient: models.Patient, changes: Mapping[str, object],
                          clean: dict[str, object], problems: list[str]) -> models.Protocol | None:
    """The checks that need the record or the database: a taken MRN, the protocol (its name is put in
    ``clean``), the baseline staging and the birth date against the first recorded day. Returns the
    protocol asked for (None: the default)."""
    new_mrn = clean.get("mrn")
    if isinstance(new_mrn, str):
        taken = _mrn_taken(session, new_mrn, other_than=patient.id)
        if taken:
            problems.append(taken)
    protocol = None
    if "protocol" in changes:
        protocol_name = changes["protocol"]
        protocol = _protocol_by_name(session, None if protocol_name is None else str(protocol_name), problems)
        clean["protocol"] = protocol.name if protocol else DEFAULT_PROTOCOL_NAME
    _check_staging(patient, changes, clean, problems)
    if "birth_date" in clean:
        first = _first_recorded(session, patient.id)
        if first is not None:
            collect(problems, check_not_before_birth, first, clean["birth_date"],
                     "first recorded visit or session")
    return protocol


def _check_staging(patient: models.Patient, changes: Mapping[str, object], clean: dict[str, object],
                   problems: list[str]) -> None:
    """Re-judge the baseline scale and stage when sex, condition, scale or stage change (the accepted
    baseline is put in ``clean``)."""
    staging = ("sex", "condition", "baseline_scale", "baseline_stage")
    if not any(name in changes for name in staging) or _same_staging(patient, clean, changes):
        return
    # Judged only when sex and condition themselves were accepted (else they are reported already).
    if any(name in changes and name not in clean for name in ("sex", "condition")):
        return
    sex, condition = clean.get("sex", patient.sex), clean.get("condition", patient.condition)
    scale = changes.get("baseline_scale", patient.baseline_scale)
    stage = changes.get("baseline_stage", patient.baseline_stage)
    baseline = collect(problems, parse_baseline, condition, sex, scale, stage)
    if baseline is not None:
        clean["baseline_scale"], clean["baseline_stage"] = baseline


def _same_staging(patient: models.Patient, clean: Mapping[str, object], changes: Mapping[str, object]) -> bool:
    """Sex, condition, scale and stage as recorded: a form that sends them unchanged is not re-judged
    (a record imported without a baseline stage can still have its name corrected)."""
    scale = str(changes.get("baseline_scale", patient.baseline_scale) or "").strip().lower() or None
    return (
        clean.get("sex", patient.sex) == patient.sex
        and clean.get("condition", patient.condition) == patient.condition
        and ("sex" not in changes or "sex" in clean)
        and ("condition" not in changes or "condition" in clean)
        and scale == patient.baseline_scale
        and typed_stage(changes.get("baseline_stage", patient.baseline_stage)) == (patient.baseline_stage or "")
    )


def _first_recorded(session: Session, patient_id: int) -> date | None:
    candidates = (
        session.scalar(select(func.min(models.Visit.date)).where(
            models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))),
        session.scalar(select(func.min(models.TreatmentSession.date)).where(
            models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None))),
        session.scalar(select(func.min(models.ConcurrentTherapy.start)).where(
            models.ConcurrentTherapy.patient_id == patient_id, models.ConcurrentTherapy.deleted_at.is_(None))),
    )
    days = [d for d in candidates if d is not None]
    return min(days) if days else None
