"""Lot traceability: every patient and session that received a given lot, in one step (DESIGN.md §5).

A recall starts here, so the match is forgiving about case and surrounding spaces ("ab-12 " finds
"AB-12") but otherwise exact: ``lower(trim(lot_number))``, which the expression index
``ix_treatment_session_lot_key`` serves on both databases. ``partial=True`` finds every lot number that
contains the text typed (at least ``MIN_PARTIAL`` characters; no index serves "contains", so it reads every
session). Either way the result is paged in the database, ``PAGE_SIZE`` sessions a page, with the totals.
Soft-deleted sessions (and sessions of soft-deleted patient records) are left out of the result and
counted, so the clinician knows they exist and can look them up in the audit trail if a recall needs them.

The CSV export is what a clinic hands to a recall coordinator or opens in a spreadsheet. A spreadsheet
runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and some also tab or carriage return) as a
formula, so such cells are written with a leading apostrophe (``tracker.safe_csv``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, case, distinct, func, select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.vocabulary import treatment_words
from tracker.course.wording import count
from tracker.database import AnyRow, read_connection, reading, streamed_rows
from tracker.errors import ValidationError
from tracker.paging import Page, last_page, page_number
from tracker.safe_csv import csv_chunks

MAX_LOT_LENGTH = 80  # the column's width (db.models.TreatmentSession.lot_number)
MIN_PARTIAL = 2  # "contains" one character would list nearly every session of the clinic
PAGE_SIZE = 200  # sessions a page of the result shows
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
    """One page of the sessions found (newest first): ``sessions`` is a page of the live sessions found
    (``sessions.total`` of them), given to ``patient_count`` live patients; ``excluded_deleted`` deleted ones
    matched and are not shown."""

    lot: str
    partial: bool
    sessions: Page[LotSession]
    excluded_deleted: int
    patient_count: int = 0

    def found(self) -> str:
        """What the search found, in words.

        >>> LotSearch("A", False, Page((), total=1234, size=PAGE_SIZE), 0, patient_count=1).found()
        '1,234 sessions, 1 patient.'
        """
        total = self.sessions.total
        return (f"{total:,} session{'' if total == 1 else 's'}, "
                f"{self.patient_count:,} patient{'' if self.patient_count == 1 else 's'}.")

    def showing(self) -> str:
        """Which of them this page shows.

        >>> LotSearch("A", False, Page(("s",) * 200, total=1234, number=2, size=PAGE_SIZE), 0).showing()
        'Showing 201–400 of 1,234 sessions (page 2 of 7), newest first.'
        """
        page = self.sessions
        return f"{page.showing()} sessions (page {page.number} of {page.pages}), newest first."


@dataclass(frozen=True)
class LotExport:
    """A CSV file to write out as ``chunks`` come (encoded bytes); ``rows``: the sessions it holds."""

    file_name: str
    chunks: Iterator[bytes]
    rows: int


def clean_lot(lot: str | None, partial: bool = False) -> str:
    """The lot as searched: surrounding spaces removed; it must not be empty or absurdly long, and a partial
    search needs ``MIN_PARTIAL`` characters."""
    text = (lot or "").strip()
    if not text:
        raise ValidationError("Type the lot number to look up.")
    if len(text) > MAX_LOT_LENGTH:
        raise ValidationError(f"A lot number has at most {MAX_LOT_LENGTH} characters.")
    if partial and len(text) < MIN_PARTIAL:
        raise ValidationError(f"To find lot numbers that contain some text, type at least {MIN_PARTIAL} "
                              f"characters of it ({text!r} would match nearly every session).")
    return text


def sessions_with_lot(actor: Actor, lot: str, partial: bool = False, page: int = 1,
                      url: str | None = None) -> LotSearch:
    """One page (``page``, 1-based; past the last shows the last) of the live sessions whose lot number matches
    ``lot`` (case-insensitive; ``partial``: contains), with the totals.

    Staff only; records one "view" audit entry with the lot searched and the patients of the page shown
    (``audit.record(patient_ids=...)``). Raises ``ValidationError`` for a lot that cannot be searched
    or a page outside ``tracker.paging.page_number``'s bounds.
    """
    require_role(actor, *STAFF)
    lot, number = clean_lot(lot, partial), page_number(page)
    with reading(url) as session:  # never SQLite's write lock; the audit entry is written just after
        connection = read_connection(session)
        condition = _condition(lot, partial)
        live, patients, deleted = connection.execute(_totals(condition)).one()
        number = min(number, last_page(live, PAGE_SIZE))
        rows = connection.execute(_live(condition).limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)).all()
        shown = Page(tuple(_lot_session(row) for row in rows), live, number, PAGE_SIZE)
        result = LotSearch(lot, partial, shown, deleted, patients)
        audit.record(session, actor, "view", detail=_audit_detail("lot lookup", result),
                     patient_ids={row.patient_id for row in rows})
    return result


def export_lot_csv(actor: Actor, lot: str, partial: bool = False, url: str | None = None) -> LotExport:
    """Every live session the search finds as a CSV file (UTF-8 with BOM, so Excel shows accents), newest
    first, streamed from a server-side cursor as it is written out.

    Staff only; records one "export" audit entry (the sessions, and every patient they were given to) before
    a row is read. The rows are read right after, so a session changed in between (a rare race with a
    correction) may differ from the count the entry records.
    """
    require_role(actor, *STAFF)
    lot = clean_lot(lot, partial)
    condition = _condition(lot, partial)
    with reading(url) as session:  # never SQLite's write lock; the audit entry is written just after
        connection = read_connection(session)
        live, patients, deleted = connection.execute(_totals(condition)).one()
        result = LotSearch(lot, partial, Page((), live, size=PAGE_SIZE), deleted, patients)
        audit.record(session, actor, "export", detail=_audit_detail("lot CSV export", result),
                     patient_ids=connection.execute(_patients_of(condition)).scalars().all())
    return LotExport(file_name=csv_file_name(lot), rows=live, chunks=csv_chunks(CSV_COLUMNS, (
        _csv_row(_lot_session(row)) for row in streamed_rows(_live(condition), url))))


_session = models.Base.metadata.tables[models.TreatmentSession.__tablename__]
_patient = models.Base.metadata.tables[models.Patient.__tablename__]
_LIVE = _session.c.deleted_at.is_(None) & _patient.c.deleted_at.is_(None)
_FOUND = _session.join(_patient, _patient.c.id == _session.c.patient_id)


def _condition(lot: str, partial: bool) -> ColumnElement[bool]:
    # Written as the index's expression, lower(trim(lot_number)), so that the exact match uses it.
    stored = func.lower(func.trim(_session.c.lot_number))
    wanted = lot.lower()
    return stored.contains(wanted, autoescape=True) if partial else stored == wanted


def _totals(condition: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """Live sessions, their distinct patients, and deleted sessions matching ``condition``, in one statement."""
    return select(func.count(_session.c.id).filter(_LIVE),
                  func.count(distinct(case((_LIVE, _session.c.patient_id)))),
                  func.count(_session.c.id).filter(~_LIVE)).select_from(_FOUND).where(condition)


def _live(condition: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    return (select(_session.c.patient_id, _patient.c.mrn, _patient.c.full_name, _session.c.date,
                   _session.c.treatment, _session.c.product, _session.c.lot_number, _session.c.volume_ml)
            .select_from(_FOUND).where(condition, _LIVE)
            .order_by(_session.c.date.desc(), _patient.c.mrn, _session.c.id))


def _patients_of(condition: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    return select(_session.c.patient_id).distinct().select_from(_FOUND).where(condition, _LIVE)


def _lot_session(row: AnyRow) -> LotSession:
    return LotSession(mrn=row.mrn, full_name=row.full_name, session_date=row.date, treatment=row.treatment,
                      product=row.product or "", lot_number=row.lot_number or "", volume_ml=row.volume_ml)


def _audit_detail(what: str, result: LotSearch) -> str:
    """The lot, the totals, and for a view the page shown; the patients follow as ``record`` adds them."""
    match = "containing" if result.partial else "exactly"
    page = result.sessions
    detail = (f"{what}: lot {match} {result.lot!r}: {count(page.total, 'session')}, "
              f"{count(result.patient_count, 'patient')}")
    if page:
        detail += f"; sessions {page.offset + 1}–{page.offset + len(page)} shown"
    if result.excluded_deleted:
        detail += f"; {result.excluded_deleted} deleted sessions not shown"
    return detail


def _csv_row(s: LotSession) -> tuple[str, ...]:
    """One session as the CSV's cells. Dates are YYYY-MM-DD whatever the clinic's date format: a spreadsheet
    reads that form as a date in every locale."""
    return (s.mrn, s.full_name, s.session_date.isoformat(), treatment_words(s.treatment), s.product, s.lot_number,
            "" if s.volume_ml is None else f"{s.volume_ml:g}")


def csv_file_name(lot: str) -> str:
    """A file name that is safe on every system: the lot with anything unusual replaced by '_'."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", lot).strip("._") or "lot"
    return f"lot_{stem[:60]}.csv"
