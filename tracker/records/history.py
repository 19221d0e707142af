"""Corrections and removals that keep the record: field-level change history and soft deletes.

A clinical record is never silently overwritten: every corrected field leaves a ``ChangeRecord`` with the
previous value, the new one, who changed it, when and why; a removed visit, session, therapy or photo is
stamped ``deleted_at``/``deleted_by``/``deleted_reason`` and stays in the database. Every edit increments
the row's ``version``; an edit made against a version someone else has since changed is refused with
``ConflictError`` (optimistic concurrency), so two clinicians never overwrite each other unknowingly.

The session-level helpers (``lock``, ``check_version``, ``record_change``, ``clean_reason``) are for any
service that edits clinical rows; ``soft_delete`` is the one removal service the pages call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import show_date
from tracker.course.scales import SCALE_LABELS
from tracker.course.vocabulary import (
    assessment_words,
    condition_words,
    field_words,
    site_words,
    treatment_words,
    view_words,
)
from tracker.database import transaction
from tracker.errors import ConflictError, NotFound, ValidationError

CONFLICT_MESSAGE = (
    "Someone else changed this record since you opened it; reload and re-apply your changes. "
    "Nothing was saved."
)
REASON_MAX = 1000

# What a page may remove, and the table each kind lives in.
Deletable = models.Visit | models.TreatmentSession | models.ConcurrentTherapy | models.Photo
DELETABLE: dict[str, type[Deletable]] = {
    "visit": models.Visit,
    "session": models.TreatmentSession,
    "therapy": models.ConcurrentTherapy,
    "photo": models.Photo,
}
KIND_LABELS = {"visit": "Visit", "session": "Treatment session", "therapy": "Concurrent therapy", "photo": "Photo"}
TABLE_LABELS = {
    "patient": "Patient details",
    "visit": "Visit",
    "treatment_session": "Treatment session",
    "concurrent_therapy": "Concurrent therapy",
    "photo": "Photo",
    "density_measurement": "Density measurement",
    "scale_score": "Scale score",
}

Row = TypeVar("Row", bound=models.Base)


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a record's history: a corrected field or a removal, newest first in lists."""

    at: datetime
    by: str
    what: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str


def clean_reason(reason: object) -> str:
    """The reason for a correction or removal: required, trimmed, at most 1000 characters.

    >>> clean_reason("  typo in year ")
    'typo in year'
    """
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError("A reason is required: say why the record is changed (for example, 'typo in the year').")
    if len(text) > REASON_MAX:
        raise ValidationError(f"The reason is too long: at most {REASON_MAX} characters (it has {len(text)}).")
    return text


def refuse(summary: str, problems: list[str]) -> NoReturn:
    """Raise one ``ValidationError`` naming every problem; a single problem is put in the message itself,
    so that it reads as one sentence wherever the message alone is shown.

    >>> refuse("The therapy was not saved", ["therapy name is required"])
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: The therapy was not saved: therapy name is required
    """
    if len(problems) == 1:
        raise ValidationError(f"{summary}: {problems[0]}")
    raise ValidationError(f"{summary}. Please correct the following:", problems)


def reason_problems(reason: object) -> list[str]:
    """``clean_reason``'s complaint as a list, for services that report every problem at once."""
    try:
        clean_reason(reason)
    except ValidationError as error:
        return list(error.problems)
    return []


def as_text(value: object) -> str | None:
    """How a value is kept in the change history: dates ISO, numbers plainly, empty as None.

    >>> as_text(date(2025, 3, 14)), as_text(152.0), as_text(""), as_text(None)
    ('2025-03-14', '152', None, None)
    """
    if value is None or value == "":
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def lock(session: Session, model: type[Row], row_id: int) -> Row | None:
    """Read one row for an edit, holding its lock until the transaction ends (PostgreSQL ``FOR UPDATE``;
    SQLite transactions already hold the write lock), so that the version check cannot race."""
    (key,) = inspect(model).primary_key  # id, for every table
    return session.scalar(select(model).where(key == row_id).with_for_update())


def check_version(row: models.Recorded, expected_version: int | None) -> None:
    """Refuse an edit made against a version of ``row`` that is no longer current."""
    if expected_version is not None and row.version != expected_version:
        raise ConflictError(CONFLICT_MESSAGE)


