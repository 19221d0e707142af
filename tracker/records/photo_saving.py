"""Storing a visit's photos with what the capture checks found: the visit form (``tracker.records.visits``) and
"Add photos to this visit" (``tracker.records.visit_photos``) store them alike.

A photo checked before the save (``tracker.records.capture_checks``) carries the check's record; it is stored in
``photo.quality`` only when it is the record of this very file (same SHA-256), so a photo replaced after its
check is never stored with another photo's findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tracker.access.actors import Actor
from tracker.errors import ValidationError
from tracker.photos.store import PhotoStore, store_photo
from tracker.records.visit_form import PhotoUpload, photo_problem
from tracker.storage.ingest import HashedFile
from tracker.validation import clean_file_name


@dataclass(frozen=True)
class SavedPhoto:
    view: str
    file_name: str
    photo_id: int


def store_visit_photos(session: Session, actor: Actor, visit_id: int, photos: Sequence[PhotoUpload],
                       contents: Sequence[HashedFile], store: PhotoStore | None) -> list[SavedPhoto]:
    """Store every photo of the visit, each with its capture check's record when it has one; any problem refuses
    the visit (the transaction rolls back, and the photo store removes the files it wrote)."""
    problems: list[str] = []
    saved_photos: list[SavedPhoto] = []
    for upload, content in zip(photos, contents, strict=True):
        try:
            row = store_photo(
                session, visit_id=visit_id, view=upload.view, data=content,
                file_name=upload.file_name or None, actor=actor.username, store=store,
                quality=quality_of(upload.quality, content.sha256),
            )
        except ValidationError as error:
            problems.append(photo_problem(upload, str(error)))
            continue
        saved_photos.append(SavedPhoto(upload.view, clean_file_name(upload.file_name), row.id))
    if problems:
        raise visit_refusal(problems)  # rolls back: the rows go, and the photo store removes its files
    return saved_photos


def quality_of(record: Mapping[str, Any] | None, sha256: str) -> dict[str, Any] | None:
    """The check's record to store with the file ``sha256``: None when there is none or it is another file's.

    >>> quality_of({"sha256": "ab", "problems": []}, "ab"), quality_of({"sha256": "cd"}, "ab")
    ({'sha256': 'ab', 'problems': []}, None)
    """
    if record is None or record.get("sha256") != sha256:
        return None
    return dict(record)


def visit_refusal(problems: list[str]) -> ValidationError:
    """The visit form's refusal: its first problem, or how many there are, with every one listed."""
    count = len(problems)
    return ValidationError(
        "The visit was not saved: " + (problems[0] if count == 1 else f"{count} things need fixing."), problems
    )
