"""The clinic's schedule: who needs a follow-up visit for a milestone, and who may have a repeat session.

Everything is computed by the milestone engine (``tracker.course.milestones.assess``) and summarised by
``tracker.course.followup`` (``next_visit``, ``latest_change``); this module only reads every live record in a
few bulk queries and hands the page rows to draw as they are (no date arithmetic in ``pages/``).

Follow-ups (one row per patient, the milestone that needs a visit next, ``tracker.course.followup.NextVisit``):

- status ``overdue``: the next milestone's target date has passed with no visit, or an earlier window closed
  with no visit and nothing was measured since (the row then names the milestone to book now: the open
  one if a window is open, otherwise the missed one, and says which window was missed);
- status ``due``: the next milestone's window is open today and its target date has not passed;
- status ``upcoming``: the next milestone's window opens within ``horizon_days``.

A row belongs to one or more lists (``FollowUp.lists``, tested on the dates the lists name): ``overdue``,
``window_open`` (the window contains today), ``target_soon`` (target date today … today + 7) and
``upcoming`` (the window opens after today, within ``horizon_days``). Rows are sorted by urgency: overdue
first, longest overdue first, then by target date, nearest first, then MRN. Each row also says the date of
the patient's latest live visit and the latest judged change from baseline (``latest_change_words``).

Repeat sessions: the engine's ``next_session_window`` (3–6 months after the latest session, DESIGN.md
§1) when it is open today (``open``) or opens within ``horizon_days`` (``opens``).

A patient treated but never measured has no milestones the engine can place (it needs at least one
density measurement); such patients are listed in ``unmeasured`` so that they are never silently left off.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.followup import latest_change, next_visit, urgency
from tracker.course.milestones import (
    DensityRecord,
    Progress,
    SessionRecord,
    assess,
)
from tracker.course.protocols import to_engine
from tracker.course.salt import outcome_records, score_text
from tracker.course.vocabulary import (
    FollowUpStatus,
    MilestoneStatus,
    PatientFilter,
    RepeatWindow,
    milestone_short,
    milestone_words,
    site_words,
    status_words,
)
from tracker.course.wording import card_figure, count
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.progress.patient_progress import clinic_salt_scores

OVERDUE, DUE, UPCOMING = FollowUpStatus.OVERDUE, FollowUpStatus.DUE, FollowUpStatus.UPCOMING
OPEN, OPENS = RepeatWindow.OPEN, RepeatWindow.OPENS
MAX_HORIZON_DAYS = 366


@dataclass(frozen=True)
class FollowUp:
    """One patient's next milestone visit. ``days_to_target`` is negative once the target has passed;
    ``overdue_since`` (the target date that passed with no visit) and ``days_overdue`` are set when overdue;
    ``days_until_open``: days until the window opens (0 once open). ``lists``: the follow-up lists the row is
    on. ``last_visit``: the latest live visit on or before today, measured or not; ``latest_change``: the
    latest judged change from baseline in words (``latest_change_words``)."""

    mrn: str
    full_name: str
    milestone: str
    milestone_label: str
    window_start: date
    window_end: date
    target: date
    status: FollowUpStatus
    days_to_target: int
    note: str = ""
    overdue_since: date | None = None
    days_overdue: int | None = None
    lists: frozenset[PatientFilter] = frozenset()
    last_visit: date | None = None
    latest_change: str = ""
    days_until_open: int = 0


@dataclass(frozen=True)
class RepeatSessionWindow:
    """A patient whose repeat-session window is open (``open``) or opens within the horizon (``opens``)."""

    mrn: str
    full_name: str
    latest_session: date
    window_start: date
    window_end: date
    state: RepeatWindow
    days_until_open: int
    days_until_close: int


@dataclass(frozen=True)
class UnmeasuredPatient:
    mrn: str
    full_name: str
    first_session: date


@dataclass(frozen=True)
class Schedule:
    today: date
    horizon_days: int
    follow_ups: tuple[FollowUp, ...]
    repeat_sessions: tuple[RepeatSessionWindow, ...]
    unmeasured: tuple[UnmeasuredPatient, ...]

    def listed(self, kind: PatientFilter | None = None) -> tuple[FollowUp, ...]:
        """The follow-ups on the list ``kind`` (``None``: every follow-up), most urgent first."""
        return tuple(f for f in self.follow_ups if kind is None or kind in f.lists)


def schedule(actor: Actor, today: date | None = None, horizon_days: int = 14, url: str | None = None) -> Schedule:
    """Follow-ups and repeat-session windows of every live patient as of ``today`` (default: today).

    Reads patients, protocols, sessions, measurements and the latest visit dates in five queries whatever the
    number of patients, and records one "view" audit entry naming the patients listed.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or not 0 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ValidationError(f"Look ahead between 0 and {MAX_HORIZON_DAYS} days.")
    with transaction(url) as session:
        patients = session.execute(
            select(models.Patient.id, models.Patient.mrn, models.Patient.full_name, models.Patient.protocol_id)
            .where(models.Patient.deleted_at.is_(None))
            .order_by(models.Patient.mrn)
        ).all()
        protocols = {row.id: to_engine(row) for row in session.scalars(select(models.Protocol))}
        sessions: dict[int, list[SessionRecord]] = defaultdict(list)
        for patient_id, day, treatment, product, lot in session.execute(
            select(models.TreatmentSession.patient_id, models.TreatmentSession.date, models.TreatmentSession.treatment,
                   models.TreatmentSession.product, models.TreatmentSession.lot_number)
            .where(models.TreatmentSession.deleted_at.is_(None))
        ):
            sessions[patient_id].append(SessionRecord(day, treatment, product or "", lot or ""))
        measurements: dict[int, list[DensityRecord]] = defaultdict(list)
        for patient_id, day, site, density in session.execute(
            select(models.Visit.patient_id, models.Visit.date, models.DensityMeasurement.site,
                   models.DensityMeasurement.density_per_cm2)
            .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
            .where(models.Visit.deleted_at.is_(None), models.DensityMeasurement.deleted_at.is_(None))
        ):
            measurements[patient_id].append(DensityRecord(day, site, density))
        last_visits = _last_visits(session, today)
        salt_scores = clinic_salt_scores(session)

        follow_ups: list[FollowUp] = []
        repeats: list[RepeatSessionWindow] = []
        unmeasured: list[UnmeasuredPatient] = []
        for patient_id, mrn, full_name, protocol_id in patients:
            past_sessions = [s.date for s in sessions.get(patient_id, ()) if s.date <= today]
            if not past_sessions:
                continue  # not treated yet: nothing to follow
            # A patient without a protocol (or with one since removed) follows the default, as in
            # tracker.progress.patient_progress.
            protocol = (protocols.get(protocol_id) if protocol_id is not None else None) or to_engine(None)
            # A SALT protocol's patients are judged on their SALT scores (tracker.course.salt.outcome_records).
            series = outcome_records(protocol, measurements.get(patient_id, ()), salt_scores.get(patient_id, ()))
            progress = assess(sessions[patient_id], series, protocol, today)
            if not progress.sites:
                unmeasured.append(UnmeasuredPatient(mrn, full_name, min(past_sessions)))  # day 0
            else:
                row = _follow_up(mrn, full_name, progress, horizon_days, last_visits.get(patient_id),
                                 protocol.judged_on_salt)
                if row is not None:
                    follow_ups.append(row)
            repeat = _repeat_session(mrn, full_name, progress, max(past_sessions), today, horizon_days)
            if repeat is not None:
                repeats.append(repeat)

        follow_ups.sort(key=lambda f: (*urgency(f.overdue_since, f.target), f.mrn))
        repeats.sort(key=lambda r: (r.state != OPEN, r.window_end if r.state == OPEN else r.window_start, r.mrn))
        unmeasured.sort(key=lambda u: (u.first_session, u.mrn))
        shown = sorted({f.mrn for f in follow_ups} | {r.mrn for r in repeats} | {u.mrn for u in unmeasured})
        audit.record(
            session, actor, "view",
            detail=f"schedule as of {today.isoformat()}, {horizon_days} days ahead: "
                   f"{len(shown)} patients listed" + (f" ({', '.join(shown)})" if shown else ""),
        )
    return Schedule(today, horizon_days, tuple(follow_ups), tuple(repeats), tuple(unmeasured))


