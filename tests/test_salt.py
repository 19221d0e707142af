"""Alopecia areata judged on SALT (issue #11): the engine's SALT rule by hand, the seeded protocol, the JSON through
the command line, the lists, the progress view, the PDF and a saved visit, all on a real database.

The hand-checked patient (``_add_salt_patient``): day 0 2025-01-15, SALT 40 on 2025-01-10 (baseline), then
36 on 2025-04-14 (89 days = 2.924 months), 18 on 2025-07-15 (181 days = 5.947 months) and 34 on 2026-01-20
(370 days = 12.156 months), on the seeded "Alopecia areata (SALT)" protocol (band on % improvement: month 0
−20..+10, 3: 0..+30, 6: +20..+50, 12: +30..+75; noise 10 percentage points).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.conftest import ROOT
from tests.test_progress_report import pdf_text
from tracker.access.actors import Actor
from tracker.course.clinical import DEFAULT_WINDOWS, SALT_PROTOCOL_NAME, BandPoint
from tracker.course.milestones import (
    DEFAULT_PROTOCOL,
    SALT_PROTOCOL,
    DensityRecord,
    Protocol,
    SessionRecord,
    assess,
)
from tracker.course.protocols import to_engine
from tracker.course.salt import SALT_SITE, SaltRecord, endpoints, outcome_records
from tracker.course.vocabulary import OutcomeMeasure
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.exchange.progress_report import progress_report_pdf
from tracker.progress.page_data import progress_page
from tracker.records.patient_list import list_patients
from tracker.records.protocol_admin import get_protocol, save_protocol
from tracker.records.visit_form import SiteEntry, VisitEntry
from tracker.records.visits import DENSITY_RECORDED, log_visit

DAY0 = date(2025, 1, 15)
AS_OF = date(2026, 2, 1)
CLINICIAN = Actor(username="dr.salt", role="clinician")
ADMIN = Actor(username="admin.salt", role="admin")

# A flat band (+20..+50% improvement at every month) and noise 10 points: the edges are low − noise = +10% and
# high + noise = +60%. With a baseline SALT 50, +10% is SALT 45 and +60% is SALT 20.
FLAT = Protocol("flat SALT", (BandPoint(0, 20, 50),), DEFAULT_WINDOWS, "test band", 10.0, OutcomeMeasure.SALT)


def _six_months(score: float, baseline: float = 50.0, protocol: Protocol = FLAT):
    """The 6-month milestone of a patient with ``baseline`` on day 0 and ``score`` on 2025-07-15."""
    series = outcome_records(protocol, [], [SaltRecord(DAY0, baseline), SaltRecord(date(2025, 7, 15), score)])
    (site,) = assess([SessionRecord(DAY0)], series, protocol, AS_OF).sites
    return site.milestones[1]


@pytest.mark.parametrize(("score", "improvement", "status"), [
    (45.0, 10.0, "on_track"),  # exactly low − noise: (50 − 45) × 100 / 50 = 10 = 20 − 10, an edge
    (45.01, 9.98, "behind"),  # 4.99 × 100 / 50 = 9.98 < 10
    (20.0, 60.0, "on_track"),  # exactly high + noise: 30 × 100 / 50 = 60 = 50 + 10, an edge
    (19.99, 60.02, "ahead"),  # 30.01 × 100 / 50 = 60.02 > 60
    (30.0, 40.0, "on_track"),  # inside the band
    (55.0, -10.0, "behind"),  # worse than baseline: −10 < 10
])
def test_salt_status_at_the_noise_edges(score, improvement, status):
    milestone = _six_months(score)
    assert milestone.change == pytest.approx(improvement, abs=0.005)
    assert (milestone.expected_low, milestone.expected_high, milestone.noise) == (20.0, 50.0, 10.0)
    assert milestone.status == status


def test_salt_baseline_zero_cannot_be_judged_and_none_before_day0_is_no_baseline():
    zero = _six_months(5.0, baseline=0.0)
    assert (zero.status, zero.change, zero.noise) == ("no_baseline", None, None)
    series = outcome_records(FLAT, [], [SaltRecord(date(2025, 7, 15), 18.0)])  # nothing before day 0
    (site,) = assess([SessionRecord(DAY0)], series, FLAT, AS_OF).sites
    assert site.baseline is None and site.milestones[1].status == "no_baseline"


@pytest.mark.parametrize(("score", "improvement", "reached"), [
    (20.0, 75.0, (True, True, True, False)),  # baseline 80: SALT 20 is a response and exactly SALT75
    (20.01, 74.99, (False, True, False, False)),
    (40.0, 50.0, (False, True, False, False)),  # exactly SALT50
    (40.01, 49.99, (False, False, False, False)),
    (8.0, 90.0, (True, True, True, True)),  # exactly SALT90
    (8.01, 89.99, (True, True, True, False)),
])
def test_endpoints_exactly_at_their_thresholds(score, improvement, reached):
    milestone = _six_months(score, baseline=80.0)
    assert milestone.change == pytest.approx(improvement, abs=0.005)
    found = endpoints(score, milestone.change)
    assert (found.response, found.salt50, found.salt75, found.salt90) == reached


def test_a_density_protocol_still_judges_density_and_the_salt_protocol_ignores_it():
    densities = [DensityRecord(DAY0, "vertex", 100.0), DensityRecord(date(2025, 7, 15), "vertex", 130.0)]
    scores = [SaltRecord(DAY0, 40.0), SaltRecord(date(2025, 7, 15), 18.0)]
    (density_site,) = assess([SessionRecord(DAY0)], outcome_records(DEFAULT_PROTOCOL, densities, scores),
                             DEFAULT_PROTOCOL, AS_OF).sites
    (salt_site,) = assess([SessionRecord(DAY0)], outcome_records(SALT_PROTOCOL, densities, scores),
                          SALT_PROTOCOL, AS_OF).sites
    assert (density_site.site, density_site.milestones[1].change) == ("vertex", 30.0)
    assert (salt_site.site, salt_site.milestones[1].change) == (SALT_SITE, 55.0)


# --- on a database -------------------------------------------------------------------------------------


def _add_salt_patient(url: str, mrn: str = "AA-001") -> int:
    with transaction(url) as session:
        protocol_id = session.scalar(select(models.Protocol.id).where(models.Protocol.name == SALT_PROTOCOL_NAME))
        patient = models.Patient(mrn=mrn, full_name="Alma Areata", sex="female", birth_date=date(1990, 3, 1),
                                 condition="alopecia_areata", baseline_scale="salt", baseline_stage="40",
                                 protocol_id=protocol_id, created_by="test")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=DAY0, treatment="exosome",
                                            product="ExoHair", lot_number="EXO-9", created_by="test"))
        for day, score, density in ((date(2025, 1, 10), 40.0, 80.0), (date(2025, 4, 14), 36.0, 100.0),
                                    (date(2025, 7, 15), 18.0, 120.0), (date(2026, 1, 20), 34.0, 130.0)):
            visit = models.Visit(patient_id=patient.id, date=day, created_by="test")
            session.add(visit)
            session.flush()
            session.add(models.ScaleScore(visit_id=visit.id, scale="salt", salt_score=score, created_by="test"))
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density,
                                                  created_by="test"))
        return patient.id


def test_setup_seeds_the_salt_protocol_next_to_the_default(clinic):
    with transaction(clinic) as session:
        rows = {row.name: row for row in session.scalars(select(models.Protocol))}
        assert set(rows) == {"Exosome (default)", SALT_PROTOCOL_NAME}
        salt = to_engine(rows[SALT_PROTOCOL_NAME])
        assert to_engine(rows["Exosome (default)"]).outcome == OutcomeMeasure.DENSITY
    assert salt.outcome == OutcomeMeasure.SALT and salt.noise_pct == 10.0
    assert [(p.month, p.low, p.high) for p in salt.band] == [(0, -20, 10), (3, 0, 30), (6, 20, 50), (12, 30, 75)]
    assert "no established exosome evidence" in salt.evidence_note


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def test_progress_json_reports_the_salt_course_through_the_command_line(clinic):
    _add_salt_patient(clinic)
    result = _cli("progress", "AA-001", "--as-of", "2026-02-01", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["outcome"], report["protocol"], report["day0"]) == ("salt", SALT_PROTOCOL_NAME, "2025-01-15")
    salt = report["salt"]
    assert salt["baseline"] == {"date": "2025-01-10", "score": 40.0}
    assert [s["score"] for s in salt["scores"]] == [40.0, 36.0, 18.0, 34.0]
    early, six, twelve = salt["milestones"]
    # 89 days = 2.924 months, share 0.9747 of months 0→3: low −20 + 19.49 = −0.51, high 10 + 19.49 = 29.49;
    # (40 − 36) × 100 / 40 = 10% → inside → on track; no endpoint.
    assert (early["visit_date"], early["score"], early["improvement_pct"]) == ("2025-04-14", 36.0, 10.0)
    assert (early["expected_low"], early["expected_high"], early["noise"]) == (-0.51, 29.49, 10.0)
    assert early["status"] == "on_track"
    assert early["endpoints"] == {"response": False, "salt50": False, "salt75": False, "salt90": False}
    # 5.947 months, share 0.9822 of months 3→6: 19.64..49.64; (40 − 18) × 100 / 40 = 55% → above the band by
    # 5.36 < 10 noise → on track; SALT 18 ≤ 20 is a response, 55% ≥ 50 is SALT50.
    assert (six["improvement_pct"], six["expected_low"], six["expected_high"]) == (55.0, 19.64, 49.64)
    assert six["status"] == "on_track"
    assert six["endpoints"] == {"response": True, "salt50": True, "salt75": False, "salt90": False}
    # Past month 12 the band is flat, +30..+75; (40 − 34) × 100 / 40 = 15% < 30 − 10 = 20 → behind.
    assert (twelve["improvement_pct"], twelve["expected_low"], twelve["status"]) == (15.0, 30.0, "behind")
    # Density is measured but not judged: its sites list the values, without milestones.
    (vertex,) = report["sites"]
    assert vertex["baseline"] == {"date": "2025-01-10", "density": 80.0} and vertex["milestones"] == []
    assert [m["density"] for m in vertex["measurements"]] == [80.0, 100.0, 120.0, 130.0]


def test_progress_for_a_person_names_the_salt_course_in_words(clinic):
    _add_salt_patient(clinic)
    result = _cli("progress", "AA-001", "--as-of", "2026-02-01")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  SALT score: baseline 40.0 on 2025-01-10" in lines
    six = next(line for line in lines if line.strip().startswith("Noticeable growth"))
    assert six.endswith("On track SALT 18.0, improvement +55.0% (Response (SALT ≤ 20), SALT50)")
    assert "salt50" not in result.stdout


def test_lists_and_view_judge_a_salt_patient_on_salt(clinic):
    _add_salt_patient(clinic)
    # Behind on SALT at 12 months (15% < 20%); judged on density against this band it would not be.
    behind = list_patients(CLINICIAN, filter="behind", today=AS_OF, url=clinic)
    assert [p.mrn for p in behind] == ["AA-001"]
    # The follow-up lists' latest change is the SALT improvement, not hairs/cm²: (40 − 34) / 40 = 15%.
    assert behind[0].latest_change == "SALT 34, +15% improvement, 12 months: behind expected"
    view = progress_page(CLINICIAN, "AA-001", AS_OF, url=clinic).view
    assert view.salt is not None and view.chart.sites == ()
    assert [card.status for card in view.cards] == ["on_track", "on_track", "behind"]
    assert view.cards[1].sentence == (
        "6 months: SALT 18 (baseline 40), an improvement of 55%. Response (SALT ≤ 20) and SALT50 reached. "
        "The clinic's expected range is +20 to +50%; the difference is within the measurement noise (±10 points), "
        "so this is consistent with the clinic's expected course.")
    assert view.cards[2].sentence.startswith("12 months: SALT 34 (baseline 40), an improvement of 15%. "
                                             "No endpoint reached yet. The clinic's expected range is +30 to +75%; "
                                             "this is below the range by more than the measurement noise")
    assert "SALT score" not in [s.title for s in view.secondary]  # the main chart, not repeated
    assert [trace.site for trace in view.salt.density] == ["vertex"]


def test_salt_figure_draws_the_score_the_response_line_and_the_endpoints(clinic):
    from ui.salt_chart import salt_density_figure, salt_figure

    _add_salt_patient(clinic)
    chart = progress_page(CLINICIAN, "AA-001", AS_OF, url=clinic).view.salt
    assert chart is not None
    figure = salt_figure(chart)
    scores = next(t for t in figure.data if t.name == "SALT score")
    assert list(scores.y) == [40.0, 36.0, 18.0, 34.0] and list(scores.text) == ["40", "36", "18", "34"]
    # SALT ≤ 20 response, and the targets from baseline 40: SALT50 = 20, SALT75 = 10, SALT90 = 4.
    assert sorted({s.y0 for s in figure.layout.shapes if s.type == "line" and s.yref == "y"}) == [4.0, 10.0, 20.0]
    # Today: 2025-01-15 → 2026-02-01 is 382 days = 382 / 30.4375 = 12.5503 months, on both SALT figures.
    for drawn in (figure, salt_density_figure(chart)):
        today = [s for s in drawn.layout.shapes if s.type == "line" and s.yref == "y domain"]
        assert [round(s.x0, 4) for s in today] == [12.5503]
        assert "today" in {a.text for a in drawn.layout.annotations}
    # The band's edges named at its right end, in SALT scores (best = 40 × 0.25, worst = 40 × 0.7).
    assert {"expected best 10", "expected worst 28"} <= {a.text for a in figure.layout.annotations}
    assert {a.text for a in figure.layout.annotations} >= {"SALT ≤ 20: response", "SALT50 (20)", "SALT75 (10)",
                                                           "SALT90 (4)", "3 months", "6 months", "12 months"}
    best = next(t for t in figure.data if t.name == "clinic's expected range")
    # Past month 12 the band is +30..+75%: SALT 40 × 0.25 = 10 (best) to 40 × 0.7 = 28 (worst).
    assert best.y[-1] == pytest.approx(10.0)
    assert figure.data[0].y[-1] == pytest.approx(28.0)
    assert figure.layout.yaxis.range == (0, 104)
    assert list(salt_density_figure(chart).data[0].y) == [80.0, 100.0, 120.0, 130.0]


def test_the_pdf_prints_the_salt_course(clinic, tmp_path):
    _add_salt_patient(clinic)
    _name, data = progress_report_pdf(CLINICIAN, "AA-001", AS_OF, url=clinic)
    text = pdf_text(data, tmp_path)
    assert "Progress: SALT score (alopecia areata)" in text
    assert "Baseline SALT 40 on 2025-01-10" in text
    # One row per milestone visit: SALT score, improvement, endpoints and status (on the row's middle line).
    assert re.search(r" 36 +\+10% +none +On track", text)
    assert re.search(r" 18 +\+55% +On track", text)
    assert re.search(r" 34 +\+15% +none +Behind", text)
    assert "Response (SALT" in text and "SALT50" in text
    assert "no established exosome evidence" in text


def test_a_visit_of_a_salt_patient_reports_its_density_without_judging_it(clinic):
    _add_salt_patient(clinic)
    saved = log_visit(CLINICIAN, "AA-001", VisitEntry(date=date(2026, 1, 30), sites=(SiteEntry("vertex", 128.0),)),
                      url=clinic, today=AS_OF)
    (vertex,) = saved.sites
    assert (vertex.status, vertex.change, vertex.expected_low) == (DENSITY_RECORDED, 48.0, None)


def test_the_outcome_measure_is_saved_versioned_and_audited(clinic):
    detail = get_protocol(ADMIN, "Exosome (default)", url=clinic)
    band = [{"month": p.month, "low": p.low, "high": p.high} for p in detail.band]
    windows = [{"name": w.name, "start_month": w.start_month, "end_month": w.end_month,
                "target_month": w.target_month} for w in detail.windows]
    saved = save_protocol(ADMIN, detail.name, band, windows, detail.evidence_note, expected_version=1, url=clinic,
                          outcome_measure="salt")
    assert (saved.version, saved.outcome_measure) == (2, "salt")
    kept = save_protocol(ADMIN, detail.name, band, windows, detail.evidence_note, expected_version=2, url=clinic)
    assert kept.outcome_measure == "salt"  # not given: kept
    with pytest.raises(Exception, match="The outcome measure must be one of density, salt"):
        save_protocol(ADMIN, detail.name, band, windows, detail.evidence_note, expected_version=3, url=clinic,
                      outcome_measure="hairs")
    with transaction(clinic) as session:
        updates = session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "update")).all()
        row = session.scalar(select(models.Protocol).where(models.Protocol.name == detail.name))
        assert row is not None and to_engine(row).outcome == OutcomeMeasure.SALT
    first = json.loads(updates[0])
    assert (first["before"]["outcome_measure"], first["after"]["outcome_measure"]) == ("density", "salt")



def test_a_salt_patient_with_densities_but_no_salt_score_is_told_to_record_a_salt_score(clinic):
    """The record names what is missing for a SALT protocol: a SALT score, not a density."""
    from tracker.records.patient_record import patient_record

    with transaction(clinic) as session:
        protocol_id = session.scalar(select(models.Protocol.id).where(models.Protocol.name == SALT_PROTOCOL_NAME))
        patient = models.Patient(mrn="AD-1", full_name="Ada Density", sex="female", birth_date=date(1990, 3, 1),
                                 condition="alopecia_areata", protocol_id=protocol_id, created_by="test")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=DAY0, treatment="exosome", created_by="t"))
        visit = models.Visit(patient_id=patient.id, date=DAY0, created_by="test")
        session.add(visit)
        session.flush()
        session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=90.0, created_by="t"))
    record = patient_record(CLINICIAN, "AD-1", today=AS_OF, url=clinic)
    assert record.milestone_note == ("No SALT score yet: this protocol is judged on SALT; record one at a visit to "
                                     "follow the milestones.")


def test_the_outcome_measure_of_a_protocol_patients_follow_is_not_switched_under_them(clinic):
    """Its band would change meaning (hairs/cm² ↔ % SALT improvement) for the patients on it: refused, nothing saved."""
    _add_salt_patient(clinic)  # follows the seeded SALT protocol
    detail = get_protocol(ADMIN, SALT_PROTOCOL_NAME, url=clinic)
    band = [{"month": p.month, "low": p.low, "high": p.high} for p in detail.band]
    windows = [{"name": w.name, "start_month": w.start_month, "end_month": w.end_month,
                "target_month": w.target_month} for w in detail.windows]
    with pytest.raises(ValidationError) as refused:
        save_protocol(ADMIN, detail.name, band, windows, detail.evidence_note, expected_version=detail.version,
                      url=clinic, outcome_measure="density")
    assert str(refused.value) == (
        "1 patient follows 'Alopecia areata (SALT)': changing what it judges would change the meaning of its band "
        "for them. Copy it to a new protocol, set the other outcome measure there, and move the patients who need it.")
    assert get_protocol(ADMIN, SALT_PROTOCOL_NAME, url=clinic).outcome_measure == "salt"
    # The same outcome, or an edit of the band alone, is still saved.
    saved = save_protocol(ADMIN, detail.name, band, windows, detail.evidence_note, expected_version=detail.version,
                          url=clinic, outcome_measure="salt")
    assert saved.version == detail.version + 1