def record_change(session: Session, actor: Actor, *, patient_id: int, table_name: str, row_id: int, field: str,
                  old_value: object, new_value: object, reason: str, at: datetime | None = None) -> None:
    """Keep one corrected field's previous and new value, with who, when and why.

    Fields corrected together share ``at``, so that the history lists them as one correction.
    """
    session.add(models.ChangeRecord(
        patient_id=patient_id, table_name=table_name, row_id=row_id, field=field,
        old_value=as_text(old_value), new_value=as_text(new_value), reason=reason,
        changed_by=actor.username, changed_at=at or datetime.now(UTC),
    ))


def _stamp(row: models.Recorded, actor: Actor, reason: str, at: datetime) -> None:
    row.deleted_at, row.deleted_by, row.deleted_reason = at, actor.username, reason
    row.version = (row.version or 1) + 1


def _patient_id_of(session: Session, row: Deletable) -> int | None:
    if isinstance(row, models.Photo):
        return session.scalar(select(models.Visit.patient_id).where(models.Visit.id == row.visit_id))
    return row.patient_id


def _children(session: Session, kind: str, row_id: int) -> list[models.Recorded]:
    """Rows that only make sense with their parent: removed with it (same time, same reason)."""
    if kind == "visit":
        children: list[models.Recorded] = []
        for model in (models.DensityMeasurement, models.ScaleScore, models.Photo):
            children += session.scalars(select(model).where(model.visit_id == row_id, model.deleted_at.is_(None)))
        return children
    if kind == "session":
        return list(session.scalars(select(models.BatchDocument).where(
            models.BatchDocument.session_id == row_id, models.BatchDocument.deleted_at.is_(None))))
    return []


def soft_delete(actor: Actor, kind: str, row_id: int, reason: str, expected_version: int | None = None,
                url: str | None = None) -> int:
    """Remove a visit, treatment session, concurrent therapy or photo from the live record (staff only).

    The row stays in the database stamped with who removed it, when and why, and appears in the record's
    history. A visit takes its measurements, scale scores and photos with it; a session its batch
    documents. ``expected_version`` (the version the clinician saw) refuses a removal of a row someone
    has changed since. Returns the removed row's new version.
    """
    require_role(actor, *STAFF)
    problems = [] if kind in DELETABLE else [f"Cannot remove a {kind!r}: choose a visit, session, therapy or photo."]
    problems += reason_problems(reason)
    if problems:
        refuse("Nothing was removed", problems)
    reason = clean_reason(reason)
    with transaction(url) as session:
        row = lock(session, DELETABLE[kind], row_id)
        if row is None:
            raise NotFound(f"No {KIND_LABELS[kind].lower()} with id {row_id}.")
        patient_id = _patient_id_of(session, row)
        patient = session.get(models.Patient, patient_id) if patient_id is not None else None
        if patient is None or patient.deleted_at is not None:
            raise NotFound(f"No {KIND_LABELS[kind].lower()} with id {row_id}.")
        if row.deleted_at is not None:
            raise ConflictError(f"This {KIND_LABELS[kind].lower()} was already removed; reload the record.")
        check_version(row, expected_version)
        at = datetime.now(UTC)
        _stamp(row, actor, reason, at)
        for child in _children(session, kind, row_id):
            _stamp(child, actor, f"removed with its {kind}: {reason}", at)
        audit.record(session, actor, "delete", patient_id=patient.id, detail=f"{kind} {row_id} removed")
        return row.version


