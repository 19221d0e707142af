"""Logging a visit: what is saved, what the visit means on the expected course, and what is refused.

Runs on SQLite and PostgreSQL (the ``clinic`` fixture). Expected bands are worked by hand from the
default protocol (DESIGN.md §3): between month 2 (−10, +5) and month 3 (+5, +20) the band rises 15 per
month; months are days / 30.4375.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import func, select

from db import models
from tracker.access.actors import Actor
from tracker.config import settings
from tracker.course.scales import ScaleEntry
from tracker.database import transaction
from tracker.errors import ConflictError, NeedsConfirmation, NotFound, PermissionDenied, SameDayVisit, ValidationError
from tracker.records.recorded_visits import visit_form_defaults
from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import BASELINE_RECORDED, OfferedVisit, log_visit
from tracker.storage.blob_store import LocalDirectoryStore

CLINICIAN = Actor(username="dr.lee", role="clinician")
TODAY = date(2025, 6, 1)


def add_patient(url, mrn="RT-0001", *, full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 1),
                condition="androgenetic_alopecia", target_areas="vertex, frontal", baseline_scale=None) -> int:
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=full_name, sex=sex, birth_date=birth_date,
                                 condition=condition, target_areas=target_areas, baseline_scale=baseline_scale,
                                 created_by="test")
        session.add(patient)
        session.flush()
        return patient.id


def add_session(url, patient_id, on: date) -> None:
    with transaction(url) as session:
        session.add(models.TreatmentSession(patient_id=patient_id, date=on, treatment="exosome",
                                            product="X", lot_number="L1", created_by="test"))


def jpeg(width=64, height=48, colour=(120, 80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def counts(url) -> dict[str, int]:
    with transaction(url) as session:
        return {
            model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (models.Visit, models.DensityMeasurement, models.ScaleScore, models.Photo,
                          models.AuditEntry)
        }


def stored_files() -> list[str]:
    store = LocalDirectoryStore(settings().photo_dir)
    return list(store.keys()) + [p.name for p in store.partial_writes()]


def offered(same: SameDayVisit) -> OfferedVisit:
    """The visit an offer names, as the page carries it to the button that accepts it."""
    assert isinstance(same.visit_date, date) and same.version is not None
    return OfferedVisit(same.visit_id, same.visit_date, same.version)


def visit(on, **sites) -> VisitEntry:
    return VisitEntry(date=on, sites=tuple(SiteEntry(site, density) for site, density in sites.items()))


# --- form defaults -------------------------------------------------------------------------------------


def test_form_defaults_prefill_target_areas_then_last_measured_sites(clinic):
    add_patient(clinic, target_areas="Vertex, Frontal hairline", baseline_scale="sinclair")
    defaults = visit_form_defaults(CLINICIAN, "RT-0001")
    assert defaults.full_name == "Ana Souza"
    assert defaults.sites == ("vertex", "frontal_hairline")
    assert defaults.last_visit_date is None
    assert defaults.scale == "sinclair"  # the patient's own baseline scale comes first
    assert defaults.stages["sinclair"] == ("1", "2", "3", "4", "5")

    log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), occipital=140.0, temporal=120.0), today=TODAY)
    defaults = visit_form_defaults(CLINICIAN, "RT-0001")
    assert defaults.sites == ("occipital", "temporal")
    assert defaults.last_visit_date == date(2025, 1, 10)


def test_form_defaults_for_alopecia_areata_offer_salt_and_a_patient_without_areas_gets_primary(clinic):
    add_patient(clinic, condition="alopecia_areata", target_areas=None)
    defaults = visit_form_defaults(CLINICIAN, "RT-0001")
    assert defaults.scale == "salt"
    assert defaults.sites == ("primary",)


def test_form_defaults_are_audited_as_a_view(clinic):
    patient_id = add_patient(clinic)
    visit_form_defaults(CLINICIAN, "RT-0001")
    with transaction(clinic) as session:
        entry = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id.desc())).first()
    assert (entry.action, entry.patient_id, entry.username) == ("view", patient_id, "dr.lee")


# --- saving and the milestone status ---------------------------------------------------------------------


def test_baseline_visit_before_any_session_is_saved_whole(clinic):
    patient_id = add_patient(clinic)
    entry = VisitEntry(
        date=date(2025, 1, 10),
        sites=(SiteEntry("vertex", 150.0, shaft_diameter_um=62.5, terminal_pct=71, anagen_pct=85.5),
               SiteEntry("frontal", "132.5"), SiteEntry("temporal")),  # temporal left blank: not measured
        scale=ScaleEntry("ludwig", stage="II"),
        capture={"dry_hair": True, "same_parting": True, "same_distance": False, "same_lighting": True},
        device="iPhone 15",
        notes="  first\x00 visit  ",  # a pasted NUL byte is dropped (PostgreSQL cannot store it)
    )
    saved = log_visit(CLINICIAN, "RT-0001", entry, [PhotoUpload("vertex", "top.jpg", jpeg())], today=TODAY)

    assert [s.site for s in saved.sites] == ["vertex", "frontal"]
    assert all(s.status == BASELINE_RECORDED for s in saved.sites)
    assert saved.day0 is None
    assert saved.capture_missing == ("Same camera distance",)
    with transaction(clinic) as session:
        row = session.get(models.Visit, saved.visit_id)
        assert (row.patient_id, row.date, row.notes, row.created_by) == (
            patient_id, date(2025, 1, 10), "first visit", "dr.lee")
        assert row.capture_conditions == {"dry_hair": True, "same_parting": True, "same_distance": False,
                                          "same_lighting": True, "device": "iPhone 15"}
        vertex, frontal = sorted(row.measurements, key=lambda m: m.site, reverse=True)
        assert (vertex.density_per_cm2, vertex.shaft_diameter_um, vertex.terminal_pct, vertex.anagen_pct) == (
            150.0, 62.5, 71.0, 85.5)
        assert (frontal.density_per_cm2, frontal.shaft_diameter_um, frontal.created_by) == (132.5, None, "dr.lee")
        score = session.scalars(select(models.ScaleScore)).one()
        assert (score.scale, score.stage, score.salt_score, score.created_by) == ("ludwig", "II", None, "dr.lee")
        photo = session.scalars(select(models.Photo)).one()
        assert (photo.view, photo.original_file_name, photo.created_by) == ("vertex", "top.jpg", "dr.lee")
        audit = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "create")).one()
        assert audit.patient_id == patient_id and f"visit {saved.visit_id}" in audit.detail
    files = stored_files()
    assert len(files) == 3 and not [f for f in files if f.startswith("pending/")]


def test_salt_score_is_calculated_and_stored_with_its_regions(clinic):
    add_patient(clinic, condition="alopecia_areata")
    entry = VisitEntry(date=date(2025, 1, 10),
                       scale=ScaleEntry("salt", vertex_pct=10, posterior_pct=20, left_pct=30, right_pct=40))
    saved = log_visit(CLINICIAN, "RT-0001", entry, today=TODAY)
    assert saved.scale.salt_score == 21.4
    with transaction(clinic) as session:
        score = session.scalars(select(models.ScaleScore)).one()
        assert (score.salt_score, score.salt_vertex_pct, score.salt_posterior_pct, score.salt_left_pct,
                score.salt_right_pct) == (21.4, 10, 20, 30, 40)


@pytest.mark.parametrize(
    ("density", "status", "change", "change_pct"),
    # Baseline 150 → noise 15: ahead above 19.35 + 15 = 34.35, behind below 4.35 − 15 = −10.65 (band below).
    [(185.0, "ahead", 35.0, 23.33), (170.0, "on_track", 20.0, 13.33), (165.0, "on_track", 15.0, 10.0),
     (140.0, "on_track", -10.0, -6.67), (135.0, "behind", -15.0, -10.0)],
)
def test_visit_at_three_months_is_judged_in_the_early_response_window(clinic, density, status, change, change_pct):
    patient_id = add_patient(clinic)
    log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=150.0), today=TODAY)
    add_session(clinic, patient_id, date(2025, 1, 15))  # day 0

    saved = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 4, 15), vertex=density), today=TODAY)

    (site,) = saved.sites
    assert saved.day0 == date(2025, 1, 15)
    assert site.milestone == "early_response"  # window 15 Mar – 15 Apr, both ends included
    assert site.milestone_label.startswith("Early response")
    # 90 days = 2.9569 months; band = (−10 + 0.9569 × 15, 5 + 0.9569 × 15) = (4.35, 19.35)
    assert site.months == pytest.approx(2.9569, abs=1e-4)
    assert site.expected_low == pytest.approx(4.35, abs=0.01)
    assert site.expected_high == pytest.approx(19.35, abs=0.01)
    assert (site.baseline_date, site.baseline_density) == (date(2025, 1, 10), 150.0)
    assert site.change == pytest.approx(change)
    assert site.change_pct == pytest.approx(change_pct, abs=0.01)
    assert site.status == status


def test_visit_between_windows_has_no_milestone_but_is_judged_against_the_band(clinic):
    patient_id = add_patient(clinic)
    log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=150.0), today=TODAY)
    add_session(clinic, patient_id, date(2025, 1, 15))
    saved = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 5, 20), vertex=160.0), today=TODAY)
    (site,) = saved.sites
    # 125 days = 4.1068 months; band between month 3 (5, 20) and 6 (10, 35): share 0.3689
    assert site.milestone is None
    assert site.expected_low == pytest.approx(6.84, abs=0.01)
    assert site.expected_high == pytest.approx(25.53, abs=0.01)
    assert site.status == "on_track"


def test_visit_on_day_zero_records_the_baseline_and_a_new_site_without_one_says_so(clinic):
    patient_id = add_patient(clinic)
    add_session(clinic, patient_id, date(2025, 1, 15))
    saved = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 15), vertex=150.0), today=TODAY)
    assert saved.sites[0].status == BASELINE_RECORDED
    saved = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 4, 10), vertex=160.0, crown=90.0), today=TODAY)
    by_site = {s.site: s for s in saved.sites}
    assert by_site["vertex"].status == "on_track"
    assert by_site["crown"].status == "no_baseline" and by_site["crown"].change is None


# --- refusals: everything listed, nothing written --------------------------------------------------------


def test_every_problem_is_listed_and_nothing_is_written(clinic):
    add_patient(clinic)
    before = counts(clinic)
    entry = VisitEntry(
        date=date(2025, 6, 2),  # tomorrow
        sites=(SiteEntry("vertex", 0), SiteEntry("frontal", 700, terminal_pct=120),
               SiteEntry("crown", None, anagen_pct=-1), SiteEntry("Left temporal", 100)),
        scale=ScaleEntry("salt", vertex_pct=101, posterior_pct=0, left_pct=0, right_pct=0),
    )
    photos = [PhotoUpload("vertex", "scan.pdf", b"%PDF-1.7 a consent form"),
              PhotoUpload("frontal", "ok.jpg", jpeg())]
    with pytest.raises(ValidationError) as error:
        log_visit(CLINICIAN, "RT-0001", entry, photos, today=TODAY)
    problems = error.value.problems
    text = "\n".join(problems)
    assert "visit date 2025-06-02 is in the future" in text
    assert "density at vertex 0 is out of range" in text
    assert "density at frontal 700 is out of range" in text
    assert "terminal % at frontal 120" in text
    assert "density at crown is required" in text and "anagen % at crown -1" in text
    assert "site 'left temporal' may contain only" in text
    assert "SALT vertex (top) % hair loss 101" in text
    assert 'Vertex photo: The file "scan.pdf" is a PDF document, not a photo' in text
    assert not any("ok.jpg" in p for p in problems)
    assert len(problems) == 9
    assert counts(clinic) == before
    assert stored_files() == []


def test_visit_before_birth_is_refused(clinic):
    add_patient(clinic, birth_date=date(1990, 1, 1))
    with pytest.raises(ValidationError) as error:
        log_visit(CLINICIAN, "RT-0001", visit(date(1989, 12, 31), vertex=150.0), today=TODAY)
    assert "before the patient's birth date 1990-01-01" in error.value.problems[0]


def test_an_empty_visit_is_refused(clinic):
    add_patient(clinic)
    with pytest.raises(ValidationError, match="nothing to record"):
        log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 1, 10), sites=(SiteEntry("vertex"),),
                                                   scale=ScaleEntry("norwood")), today=TODAY)


def test_a_refused_photo_after_a_stored_one_leaves_no_row_and_no_file(clinic):
    add_patient(clinic)
    before = counts(clinic)
    photos = [PhotoUpload("vertex", "good.jpg", jpeg()), PhotoUpload("occipital", "empty.jpg", b"")]
    with pytest.raises(ValidationError) as error:
        log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=150.0), photos, today=TODAY)
    assert error.value.problems == ['Occipital photo: The file "empty.jpg" is empty (0 bytes). '
                                    'Upload a JPEG, PNG, WebP or HEIC image.']
    assert counts(clinic) == before
    assert stored_files() == []


def test_a_failure_after_the_photos_were_written_removes_them(clinic, monkeypatch):
    add_patient(clinic)
    before = counts(clinic)

    def broken_audit(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("tracker.records.visits.audit.record", broken_audit)
    with pytest.raises(RuntimeError):
        log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=150.0),
                  [PhotoUpload("vertex", "a.jpg", jpeg()), PhotoUpload("frontal", "b.jpg", jpeg(colour=(1, 2, 3)))],
                  today=TODAY)
    monkeypatch.undo()
    assert counts(clinic) == before
    assert stored_files() == []


def test_the_same_photo_twice_for_one_view_is_refused_by_name(clinic):
    add_patient(clinic)
    data = jpeg()
    with pytest.raises(ValidationError) as error:
        log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=150.0),
                  [PhotoUpload("vertex", "a.jpg", data), PhotoUpload("vertex", "copy.jpg", data)], today=TODAY)
    assert error.value.problems == ['Vertex photo "copy.jpg": this is the same photo as "a.jpg"; attach it once']
    # The same file for two different views is fine.
    saved = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=150.0),
                      [PhotoUpload("vertex", "a.jpg", data), PhotoUpload("closeup", "a.jpg", data)], today=TODAY)
    assert [p.view for p in saved.photos] == ["vertex", "closeup"]


@pytest.mark.parametrize("actor", [Actor(username="ana", role="patient", patient_id=1), None,
                                   Actor(username="x", role="superuser")])
def test_only_staff_may_log_visits(clinic, actor):
    add_patient(clinic)
    before = counts(clinic)
    with pytest.raises(PermissionDenied):
        log_visit(actor, "RT-0001", visit(date(2025, 1, 10), vertex=150.0), today=TODAY)
    with pytest.raises(PermissionDenied):
        visit_form_defaults(actor, "RT-0001")
    assert counts(clinic) == before


def test_unknown_or_deleted_patient(clinic):
    with pytest.raises(NotFound):
        log_visit(CLINICIAN, "NOPE", visit(date(2025, 1, 10), vertex=150.0), today=TODAY)
    with pytest.raises(NotFound):
        visit_form_defaults(CLINICIAN, "NOPE")


def test_the_very_same_visit_is_not_recorded_twice(clinic):
    """A double click or a retry after a committed save is refused; a different visit that day is offered to be
    added to the one recorded (issue #12: never a second visit on the same day)."""
    from tracker.access.actors import Actor
    from tracker.errors import ValidationError
    from tracker.records.patient_intake import NewPatient, create_patient
    from tracker.records.visit_form import SiteEntry, VisitEntry
    from tracker.records.visits import log_visit

    staff = Actor("dr.twice", "clinician")
    create_patient(staff, NewPatient(mrn="TW-1", full_name="Twice Tested", sex="male", birth_date="1980-01-01",
                                     condition="androgenetic_alopecia", baseline_scale="norwood",
                                     baseline_stage="III", target_areas="vertex"), url=clinic)
    entry = VisitEntry(date="2026-01-10", sites=[SiteEntry("vertex", 150)])
    log_visit(staff, "TW-1", entry, url=clinic, today=date(2026, 2, 1))
    with pytest.raises(ValidationError, match="already recorded"):
        log_visit(staff, "TW-1", entry, url=clinic, today=date(2026, 2, 1))
    with pytest.raises(SameDayVisit, match="A visit of 2026-01-10 is already recorded for this patient"):
        log_visit(staff, "TW-1", VisitEntry(date="2026-01-10", sites=[SiteEntry("vertex", 152)]), url=clinic,
                  today=date(2026, 2, 1))


# --- the global photographic assessment (−3 … +3) and satisfaction (0–10) --------------------------------

GLOBAL_RANGE = "choose a score from −3 (greatly decreased) to +3 (greatly increased)"
SATISFACTION_RANGE = "choose a score from 0 (not at all satisfied) to 10 (completely satisfied)"


@pytest.mark.parametrize(("assessment", "satisfaction", "message"), [
    (-4, None, f"global photographic assessment −4 is out of range: {GLOBAL_RANGE}"),
    (4, None, f"global photographic assessment +4 is out of range: {GLOBAL_RANGE}"),
    (2.5, None, f"global photographic assessment 2.5 is not a whole number: {GLOBAL_RANGE}"),
    ("abc", None, f"global photographic assessment 'abc' is not a number: {GLOBAL_RANGE}"),
    (True, None, f"global photographic assessment 'True' is not a number: {GLOBAL_RANGE}"),
    (None, 11, f"patient satisfaction 11 is out of range: {SATISFACTION_RANGE}"),
    (None, -1, f"patient satisfaction −1 is out of range: {SATISFACTION_RANGE}"),
    (None, "7.5", f"patient satisfaction 7.5 is not a whole number: {SATISFACTION_RANGE}"),
    (None, "lots", f"patient satisfaction 'lots' is not a number: {SATISFACTION_RANGE}"),
])
def test_ratings_out_of_their_scale_are_refused_by_name_and_nothing_is_written(clinic, assessment, satisfaction,
                                                                                message):
    add_patient(clinic)
    before = counts(clinic)
    entry = VisitEntry(date=date(2025, 1, 10), sites=(SiteEntry("vertex", 150.0),), global_assessment=assessment,
                       satisfaction=satisfaction)
    with pytest.raises(ValidationError) as error:
        log_visit(CLINICIAN, "RT-0001", entry, today=TODAY)
    assert error.value.problems == [message]
    assert str(error.value) == f"The visit was not saved: {message}"
    assert counts(clinic) == before


@pytest.mark.parametrize(("assessment", "satisfaction", "stored"), [
    ("", "  ", (None, None)),  # blank boxes: not asked at this visit
    (None, None, (None, None)),
    ("−2", "0", (-2, 0)),  # the typographic minus the form and the chart print
    ("+3", 10, (3, 10)),
    (-3, 7.0, (-3, 7)),  # a whole number typed as 7.0
])
def test_ratings_are_saved_with_the_visit_and_audited(clinic, assessment, satisfaction, stored):
    add_patient(clinic)
    entry = VisitEntry(date=date(2025, 1, 10), sites=(SiteEntry("vertex", 150.0),), global_assessment=assessment,
                       satisfaction=satisfaction)
    saved = log_visit(CLINICIAN, "RT-0001", entry, today=TODAY)
    assert (saved.global_assessment, saved.satisfaction) == stored
    with transaction(clinic) as session:
        row = session.scalars(select(models.Visit)).one()
        assert (row.global_assessment, row.satisfaction) == stored
        detail = session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "create")).one()
    if stored == (-2, 0):
        assert detail.endswith(", global assessment −2 Moderately decreased, satisfaction 0/10")
    elif stored == (None, None):
        assert "assessment" not in detail and "satisfaction" not in detail


