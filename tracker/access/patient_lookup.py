"""Which patient an actor may look at: a patient account always gets its own record, staff any patient's.

The progress, photo and report services all start here, so a patient account can never reach another
patient's data through any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, bindparam, func, select

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
# MRNs compare whatever their capitals (see ``with_mrn``); the exact spelling first, should two records differ
# only so (intake refuses that since; older records may).
_PATIENT_BY_MRN = _PATIENT.where(func.upper(_patient.c.mrn) == func.upper(bindparam("mrn"))).order_by(
    _patient.c.mrn != bindparam("mrn"))

_Selected = TypeVarTuple("_Selected")


def with_mrn(statement: Select[*_Selected], column: ColumnElement[str] | Any, mrn: str) -> Select[*_Selected]:
    """``statement`` narrowed to the rows whose MRN ``column`` is ``mrn`` whatever its capitals (staff type
    ``ux-0001`` for the record ``UX-0001``), the exact spelling first. MRNs are letters, digits, ``-`` and ``_``
    (``validation.parse_mrn``), so upper-casing is the same in Python, SQLite and PostgreSQL."""
    mrn = mrn.strip()
    return statement.where(func.upper(column) == mrn.upper()).order_by(column != mrn)
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
        if mrn and mrn.strip().upper() != own.mrn.upper():
            raise PermissionDenied("This record is not available to your account.")
        return own
    if not mrn:
        raise NotFound("Choose a patient first.")
    patient = _summary(reads.execute(_PATIENT_BY_MRN, {"mrn": mrn.strip()}).first())
    if patient is None:
        raise NotFound(f"No patient with MRN {mrn.strip()!r}.")
    require_patient_access(actor, patient.id)
    return patient
