"""Progress page data: the chart draws exactly what the engine computed; cards say it plainly;
a patient account sees only its own record."""

from __future__ import annotations

from datetime import date

import pytest

from db import models
from tracker.access.actors import Actor
from tracker.course.milestones import DEFAULT_PROTOCOL, expected_band
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied
from tracker.progress.page_data import progress_page
from ui.charts import site_figure

AS_OF = date(2026, 2, 1)
CLINICIAN = Actor("dr.lee", "clinician")


def progress_view(actor, mrn=None, as_of=None, url=None):
    """The progress view as the page reads it (``progress_page``, one audited read)."""
    return progress_page(actor, mrn, as_of, url).view


def make_patient(url: str, mrn: str, name: str, *, therapies: bool = True) -> int:
    """Day 0 2025-01-15; vertex baseline 150 then 175 (3 mo), 150 (6 mo), 200 (12 mo)."""
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=name, sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 1, 15), treatment="exosome",
                                            product="ExoHair", lot_number="EXO-1"))
        if therapies:
            session.add(models.ConcurrentTherapy(patient_id=patient.id, name="Minoxidil 5%", dose="1 ml twice daily",
                                                 start=date(2024, 12, 1), stop=date(2025, 9, 1)))
        for day, density, shaft in ((date(2025, 1, 15), 150.0, 60.0), (date(2025, 4, 14), 175.0, 62.0),
                                    (date(2025, 7, 15), 150.0, None), (date(2026, 1, 20), 200.0, 66.0)):
            visit = models.Visit(patient_id=patient.id, date=day)
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density,
                                                  shaft_diameter_um=shaft))
        return patient.id


def test_chart_traces_match_the_engine(clinic):
    make_patient(clinic, "P-1", "Ada Example")
    view = progress_view(CLINICIAN, "P-1", AS_OF, clinic)
    site = view.chart.sites[0]
    milestones = view.progress.sites[0].milestones
    # windows drawn where the engine put them (months since day 0 of the calendar dates)
    assert [w.name for w in site.windows] == [m.name for m in milestones]
    assert site.windows[0].start_month == pytest.approx((date(2025, 3, 15) - date(2025, 1, 15)).days / 30.4375,
                                                        abs=1e-3)
    # band samples are the engine's interpolation at each x
    for month, low, high in zip(site.band.months, site.band.low, site.band.high, strict=True):
        assert (low, high) == pytest.approx(expected_band(DEFAULT_PROTOCOL, month))
    # every milestone visit is a point with the engine's change and status
    by_date = {p.date: p for p in site.points}
    for m in milestones:
        assert by_date[m.visit_date].change == pytest.approx(m.change)
        assert by_date[m.visit_date].status == m.status
    assert by_date[date(2025, 1, 15)].status == "baseline"
    assert site.no_change_zone == (-15.0, 15.0)  # ±10% of 150

    figure = site_figure(view.chart, site)
    traces = {t.name: t for t in figure.data}
    assert list(traces["measured change"].y) == [p.change for p in site.points]
    assert list(traces["expected range"].y) == list(site.band.low)
    assert list(traces["expected range (high)"].y) == list(site.band.high)
    session_trace = traces["treatment session"]
    assert list(session_trace.x) == [0.0] and session_trace.customdata[0][2] == "EXO-1"
    shapes = [s for s in figure.layout.shapes if s.type == "rect"]
    window_rects = [(s.x0, s.x1) for s in shapes if s.xref == "x"]
    assert window_rects == [(w.start_month, w.end_month) for w in site.windows]
    assert any(t.name.startswith("Minoxidil") for t in figure.data)  # therapy bar along the time axis
    percent = site_figure(view.chart, site, percent=True)
    assert list({t.name: t for t in percent.data}["measured change"].y) == [p.change_pct for p in site.points]


def test_cards_say_it_plainly_and_carry_the_evidence_note(clinic):
    make_patient(clinic, "P-1", "Ada Example")
    view = progress_view(CLINICIAN, "P-1", AS_OF, clinic)
    sentences = [c.sentence for c in view.cards]
    # Baseline 150 → noise 15. 3 months: +25 is above +19 but not above 19 + 15; 6 months: +0 is below +10 but
    # not below 10 − 15: both on track, and each card says why in one sentence, nothing contradicting it.
    assert sentences[0] == ("3 months: +25 hairs/cm² (+17%). The expected range is +4 to +19; the difference is "
                            "within the measurement noise (±15), so this is consistent with the expected course.")
    assert sentences[1] == ("6 months: +0 hairs/cm² (+0%). The expected range is +10 to +35; the difference is "
                            "within the measurement noise (±15), so this is consistent with the expected course.")
    assert [c.status for c in view.cards[:2]] == ["on_track", "on_track"]
    assert not any("no measurable change" in s for s in sentences)
    assert "limited" in view.evidence_note
    assert [s.title for s in view.secondary] == ["Shaft diameter"]


