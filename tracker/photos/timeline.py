"""The photo timeline: which photo sits where in a patient's grid (one row per standard view, one column per
visit), as ids; the images themselves come from ``tracker.photos.serving``.

``photo_timeline`` checks who is asking (a patient account reaches only its own photos,
``tracker.access.patient_lookup.resolve_patient``), runs in one transaction and is audited as a view, one entry per page
draw; refused attempts are audited too. Soft-deleted photos, visits and patients are never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import bindparam, select

from db import models
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.access.patient_lookup import PatientBasics, resolve_patient
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.database import Reads, read_connection, reading
from tracker.photos.quality import problems_of


def view_label(view: str) -> str:
    """
    >>> view_label("left_temporal"), view_label("closeup"), view_label("crown_left")
    ('Left temporal', 'Close-up (trichoscopy)', 'Crown left')
    """
    return view_words(view)


@dataclass(frozen=True)
class TimelineVisit:
    id: int
    date: date


@dataclass(frozen=True)
class TimelineRow:
    """One standard view: ``cells[i]`` is the photo id taken at ``PhotoTimeline.visits[i]``, or None.

    When a visit holds several photos of the view, the cell is the one uploaded last.
    """

    view: str
    label: str
    cells: tuple[int | None, ...]


@dataclass(frozen=True)
class CaptureFindings:
    """What the capture check found on a photo that was saved although it had problems: the problems in plain
    words (``tracker.photos.quality``), and whether the clinician kept it knowingly (False: saved unchecked
    against them, e.g. by an older form)."""

    problems: tuple[str, ...]
    kept_anyway: bool


@dataclass(frozen=True)
class PhotoTimeline:
    """Visits in date order (columns) and, in ``SCALP_VIEWS`` order, the views that have photos (rows).

    ``findings``: by photo id, the capture check's problems for the photos saved with some (none for a photo
    checked clean or never checked).
    """

    mrn: str
    full_name: str
    visits: tuple[TimelineVisit, ...]
    rows: tuple[TimelineRow, ...]
    findings: Mapping[int, CaptureFindings] = field(default_factory=dict)

    @property
    def photo_count(self) -> int:
        return sum(cell is not None for row in self.rows for cell in row.cells)


def _view_order(view: str) -> tuple[int, str]:
    return (SCALP_VIEWS.index(view), "") if view in SCALP_VIEWS else (len(SCALP_VIEWS), view)


def build_timeline(visits: list[TimelineVisit], photos: list[tuple[int, str, int]]) -> tuple[TimelineRow, ...]:
    """Lay ``(photo_id, view, visit_id)`` triples out as rows per view; the highest id wins a shared cell.

    >>> visits = [TimelineVisit(1, date(2025, 1, 15)), TimelineVisit(2, date(2025, 4, 14))]
    >>> build_timeline(visits, [(10, "vertex", 2), (11, "frontal", 1), (12, "vertex", 1), (13, "vertex", 1)])
    (TimelineRow(view='frontal', label='Frontal', cells=(11, None)), \
TimelineRow(view='vertex', label='Vertex', cells=(13, 10)))
    """
    column = {visit.id: index for index, visit in enumerate(visits)}
    grid: dict[str, list[int | None]] = {}
    for photo_id, view, visit_id in sorted(photos):
        if visit_id in column:
            grid.setdefault(view, [None] * len(visits))[column[visit_id]] = photo_id
    return tuple(TimelineRow(view, view_label(view), tuple(grid[view])) for view in sorted(grid, key=_view_order))


_visit = models.Visit.__table__
_photo = models.Photo.__table__
# Every live visit with its live photos (a visit without one still makes a column), oldest first: only the
# columns the grid needs, in one Core statement built once, with no ORM objects for a patient's hundreds of
# photos on every page run.
_TIMELINE = (
    select(_visit.c.id, _visit.c.date, _photo.c.id, _photo.c.view, _photo.c.quality)
    .select_from(_visit.outerjoin(_photo, (_photo.c.visit_id == _visit.c.id) & _photo.c.deleted_at.is_(None)))
    .where(_visit.c.patient_id == bindparam("patient_id"), _visit.c.deleted_at.is_(None))
    .order_by(_visit.c.date, _visit.c.id, _photo.c.id)
)


def read_timeline(session: Reads, patient: PatientBasics) -> PhotoTimeline:
    visits: list[TimelineVisit] = []
    photos: list[tuple[int, str, int]] = []
    findings: dict[int, CaptureFindings] = {}
    rows = read_connection(session).execute(_TIMELINE, {"patient_id": patient.id}).all()
    for visit_id, day, photo_id, view, quality in rows:
        if not visits or visits[-1].id != visit_id:
            visits.append(TimelineVisit(visit_id, day))
        if photo_id is not None:
            photos.append((photo_id, view, visit_id))
            if problems_of(quality):
                findings[photo_id] = CaptureFindings(problems_of(quality), bool(quality.get("kept_anyway")))
    return PhotoTimeline(patient.mrn, patient.full_name, tuple(visits), build_timeline(visits, photos), findings)


def photo_timeline(actor: Actor | None, mrn: str | None = None, url: str | None = None) -> PhotoTimeline:
    """One patient's photo grid (audited as a view). A patient account passes ``mrn=None`` for its own."""
    with audit.refusals_recorded(actor, "photo timeline", mrn, url), reading(url) as session:
        patient = resolve_patient(session, actor, mrn)
        timeline = read_timeline(session, patient)
        audit.record(session, actor, "view", patient_id=patient.id,
                     detail=f"photo timeline ({timeline.photo_count} photos)")
        return timeline
