"""The clinician's patients: the follow-up list, a new patient, the patient record and its corrections.

Services (each: check the actor, one transaction, audited, plain data back):

- ``list_patients``: every live patient with the next milestone, its status and due date, searchable by
  name or MRN and filtered to "due this week", "overdue" or "behind expected".
- ``protocol_names`` and ``create_patient``: the intake form.
- ``patient_record``: header, milestone strip, timeline of visits and sessions, concurrent therapies and
  the record's history.
- ``update_patient`` (and ``tracker.records.history.soft_delete``): corrections that keep the previous value,
  who changed it, when and why. Concurrent therapies are added and stopped in ``tracker.records.therapies``;
  the fields' rules are ``tracker.records.patient_fields``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import (
    PATIENT,
    ROLES,
    STAFF,
    Actor,
    require_patient_access,
    require_role,
)
from tracker.course.calendar_months import age_on
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.operations.database import transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError
from tracker.course.followup import ASSESSED, outlook
from tracker.records.history import (
    HistoryEntry,
    check_version,
    clean_reason,
    patient_history,
    reason_problems,
    record_change,
    refuse,
    soft_delete,
)
from tracker.course.vocabulary import (
    PATIENT_FILTER_WORDS,
    PatientFilter,
    condition_words,
    milestone_words,
    site_words,
    status_words,
    treatment_words,
)
from tracker.course.milestones import (
    AHEAD,
    BEHIND,
    DUE,
    MISSED,
    NO_BASELINE,
    ON_TRACK,
    DensityRecord,
    Progress,
    SessionRecord,
    assess,
)
from tracker.records.patient_fields import (
    collect,
    parse_baseline,
    parse_notes,
    parse_target_areas,
    typed_stage,
)
from tracker.progress.patient_progress import find_patient, patient_progress
from tracker.course.protocols import to_engine
from tracker.course.scales import scales_for, stages_for
from tracker.records.validation import (
    check_not_before_birth,
    parse_birth_date,
    parse_condition,
    parse_full_name,
    parse_mrn,
    parse_sex,
    search_words,
)

__all__ = [
    "FILTERS", "NewPatient", "PatientSummary", "PatientRecord", "list_patients", "protocol_names",
    "create_patient", "patient_record", "update_patient", "soft_delete", "scales_for", "stages_for",
]

# The patient list's filters (product issue): key → what the clinician sees.
DUE_THIS_WEEK, OVERDUE, BEHIND_EXPECTED = PatientFilter.DUE_THIS_WEEK, PatientFilter.OVERDUE, PatientFilter.BEHIND
FILTERS = PATIENT_FILTER_WORDS
DUE_SOON_DAYS = 7

# Fields ``update_patient`` accepts; ``protocol`` is given by name.
PATIENT_FIELDS = ("mrn", "full_name", "sex", "birth_date", "condition", "baseline_scale", "baseline_stage",
                  "target_areas", "protocol", "notes")
FIELD_LABELS = {
    "mrn": "MRN", "full_name": "name", "sex": "sex", "birth_date": "birth date", "condition": "condition",
    "baseline_scale": "baseline scale", "baseline_stage": "baseline stage", "target_areas": "target areas",
    "protocol": "protocol", "notes": "notes",
}


# --- Plain data handed to pages ---------------------------------------------------------------------

@dataclass(frozen=True)
class PatientSummary:
    """One row of the patient list."""

    mrn: str
    full_name: str
    age: int
    sex: str
    condition: str
    day0: date | None
    next_milestone: str | None
    next_milestone_label: str | None
    next_status: str | None
    next_due: date | None
    window_start: date | None
    window_end: date | None
    status_text: str
    overdue: bool
    behind: bool
    due_this_week: bool


@dataclass(frozen=True)
class NewPatient:
    """What the intake form collects; values as typed (text, or dates from a date picker).

    ``target_areas`` is comma-separated text or a list of sites; ``protocol`` a protocol's name (None: the
    default protocol); ``baseline_stage`` a stage (``"III"``) or, for SALT, a score 0–100.
    """

    mrn: str
    full_name: str
    sex: str
    birth_date: date | str | None
    condition: str
    baseline_scale: str | None = None
    baseline_stage: str | float | None = None
    target_areas: str | Sequence[str] = ""
    protocol: str | None = None
    notes: str = ""


@dataclass(frozen=True)
class PatientDetails:
    mrn: str
    full_name: str
    sex: str
    birth_date: date
    age: int
    condition: str
    condition_label: str
    baseline_scale: str | None
    baseline_stage: str | None
    target_areas: tuple[str, ...]
    protocol: str
    notes: str
    version: int


@dataclass(frozen=True)
class MilestoneStatus:
    """One milestone of the strip: all sites together, with a plain line per measured site."""

    name: str
    label: str
    window_start: date
    window_end: date
    target: date
    status: str
    status_text: str
    overdue: bool
    site_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteDensity:
    site: str
    density: float


@dataclass(frozen=True)
class PhotoItem:
    id: int
    view: str
    file_name: str
    version: int


@dataclass(frozen=True)
class TimelineEntry:
    """A visit or a treatment session, in date order on the record."""

    kind: str  # "visit" or "session"
    row_id: int
    date: date
    version: int
    title: str
    densities: tuple[SiteDensity, ...] = ()
    photos: tuple[PhotoItem, ...] = ()
    treatment: str | None = None
    product: str = ""
    lot_number: str = ""
    volume_ml: float | None = None
    areas: str = ""
    adverse_events: str = ""
    notes: str = ""


@dataclass(frozen=True)
class TherapyEntry:
    id: int
    name: str
    dose: str
    start: date
    stop: date | None
    active: bool
    version: int


@dataclass(frozen=True)
class PatientRecord:
    details: PatientDetails
    day0: date | None
    milestones: tuple[MilestoneStatus, ...]
    milestone_note: str | None
    timeline: tuple[TimelineEntry, ...]
    therapies: tuple[TherapyEntry, ...]
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)
    # For the correction form: the protocols this patient could follow instead, the default first.
    protocol_choices: tuple[str, ...] = ()


# --- Patient list -------------------------------------------------------------------------------------

def _status_text(progress: Progress, view) -> str:
    if progress.day0 is None:
        return "no treatment session yet"
    if not progress.sites:
        return "no density measured yet"
    parts: list[str] = []
    if view.overdue:
        if view.next_status == DUE and view.next_due and progress.as_of > view.next_due:
            parts.append(f"overdue: target date {view.next_due.isoformat()} passed")
        else:
            parts.append("overdue: a milestone window closed without a visit")
    elif view.next_status:
        parts.append(status_words(view.next_status).phrase)
    else:
        parts.append("all milestones assessed")
    if view.behind:
        parts.append(f"latest result {status_words(BEHIND).phrase}")
    return "; ".join(parts)


def _summary(patient: models.Patient, progress: Progress, today: date) -> PatientSummary:
    view = outlook(progress)
    return PatientSummary(
        mrn=patient.mrn,
        full_name=patient.full_name,
        age=age_on(patient.birth_date, today),
        sex=patient.sex,
        condition=patient.condition,
        day0=progress.day0,
        next_milestone=view.next_name,
        next_milestone_label=milestone_words(view.next_name) if view.next_name else None,
        next_status=view.next_status,
        next_due=view.next_due,
        window_start=view.next_window_start,
        window_end=view.next_window_end,
        status_text=_status_text(progress, view),
        overdue=view.overdue,
        behind=view.behind,
        due_this_week=view.due_within(today, DUE_SOON_DAYS),
    )


def _search_conditions(query: str) -> list:
    """Every word of the query must appear in the name or the MRN (case-insensitive)."""
    conditions = []
    for word in search_words(query):
        conditions.append(or_(
            func.lower(models.Patient.full_name).contains(word, autoescape=True),
            func.lower(models.Patient.mrn).contains(word, autoescape=True),
        ))
    return conditions


def list_patients(actor: Actor, query: str = "", filter: str | None = None, today: date | None = None,
                  url: str | None = None) -> list[PatientSummary]:
    """Live patients matching ``query`` (words found in name or MRN), sorted by name.

    ``filter``: None (all), ``"due_this_week"`` (next milestone window open within 7 days),
    ``"overdue"`` or ``"behind"`` (latest assessed milestone below the band on any site). All patients'
    sessions and measurements are read in two bulk queries, whatever the number of patients.
    """
    require_role(actor, *STAFF)
    if filter not in (None, "", *FILTERS):
        raise ValidationError(f"Unknown filter {filter!r}: use one of {', '.join(FILTERS)}.")
    today = today or date.today()
    where = [models.Patient.deleted_at.is_(None), *_search_conditions(query or "")]
    with transaction(url) as session:
        patients = list(session.scalars(select(models.Patient).where(*where)))
        sessions: dict[int, list[SessionRecord]] = {}
        for patient_id, day, treatment, product, lot in session.execute(
            select(models.TreatmentSession.patient_id, models.TreatmentSession.date,
                   models.TreatmentSession.treatment, models.TreatmentSession.product,
                   models.TreatmentSession.lot_number)
            .join(models.Patient, models.Patient.id == models.TreatmentSession.patient_id)
            .where(*where, models.TreatmentSession.deleted_at.is_(None))
        ):
            sessions.setdefault(patient_id, []).append(SessionRecord(day, treatment, product, lot))
        measurements: dict[int, list[DensityRecord]] = {}
        for patient_id, day, site, density in session.execute(
            select(models.Visit.patient_id, models.Visit.date, models.DensityMeasurement.site,
                   models.DensityMeasurement.density_per_cm2)
            .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
            .join(models.Patient, models.Patient.id == models.Visit.patient_id)
            .where(*where, models.Visit.deleted_at.is_(None), models.DensityMeasurement.deleted_at.is_(None))
        ):
            measurements.setdefault(patient_id, []).append(DensityRecord(day, site, density))
        protocols = {row.id: to_engine(row) for row in session.scalars(select(models.Protocol))}
        summaries = []
        for patient in patients:
            protocol = protocols.get(patient.protocol_id) if patient.protocol_id else to_engine(None)
            progress = assess(sessions.get(patient.id, []), measurements.get(patient.id, []), protocol, today)
            summaries.append(_summary(patient, progress, today))
        if filter == DUE_THIS_WEEK:
            summaries = [s for s in summaries if s.due_this_week]
        elif filter == OVERDUE:
            summaries = [s for s in summaries if s.overdue]
        elif filter == BEHIND_EXPECTED:
            summaries = [s for s in summaries if s.behind]
        summaries.sort(key=lambda s: (s.full_name.casefold(), s.mrn))
        audit.record(session, actor, "view", detail=f"patient list: {len(summaries)} shown")
        return summaries


# --- New patient --------------------------------------------------------------------------------------

def protocol_names(actor: Actor, url: str | None = None) -> list[str]:
    """The protocols a patient can follow, the default first."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
        return _protocol_names(session)


