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
from tracker.course.vocabulary import PatientFilter
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.records.patient_list import list_patients

WINDOW_OPEN, TARGET_SOON = PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON
OVERDUE, BEHIND = PatientFilter.OVERDUE, PatientFilter.BEHIND


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


def test_list_shows_next_milestone_status_and_target_date(follow_up):
    rows = {row.mrn: row for row in list_patients(DR, today=TODAY)}
    assert [r.full_name for r in list_patients(DR, today=TODAY)] == ["Bruno Due", "Carla Late", "Dora Slow", "Eli New"]
    due = rows["DUE-1"]
    assert (due.next_milestone, due.next_status, due.next_due) == ("early_response", "due", date(2025, 6, 5))
    assert (due.window_start, due.window_end) == (date(2025, 5, 5), date(2025, 6, 5))
    # Window 05-05..06-05 contains 06-01; target 06-05 is 4 days away (≤ 7).
    assert due.lists == {WINDOW_OPEN, TARGET_SOON}
    assert (due.overdue, due.behind, due.overdue_since) == (False, False, None)
    assert due.status_text == "window open; target date in 4 days"
    assert due.day0 == date(2025, 3, 5)
    late = rows["LATE-1"]
    assert (late.next_milestone, late.next_status, late.next_due) == (
        "noticeable_growth", "upcoming", date(2025, 7, 10))
    # Overdue since the missed early window's target, 2025-04-10; the next window opens 06-10: on no other list.
    assert (late.lists, late.overdue_since) == ({OVERDUE}, date(2025, 4, 10))
    assert late.status_text.startswith("overdue")
    slow = rows["SLOW-1"]
    assert (slow.lists, slow.overdue, slow.behind) == ({BEHIND}, False, True)
    # Next window (6 months) opens 2025-06-20, 19 days after TODAY.
    assert slow.status_text == "window opens in 19 days; latest result below the expected range"
    assert rows["NEW-1"].status_text == "no treatment session yet"
    assert rows["NEW-1"].next_milestone is None
    assert rows["NEW-1"].lists == frozenset()


def test_each_row_says_the_last_visit_and_the_latest_change(follow_up):
    # A later visit with photos only (no density) is still the last visit; a removed one and one after
    # TODAY are not.
    seed(follow_up, "PHOTO-1", "Pia Photo", sessions=[date(2025, 3, 5)],
         visits=[(date(2025, 3, 1), {"vertex": 150}), (date(2025, 5, 20), {}), (date(2025, 6, 10), {})])
    with transaction(follow_up) as session:
        patient_id = session.scalar(select(models.Patient.id).where(models.Patient.mrn == "PHOTO-1"))
        session.add(models.Visit(patient_id=patient_id, date=date(2025, 5, 25), created_by="test",
                                 deleted_at=date(2025, 5, 26)))
    rows = {row.mrn: row for row in list_patients(DR, today=TODAY)}
    assert {mrn: row.last_visit for mrn, row in rows.items()} == {
        "DUE-1": date(2025, 3, 1), "LATE-1": date(2025, 1, 5), "SLOW-1": date(2025, 4, 20), "NEW-1": None,
        "PHOTO-1": date(2025, 5, 20)}
    # SLOW-1: 130 against a baseline of 150 = −20 hairs/cm², −13.3 %, judged behind (below 4.35 − 15).
    assert rows["SLOW-1"].latest_change == "−20 hairs/cm² (−13%) at Vertex, 3 months: behind expected"
    assert rows["DUE-1"].latest_change == "Not judged yet: no milestone visit"
    assert rows["NEW-1"].latest_change == "Nothing measured yet"


