"""The progress view's data: header, chart, milestone cards, secondary series, next steps (``build_view``).

Read by ``tracker.progress.page_data`` (the progress page, the consult screen, the patient's own view) and by the
PDF report, each in its own audited transaction, for the patient ``tracker.access.patient_lookup`` resolved:
a patient account reaches only its own record, checked there, not in the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, or_, select

from db import models
from tracker.access.patient_lookup import PatientBasics
from tracker.course.calendar_months import age_on, months_between
from tracker.course.milestones import Progress, assess
from tracker.course.patient_wording import patient_sentence, salt_patient_sentence
from tracker.course.salt import SALT_SITE, salt_sentence
from tracker.course.scales import stages_for
from tracker.course.vocabulary import ASSESSED, GLOBAL_ASSESSMENT_WORDS, MilestoneStatus, assessment_words
from tracker.course.wording import PATIENT, STAFF, NextStep, milestone_sentence, what_comes_next
from tracker.database import AnyRow, Reads, read_connection
from tracker.progress.chart_data import ProgressChart, TherapyRecord, build_chart
from tracker.progress.patient_progress import density_progress, load_records, read_measurements
from tracker.progress.salt_chart import SaltChart, build_salt_chart


@dataclass(frozen=True)
class MilestoneCard:
    """One milestone of one site. ``sentence``: the staff card (``wording.milestone_sentence``);
    ``plain``: the same judgement in the patient's words (``patient_wording.patient_sentence``), for the
    patient's own view and the consult screen."""

    site: str
    name: str
    status: str
    sentence: str
    plain: str


class SeriesPoint(NamedTuple):
    """One value on a secondary chart (a tuple: a patient's charts have hundreds, made on every page run)."""

    date: date
    months: float | None
    value: float
    label: str = ""


@dataclass(frozen=True)
class SecondarySeries:
    """Shaft diameter, terminal %, anagen % per site, scale scores, the global photographic assessment and
    satisfaction over time, where measured (x: the visit's date).

    - ``code``: which measurement (``shaft_diameter``, ``terminal_pct``, ``anagen_pct``, ``salt``, a stage
      scale's code, ``global_assessment``, ``satisfaction``).
    - ``y_range``: the fixed value axis (low, high), so that a small change looks small (``_axis_for``).
    - ``ticks``: (value, words) for an axis of named steps (stages in scale order, the assessment's words);
      empty for a numeric axis.
    - ``step``: drawn as a step chart (a stage or a score holds until the next visit scores it again).
    """

    title: str
    unit: str
    by_site: dict[str, tuple[SeriesPoint, ...]]
    code: str = ""
    y_range: tuple[float, float] | None = None
    ticks: tuple[tuple[float, str], ...] = ()
    step: bool = False


class VisitRating(NamedTuple):
    """A visit's global photographic assessment (−3 … +3) and the patient's satisfaction (0–10), either
    may be ``None`` (not asked at that visit)."""

    date: date
    global_assessment: int | None
    satisfaction: int | None


@dataclass(frozen=True)
class ProgressView:
    mrn: str
    full_name: str
    age: int
    sex: str
    condition: str
    protocol_name: str
    evidence_note: str
    treatments: tuple[str, ...]
    progress: Progress
    chart: ProgressChart
    cards: tuple[MilestoneCard, ...]
    secondary: tuple[SecondarySeries, ...]
    next_steps: tuple[NextStep, ...]  # in staff words
    patient_steps: tuple[NextStep, ...]  # the same, in the patient's words
    ratings: tuple[VisitRating, ...] = ()
    # A SALT protocol's course (alopecia areata): the main chart; ``progress`` and ``cards`` are then about the
    # SALT score (one site, "scalp") and ``chart`` has no sites (density is the SALT chart's secondary view).
    salt: SaltChart | None = None



def headline_card(cards: tuple[MilestoneCard, ...], site: str) -> MilestoneCard | None:
    """The one milestone the consult screen says about ``site``: its latest judged (measured) milestone; with
    none yet, the next one due or upcoming; else the latest missed; None for a site without milestones.

    >>> cards = tuple(MilestoneCard("vertex", name, status, "", "") for name, status in
    ...               (("early_response", "on_track"), ("noticeable_growth", "due"), ("continued_improvement",
    ...               "upcoming")))
    >>> headline_card(cards, "vertex").name, headline_card(cards[1:], "vertex").name, headline_card(cards, "x")
    ('early_response', 'noticeable_growth', None)
    """
    own = [c for c in cards if c.site == site]  # in window order
    judged = [c for c in own if c.status in ASSESSED]
    if judged:
        return judged[-1]
    ahead = [c for c in own if c.status in (MilestoneStatus.DUE, MilestoneStatus.UPCOMING)]
    if ahead:
        return ahead[0]
    return own[-1] if own else None


