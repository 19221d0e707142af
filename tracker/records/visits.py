"""Logging a follow-up visit: density per site, a scale score, standard-view photos, capture conditions.

``log_visit`` is the one use case behind the "Log visit" page. It checks everything the clinician typed
and every photo, then writes the visit, its measurements, its scale score and its photos in one
transaction: any problem means nothing is written (no rows, and no photo files, since the photo store
removes its files when the transaction rolls back). It answers with where the visit puts the patient on
the expected course, per site, so the page can show it at once.

The form itself (``VisitEntry``, ``PhotoUpload``) and its checks that need no database are in
``tracker.records.visit_form``; the form's starting point and the recorded values a visit is compared with are
read in ``tracker.records.recorded_visits``; this module adds the checks that need the patient and the photo files,
and saves.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_patient_access, require_role
from tracker.clinic_dates import show_date
from tracker.course.calendar_months import months_between
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.milestones import (
    NO_BASELINE,
    ON_TRACK,
    Progress,
    Protocol,
    classify,
    expected_band,
    noise_for,
)
from tracker.course.protocols import to_engine
from tracker.course.scales import ScaleScore
from tracker.course.vocabulary import assessment_words, milestone_words, site_words
from tracker.database import transaction
from tracker.errors import ConflictError, NeedsConfirmation, SameDayVisit, ValidationError
from tracker.photos.intake import prepare_photo
from tracker.photos.store import PhotoStore
from tracker.progress.patient_progress import density_progress, find_patient, patient_progress
from tracker.records.photo_saving import SavedPhoto, store_visit_photos, visit_refusal
from tracker.records.plausibility import density_warnings, unacknowledged, visit_date_warnings
from tracker.records.recorded_visits import first_session_date, recorded_densities
from tracker.records.visit_form import (
    CAPTURE_CHECKS,
    CheckedVisit,
    Measurement,
    PhotoUpload,
    VisitEntry,
    check_entry,
    photo_problem,
)
from tracker.validation import check_not_before_birth

BASELINE_RECORDED = "baseline_recorded"
# A density measured for a patient on a SALT protocol: change shown, not judged (the band is in % of SALT).
DENSITY_RECORDED = "density_recorded"


@dataclass(frozen=True)
class SiteOutcome:
    """Where this visit's measurement of one site puts the patient.

    ``status`` is ``baseline_recorded`` for a visit on or before day 0 (or before any session), else one
    of the engine's ``ahead``, ``on_track``, ``behind`` or ``no_baseline``; for a patient on a SALT protocol
    a density after day 0 with a baseline is ``density_recorded`` (change given, no band, not judged).
    ``milestone`` is the window the visit fell in, None between windows (the band still applies there).
    """

    site: str
    density: float
    status: str
    milestone: str | None = None
    milestone_label: str | None = None
    months: float | None = None
    baseline_date: date | None = None
    baseline_density: float | None = None
    change: float | None = None
    change_pct: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None


@dataclass(frozen=True)
class VisitSaved:
    """The saved visit and what it means, as plain data for the page."""

    visit_id: int
    mrn: str
    date: datetime.date
    day0: datetime.date | None  # `date` above shadows the type inside the class body
    sites: tuple[SiteOutcome, ...]
    scale: ScaleScore | None
    photos: tuple[SavedPhoto, ...]
    capture_missing: tuple[str, ...]  # labels of unticked capture checks
    protocol_name: str
    evidence_note: str
    global_assessment: int | None = None  # −3 … +3 (vocabulary.assessment_words), None: not assessed
    satisfaction: int | None = None  # 0–10, None: not asked
    added_to_existing: bool = False  # True: the photos and values were added to the visit already on that date


@dataclass(frozen=True)
class OfferedVisit:
    """The visit a refused save offered to add to (from ``SameDayVisit``): its id, its date and its version then.
    Adding goes to this visit only, and only while the form's date is still its date and nobody changed it."""

    visit_id: int
    date: datetime.date
    version: int


