"""Which patient an actor may look at: a patient account always gets its own record, staff any patient's.

The progress, photo and report services all start here, so a patient account can never reach another
patient's data through any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select

from db import models
from tracker.access.actors import PATIENT, ROLES, Actor, require_patient_access, require_role
from tracker.course.milestones import DEFAULT_PROTOCOL, Protocol
from tracker.course.protocols import from_stored
from tracker.database import AnyRow, Reads, read_connection
from tracker.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class PatientBasics:
    """The patient as the progress, photo and report services need them, with their protocol as the
    engine sees it: read in one statement, no ORM object (these pages rerun on every click)."""

    id: int
    mrn: str
    full_name: str
    sex: str
    birth_date: date
    condition: str
    protocol: Protocol


_patient = models.Base.metadata.tables[models.Patient.__tablename__]
_protocol = models.Base.metadata.tables[models.Protocol.__tablename__]
_PATIENT = (
    select(_patient.c.id, _patient.c.mrn, _patient.c.full_name, _patient.c.sex, _patient.c.birth_date,
           _patient.c.condition, _protocol.c.name, _protocol.c.band, _protocol.c.windows, _protocol.c.evidence_note,
           _protocol.c.noise_pct, _protocol.c.outcome_measure)
    .select_from(_patient.outerjoin(_protocol, _protocol.c.id == _patient.c.protocol_id))
    .where(_patient.c.deleted_at.is_(None))
)
_PATIENT_BY_MRN = _PATIENT.where(_patient.c.mrn == bindparam("mrn"))
_PATIENT_BY_ID = _PATIENT.where(_patient.c.id == bindparam("id"))


def _summary(row: AnyRow | None) -> PatientBasics | None:
    if row is None:
        return None
    # A patient with no protocol linked follows the built-in default (as ``protocols.to_engine``).
    protocol = DEFAULT_PROTOCOL if row.name is None else from_stored(row.name, row.band, row.windows,
                                                                      row.evidence_note, row.noise_pct,
                                                                      row.outcome_measure)
    return PatientBasics(row.id, row.mrn, row.full_name, row.sex, row.birth_date, row.condition, protocol)


def resolve_patient(session: Reads, actor: Actor | None, mrn: str | None) -> PatientBasics:
    """The patient this actor asked for: a patient account always gets its own record, and only that.

    A patient account that asks for any other MRN is refused (and the attempt is audited), whether or
    not that MRN exists.
    """
    actor = require_role(actor, *ROLES)
    reads = read_connection(session)
    if actor.role == PATIENT:
        own = _summary(reads.execute(_PATIENT_BY_ID, {"id": actor.patient_id}).first()) if actor.patient_id else None
        if own is None:
            raise NotFound("Your patient record is not available. Please contact the clinic.")
        if mrn and mrn.strip() != own.mrn:
            raise PermissionDenied("This record is not available to your account.")
        return own
    if not mrn:
        raise NotFound("Choose a patient first.")
    patient = _summary(reads.execute(_PATIENT_BY_MRN, {"mrn": mrn.strip()}).first())
    if patient is None:
        raise NotFound(f"No patient with MRN {mrn.strip()!r}.")
    require_patient_access(actor, patient.id)
    return patient
