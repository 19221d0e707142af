"""Correcting the view a photo is filed under (``correct_photo_view``, staff only): a photo of the vertex
filed as Right temporal is moved to Vertex, with the reason, and the timeline and the before/after comparison
show it there at once. The photo's files are not touched: the view is only where the record files it.
"""

from __future__ import annotations

from sqlalchemy import select

from db import models
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.records.history import clean_reason, reason_problems, refuse
from tracker.records.row_corrections import Correction, keep_changes, open_row


def parse_view(value: object) -> str:
    """One of the standard views (``SCALP_VIEWS``), as its code.

    >>> parse_view(" vertex ")
    'vertex'
    """
    view = value.strip() if isinstance(value, str) else ""
    if view not in SCALP_VIEWS:
        shown = str(value).strip()[:40] if value is not None else ""
        raise ValidationError(f"view {shown!r} is not a standard view: choose one of "
                              + ", ".join(view_words(v) for v in SCALP_VIEWS))
    return view


def correct_photo_view(actor: Actor, photo_id: int, view: str, reason: str, expected_version: int | None,
                       url: str | None = None) -> Correction:
    """File a photo under another standard view (staff only).

    Raises ``ValidationError`` for an unknown view, a missing reason, the view it already has, or a view of
    the same visit that already holds this very file (also a removed one: the record keeps one copy of a file
    per visit and view); ``NotFound`` for a removed photo, visit or patient; ``ConflictError`` when
    ``expected_version`` is not the photo's version any more.
    """
    require_role(actor, *STAFF)
    problems = reason_problems(reason)
    new_view = None
    try:
        new_view = parse_view(view)
    except ValidationError as error:
        problems.extend(error.problems)
    with transaction(url) as session:
        photo, patient = open_row(session, models.Photo, photo_id, expected_version, "photo")
        if new_view is not None and new_view != photo.view:
            twin = session.scalar(select(models.Photo.id).where(
                models.Photo.visit_id == photo.visit_id, models.Photo.view == new_view,
                models.Photo.sha256 == photo.sha256))
            if twin is not None:
                problems.append(f"this very photo is already filed under {view_words(new_view)} at this visit "
                                "(or was, and was removed): remove this copy instead")
        if problems or new_view is None:
            refuse("Nothing was saved", problems)
        changed = [("view", photo.view, new_view)] if new_view != photo.view else []
        photo.view = new_view
        kept = keep_changes(session, actor, photo, patient.id, changed, clean_reason(reason),
                            f"photo {photo.id} of visit {photo.visit_id}")
        return Correction("photo", photo.id, photo.version, kept)
