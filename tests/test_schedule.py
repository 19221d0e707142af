"""The schedule service against hand-made patients, with every date worked out by hand.

Today is 2025-06-15 throughout. Default windows in calendar months after day 0: early_response 2–3
(target 3), noticeable_growth 5–7 (target 6), continued_improvement 11–13 (target 12); the repeat-session
window is 3–6 months after the latest session.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, select

from db import models
from db.engine import engine_for
from tracker.access.actors import Actor
from tracker.course.milestones import DUE, UPCOMING
from tracker.course.vocabulary import PatientFilter
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.progress.schedule import OPEN, OPENS, OVERDUE, schedule

WINDOW_OPEN, TARGET_SOON = PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON
UPCOMING_LIST, OVERDUE_LIST = PatientFilter.UPCOMING, PatientFilter.OVERDUE

D = date.fromisoformat
TODAY = D("2025-06-15")
CLINICIAN = Actor(username="dr_a", role="clinician")
ADMIN = Actor(username="admin1", role="admin")


def add_patient(url, mrn, sessions=(), visits=(), protocol=None, deleted=False, deleted_sessions=(),
                deleted_visits=()):
    """A patient with sessions (dates) and visits ((date, density) on the vertex); returns its id."""
    stamp = datetime(2025, 6, 1, tzinfo=UTC)
    with transaction(url) as session:
        protocol_id = None
        if protocol is not None:
            protocol_id = session.scalar(select(models.Protocol.id).where(models.Protocol.name == protocol))
        patient = models.Patient(
            mrn=mrn, full_name=f"Patient {mrn}", sex="female", birth_date=D("1980-01-01"),
            condition="androgenetic_alopecia", protocol_id=protocol_id, created_by="test",
            deleted_at=stamp if deleted else None,
        )
        session.add(patient)
        session.flush()
        for day in sessions:
            session.add(models.TreatmentSession(patient_id=patient.id, date=D(day), treatment="exosome",
                                                product="ExoGen", lot_number="L1", created_by="test"))
        for day in deleted_sessions:
            session.add(models.TreatmentSession(patient_id=patient.id, date=D(day), treatment="exosome",
                                                product="ExoGen", lot_number="L1", created_by="test",
                                                deleted_at=stamp))
        for day, density in visits:
            visit = models.Visit(patient_id=patient.id, date=D(day), created_by="test")
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density,
                                                  created_by="test"))
        for day, density in deleted_visits:
            visit = models.Visit(patient_id=patient.id, date=D(day), created_by="test", deleted_at=stamp)
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density,
                                                  created_by="test"))
        return patient.id


def add_protocol(url, name, windows):
    with transaction(url) as session:
        session.add(models.Protocol(name=name, band=[{"month": 0, "low": -5, "high": 5}], windows=windows,
                                    evidence_note="test", created_by="test"))


@pytest.fixture
def clinic_patients(clinic):
    # Early window 2025-06-01..07-01 (target 07-01): open today, target not passed → due, 16 days.
    # Repeat window 2025-07-01..10-01 opens in 16 days.
    add_patient(clinic, "P-DUE", ["2025-04-01"], [("2025-04-01", 150)])
    # Early visited on 03-01; noticeable window 2025-05-01..07-01, target 06-01 passed → overdue, −14 days.
    # Repeat window 2025-03-01..06-01 has closed.
    add_patient(clinic, "P-LATE", ["2024-12-01"], [("2024-12-01", 150), ("2025-03-01", 160)])
    # Early window 2025-03-20..04-20 closed with no visit → overdue on it (−56 days); noticeable opens
    # 2025-06-20. Repeat window 2025-04-20..07-20 open, closes in 35 days.
    add_patient(clinic, "P-MISSED", ["2025-01-20"], [("2025-01-20", 150)])
    # Early window 2025-06-25..07-25 opens in 10 days → upcoming (target 07-25, 40 days).
    add_patient(clinic, "P-SOON", ["2025-04-25"], [("2025-04-25", 150)])
    # Early visited 04-25; noticeable window 2025-07-01.. opens in 16 days → no follow-up with 14 days ahead.
    # Repeat window 2025-05-01..08-01 open, closes in 47 days.
    add_patient(clinic, "P-FINE", ["2025-02-01"], [("2025-02-01", 150), ("2025-04-25", 165)])
    # Treated, never measured → listed as unmeasured (first session 2025-05-01).
    add_patient(clinic, "P-NOVISIT", ["2025-05-01"])
    # Its only measurement is in a deleted visit → also unmeasured.
    add_patient(clinic, "P-DELVISIT", ["2025-04-01"], deleted_visits=[("2025-04-01", 150)])
    # Never treated (its only session is deleted) → nowhere.
    add_patient(clinic, "P-DELSESS", deleted_sessions=["2025-04-01"], visits=[("2025-04-01", 150)])
    # Deleted patient who would be due → nowhere.
    add_patient(clinic, "P-GONE", ["2025-04-01"], [("2025-04-01", 150)], deleted=True)
    # A session booked after today is ignored: this patient is due exactly like P-DUE.
    add_patient(clinic, "P-BOOKED", ["2025-04-01", "2025-07-01"], [("2025-04-01", 150)])
    return clinic


def test_follow_ups_by_status_with_dates_from_the_engine(clinic_patients):
    plan = schedule(CLINICIAN, today=TODAY, horizon_days=14, url=clinic_patients)
    rows = {f.mrn: f for f in plan.follow_ups}
    assert set(rows) == {"P-DUE", "P-LATE", "P-MISSED", "P-SOON", "P-BOOKED"}

    due = rows["P-DUE"]
    assert (due.status, due.milestone) == (DUE, "early_response")
    assert (due.window_start, due.window_end, due.target) == (D("2025-06-01"), D("2025-07-01"), D("2025-07-01"))
    assert due.days_to_target == 16
    assert due.milestone_label == "Early response (2–3 months)"
    assert rows["P-BOOKED"].target == due.target

    late = rows["P-LATE"]
    assert (late.status, late.milestone, late.target, late.days_to_target) == (
        OVERDUE, "noticeable_growth", D("2025-06-01"), -14)
    assert late.note == "Target date passed with no visit."

    missed = rows["P-MISSED"]
    assert (missed.status, missed.milestone, missed.window_end, missed.days_to_target) == (
        OVERDUE, "early_response", D("2025-04-20"), -56)
    assert "2025-04-20" in missed.note and "2025-06-20" in missed.note

    soon = rows["P-SOON"]
    assert (soon.status, soon.window_start, soon.target, soon.days_to_target) == (
        UPCOMING, D("2025-06-25"), D("2025-07-25"), 40)

    # Overdue first, longest first (P-MISSED since 04-20, P-LATE since 06-01); then by target date
    # (07-01, 07-01 by MRN, then 07-25).
    assert [f.mrn for f in plan.follow_ups] == ["P-MISSED", "P-LATE", "P-BOOKED", "P-DUE", "P-SOON"]
    assert [(f.overdue_since, f.days_overdue) for f in plan.follow_ups] == [
        (D("2025-04-20"), 56), (D("2025-06-01"), 14), (None, None), (None, None), (None, None)]


def test_each_list_tests_the_dates_it_names(clinic_patients):
    plan = schedule(CLINICIAN, today=TODAY, horizon_days=14, url=clinic_patients)
    assert {f.mrn: f.lists for f in plan.follow_ups} == {
        # Window 06-01..07-01 open; target 07-01 is 16 days away: not within 7.
        "P-DUE": {WINDOW_OPEN}, "P-BOOKED": {WINDOW_OPEN},
        # Target 06-01 passed, window 05-01..07-01 still open: overdue and open.
        "P-LATE": {OVERDUE_LIST, WINDOW_OPEN},
        # The missed window closed on 04-20: overdue only.
        "P-MISSED": {OVERDUE_LIST},
        # Window opens 06-25, 10 days ahead.
        "P-SOON": {UPCOMING_LIST},
    }
    assert [f.mrn for f in plan.listed(OVERDUE_LIST)] == ["P-MISSED", "P-LATE"]
    assert [f.mrn for f in plan.listed(WINDOW_OPEN)] == ["P-LATE", "P-BOOKED", "P-DUE"]
    assert plan.listed(TARGET_SOON) == ()
    assert [(f.mrn, f.days_until_open) for f in plan.listed(UPCOMING_LIST)] == [("P-SOON", 10)]
    assert plan.listed() == plan.follow_ups.rows


@pytest.mark.parametrize("horizon, listed", [(10, True), (9, False)])
def test_upcoming_includes_a_window_opening_on_the_last_day_ahead(clinic_patients, horizon, listed):
    """P-SOON's window opens 2025-06-25, exactly 10 days after TODAY."""
    plan = schedule(CLINICIAN, today=TODAY, horizon_days=horizon, url=clinic_patients)
    assert ("P-SOON" in {f.mrn for f in plan.listed(UPCOMING_LIST)}) is listed


