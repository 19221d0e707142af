"""The patient outlook (tracker.progress.outlook) against the milestone engine: for every patient of the demo clinic,
on every day its spans change and on days in between, the table says what the engine says; every kind of write
keeps it so in the same transaction; and the whole-clinic lists read from it equal the lists computed by the engine.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from db import models
from tests import forked_python
from tests.conftest import ROOT
from tracker.access.actors import Actor
from tracker.course.vocabulary import DEFAULT_HORIZON_DAYS, PatientFilter
from tracker.database import reading, transaction
from tracker.operations.demo import load_demo
from tracker.progress import outlook, outlook_tally
from tracker.progress import schedule as schedule_module
from tracker.records import patient_list

CLINICIAN = Actor(username="dr.lee", role="clinician")
ADMIN = Actor(username="admin", role="admin")
TODAY = date(2026, 11, 30)


def differences(url: str, days_after: range = range(0, 800, 9)) -> list[str]:
    """Each (patient, day) where the stored span disagrees with the engine, for days from the patient's latest record
    (or today, when a record is dated later): every span's first and last day, and every ninth day for two years."""
    found: list[str] = []
    with reading(url) as session:
        connection = session.connection()
        ids = list(session.scalars(select(models.Patient.id).where(models.Patient.deleted_at.is_(None))))
        records = outlook.load_records(session, ids)
        spans: dict[int, list[tuple[date, date, outlook.Facts]]] = {}
        for row in connection.execute(select(outlook.SPAN).order_by(outlook.SPAN.c.valid_from)):
            spans.setdefault(row.patient_id, []).append((row.valid_from, row.valid_until, outlook.span_facts(row)))
        stored_ids = set(connection.execute(select(outlook.OUTLOOK.c.patient_id)).scalars())
        found += [f"tally: {line}" for line in outlook_tally.differences(session)]  # kept with the spans
    if stored_ids != set(ids):
        found.append(f"outlook rows for {sorted(stored_ids ^ set(ids))} do not match the live patients")
    for pid in ids:
        held = spans.get(pid, [])
        if not held:
            found.append(f"patient {pid}: no span")
            continue
        start = min(records[pid].latest_record, date.today())
        if held[0][0] != start or held[-1][1] != outlook.FOREVER:
            found.append(f"patient {pid}: spans cover {held[0][0]}..{held[-1][1]}, not {start}..forever")
        for (_a, until, _f), (after, _b, _g) in zip(held, held[1:], strict=False):
            if until != after:
                found.append(f"patient {pid}: a gap or overlap at {until}/{after}")
        days = {start + timedelta(days=n) for n in days_after} | {d for a, b, _f in held
                                                                 for d in (a, b - timedelta(days=1))}
        for day in sorted(d for d in days if start <= d < outlook.FOREVER):
            stored = next(f for a, b, f in held if a <= day < b)
            if stored != records[pid].on(day):
                found.append(f"patient {pid} on {day}: stored {stored} != engine {records[pid].on(day)}")
                break
    return found


@pytest.fixture
def demo(clinic):
    load_demo(clinic, today=TODAY, with_photos=False)
    return clinic


def test_every_demo_patient_s_outlook_is_the_engine_s_on_every_day(demo):
    with transaction(demo) as session:
        patients = len(list(session.scalars(select(models.Patient.id))))
        spans = len(list(session.scalars(select(models.OutlookSpan.id))))
    assert patients >= 20 and spans > patients  # the demo's courses change over time: several spans each
    assert differences(demo) == []


def test_rebuild_of_everyone_writes_the_same_rows(demo):
    def stored() -> list[tuple]:
        with reading(demo) as session:
            return sorted(tuple(row)[1:] for row in session.execute(select(outlook.SPAN)))

    before = stored()
    assert outlook.rebuild(demo, everyone=True) > 0
    assert stored() == before


@pytest.mark.parametrize("kind", [None, *patient_list.FILTERS])
@pytest.mark.parametrize("day", [TODAY, TODAY + timedelta(days=45), TODAY + timedelta(days=200)])
def test_the_patient_list_from_the_outlook_is_the_engine_s(demo, kind, day):
    """Page by page (7 rows a page, so that paging and order are both compared)."""
    with reading(demo) as session:
        assert outlook.covered(session.connection(), day)
        for number in (1, 2, 3):
            from_spans = patient_list._from_spans(session, "", kind, day, number, 7)
            from_engine = patient_list._from_engine(session, "", kind, day, number, 7)
            assert from_spans[:2] == from_engine[:2]


