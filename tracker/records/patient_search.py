"""Finding a patient as one types: the search box of the pages that log a visit or a session for a patient.

Lighter than ``tracker.records.patient_list.list_patients``: no progress is computed, only who matches.

A search ignores capitals and accents both ways: ``zoe`` finds ``Zoë`` and ``Zoë`` finds ``Zoe`` (a name typed
on a keyboard without the accent, or recorded without it). Both sides are folded the same way, by one table
(``FOLDED_FROM`` → ``FOLDED_TO``): Latin letters with accents become their plain letter, and combining accents
(a name stored decomposed, ``e`` + ``¨``) are dropped. PostgreSQL folds a column with its built-in
``translate()`` (no ``unaccent`` extension needed); SQLite has no ``translate()``, so the same Python fold is
registered on the connection as ``tracker_fold``. No stored column or migration is needed, and the query's
words are folded by that same Python function, so the two databases agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.database import transaction
from tracker.validation import COMBINING_ACCENTS, FOLD_PAIRS, fold, search_words

# translate(text, FOLDED_FROM, FOLDED_TO): characters of FOLDED_FROM past the end of FOLDED_TO are deleted.
FOLDED_FROM = "".join(FOLD_PAIRS) + COMBINING_ACCENTS
FOLDED_TO = "".join(FOLD_PAIRS.values())


def folded(session: Session, column: Any) -> ColumnElement[str]:
    """``column`` folded by the database as ``fold`` folds the query (see the module's docstring)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # Registered on each use: pooled connections are the driver's, and registering again is cheap.
        connection.connection.driver_connection.create_function(  # type: ignore[union-attr]
            "tracker_fold", 1, fold, deterministic=True)
        return func.tracker_fold(column)
    return func.lower(func.translate(column, FOLDED_FROM, FOLDED_TO))


def search_conditions(session: Session, query: str) -> list[ColumnElement[bool]]:
    """One condition per word of ``query``: it appears in the patient's name or MRN, whatever the capitals and
    accents (``%`` and ``_`` are matched literally). Raises ValidationError for a query longer than
    ``SEARCH_MAX`` (``tracker.validation``)."""
    name, mrn = folded(session, models.Patient.full_name), func.lower(models.Patient.mrn)
    return [
        or_(mrn.contains(word, autoescape=True), name.contains(fold(word), autoescape=True))
        for word in search_words(query)
    ]


@dataclass(frozen=True)
class PatientChoice:
    mrn: str
    full_name: str
    birth_date: date


def find_patients(actor: Actor, query: str = "", url: str | None = None, limit: int = 25) -> list[PatientChoice]:
    """Up to ``limit`` live patients, by name, in whose name or MRN every word of ``query`` appears (any
    capitalisation and accents: ``zoe`` finds ``Zoë``; ``%`` and ``_`` are matched literally); staff only.

    Raises PermissionDenied for anyone but staff, ValidationError for a query longer than ``SEARCH_MAX``
    (``tracker.validation``). Each search is audited as a view naming the patients found (``audit_patient``).
    """
    require_role(actor, *STAFF)
    with transaction(url) as session:
        statement = select(models.Patient.id, models.Patient.mrn, models.Patient.full_name,
                           models.Patient.birth_date).where(
            models.Patient.deleted_at.is_(None), *search_conditions(session, query)
        )
        rows = session.execute(statement.order_by(models.Patient.full_name, models.Patient.mrn).limit(limit)).all()
        audit.record(session, actor, "view", detail="patient search", patient_ids=[row.id for row in rows])
        return [PatientChoice(row.mrn, row.full_name, row.birth_date) for row in rows]