def log_visit(
    actor: Actor,
    mrn: str,
    entry: VisitEntry,
    photos: Sequence[PhotoUpload] = (),
    url: str | None = None,
    *,
    today: date | None = None,
    store: PhotoStore | None = None,
    acknowledged: Collection[str] = (),
    add_to: OfferedVisit | None = None,
) -> VisitSaved:
    """Record a visit with its measurements, scale score and photos in one transaction.

    One visit per patient and date: when the patient already has a (live) visit on this date, nothing is
    saved and ``SameDayVisit`` offers to add to it; with ``add_to`` (that offer) the photos are added to that visit
    and so are the values it does not have yet (a site or scale score it already has with another value is a
    correction, refused here). Adding never goes to another visit: when the form's date now has another visit,
    ``SameDayVisit`` offers that one instead; when it has none, ``ValidationError``; when the offered visit changed
    since the offer, ``ConflictError`` (nothing is saved in each case). Unlikely values
    (``tracker.records.plausibility``) raise ``NeedsConfirmation`` with a sentence each, unless every sentence is
    among ``acknowledged`` (the warnings the clinician confirmed).

    Raises ValidationError listing every problem (nothing is written then), NotFound for an unknown MRN,
    PermissionDenied for anyone but staff. ``today`` (default: the server's date) bounds the visit date.
    """
    require_role(actor, *STAFF)
    checked = check_entry(entry, photos, today or date.today())

    with transaction(url) as session:
        patient = find_patient(session, mrn)
        require_patient_access(actor, patient.id)
        visit_date = _refuse_problems(checked, patient.birth_date, photos)
        _refuse_resubmission(session, patient.id, visit_date, checked, photos)
        existing = _visit_on(session, patient.id, visit_date)
        if add_to is not None:
            _check_offer(existing, add_to, visit_date)
        elif existing is not None:
            raise SameDayVisit(
                f"A visit of {show_date(visit_date)} is already recorded for this patient: nothing was saved. Add "
                "these photos and values to that visit, or check the date.", existing.id, visit_date,
                existing.version)
        new_measurements = _refuse_clashes(session, existing, checked) if existing else checked.measurements
        _ask_unless_acknowledged(session, patient.id, visit_date, new_measurements, existing, acknowledged)
        if existing is None:
            visit = _add_visit(session, actor, patient.id, visit_date, checked)
        else:
            visit = _add_to_visit(session, actor, existing, new_measurements, checked)
        saved_photos = store_visit_photos(session, actor, visit.id, photos, checked.contents, store)
        session.flush()

        scale = checked.scale
        detail = (
            f"visit {visit.id} on {visit_date.isoformat()}: {len(new_measurements)} measurement(s), "
            f"{'scale ' + scale.scale if scale else 'no scale'}, {len(saved_photos)} photo(s)"
            + _ratings_detail(checked)
        )
        if existing is not None:
            detail = "added to " + detail
        audit.record(session, actor, "create" if existing is None else "update", patient_id=patient.id,
                     detail=detail)
        saved = _visit_saved(session, patient, visit.id, visit_date, checked, saved_photos)
        return replace(saved, added_to_existing=existing is not None)


def _check_offer(existing: models.Visit | None, offer: OfferedVisit, visit_date: date) -> None:
    """Refuse to add anywhere but to the visit offered, as it was offered (``log_visit``)."""
    offered, now = show_date(offer.date), show_date(visit_date)
    if existing is None:
        raise ValidationError(
            f"Nothing was saved: the visit offered was the one of {offered}, but the visit date now reads {now}, "
            f"which has no visit. Put back {offered} to add to that visit, or save the form as a new visit.")
    if existing.id != offer.visit_id:
        raise SameDayVisit(
            f"Nothing was saved: the visit offered was the one of {offered}, but the visit date now reads {now}, "
            f"and a visit of {now} is already recorded for this patient. Add these photos and values to the visit "
            f"of {now}, or check the date.", existing.id, visit_date, existing.version)
    if existing.version != offer.version:
        raise ConflictError(
            f"The visit of {offered} was changed by someone else since it was offered: nothing was saved. Save "
            "the form again to be offered that visit as it is now.")