@pytest.mark.parametrize("shown", [None, PatientFilter.OVERDUE, PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON,
                                   PatientFilter.UPCOMING])
@pytest.mark.parametrize("day", [TODAY, TODAY + timedelta(days=45), TODAY + timedelta(days=200)])
@pytest.mark.parametrize("horizon", [DEFAULT_HORIZON_DAYS, 30])  # totals from the tally, and counted
def test_the_schedule_from_the_outlook_is_the_engine_s(demo, shown, day, horizon):
    """Page by page (the later ones read from the end of their index)."""
    with reading(demo) as session:
        for number in (1, 2, 3):
            pages = (number, number, number)
            from_spans = schedule_module._from_spans(session, day, horizon, shown, pages, 4)
            from_engine = schedule_module._from_engine(session, day, horizon, shown, pages, 4)
            assert from_spans == from_engine


def test_every_list_s_tally_is_its_count_over_the_spans(demo, monkeypatch):
    """On every tenth day for two years, each list's total from the tally equals the count over the spans (the
    lists' own queries, the tally switched off): the patient list unfiltered and per filter, and each section of the
    schedule at the tallied look-ahead."""
    def totals(day: date) -> list[int]:
        with reading(demo) as session:
            found = [patient_list._from_spans(session, "", kind, day, 1, 1)[1]
                     for kind in (None, *patient_list.FILTERS)]
            for shown in (None, PatientFilter.OVERDUE, PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON,
                          PatientFilter.UPCOMING):
                sections, _ids = schedule_module._from_spans(session, day, DEFAULT_HORIZON_DAYS, shown,
                                                             (1, 1, 1), 1)
                found += [section.total for section in sections]
        return found

    days = [TODAY + timedelta(days=n) for n in range(0, 730, 10)]
    kept = [totals(day) for day in days]
    monkeypatch.setattr(outlook_tally, "counts", lambda *_args, **_kw: None)
    counted = [totals(day) for day in days]
    assert kept == counted
    assert sum(map(sum, kept)) > 1000  # the lists are not empty on these days


def test_a_day_before_a_patient_s_latest_record_is_answered_by_the_engine(demo):
    earlier = TODAY - timedelta(days=200)
    with reading(demo) as session:
        assert not outlook.covered(session.connection(), earlier)
    listed = patient_list.list_patients(CLINICIAN, today=earlier, url=demo, page_size=500)
    with reading(demo) as session:
        engine_rows, total, _ids, _more = patient_list._from_engine(session, "", None, earlier, 1, 500)
    assert listed.rows == tuple(engine_rows) and listed.total == total


def test_a_record_dated_after_today_is_covered_from_today(demo):
    """A visit and a session dated ahead (a visit booked in advance, a clinic whose day starts before the server's):
    the spans start today and change again on each of those days, so the lists still read the table, and say what
    the engine says on every day (not only that patient's: the others would otherwise be listed by the engine too)."""
    today = date.today()
    with transaction(demo) as session:
        pid = session.scalars(select(models.Patient.id).order_by(models.Patient.id)).first()
        session.add(models.TreatmentSession(patient_id=pid, date=today + timedelta(days=20), treatment="prp"))
        visit = models.Visit(patient_id=pid, date=today + timedelta(days=40))
        session.add(visit)
        session.flush()
        session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=150.0))
    with reading(demo) as session:
        assert outlook.covered(session.connection(), today)
        starts = sorted(session.scalars(select(outlook.SPAN.c.valid_from).where(outlook.SPAN.c.patient_id == pid)))
    assert starts[0] == today and today + timedelta(days=20) in starts and today + timedelta(days=40) in starts
    assert differences(demo, range(0, 120, 3)) == []
    with reading(demo) as session:
        for day in (today, today + timedelta(days=25), today + timedelta(days=45)):
            assert (patient_list._from_spans(session, "", None, day, 1, 500)[:2]
                    == patient_list._from_engine(session, "", None, day, 1, 500)[:2])


