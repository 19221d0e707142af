"""Correcting a visit's scale score in place (``correct_scale_score``, staff only): the stage on Norwood–Hamilton,
Ludwig or Sinclair, or the four SALT regions, from which the SALT score is calculated again.

The score is checked as the visit form checks it (``tracker.course.scales.parse_scale_entry``); the scale itself
stays (scores are only comparable on one scale). Each changed field, the recalculated SALT score included, keeps
its previous value with the reason; the result carries the milestone judgement after the correction (a SALT
protocol judges the SALT score).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from db import models
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.scales import SALT, ScaleEntry, ScaleScore, parse_scale_entry
from tracker.database import transaction
from tracker.records.history import clean_reason, reason_problems, refuse
from tracker.records.patient_fields import collect
from tracker.records.row_corrections import Correction, differences, judged, keep_changes, open_row, progress_now

# The SALT regions as ``correct_scale_score`` takes them (the columns of ``db.models.ScaleScore``), in the
# form's order: vertex, posterior, left side, right side (% of hair lost, 0–100).
SALT_REGION_FIELDS = ("salt_vertex_pct", "salt_posterior_pct", "salt_left_pct", "salt_right_pct")


def _entry(row: models.ScaleScore, changes: Mapping[str, object]) -> ScaleEntry:
    """The score as the form would send it: the typed values, the others as recorded."""
    vertex, posterior, left, right = (_typed(changes.get(name, getattr(row, name))) for name in SALT_REGION_FIELDS)
    stage = changes.get("stage", row.stage)
    return ScaleEntry(row.scale, None if stage is None else str(stage), vertex, posterior, left, right)


def _typed(value: object) -> float | str | None:
    """A region as the form types it: a number or text (anything else as its text, for the parser to judge)."""
    if value is None or isinstance(value, (float, str)):
        return value
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _stored(score: ScaleScore) -> dict[str, object]:
    if score.scale == SALT:
        return {"salt_vertex_pct": score.vertex_pct, "salt_posterior_pct": score.posterior_pct,
                "salt_left_pct": score.left_pct, "salt_right_pct": score.right_pct, "salt_score": score.salt_score}
    return {"stage": score.stage}


def correct_scale_score(actor: Actor, score_id: int, changes: Mapping[str, object], reason: str,
                        expected_version: int | None, today: date | None = None,
                        url: str | None = None) -> Correction:
    """Correct the stage, or the SALT regions, of one scale score (staff only).

    ``changes`` maps ``stage`` (a stage scale) or fields of ``SALT_REGION_FIELDS`` (SALT; a region not given
    keeps its recorded value, and all four are needed to calculate the score) to the values typed. Raises
    ``ValidationError`` naming every problem (nothing saved; also when nothing differs), ``NotFound`` for a
    removed score, visit or patient, ``ConflictError`` when ``expected_version`` is not the score's version any
    more. Returns the correction with the milestones it touched, judged as of ``today``.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems = reason_problems(reason)
    with transaction(url) as session:
        row, patient = open_row(session, models.ScaleScore, score_id, expected_version, "scale score")
        allowed = SALT_REGION_FIELDS if row.scale == SALT else ("stage",)
        problems += [f"{name!r} is not a field of a {'SALT score' if row.scale == SALT else 'stage'} that can be "
                     "corrected here" for name in changes if name not in allowed]
        score = collect(problems, parse_scale_entry, _entry(row, changes))
        if problems or score is None:
            refuse("Nothing was saved", problems)
        before = progress_now(session, patient, today)
        changed = differences(row, _stored(score))
        for name, _, value in changed:
            setattr(row, name, value)
        kept = keep_changes(session, actor, row, patient.id, changed, clean_reason(reason),
                            f"scale score {row.id} of visit {row.visit_id}")
        visit = session.get(models.Visit, row.visit_id)
        after = progress_now(session, patient, today)
        return Correction("scale score", row.id, row.version, kept,
                          judged(patient, before, after, (visit.date,) if visit is not None else ()))