def test_a_visit_with_only_the_ratings_is_recorded_and_a_changed_rating_is_a_correction(clinic):
    """Rating the photos needs no density that day; the same ratings again the same day are a double click;
    different ones are offered to be added to that day's visit, where a different rating is a correction."""
    add_patient(clinic)
    only = VisitEntry(date=date(2025, 3, 1), global_assessment=1, satisfaction=6)
    saved = log_visit(CLINICIAN, "RT-0001", only, today=TODAY)
    assert (saved.sites, saved.global_assessment, saved.satisfaction) == ((), 1, 6)
    with pytest.raises(ValidationError, match="already recorded"):
        log_visit(CLINICIAN, "RT-0001", only, today=TODAY)
    changed = VisitEntry(date=date(2025, 3, 1), global_assessment=2)
    with pytest.raises(SameDayVisit) as offer:
        log_visit(CLINICIAN, "RT-0001", changed, today=TODAY)
    with pytest.raises(ValidationError, match=r"already has a global photographic assessment \(1\); to change it"):
        log_visit(CLINICIAN, "RT-0001", changed, today=TODAY, add_to=offered(offer.value))
    assert counts(clinic)["Visit"] == 1
    with pytest.raises(ValidationError, match="enter a density, a scale score, a global assessment, a satisfaction"):
        log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 3, 2), global_assessment="", satisfaction=" "),
                  today=TODAY)


