"""Before and after: the same view from two visits, fitted into one frame, optionally faded into each other, with
the framing warnings of ``tracker.photos.framing``.

``before_after`` checks who is asking (a patient account reaches only its own photos), runs in one transaction
and is audited as a view; refused attempts are audited too. Soft-deleted photos, visits and patients are never
shown.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.access.patient_lookup import PatientBasics, resolve_patient
from tracker.course.calendar_months import months_between
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.database import reading
from tracker.errors import NotFound, ValidationError
from tracker.photos.aligned_pairs import PairAlignment, registered_pair
from tracker.photos.framing import (
    FramingWarning,
    _jpeg,
    blend_pair,
    caution_sentence,
    condition_warnings,
    fit_pair,
    shape_and_size_warnings,
)
from tracker.photos.serving import _read
from tracker.photos.timeline import TimelineVisit, _view_order, view_label


def _live_visits(session: Session, patient_id: int) -> list[models.Visit]:
    return list(session.scalars(
        select(models.Visit)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))
        .order_by(models.Visit.date, models.Visit.id)
    ))


def _live_photos(session: Session, patient_id: int, view: str | None = None) -> list[models.Photo]:
    query = (
        select(models.Photo)
        .join(models.Visit, models.Visit.id == models.Photo.visit_id)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None),
               models.Photo.deleted_at.is_(None))
        .order_by(models.Photo.id)
    )
    if view is not None:
        query = query.where(models.Photo.view == view)
    return list(session.scalars(query))


@dataclass(frozen=True)
class SiteDensity:
    site: str
    density_per_cm2: float


@dataclass(frozen=True)
class ComparedPhoto:
    """One side of the comparison. ``image`` is the JPEG fitted into the shared frame; ``width``/``height``
    are the upright original's pixels; ``months`` is the time since day 0 (None without a session)."""

    visit_id: int
    date: date
    photo_id: int
    months: float | None
    densities: tuple[SiteDensity, ...]
    width: int
    height: int
    image: bytes


@dataclass(frozen=True)
class BeforeAfter:
    """The comparison of ``view`` between two visits.

    ``views``: the patient's views that have photos (SCALP_VIEWS order), to choose from.
    ``visits``: the visits holding a photo of ``view`` (date order), to choose the two from.
    ``first``/``second``: None when fewer than two visits have this view (``first`` alone when one does).
    ``blended``: the two fitted images faded ``fade`` % of the way from first to second, when asked for.
    ``frame``: (width, height) of both fitted images and of the blend.
    ``alignment``: when asked for, how the later photo was lined up on the earlier one; its image is then the
    aligned copy (derived data, ``tracker.photos.aligned_pairs``) when ``alignment.aligned``, else as taken.
    """

    mrn: str
    view: str | None
    views: tuple[str, ...]
    visits: tuple[TimelineVisit, ...]
    first: ComparedPhoto | None
    second: ComparedPhoto | None
    frame: tuple[int, int] | None
    fade: int | None
    blended: bytes | None
    framing_warnings: tuple[FramingWarning, ...]
    alignment: PairAlignment | None = None

    @property
    def caution(self) -> str | None:
        """The sentence shown above the comparison when the photos were not taken the same way."""
        return caution_sentence(self.framing_warnings)


def _densities(session: Session, visit_id: int) -> tuple[SiteDensity, ...]:
    return tuple(
        SiteDensity(m.site, m.density_per_cm2)
        for m in session.scalars(
            select(models.DensityMeasurement)
            .where(models.DensityMeasurement.visit_id == visit_id, models.DensityMeasurement.deleted_at.is_(None))
            .order_by(models.DensityMeasurement.site)
        )
    )


def _day0(session: Session, patient_id: int) -> date | None:
    """Day 0 as the milestone engine counts it: the first treatment session on or before today."""
    return session.scalar(
        select(func.min(models.TreatmentSession.date)).where(
            models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None),
            models.TreatmentSession.date <= date.today())
    )


def default_pair(dated: list[TimelineVisit], day0: date | None) -> tuple[int, int] | None:
    """(baseline, latest) visit ids among visits with the view: the baseline is the latest on or before
    day 0, else the first; None when fewer than two visits have the view.

    >>> visits = [TimelineVisit(1, date(2025, 1, 2)), TimelineVisit(2, date(2025, 1, 15)),
    ...           TimelineVisit(3, date(2025, 4, 14)), TimelineVisit(4, date(2026, 1, 20))]
    >>> default_pair(visits, date(2025, 1, 15)), default_pair(visits, date(2024, 12, 1)), default_pair(visits, None)
    ((2, 4), (1, 4), (1, 4))
    """
    if len(dated) < 2:
        return None
    before = [v for v in dated if day0 is not None and v.date <= day0]
    baseline = before[-1] if before else dated[0]
    latest = dated[-1]
    if latest.id == baseline.id:  # every visit is on or before day 0: compare the two latest
        baseline = dated[-2]
    return baseline.id, latest.id


def _compared(session: Session, photo: models.Photo, visit: models.Visit, day0: date | None,
              image: Image.Image) -> ComparedPhoto:
    return ComparedPhoto(
        visit_id=visit.id, date=visit.date, photo_id=photo.id,
        months=round(months_between(day0, visit.date), 2) if day0 else None,
        densities=_densities(session, visit.id), width=photo.width, height=photo.height, image=_jpeg(image),
    )


def _open(photo: models.Photo) -> Image.Image:
    with Image.open(io.BytesIO(_read(photo, "display"))) as image:
        return image.convert("RGB")


