"""Finding a patient as one types: the search box of the pages that log a visit or a session for a patient.

Lighter than ``tracker.records.patient_list.list_patients``: no progress is computed, only who matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.database import transaction
from tracker.validation import search_words


@dataclass(frozen=True)
class PatientChoice:
    mrn: str
    full_name: str
    birth_date: date


def find_patients(actor: Actor, query: str = "", url: str | None = None, limit: int = 25) -> list[PatientChoice]:
    """Up to ``limit`` live patients, by name, in whose name or MRN every word of ``query`` appears (any
    capitalisation; ``%`` and ``_`` are matched literally); staff only.

    Raises PermissionDenied for anyone but staff, ValidationError for a query longer than ``SEARCH_MAX``
    (``tracker.validation``). Each search is audited as a view.
    """
    require_role(actor, *STAFF)
    words = search_words(query)
    with transaction(url) as session:
        statement = select(models.Patient.mrn, models.Patient.full_name, models.Patient.birth_date).where(
            models.Patient.deleted_at.is_(None)
        )
        for word in words:
            statement = statement.where(
                or_(
                    func.lower(models.Patient.mrn).contains(word, autoescape=True),
                    func.lower(models.Patient.full_name).contains(word, autoescape=True),
                )
            )
        rows = session.execute(statement.order_by(models.Patient.full_name, models.Patient.mrn).limit(limit)).all()
        audit.record(session, actor, "view", detail=f"patient search: {len(rows)} found")
        return [PatientChoice(mrn, name, born) for mrn, name, born in rows]