def test_check_puts_back_a_patient_without_an_outlook_and_counts_the_lists_again(demo):
    """A write that bypassed the refresh, and a tally that drifted: the lists no longer look for either on every click
    (counting the patients grew with the clinic). ``check``, through the command line, puts the patient back on the
    lists (every command's start does), counts the tally again, and says so."""
    with transaction(demo) as session:
        pid = session.scalars(select(models.Patient.id).order_by(models.Patient.id)).first()
        session.execute(outlook.SPAN.delete().where(outlook.SPAN.c.patient_id == pid))
        session.execute(outlook.OUTLOOK.delete().where(outlook.OUTLOOK.c.patient_id == pid))
        mrn = session.scalar(select(models.Patient.mrn).where(models.Patient.id == pid))
        live = session.scalar(select(func.count()).select_from(models.Patient).where(
            models.Patient.deleted_at.is_(None)))
        tally = models.OutlookTally.__table__
        session.execute(tally.update().where(tally.c.list_name == outlook_tally.PATIENTS).values(
            change=tally.c.change + 5))
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:  # the search's index loses a patient (a write that bypassed its triggers)
            other = session.execute(select(outlook.OUTLOOK).where(outlook.OUTLOOK.c.patient_id != pid)).first()
            session.execute(text("INSERT INTO patient_search(patient_search, rowid, name_key, mrn) "
                                 "VALUES ('delete', :id, :name, :mrn)"),
                            {"id": other.patient_id, "name": other.name_key, "mrn": other.mrn})
    shown = patient_list.list_patients(CLINICIAN, today=TODAY, url=demo, page_size=500)
    assert mrn not in {p.mrn for p in shown}
    done = forked_python.run(["-m", "tracker", "check"], cwd=ROOT, env={**os.environ}, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("Whole-clinic lists:")]
    assert "counted again" in line and "nothing was lost" in line
    assert ("index of names and MRNs differed" in line) == sqlite
    shown = patient_list.list_patients(CLINICIAN, today=TODAY, url=demo, page_size=500)
    assert mrn in {p.mrn for p in shown} and shown.total == len(shown) == live
    with reading(demo) as session:
        assert outlook_tally.differences(session) == []


def test_every_kind_of_write_keeps_the_outlook_the_engine_s(demo):
    """Visit, session, corrections of each, removals, a patient's name and protocol, a protocol's windows: after each,
    in the same transaction, the table says what the engine says (and the list finds the new name)."""
    from tracker.records.history import soft_delete
    from tracker.records.patient_corrections import update_patient
    from tracker.records.protocol_admin import get_protocol, save_protocol
    from tracker.records.session_corrections import correct_session
    from tracker.records.treatment_sessions import SessionEntry, log_session
    from tracker.records.visit_corrections import correct_visit
    from tracker.records.visit_form import SiteEntry, VisitEntry
    from tracker.records.visits import log_visit

    with reading(demo) as session:
        mrn, pid, version = session.execute(select(models.Patient.mrn, models.Patient.id, models.Patient.version)
                                            .order_by(models.Patient.id)).first()
    later = TODAY + timedelta(days=1)
    confirmed(log_visit, CLINICIAN, mrn, VisitEntry(date=later, sites=(SiteEntry("vertex", 170.0),)), url=demo,
              today=later)
    assert differences(demo) == []
    saved = confirmed(log_session, CLINICIAN, mrn,
                      SessionEntry(date=later, treatment="prp", product="Kit", lot_number="L-9"), url=demo, today=later)
    assert differences(demo) == []
    with reading(demo) as session:
        visit = session.execute(select(models.Visit.id, models.Visit.version).where(
            models.Visit.patient_id == pid, models.Visit.date == later)).one()
    confirmed(correct_visit, CLINICIAN, visit.id, {"date": TODAY}, "typed the wrong day", visit.version, today=later,
              url=demo)
    assert differences(demo) == []
    confirmed(correct_session, CLINICIAN, saved.session_id, {"date": TODAY}, "typed the wrong day", 1, today=later,
              url=demo)
    assert differences(demo) == []
    soft_delete(CLINICIAN, "visit", visit.id, "entered for the wrong patient", visit.version + 1, url=demo)
    assert differences(demo) == []
    update_patient(CLINICIAN, mrn, {"full_name": "Zoë Quintana-Outlook"}, "name misspelt", version, url=demo)
    found = patient_list.list_patients(CLINICIAN, "zoe quintana-outlook", today=later, url=demo)
    assert [p.mrn for p in found] == [mrn]
    with reading(demo) as session:
        name = session.scalar(select(models.Protocol.name).join(models.Patient, models.Patient.protocol_id
                                                                == models.Protocol.id).where(models.Patient.id == pid))
    detail = get_protocol(ADMIN, name, url=demo)
    windows = [{"name": w.name, "start_month": w.start_month, "end_month": w.end_month + 1,
                "target_month": w.target_month} for w in detail.windows]
    save_protocol(ADMIN, name, [{"month": p.month, "low": p.low, "high": p.high} for p in detail.band], windows,
                  detail.evidence_note, detail.version, url=demo)
    assert differences(demo) == []