def before_after(actor: Actor | None, mrn: str | None, view: str | None = None, first_visit_id: int | None = None,
                 second_visit_id: int | None = None, fade: int | None = None,
                 url: str | None = None, *, aligned: bool = False) -> BeforeAfter:
    """Compare ``view`` between two of the patient's visits (audited as a view).

    Parameters:
        actor: who asks; a patient account passes ``mrn=None`` and gets its own photos only.
        mrn: the patient (staff); for a patient account any other MRN is refused.
        view: one of ``SCALP_VIEWS``; None (or a view without photos) picks the first view photographed
            at two visits or more, else the first with a photo. ``BeforeAfter.view`` says which is shown.
        first_visit_id / second_visit_id: visits holding a photo of ``view``; None picks the baseline (the
            latest visit on or before day 0, else the first) and the latest visit.
        fade: 0–100, or None for no blend; 0 is the first photo alone, 100 the second alone.
        aligned: register the later photo onto the earlier one (``BeforeAfter.alignment``); the first view of a
            pair takes about a second, later views reuse the stored aligned copy.

    Raises ValidationError for an unknown view, a fade outside 0–100 or the same visit twice; NotFound for
    a visit of this patient without a photo of the view (or not this patient's visit at all).
    """
    if view is not None and view not in SCALP_VIEWS:
        raise ValidationError(f"Unknown photo view {view!r}. Choose one of: {', '.join(SCALP_VIEWS)}.")
    if fade is not None and not 0 <= fade <= 100:
        raise ValidationError("The fade goes from 0 (before) to 100 (after).")
    with audit.refusals_recorded(actor, "before/after photos", mrn, url), reading(url) as session:
        patient = resolve_patient(session, actor, mrn)
        result = _compare(session, patient, view, first_visit_id, second_visit_id, fade, aligned)
        detail = f"before/after {view_words(result.view) if result.view else 'photos'}"
        if result.first and result.second:
            detail += f": {result.first.date.isoformat()} and {result.second.date.isoformat()}"
        audit.record(session, actor, "view", patient_id=patient.id, detail=detail)
        return result


def _compare(session: Session, patient: PatientBasics, view: str | None, first_visit_id: int | None,
             second_visit_id: int | None, fade_percent: int | None, aligned: bool = False) -> BeforeAfter:
    visits = _live_visits(session, patient.id)
    by_id = {v.id: v for v in visits}
    photos = _live_photos(session, patient.id)
    latest_photo: dict[tuple[str, int], models.Photo] = {(p.view, p.visit_id): p for p in photos}  # last id wins
    views = tuple(sorted({p.view for p in photos}, key=_view_order))
    if view not in views:  # none asked for, or none left (its photos were removed): the default view
        counts = {v: sum(1 for (pv, _) in latest_photo if pv == v) for v in views}
        view = next((v for v in views if counts[v] >= 2), views[0] if views else None)
    dated = [TimelineVisit(v.id, v.date) for v in visits if (view, v.id) in latest_photo]
    empty = BeforeAfter(patient.mrn, view, views, tuple(dated), None, None, None, None, None, ())
    if view is None or not dated:
        return empty

    day0 = _day0(session, patient.id)
    pair = default_pair(dated, day0)
    if pair is None:  # one visit has this view: show it alone, in a frame of its own
        photo = latest_photo[(view, dated[0].id)]
        alone = _open(photo)
        image, _ = fit_pair(alone, alone)
        one = _compared(session, photo, by_id[dated[0].id], day0, image)
        return BeforeAfter(patient.mrn, view, views, tuple(dated), one, None, image.size, None, None, ())
    first_id = first_visit_id if first_visit_id is not None else pair[0]
    second_id = second_visit_id if second_visit_id is not None else pair[1]
    for chosen in (first_id, second_id):
        if (view, chosen) not in latest_photo:
            raise NotFound(f"There is no {view_label(view).lower()} photo at the visit chosen. Choose another visit.")
    if first_id == second_id:
        raise ValidationError("Choose two different visits to compare.")

    first_visit, second_visit = by_id[first_id], by_id[second_id]
    first_photo, second_photo = latest_photo[(view, first_id)], latest_photo[(view, second_id)]
    earlier, later = sorted((first_visit, second_visit), key=lambda v: (v.date, v.id))
    first_open, second_open = _open(first_photo), _open(second_photo)
    registration = None
    if aligned:  # the later photo goes into the earlier one's frame, whichever side the clinician put it on
        if earlier is first_visit:
            registration = registered_pair(first_photo, first_open, second_photo, second_open)
            second_open = registration.later_image
        else:
            registration = registered_pair(second_photo, second_open, first_photo, first_open)
            first_open = registration.later_image
    first_image, second_image = fit_pair(first_open, second_open)
    since_first = [v for v in visits if (earlier.date, earlier.id) < (v.date, v.id) <= (later.date, later.id)]
    warnings = shape_and_size_warnings((first_photo.width, first_photo.height),
                                       (second_photo.width, second_photo.height))
    warnings += condition_warnings(first_visit, second_visit, since_first)
    return BeforeAfter(
        mrn=patient.mrn, view=view, views=views, visits=tuple(dated),
        first=_compared(session, first_photo, first_visit, day0, first_image),
        second=_compared(session, second_photo, second_visit, day0, second_image),
        frame=first_image.size,
        fade=fade_percent,
        blended=_jpeg(blend_pair(first_image, second_image, fade_percent)) if fade_percent is not None else None,
        framing_warnings=tuple(warnings),
        alignment=registration.alignment if registration else None,
    )