@pytest.mark.parametrize("visits, words", [
    # Day 0 2025-01-20, visit 2025-04-20 = 90 days = 2.9569 months: band +4.35..+19.35 (DESIGN.md §3).
    # Vertex 150 → 165: +15 (+10%), noise 15: on track. Frontal 200 → 170: −30 (−15%), noise 20:
    # below 4.35 − 20 = −15.65, behind. The weakest site is shown, and that two were judged.
    ({"vertex": (150, 165), "frontal": (200, 170)},
     "−30 hairs/cm² (−15%) at Frontal, 3 months: behind expected (weakest of 2 sites)"),
    # Both ahead (vertex +50 > 19.35 + 15; frontal +50 > 19.35 + 20): the smaller % change, frontal's +25 %.
    ({"vertex": (150, 200), "frontal": (200, 250)},
     "+50 hairs/cm² (+25%) at Frontal, 3 months: ahead of expected (weakest of 2 sites)"),
    # −10 (−6.7 %) is below the band but not below 4.35 − 15 = −10.65: on track, the engine's status.
    ({"vertex": (150, 140)}, "−10 hairs/cm² (−7%) at Vertex, 3 months: on track"),
    # Measured only after day 0: no baseline to compare with.
    ({"vertex": (None, 150)}, "No baseline: the change cannot be judged"),
])
def test_latest_change_of_several_sites_and_without_baseline(clinic, visits, words):
    baseline = {site: before for site, (before, _after) in visits.items() if before is not None}
    later = {site: after for site, (_before, after) in visits.items()}
    seed(clinic, "M-1", "Mo Multi", sessions=[date(2025, 1, 20)],
         visits=[*([(date(2025, 1, 15), baseline)] if baseline else []), (date(2025, 4, 20), later)])
    (row,) = list_patients(DR, today=TODAY)
    assert row.latest_change == words


@pytest.fixture
def boundaries(clinic):
    """TODAY is 2025-06-01; early-response window = day 0 + 2..3 calendar months, target = + 3 months."""
    # Target 2025-06-08 = TODAY + 7: on "target date within 7 days"; window 05-08..06-08 open.
    seed(clinic, "T-7", "Tara Seven", sessions=[date(2025, 3, 8)], visits=[(date(2025, 3, 8), {"vertex": 150})])
    # Target 2025-06-09 = TODAY + 8: not on it; window 05-09..06-09 open.
    seed(clinic, "T-8", "Theo Eight", sessions=[date(2025, 3, 9)], visits=[(date(2025, 3, 9), {"vertex": 150})])
    # Window opens TODAY (06-01..07-01, target 07-01): open now, target 30 days away.
    seed(clinic, "OPEN-0", "Olga Opens", sessions=[date(2025, 4, 1)], visits=[(date(2025, 4, 1), {"vertex": 150})])
    # Window closes and target falls TODAY (05-01..06-01): still open, target today, not overdue.
    seed(clinic, "CLOSE-0", "Carl Closes", sessions=[date(2025, 3, 1)],
         visits=[(date(2025, 3, 1), {"vertex": 150})])
    # Day 0 2024-10-31: early window 2024-12-31..2025-01-31 visited; the 6-month window 2025-03-31..05-31
    # closed YESTERDAY with no visit (target 04-30): overdue 32 days, on no window list.
    seed(clinic, "SHUT-1", "Sid Shut", sessions=[date(2024, 10, 31)],
         visits=[(date(2024, 10, 31), {"vertex": 150}), (date(2025, 1, 31), {"vertex": 160})])
    # Early window 2025-03-10..04-10 missed (target 04-10): overdue 52 days.
    seed(clinic, "LATE-1", "Carla Late", sessions=[date(2025, 1, 10)], visits=[(date(2025, 1, 5), {"vertex": 150})])
    return clinic


@pytest.mark.parametrize("filter, mrns", [
    # By target date, nearest first: CLOSE-0 06-01, T-7 06-08, T-8 06-09, OPEN-0 07-01.
    ("window_open", ["CLOSE-0", "T-7", "T-8", "OPEN-0"]),
    ("target_soon", ["CLOSE-0", "T-7"]),
    # Longest overdue first: LATE-1 since 04-10 (52 days), SHUT-1 since 04-30 (32 days).
    ("overdue", ["LATE-1", "SHUT-1"]),
    ("behind", []),
])
def test_filters_at_their_boundaries_sorted_by_urgency(boundaries, filter, mrns):
    assert [r.mrn for r in list_patients(DR, filter=filter, today=TODAY)] == mrns


