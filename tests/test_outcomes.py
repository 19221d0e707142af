"""Clinic outcomes (issue #15): every figure of a small clinic worked out by hand, on SQLite and PostgreSQL.

The clinic, on TODAY = 2026-03-01. Default protocol "Exosome (default)": band (month: low..high) 0: −10..5,
2: −10..5, 3: 5..20, 6: 10..35, 12: 15..35; windows early_response 2–3 months (target 3), noticeable_growth 5–7
(target 6), continued_improvement 11–13 (target 12); noise 10% of baseline. Visits at day 0 + 90 days (2.957
months: band 4.35..19.35), + 181 days (5.947 months: band 9.91..34.73) and + 365 days (11.992 months: band
14.99..35.00); months round to 3, 6 and 12.

- A1 (AGA), day 0 2025-01-10, vertex 100: 110 (+10 on track), 160 (+60 > 34.73 + 10: ahead), 170 (+70 > 45: ahead).
  Sessions 2025-01-10 "LOT-A" and 2025-06-10 "LOT-A" with an adverse event.
- A2 (AGA), day 0 2025-01-10, vertex 200 (noise 20): 190 (−10 ≥ 4.35 − 20: on track), 180 (−20 < 9.91 − 20:
  behind), 200 (0 ≥ 14.99 − 20: on track). Session "lot-a " (the same lot, as the lot lookup matches it).
- A3 (AGA), day 0 2025-01-10, vertex 100 and frontal 150: 3 months 115 (+15) and 150 (0 ≥ 4.35 − 15), both on
  track; 6 months 130 (+30) and 170 (+20), both in the band: on track; no 12-month visit: its window 2025-12-10 ..
  2026-02-10 closed: missed. Session "LOT-B".
- A4 (telogen effluvium), day 0 2025-09-01, vertex 120: 2025-12-01 (91 days, 2.99 months: band 4.85..19.85) 126
  (+6, on track); noticeable growth window 2026-02-01 .. 2026-04-01 open: due; continued improvement: upcoming.
  Session "LOT-B".
- A5 (AGA), day 0 2025-02-01, never measured: early missed, noticeable missed, continued improvement window
  2026-01-01 .. 2026-03-01 still open on TODAY: due. Session "LOT-B".
- A6 (AGA), no session: untreated, in no cohort.
- B1 (AGA) on the second protocol "PRP course" (the default's band and windows), day 0 2025-01-10, vertex 100:
  only a 6-month visit, 125 (+25, on track, a responder).
- S1 (alopecia areata) on "Alopecia areata (SALT)": band 0: −20..10, 3: 0..30, 6: 20..50, 12: 30..75, noise 10
  points. SALT 40 at day 0 2025-01-10; 30 at 3 months (25% improvement, band −0.29..29.57: on track); 18 at 6
  months (55%, band 19.65..49.65, 55 ≤ 59.65: on track; response SALT ≤ 20 and SALT50); 4 at 12 months (90%,
  band 29.99..74.96, 90 > 84.96: ahead; response and SALT50). Sessions "LOT-C" on 2025-01-10 and 2025-07-10.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from db import models
from tracker.access.actors import Actor
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME, SALT_PROTOCOL_NAME
from tracker.course.milestones import DEFAULT_PROTOCOL
from tracker.database import stored_protocol, transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.progress.outcome_figures import Attainment, ChangePoint, Responders
from tracker.progress.outcome_tables import outcome_tables, outcomes_xlsx
from tracker.progress.outcomes import clinic_outcomes
from tracker.safe_csv import spreadsheet_safe

TODAY = date(2026, 3, 1)
DR = Actor("dr.lee", "clinician")
D0 = date(2025, 1, 10)
M3, M6, M12 = date(2025, 4, 10), date(2025, 7, 10), date(2026, 1, 10)
PRP = "PRP course"


def _patient(session, mrn: str, condition: str = "androgenetic_alopecia", protocol: str | None = None) -> int:
    protocol_id = None
    if protocol is not None:
        protocol_id = session.scalars(select(models.Protocol.id).where(models.Protocol.name == protocol)).one()
    patient = models.Patient(mrn=mrn, full_name=f"Patient {mrn}", sex="female", birth_date=date(1980, 1, 1),
                             condition=condition, protocol_id=protocol_id, created_by="test")
    session.add(patient)
    session.flush()
    return patient.id


def _session(session, pid: int, day: date, lot: str, adverse: str | None = None) -> None:
    session.add(models.TreatmentSession(patient_id=pid, date=day, treatment="exosome", product="ExoHair",
                                        lot_number=lot, adverse_events=adverse, created_by="test"))


def _visit(session, pid: int, day: date, sites: dict[str, float] | None = None, salt: float | None = None) -> None:
    visit = models.Visit(patient_id=pid, date=day, created_by="test")
    session.add(visit)
    session.flush()
    for site, density in (sites or {}).items():
        session.add(models.DensityMeasurement(visit_id=visit.id, site=site, density_per_cm2=density,
                                              created_by="test"))
    if salt is not None:
        session.add(models.ScaleScore(visit_id=visit.id, scale="salt", salt_score=salt, created_by="test"))


@pytest.fixture
def small_clinic(clinic) -> str:
    with transaction(clinic) as session:
        session.add(stored_protocol(replace(DEFAULT_PROTOCOL, name=PRP)))
        session.flush()
        a1 = _patient(session, "A1")
        _session(session, a1, D0, "LOT-A")
        _session(session, a1, date(2025, 6, 10), "LOT-A", "Mild tenderness for two days")
        for day, density in ((D0, 100), (M3, 110), (M6, 160), (M12, 170)):
            _visit(session, a1, day, {"vertex": density})
        a2 = _patient(session, "A2")
        _session(session, a2, D0, "lot-a ")
        for day, density in ((D0, 200), (M3, 190), (M6, 180), (M12, 200)):
            _visit(session, a2, day, {"vertex": density})
        a3 = _patient(session, "A3")
        _session(session, a3, D0, "LOT-B", "  ")  # blank: no adverse event recorded
        for day, vertex, frontal in ((D0, 100, 150), (M3, 115, 150), (M6, 130, 170)):
            _visit(session, a3, day, {"vertex": vertex, "frontal": frontal})
        a4 = _patient(session, "A4", "telogen_effluvium")
        _session(session, a4, date(2025, 9, 1), "LOT-B")
        _visit(session, a4, date(2025, 9, 1), {"vertex": 120})
        _visit(session, a4, date(2025, 12, 1), {"vertex": 126})
        a5 = _patient(session, "A5")
        _session(session, a5, date(2025, 2, 1), "LOT-B")
        _patient(session, "A6")
        b1 = _patient(session, "B1", protocol=PRP)
        _session(session, b1, D0, "LOT-A")
        _visit(session, b1, D0, {"vertex": 100})
        _visit(session, b1, M6, {"vertex": 125})
        s1 = _patient(session, "S1", "alopecia_areata", SALT_PROTOCOL_NAME)
        _session(session, s1, D0, "LOT-C")
        _session(session, s1, M6, "LOT-C")
        for day, score in ((D0, 40), (M3, 30), (M6, 18), (M12, 4)):
            _visit(session, s1, day, salt=score)
    return clinic


def test_default_protocol_every_condition(small_clinic):
    found = clinic_outcomes(DR, DEFAULT_PROTOCOL_NAME, today=TODAY, url=small_clinic)
    assert (found.patients, found.untreated) == (5, 1)  # A1–A5; A6 untreated
    assert (found.sessions, found.with_adverse_events) == (6, 1)  # A1 2, A2–A5 1 each; A1's second session
    assert found.adverse_per_100 == pytest.approx(100 / 6)  # 1 of 6 sessions: 16.67 per 100
    assert found.attainment == (
        # early: A1–A4 on track, A5 missed
        Attainment("early_response", reached=5, judged=4, ahead=0, on_track=4, behind=0, no_baseline=0, due=0,
                   missed=1),
        # 6 months: A1 ahead, A2 behind, A3 on track, A4 due, A5 missed
        Attainment("noticeable_growth", 5, 3, 1, 1, 1, 0, 1, 1),
        # 12 months: A1 ahead, A2 on track, A3 missed, A4 upcoming (not reached), A5 due
        Attainment("continued_improvement", 4, 2, 1, 1, 0, 0, 1, 1),
    )
    assert found.attainment[1].judged_share == pytest.approx(3 / 5)
    assert found.attainment[1].share("behind") == pytest.approx(1 / 3)
    # 6 months: A1 (+60 > 10) and A3 (+30 > 10, +20 > 15) respond, A2 (−20) does not; 12: A1 (+70) of A1, A2 (0)
    assert found.responders == (Responders(6, "noticeable_growth", 3, 2, None),
                                Responders(12, "continued_improvement", 2, 1, None))
    # month 3: A1 +10, A2 −10, A3 (15 + 0) / 2 = 7.5, A4 +6 → [−10, 6, 7.5, 10]: median (6 + 7.5) / 2 = 6.75,
    # q1 at position 0.75: −10 + 0.75 × 16 = 2, q3 at 2.25: 7.5 + 0.25 × 2.5 = 8.125
    # month 6: A1 +60, A2 −20, A3 (30 + 20) / 2 = 25 → [−20, 25, 60]: median 25, q1 (−20 + 25) / 2 = 2.5, q3 42.5
    # month 12: A1 +70, A2 0 → median 35, q1 0 + 0.25 × 70 = 17.5, q3 52.5
    assert found.change == (ChangePoint(3, 4, 6.75, 2.0, 8.125), ChangePoint(6, 3, 25.0, 2.5, 42.5),
                            ChangePoint(12, 2, 35.0, 17.5, 52.5))
    # LOT-B: A3, A4, A5 (3 sessions), of whom only A3 judged at 6 months (a responder), none at 12;
    # LOT-A (and "lot-a "): A1 (2 sessions, 1 adverse event) and A2; 6 months 1 of 2, 12 months 1 of 2
    assert [(lot.lot, lot.patients, lot.sessions, lot.with_adverse_events, lot.at_6.judged, lot.at_6.responders,
             lot.at_12.judged, lot.at_12.responders) for lot in found.lots] == [
        ("LOT-B", 3, 3, 0, 1, 1, 0, 0), ("LOT-A", 2, 3, 1, 2, 1, 2, 1)]
    assert not found.judged_on_salt and found.change_unit == "hairs/cm²"
    assert found.protocol_names == (DEFAULT_PROTOCOL_NAME, SALT_PROTOCOL_NAME, PRP)


def test_condition_and_day0_range(small_clinic):
    found = clinic_outcomes(DR, DEFAULT_PROTOCOL_NAME, "androgenetic_alopecia", date(2025, 1, 1), date(2025, 1, 31),
                            today=TODAY, url=small_clinic)
    # A1–A3 (A4 is telogen effluvium, A5's day 0 is 2025-02-01); A6 untreated counts whatever the range
    assert (found.patients, found.untreated, found.sessions, found.with_adverse_events) == (3, 1, 4, 1)
    assert found.adverse_per_100 == 25.0  # 1 of 4
    assert found.attainment[2] == Attainment("continued_improvement", 3, 2, 1, 1, 0, 0, 0, 1)
    assert found.responders[0] == Responders(6, "noticeable_growth", 3, 2, None)
    # the range's last day is included: A5's day 0 is 2025-02-01
    assert clinic_outcomes(DR, None, start=date(2025, 2, 1), end=date(2025, 2, 1), today=TODAY,
                           url=small_clinic).patients == 1


def test_salt_protocol(small_clinic):
    found = clinic_outcomes(DR, SALT_PROTOCOL_NAME, today=TODAY, url=small_clinic)
    assert (found.patients, found.sessions, found.with_adverse_events, found.adverse_per_100) == (1, 2, 0, 0.0)
    assert [(a.judged, a.ahead, a.on_track, a.behind) for a in found.attainment] == [
        (1, 0, 1, 0), (1, 0, 1, 0), (1, 1, 0, 0)]
    # SALT 18 at 6 months and 4 at 12: both ≤ 20 (response) and at least 50% better (SALT50)
    assert found.responders == (Responders(6, "noticeable_growth", 1, 1, 1),
                                Responders(12, "continued_improvement", 1, 1, 1))
    # improvements (40 − 30) / 40 = 25%, (40 − 18) / 40 = 55%, (40 − 4) / 40 = 90%
    assert found.change == (ChangePoint(3, 1, 25.0, 25.0, 25.0), ChangePoint(6, 1, 55.0, 55.0, 55.0),
                            ChangePoint(12, 1, 90.0, 90.0, 90.0))
    assert [(lot.lot, lot.patients, lot.sessions) for lot in found.lots] == [("LOT-C", 1, 2)]
    responders_table = outcome_tables(found)[2]
    assert responders_table.columns[3:] == ("Responders (SALT ≤ 20)", "Responders %", "SALT50")
    assert responders_table.rows == (("6 months", "Noticeable growth (about 6 months)", 1, 1, 100.0, 1),
                                     ("12 months", "Continued improvement (up to 12 months)", 1, 1, 100.0, 1))
    assert found.judged_on_salt and found.change_unit == "% SALT improvement"


def test_second_protocol(small_clinic):
    found = clinic_outcomes(DR, PRP, today=TODAY, url=small_clinic)
    assert found.patients == 1
    # B1: no 3-month visit (missed), 125 at 6 months: +25 in the band, and beyond the noise of 10
    assert [(a.judged, a.on_track, a.missed) for a in found.attainment] == [(0, 0, 1), (1, 1, 0), (0, 0, 1)]
    assert found.responders[0] == Responders(6, "noticeable_growth", 1, 1, None)


def test_a_new_record_shows_on_the_next_call(small_clinic):
    """What a process kept is used only while the patient's outlook stamp stands."""
    assert clinic_outcomes(DR, today=TODAY, url=small_clinic).attainment[1].judged == 3
    with transaction(small_clinic) as session:
        a4 = session.scalars(select(models.Patient.id).where(models.Patient.mrn == "A4")).one()
        # 2025-09-01 → 2026-02-28: 180 days, 5.91 months, band 9.86..34.57: +30 on track, beyond the noise 12
        _visit(session, a4, date(2026, 2, 28), {"vertex": 150})
    found = clinic_outcomes(DR, today=TODAY, url=small_clinic)
    assert found.attainment[1] == Attainment("noticeable_growth", 5, 4, 1, 2, 1, 0, 0, 1)
    assert found.responders[0] == Responders(6, "noticeable_growth", 4, 3, None)
    assert clinic_outcomes(DR, condition="telogen_effluvium", today=TODAY, url=small_clinic).patients == 1  # A4
    with transaction(small_clinic) as session:  # an adverse event noted afterwards on A3's session
        a3 = session.scalars(select(models.Patient.id).where(models.Patient.mrn == "A3")).one()
        treated = session.scalars(select(models.TreatmentSession).where(models.TreatmentSession.patient_id == a3)).one()
        treated.adverse_events = "Headache"
    found = clinic_outcomes(DR, today=TODAY, url=small_clinic)
    assert (found.sessions, found.with_adverse_events) == (6, 2)
    assert [(lot.lot, lot.with_adverse_events) for lot in found.lots] == [("LOT-B", 1), ("LOT-A", 1)]
    with transaction(small_clinic) as session:
        patient = session.scalars(select(models.Patient).where(models.Patient.mrn == "A1")).one()
        patient.deleted_at, patient.deleted_by, patient.deleted_reason = TODAY, "test", "duplicate"
    assert clinic_outcomes(DR, today=TODAY, url=small_clinic).patients == 4
    assert clinic_outcomes(DR, condition="telogen_effluvium", today=TODAY, url=small_clinic).patients == 1


