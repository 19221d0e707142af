"""What every correction of a clinical row shares: finding the live row to correct, keeping each changed field in
the history, and the milestone judgement after the correction.

The use cases are one module each (``visit_corrections``, ``measurement_corrections``, ``scale_corrections``,
``session_corrections``, ``photo_corrections``); each parses what was typed with the same parsers as the form
that logged the row, then calls ``open_row``, sets the new values and calls ``keep_changes`` and ``judged``.
Only rows of live visits and sessions of live patients are corrected: a removed one is gone from the record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from tracker.course.milestones import MilestoneResult, Progress
from tracker.course.vocabulary import ASSESSED, OutcomeMeasure, field_words, milestone_words, site_words, status_words
from tracker.course.wording import milestone_sentence, signed
from tracker.errors import NeedsConfirmation, NotFound, ValidationError
from tracker.progress.patient_progress import patient_progress
from tracker.records.history import as_text, check_version, lock, record_change, value_words
from tracker.records.patient_fields import collect
from tracker.records.plausibility import unacknowledged

NOTHING_CHANGED = "Nothing was saved: the values are the same as in the record."

Corrected = models.Visit | models.DensityMeasurement | models.ScaleScore | models.TreatmentSession | models.Photo
Row = TypeVar("Row", bound=Corrected)


@dataclass(frozen=True)
class FieldChange:
    """One corrected field as the page says it: its words, the previous and the new value (as kept)."""

    field: str
    label: str
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True)
class MilestoneAfter:
    """A milestone's judgement after a correction (``status``) and before it (``status_before``; None when it was
    not judged on a visit then), for one site (``scalp`` on a SALT protocol).

    ``value``: the density (hairs/cm²) or the SALT score at the visit judged; ``change``: hairs/cm² from baseline
    (SALT: % improvement); ``expected_low``..``expected_high`` and ``noise`` in the same ``unit``.
    """

    site: str
    site_label: str
    milestone: str
    milestone_label: str
    status: str
    status_label: str
    status_before: str | None
    visit_date: date | None
    value: float | None
    change: float | None
    expected_low: float | None
    expected_high: float | None
    noise: float | None
    unit: str = "hairs/cm²"
    sentence: str = ""  # where the point lies and why it is judged so, as the record's milestone strip says it

    @property
    def changed(self) -> bool:
        return self.status != self.status_before


@dataclass(frozen=True)
class Correction:
    """A saved correction, as plain data for the page: the row's new ``version``, each changed field, and the
    milestones whose judgement the correction touched (their result changed, or they are judged on the corrected
    visit), in the order of the progress page."""

    kind: str
    row_id: int
    version: int
    changes: tuple[FieldChange, ...]
    milestones: tuple[MilestoneAfter, ...] = ()

    @property
    def summary(self) -> str:
        """Each changed field in words, as the history shows it.

        >>> Correction("photo", 7, 2, (FieldChange("view", "View", "right_temporal", "vertex"),
        ...                            FieldChange("notes", "Notes", None, "rechecked"))).summary
        'View: Right temporal → Vertex; Notes: (empty) → rechecked'
        """
        return "; ".join(f"{c.label}: {value_words(c.field, c.old_value) or '(empty)'} → "
                         f"{value_words(c.field, c.new_value) or '(empty)'}" for c in self.changes)


def open_row(session: Session, model: type[Row], row_id: int, expected_version: int | None,
             what: str) -> tuple[Row, models.Patient]:
    """The live row to correct, locked, and its live patient; ``NotFound`` when either was removed,
    ``ConflictError`` when the row changed since the clinician opened it (``expected_version``)."""
    row = lock(session, model, row_id)
    visit: models.Visit | None = None
    if isinstance(row, (models.DensityMeasurement, models.ScaleScore, models.Photo)):
        visit = session.get(models.Visit, row.visit_id)
        patient_id = visit.patient_id if visit is not None and visit.deleted_at is None else None
    else:
        patient_id = row.patient_id if row is not None else None
    patient = session.get(models.Patient, patient_id) if patient_id is not None else None
    if row is None or row.deleted_at is not None or patient is None or patient.deleted_at is not None:
        raise NotFound(f"No {what} with id {row_id} in a live record; reload the record.")
    check_version(row, expected_version)
    return row, patient


def ask_unless_acknowledged(warnings: Sequence[str], acknowledged: Collection[str]) -> None:
    """Raise ``NeedsConfirmation`` with the plausibility questions (``tracker.records.plausibility``) the clinician
    has not confirmed, as the forms that log the rows do; call it before any value is set on the row."""
    asked = unacknowledged(warnings, frozenset(acknowledged))
    if asked:
        raise NeedsConfirmation(asked)


def differences(row: Corrected, clean: dict[str, object]) -> list[tuple[str, object, object]]:
    """(field, stored value, new value) of every field in ``clean`` whose value differs from the row's."""
    return [(name, getattr(row, name), value) for name, value in clean.items() if getattr(row, name) != value]