def test_overdue_since_and_the_whole_list_by_name(boundaries):
    rows = list_patients(DR, today=TODAY)
    assert [r.full_name for r in rows] == ["Carl Closes", "Carla Late", "Olga Opens", "Sid Shut", "Tara Seven",
                                           "Theo Eight"]
    assert next(r for r in rows if r.mrn == "CLOSE-0").status_text == "window open; target date today"
    shut = next(r for r in rows if r.mrn == "SHUT-1")
    assert (shut.overdue_since, shut.next_milestone, shut.window_start) == (
        date(2025, 4, 30), "continued_improvement", date(2025, 9, 30))


@pytest.mark.parametrize("filter, mrns", [
    (None, ["DUE-1", "LATE-1", "SLOW-1", "NEW-1"]),
    ("window_open", ["DUE-1"]),
    ("target_soon", ["DUE-1"]),
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
    assert list_patients(DR, query="carla", filter="behind", today=TODAY).rows == ()


@pytest.mark.parametrize("filter", ["someday", "due_this_week", "upcoming"])
def test_unknown_filter_refused(follow_up, filter):
    """"Upcoming" needs a look-ahead: the schedule's list, not the patient list's."""
    with pytest.raises(ValidationError, match="window_open, target_soon, overdue, behind"):
        list_patients(DR, filter=filter, today=TODAY)


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
    first = list_patients(DR, today=TODAY)
    assert (len(first), first.total, first.pages, first.showing()) == (50, 60, 2, "Showing 1–50 of 60")
    second = list_patients(DR, today=TODAY, page=2)
    assert len(second) == 10 and {p.mrn for p in first} | {p.mrn for p in second} == {f"P{n}" for n in range(60)}


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


@pytest.mark.parametrize("kind", [WINDOW_OPEN, TARGET_SOON, OVERDUE])
def test_the_patient_list_and_the_schedule_list_the_same_patients_in_the_same_order(boundaries, kind):
    from tracker.progress.schedule import schedule

    plan = schedule(DR, today=TODAY, horizon_days=30, url=boundaries)
    assert [r.mrn for r in list_patients(DR, filter=kind, today=TODAY)] == [f.mrn for f in plan.listed(kind)]


def test_behind_expected_and_the_latest_change_say_the_same(follow_up):
    """Behind on the list is the engine's status with the noise, and its figure is the one shown beside it."""
    seed(follow_up, "NOISE-1", "Nina Noise", sessions=[date(2025, 1, 20)],
         visits=[(date(2025, 1, 15), {"vertex": 150}), (date(2025, 4, 20), {"vertex": 140})])
    rows = list_patients(DR, today=TODAY)
    assert {r.mrn for r in rows if "behind expected" in r.latest_change} == {r.mrn for r in rows if r.behind} == {
        "SLOW-1"}


@pytest.mark.parametrize("page", [0, -1, 1_000_001, "2", 2.0, True, None])
def test_a_page_number_outside_1_to_a_million_or_not_whole_is_refused(follow_up, page):
    with pytest.raises(ValidationError, match="numbered from 1 to 1,000,000"):
        list_patients(DR, today=TODAY, page=page)


@pytest.mark.parametrize("size", [0, 501, "50", True])
def test_a_page_size_outside_1_to_500_is_refused(follow_up, size):
    with pytest.raises(ValidationError, match="from 1 to 500 rows"):
        list_patients(DR, today=TODAY, page_size=size)


def test_a_page_past_the_last_is_the_last_page(follow_up):
    """Four patients, three a page: page 2 is the last; page 1,000,000 (the highest allowed) shows it."""
    last = list_patients(DR, today=TODAY, page_size=3, page=2)
    far = list_patients(DR, today=TODAY, page_size=3, page=1_000_000)
    assert (far.number, far.pages, far.showing()) == (2, 2, "Showing 4–4 of 4")
    assert [p.mrn for p in far] == [p.mrn for p in last]
    assert list_patients(DR, today=TODAY, page_size=500, page=2).number == 1


def test_a_search_counts_its_matches_only_so_far_past_the_page(clinic, monkeypatch):
    """Counting every match of a common name grew with the clinic: a search counts to ``COUNTED_PAST`` rows past the
    page (2 here, 3 rows a page), says "more than", offers one page more, and counts further as the pages go on;
    the list without a search still says its exact size."""
    from tracker import paging

    monkeypatch.setattr(paging, "COUNTED_PAST", 2)
    for n in range(12):
        seed(clinic, f"P{n:02d}", f"Patient {n:02d}", sessions=[date(2025, 1, 10)],
             visits=[(date(2025, 1, 5), {"vertex": 150})])
    seen = []
    for number in (1, 3, 4):
        page = list_patients(DR, query="patient", today=TODAY, page_size=3, page=number)
        seen.append((page.showing(), page.pages, page.more, [p.mrn for p in page]))
    assert seen == [("Showing 1–3 of more than 5", 3, True, ["P00", "P01", "P02"]),
                    ("Showing 7–9 of more than 11", 5, True, ["P06", "P07", "P08"]),
                    ("Showing 10–12 of 12", 4, False, ["P09", "P10", "P11"])]
    far = list_patients(DR, query="patient", today=TODAY, page_size=3, page=50)
    assert (far.number, far.showing(), far.more) == (4, "Showing 10–12 of 12", False)
    everyone = list_patients(DR, today=TODAY, page_size=3)
    assert (everyone.showing(), everyone.pages, everyone.more) == ("Showing 1–3 of 12", 4, False)


def test_a_rare_word_is_looked_up_in_the_trigram_index_kept_with_the_outlook(clinic):
    """A search for one patient's MRN read every name of the clinic: the trigram index (migration 0010) names the
    patients holding the word. SQLite: the FTS5 index, kept by triggers as the outlook's rows are written, renamed and
    removed, names the few patients and the list reads only them; a common word or one of two letters reads the names.
    PostgreSQL: the GIN trigram indexes exist (on a clinic this small its planner reads the names anyway; the bench's
    one-MRN search shows it using them at 50,000)."""
    from sqlalchemy import text

    from tracker.database import reading
    from tracker.records.name_index import few_named
    from tracker.records.patient_corrections import update_patient

    for n in range(8):
        seed(clinic, f"RX-{n:03d}", f"Quinn Ortega {n}", sessions=[date(2025, 1, 10)],
             visits=[(date(2025, 1, 5), {"vertex": 150})])
    assert [p.mrn for p in list_patients(DR, query="x-005", today=TODAY)] == ["RX-005"]
    assert [p.mrn for p in list_patients(DR, query="ortega x-00", today=TODAY)] == [f"RX-{n:03d}" for n in range(8)]
    # Found by review: words the index cannot look up are left to the search's own test, never to "none".
    assert list_patients(DR, query="o\u0301r", today=TODAY).total == 8  # "ór" typed decomposed folds to "or"
    assert list_patients(DR, query="qu x-005", today=TODAY).total == 1  # a word of two letters beside a long one
    assert list_patients(DR, query="ab\x00c", today=TODAY).total == 0  # a NUL (PostgreSQL refused it) separates words
    with reading(clinic) as session:
        if session.get_bind().dialect.name == "sqlite":
            ids = few_named(session, "x-005", 100)
            assert ids is not None and len(ids) == 1
            assert few_named(session, "ortega", 5) is None  # more than asked for: the names are read
            assert few_named(session, "rx", 100) is None  # two letters: no trigram
        else:
            names = set(session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'patient_outlook' "
                                             "AND schemaname = current_schema()")))
            assert {"ix_patient_outlook_name_trigrams", "ix_patient_outlook_mrn_trigrams"} <= names
    with transaction(clinic) as session:
        version = session.scalar(select(models.Patient.version).where(models.Patient.mrn == "RX-005"))
    update_patient(DR, "RX-005", {"full_name": "Quinn Zubiri 5"}, "name misspelt", version, url=clinic)
    assert [p.mrn for p in list_patients(DR, query="zubiri", today=TODAY)] == ["RX-005"]
    assert list_patients(DR, query="ortega 5", today=TODAY).total == 0
    with transaction(clinic) as session:  # removed: no outlook, so the index no longer names it
        session.scalar(select(models.Patient).where(models.Patient.mrn == "RX-005")).deleted_at = date(2025, 5, 1)
    assert list_patients(DR, query="zubiri", today=TODAY).total == 0