def test_refusals_and_bad_filters(small_clinic):
    before = _audit_actions(small_clinic)
    patient = Actor("patient.a", "patient", patient_id=1)
    for who in (patient, None):
        with pytest.raises(PermissionDenied):
            clinic_outcomes(who, today=TODAY, url=small_clinic)  # type: ignore[arg-type]
    assert _audit_actions(small_clinic)[len(before):] == ["refused", "refused"]
    with pytest.raises(ValidationError, match="no protocol named 'Nope'"):
        clinic_outcomes(DR, "Nope", today=TODAY, url=small_clinic)
    with pytest.raises(ValidationError, match="Unknown condition"):
        clinic_outcomes(DR, condition="baldness", today=TODAY, url=small_clinic)
    with pytest.raises(ValidationError, match="after the last"):
        clinic_outcomes(DR, start=date(2025, 3, 1), end=date(2025, 1, 1), today=TODAY, url=small_clinic)
    clinic_outcomes(Actor("admin.kim", "admin"), today=TODAY, url=small_clinic)
    with transaction(small_clinic) as session:
        last = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id.desc())).first()
        assert last is not None and (last.action, last.username) == ("view", "admin.kim")
        assert last.detail == ("clinic outcomes: Exosome (default), every condition, day 0 from any date to any "
                               "date: 5 patients")


