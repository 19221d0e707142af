"""What a data export holds: one sheet per kind of record, the same for one patient and for the whole clinic.

Each ``Sheet`` is a header (units in it: hairs/cm², µm, %, mL, px), a Core statement for the live rows of the
patients a condition selects (ordered by MRN, then date) and the function that turns one row into cells:
dates stay ``date`` objects, measures stay numbers, times are UTC without a zone (a spreadsheet has none), codes
become the clinic's words. ``patient_export`` reads them for one patient, ``clinic_export`` streams them for
every live patient; the cells are made safe for a spreadsheet where they are written (``safe_workbook``).

Removed rows (soft deletes) and rows of removed visits or patients are left out of the sheets of records; the
two staff-only sheets say what was corrected (``change_record``) and what was removed, by whom and why. A patient
account's own export has no such sheet: the reasons are the clinicians' notes (as on the patient record page).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, literal, select, true, union_all

from db import models
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.course.scales import SCALE_LABELS
from tracker.course.vocabulary import condition_words, field_words, site_words, treatment_words, view_words
from tracker.database import AnyRow
from tracker.records.history import TABLE_LABELS

Cells = tuple[Any, ...]

_tables = models.Base.metadata.tables
_patient: Table = _tables[models.Patient.__tablename__]
_protocol: Table = _tables[models.Protocol.__tablename__]
_visit: Table = _tables[models.Visit.__tablename__]
_density: Table = _tables[models.DensityMeasurement.__tablename__]
_scale: Table = _tables[models.ScaleScore.__tablename__]
_session: Table = _tables[models.TreatmentSession.__tablename__]
_therapy: Table = _tables[models.ConcurrentTherapy.__tablename__]
_photo: Table = _tables[models.Photo.__tablename__]
_change: Table = _tables[models.ChangeRecord.__tablename__]


@dataclass(frozen=True)
class Sheet:
    """One kind of record: ``title`` names the XLSX sheet (at most 31 characters), ``file`` the CSV in the zip.

    ``statement(which)``: the rows of the live patients ``which`` selects (a condition on the ``patient`` table;
    ``true()`` for all), ordered by MRN then date. ``cells(row)``: the row as cells, one per column.
    ``staff_only``: left out of a patient account's own export.
    """

    title: str
    file: str
    columns: tuple[str, ...]
    statement: Callable[[ColumnElement[bool]], Select[Any]]
    cells: Callable[[AnyRow], Cells]
    staff_only: bool = False


def utc(moment: datetime | None) -> datetime | None:
    """A stored time in UTC without its zone, to the second (SQLite returns naive UTC, PostgreSQL the session's
    zone; a spreadsheet cell holds no zone, so the header says UTC).

    >>> from datetime import timedelta, timezone
    >>> utc(datetime(2025, 1, 10, 14, 30, 5, 123, tzinfo=timezone(timedelta(hours=2))))
    datetime.datetime(2025, 1, 10, 12, 30, 5)
    """
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def json_text(value: Any) -> str | None:
    """A JSON column (capture conditions, checklist, photo quality) as one line of text, keys sorted.

    >>> json_text({"lighting": "ring light", "dry_hair": True})
    '{"dry_hair": true, "lighting": "ring light"}'
    """
    if value is None or value == {}:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _areas(codes: str | None) -> str:
    return ", ".join(site_words(a.strip()) for a in (codes or "").split(",") if a.strip())


def _live_patients(which: ColumnElement[bool]) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return _patient.c.deleted_at.is_(None), which


def _of_visits(table: Table) -> Any:
    """``table`` joined to its visit and patient (rows that belong to a visit)."""
    return table.join(_visit, _visit.c.id == table.c.visit_id).join(_patient, _patient.c.id == _visit.c.patient_id)


def _of_patient(table: Table) -> Any:
    return table.join(_patient, _patient.c.id == table.c.patient_id)


PATIENT = Sheet(
    "Patient", "patient.csv",
    ("MRN", "Full name", "Sex", "Birth date", "Condition", "Baseline scale", "Baseline stage", "Target areas",
     "Protocol", "Notes", "Record created (UTC)"),
    lambda which: (
        select(_patient.c.mrn, _patient.c.full_name, _patient.c.sex, _patient.c.birth_date, _patient.c.condition,
               _patient.c.baseline_scale, _patient.c.baseline_stage, _patient.c.target_areas,
               _protocol.c.name.label("protocol"), _patient.c.notes, _patient.c.created_at)
        .select_from(_patient.outerjoin(_protocol, _protocol.c.id == _patient.c.protocol_id))
        .where(*_live_patients(which)).order_by(_patient.c.mrn, _patient.c.id)),
    lambda r: (r.mrn, r.full_name, r.sex, r.birth_date, condition_words(r.condition),
               SCALE_LABELS.get(r.baseline_scale, r.baseline_scale) if r.baseline_scale else None,
               r.baseline_stage, _areas(r.target_areas), r.protocol or DEFAULT_PROTOCOL_NAME, r.notes,
               utc(r.created_at)),
)

VISITS = Sheet(
    "Visits", "visits.csv",
    ("MRN", "Visit date", "Global assessment (−3 … +3)", "Satisfaction (0–10)", "Capture conditions", "Notes"),
    lambda which: (
        select(_patient.c.mrn, _visit.c.date, _visit.c.global_assessment, _visit.c.satisfaction,
               _visit.c.capture_conditions, _visit.c.notes)
        .select_from(_of_patient(_visit))
        .where(*_live_patients(which), _visit.c.deleted_at.is_(None))
        .order_by(_patient.c.mrn, _visit.c.date, _visit.c.id)),
    lambda r: (r.mrn, r.date, r.global_assessment, r.satisfaction, json_text(r.capture_conditions), r.notes),
)

_counted_on = _photo.alias("counted_on")
DENSITIES = Sheet(
    "Density measurements", "density_measurements.csv",
    ("MRN", "Visit date", "Site", "Density (hairs/cm²)", "Shaft diameter (µm)", "Terminal hairs (%)",
     "Anagen hairs (%)", "Method (typed/counted)", "Counted on photo (SHA-256 of the original)"),
    lambda which: (
        select(_patient.c.mrn, _visit.c.date, _density.c.site, _density.c.density_per_cm2,
               _density.c.shaft_diameter_um, _density.c.terminal_pct, _density.c.anagen_pct, _density.c.method,
               _counted_on.c.sha256)
        .select_from(_of_visits(_density).outerjoin(_counted_on, _counted_on.c.id == _density.c.photo_id))
        .where(*_live_patients(which), _visit.c.deleted_at.is_(None), _density.c.deleted_at.is_(None))
        .order_by(_patient.c.mrn, _visit.c.date, _density.c.site, _density.c.id)),
    lambda r: (r.mrn, r.date, site_words(r.site), r.density_per_cm2, r.shaft_diameter_um, r.terminal_pct,
               r.anagen_pct, r.method, r.sha256),
)

SCALES = Sheet(
    "Scale scores", "scale_scores.csv",
    ("MRN", "Visit date", "Scale", "Stage", "SALT score (0–100)", "SALT vertex loss (%)",
     "SALT posterior loss (%)", "SALT left side loss (%)", "SALT right side loss (%)"),
    lambda which: (
        select(_patient.c.mrn, _visit.c.date, _scale.c.scale, _scale.c.stage, _scale.c.salt_score,
               _scale.c.salt_vertex_pct, _scale.c.salt_posterior_pct, _scale.c.salt_left_pct,
               _scale.c.salt_right_pct)
        .select_from(_of_visits(_scale))
        .where(*_live_patients(which), _visit.c.deleted_at.is_(None), _scale.c.deleted_at.is_(None))
        .order_by(_patient.c.mrn, _visit.c.date, _scale.c.id)),
    lambda r: (r.mrn, r.date, SCALE_LABELS.get(r.scale, r.scale), r.stage, r.salt_score, r.salt_vertex_pct,
               r.salt_posterior_pct, r.salt_left_pct, r.salt_right_pct),
)

SESSIONS = Sheet(
    "Treatment sessions", "treatment_sessions.csv",
    ("MRN", "Session date", "Treatment", "Product", "Lot number", "Volume (mL)", "Areas treated",
     "Pre-session checklist", "Adverse events", "Notes"),
    lambda which: (
        select(_patient.c.mrn, _session.c.date, _session.c.treatment, _session.c.product, _session.c.lot_number,
               _session.c.volume_ml, _session.c.areas, _session.c.checklist, _session.c.adverse_events,
               _session.c.notes)
        .select_from(_of_patient(_session))
        .where(*_live_patients(which), _session.c.deleted_at.is_(None))
        .order_by(_patient.c.mrn, _session.c.date, _session.c.id)),
    lambda r: (r.mrn, r.date, treatment_words(r.treatment), r.product, r.lot_number, r.volume_ml,
               _areas(r.areas), json_text(r.checklist), r.adverse_events, r.notes),
)

THERAPIES = Sheet(
    "Concurrent therapies", "concurrent_therapies.csv",
    ("MRN", "Therapy", "Dose", "Start", "Stop"),
    lambda which: (
        select(_patient.c.mrn, _therapy.c.name, _therapy.c.dose, _therapy.c.start, _therapy.c.stop)
        .select_from(_of_patient(_therapy))
        .where(*_live_patients(which), _therapy.c.deleted_at.is_(None))
        .order_by(_patient.c.mrn, _therapy.c.start, _therapy.c.id)),
    lambda r: (r.mrn, r.name, r.dose, r.start, r.stop),
)

PHOTOS = Sheet(
    "Photos", "photos.csv",
    ("MRN", "Visit date", "View", "Original file name", "SHA-256 of the original", "Media type", "Width (px)",
     "Height (px)", "Captured (UTC)", "Quality checks"),
    lambda which: (
        select(_patient.c.mrn, _visit.c.date, _photo.c.view, _photo.c.original_file_name, _photo.c.sha256,
               _photo.c.media_type, _photo.c.width, _photo.c.height, _photo.c.captured_at, _photo.c.quality)
        .select_from(_of_visits(_photo))
        .where(*_live_patients(which), _visit.c.deleted_at.is_(None), _photo.c.deleted_at.is_(None))
        .order_by(_patient.c.mrn, _visit.c.date, _photo.c.id)),
    lambda r: (r.mrn, r.date, view_words(r.view), r.original_file_name, r.sha256, r.media_type, r.width, r.height,
               utc(r.captured_at), json_text(r.quality)),
)

CORRECTIONS = Sheet(
    "Corrections", "corrections.csv",
    ("MRN", "Changed (UTC)", "Changed by", "Record", "Field", "Previous value", "New value", "Reason"),
    lambda which: (
        select(_patient.c.mrn, _change.c.changed_at, _change.c.changed_by, _change.c.table_name, _change.c.field,
               _change.c.old_value, _change.c.new_value, _change.c.reason)
        .select_from(_of_patient(_change))
        .where(*_live_patients(which))
        .order_by(_patient.c.mrn, _change.c.id)),
    lambda r: (r.mrn, utc(r.changed_at), r.changed_by, TABLE_LABELS.get(r.table_name, r.table_name),
               field_words(r.field) if r.field else None, r.old_value, r.new_value, r.reason),
    staff_only=True,
)


def _removals(which: ColumnElement[bool]) -> Select[Any]:
    """Every removed visit, measurement, scale score, photo, session and therapy of the patients, in one
    statement (one part per table, each with the entry's date: a visit's, a session's, a therapy's start)."""
    parts = []
    for table, joined, day in (
        (_visit, _of_patient(_visit), _visit.c.date),
        (_density, _of_visits(_density), _visit.c.date),
        (_scale, _of_visits(_scale), _visit.c.date),
        (_photo, _of_visits(_photo), _visit.c.date),
        (_session, _of_patient(_session), _session.c.date),
        (_therapy, _of_patient(_therapy), _therapy.c.start),
    ):
        parts.append(
            select(_patient.c.mrn.label("mrn"), literal(table.name).label("table_name"), day.label("day"),
                   table.c.deleted_at.label("deleted_at"), table.c.deleted_by.label("deleted_by"),
                   table.c.deleted_reason.label("deleted_reason"))
            .select_from(joined).where(*_live_patients(which), table.c.deleted_at.is_not(None)))
    everything = union_all(*parts).subquery("removed")
    return select(everything).order_by(everything.c.mrn, everything.c.deleted_at)


REMOVALS = Sheet(
    "Removals", "removals.csv",
    ("MRN", "Record", "Entry date", "Removed (UTC)", "Removed by", "Reason"),
    _removals,
    lambda r: (r.mrn, TABLE_LABELS.get(r.table_name, r.table_name), r.day, utc(r.deleted_at), r.deleted_by,
               r.deleted_reason),
    staff_only=True,
)

SHEETS = (PATIENT, VISITS, DENSITIES, SCALES, SESSIONS, THERAPIES, PHOTOS, CORRECTIONS, REMOVALS)
EVERY_PATIENT = true()


def sheets_for(staff: bool) -> tuple[Sheet, ...]:
    """The sheets an export holds: every one for staff, those without the clinicians' notes for a patient."""
    return tuple(s for s in SHEETS if staff or not s.staff_only)


def one_patient(patient_id: int) -> ColumnElement[bool]:
    return _patient.c.id == patient_id


def live_patient_ids() -> Select[Any]:
    """The ids of every live patient, for the clinic export's audit entry."""
    return select(_patient.c.id).where(_patient.c.deleted_at.is_(None))