def _last_visits(session: Session, today: date) -> dict[int, date]:
    """Each patient's latest live visit on or before ``today`` (measured or not), in one query."""
    rows = session.execute(
        select(models.Visit.patient_id, func.max(models.Visit.date))
        .where(models.Visit.deleted_at.is_(None), models.Visit.date <= today)
        .group_by(models.Visit.patient_id)
    )
    return {patient_id: day for patient_id, day in rows}


def latest_change_words(progress: Progress, judged_on_salt: bool = False) -> str:
    """The latest judged change from baseline, as the follow-up lists show it (``judged_on_salt``: the
    patient's protocol judges the SALT score, so the change is its % improvement, e.g. "SALT 18, 55%
    improvement, 6 months: on track").

    The figure is the one at the latest milestone any site was measured at; with several sites judged
    there, the least good of them (behind before on track before ahead, then the smaller % change: the one
    to discuss, and the one a "Behind expected" flag is about), saying how many sites were judged. E.g.
    "−20 hairs/cm² (−13%) at Vertex, 3 months: behind expected (weakest of 2 sites)". Without a judged
    change it says why: nothing measured yet, no baseline, or no milestone visit yet.
    """
    found = latest_change(progress)
    if found is None:
        if not progress.sites:
            return "Nothing measured yet"
        if all(site.baseline is None for site in progress.sites) or any(
                m.status == MilestoneStatus.NO_BASELINE for site in progress.sites for m in site.milestones):
            return "No baseline: the change cannot be judged"
        return "Not judged yet: no milestone visit"
    m = found.result
    if judged_on_salt:
        return (f"SALT {score_text(m.density or 0.0)}, {card_figure(m.change or 0.0, 0)}% improvement, "
                f"{milestone_short(m.name)}: {status_words(m.status).legend}")
    # True minus signs in the figures, as the milestone cards print them; a typed site keeps its hyphens.
    change = card_figure(m.change or 0.0, 0)
    percent = f" ({card_figure(m.change_pct, 0)}%)" if m.change_pct is not None else ""
    text = (f"{change} hairs/cm²{percent} at {site_words(found.site)}, {milestone_short(m.name)}: "
            f"{status_words(m.status).legend}")
    if found.sites_judged > 1:
        text += f" (weakest of {count(found.sites_judged, 'site')})"
    return text


