"""A new patient: the intake form's protocol choices (``protocol_names``) and ``create_patient``.

Each service checks the actor, runs one transaction, is audited and hands plain data back. The fields' rules are
``tracker.records.patient_fields``; the protocol lookup and the MRN check are shared with the corrections
(``tracker.records.patient_corrections``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME, SALT_PROTOCOL_NAME
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.records.history import refuse
from tracker.records.patient_fields import collect, parse_baseline, parse_notes, parse_target_areas
from tracker.validation import parse_birth_date, parse_condition, parse_full_name, parse_mrn, parse_sex


@dataclass(frozen=True)
class NewPatient:
    """What the intake form collects; values as typed (text, or dates from a date picker).

    ``target_areas`` is comma-separated text or a list of sites; ``protocol`` a protocol's name (None: the
    default protocol); ``baseline_stage`` a stage (``"III"``) or, for SALT, a score 0–100.
    """

    mrn: str
    full_name: str
    sex: str
    birth_date: date | str | None
    condition: str
    baseline_scale: str | None = None
    baseline_stage: str | float | None = None
    target_areas: str | Sequence[str] = ""
    protocol: str | None = None
    notes: str = ""


def protocol_names(actor: Actor, url: str | None = None) -> list[str]:
    """The protocols a patient can follow, the default first."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
        return _protocol_names(session)


def proposed_protocol(condition: str | None, names: Sequence[str]) -> str | None:
    """The protocol the intake form preselects for ``condition`` among ``names`` (``protocol_names``): the
    alopecia areata (SALT) protocol for alopecia areata, which is followed on SALT (DESIGN.md §2), when the
    clinic has it; otherwise the first name (the default). The clinician can still choose another.

    >>> names = ["Exosome (default)", "Alopecia areata (SALT)", "PRP (standard)"]
    >>> proposed_protocol("alopecia_areata", names), proposed_protocol("androgenetic_alopecia", names)
    ('Alopecia areata (SALT)', 'Exosome (default)')
    >>> proposed_protocol("alopecia_areata", ["Exosome (default)"]), proposed_protocol(None, [])
    ('Exosome (default)', None)
    """
    if condition == "alopecia_areata" and SALT_PROTOCOL_NAME in names:
        return SALT_PROTOCOL_NAME
    return names[0] if names else None


def _protocol_names(session: Session) -> list[str]:
    names = sorted(session.scalars(select(models.Protocol.name)), key=str.casefold)
    if DEFAULT_PROTOCOL_NAME in names:
        names.remove(DEFAULT_PROTOCOL_NAME)
        names.insert(0, DEFAULT_PROTOCOL_NAME)
    return names


def _protocol_by_name(session: Session, name: str | None, problems: list[str]) -> models.Protocol | None:
    wanted = (name or "").strip() or DEFAULT_PROTOCOL_NAME
    row = session.scalar(select(models.Protocol).where(models.Protocol.name == wanted))
    if row is None and wanted != DEFAULT_PROTOCOL_NAME:
        problems.append(f"protocol {wanted!r} does not exist; choose one from the list")
    return row


def _mrn_taken(session: Session, mrn: str, other_than: int | None = None) -> str | None:
    """A message when ``mrn`` (in any capitalisation) already belongs to another patient record."""
    query = select(models.Patient.mrn, models.Patient.deleted_at).where(func.lower(models.Patient.mrn) == mrn.lower())
    if other_than is not None:
        query = query.where(models.Patient.id != other_than)
    row = session.execute(query).first()
    if row is None:
        return None
    if row.deleted_at is not None:
        return f"MRN {mrn} belongs to a removed patient record; use another MRN or ask an administrator to restore it"
    return f"MRN {mrn} is already used by another patient; check the number or open that patient's record"


def create_patient(actor: Actor, new: NewPatient, today: date | None = None, url: str | None = None) -> str:
    """Register a patient (staff only) and return the MRN as stored.

    Every problem with the form is reported at once (``ValidationError.problems``); nothing is written
    unless all of it is right. A duplicate MRN is refused.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems: list[str] = []
    mrn = collect(problems, parse_mrn, new.mrn)
    full_name = collect(problems, parse_full_name, new.full_name)
    sex = collect(problems, parse_sex, new.sex)
    birth_date = collect(problems, parse_birth_date, new.birth_date, today)
    condition = collect(problems, parse_condition, new.condition)
    baseline: tuple[str | None, str | None] = (None, None)
    if sex and condition:
        baseline = (collect(problems, parse_baseline, condition, sex, new.baseline_scale, new.baseline_stage)
                    or baseline)
    target_areas = collect(problems, parse_target_areas, new.target_areas)
    notes = collect(problems, parse_notes, new.notes)
    try:
        with transaction(url) as session:
            if mrn:
                taken = _mrn_taken(session, mrn)
                if taken:
                    problems.insert(0, taken)
            protocol = _protocol_by_name(session, new.protocol, problems)
            if problems:
                refuse("The patient was not saved", problems)
            patient = models.Patient(
                mrn=mrn, full_name=full_name, sex=sex, birth_date=birth_date, condition=condition,
                baseline_scale=baseline[0], baseline_stage=baseline[1], target_areas=target_areas,
                protocol_id=protocol.id if protocol else None, notes=notes, created_by=actor.username,
            )
            session.add(patient)
            session.flush()
            audit.record(session, actor, "create", patient_id=patient.id, detail="patient registered")
            return patient.mrn
    except IntegrityError:  # another clinician registered the same MRN a moment ago
        raise ValidationError(f"The patient was not saved: MRN {mrn} is already used by another patient; "
                              "check the number") from None
