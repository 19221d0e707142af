"""Checking photos at capture, before the visit is saved: is each one sharp, well exposed, large enough, and framed
like the same view at the previous visit? And the previous visit's photo itself, for the capture guide's overlay.

``check_photos`` is the use case behind the visit form's photo check. It checks who is asking (staff, for a patient
they may see), reads the previous visit's photo of each view in one read-only transaction (audited as a view: the
previous photos are patient data), then measures each upload outside any transaction
(``tracker.photos.quality.check_quality``), decoding it once as intake does. Nothing is stored: the form hands each
check's ``record`` to ``tracker.records.visits.log_visit`` with the photo, and it is stored in ``photo.quality``.

``previous_photo`` is the capture guide's read: the display copy of the view's photo at the latest visit before a
date, audited as a view of that photo.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.access.patient_lookup import resolve_patient
from tracker.clinic_dates import parse_date
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.database import reading
from tracker.errors import ValidationError
from tracker.photos.intake import upright_photo
from tracker.photos.quality import PhotoQuality, check_quality
from tracker.photos.store import PhotoStore, read_display
from tracker.records.visit_form import PhotoUpload, photo_problem
from tracker.storage.ingest import HashedFile


@dataclass(frozen=True)
class PreviousPhoto:
    """The view's photo at the latest earlier visit: its id, its visit's date and its display copy (JPEG bytes,
    upright, ≤ 2048 px, no EXIF)."""

    photo_id: int
    view: str
    visit_date: date
    display_jpeg: bytes = field(repr=False)


@dataclass(frozen=True)
class PhotoCheck:
    """What the capture checks found on one upload, in the order given.

    ``quality`` is None when intake refuses the file (``refusal`` says why, in intake's words, naming the view and
    file). ``compared_with``: the date of the previous visit whose photo the framing was compared with (None: no
    earlier photo of the view, framing not checked). ``sha256``: of the file checked.
    """

    view: str
    file_name: str
    sha256: str
    quality: PhotoQuality | None
    refusal: str | None = None
    compared_with: date | None = None

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem in plain words, each naming the view and file (empty: the photo is fine)."""
        upload = PhotoUpload(self.view, self.file_name, b"")
        if self.refusal is not None:
            return (self.refusal,)
        return tuple(photo_problem(upload, problem.message) for problem in self.quality.problems) if self.quality \
            else ()

    def record(self, *, kept: bool) -> dict[str, Any] | None:
        """The record stored with the photo (``photo.quality``): the measures, the problems, whether the clinician
        kept it anyway, the date compared with, and the SHA-256 of the file checked. None for a refused file."""
        if self.quality is None:
            return None
        return {**self.quality.record(kept=kept), "sha256": self.sha256,
                "compared_with": self.compared_with.isoformat() if self.compared_with else None}


def check_photos(actor: Actor, mrn: str, uploads: Sequence[PhotoUpload], *, before: date | str | None = None,
                 url: str | None = None, store: PhotoStore | None = None) -> tuple[PhotoCheck, ...]:
    """Check each upload of a visit of patient ``mrn`` before it is saved, against the same view's photo at the
    latest visit before ``before``: the visit's date, or its text as typed in the form (a date still unreadable
    there, or None, means today: every earlier visit counts; the form itself says what is wrong with the date).

    Returns one ``PhotoCheck`` per upload, in order. Raises ValidationError for an unknown view, NotFound for an
    unknown MRN, PermissionDenied for anyone but staff or for a patient the actor may not see (audited).
    """
    require_role(actor, *STAFF)
    unknown = [upload for upload in uploads if upload.view not in SCALP_VIEWS]
    if unknown:
        raise ValidationError(photo_problem(unknown[0], f"unknown view; choose one of {', '.join(SCALP_VIEWS)}"))
    views = sorted({upload.view for upload in uploads})
    with audit.refusals_recorded(actor, "capture check", mrn, url), reading(url) as session:
        patient = resolve_patient(session, actor, mrn)
        day = _day(before)
        earlier = {view: _previous(session, patient.id, view, day) for view in views}
        audit.record(session, actor, "view", patient_id=patient.id,
                     detail=f"capture check of {len(uploads)} photo(s) against "
                            f"{sum(p is not None for p in earlier.values())} earlier photo(s)")
        previous = {view: _display(found, store) for view, found in earlier.items() if found is not None}
    return tuple(_check(upload, previous.get(upload.view)) for upload in uploads)


def previous_photo(actor: Actor, mrn: str, view: str, *, before: date | None = None, url: str | None = None,
                   store: PhotoStore | None = None) -> PreviousPhoto | None:
    """The display copy of ``view``'s photo at the patient's latest visit before ``before`` (default: today), for
    the capture guide's overlay; None when there is none (or its file is missing). Audited as a view of that
    photo. Raises like ``check_photos``."""
    require_role(actor, *STAFF)
    if view not in SCALP_VIEWS:
        raise ValidationError(f"Unknown photo view {view!r}. Choose one of: {', '.join(SCALP_VIEWS)}.")
    with audit.refusals_recorded(actor, "capture guide", mrn, url), reading(url) as session:
        patient = resolve_patient(session, actor, mrn)
        earlier = _previous(session, patient.id, view, before or date.today())
        shown = _display(earlier, store) if earlier else None
        if earlier is None or shown is None:
            return None
        photo_id = earlier[0].id
        audit.record(session, actor, "view", patient_id=patient.id,
                     detail=f"photo {photo_id} ({view_words(view)}, visit of {shown[0].isoformat()}) as the capture "
                            "guide")
        return PreviousPhoto(photo_id, view, shown[0], shown[1])


def _day(before: date | str | None) -> date:
    """The visit's date as given, or today."""
    if isinstance(before, date):
        return before
    try:
        return parse_date(before, "visit date") if before else date.today()
    except ValidationError:
        return date.today()


def _previous(session: Session, patient_id: int, view: str, before: date) -> tuple[models.Photo, date] | None:
    """The live photo of ``view`` at the patient's latest live visit before ``before`` (the last uploaded there),
    with its visit's date."""
    found = session.execute(
        select(models.Photo, models.Visit.date)
        .join(models.Visit, models.Visit.id == models.Photo.visit_id)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None), models.Visit.date < before,
               models.Photo.view == view, models.Photo.deleted_at.is_(None))
        .order_by(models.Visit.date.desc(), models.Photo.id.desc()).limit(1)
    ).first()
    return (found[0], found[1]) if found else None


def _display(found: tuple[models.Photo, date], store: PhotoStore | None) -> tuple[date, bytes] | None:
    """The photo's visit date and display copy; None when its file is missing (the consistency check reports it)."""
    photo, visit_date = found
    try:
        return visit_date, read_display(photo, store)
    except KeyError:
        return None


def _check(upload: PhotoUpload, previous: tuple[date, bytes] | None) -> PhotoCheck:
    """One upload decoded once (as intake decodes it) and measured; a refused file says why."""
    content = HashedFile.of(upload.data)
    try:
        image, size = upright_photo(content, upload.file_name)
    except ValidationError as error:
        return PhotoCheck(upload.view, upload.file_name, content.sha256, None, photo_problem(upload, str(error)))
    earlier = Image.open(io.BytesIO(previous[1])) if previous else None
    quality = check_quality(image, earlier, original_size=size)
    return PhotoCheck(upload.view, upload.file_name, content.sha256, quality,
                      compared_with=previous[0] if previous else None)