def test_patient_sees_only_their_own_record(clinic):
    own = make_patient(clinic, "P-1", "Ada Example")
    make_patient(clinic, "P-2", "Bea Other")
    patient = Actor("ada", "patient", patient_id=own)
    assert progress_view(patient, None, AS_OF, clinic).full_name == "Ada Example"
    assert progress_view(patient, "P-1", AS_OF, clinic).mrn == "P-1"
    with pytest.raises(PermissionDenied):
        progress_view(patient, "P-2", AS_OF, clinic)
    with pytest.raises(PermissionDenied):
        progress_view(patient, "DOES-NOT-EXIST", AS_OF, clinic)
    with pytest.raises(PermissionDenied):
        progress_view(None, "P-1", AS_OF, clinic)
    forged = Actor("mallory", "superuser")
    with pytest.raises(PermissionDenied):
        progress_view(forged, "P-1", AS_OF, clinic)
    with pytest.raises(NotFound):
        progress_view(CLINICIAN, "NOPE", AS_OF, clinic)
    with transaction(clinic) as session:
        from sqlalchemy import select
        refused = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "refused")).all()
    assert len(refused) >= 2 and all(r.username == "ada" for r in refused[:2])


def test_next_steps_for_staff_and_for_the_patient(clinic):
    make_patient(clinic, "P-1", "Ada Example")
    view = progress_view(CLINICIAN, "P-1", date(2025, 1, 20), clinic)
    # Session 2025-01-15: NSAIDs 3 days before (12 January) to 3 weeks after (5 February); the 3-month
    # window 2–3 calendar months after day 0; repeat session 3–6 months; the effect 6–8 months after.
    staff = {s.topic: s.text for s in view.next_steps}
    assert staff == {
        "Medication": "No NSAIDs (aspirin, ibuprofen) from 2025-01-12 to 2025-02-05: 3 days before to "
                      "3 weeks after the session of 2025-01-15.",
        "Next follow-up visit": "The 3-month check-up is due between 2025-03-15 and 2025-04-15.",
        "Repeat session": "A repeat session can be considered between 2025-04-15 and 2025-07-15.",
        "How long it works": "The effect of the latest session usually lasts until between 2025-07-15 and "
                             "2025-09-15.",
    }
    patient = {s.topic: s.text for s in view.patient_steps}
    assert patient["Medication"] == ("Avoid aspirin and ibuprofen (NSAIDs) until 2025-02-05: they can weaken "
                                     "the treatment. Paracetamol is usually fine; ask us if unsure.")
    assert patient["Next follow-up visit"] == "Your 3-month check-up is due between 2025-03-15 and 2025-04-15."
    assert patient["Repeat session"].startswith("A repeat session can be considered between 2025-04-15 and "
                                                "2025-07-15. Avoid NSAIDs for 3 days before it")
    assert patient["How long it works"].startswith("The effect of your latest session usually lasts until")


def test_treated_but_never_measured_patient_still_has_visits_due(clinic):
    from tracker.course.followup import outlook
    from tracker.course.milestones import SessionRecord, assess

    progress = assess([SessionRecord(date(2025, 1, 15))], [], as_of=date(2025, 4, 1))
    assert progress.sites == ()
    assert [m.status for m in progress.unmeasured] == ["due", "upcoming", "upcoming"]
    ahead = outlook(progress)
    assert (ahead.next_name, ahead.next_status, ahead.next_due) == ("early_response", "due", date(2025, 4, 15))
    late = outlook(assess([SessionRecord(date(2025, 1, 15))], [], as_of=date(2025, 5, 1)))
    assert late.overdue and late.next_name == "noticeable_growth"


