"""Lot traceability: every patient and session that received a given lot, in one step (DESIGN.md §5).

A recall starts here, so the match is forgiving about case and surrounding spaces ("ab-12 " finds
"AB-12") but otherwise exact; ``partial=True`` finds every lot number that contains the text typed.
Soft-deleted sessions (and sessions of soft-deleted patient records) are left out of the result and
counted, so the clinician knows they exist and can look them up in the audit trail if a recall needs them.

The CSV export is what a clinic hands to a recall coordinator or opens in a spreadsheet. A spreadsheet
runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and some also tab or carriage return) as a
formula, so such cells are written with a leading apostrophe (``tracker.safe_csv``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.vocabulary import treatment_words
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.safe_csv import to_csv

MAX_LOT_LENGTH = 80  # the column's width (db.models.TreatmentSession.lot_number)
CSV_COLUMNS = ("MRN", "Name", "Session date", "Treatment", "Product", "Lot number", "Volume (mL)")


@dataclass(frozen=True)
class LotSession:
    """One session that received the lot, with the patient it was given to."""

    mrn: str
    full_name: str
    session_date: date
    treatment: str
    product: str
    lot_number: str
    volume_ml: float | None


@dataclass(frozen=True)
class LotSearch:
    """The sessions found (newest first) and how many deleted ones matched but are not shown."""

    lot: str
    partial: bool
    sessions: tuple[LotSession, ...]
    excluded_deleted: int

    @property
    def patient_count(self) -> int:
        return len({s.mrn for s in self.sessions})


@dataclass(frozen=True)
class LotExport:
    file_name: str
    data: bytes
    rows: int


def clean_lot(lot: str | None) -> str:
    """The lot as searched: surrounding spaces removed; it must not be empty or absurdly long."""
    text = (lot or "").strip()
    if not text:
        raise ValidationError("Type the lot number to look up.")
    if len(text) > MAX_LOT_LENGTH:
        raise ValidationError(f"A lot number has at most {MAX_LOT_LENGTH} characters.")
    return text


def sessions_with_lot(actor: Actor, lot: str, partial: bool = False, url: str | None = None) -> LotSearch:
    """Every live session whose lot number matches ``lot`` (case-insensitive; ``partial``: contains).

    Staff only; records one "view" audit entry with the lot searched and the patients found.
    """
    require_role(actor, *STAFF)
    lot = clean_lot(lot)
    with transaction(url) as session:
        result = _search(session, lot, partial)
        audit.record(session, actor, "view", detail=_audit_detail("lot lookup", result))
    return result


def export_lot_csv(actor: Actor, lot: str, partial: bool = False, url: str | None = None) -> LotExport:
    """The same search as ``sessions_with_lot`` as a CSV file (UTF-8 with BOM, so Excel shows accents).

    Staff only; records one "export" audit entry. The search is run again here so that the file holds
    exactly what the audit entry says was exported.
    """
    require_role(actor, *STAFF)
    lot = clean_lot(lot)
    with transaction(url) as session:
        result = _search(session, lot, partial)
        audit.record(session, actor, "export", detail=_audit_detail("lot CSV export", result))
    return LotExport(file_name=csv_file_name(lot), data=lot_csv(result), rows=len(result.sessions))


def _search(session: Session, lot: str, partial: bool) -> LotSearch:
    stored = func.lower(func.trim(models.TreatmentSession.lot_number))
    wanted = lot.lower()
    condition = stored.contains(wanted, autoescape=True) if partial else stored == wanted
    rows = session.execute(
        select(models.TreatmentSession, models.Patient.mrn, models.Patient.full_name, models.Patient.deleted_at)
        .join(models.Patient, models.Patient.id == models.TreatmentSession.patient_id)
        .where(condition)
        .order_by(models.TreatmentSession.date.desc(), models.Patient.mrn, models.TreatmentSession.id)
    ).all()
    found: list[LotSession] = []
    excluded = 0
    for treatment_session, mrn, full_name, patient_deleted_at in rows:
        if treatment_session.deleted_at is not None or patient_deleted_at is not None:
            excluded += 1
            continue
        found.append(LotSession(
            mrn=mrn, full_name=full_name, session_date=treatment_session.date,
            treatment=treatment_session.treatment, product=treatment_session.product or "",
            lot_number=treatment_session.lot_number or "", volume_ml=treatment_session.volume_ml,
        ))
    return LotSearch(lot=lot, partial=partial, sessions=tuple(found), excluded_deleted=excluded)


def _audit_detail(what: str, result: LotSearch) -> str:
    mrns = sorted({s.mrn for s in result.sessions})
    match = "containing" if result.partial else "exactly"
    detail = f"{what}: lot {match} {result.lot!r}: {len(result.sessions)} sessions, {len(mrns)} patients"
    if mrns:
        detail += f" ({', '.join(mrns)})"
    if result.excluded_deleted:
        detail += f"; {result.excluded_deleted} deleted sessions not shown"
    return detail


def lot_csv(result: LotSearch) -> bytes:
    """The result as CSV, one row per session, every cell made spreadsheet-safe. Dates are YYYY-MM-DD whatever
    the clinic's date format: a spreadsheet reads that form as a date in every locale."""
    return to_csv(CSV_COLUMNS, (
        (s.mrn, s.full_name, s.session_date.isoformat(), treatment_words(s.treatment), s.product, s.lot_number,
         "" if s.volume_ml is None else f"{s.volume_ml:g}")
        for s in result.sessions
    ))


def csv_file_name(lot: str) -> str:
    """A file name that is safe on every system: the lot with anything unusual replaced by '_'."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", lot).strip("._") or "lot"
    return f"lot_{stem[:60]}.csv"