# --- issue #12: plausibility, one visit per date, photos added later, remembered set-up --------------------


def test_an_unlikely_density_is_asked_about_and_saved_once_acknowledged(clinic):
    add_patient(clinic)
    log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=120.0, frontal=150.0), today=TODAY)
    before = counts(clinic)
    # 58,3 typed where the number box dropped the comma: 583 is 386% above 120 ((583 − 120) / 120).
    with pytest.raises(NeedsConfirmation) as asked:
        log_visit(CLINICIAN, "RT-0001", visit(date(2025, 4, 10), vertex=583.0, frontal=140.0), today=TODAY)
    assert asked.value.warnings == (
        "Vertex density 583 hairs/cm² is 386% above the previous visit's 120 (2025-01-10): check the value",)
    assert counts(clinic) == before  # nothing written, not even an audit entry
    # Acknowledging another sentence does not confirm this one.
    with pytest.raises(NeedsConfirmation):
        log_visit(CLINICIAN, "RT-0001", visit(date(2025, 4, 10), vertex=583.0), today=TODAY,
                  acknowledged=["Vertex density 580 hairs/cm² is 383% above the previous visit's 120 (2025-01-10): "
                                "check the value"])
    saved = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 4, 10), vertex=583.0, frontal=140.0), today=TODAY,
                      acknowledged=asked.value.warnings)
    assert [s.density for s in saved.sites] == [583.0, 140.0]