def confirmed(write, *args, **kwargs):
    """``write`` with its plausibility warnings confirmed (the writes here are about the outlook, not the warnings)."""
    from tracker.errors import NeedsConfirmation

    try:
        return write(*args, **kwargs)
    except NeedsConfirmation as asked:
        return write(*args, **kwargs, acknowledged=asked.warnings)


def test_a_savepoint_rolled_back_forgets_no_patient_written_before_it(demo):
    """SQLAlchemy calls its rollback listeners for a savepoint too: the patients written before it are still
    refreshed when the transaction commits."""
    with transaction(demo) as session:
        visit = session.scalars(select(models.Visit).order_by(models.Visit.date.desc())).first()
        visit.date = visit.date - timedelta(days=20)
        session.flush()
        session.begin_nested().rollback()
    assert differences(demo) == []


def test_a_protocol_followed_by_more_than_a_transaction_s_share_is_recomputed_just_after(demo, monkeypatch):
    """Beyond ``IN_TRANSACTION`` patients the edit marks them stale (the lists ask the engine meanwhile) and they are
    recomputed in committed batches as soon as it has committed."""
    from tracker.records.protocol_admin import get_protocol, save_protocol

    monkeypatch.setattr(outlook, "IN_TRANSACTION", 1)
    with reading(demo) as session:
        name, followers = session.execute(
            select(models.Protocol.name, func.count(models.Patient.id))
            .join(models.Patient, models.Patient.protocol_id == models.Protocol.id)
            .group_by(models.Protocol.name).order_by(func.count(models.Patient.id).desc())).first()
    assert followers > 1
    detail = get_protocol(ADMIN, name, url=demo)
    windows = [{"name": w.name, "start_month": w.start_month, "end_month": w.end_month + 1,
                "target_month": w.target_month} for w in detail.windows]
    save_protocol(ADMIN, name, [{"month": p.month, "low": p.low, "high": p.high} for p in detail.band], windows,
                  detail.evidence_note, detail.version, url=demo)
    assert differences(demo) == []


def test_an_installation_without_the_tally_counts_it_at_start_up(demo):
    """An installation upgraded from before the tally (migration 0009 creates it empty), or restored from a backup
    made then: the lists count over the spans until the next start (``counts`` says None), which counts the tally
    from the spans before any change is added to it."""
    with transaction(demo) as session:
        session.execute(models.OutlookTally.__table__.delete())
        session.execute(models.MaintenanceState.__table__.delete().where(
            models.MaintenanceState.name == outlook_tally.STATE))
    with reading(demo) as session:
        assert outlook_tally.counts(session, [outlook_tally.PATIENTS], TODAY) is None
    listed = patient_list.list_patients(CLINICIAN, today=TODAY, url=demo, page_size=5)
    done = forked_python.run(["-m", "tracker", "init"], cwd=ROOT, env={**os.environ}, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    with reading(demo) as session:
        assert outlook_tally.differences(session) == []
        assert outlook_tally.counts(session, [outlook_tally.PATIENTS], TODAY) == {outlook_tally.PATIENTS: listed.total}


def test_a_follow_up_not_overdue_has_its_target_ahead_on_every_day_of_its_span(demo):
    """The schedule seeks past ended spans with it (``schedule._every_follow_up``): every span with a visit to book
    that is not overdue has urgency 1 and an urgency day (its target date) on or after the span's last day, so on any
    day it holds, the target is that day or later. Checked on every span of the demo clinic, after the spans of a
    day two years on (where more targets have passed) are computed too."""
    def broken() -> list[str]:
        with reading(demo) as session:
            return [f"patient {row.patient_id} {row.valid_from}..{row.valid_until}: urgency {row.urgency} "
                    f"{row.urgency_day}" for row in session.execute(select(outlook.SPAN))
                    if row.visit_status is not None and not row.on_overdue
                    and (row.urgency != 1 or row.urgency_day < row.valid_until - timedelta(days=1))]

    assert broken() == []
    with transaction(demo) as session:
        ids = list(session.scalars(select(models.Patient.id)))
        records = outlook.load_records(session, ids)
    later = TODAY + timedelta(days=730)
    for pid in ids:
        for start, until, held in outlook.spans(records[pid], later):
            if held.visit_status is not None and held.visit_status != "overdue":
                assert held.next_due is not None and held.next_due >= until - timedelta(days=1), (pid, start)