def _visit_on(session: Session, patient_id: int, visit_date: date) -> models.Visit | None:
    """The patient's live visit on ``visit_date`` (the first recorded, should an older record hold two)."""
    return session.scalars(
        select(models.Visit)
        .where(models.Visit.patient_id == patient_id, models.Visit.date == visit_date,
               models.Visit.deleted_at.is_(None))
        .order_by(models.Visit.id).limit(1).with_for_update()
    ).first()


def _refuse_clashes(session: Session, visit: models.Visit, checked: CheckedVisit) -> tuple[Measurement, ...]:
    """What the form adds to ``visit``: its measurements of sites the visit does not have yet.

    A site, scale score or rating the visit already has is skipped when the same and refused when different
    (changing a recorded value is a correction, made with its reason from the patient record).
    """
    day = show_date(visit.date)
    problems: list[str] = []
    recorded = {m.site: m for m in visit.measurements if m.deleted_at is None}
    new: list[Measurement] = []
    for m in checked.measurements:
        old = recorded.get(m.site)
        if old is None:
            new.append(m)
        elif (round(old.density_per_cm2, 2), old.shaft_diameter_um, old.terminal_pct, old.anagen_pct) != (
                round(m.density, 2), m.shaft_diameter_um, m.terminal_pct, m.anagen_pct):
            problems.append(
                f"{site_words(m.site)} is already measured at the visit of {day} ({old.density_per_cm2:g} "
                f"hairs/cm²); to change it, correct that visit from the patient record (leave the site blank here)")
    scale = checked.scale
    old_scale = _live_scale(session, visit.id)
    if scale is not None and old_scale is not None and (
            old_scale.scale, old_scale.stage, old_scale.salt_score) != (scale.scale, scale.stage, scale.salt_score):
        problems.append(f"the visit of {day} already has a scale score; to change it, correct that visit from "
                        "the patient record (leave the scale blank here)")
    for label, old_value, value in (("global photographic assessment", visit.global_assessment,
                                     checked.global_assessment),
                                    ("patient satisfaction", visit.satisfaction, checked.satisfaction)):
        if old_value is not None and value is not None and old_value != value:
            problems.append(f"the visit of {day} already has a {label} ({old_value}); to change it, correct that "
                            "visit from the patient record")
    if problems:
        raise visit_refusal(problems)
    return tuple(new)


def _live_scale(session: Session, visit_id: int) -> models.ScaleScore | None:
    return session.scalars(select(models.ScaleScore).where(
        models.ScaleScore.visit_id == visit_id, models.ScaleScore.deleted_at.is_(None))).first()


def _add_to_visit(session: Session, actor: Actor, visit: models.Visit, measurements: Sequence[Measurement],
                  checked: CheckedVisit) -> models.Visit:
    """Add what ``visit`` does not have yet (checked by ``_refuse_clashes``): sites, a scale score, ratings,
    notes (appended), and the capture set-up when the visit had no photo (the set-up describes the photos)."""
    for m in measurements:
        session.add(models.DensityMeasurement(
            visit_id=visit.id, site=m.site, density_per_cm2=m.density, shaft_diameter_um=m.shaft_diameter_um,
            terminal_pct=m.terminal_pct, anagen_pct=m.anagen_pct, created_by=actor.username,
        ))
    if checked.scale is not None and _live_scale(session, visit.id) is None:
        session.add(scale_score_row(visit.id, checked.scale, actor.username))
    if visit.global_assessment is None:
        visit.global_assessment = checked.global_assessment
    if visit.satisfaction is None:
        visit.satisfaction = checked.satisfaction
    if checked.notes and checked.notes not in (visit.notes or ""):
        visit.notes = f"{visit.notes}\n\n{checked.notes}" if visit.notes else checked.notes
    had_photos = session.scalar(select(models.Photo.id).where(
        models.Photo.visit_id == visit.id, models.Photo.deleted_at.is_(None)).limit(1)) is not None
    conditions = dict(visit.capture_conditions or {})
    visit.capture_conditions = ({**conditions, **{k: v for k, v in checked.capture.items() if k not in conditions}}
                                if had_photos else {**conditions, **checked.capture})
    visit.version += 1
    return visit