def test_a_density_half_the_previous_one_is_asked_about_and_one_a_little_more_is_not(clinic):
    add_patient(clinic)
    log_visit(CLINICIAN, "RT-0001", visit(date(2025, 1, 10), vertex=120.0), today=TODAY)
    with pytest.raises(NeedsConfirmation, match=r"Vertex density 12 hairs/cm² is 90% below the previous visit's 120"):
        log_visit(CLINICIAN, "RT-0001", visit(date(2025, 4, 10), vertex=12.0), today=TODAY)
    log_visit(CLINICIAN, "RT-0001", visit(date(2025, 4, 10), vertex=61.0), today=TODAY)  # −49%: not asked


def test_a_visit_long_before_the_first_session_is_asked_about(clinic):
    patient_id = add_patient(clinic)
    add_session(clinic, patient_id, date(2025, 3, 1))
    with pytest.raises(NeedsConfirmation, match=r"Visit date 2024-02-29 is 366 days before the first treatment "
                                                r"session \(2025-03-01\), more than a year"):
        log_visit(CLINICIAN, "RT-0001", visit(date(2024, 2, 29), vertex=150.0), today=TODAY)
    log_visit(CLINICIAN, "RT-0001", visit(date(2024, 3, 1), vertex=150.0), today=TODAY)  # 365 days: a year, not more


