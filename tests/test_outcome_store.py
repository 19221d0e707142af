"""The clinic outcomes store (``tracker.progress.outcome_store``): after edits, removals and new patients between two
calls, a click reads only what moved and its figures equal a fresh computation; a late-committed stamp is caught;
a large clinic's first click answers ``Preparing`` while the background fill runs. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from db import models
from tests.test_outcomes import DR, TODAY, _patient, _session, _visit, small_clinic  # noqa: F401 (a fixture)
from tracker.course.clinical import SALT_PROTOCOL_NAME
from tracker.database import transaction
from tracker.progress import outcome_start, outcome_store, outlook
from tracker.progress.outcome_store import Preparing
from tracker.progress.outcomes import ClinicOutcomes, clinic_outcomes

FILTERS: tuple[dict[str, Any], ...] = (
    {}, {"condition": "androgenetic_alopecia"}, {"start": date(2025, 1, 1), "end": date(2025, 1, 31)},
    {"protocol": SALT_PROTOCOL_NAME}, {"protocol": "PRP course"})


def _all(url: str) -> list[ClinicOutcomes]:
    found = [clinic_outcomes(DR, today=TODAY, url=url, **f) for f in FILTERS]  # type: ignore[arg-type]
    assert all(isinstance(one, ClinicOutcomes) for one in found)
    return found  # type: ignore[return-value]


def _fresh(url: str) -> list[ClinicOutcomes]:
    """The same calls in a process that kept nothing: every patient through the engine again, in the click."""
    outcome_store._STORES.clear()
    outcome_store.AT_ONCE = 1000  # the tests that lower it have monkeypatch put it back afterwards
    return _all(url)


@pytest.fixture
def counted(monkeypatch) -> dict[str, int]:
    """How many patients the engine ran for, and how many full stamp reads (``_resync``) there were."""
    seen = {"engine": 0, "resync": 0}
    computed, resync = outcome_store._computed, outcome_store._resync

    def counting_computed(connection, patient_ids, today):
        seen["engine"] += len(patient_ids)
        return computed(connection, patient_ids, today)

    def counting_resync(*args, **kwargs):
        seen["resync"] += 1
        return resync(*args, **kwargs)

    monkeypatch.setattr(outcome_store, "_computed", counting_computed)
    monkeypatch.setattr(outcome_store, "_resync", counting_resync)
    outcome_store._STORES.clear()
    return seen


def _id(session, mrn: str) -> int:
    return session.scalars(select(models.Patient.id).where(models.Patient.mrn == mrn)).one()


def test_edit_removal_and_new_patient_read_only_what_moved(small_clinic, counted):  # noqa: F811 (the fixture imported)
    _all(small_clinic)
    assert counted == {"engine": 8, "resync": 1}  # the first call fills: A1–A6, B1, S1 and nothing else
    again = _all(small_clinic)
    assert counted == {"engine": 8, "resync": 1}  # nothing changed: the fingerprint alone answers
    with transaction(small_clinic) as session:
        _visit(session, _id(session, "A4"), date(2026, 2, 28), {"vertex": 150})  # an edit: A4 measured at 6 months
        a1 = session.scalars(select(models.Patient).where(models.Patient.mrn == "A1")).one()
        a1.deleted_at, a1.deleted_by, a1.deleted_reason = TODAY, "test", "duplicate"  # a removal
        a7 = _patient(session, "A7")  # a new patient, treated on 2025-01-10 and measured at 3 months
        _session(session, a7, date(2025, 1, 10), "LOT-B")
        _visit(session, a7, date(2025, 1, 10), {"vertex": 100})
        _visit(session, a7, date(2025, 4, 10), {"vertex": 112})
    after = _all(small_clinic)
    # the engine ran for A4 and A7 only (A1's outlook row went with its removal), with no full stamp read
    assert counted == {"engine": 10, "resync": 1}
    assert after != again
    # A1 gone, A7 in: still 5 treated of the default protocol (A2–A5, A7); A4 judged at 6 months now
    assert (after[0].patients, after[0].untreated) == (5, 1)
    assert after == _fresh(small_clinic)


def test_a_stamp_committed_late_is_still_found(small_clinic, counted):  # noqa: F811 (the fixture imported)
    """A transaction that stamped long before it committed (older than the latest stamp held, less the slack):
    the incremental read misses it, the check against the fingerprint does not."""
    _all(small_clinic)
    with transaction(small_clinic) as session:
        a2 = _id(session, "A2")
        visit = session.scalars(select(models.Visit).where(models.Visit.patient_id == a2,
                                                           models.Visit.date == date(2026, 1, 10))).one()
        measured = session.scalars(select(models.DensityMeasurement)
                                   .where(models.DensityMeasurement.visit_id == visit.id)).one()
        measured.density_per_cm2 = 240  # 12 months +40: now a responder
    with transaction(small_clinic) as session:
        session.execute(update(outlook.OUTLOOK).where(outlook.OUTLOOK.c.patient_id == a2)
                        .values(refreshed_at=datetime(2024, 1, 1, 12, 0)))
    found = _all(small_clinic)
    assert counted["resync"] == 2  # the fingerprint's sum of stamps disagreed: every stamp read once
    assert found[0].responders[1].responders == 2  # A1 and now A2 at 12 months
    assert found == _fresh(small_clinic)


def test_a_large_clinic_is_prepared_in_the_background(small_clinic, counted, monkeypatch):  # noqa: F811 (the fixture imported)
    monkeypatch.setattr(outcome_store, "AT_ONCE", 3)  # 8 live patients: more than a click computes itself
    first = clinic_outcomes(DR, today=TODAY, url=small_clinic)
    assert isinstance(first, Preparing)
    deadline = time.monotonic() + 60
    while isinstance(found := clinic_outcomes(DR, today=TODAY, url=small_clinic), Preparing):
        assert found.done <= found.total
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert counted["engine"] == 8
    assert _all(small_clinic) == _fresh(small_clinic)
    with transaction(small_clinic) as session:
        entries = list(session.scalars(select(models.AuditEntry.detail).where(
            models.AuditEntry.detail.like("clinic outcomes: being prepared%"))))
    assert entries  # the refused-for-now click is audited too


def test_start_up_fills_only_in_a_server_thread(small_clinic, counted, monkeypatch):  # noqa: F811 (the fixture imported)
    monkeypatch.setattr(outcome_store, "AT_ONCE", 3)
    monkeypatch.setattr(outcome_start, "date", type("Fixed", (), {"today": staticmethod(lambda: TODAY)}))
    url = small_clinic
    outcome_start.fill_at_start_up(url)  # the main thread: a command or a test; nothing started
    assert counted["engine"] == 0 and not outcome_store._STORES
    server = threading.Thread(target=outcome_start.fill_at_start_up, args=(url,))
    server.start()
    server.join()
    deadline = time.monotonic() + 60
    while any(store.filling for store in outcome_store._STORES.values()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert counted["engine"] == 8
    found = clinic_outcomes(DR, today=TODAY, url=url)
    assert isinstance(found, ClinicOutcomes) and counted["engine"] == 8  # the click used the filled store
    assert [found] == _fresh(url)[:1]