def _protocol_names(session: Session) -> list[str]:
    names = sorted(session.scalars(select(models.Protocol.name)), key=str.casefold)
    if DEFAULT_PROTOCOL_NAME in names:
        names.remove(DEFAULT_PROTOCOL_NAME)
        names.insert(0, DEFAULT_PROTOCOL_NAME)
    return names


def _protocol_by_name(session: Session, name: str | None, problems: list[str]) -> models.Protocol | None:
    wanted = (name or "").strip() or DEFAULT_PROTOCOL_NAME
    row = session.scalar(select(models.Protocol).where(models.Protocol.name == wanted))
    if row is None and wanted != DEFAULT_PROTOCOL_NAME:
        problems.append(f"protocol {wanted!r} does not exist; choose one from the list")
    return row


def _mrn_taken(session: Session, mrn: str, other_than: int | None = None) -> str | None:
    """A message when ``mrn`` (in any capitalisation) already belongs to another patient record."""
    query = select(models.Patient.mrn, models.Patient.deleted_at).where(func.lower(models.Patient.mrn) == mrn.lower())
    if other_than is not None:
        query = query.where(models.Patient.id != other_than)
    row = session.execute(query).first()
    if row is None:
        return None
    if row.deleted_at is not None:
        return f"MRN {mrn} belongs to a removed patient record; use another MRN or ask an administrator to restore it"
    return f"MRN {mrn} is already used by another patient; check the number or open that patient's record"


