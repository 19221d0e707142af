"""The photo timeline (``tracker.photos.timeline``): a row per photographed view, a column per live visit.
"""

from __future__ import annotations

from datetime import date

from tests.scalp_samples import CLINICIAN, make_photo_patient
from tracker.photos.timeline import TimelineVisit, photo_timeline


def test_timeline_has_a_row_per_photographed_view_and_a_column_per_live_visit(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    timeline = photo_timeline(CLINICIAN, "P-1", clinic)
    assert (timeline.mrn, timeline.full_name) == ("P-1", "Ada Example")
    v, p = made.visits, made.photos
    assert timeline.visits == (
        TimelineVisit(v["pre"], date(2025, 1, 2)), TimelineVisit(v["baseline"], date(2025, 1, 15)),
        TimelineVisit(v["month3"], date(2025, 4, 14)), TimelineVisit(v["month6"], date(2025, 7, 15)),
        TimelineVisit(v["month12"], date(2026, 1, 20)),
    )  # date order; the soft-deleted visit is not a column
    assert [(row.view, row.label) for row in timeline.rows] == [
        ("frontal", "Frontal"), ("vertex", "Vertex"), ("closeup", "Close-up (trichoscopy)")]  # SCALP_VIEWS order
    cells = {row.view: row.cells for row in timeline.rows}
    assert cells["frontal"] == (None, p["baseline_frontal"], None, None, p["month12_frontal"])  # deleted photo gone
    assert cells["vertex"] == (p["pre_vertex"], p["baseline_vertex"], None, p["month6_vertex"], p["month12_vertex"])
    assert cells["closeup"] == (None, p["baseline_closeup"], None, None, None)
    assert timeline.photo_count == 7