_scale = models.Base.metadata.tables[models.ScaleScore.__tablename__]
_visit = models.Base.metadata.tables[models.Visit.__tablename__]
_therapy = models.Base.metadata.tables[models.ConcurrentTherapy.__tablename__]
_SCALE_SCORES = (
    select(_visit.c.date, _scale.c.scale, _scale.c.stage, _scale.c.salt_score)
    .select_from(_visit.join(_scale, _scale.c.visit_id == _visit.c.id))
    .where(_visit.c.patient_id == bindparam("patient_id"), _visit.c.deleted_at.is_(None),
           _scale.c.deleted_at.is_(None))
    .order_by(_visit.c.date, _scale.c.id)
)
_RATINGS = (
    select(_visit.c.date, _visit.c.global_assessment, _visit.c.satisfaction)
    .where(_visit.c.patient_id == bindparam("patient_id"), _visit.c.deleted_at.is_(None),
           _visit.c.date <= bindparam("as_of"),
           or_(_visit.c.global_assessment.is_not(None), _visit.c.satisfaction.is_not(None)))
    .order_by(_visit.c.date, _visit.c.id)
)
_THERAPIES = (
    select(_therapy.c.name, _therapy.c.start, _therapy.c.stop, _therapy.c.dose)
    .where(_therapy.c.patient_id == bindparam("patient_id"), _therapy.c.deleted_at.is_(None))
    .order_by(_therapy.c.start, _therapy.c.id)
)


# Fixed value axes, so that the chart's height means the same at every visit: a change of 0.15 µm drawn
# on an axis fitted to the data would fill the chart and look like a leap.
# Shaft diameter: 0–120 µm holds the whole clinical span, vellus (< 30 µm) through the 40 µm terminal
# threshold to terminal hairs (mostly 60–100 µm, DESIGN.md §2), so a real thickening of 60 → 66 µm shows as a
# tenth of that span and measurement jitter as nothing; a rare thicker hair widens it (up to the form's 200).
SHAFT_AXIS_UM = (0.0, 120.0)
PERCENT_AXIS = (0.0, 100.0)  # terminal % and anagen %: shares of the hairs counted
SALT_AXIS = (0.0, 100.0)  # the SALT score's own scale (DESIGN.md §2)
SATISFACTION_AXIS = (-0.5, 10.5)  # 0–10, half a step of margin so 0 and 10 are not cut by the frame
# The 7-point global photographic assessment, −3 … +3, with the same half-step margin.
ASSESSMENT_AXIS = (min(GLOBAL_ASSESSMENT_WORDS) - 0.5, max(GLOBAL_ASSESSMENT_WORDS) + 0.5)
_METRICS = (("shaft_diameter", "Shaft diameter", "µm"), ("terminal_pct", "Terminal hairs", "%"),
            ("anagen_pct", "Anagen hairs", "%"))
_STAGE_SCALES = (("norwood", "Norwood–Hamilton stage"), ("ludwig", "Ludwig stage"), ("sinclair", "Sinclair stage"))


def _axis_for(code: str, values: list[float]) -> tuple[float, float]:
    """The fixed value axis of a measured metric (see ``SHAFT_AXIS_UM``).

    >>> _axis_for("shaft_diameter", [60.0, 60.15]), _axis_for("shaft_diameter", [150.0])
    ((0.0, 120.0), (0.0, 160.0))
    >>> _axis_for("anagen_pct", [85.0])
    (0.0, 100.0)
    """
    if code != "shaft_diameter":
        return PERCENT_AXIS
    highest = max(values, default=0.0)
    # Past 120 µm: widened to the next 10 µm above the highest value + 10, never cut off.
    return SHAFT_AXIS_UM if highest <= SHAFT_AXIS_UM[1] else (0.0, float(math.ceil((highest + 10) / 10) * 10))