def create_patient(actor: Actor, new: NewPatient, today: date | None = None, url: str | None = None) -> str:
    """Register a patient (staff only) and return the MRN as stored.

    Every problem with the form is reported at once (``ValidationError.problems``); nothing is written
    unless all of it is right. A duplicate MRN is refused.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems: list[str] = []
    mrn = collect(problems, parse_mrn, new.mrn)
    full_name = collect(problems, parse_full_name, new.full_name)
    sex = collect(problems, parse_sex, new.sex)
    birth_date = collect(problems, parse_birth_date, new.birth_date, today)
    condition = collect(problems, parse_condition, new.condition)
    baseline = (None, None)
    if sex and condition:
        baseline = (collect(problems, parse_baseline, condition, sex, new.baseline_scale, new.baseline_stage)
                    or baseline)
    target_areas = collect(problems, parse_target_areas, new.target_areas)
    notes = collect(problems, parse_notes, new.notes)
    try:
        with transaction(url) as session:
            if mrn:
                taken = _mrn_taken(session, mrn)
                if taken:
                    problems.insert(0, taken)
            protocol = _protocol_by_name(session, new.protocol, problems)
            if problems:
                refuse("The patient was not saved", problems)
            patient = models.Patient(
                mrn=mrn, full_name=full_name, sex=sex, birth_date=birth_date, condition=condition,
                baseline_scale=baseline[0], baseline_stage=baseline[1], target_areas=target_areas,
                protocol_id=protocol.id if protocol else None, notes=notes, created_by=actor.username,
            )
            session.add(patient)
            session.flush()
            audit.record(session, actor, "create", patient_id=patient.id, detail="patient registered")
            return patient.mrn
    except IntegrityError:  # another clinician registered the same MRN a moment ago
        raise ValidationError(f"The patient was not saved: MRN {mrn} is already used by another patient; "
                              "check the number") from None


# --- Patient record -----------------------------------------------------------------------------------

def _resolve(session: Session, actor: Actor, mrn: str) -> models.Patient:
    """The patient behind ``mrn`` if this actor may see it; a patient account learns nothing of others."""
    try:
        patient = find_patient(session, mrn or "")
    except NotFound:
        if actor.role == PATIENT:
            raise PermissionDenied("This record is not available to your account.") from None
        raise
    require_patient_access(actor, patient.id)
    return patient


def _milestone_strip(progress: Progress) -> tuple[MilestoneStatus, ...]:
    by_name: dict[str, list[tuple[str, object]]] = {}
    for site in progress.sites:
        for result in site.milestones:
            by_name.setdefault(result.name, []).append((site.site, result))
    strip = []
    for name, results in sorted(by_name.items(), key=lambda item: item[1][0][1].window_start):
        first = results[0][1]
        assessed = [(site, r) for site, r in results if r.status in ASSESSED]
        if assessed:
            statuses = {r.status for _, r in assessed}
            status = next(s for s in (BEHIND, ON_TRACK, AHEAD, NO_BASELINE) if s in statuses)
        else:
            status = first.status
        overdue = status == MISSED or (status == DUE and progress.as_of > first.target)
        text = status_words(status).phrase
        if status == DUE and overdue:
            text = (f"overdue: target date {first.target.isoformat()} passed, "
                    f"window open until {first.window_end.isoformat()}")
        notes = []
        for site, r in assessed:
            if r.change is None:
                notes.append(f"{site_words(site)}: {r.density:.1f} hairs/cm² on {r.visit_date.isoformat()}, "
                             "no baseline")
                continue
            pct = f" ({r.change_pct:+.0f}%)" if r.change_pct is not None else ""
            band = (f", expected {r.expected_low:+.0f} to {r.expected_high:+.0f}"
                    if r.expected_low is not None and r.expected_high is not None else "")
            notes.append(f"{site_words(site)}: {r.change:+.1f} hairs/cm²{pct} on {r.visit_date.isoformat()}, "
                         f"{status_words(r.status).phrase}{band}")
        strip.append(MilestoneStatus(
            name=name, label=milestone_words(name), window_start=first.window_start,
            window_end=first.window_end, target=first.target, status=status, status_text=text, overdue=overdue,
            site_notes=tuple(notes),
        ))
    return tuple(strip)


def _timeline(session: Session, patient_id: int) -> tuple[TimelineEntry, ...]:
    visits = list(session.scalars(select(models.Visit).where(
        models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))))
    visit_ids = [v.id for v in visits]
    densities: dict[int, list[SiteDensity]] = {}
    photos: dict[int, list[PhotoItem]] = {}
    if visit_ids:
        for m in session.scalars(select(models.DensityMeasurement).where(
                models.DensityMeasurement.visit_id.in_(visit_ids), models.DensityMeasurement.deleted_at.is_(None))
                .order_by(models.DensityMeasurement.site)):
            densities.setdefault(m.visit_id, []).append(SiteDensity(m.site, m.density_per_cm2))
        for p in session.scalars(select(models.Photo).where(
                models.Photo.visit_id.in_(visit_ids), models.Photo.deleted_at.is_(None)).order_by(models.Photo.id)):
            photos.setdefault(p.visit_id, []).append(PhotoItem(p.id, p.view, p.original_file_name or "", p.version))
    entries = [
        TimelineEntry(kind="visit", row_id=v.id, date=v.date, version=v.version, title="Visit",
                      densities=tuple(densities.get(v.id, ())), photos=tuple(photos.get(v.id, ())),
                      notes=v.notes or "")
        for v in visits
    ]
    for s in session.scalars(select(models.TreatmentSession).where(
            models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None))):
        entries.append(TimelineEntry(
            kind="session", row_id=s.id, date=s.date, version=s.version,
            title="Treatment session" if s.treatment == "other" else f"{treatment_words(s.treatment)} session",
            treatment=s.treatment, product=s.product or "", lot_number=s.lot_number or "", volume_ml=s.volume_ml,
            areas=s.areas or "", adverse_events=s.adverse_events or "", notes=s.notes or "",
        ))
    # Same day: the session after the visit (the baseline visit is recorded on or before day 0).
    return tuple(sorted(entries, key=lambda e: (e.date, e.kind != "visit", e.row_id)))


def _therapies(session: Session, patient_id: int, today: date) -> tuple[TherapyEntry, ...]:
    rows = session.scalars(select(models.ConcurrentTherapy).where(
        models.ConcurrentTherapy.patient_id == patient_id, models.ConcurrentTherapy.deleted_at.is_(None))
        .order_by(models.ConcurrentTherapy.start, models.ConcurrentTherapy.id))
    return tuple(
        TherapyEntry(t.id, t.name, t.dose or "", t.start, t.stop, t.stop is None or t.stop > today, t.version)
        for t in rows
    )


def _details(patient: models.Patient, today: date) -> PatientDetails:
    return PatientDetails(
        mrn=patient.mrn, full_name=patient.full_name, sex=patient.sex, birth_date=patient.birth_date,
        age=age_on(patient.birth_date, today), condition=patient.condition,
        condition_label=condition_words(patient.condition),
        baseline_scale=patient.baseline_scale, baseline_stage=patient.baseline_stage,
        target_areas=tuple(a for a in (patient.target_areas or "").split(",") if a),
        protocol=patient.protocol.name if patient.protocol else DEFAULT_PROTOCOL_NAME,
        notes=patient.notes or "", version=patient.version,
    )


def patient_record(actor: Actor, mrn: str, today: date | None = None, url: str | None = None) -> PatientRecord:
    """The whole record of one patient (audited as a view). Staff see every patient; a patient account
    only its own record, and a refusal never says whether another MRN exists."""
    require_role(actor, *ROLES)
    today = today or date.today()
    with transaction(url) as session:
        patient = _resolve(session, actor, mrn)
        progress = patient_progress(session, patient, today)
        if progress.day0 is None:
            note = "No treatment session yet: day 0 is the first session, and the milestones follow from it."
        elif not progress.sites:
            note = "No density measurement yet: record a baseline visit to follow the milestones."
        else:
            note = None
        record = PatientRecord(
            details=_details(patient, today),
            day0=progress.day0,
            milestones=_milestone_strip(progress),
            milestone_note=note,
            timeline=_timeline(session, patient.id),
            therapies=_therapies(session, patient.id, today),
            # The change history carries the clinicians' reasons for corrections: staff reading only.
            history=tuple(patient_history(session, patient.id)) if actor.is_staff else (),
            protocol_choices=tuple(_protocol_names(session)) if actor.is_staff else (),
        )
        audit.record(session, actor, "view", patient_id=patient.id, detail="patient record")
        return record


# --- Corrections --------------------------------------------------------------------------------------

def _current(patient: models.Patient, name: str) -> object:
    if name == "protocol":
        return patient.protocol.name if patient.protocol else DEFAULT_PROTOCOL_NAME
    return getattr(patient, name)


def update_patient(actor: Actor, mrn: str, changes: dict, reason: str, expected_version: int,
                   today: date | None = None, url: str | None = None) -> int:
    """Correct a patient's details (staff only); returns the record's new version.

    ``changes`` maps fields of ``PATIENT_FIELDS`` to the values typed. Only fields whose value differs are
    changed, each leaving a ``ChangeRecord`` with ``reason``. ``expected_version`` is the version the
    clinician opened: if someone changed the record since, ``ConflictError`` and nothing is saved.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems = [f"{name!r} is not a patient detail that can be corrected here"
                for name in changes if name not in PATIENT_FIELDS]
    problems += reason_problems(reason)
    parsers = {
        "mrn": parse_mrn, "full_name": parse_full_name, "sex": parse_sex, "condition": parse_condition,
        "birth_date": lambda value: parse_birth_date(value, today), "target_areas": parse_target_areas,
        "notes": parse_notes,
    }
    clean: dict[str, object] = {}
    for name, value in changes.items():
        if name in parsers:
            before = len(problems)
            parsed = collect(problems, parsers[name], value)
            if len(problems) == before:
                clean[name] = parsed
    with transaction(url) as session:
        patient = session.scalar(select(models.Patient).where(
            models.Patient.mrn == (mrn or "").strip(), models.Patient.deleted_at.is_(None)).with_for_update())
        if patient is None:
            raise NotFound(f"No patient with MRN {(mrn or '').strip()!r}.")
        check_version(patient, expected_version)
        if "mrn" in clean:
            taken = _mrn_taken(session, clean["mrn"], other_than=patient.id)
            if taken:
                problems.append(taken)
        protocol = None
        if "protocol" in changes:
            protocol = _protocol_by_name(session, changes["protocol"], problems)
            clean["protocol"] = protocol.name if protocol else DEFAULT_PROTOCOL_NAME
        staging = ("sex", "condition", "baseline_scale", "baseline_stage")
        if any(name in changes for name in staging) and not _same_staging(patient, clean, changes):
            # Judged only when sex and condition themselves were accepted (else they are reported already).
            if not any(name in changes and name not in clean for name in ("sex", "condition")):
                sex, condition = clean.get("sex", patient.sex), clean.get("condition", patient.condition)
                scale = changes.get("baseline_scale", patient.baseline_scale)
                stage = changes.get("baseline_stage", patient.baseline_stage)
                baseline = collect(problems, parse_baseline, condition, sex, scale, stage)
                if baseline is not None:
                    clean["baseline_scale"], clean["baseline_stage"] = baseline
        if "birth_date" in clean:
            first = _first_recorded(session, patient.id)
            if first is not None:
                collect(problems, check_not_before_birth, first, clean["birth_date"],
                         "first recorded visit or session")
        if problems:
            refuse("Nothing was saved", problems)
        changed = [name for name in PATIENT_FIELDS if name in clean and clean[name] != _current(patient, name)]
        if not changed:
            raise ValidationError("Nothing was saved: the values are the same as in the record.")
        reason = clean_reason(reason)
        at = datetime.now(timezone.utc)
        for name in changed:
            record_change(session, actor, patient_id=patient.id, table_name="patient", row_id=patient.id,
                          field=name, old_value=_current(patient, name), new_value=clean[name], reason=reason, at=at)
            if name == "protocol":
                patient.protocol = protocol
                patient.protocol_id = protocol.id if protocol else None
            else:
                setattr(patient, name, clean[name])
        patient.version += 1
        audit.record(session, actor, "update", patient_id=patient.id,
                     detail="patient details corrected: " + ", ".join(changed))
        return patient.version


def _same_staging(patient: models.Patient, clean: dict, changes: dict) -> bool:
    """Sex, condition, scale and stage as recorded: a form that sends them unchanged is not re-judged
    (a record imported without a baseline stage can still have its name corrected)."""
    scale = str(changes.get("baseline_scale", patient.baseline_scale) or "").strip().lower() or None
    return (
        clean.get("sex", patient.sex) == patient.sex
        and clean.get("condition", patient.condition) == patient.condition
        and ("sex" not in changes or "sex" in clean)
        and ("condition" not in changes or "condition" in clean)
        and scale == patient.baseline_scale
        and typed_stage(changes.get("baseline_stage", patient.baseline_stage)) == (patient.baseline_stage or "")
    )


def _first_recorded(session: Session, patient_id: int) -> date | None:
    days = [
        session.scalar(select(func.min(models.Visit.date)).where(
            models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))),
        session.scalar(select(func.min(models.TreatmentSession.date)).where(
            models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None))),
        session.scalar(select(func.min(models.ConcurrentTherapy.start)).where(
            models.ConcurrentTherapy.patient_id == patient_id, models.ConcurrentTherapy.deleted_at.is_(None))),
    ]
    days = [d for d in days if d is not None]
    return min(days) if days else None