def test_rows_say_the_last_visit_and_the_latest_judged_change(clinic_patients):
    rows = {f.mrn: f for f in schedule(CLINICIAN, today=TODAY, url=clinic_patients).follow_ups}
    assert {mrn: f.last_visit for mrn, f in rows.items()} == {
        "P-DUE": D("2025-04-01"), "P-BOOKED": D("2025-04-01"), "P-LATE": D("2025-03-01"),
        "P-MISSED": D("2025-01-20"), "P-SOON": D("2025-04-25")}
    # P-LATE: day 0 2024-12-01, visit 2025-03-01 = 90 days = 2.9569 months, band +4.35..+19.35; 150 → 160 is
    # +10 (+6.7 %), inside the band: on track.
    assert rows["P-LATE"].latest_change == "+10 hairs/cm² (+7%) at Vertex, 3 months: on track"
    assert rows["P-DUE"].latest_change == "Not judged yet: no milestone visit"


@pytest.mark.parametrize("later, words", [
    # Day 0 2025-01-20, visit 2025-04-20 = 90 days: band low −10 + (90 / 30.4375 − 2) × 15 = +4.353, noise
    # 15 (10 % of 150): behind only below −10.65, compared at 0.01 (DESIGN.md §2).
    (140, "−10 hairs/cm² (−7%) at Vertex, 3 months: on track"),
    (139.35, "−11 hairs/cm² (−7%) at Vertex, 3 months: on track"),  # −10.65: on the edge, on track
    (139.34, "−11 hairs/cm² (−7%) at Vertex, 3 months: behind expected"),  # −10.66
])
def test_the_schedule_reads_the_engines_status_with_the_noise(clinic, later, words):
    add_patient(clinic, "P-EDGE", ["2025-01-20"], [("2025-01-15", 150), ("2025-04-20", later)])
    (row,) = schedule(CLINICIAN, today=TODAY, horizon_days=30, url=clinic).follow_ups
    assert row.latest_change == words