def _ask_unless_acknowledged(session: Session, patient_id: int, visit_date: date,
                             measurements: Sequence[Measurement], existing: models.Visit | None,
                             acknowledged: Collection[str]) -> None:
    """Raise ``NeedsConfirmation`` for every unlikely value not yet confirmed (nothing is written before)."""
    recorded = recorded_densities(session, patient_id, leaving_out_visit=existing.id if existing else None)
    warnings = density_warnings(visit_date, [(m.site, m.density) for m in measurements], recorded)
    if existing is None:  # a visit already on this date was asked about when it was saved
        warnings = visit_date_warnings(visit_date, first_session_date(session, patient_id)) + warnings
    asked = unacknowledged(warnings, frozenset(acknowledged))
    if asked:
        raise NeedsConfirmation(asked)


def _ratings_detail(checked: CheckedVisit) -> str:
    """The visit's ratings for the audit trail, where given.

    >>> _ratings_detail(CheckedVisit(None, (), None, None, {}, (), (), global_assessment=-1, satisfaction=7))
    ', global assessment −1 Slightly decreased, satisfaction 7/10'
    """
    parts = []
    if checked.global_assessment is not None:
        parts.append(f"global assessment {assessment_words(checked.global_assessment)}")
    if checked.satisfaction is not None:
        parts.append(f"satisfaction {checked.satisfaction}/10")
    return "".join(f", {part}" for part in parts)


def _refuse_problems(checked: CheckedVisit, birth_date: date, photos: Sequence[PhotoUpload]) -> date:
    """The visit date, once the patient's birth date is checked too; any problem refuses the whole visit."""
    problems = list(checked.problems)
    visit_date = checked.visit_date
    if visit_date is not None:
        try:
            check_not_before_birth(visit_date, birth_date, "visit date")
        except ValidationError as error:
            problems.insert(0, str(error))
    if problems:
        # Check the photos too (without storing them) so the clinician sees every problem at once.
        for upload, content in zip(photos, checked.contents, strict=True):
            if upload.view in SCALP_VIEWS:
                try:
                    prepare_photo(content, upload.file_name)
                except ValidationError as error:
                    problems.append(photo_problem(upload, str(error)))
        raise visit_refusal(problems)
    if visit_date is None:  # an unusable date is always a problem above
        raise RuntimeError("log_visit: no visit date although the form raised no problem")
    return visit_date


def _add_visit(session: Session, actor: Actor, patient_id: int, visit_date: date,
               checked: CheckedVisit) -> models.Visit:
    """Add the visit, its measurements and its scale score (flushed, so the visit has its id)."""
    visit = models.Visit(
        patient_id=patient_id, date=visit_date, notes=checked.notes, capture_conditions=dict(checked.capture),
        global_assessment=checked.global_assessment, satisfaction=checked.satisfaction, created_by=actor.username,
    )
    session.add(visit)
    session.flush()
    for m in checked.measurements:
        session.add(models.DensityMeasurement(
            visit_id=visit.id, site=m.site, density_per_cm2=m.density, shaft_diameter_um=m.shaft_diameter_um,
            terminal_pct=m.terminal_pct, anagen_pct=m.anagen_pct, created_by=actor.username,
        ))
    if checked.scale is not None:
        session.add(scale_score_row(visit.id, checked.scale, actor.username))
    return visit


def scale_score_row(visit_id: int, scale: ScaleScore, created_by: str) -> models.ScaleScore:
    """The stored row of a checked scale score (a stage, or a SALT score with its regions when they were
    scored), as the visit form and the spreadsheet import store it."""
    return models.ScaleScore(
        visit_id=visit_id, scale=scale.scale, stage=scale.stage, salt_score=scale.salt_score,
        salt_vertex_pct=scale.vertex_pct, salt_posterior_pct=scale.posterior_pct,
        salt_left_pct=scale.left_pct, salt_right_pct=scale.right_pct, created_by=created_by,
    )


