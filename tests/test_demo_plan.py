"""The demo clinic's plan (``tracker.operations.demo_plan``), without a database: baselines and reviews where
the course puts them, nothing after today."""

from __future__ import annotations

from datetime import date, timedelta

from tracker.course.clinical import SCALP_VIEWS
from tracker.operations.demo_plan import plan_clinic

TODAY = date(2026, 3, 1)


def test_demo_plan_keeps_baselines_and_reviews_where_the_course_puts_them():
    for patient in plan_clinic(TODAY):
        day0 = patient.sessions[0].date
        if patient.adherence == "no_baseline":
            assert all(v.date > day0 for v in patient.visits)
        else:
            assert day0 - timedelta(days=14) <= patient.visits[0].date <= day0
        assert all(v.date <= TODAY for v in patient.visits)
        assert all(len(v.views) == 2 and {view for view, _ in v.views} <= set(SCALP_VIEWS) for v in patient.visits)