def test_horizon_decides_what_counts_as_upcoming(clinic_patients):
    week = {f.mrn for f in schedule(CLINICIAN, today=TODAY, horizon_days=7, url=clinic_patients).follow_ups}
    assert "P-SOON" not in week and {"P-DUE", "P-LATE", "P-MISSED"} <= week
    month = schedule(CLINICIAN, today=TODAY, horizon_days=30, url=clinic_patients)
    fine = [f for f in month.follow_ups if f.mrn == "P-FINE"]
    assert [(f.status, f.milestone, f.window_start) for f in fine] == [(UPCOMING, "noticeable_growth", D("2025-07-01"))]


def test_repeat_session_windows_open_or_opening(clinic_patients):
    plan = schedule(CLINICIAN, today=TODAY, horizon_days=14, url=clinic_patients)
    assert [(r.mrn, r.state, r.window_start, r.window_end, r.days_until_close) for r in plan.repeat_sessions] == [
        ("P-MISSED", OPEN, D("2025-04-20"), D("2025-07-20"), 35),
        ("P-FINE", OPEN, D("2025-05-01"), D("2025-08-01"), 47),
    ]
    wider = schedule(CLINICIAN, today=TODAY, horizon_days=30, url=clinic_patients)
    opening = {r.mrn: r for r in wider.repeat_sessions if r.state == OPENS}
    # P-DUE, P-BOOKED, P-DELVISIT: latest past session 2025-04-01 → window from 2025-07-01, 16 days away.
    assert set(opening) == {"P-DUE", "P-BOOKED", "P-DELVISIT"}
    assert (opening["P-DUE"].days_until_open, opening["P-DUE"].latest_session) == (16, D("2025-04-01"))
    # P-NOVISIT: latest session 2025-05-01 → opens 2025-08-01, 47 days away: beyond 30.
    assert "P-NOVISIT" not in {r.mrn for r in wider.repeat_sessions}


def test_treated_patients_without_measurements_are_listed_not_dropped(clinic_patients):
    plan = schedule(CLINICIAN, today=TODAY, url=clinic_patients)
    assert [(u.mrn, u.first_session) for u in plan.unmeasured] == [
        ("P-DELVISIT", D("2025-04-01")), ("P-NOVISIT", D("2025-05-01"))]
    everywhere = ({f.mrn for f in plan.follow_ups} | {r.mrn for r in plan.repeat_sessions}
                  | {u.mrn for u in plan.unmeasured})
    assert not everywhere & {"P-DELSESS", "P-GONE"}


