"""The progress page's data in one read: the progress view and the patient's photo record.

The progress page and the consult screen run on every click, so everything they draw is read in one
transaction, with one access check and one audit entry (``bench_progress_page.py`` measures it against
the raw reads it needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tracker.access import audit
from tracker.access.actors import Actor
from tracker.access.patient_lookup import resolve_patient
from tracker.database import read_only
from tracker.photos.coverage import PhotoCoverage, photo_coverage
from tracker.photos.timeline import PhotoTimeline, read_timeline
from tracker.progress.view import ProgressView, build_view


@dataclass(frozen=True)
class ProgressPage:
    view: ProgressView
    photos: PhotoTimeline
    coverage: PhotoCoverage


def progress_page(actor: Actor | None, mrn: str | None = None, as_of: date | None = None,
                  url: str | None = None) -> ProgressPage:
    """One patient's progress page (audited as one view). A patient account passes ``mrn=None`` for its own
    record and is refused any other (``tracker.access.patient_lookup.resolve_patient``)."""
    as_of = as_of or date.today()
    # Read without SQLite's write lock (the audit entry is written just after the reads, before returning).
    with audit.refusals_recorded(actor, "progress", mrn, url), read_only(url) as session:
        patient = resolve_patient(session, actor, mrn)
        view = build_view(session, patient, as_of)
        photos = read_timeline(session, patient)
        audit.record(session, actor, "view", patient_id=patient.id,
                     detail=f"progress and photo record ({photos.photo_count} photos)")
        return ProgressPage(view, photos, photo_coverage(photos))
