"""Which standard views a patient's photo record holds, and which the latest photographed visit lacks.

Before/after comparisons pair the same view from two visits (DESIGN.md §4), so a view skipped at a visit is
a comparison the clinic cannot make later. The progress page shows this beside the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tracker.course.clinical import SCALP_VIEWS
from tracker.photos.timeline import PhotoTimeline, view_label


@dataclass(frozen=True)
class ViewCoverage:
    view: str
    label: str
    visits: int  # visits holding a photo of this view
    first: date | None
    latest: date | None


@dataclass(frozen=True)
class PhotoCoverage:
    photo_count: int
    visits_with_photos: int
    views: tuple[ViewCoverage, ...]  # every standard view (then any other recorded), photographed or not
    latest_visit: date | None  # the latest visit with any photo
    missing_at_latest: tuple[str, ...]  # labels of standard views not photographed at that visit


def photo_coverage(timeline: PhotoTimeline) -> PhotoCoverage:
    """
    >>> from tracker.photos.timeline import TimelineRow, TimelineVisit
    >>> visits = (TimelineVisit(1, date(2025, 1, 15)), TimelineVisit(2, date(2025, 4, 14)))
    >>> rows = (TimelineRow("frontal", "Frontal", (11, 21)), TimelineRow("vertex", "Vertex", (12, None)))
    >>> coverage = photo_coverage(PhotoTimeline("RT-1", "A", visits, rows))
    >>> coverage.photo_count, coverage.visits_with_photos, coverage.latest_visit
    (3, 2, datetime.date(2025, 4, 14))
    >>> coverage.missing_at_latest
    ('Vertex', 'Left temporal', 'Right temporal', 'Occipital', 'Close-up (trichoscopy)')
    >>> coverage.views[1]
    ViewCoverage(view='vertex', label='Vertex', visits=1, first=datetime.date(2025, 1, 15), \
latest=datetime.date(2025, 1, 15))
    """
    visits = timeline.visits  # in date order
    by_view = {row.view: row for row in timeline.rows}
    views = []
    photographed: set[int] = set()
    for view in (*SCALP_VIEWS, *(v for v in by_view if v not in SCALP_VIEWS)):
        row = by_view.get(view)
        taken = [i for i, cell in enumerate(row.cells) if cell is not None] if row else []
        photographed.update(taken)
        views.append(ViewCoverage(view, view_label(view), len(taken), visits[taken[0]].date if taken else None,
                                  visits[taken[-1]].date if taken else None))
    latest = max(photographed, default=None)
    missing = () if latest is None else tuple(
        view_label(view) for view in SCALP_VIEWS if view not in by_view or by_view[view].cells[latest] is None)
    return PhotoCoverage(timeline.photo_count, len(photographed), tuple(views),
                         visits[latest].date if latest is not None else None, missing)
