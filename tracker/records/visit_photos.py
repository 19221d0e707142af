"""Adding photos to a visit already recorded: the forgotten occipital photo, taken the same day, goes to its visit.

``add_photos`` is the use case behind "Add photos to this visit" on the patient record. The photos are checked
and stored as the visit form stores them (``tracker.records.visits.store_visit_photos``), in one transaction:
any refused photo means none is added. The visit's version is checked against the one the clinician saw, so a
visit removed or changed meanwhile is said so instead of receiving photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_patient_access, require_role
from tracker.database import transaction
from tracker.errors import ConflictError, NotFound, ValidationError
from tracker.photos.store import PhotoStore
from tracker.records.history import check_version, lock
from tracker.records.photo_saving import SavedPhoto, store_visit_photos
from tracker.records.visit_form import PhotoUpload, check_photo_list
from tracker.storage.ingest import HashedFile


@dataclass(frozen=True)
class PhotosAdded:
    """The photos added to a visit, and the visit's new version."""

    visit_id: int
    date: date
    photos: tuple[SavedPhoto, ...]
    version: int


def add_photos(actor: Actor, visit_id: int, uploads: Sequence[PhotoUpload], expected_version: int | None = None,
               url: str | None = None, *, store: PhotoStore | None = None) -> PhotosAdded:
    """Add standard-view photos to the visit ``visit_id`` (staff only), in one transaction.

    ``expected_version`` is the visit's version the clinician saw. Raises ValidationError listing every problem
    (no photo chosen, an unknown view, the same photo twice or already on the visit, a file that is no photo:
    nothing is added then), NotFound for a visit that does not exist or was removed, ConflictError when the
    visit changed since it was read, PermissionDenied for anyone but staff or for another clinic's patient.
    """
    require_role(actor, *STAFF)
    if not uploads:
        raise ValidationError("No photo was added: choose a photo for a view first.")
    contents = tuple(HashedFile.of(upload.data) for upload in uploads)
    problems: list[str] = []
    check_photo_list(uploads, contents, problems)
    if problems:
        raise ValidationError("No photo was added: " + problems[0] if len(problems) == 1
                              else f"No photo was added: {len(problems)} things need fixing.", problems)
    with transaction(url) as session:
        visit = lock(session, models.Visit, visit_id)
        if visit is None:
            raise NotFound(f"No visit with id {visit_id}.")
        require_patient_access(actor, visit.patient_id)
        if visit.deleted_at is not None:
            raise ConflictError("This visit was removed; reload the record. No photo was added.")
        check_version(visit, expected_version)
        try:
            saved = store_visit_photos(session, actor, visit.id, uploads, contents, store)
        except ValidationError as error:  # worded for a new visit: say what did not happen here
            raise ValidationError("No photo was added: " + (error.problems[0] if len(error.problems) == 1 else
                                  f"{len(error.problems)} things need fixing."), error.problems) from None
        visit.version += 1
        session.flush()
        audit.record(session, actor, "update", patient_id=visit.patient_id,
                     detail=f"visit {visit.id} on {visit.date.isoformat()}: {len(saved)} photo(s) added")
        return PhotosAdded(visit.id, visit.date, tuple(saved), visit.version)