def test_a_second_visit_on_a_date_is_offered_and_adding_merges_into_one(clinic):
    add_patient(clinic)
    first = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 3, 1), vertex=150.0),
                      [PhotoUpload("vertex", "top.jpg", jpeg())], today=TODAY)
    later = VisitEntry(date="2025-03-01", sites=(SiteEntry("vertex", 150.0), SiteEntry("frontal", 130.0)),
                       scale=ScaleEntry("ludwig", stage="II"), satisfaction="7", notes="occipital photo taken late")
    photos = [PhotoUpload("occipital", "back.jpg", jpeg(colour=(30, 40, 50)))]
    with pytest.raises(SameDayVisit, match="A visit of 2025-03-01 is already recorded for this patient") as offer:
        log_visit(CLINICIAN, "RT-0001", later, photos, today=TODAY)
    assert offer.value.visit_id == first.visit_id
    added = log_visit(CLINICIAN, "RT-0001", later, photos, today=TODAY, add_to=offered(offer.value))
    assert (added.visit_id, added.added_to_existing) == (first.visit_id, True)
    with transaction(clinic) as session:
        (row,) = session.scalars(select(models.Visit)).all()
        assert sorted((m.site, m.density_per_cm2) for m in row.measurements) == [("frontal", 130.0),
                                                                                ("vertex", 150.0)]
        assert sorted(session.scalars(select(models.Photo.view))) == ["occipital", "vertex"]
        assert session.scalars(select(models.ScaleScore.stage)).one() == "II"
        assert (row.satisfaction, row.notes, row.version) == (7, "occipital photo taken late", 2)
        assert session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "update")).one() \
            == f"added to visit {first.visit_id} on 2025-03-01: 1 measurement(s), scale ludwig, 1 photo(s), " \
               "satisfaction 7/10"


