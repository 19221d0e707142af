"""Correcting a treatment session in place (``correct_session``, staff only): date, treatment, product, lot
number, volume, areas treated, adverse events, notes and the pre-session checklist.

Values are read as the session form reads them (``tracker.records.treatment_sessions``): the date in the clinic's
format, not in the future nor before the patient's birth; the lot number required for an exosome session (it
is how patients are found if a batch is recalled), whichever of treatment and lot is corrected. Each changed
field keeps its previous value with the reason; a session's date is day 0 or a repeat, so the result carries
every milestone whose judgement the correction changed.
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
from tracker.course.vocabulary import treatment_words
from tracker.database import transaction
from tracker.records.history import clean_reason, reason_problems, refuse
from tracker.records.patient_fields import collect
from tracker.records.plausibility import session_date_warnings
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
from tracker.records.treatment_sessions import AREAS_MAX, PRE_SESSION_CHECKS, TEXT_MAX, parse_volume
from tracker.validation import (
    check_not_before_birth,
    check_not_in_future,
    clean_text,
    parse_lot_number,
    parse_product,
    parse_treatment,
)

# Fields ``correct_session`` accepts (the columns of ``db.models.TreatmentSession``); ``checklist`` maps each
# key of ``PRE_SESSION_CHECKS`` to whether it is ticked.
SESSION_FIELDS = ("date", "treatment", "product", "lot_number", "volume_ml", "areas", "adverse_events", "notes",
                  "checklist")
TICKED = {True: "yes", False: "no"}  # how a checklist item is kept in the history


def _parsers(today: date) -> dict[str, Callable[[object], object]]:
    return {
        "date": lambda value: check_not_in_future(parse_date(value, "session date"), today, "session date"),
        "treatment": parse_treatment,
        "product": parse_product,
        "lot_number": lambda value: value,  # read below, with the treatment it belongs to
        "volume_ml": parse_volume,
        "areas": lambda value: clean_text(value, "areas treated", AREAS_MAX, single_line=True),
        "adverse_events": lambda value: clean_text(value, "adverse events", TEXT_MAX),
        "notes": lambda value: clean_text(value, "notes", TEXT_MAX),
        "checklist": lambda value: ticked(value, PRE_SESSION_CHECKS, "pre-session checklist"),
    }


def correct_session(actor: Actor, session_id: int, changes: Mapping[str, object], reason: str,
                    expected_version: int | None, today: date | None = None, url: str | None = None, *,
                    acknowledged: Collection[str] = ()) -> Correction:
    """Correct a treatment session (staff only); its batch documents stay as they are.

    ``changes`` maps fields of ``SESSION_FIELDS`` to the values typed (volume in ml). Only values that differ are
    changed, each leaving a ``ChangeRecord`` with ``reason`` (a checklist item is kept as yes/no). A date moved more
    than 120 days from every visit raises ``NeedsConfirmation``, as the session form does, unless its sentence is
    among ``acknowledged``. Raises
    ``ValidationError`` naming every problem (nothing saved; also when nothing differs), ``NotFound`` for a removed
    session or patient, ``ConflictError`` when ``expected_version`` is not the session's version any more.
    Returns the correction with the milestones whose judgement changed, as of ``today``.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems = reason_problems(reason)
    clean = parse_fields(changes, _parsers(today), "treatment session", problems)
    with transaction(url) as db:
        row, patient = open_row(db, models.TreatmentSession, session_id, expected_version, "treatment session")
        _check_against_record(db, row, patient, changes, clean, problems)
        if problems:
            refuse("Nothing was saved", problems)
        new_date = clean.get("date")
        if isinstance(new_date, date) and new_date != row.date:
            visit_dates = db.scalars(select(models.Visit.date).where(
                models.Visit.patient_id == patient.id, models.Visit.deleted_at.is_(None))).all()
            ask_unless_acknowledged(session_date_warnings(new_date, visit_dates), acknowledged)
        before = progress_now(db, patient, today)
        changed = _apply(row, clean)
        kept = keep_changes(db, actor, row, patient.id, changed, clean_reason(reason), f"treatment session {row.id}")
        after = progress_now(db, patient, today)
        return Correction("session", row.id, row.version, kept, judged(patient, before, after))


def _check_against_record(db: Session, row: models.TreatmentSession, patient: models.Patient,
                          changes: Mapping[str, object], clean: dict[str, object], problems: list[str]) -> None:
    """The checks that need the record: the date against the birth date, the lot number against the treatment
    the session will have (the lot is put in ``clean``), and the very same session recorded twice."""
    new_date = clean.get("date")
    if isinstance(new_date, date) and new_date != row.date:
        collect(problems, check_not_before_birth, new_date, patient.birth_date, "session date")
    typed_lot = clean.pop("lot_number", row.lot_number)
    if "treatment" in changes and "treatment" not in clean:
        return  # the treatment's own problem is reported; the lot cannot be judged without it
    lot = collect(problems, parse_lot_number, typed_lot, str(clean.get("treatment", row.treatment)))
    if lot is not None and "lot_number" in changes:
        clean["lot_number"] = lot
    if not problems:
        _check_not_twice(db, row, {name: clean.get(name, getattr(row, name))
                                   for name in ("date", "treatment", "product", "lot_number")}, problems)


def _check_not_twice(db: Session, row: models.TreatmentSession, key: dict[str, Any], problems: list[str]) -> None:
    same = db.scalar(select(models.TreatmentSession.id).where(
        models.TreatmentSession.patient_id == row.patient_id, models.TreatmentSession.id != row.id,
        models.TreatmentSession.deleted_at.is_(None), models.TreatmentSession.date == key["date"],
        models.TreatmentSession.treatment == key["treatment"], models.TreatmentSession.product == key["product"],
        models.TreatmentSession.lot_number == key["lot_number"]))
    if same is not None:
        problems.append(
            f"the same session is already recorded ({treatment_words(key['treatment'])} on "
            f"{show_date(key['date'])}, lot {key['lot_number'] or 'none'}): remove one of them instead")


def _apply(row: models.TreatmentSession, clean: Mapping[str, object]) -> list[tuple[str, object, object]]:
    """Set the values that differ on ``row``; (field, previous, new) of each, in the form's order."""
    changed: list[tuple[str, object, object]] = []
    for name in SESSION_FIELDS[:-1]:
        if name in clean and getattr(row, name) != clean[name]:
            changed.append((name, getattr(row, name), clean[name]))
            setattr(row, name, clean[name])
    ticked = clean.get("checklist")
    if isinstance(ticked, dict):
        checklist: dict[str, Any] = dict(row.checklist or {})
        for key, now in ticked.items():
            was = bool(checklist.get(key, False))  # not recorded (an imported session) reads as not ticked
            if was != now:
                changed.append((key, TICKED[was], TICKED[now]))
                checklist[key] = now
        if checklist != (row.checklist or {}):
            row.checklist = checklist  # a new dict: the JSON column sees the change
    return changed