def _audit_actions(url: str) -> list[str]:
    with transaction(url) as session:
        return list(session.scalars(select(models.AuditEntry.action).order_by(models.AuditEntry.id)))


def test_xlsx_holds_the_tables_shown_with_formulas_neutralised(small_clinic):
    with transaction(small_clinic) as session:
        S = models.TreatmentSession
        for given in session.scalars(select(S).where(S.lot_number == "LOT-B")):
            given.lot_number = '=HYPERLINK("http://evil","x")'
    found = clinic_outcomes(DR, today=TODAY, url=small_clinic)
    tables = outcome_tables(found)
    before = len(_audit_actions(small_clinic))
    book = openpyxl.load_workbook(io.BytesIO(outcomes_xlsx(DR, tables, url=small_clinic)))
    assert _audit_actions(small_clinic)[before:] == ["export"]  # the download is recorded as an export
    with pytest.raises(PermissionDenied):
        outcomes_xlsx(Actor("patient.a", "patient", patient_id=1), tables, url=small_clinic)
    assert book.sheetnames == ["Summary", "Milestones", "Responders", "Change", "Lots"]
    for table in tables:
        rows = list(book[table.title].iter_rows(values_only=True))
        assert rows[0] == table.columns
        assert [tuple(row) for row in rows[1:]] == [tuple(spreadsheet_safe(c) for c in row) for row in table.rows]
    lots = list(book["Lots"].iter_rows(values_only=True))
    assert lots[1][:4] == ('\'=HYPERLINK("http://evil","x")', 3, 3, 0)  # shown as text, never run
    assert book["Lots"]["A2"].data_type == "s"
    # the page's figures, as the tables give them: 1 of 6 sessions with an adverse event: 16.7 per 100
    summary = dict(tables[0].rows)  # type: ignore[arg-type]
    assert summary["Adverse events per 100 sessions"] == 16.7
    assert tables[1].rows[1] == ("Noticeable growth (about 6 months)", 5, 3, 60.0, 1, 1, 1, 33.3, 33.3, 33.3, 0, 1, 1)
    assert tables[3].rows[0] == (3, 4, 6.8, 2.0, 8.1)