def test_adding_a_different_value_for_a_measured_site_or_scored_scale_is_refused_as_a_correction(clinic):
    add_patient(clinic)
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 3, 1), sites=(SiteEntry("vertex", 150.0),),
                                               scale=ScaleEntry("ludwig", stage="II")), today=TODAY)
    before = counts(clinic)
    clash = VisitEntry(date=date(2025, 3, 1), sites=(SiteEntry("vertex", 155.0),), scale=ScaleEntry("ludwig",
                                                                                                  stage="III"))
    with pytest.raises(SameDayVisit) as offer:
        log_visit(CLINICIAN, "RT-0001", clash, today=TODAY)
    with pytest.raises(ValidationError) as refused:
        log_visit(CLINICIAN, "RT-0001", clash, [PhotoUpload("occipital", "back.jpg", jpeg())], today=TODAY,
                  add_to=offered(offer.value))
    assert refused.value.problems == [
        "Vertex is already measured at the visit of 2025-03-01 (150 hairs/cm²); to change it, correct that visit "
        "from the patient record (leave the site blank here)",
        "the visit of 2025-03-01 already has a scale score; to change it, correct that visit from the patient record "
        "(leave the scale blank here)",
    ]
    assert counts(clinic) == before


def test_photos_are_added_to_a_recorded_visit_against_the_version_seen(clinic):
    from tracker.errors import ConflictError
    from tracker.records.history import soft_delete
    from tracker.records.visit_photos import add_photos

    add_patient(clinic)
    saved = log_visit(CLINICIAN, "RT-0001", visit(date(2025, 3, 1), vertex=150.0), today=TODAY)
    added = add_photos(CLINICIAN, saved.visit_id, [PhotoUpload("occipital", "back.jpg", jpeg())], expected_version=1)
    assert (added.date, [p.view for p in added.photos], added.version) == (date(2025, 3, 1), ["occipital"], 2)
    with pytest.raises(ConflictError, match="Someone else changed this record"):
        add_photos(CLINICIAN, saved.visit_id, [PhotoUpload("frontal", "f.jpg", jpeg(colour=(1, 2, 3)))],
                   expected_version=1)
    with pytest.raises(ValidationError, match="No photo was added: Occipital photo"):
        add_photos(CLINICIAN, saved.visit_id, [PhotoUpload("occipital", "again.jpg", jpeg())], expected_version=2)
    with pytest.raises(ValidationError, match="choose a photo for a view first"):
        add_photos(CLINICIAN, saved.visit_id, [], expected_version=2)
    soft_delete(CLINICIAN, "visit", saved.visit_id, "entered for the wrong patient")
    with pytest.raises(ConflictError, match="This visit was removed"):
        add_photos(CLINICIAN, saved.visit_id, [PhotoUpload("frontal", "f.jpg", jpeg(colour=(1, 2, 3)))])
    with pytest.raises(NotFound):
        add_photos(CLINICIAN, 999_999, [PhotoUpload("frontal", "f.jpg", jpeg(colour=(1, 2, 3)))])
    with pytest.raises(PermissionDenied):
        add_photos(Actor("ana", "patient", patient_id=1), saved.visit_id,
                   [PhotoUpload("frontal", "f.jpg", jpeg(colour=(1, 2, 3)))])
    assert counts(clinic)["Photo"] == 1


