"""Logging a treatment session: product, lot, volume, areas, batch documents and the pre-session checklist.

``log_session`` is the one use case behind the "Log treatment session" page. It writes the session and
its batch documents in one transaction; any problem means nothing is written, and no document file is left
behind (the documents are checked and stored by ``tracker.records.batch_documents``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_patient_access, require_role
from tracker.course.clinical import NSAID_DAYS_BEFORE
from tracker.course.milestones import DateSpan, NsaidFreeSpan, nsaid_free_span
from tracker.errors import ValidationError
from tracker.operations.database import transaction
from tracker.progress.patient_progress import find_patient, patient_progress
from tracker.records.batch_documents import (
    CheckedDocument,
    DocumentUpload,
    SavedDocument,
    check_document,
    document_store,
    store_document,
)
from tracker.records.validation import (
    check_not_before_birth,
    check_not_in_future,
    parse_iso_date,
    parse_lot_number,
    parse_product,
    parse_treatment,
)
from tracker.storage.blob_store import BlobStore

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
    day0: date | None


def session_form_defaults(actor: Actor, mrn: str, url: str | None = None) -> SessionFormDefaults:
    """The session form's starting point: the header, the patient's target areas, the last product."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
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
            areas=patient.target_areas or "",
            last_session_date=last.date if last else None,
            last_treatment=last.treatment if last else None,
            last_product=last.product if last else "",
        )


def _volume(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"volume {str(value).strip()!r} is not a number (millilitres)") from None
    if not math.isfinite(number) or not 0 < number <= MAX_VOLUME_ML:
        raise ValidationError(
            f"volume {number:g} ml is out of range: it must be more than 0 and at most {MAX_VOLUME_ML:g} ml"
        )
    return number


def _text(value: str | None, label: str, limit: int, *, single_line: bool = False) -> str | None:
    text = (value or "").replace("\x00", "").strip()  # a pasted NUL byte cannot be stored in PostgreSQL
    if single_line:
        text = " ".join(text.split())
        if any(unicodedata.category(ch) == "Cc" for ch in text):
            raise ValidationError(f"{label} contains a control character (a tab, line break or similar)")
    if len(text) > limit:
        raise ValidationError(f"{label} is too long: at most {limit:,} characters (it has {len(text):,})")
    return text or None


def log_session(
    actor: Actor,
    mrn: str,
    entry: SessionEntry,
    documents: Sequence[DocumentUpload] = (),
    url: str | None = None,
    *,
    today: date | None = None,
    store: BlobStore | None = None,
) -> SessionSaved:
    """Record a treatment session and its batch documents in one transaction.

    Raises ValidationError listing every problem (nothing is written then, no file is left behind),
    NotFound for an unknown MRN, PermissionDenied for anyone but staff.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems: list[str] = []

    def attempt(check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as error:
            problems.extend(error.problems)
            return None

    session_date = attempt(lambda: check_not_in_future(parse_iso_date(entry.date, "session date"), today,
                                                       "session date"))
    treatment = attempt(parse_treatment, entry.treatment)
    product = attempt(parse_product, entry.product) or ""
    lot_number = attempt(parse_lot_number, entry.lot_number, treatment) or ""
    volume_ml = attempt(_volume, entry.volume_ml)
    areas = attempt(_text, entry.areas, "areas treated", AREAS_MAX, single_line=True)
    adverse_events = attempt(_text, entry.adverse_events, "adverse events", TEXT_MAX)
    notes = attempt(_text, entry.notes, "notes", TEXT_MAX)
    checklist = {key: bool(entry.checklist.get(key, False)) for key in PRE_SESSION_CHECKS}
    checked: dict[str, CheckedDocument] = {}
    for upload in documents:
        document = attempt(check_document, upload.data, upload.file_name)
        if document is not None:
            checked.setdefault(document.sha256, document)  # the same file twice is kept once

    store = store or document_store()
    with transaction(url) as session:
        patient = find_patient(session, mrn)
        require_patient_access(actor, patient.id)
        if session_date is not None:
            try:
                check_not_before_birth(session_date, patient.birth_date, "session date")
            except ValidationError as error:
                problems.insert(0, str(error))
        if problems:
            count = len(problems)
            raise ValidationError(
                "The session was not saved: " + (problems[0] if count == 1 else f"{count} things need fixing."),
                problems,
            )
        assert session_date is not None and treatment is not None
        # The very same session twice (a double click, or a retry after a save that did commit) is
        # refused; a second session that day with any other detail is recorded as usual.
        already = session.scalar(select(models.TreatmentSession.id).where(
            models.TreatmentSession.patient_id == patient.id, models.TreatmentSession.date == session_date,
            models.TreatmentSession.treatment == treatment, models.TreatmentSession.product == product,
            models.TreatmentSession.lot_number == lot_number, models.TreatmentSession.deleted_at.is_(None),
        ))
        if already is not None:
            raise ValidationError(
                f"This session is already recorded ({treatment} on {session_date.isoformat()}, lot "
                f"{lot_number or 'none'}): nothing was saved again. Open the patient record to see it."
            )
        row = models.TreatmentSession(
            patient_id=patient.id, date=session_date, treatment=treatment, product=product,
            lot_number=lot_number, volume_ml=volume_ml, areas=areas, notes=notes, checklist=checklist,
            adverse_events=adverse_events, created_by=actor.username,
        )
        session.add(row)
        session.flush()
        for document in checked.values():
            store_document(session, store, document, row.id, actor.username)
        session.flush()
        audit.record(
            session, actor, "create", patient_id=patient.id,
            detail=(f"treatment session {row.id} on {session_date.isoformat()}: {treatment}"
                    f"{', lot ' + lot_number if lot_number else ''}, {len(checked)} document(s)"),
        )
        progress = patient_progress(session, patient)
        saved = SessionSaved(
            session_id=row.id,
            mrn=patient.mrn,
            date=session_date,
            treatment=treatment,
            product=product,
            lot_number=lot_number,
            volume_ml=volume_ml,
            documents=tuple(
                SavedDocument(d.file_name, d.media_type, d.sha256, d.size_bytes) for d in checked.values()
            ),
            warnings=tuple(f"Not confirmed: {label}" for key, label in PRE_SESSION_CHECKS.items()
                           if not checklist[key]),
            nsaid_free=nsaid_free_span(session_date),
            next_session_window=progress.next_session_window,
            day0=progress.day0,
        )
    return saved