def _follow_up(mrn: str, full_name: str, progress: Progress, horizon_days: int,
               last_visit: date | None, judged_on_salt: bool = False) -> FollowUp | None:
    visit = next_visit(progress)
    if visit is None:
        return None
    lists = visit.lists(horizon_days)
    if not lists:
        return None  # an upcoming window beyond the look-ahead
    chosen = visit.milestone
    return FollowUp(
        mrn=mrn, full_name=full_name, milestone=chosen.name, milestone_label=milestone_words(chosen.name),
        window_start=chosen.window_start, window_end=chosen.window_end, target=chosen.target,
        status=visit.status, days_to_target=visit.days_to_target, note=visit.note,
        overdue_since=visit.overdue_since, days_overdue=visit.days_overdue, lists=lists,
        last_visit=last_visit, latest_change=latest_change_words(progress, judged_on_salt),
        days_until_open=max(0, (chosen.window_start - progress.as_of).days),
    )


def _repeat_session(mrn: str, full_name: str, progress: Progress, latest: date, today: date,
                    horizon_days: int) -> RepeatSessionWindow | None:
    window = progress.next_session_window
    if window is None or window.end < today or (window.start - today).days > horizon_days:
        return None
    return RepeatSessionWindow(
        mrn=mrn, full_name=full_name, latest_session=latest, window_start=window.start, window_end=window.end,
        state=OPEN if window.start <= today else OPENS,
        days_until_open=max(0, (window.start - today).days), days_until_close=(window.end - today).days,
    )
