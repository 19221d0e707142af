"""The follow-up list (``tracker.records.patient_list``): next milestone, status, filters and search.

Milestone dates below are worked by hand from the default protocol (windows 2–3, 5–7, 11–13 calendar
months after day 0; DESIGN.md §1) so that each filter case is unambiguous on TODAY.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select

from db import models
from db.engine import engine_for
from tests.patient_samples import DR, TODAY, seed
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.records.patient_list import list_patients


@pytest.fixture
def follow_up(clinic):
    """Four patients whose follow-up state on TODAY (2025-06-01) is worked out by hand."""
    # Day 0 2025-03-05: early-response window 2025-05-05..06-05, target 06-05: due, within the week.
    seed(clinic, "DUE-1", "Bruno Due", sessions=[date(2025, 3, 5)], visits=[(date(2025, 3, 1), {"vertex": 150})])
    # Day 0 2025-01-10: early window closed 2025-04-10 without a visit: overdue; next window opens 06-10.
    seed(clinic, "LATE-1", "Carla Late", sessions=[date(2025, 1, 10)], visits=[(date(2025, 1, 5), {"vertex": 150})])
    # Day 0 2025-01-20: 2025-04-20 visit = 90 days = 2.9569 months, band +4.35..+19.35; baseline 150 → noise 15,
    # so behind below 4.35 − 15 = −10.65: at 130 (−20) behind; next window opens 06-20.
    seed(clinic, "SLOW-1", "Dora Slow", sessions=[date(2025, 1, 20)],
         visits=[(date(2025, 1, 15), {"vertex": 150}), (date(2025, 4, 20), {"vertex": 130})])
    seed(clinic, "NEW-1", "Eli New")
    return clinic


def test_list_shows_next_milestone_status_and_due_date(follow_up):
    rows = {row.mrn: row for row in list_patients(DR, today=TODAY)}
    assert [r.full_name for r in list_patients(DR, today=TODAY)] == ["Bruno Due", "Carla Late", "Dora Slow", "Eli New"]
    due = rows["DUE-1"]
    assert (due.next_milestone, due.next_status, due.next_due) == ("early_response", "due", date(2025, 6, 5))
    assert (due.due_this_week, due.overdue, due.behind) == (True, False, False)
    assert due.status_text == "due now"
    assert due.day0 == date(2025, 3, 5)
    late = rows["LATE-1"]
    assert (late.next_milestone, late.next_status, late.next_due) == (
        "noticeable_growth", "upcoming", date(2025, 7, 10))
    assert (late.due_this_week, late.overdue, late.behind) == (False, True, False)
    assert late.status_text.startswith("overdue")
    slow = rows["SLOW-1"]
    assert (slow.due_this_week, slow.overdue, slow.behind) == (False, False, True)
    assert "latest result below the expected range" in slow.status_text
    assert rows["NEW-1"].status_text == "no treatment session yet"
    assert rows["NEW-1"].next_milestone is None


@pytest.mark.parametrize("filter, mrns", [
    (None, ["DUE-1", "LATE-1", "SLOW-1", "NEW-1"]),
    ("due_this_week", ["DUE-1"]),
    ("overdue", ["LATE-1"]),
    ("behind", ["SLOW-1"]),
])
def test_filters(follow_up, filter, mrns):
    assert [r.mrn for r in list_patients(DR, filter=filter, today=TODAY)] == mrns


@pytest.mark.parametrize("query, mrns", [
    ("carla", ["LATE-1"]),
    ("  SLOW ", ["SLOW-1"]),
    ("dora slow", ["SLOW-1"]),
    ("-1", ["DUE-1", "LATE-1", "SLOW-1", "NEW-1"]),
    ("due-1", ["DUE-1"]),
    ("%", []),
    ("_", []),
    ("nobody", []),
])
def test_search_by_name_or_mrn(follow_up, query, mrns):
    assert [r.mrn for r in list_patients(DR, query=query, today=TODAY)] == mrns


def test_search_and_filter_combine(follow_up):
    assert list_patients(DR, query="carla", filter="behind", today=TODAY) == []


def test_unknown_filter_refused(follow_up):
    with pytest.raises(ValidationError):
        list_patients(DR, filter="someday", today=TODAY)


@pytest.mark.parametrize("actor", [None, Actor(username="p", role="patient", patient_id=1)])
def test_list_is_staff_only(follow_up, actor):
    with pytest.raises(PermissionDenied):
        list_patients(actor, today=TODAY)


def test_list_uses_the_same_few_queries_for_many_patients(clinic):
    def statements_for_list() -> int:
        seen: list[str] = []
        engine = engine_for(clinic)

        def count_statement(_conn, _cursor, statement, *_):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            list_patients(DR, today=TODAY)
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
        return len(seen)

    for n in range(3):
        seed(clinic, f"P{n}", f"Patient {n}", sessions=[date(2025, 1, 10)],
             visits=[(date(2025, 1, 5), {"vertex": 150})])
    few = statements_for_list()
    for n in range(3, 60):
        seed(clinic, f"P{n}", f"Patient {n}", sessions=[date(2025, 1, 10)],
             visits=[(date(2025, 1, 5), {"vertex": 150, "frontal": 120}), (date(2025, 4, 5), {"vertex": 160})])
    assert statements_for_list() == few
    assert len(list_patients(DR, today=TODAY)) == 60


def test_removed_patients_and_rows_are_left_out(follow_up):
    with transaction(follow_up) as session:
        session.scalar(select(models.Patient).where(models.Patient.mrn == "NEW-1")).deleted_at = date(2025, 5, 1)
        # Removing SLOW-1's 3-month visit leaves its early window missed: overdue, no longer behind.
        visit = session.scalar(select(models.Visit).where(models.Visit.date == date(2025, 4, 20)))
        visit.deleted_at = date(2025, 5, 1)
    rows = {row.mrn: row for row in list_patients(DR, today=TODAY)}
    assert "NEW-1" not in rows
    assert (rows["SLOW-1"].behind, rows["SLOW-1"].overdue) == (False, True)


def test_below_the_band_within_noise_is_not_behind_expected(follow_up):
    """The filter reads the engine's status: a point below the band but within the noise is on track."""
    # Same course as SLOW-1 at 140: −10 is below the band's +4.35 but not below 4.35 − 15 = −10.65.
    seed(follow_up, "NOISE-1", "Nina Noise", sessions=[date(2025, 1, 20)],
         visits=[(date(2025, 1, 15), {"vertex": 150}), (date(2025, 4, 20), {"vertex": 140})])
    rows = {row.mrn: row for row in list_patients(DR, today=TODAY)}
    assert rows["NOISE-1"].behind is False
    assert "below" not in rows["NOISE-1"].status_text
    assert [r.mrn for r in list_patients(DR, filter="behind", today=TODAY)] == ["SLOW-1"]