def keep_changes(session: Session, actor: Actor, row: Corrected, patient_id: int,
                 changed: Sequence[tuple[str, object, object]], reason: str, detail: str) -> tuple[FieldChange, ...]:
    """One ``ChangeRecord`` per changed field (one shared time), the row's version + 1, one audit entry.

    The caller has set the new values on ``row``. Raises ``ValidationError`` when nothing changed."""
    if not changed:
        raise ValidationError(NOTHING_CHANGED)
    at = datetime.now(UTC)
    for name, old, new in changed:
        record_change(session, actor, patient_id=patient_id, table_name=row.__tablename__, row_id=row.id,
                      field=name, old_value=old, new_value=new, reason=reason, at=at)
    row.version += 1
    names = ", ".join(name for name, _, _ in changed)
    audit.record(session, actor, "update", patient_id=patient_id, detail=f"{detail} corrected: {names}")
    return tuple(FieldChange(name, field_words(name), as_text(old), as_text(new)) for name, old, new in changed)


def progress_now(session: Session, patient: models.Patient, today: date) -> Progress:
    """The patient's judgement as the record shows it today (pending changes flushed first)."""
    return patient_progress(session, patient, as_of=today)


def judged(patient: models.Patient, before: Progress, after: Progress,
           visit_dates: Sequence[date] = ()) -> tuple[MilestoneAfter, ...]:
    """The milestones a correction touched: their result changed from ``before`` to ``after``, or they are judged
    on a visit of ``visit_dates`` (the corrected visit, as it was and as it is)."""
    salt = patient.protocol is not None and patient.protocol.outcome_measure == OutcomeMeasure.SALT
    unit = "% improvement" if salt else "hairs/cm²"
    earlier = {(s.site, m.name): m for s in before.sites for m in s.milestones}
    touched = []
    for site in after.sites:
        for result in site.milestones:
            previous = earlier.get((site.site, result.name))
            if result != previous or (result.status in ASSESSED and result.visit_date in visit_dates):
                touched.append(_after(site.site, result, previous, unit))
    return tuple(touched)


def _sentence(site: str, result: MilestoneResult, unit: str) -> str:
    """The record strip's sentence for a density; for a SALT score, the score and its improvement against the band.

    >>> from tracker.course.milestones import MilestoneResult
    >>> salt = MilestoneResult("early_response", date(2025, 3, 10), date(2025, 4, 10), date(2025, 4, 10),
    ...                        "on_track", date(2025, 4, 10), 32.0, 2.96, 20.0, 20.0, -0.3, 29.7, 10.0)
    >>> _sentence("scalp", salt, "% improvement")
    'SALT 32 on 2025-04-10: +20% improvement from baseline; expected +0 to +30 (noise ±10).'
    """
    if result.status not in ASSESSED or result.visit_date is None:
        return milestone_sentence(result)
    if unit == "hairs/cm²" or result.change is None:
        return milestone_sentence(result, title=f"{site_words(site)} on {show_date(result.visit_date)}")
    text = f"SALT {result.density:g} on {show_date(result.visit_date)}: {_minus(signed(result.change))}% improvement"
    text += " from baseline"
    if result.expected_low is not None and result.expected_high is not None:
        text += (f"; expected {_minus(signed(result.expected_low))} to {_minus(signed(result.expected_high))}"
                 f" (noise ±{result.noise or 0:g})")
    return text + "."


def _minus(text: str) -> str:
    return text.replace("-", "−")


def _after(site: str, result: MilestoneResult, previous: MilestoneResult | None, unit: str) -> MilestoneAfter:
    return MilestoneAfter(
        site=site, site_label=site_words(site), milestone=result.name, milestone_label=milestone_words(result.name),
        status=result.status, status_label=status_words(result.status).label,
        status_before=previous.status if previous is not None else None, visit_date=result.visit_date,
        value=result.density, change=result.change, expected_low=result.expected_low,
        expected_high=result.expected_high, noise=result.noise, unit=unit, sentence=_sentence(site, result, unit),
    )


def ticked(value: object, checks: Mapping[str, str], what: str) -> dict[str, bool]:
    """A checklist as ticked on a correction form: every item of ``checks`` True or False (an item left out is
    unticked). Raises ``ValidationError`` naming ``what`` for an item that list does not have, or for a value that
    is no mapping at all.

    >>> ticked({"dry_hair": 1}, {"dry_hair": "Hair dry", "same_lighting": "Same lighting"}, "capture checklist")
    {'dry_hair': True, 'same_lighting': False}
    """
    marks = value if isinstance(value, Mapping) else {}
    unknown = [str(key) for key in marks if key not in checks]
    if unknown or not isinstance(value, Mapping):
        raise ValidationError(f"the {what} has no item {', '.join(unknown) or str(value)!r}")
    return {key: bool(marks.get(key, False)) for key in checks}


def parse_fields(changes: Mapping[str, object], parsers: Mapping[str, Callable[[object], object]], what: str,
                 problems: list[str]) -> dict[str, object]:
    """The typed values of ``changes`` parsed by field (``parsers``: the form's own parsers); each refused value,
    and each field that is not one of ``parsers``, adds its problems to ``problems`` instead."""
    clean: dict[str, object] = {}
    for name, value in changes.items():
        if name not in parsers:
            problems.append(f"{name!r} is not a field of a {what} that can be corrected here")
            continue
        before = len(problems)
        parsed = collect(problems, parsers[name], value)
        if len(problems) == before:
            clean[name] = parsed
    return clean