def _secondary(reads: Connection, patient_id: int, day0: date | None, as_of: date, measurements: list[AnyRow],
               salt_charted: bool = False) -> tuple[tuple[SecondarySeries, ...], tuple[VisitRating, ...]]:
    """The secondary charts and the visits' ratings, up to ``as_of`` (as the engine leaves later records out).

    ``measurements``: the patient's rows of ``patient_progress.read_measurements`` (oldest first);
    ``salt_charted``: the SALT score is the main chart (a SALT protocol), so it is not repeated here.
    """

    month_of: dict[date, float | None] = {}

    def months(day: date) -> float | None:
        if day not in month_of:
            month_of[day] = round(months_between(day0, day), 4) if day0 else None
        return month_of[day]

    by_metric: list[dict[str, list[SeriesPoint]]] = [{} for _ in _METRICS]
    for day, site, _density, *values in (row[:6] for row in measurements):  # read_measurements' metrics
        for by_site, value in zip(by_metric, values, strict=True):
            if value is not None and day <= as_of:
                by_site.setdefault(site, []).append(SeriesPoint(day, months(day), value))
    series = [
        SecondarySeries(title, unit, {k: tuple(v) for k, v in by_site.items()}, code,
                        _axis_for(code, [p.value for points in by_site.values() for p in points]))
        for (code, title, unit), by_site in zip(_METRICS, by_metric, strict=True) if by_site
    ]
    scores = [r for r in reads.execute(_SCALE_SCORES, {"patient_id": patient_id}).all() if r.date <= as_of]
    salt = tuple(SeriesPoint(r.date, months(r.date), r.salt_score) for r in scores
                 if r.scale == "salt" and r.salt_score is not None)
    if salt and not salt_charted:
        series.append(SecondarySeries("SALT score", "points (0–100)", {"scalp": salt}, "salt", SALT_AXIS))
    for name, title in _STAGE_SCALES:
        staged = tuple(SeriesPoint(r.date, months(r.date), _stage_rank(name, r.stage), r.stage or "")
                       for r in scores if r.scale == name and r.stage)
        if staged:
            # Every stage of the scale on the axis, mildest at the bottom, so a step reads as a stage.
            names = stages_for(name)
            series.append(SecondarySeries(title, "stage", {"scalp": staged}, name, (0.5, len(names) + 0.5),
                                          tuple((float(rank), stage) for rank, stage in enumerate(names, 1)),
                                          step=True))
    ratings = tuple(VisitRating(*row) for row in reads.execute(_RATINGS, {"patient_id": patient_id,
                                                                          "as_of": as_of}).all())
    series.extend(_rating_series(ratings, months))
    return tuple(series), ratings


def _rating_series(ratings: tuple[VisitRating, ...],
                   months: Callable[[date], float | None]) -> list[SecondarySeries]:
    """The global photographic assessment (step chart, its words on the axis) and satisfaction, where scored."""
    series = []
    assessed = tuple(SeriesPoint(r.date, months(r.date), float(r.global_assessment),
                                 assessment_words(r.global_assessment))
                     for r in ratings if r.global_assessment is not None)
    if assessed:
        series.append(SecondarySeries(
            "Global photographic assessment", "−3 … +3", {"scalp": assessed},
            "global_assessment", ASSESSMENT_AXIS,
            tuple((float(score), assessment_words(score)) for score in sorted(GLOBAL_ASSESSMENT_WORDS)), step=True))
    satisfied = tuple(SeriesPoint(r.date, months(r.date), float(r.satisfaction))
                      for r in ratings if r.satisfaction is not None)
    if satisfied:
        series.append(SecondarySeries("Patient satisfaction", "0–10", {"scalp": satisfied}, "satisfaction",
                                      SATISFACTION_AXIS, tuple((float(v), str(v)) for v in range(0, 11, 2))))
    return series


def _stage_rank(scale: str, stage: str) -> float:
    """A stage's place on its scale (1 = mildest), so stages can be drawn over time."""
    stages = stages_for(scale)
    return float(stages.index(stage) + 1) if stage in stages else 0.0


def build_view(session: Reads, patient: PatientBasics, as_of: date) -> ProgressView:
    reads = read_connection(session)
    rows = read_measurements(session, patient.id)
    protocol = patient.protocol
    sessions, series = load_records(session, patient.id, rows, protocol)
    progress = assess(sessions, series, protocol, as_of)
    therapies = [
        TherapyRecord(name, start, stop, dose or "")
        for name, start, stop, dose in reads.execute(_THERAPIES, {"patient_id": patient.id}).all()
    ]
    salt = None
    if protocol.judged_on_salt:
        salt = build_salt_chart(progress, protocol, sessions, density_progress(session, patient.id, protocol, as_of))
        baseline = salt.course.baseline
        cards = tuple(MilestoneCard(SALT_SITE, m.result.name, m.result.status, salt_sentence(m, baseline),
                                    salt_patient_sentence(m.result, baseline.density if baseline else None, as_of))
                      for m in salt.course.milestones if progress.sites)
        chart = build_chart(replace(progress, sites=()), protocol, sessions, therapies)
    else:
        cards = tuple(
            MilestoneCard(site.site, m.name, m.status, milestone_sentence(m), patient_sentence(m, as_of))
            for site in progress.sites for m in site.milestones
        )
        chart = build_chart(progress, protocol, sessions, therapies)
    secondary, ratings = _secondary(reads, patient.id, progress.day0, as_of, rows, salt_charted=salt is not None)
    return ProgressView(
        mrn=patient.mrn,
        full_name=patient.full_name,
        age=age_on(patient.birth_date, as_of),
        sex=patient.sex,
        condition=patient.condition,
        protocol_name=protocol.name,
        evidence_note=protocol.evidence_note,
        treatments=tuple(sorted({s.treatment for s in sessions})),
        progress=progress,
        chart=chart,
        cards=cards,
        secondary=secondary,
        next_steps=tuple(what_comes_next(progress, as_of, STAFF)),
        patient_steps=tuple(what_comes_next(progress, as_of, PATIENT)),
        ratings=ratings,
        salt=salt,
    )