def test_form_defaults_carry_the_previous_visits_device_and_capture_checklist(clinic):
    add_patient(clinic)
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 1, 10), sites=(SiteEntry("vertex", 150.0),),
                                               capture={"dry_hair": True, "same_lighting": True},
                                               device="FotoFinder"), today=TODAY)
    # A later visit without photos or set-up (ratings only) does not erase what to start from.
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 2, 10), satisfaction=6), today=TODAY)
    defaults = visit_form_defaults(CLINICIAN, "RT-0001")
    assert defaults.device == "FotoFinder"
    assert defaults.capture == {"dry_hair": True, "same_parting": False, "same_distance": False,
                                "same_lighting": True}


def test_form_defaults_take_the_latest_photographed_visits_set_up_even_all_unticked(clinic):
    add_patient(clinic)
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 1, 10), sites=(SiteEntry("vertex", 150.0),),
                                               capture={"dry_hair": True, "same_lighting": True},
                                               device="FotoFinder"), today=TODAY)
    # The next visit's photos were taken with nothing confirmed and no device named: that is what was recorded.
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 3, 10), sites=(SiteEntry("vertex", 152.0),)),
              [PhotoUpload("vertex", "top.jpg", jpeg())], today=TODAY)
    defaults = visit_form_defaults(CLINICIAN, "RT-0001")
    assert defaults.device == ""
    assert defaults.capture == {"dry_hair": False, "same_parting": False, "same_distance": False,
                                "same_lighting": False}


