"""Correcting a visit in place (``correct_visit``, staff only): its date, notes, camera or device, capture
checklist, global photographic assessment and the patient's satisfaction.

Values are read as the visit form reads them (``tracker.records.visit_form``): the date in the clinic's format,
not in the future nor before the patient's birth; the ratings on their scales. A visit moved onto a day that
already has one of the patient's visits is refused (the engine would take two visits of one day as one). Each
changed field keeps its previous value with the reason; the result carries the milestone judgement after it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import parse_date, show_date
from tracker.database import transaction
from tracker.records.history import clean_reason, reason_problems, refuse
from tracker.records.patient_fields import collect
from tracker.records.plausibility import density_warnings, visit_date_warnings
from tracker.records.recorded_visits import first_session_date, recorded_densities
from tracker.records.row_corrections import (
    Correction,
    ask_unless_acknowledged,
    judged,
    keep_changes,
    open_row,
    parse_fields,
    progress_now,
    ticked,
)
from tracker.records.visit_form import (
    CAPTURE_CHECKS,
    DEVICE_MAX,
    GLOBAL_ASSESSMENT,
    NOTES_MAX,
    SATISFACTION,
    parse_rating,
)
from tracker.validation import check_not_before_birth, check_not_in_future, clean_text

TICKED = {True: "yes", False: "no"}  # how a capture check is kept in the history


def _parsers(today: date) -> dict[str, Callable[[object], object]]:
    return {
        "date": lambda value: check_not_in_future(parse_date(value, "visit date"), today, "visit date"),
        "notes": lambda value: clean_text(value, "notes", NOTES_MAX),
        "device": lambda value: clean_text(value, "camera or device", DEVICE_MAX),
        "capture": lambda value: ticked(value, CAPTURE_CHECKS, "capture checklist"),
        "global_assessment": lambda value: parse_rating(value, GLOBAL_ASSESSMENT),
        "satisfaction": lambda value: parse_rating(value, SATISFACTION),
    }


def correct_visit(actor: Actor, visit_id: int, changes: Mapping[str, object], reason: str,
                  expected_version: int | None, today: date | None = None, url: str | None = None, *,
                  acknowledged: Collection[str] = ()) -> Correction:
    """Correct a visit's own fields (staff only); its measurements, scale score and photos have their own.

    ``changes`` maps ``date``, ``notes``, ``device``, ``capture`` (each key of ``CAPTURE_CHECKS`` to whether it is
    ticked), ``global_assessment`` and ``satisfaction`` to the values typed. A date moved where the visit form
    would ask about it (more than a year before the first session, or its densities more than half away from the
    sites' neighbouring visits) raises ``NeedsConfirmation`` unless each sentence is among ``acknowledged``.
    Only values that differ are changed,
    each leaving a ``ChangeRecord`` with ``reason`` (a capture check is kept as yes/no). Raises ``ValidationError``
    naming every problem (nothing saved; also when nothing differs), ``NotFound`` for a removed visit or patient,
    ``ConflictError`` when ``expected_version`` is not the visit's version any more. Returns the correction with the
    milestones it touched, judged as of ``today`` (default: the server's date).
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems = reason_problems(reason)
    clean = parse_fields(changes, _parsers(today), "visit", problems)
    with transaction(url) as session:
        visit, patient = open_row(session, models.Visit, visit_id, expected_version, "visit")
        new_date = clean.get("date")
        if isinstance(new_date, date) and new_date != visit.date:
            collect(problems, check_not_before_birth, new_date, patient.birth_date, "visit date")
            _check_day_free(session, visit, new_date, problems)
        if problems:
            refuse("Nothing was saved", problems)
        if isinstance(new_date, date) and new_date != visit.date:
            ask_unless_acknowledged(_date_questions(session, visit, new_date), acknowledged)
        before = progress_now(session, patient, today)
        old_date = visit.date
        changed = _apply(visit, clean)
        kept = keep_changes(session, actor, visit, patient.id, changed, clean_reason(reason), f"visit {visit.id}")
        after = progress_now(session, patient, today)
        return Correction("visit", visit.id, visit.version, kept,
                          judged(patient, before, after, (old_date, visit.date)))


def _date_questions(session: Session, visit: models.Visit, day: date) -> tuple[str, ...]:
    """The visit form's questions for the visit on its new ``day``: the date against the first session, and each
    of its densities against the same site's visits around the new day."""
    measured = [(m.site, m.density_per_cm2) for m in visit.measurements if m.deleted_at is None]
    others = recorded_densities(session, visit.patient_id, leaving_out_visit=visit.id)
    return (visit_date_warnings(day, first_session_date(session, visit.patient_id))
            + density_warnings(day, measured, others))


def _check_day_free(session: Session, visit: models.Visit, day: date, problems: list[str]) -> None:
    other = session.scalar(select(models.Visit.id).where(
        models.Visit.patient_id == visit.patient_id, models.Visit.date == day, models.Visit.deleted_at.is_(None),
        models.Visit.id != visit.id))
    if other is not None:
        problems.append(f"the patient already has a visit on {show_date(day)}: correct or remove that visit "
                        "instead (two visits on one day would be judged as one)")


def _apply(visit: models.Visit, clean: Mapping[str, object]) -> list[tuple[str, object, object]]:
    """Set the values that differ on ``visit``; (field, previous, new) of each, in the form's order."""
    changed: list[tuple[str, object, object]] = []
    for name in ("date", "notes", "global_assessment", "satisfaction"):
        if name in clean and getattr(visit, name) != clean[name]:
            changed.append((name, getattr(visit, name), clean[name]))
            setattr(visit, name, clean[name])
    conditions: dict[str, Any] = dict(visit.capture_conditions or {})
    ticked = clean.get("capture")
    if isinstance(ticked, dict):
        for key, now in ticked.items():
            was = bool(conditions.get(key, False))  # not recorded (an imported visit) reads as not ticked
            if was != now:
                changed.append((key, TICKED[was], TICKED[now]))
            conditions[key] = now
    if "device" in clean and conditions.get("device") != clean["device"]:
        changed.append(("device", conditions.get("device"), clean["device"]))
        conditions["device"] = clean["device"]
        if clean["device"] is None:
            del conditions["device"]
    if any(name in CAPTURE_CHECKS or name == "device" for name, _, _ in changed):
        visit.capture_conditions = conditions  # a new dict: the JSON column sees the change
    return changed