def test_a_patient_follows_their_own_protocol(clinic):
    add_protocol(clinic, "Monthly PRP", [{"name": "first_check", "start_month": 1, "end_month": 2, "target_month": 1}])
    # Window 2025-06-01..07-01, target 06-01 passed with no visit → overdue.
    add_patient(clinic, "P-PRP", ["2025-05-01"], [("2025-05-01", 150)], protocol="Monthly PRP")
    (row,) = schedule(ADMIN, today=TODAY, url=clinic).follow_ups
    assert (row.mrn, row.milestone, row.milestone_label, row.status, row.days_to_target) == (
        "P-PRP", "first_check", "First check", OVERDUE, -14)


def test_schedule_is_audited_once_with_the_patients_listed(clinic_patients):
    """One entry with the count and a digest (not every MRN: 185 KB at 50,000 patients), the patients shown in
    audit_patient rows."""
    plan = schedule(CLINICIAN, today=TODAY, url=clinic_patients)
    with transaction(clinic_patients) as session:
        entries = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "view")).all()
        (entry,) = entries
        named = set(session.scalars(
            select(models.Patient.mrn).join(models.AuditPatient, models.AuditPatient.patient_id == models.Patient.id)
            .where(models.AuditPatient.entry_id == entry.id)))
    shown = {row.mrn for part in (plan.follow_ups, plan.repeat_sessions, plan.unmeasured) for row in part}
    assert entry.username == "dr_a" and entry.patient_id is None
    assert named == shown and "P-DUE" in named and "P-GONE" not in named
    assert f"{len(shown)} patients (sha256 of their sorted ids: " in entry.detail and "P-DUE" not in entry.detail


def test_a_handful_of_queries_whatever_the_number_of_patients(clinic):
    def statements() -> int:
        count = 0

        def on_execute(*_args):
            nonlocal count
            count += 1

        engine = engine_for(clinic)
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            schedule(CLINICIAN, today=TODAY, url=clinic)
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return count

    for n in range(3):
        add_patient(clinic, f"A-{n}", ["2025-04-01"], [("2025-04-01", 150)])
    few = statements()
    for n in range(30):
        add_patient(clinic, f"B-{n}", ["2025-01-20"], [("2025-01-20", 150), ("2025-03-25", 160)])
    # Three probes of the outlook (tracker.progress.outlook.covered), a count and a page for each part of each
    # section (a part the page does not reach is counted, not read), the audit entry: a handful whatever the size.
    assert few <= 20 and statements() <= 20


@pytest.mark.parametrize("actor", [Actor(username="pat", role="patient", patient_id=1), None])
def test_refused_for_patients_and_anonymous(clinic, actor):
    with pytest.raises(PermissionDenied):
        schedule(actor, today=TODAY, url=clinic)


@pytest.mark.parametrize("days", [-1, 367])
def test_horizon_out_of_range_is_refused(clinic, days):
    with pytest.raises(ValidationError):
        schedule(CLINICIAN, today=TODAY, horizon_days=days, url=clinic)


def test_latest_change_keeps_a_typed_sites_hyphen_and_gives_figures_true_minus_signs():
    """Only the figures take a true minus sign; a site typed as "left-temple" is shown with its hyphen."""
    from datetime import date

    from tracker.course.change_words import latest_change_words
    from tracker.course.milestones import DensityRecord, SessionRecord, assess

    # Baseline 150 at day 0 (2025-01-15), 130 at 3 months: −20 hairs/cm² (−13%), against +4…+19 minus noise 15:
    # −20 < 4.x − 15, so behind.
    progress = assess([SessionRecord(date(2025, 1, 15))],
                      [DensityRecord(date(2025, 1, 15), "left-temple", 150.0),
                       DensityRecord(date(2025, 4, 14), "left-temple", 130.0)], as_of=date(2025, 5, 1))
    assert latest_change_words(progress) == "−20 hairs/cm² (−13%) at Left-temple, 3 months: behind expected"


def test_pages_past_the_last_are_each_lists_last_and_out_of_range_ones_refused(clinic_patients):
    first = schedule(CLINICIAN, today=TODAY, page_size=1, url=clinic_patients)
    far = schedule(CLINICIAN, today=TODAY, page=1_000_000, repeat_page=1_000_000, unmeasured_page=1_000_000,
                   page_size=1, url=clinic_patients)
    for asked, got in ((first.follow_ups, far.follow_ups), (first.repeat_sessions, far.repeat_sessions),
                       (first.unmeasured, far.unmeasured)):
        assert (got.number, got.total) == (asked.pages, asked.total)
    with pytest.raises(ValidationError):
        schedule(CLINICIAN, today=TODAY, page=1_000_001, url=clinic_patients)
    with pytest.raises(ValidationError):
        schedule(CLINICIAN, today=TODAY, page_size=501, url=clinic_patients)