def _aware(moment: datetime) -> datetime:
    """In UTC whatever the driver returns (SQLite: naive UTC; PostgreSQL: the session's time zone)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# Corrected fields whose values are dates: kept ISO (``as_text``), shown in the clinic's date format.
_DATE_FIELDS = frozenset({"birth_date", "date", "session_date", "start", "stop"})


def value_words(field: str | None, value: str | None) -> str | None:
    """A corrected value as a person reads it: target areas, the condition, a site, a view, a treatment and a
    global assessment are kept as codes ("vertex, left_temporal", "-1"), shown in words ("Vertex, Left temporal",
    "−1 Slightly decreased"); dates are kept ISO, shown as the clinic writes dates; other values as kept.

    >>> value_words("view", "right_temporal"), value_words("global_assessment", "-1")
    ('Right temporal', '−1 Slightly decreased')
    """
    if value is None:
        return None
    if field in _DATE_FIELDS:
        try:
            return show_date(date.fromisoformat(value))
        except ValueError:  # a value kept before dates were kept ISO: shown as kept
            return value
    if field == "target_areas":
        return ", ".join(site_words(a.strip()) for a in value.split(",") if a.strip())
    words: dict[str, Callable[[str], str]] = {
        "condition": condition_words, "site": site_words, "view": view_words, "treatment": treatment_words,
        "global_assessment": lambda score: assessment_words(int(score)),
    }
    if field in words:
        try:
            return words[field](value)
        except (KeyError, ValueError):  # a value kept before its words existed: shown as kept
            return value
    return value


def corrected_rows(session: Session, changes: Sequence[models.ChangeRecord]) -> dict[tuple[str, int], str]:
    """Which visit, measurement, scale score, session or photo each correction was made to, in words, as the row
    stands now: "Visit of 2025-04-10", "Density measurement (Vertex, visit of 2025-04-10)" (one query per table)."""
    wanted: dict[str, set[int]] = {}
    for change in changes:
        wanted.setdefault(change.table_name, set()).add(change.row_id)
    words: dict[tuple[str, int], str] = {}
    visit_dates: dict[int, date] = {}

    def visit_of(visit_id: int) -> str:
        if visit_id not in visit_dates:
            visit_dates[visit_id] = session.get_one(models.Visit, visit_id).date
        return f"visit of {show_date(visit_dates[visit_id])}"

    for visit in _rows(session, models.Visit, wanted.get("visit")):
        words[("visit", visit.id)] = f"Visit of {show_date(visit.date)}"
    for m in _rows(session, models.DensityMeasurement, wanted.get("density_measurement")):
        words[("density_measurement", m.id)] = f"Density measurement ({site_words(m.site)}, {visit_of(m.visit_id)})"
    for score in _rows(session, models.ScaleScore, wanted.get("scale_score")):
        words[("scale_score", score.id)] = (f"Scale score ({SCALE_LABELS.get(score.scale, score.scale)}, "
                                            f"{visit_of(score.visit_id)})")
    for s in _rows(session, models.TreatmentSession, wanted.get("treatment_session")):
        words[("treatment_session", s.id)] = f"{treatment_words(s.treatment)} session of {show_date(s.date)}"
    for photo in _rows(session, models.Photo, wanted.get("photo")):
        name = f"{photo.original_file_name}, " if photo.original_file_name else ""
        words[("photo", photo.id)] = f"Photo ({name}{visit_of(photo.visit_id)})"
    return words


def _rows(session: Session, model: type[Row], ids: set[int] | None) -> Sequence[Row]:
    if not ids:
        return ()
    (key,) = inspect(model).primary_key
    return session.scalars(select(model).where(key.in_(ids))).all()


def patient_history(session: Session, patient_id: int) -> list[HistoryEntry]:
    """Every corrected field and every removed visit, session, therapy and photo, newest first."""
    changes = list(session.scalars(select(models.ChangeRecord).where(models.ChangeRecord.patient_id == patient_id)
                                   .order_by(models.ChangeRecord.id)))
    rows = corrected_rows(session, changes)
    entries = [
        HistoryEntry(
            _aware(change.changed_at), change.changed_by,
            rows.get((change.table_name, change.row_id)) or TABLE_LABELS.get(change.table_name, change.table_name),
            field_words(change.field) if change.field else None,
            value_words(change.field, change.old_value), value_words(change.field, change.new_value), change.reason,
        )
        for change in changes
    ]
    removed: tuple[tuple[type[Deletable], Any, Callable[[Any], str]], ...] = (
        (models.Visit, select(models.Visit).where(models.Visit.patient_id == patient_id),
         lambda r: f"visit of {show_date(r.date)}"),
        (models.TreatmentSession,
         select(models.TreatmentSession).where(models.TreatmentSession.patient_id == patient_id),
         lambda r: f"{treatment_words(r.treatment)} session of {show_date(r.date)}"
         + (f", lot {r.lot_number}" if r.lot_number else "")),
        (models.ConcurrentTherapy,
         select(models.ConcurrentTherapy).where(models.ConcurrentTherapy.patient_id == patient_id),
         lambda r: f"{r.name} from {show_date(r.start)}"),
        (models.Photo,
         select(models.Photo).join(models.Visit, models.Photo.visit_id == models.Visit.id)
         .where(models.Visit.patient_id == patient_id),
         lambda r: f"{view_words(r.view)} photo" + (f" ({r.original_file_name})" if r.original_file_name else "")),
    )
    for model, query, describe in removed:
        for row in session.scalars(query.where(model.deleted_at.isnot(None))):
            entries.append(HistoryEntry(
                _aware(row.deleted_at), row.deleted_by or "", TABLE_LABELS[model.__tablename__], None,
                describe(row), "removed", row.deleted_reason or "",
            ))
    # Newest first; fields of one correction share a time and keep the order they were written in.
    return sorted(entries, key=lambda e: e.at, reverse=True)