def test_adding_goes_only_to_the_visit_offered_as_it_was_offered(clinic):
    """Issue #12 review: the offer of 2026-04-02 was accepted after the date box was changed to 2026-07-12 (another
    visit), and the values went to 2026-07-12. Now the offered visit is named by id and version."""
    add_patient(clinic)
    today = date(2026, 8, 1)
    april = log_visit(CLINICIAN, "RT-0001", visit(date(2026, 4, 2), vertex=150.0), today=today)
    july = log_visit(CLINICIAN, "RT-0001", visit(date(2026, 7, 12), vertex=152.0), today=today)
    late = VisitEntry(date=date(2026, 4, 2), sites=(SiteEntry("frontal", 130.0),))
    with pytest.raises(SameDayVisit) as offer:
        log_visit(CLINICIAN, "RT-0001", late, today=today)
    april_offer = offered(offer.value)
    assert (april_offer.visit_id, april_offer.date, april_offer.version) == (april.visit_id, date(2026, 4, 2), 1)
    before = counts(clinic)

    moved = replace(late, date=date(2026, 7, 12))  # the date box changed before the button was pressed
    with pytest.raises(SameDayVisit, match="the visit offered was the one of 2026-04-02, but the visit date now "
                                           "reads 2026-07-12") as again:
        log_visit(CLINICIAN, "RT-0001", moved, today=today, add_to=april_offer)
    assert again.value.visit_id == july.visit_id  # asked afresh about the other visit, nothing added to it
    with pytest.raises(ValidationError, match="reads 2026-07-13, which has no visit"):
        log_visit(CLINICIAN, "RT-0001", replace(late, date=date(2026, 7, 13)), today=today, add_to=april_offer)
    with transaction(clinic) as session:  # someone adds to the April visit meanwhile: its version moves on
        session.get(models.Visit, april.visit_id).version += 1
    with pytest.raises(ConflictError, match="The visit of 2026-04-02 was changed by someone else"):
        log_visit(CLINICIAN, "RT-0001", late, today=today, add_to=april_offer)
    assert counts(clinic) == before

    added = log_visit(CLINICIAN, "RT-0001", late, today=today, add_to=replace(april_offer, version=2))
    assert (added.visit_id, added.added_to_existing) == (april.visit_id, True)
    with transaction(clinic) as session:
        sites = session.execute(select(models.DensityMeasurement.visit_id, models.DensityMeasurement.site)
                                .order_by(models.DensityMeasurement.id)).all()
    assert sites == [(april.visit_id, "vertex"), (july.visit_id, "vertex"), (april.visit_id, "frontal")]