def test_secondary_charts_read_as_dates_with_fixed_axes_and_stage_steps():
    from tracker.progress.view import SecondarySeries, SeriesPoint
    from ui.charts import secondary_figure

    # One day only: the date axis spans a fortnight either side (never zoomed to hours), today marked.
    norwood = SecondarySeries("Norwood–Hamilton stage", "stage",
                              {"scalp": (SeriesPoint(date(2026, 3, 31), 0.0, 11.0, "VI"),)}, "norwood",
                              (0.5, 12.5), ((1.0, "I"), (2.0, "II"), (11.0, "VI"), (12.0, "VII")), step=True)
    figure = secondary_figure(norwood, today=date(2026, 4, 10))
    assert figure.layout.xaxis.type == "date" and list(figure.data[0].x) == [date(2026, 3, 31)]
    assert list(figure.layout.xaxis.range) == [date(2026, 3, 16), date(2026, 4, 25)]  # 31 Mar − 15 d … 10 Apr + 15 d
    assert list(figure.layout.yaxis.ticktext) == ["I", "II", "VI", "VII"]  # every stage, in scale order
    assert list(figure.layout.yaxis.range) == [0.5, 12.5] and figure.data[0].line.shape == "hv"
    today = [s for s in figure.layout.shapes if s.name == "today"]
    assert [(s.x0, s.x1) for s in today] == [("2026-04-10", "2026-04-10")]

    shaft = SecondarySeries("Shaft diameter", "µm", {"vertex": (
        SeriesPoint(date(2025, 1, 15), 0.0, 60.0), SeriesPoint(date(2025, 7, 15), 5.9, 60.15))}, "shaft_diameter",
        (0.0, 120.0))
    figure = secondary_figure(shaft)
    # A 0.15 µm change on the fixed 0–120 µm axis: an eighth of a thousandth of its height, not the whole chart.
    assert list(figure.layout.yaxis.range) == [0.0, 120.0] and figure.layout.yaxis.tickvals is None
    assert figure.data[0].line.shape == "linear"


def rate_visits(url: str, patient_id: int, ratings: dict[date, tuple[int | None, int | None]]) -> None:
    with transaction(url) as session:
        from sqlalchemy import select
        for visit in session.scalars(select(models.Visit).where(models.Visit.patient_id == patient_id)):
            if visit.date in ratings:
                visit.global_assessment, visit.satisfaction = ratings[visit.date]


def test_assessment_and_satisfaction_are_charted_on_fixed_scales_up_to_the_day_viewed(clinic):
    own = make_patient(clinic, "P-1", "Ada Example")
    rate_visits(clinic, own, {date(2025, 4, 14): (1, None), date(2025, 7, 15): (0, 5), date(2026, 1, 20): (2, 8)})
    with transaction(clinic) as session:
        # A Norwood stage scored at two visits; a rating after the day viewed stays out.
        visits = {v.date: v.id for v in session.query(models.Visit).filter_by(patient_id=own)}
        session.add(models.ScaleScore(visit_id=visits[date(2025, 1, 15)], scale="norwood", stage="III"))
        session.add(models.ScaleScore(visit_id=visits[date(2025, 7, 15)], scale="norwood", stage="IIIA"))
    view = progress_view(CLINICIAN, "P-1", date(2025, 12, 31), clinic)  # before the 2026-01-20 visit
    by_code = {s.code: s for s in view.secondary}
    assessment = by_code["global_assessment"]
    assert [(p.date, p.value, p.label) for p in assessment.by_site["scalp"]] == [
        (date(2025, 4, 14), 1.0, "+1 Slightly increased"), (date(2025, 7, 15), 0.0, "0 No change")]
    assert assessment.y_range == (-3.5, 3.5) and assessment.step
    assert [words for _, words in assessment.ticks] == [
        "−3 Greatly decreased", "−2 Moderately decreased", "−1 Slightly decreased", "0 No change",
        "+1 Slightly increased", "+2 Moderately increased", "+3 Greatly increased"]
    satisfaction = by_code["satisfaction"]
    assert [(p.date, p.value) for p in satisfaction.by_site["scalp"]] == [(date(2025, 7, 15), 5.0)]
    assert satisfaction.y_range == (-0.5, 10.5)
    assert [(r.date, r.global_assessment, r.satisfaction) for r in view.ratings] == [
        (date(2025, 4, 14), 1, None), (date(2025, 7, 15), 0, 5)]
    # Shaft diameter 60 and 62 µm on the fixed 0–120 µm axis (the 66 µm of 2026 is after the day viewed).
    shaft = by_code["shaft_diameter"]
    assert [p.value for p in shaft.by_site["vertex"]] == [60.0, 62.0] and shaft.y_range == (0.0, 120.0)
    # Stages as steps, with every Norwood stage on the axis in scale order (III is 4th, IIIA 5th of 12).
    norwood = by_code["norwood"]
    assert [p.value for p in norwood.by_site["scalp"]] == [4.0, 5.0] and norwood.step
    assert norwood.y_range == (0.5, 12.5) and [t for _, t in norwood.ticks][3:6] == ["III", "IIIA", "III vertex"]

    from ui.charts import secondary_figure
    figure = secondary_figure(assessment, today=view.progress.as_of)
    assert figure.data[0].line.shape == "hv" and list(figure.data[0].text) == ["+1 Slightly increased",
                                                                              "0 No change"]
    assert list(figure.layout.yaxis.tickvals) == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert list(figure.layout.yaxis.range) == [-3.5, 3.5]
    assert [s.x0 for s in figure.layout.shapes if s.name == "today"] == ["2025-12-31"]
