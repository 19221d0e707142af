"""Serving one photo's image: its thumbnail or display copy, only to an actor who may see its patient.

Asking for another patient's photo id is refused with the same words whether that id exists or not. Thumbnails
are covered by the timeline's audit entry (one per page draw, not one per thumbnail); opening a display copy is
audited on its own; refused attempts are audited too. Soft-deleted photos, visits and patients are never shown.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import PATIENT, ROLES, Actor, require_patient_access, require_role
from tracker.access.patient_lookup import resolve_patient
from tracker.course.vocabulary import view_words
from tracker.database import reading, transaction
from tracker.errors import NotFound, PermissionDenied
from tracker.photos.store import read_display, read_thumbnail

PhotoKind = Literal["thumbnail", "display"]

_REFUSED = "This record is not available to your account."


def reachable_photo(session: Session, actor: Actor | None, photo_id: int) -> tuple[models.Photo, models.Visit]:
    """The live photo ``photo_id`` if the actor may see its patient; a patient account hears the same
    refusal for another patient's photo and for an id that does not exist."""
    actor = require_role(actor, *ROLES)
    found = session.execute(
        select(models.Photo, models.Visit)
        .join(models.Visit, models.Visit.id == models.Photo.visit_id)
        .join(models.Patient, models.Patient.id == models.Visit.patient_id)
        .where(models.Photo.id == photo_id, models.Photo.deleted_at.is_(None), models.Visit.deleted_at.is_(None),
               models.Patient.deleted_at.is_(None))
    ).first()
    if found is None:
        if actor.role == PATIENT:
            raise PermissionDenied(_REFUSED)
        raise NotFound("This photo does not exist or has been removed.")
    photo, visit = found
    require_patient_access(actor, visit.patient_id)
    return photo, visit


def _read(photo: models.Photo, kind: PhotoKind) -> bytes:
    try:
        return read_display(photo) if kind == "display" else read_thumbnail(photo)
    except KeyError:
        raise NotFound(
            "The file of this photo is missing from the photo store. Tell your administrator: the store's "
            "consistency check lists such photos."
        ) from None


def timeline_thumbnails(actor: Actor | None, mrn: str | None = None, url: str | None = None) -> dict[int, bytes]:
    """Every live photo's thumbnail of one patient, by photo id, read with one access check in one
    transaction (the grid would otherwise open a transaction per thumbnail on every page run). A photo
    whose file is missing is left out; the consistency check reports it."""
    with audit.refusals_recorded(actor, "photo thumbnails", mrn, url), transaction(url) as session:
        patient = resolve_patient(session, actor, mrn)
        photos = session.scalars(
            select(models.Photo)
            .join(models.Visit, models.Visit.id == models.Photo.visit_id)
            .where(models.Visit.patient_id == patient.id, models.Visit.deleted_at.is_(None),
                   models.Photo.deleted_at.is_(None))
        ).all()
    thumbnails: dict[int, bytes] = {}
    for photo in photos:
        try:
            thumbnails[photo.id] = _read(photo, "thumbnail")
        except NotFound:
            continue
    return thumbnails


def photo_image(actor: Actor | None, photo_id: int, kind: PhotoKind = "thumbnail", url: str | None = None) -> bytes:
    """The JPEG bytes of one photo's thumbnail (≤ 320 px) or display copy (≤ 2048 px, upright, no EXIF).

    Refused (PermissionDenied) unless the actor may see the photo's patient. Opening a display copy is
    audited; thumbnails are covered by the timeline's entry.
    """
    if kind not in ("thumbnail", "display"):
        raise ValueError(f"kind must be 'thumbnail' or 'display', not {kind!r}")
    with audit.refusals_recorded(actor, f"photo {photo_id} ({kind})", None, url), reading(url) as session:
        photo, visit = reachable_photo(session, actor, photo_id)
        data = _read(photo, kind)
        if kind == "display":
            audit.record(session, actor, "view", patient_id=visit.patient_id,
                         detail=f"photo {photo.id} ({view_words(photo.view)}, visit of {visit.date.isoformat()})")
        return data