def _visit_saved(session: Session, patient: models.Patient, visit_id: int, visit_date: date,
                 checked: CheckedVisit, saved_photos: Sequence[SavedPhoto]) -> VisitSaved:
    """The saved visit as plain data, with where it puts the patient on the expected course."""
    protocol = to_engine(patient.protocol)
    progress = patient_progress(session, patient, as_of=visit_date)
    # A SALT protocol judges the SALT score; the density of this visit is reported without a band.
    densities = density_progress(session, patient.id, protocol, visit_date) if protocol.judged_on_salt else progress
    outcomes = tuple(_outcome(m, visit_date, densities, protocol) for m in checked.measurements)
    return VisitSaved(
        visit_id=visit_id,
        mrn=patient.mrn,
        date=visit_date,
        day0=progress.day0,
        sites=outcomes,
        scale=checked.scale,
        photos=tuple(saved_photos),
        capture_missing=tuple(label for key, label in CAPTURE_CHECKS.items() if not checked.capture[key]),
        protocol_name=protocol.name,
        evidence_note=protocol.evidence_note,
        global_assessment=checked.global_assessment,
        satisfaction=checked.satisfaction,
    )


def _refuse_resubmission(session: Session, patient_id: int, visit_date: date, checked: CheckedVisit,
                         photos: Sequence[PhotoUpload]) -> None:
    """Refuse the very same visit a second time (a double click, or a retry after a save that did commit).

    Same patient, date, densities per site, photos and ratings: never two real visits. Anything different
    on a date that already has a visit is offered to be added to it (``SameDayVisit``).
    """
    new = ({(m.site, round(m.density, 2)) for m in checked.measurements},
           {(u.view, content.sha256) for u, content in zip(photos, checked.contents, strict=True)},
           (checked.global_assessment, checked.satisfaction))
    same_day = session.scalars(select(models.Visit).where(
        models.Visit.patient_id == patient_id, models.Visit.date == visit_date, models.Visit.deleted_at.is_(None)))
    for visit in same_day:
        densities = set(session.execute(
            select(models.DensityMeasurement.site, models.DensityMeasurement.density_per_cm2)
            .where(models.DensityMeasurement.visit_id == visit.id, models.DensityMeasurement.deleted_at.is_(None))))
        shots = set(session.execute(
            select(models.Photo.view, models.Photo.sha256)
            .where(models.Photo.visit_id == visit.id, models.Photo.deleted_at.is_(None))))
        ratings = (visit.global_assessment, visit.satisfaction)
        if ({(site, round(d, 2)) for site, d in densities}, shots, ratings) == new:
            raise ValidationError(
                f"This visit is already recorded (visit of {show_date(visit_date)} with the same measurements "
                "and photos): nothing was saved again. Open the patient record to see it."
            )


def _outcome(measurement: Measurement, visit_date: date, progress: Progress, protocol: Protocol) -> SiteOutcome:
    """This visit's result for one site, judged like the milestone engine judges a milestone visit."""
    site = next(s for s in progress.sites if s.site == measurement.site)
    day0 = progress.day0
    if day0 is None or visit_date <= day0:
        return SiteOutcome(measurement.site, measurement.density, BASELINE_RECORDED)
    window = next((m for m in site.milestones if m.window_start <= visit_date <= m.window_end), None)
    months = months_between(day0, visit_date)
    band = expected_band(protocol, months)
    low, high = band if band else (None, None)
    outcome = SiteOutcome(
        site=measurement.site,
        density=measurement.density,
        status=NO_BASELINE,
        milestone=window.name if window else None,
        milestone_label=milestone_words(window.name) if window else None,
        months=months,
        expected_low=low,
        expected_high=high,
    )
    baseline = site.baseline
    if baseline is None:
        return outcome
    change = measurement.density - baseline.density
    if protocol.judged_on_salt:
        return replace(outcome, status=DENSITY_RECORDED, expected_low=None, expected_high=None,
                       baseline_date=baseline.date, baseline_density=baseline.density, change=change,
                       change_pct=change / baseline.density * 100 if baseline.density else None)
    return replace(
        outcome,
        status=classify(change, band[0], band[1], noise_for(baseline.density, protocol)) if band else ON_TRACK,
        baseline_date=baseline.date,
        baseline_density=baseline.density,
        change=change,
        change_pct=change / baseline.density * 100 if baseline.density else None,
    )
