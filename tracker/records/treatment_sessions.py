"""Logging a treatment session: product, lot, volume, areas, batch documents and the pre-session checklist.

``log_session`` is the one use case behind the "Log treatment session" page. It writes the session and
its batch documents in one transaction; any problem means nothing is written, and no document file is left
behind (the documents are checked and stored by ``tracker.records.batch_documents``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_patient_access, require_role
from tracker.clinic_dates import parse_date, show_date
from tracker.course.clinical import NSAID_DAYS_BEFORE
from tracker.course.milestones import DateSpan, NsaidFreeSpan, nsaid_free_span
from tracker.course.vocabulary import site_words, treatment_words
from tracker.database import reading, transaction
from tracker.errors import NeedsConfirmation, ValidationError
from tracker.progress.patient_progress import find_patient, patient_progress
from tracker.records.batch_documents import (
    CheckedDocument,
    DocumentUpload,
    SavedDocument,
    check_document,
    document_store,
    store_document,
)
from tracker.records.plausibility import session_date_warnings, unacknowledged
from tracker.storage.blob_store import BlobStore
from tracker.validation import (
    check_not_before_birth,
    check_not_in_future,
    clean_text,
    parse_lot_number,
    parse_optional_amount,
    parse_product,
    parse_treatment,
)

# Scalp injections use a few millilitres (PRP commonly 4–10 ml, exosome vials 2–5 ml); more than 30 ml
# in one session is a typing error (a unit slip or a density typed in the wrong box).
MAX_VOLUME_ML = 30.0
AREAS_MAX = 200  # the column's length (db/models.py)
TEXT_MAX = 10_000

# The pre-session checklist (DESIGN.md §1). An unticked item is a warning, never a block: the clinician
# decides whether to go ahead, and the record shows what was not confirmed.
PRE_SESSION_CHECKS = {
    "hydrated": "Drank plenty of water the day before",
    "breakfast": "Ate breakfast this morning",
    "no_nsaids": f"No NSAIDs (aspirin, ibuprofen…) in the last {NSAID_DAYS_BEFORE} days",
}

_P = ParamSpec("_P")
_T = TypeVar("_T")

@dataclass(frozen=True)
class SessionEntry:
    """Everything the session form collects except the documents.

    ``checklist`` maps each key of ``PRE_SESSION_CHECKS`` to whether it was ticked.
    """

    date: date | str | None
    treatment: str
    product: str = ""
    lot_number: str = ""
    volume_ml: float | str | None = None
    areas: str = ""
    checklist: Mapping[str, bool] = field(default_factory=dict)
    adverse_events: str = ""
    notes: str = ""


@dataclass(frozen=True)
class SessionFormDefaults:
    mrn: str
    full_name: str
    areas: str  # the patient's target areas
    last_session_date: date | None
    last_treatment: str | None
    last_product: str  # the lot is never pre-filled: each vial's lot must be read off the vial


@dataclass(frozen=True)
class SessionSaved:
    """The saved session and the dates the patient needs, as plain data for the page.

    ``nsaid_free``: avoid NSAIDs from 3 days before to 21 days after this session.
    ``next_session_window``: 3–6 months after the patient's latest session.
    ``warnings``: checklist items that were not confirmed.
    """

    session_id: int
    mrn: str
    date: date
    treatment: str
    product: str
    lot_number: str
    volume_ml: float | None
    documents: tuple[SavedDocument, ...]
    warnings: tuple[str, ...]
    nsaid_free: NsaidFreeSpan
    next_session_window: DateSpan | None
    day0: datetime.date | None  # `date` above shadows the type inside the class body


def session_form_defaults(actor: Actor, mrn: str, url: str | None = None) -> SessionFormDefaults:
    """The session form's starting point: the header, the patient's target areas, the last product."""
    require_role(actor, *STAFF)
    with reading(url) as session:
        patient = find_patient(session, mrn)
        require_patient_access(actor, patient.id)
        last = session.scalars(
            select(models.TreatmentSession)
            .where(models.TreatmentSession.patient_id == patient.id, models.TreatmentSession.deleted_at.is_(None))
            .order_by(models.TreatmentSession.date.desc(), models.TreatmentSession.id.desc())
            .limit(1)
        ).first()
        audit.record(session, actor, "view", patient_id=patient.id, detail="treatment session form")
        return SessionFormDefaults(
            mrn=patient.mrn,
            full_name=patient.full_name,
            # The stored codes ("vertex, left_temporal") in words: what the clinician sees is what the report prints.
            areas=", ".join(site_words(a.strip()) for a in (patient.target_areas or "").split(",") if a.strip()),
            last_session_date=last.date if last else None,
            last_treatment=last.treatment if last else None,
            last_product=last.product if last else "",
        )


def parse_volume(value: object) -> float | None:
    """The injected volume in ml (blank: not recorded; more than 0, at most ``MAX_VOLUME_ML``), for the session
    form and its correction."""
    return parse_optional_amount(value, "volume", MAX_VOLUME_ML, "millilitres", "ml")


def _attempt(problems: list[str], check: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
    """``check(*args, **kwargs)``, or None with its problems added to ``problems`` when it refuses."""
    try:
        return check(*args, **kwargs)
    except ValidationError as error:
        problems.extend(error.problems)
        return None


@dataclass(frozen=True)
class _CheckedSession:
    """The session form after the checks that need no database: the parsed values and every problem found."""

    session_date: date | None
    treatment: str | None
    product: str
    lot_number: str
    volume_ml: float | None
    areas: str | None
    adverse_events: str | None
    notes: str | None
    checklist: Mapping[str, bool]
    documents: tuple[CheckedDocument, ...]  # the same file twice is kept once
    problems: tuple[str, ...]


def log_session(
    actor: Actor,
    mrn: str,
    entry: SessionEntry,
    documents: Sequence[DocumentUpload] = (),
    url: str | None = None,
    *,
    today: date | None = None,
    store: BlobStore | None = None,
    acknowledged: Collection[str] = (),
) -> SessionSaved:
    """Record a treatment session and its batch documents in one transaction.

    A session far from every visit of the patient (``tracker.records.plausibility``) raises
    ``NeedsConfirmation`` saying why, unless that sentence is among ``acknowledged`` (nothing is written then).
    Raises ValidationError listing every problem (nothing is written then, no file is left behind),
    NotFound for an unknown MRN, PermissionDenied for anyone but staff.
    """
    require_role(actor, *STAFF)
    checked = _check_entry(entry, documents, today or date.today())

    store = store or document_store()
    with transaction(url) as session:
        patient = find_patient(session, mrn)
        require_patient_access(actor, patient.id)
        session_date, treatment = _refuse_problems(checked, patient.birth_date)
        _refuse_resubmission(session, patient.id, session_date, treatment, checked)
        visit_dates = session.scalars(select(models.Visit.date).where(
            models.Visit.patient_id == patient.id, models.Visit.deleted_at.is_(None))).all()
        asked = unacknowledged(session_date_warnings(session_date, visit_dates), frozenset(acknowledged))
        if asked:
            raise NeedsConfirmation(asked)
        row = models.TreatmentSession(
            patient_id=patient.id, date=session_date, treatment=treatment, product=checked.product,
            lot_number=checked.lot_number, volume_ml=checked.volume_ml, areas=checked.areas, notes=checked.notes,
            checklist=dict(checked.checklist), adverse_events=checked.adverse_events, created_by=actor.username,
        )
        session.add(row)
        session.flush()
        for document in checked.documents:
            store_document(session, store, document, row.id, actor.username)
        session.flush()
        lot_number = checked.lot_number
        audit.record(
            session, actor, "create", patient_id=patient.id,
            detail=(f"treatment session {row.id} on {session_date.isoformat()}: {treatment_words(treatment)}"
                    f"{', lot ' + lot_number if lot_number else ''}, {len(checked.documents)} document(s)"),
        )
        progress = patient_progress(session, patient)
        saved = SessionSaved(
            session_id=row.id,
            mrn=patient.mrn,
            date=session_date,
            treatment=treatment,
            product=checked.product,
            lot_number=lot_number,
            volume_ml=checked.volume_ml,
            documents=tuple(
                SavedDocument(d.file_name, d.media_type, d.sha256, d.size_bytes) for d in checked.documents
            ),
            warnings=tuple(f"Not confirmed: {label}" for key, label in PRE_SESSION_CHECKS.items()
                           if not checked.checklist[key]),
            nsaid_free=nsaid_free_span(session_date),
            next_session_window=progress.next_session_window,
            day0=progress.day0,
        )
    return saved


def _check_entry(entry: SessionEntry, documents: Sequence[DocumentUpload], today: date) -> _CheckedSession:
    """Every check of the form that needs no database, in the order the problems are listed."""
    problems: list[str] = []
    session_date = _attempt(problems, _session_date, entry.date, today)
    treatment = _attempt(problems, parse_treatment, entry.treatment)
    product = _attempt(problems, parse_product, entry.product) or ""
    lot_number = _attempt(problems, parse_lot_number, entry.lot_number, treatment) or ""
    volume_ml = _attempt(problems, parse_volume, entry.volume_ml)
    areas = _attempt(problems, clean_text, entry.areas, "areas treated", AREAS_MAX, single_line=True)
    adverse_events = _attempt(problems, clean_text, entry.adverse_events, "adverse events", TEXT_MAX)
    notes = _attempt(problems, clean_text, entry.notes, "notes", TEXT_MAX)
    checklist = {key: bool(entry.checklist.get(key, False)) for key in PRE_SESSION_CHECKS}
    checked: dict[str, CheckedDocument] = {}
    for upload in documents:
        document = _attempt(problems, check_document, upload.data, upload.file_name)
        if document is not None:
            checked.setdefault(document.sha256, document)  # the same file twice is kept once
    return _CheckedSession(
        session_date=session_date, treatment=treatment, product=product, lot_number=lot_number,
        volume_ml=volume_ml, areas=areas, adverse_events=adverse_events, notes=notes, checklist=checklist,
        documents=tuple(checked.values()), problems=tuple(problems),
    )


def _session_date(value: date | str | None, today: date) -> date:
    return check_not_in_future(parse_date(value, "session date"), today, "session date")


def _refuse_problems(checked: _CheckedSession, birth_date: date) -> tuple[date, str]:
    """The session date and treatment, once the birth date is checked too; any problem refuses the session."""
    problems = list(checked.problems)
    session_date = checked.session_date
    if session_date is not None:
        try:
            check_not_before_birth(session_date, birth_date, "session date")
        except ValidationError as error:
            problems.insert(0, str(error))
    if problems:
        count = len(problems)
        raise ValidationError(
            "The session was not saved: " + (problems[0] if count == 1 else f"{count} things need fixing."),
            problems,
        )
    treatment = checked.treatment
    if session_date is None or treatment is None:  # an unusable date or treatment is always a problem above
        raise RuntimeError("log_session: no session date or treatment although the form raised no problem")
    return session_date, treatment


def _refuse_resubmission(session: Session, patient_id: int, session_date: date, treatment: str,
                         checked: _CheckedSession) -> None:
    """The very same session twice (a double click, or a retry after a save that did commit) is
    refused; a second session that day with any other detail is recorded as usual."""
    already = session.scalar(select(models.TreatmentSession.id).where(
        models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.date == session_date,
        models.TreatmentSession.treatment == treatment, models.TreatmentSession.product == checked.product,
        models.TreatmentSession.lot_number == checked.lot_number, models.TreatmentSession.deleted_at.is_(None),
    ))
    if already is not None:
        raise ValidationError(
            f"This session is already recorded ({treatment_words(treatment)} on {show_date(session_date)}, lot "
            f"{checked.lot_number or 'none'}): nothing was saved again. Open the patient record to see it."
        )
