"""What the progress report holds, as plain data (photos as bytes), read in the report's one transaction: the
patient's progress view, sessions with product, lot and volume, concurrent therapies, and a before/after pair per
photographed view (display copies, pair chosen as ``tracker.photos.before_after`` chooses it). No ORM object
leaves ``gather``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access.patient_lookup import PatientBasics
from tracker.course.calendar_months import months_between
from tracker.course.clinical import SCALP_VIEWS
from tracker.photos.before_after import default_pair
from tracker.photos.framing import caution_sentence, condition_warnings, shape_and_size_warnings
from tracker.photos.store import read_display
from tracker.photos.timeline import TimelineVisit
from tracker.progress.view import ProgressView, build_view

log = logging.getLogger(__name__)

DEFAULT_CLINIC_NAME = "Regrowth Tracker clinic"


@dataclass(frozen=True)
class SessionLine:
    date: date
    treatment: str
    product: str
    lot_number: str
    volume_ml: float | None
    areas: str


@dataclass(frozen=True)
class TherapyLine:
    name: str
    dose: str
    start: date
    stop: date | None


@dataclass(frozen=True)
class PhotoShot:
    """One side of a before/after pair: the display copy's JPEG bytes (None when its file is missing)."""

    date: date
    months: float | None
    image: bytes | None


@dataclass(frozen=True)
class PhotoPair:
    """``after`` is None when only one visit has a photo of this view."""

    view: str
    before: PhotoShot
    after: PhotoShot | None
    caution: str | None = None


@dataclass(frozen=True)
class ReportContent:
    clinic: str
    view: ProgressView
    birth_date: date
    as_of: date
    sessions: tuple[SessionLine, ...]
    therapies: tuple[TherapyLine, ...]
    photo_pairs: tuple[PhotoPair, ...]
    generated_at: datetime
    generated_by: str


def clinic_name() -> str:
    return os.environ.get("TRACKER_CLINIC_NAME", "").strip() or DEFAULT_CLINIC_NAME


def gather(session: Session, patient: PatientBasics, as_of: date, generated_by: str = "") -> ReportContent:
    """Everything the report prints, as plain data (photos as bytes): no ORM object leaves this call."""
    view = build_view(session, patient, as_of)
    sessions = tuple(
        SessionLine(s.date, s.treatment, s.product or "", s.lot_number or "", s.volume_ml, s.areas or "")
        for s in session.scalars(
            select(models.TreatmentSession)
            .where(models.TreatmentSession.patient_id == patient.id, models.TreatmentSession.deleted_at.is_(None),
                   models.TreatmentSession.date <= as_of)
            .order_by(models.TreatmentSession.date, models.TreatmentSession.id)
        )
    )
    therapies = tuple(
        TherapyLine(t.name, t.dose or "", t.start, t.stop)
        for t in session.scalars(
            select(models.ConcurrentTherapy)
            .where(models.ConcurrentTherapy.patient_id == patient.id, models.ConcurrentTherapy.deleted_at.is_(None),
                   models.ConcurrentTherapy.start <= as_of)
            .order_by(models.ConcurrentTherapy.start, models.ConcurrentTherapy.id)
        )
    )
    return ReportContent(
        clinic=clinic_name(), view=view, birth_date=patient.birth_date, as_of=as_of, sessions=sessions,
        therapies=therapies, photo_pairs=_photo_pairs(session, patient.id, view.progress.day0, as_of),
        generated_at=datetime.now(UTC).astimezone(), generated_by=generated_by,
    )


def _photo_pairs(session: Session, patient_id: int, day0: date | None, as_of: date) -> tuple[PhotoPair, ...]:
    """Per photographed view, the pair the before/after page opens with (``before_after.default_pair``)."""
    visits = list(session.scalars(
        select(models.Visit)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None), models.Visit.date <= as_of)
        .order_by(models.Visit.date, models.Visit.id)
    ))
    by_id = {v.id: v for v in visits}
    photos: Iterable[models.Photo] = session.scalars(
        select(models.Photo)
        .where(models.Photo.visit_id.in_(by_id), models.Photo.deleted_at.is_(None))
        .order_by(models.Photo.id)
    ) if by_id else []
    latest: dict[tuple[str, int], models.Photo] = {(p.view, p.visit_id): p for p in photos}  # last upload wins
    views = sorted({view for view, _ in latest}, key=_view_rank)
    pairs = []
    for view in views:
        dated = [TimelineVisit(v.id, v.date) for v in visits if (view, v.id) in latest]
        chosen = default_pair(dated, day0)
        if chosen is None:
            only = by_id[dated[0].id]
            pairs.append(PhotoPair(view, _shot(latest[(view, only.id)], only, day0), None))
            continue
        first, second = by_id[chosen[0]], by_id[chosen[1]]
        first_photo, second_photo = latest[(view, first.id)], latest[(view, second.id)]
        since_first = [v for v in visits if (first.date, first.id) < (v.date, v.id) <= (second.date, second.id)]
        warnings = shape_and_size_warnings((first_photo.width, first_photo.height),
                                           (second_photo.width, second_photo.height))
        warnings += condition_warnings(first, second, since_first)
        pairs.append(PhotoPair(view, _shot(first_photo, first, day0), _shot(second_photo, second, day0),
                               caution_sentence(warnings)))
    return tuple(pairs)


def _view_rank(view: str) -> tuple[int, str]:
    return (SCALP_VIEWS.index(view), "") if view in SCALP_VIEWS else (len(SCALP_VIEWS), view)


def _shot(photo: models.Photo, visit: models.Visit, day0: date | None) -> PhotoShot:
    try:
        data = read_display(photo)
    except (KeyError, OSError):
        log.warning("display copy of photo %s is missing from the photo store", photo.id)
        data = None
    return PhotoShot(visit.date, round(months_between(day0, visit.date), 1) if day0 else None, data)
