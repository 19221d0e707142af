"""The progress view's data: header, chart, milestone cards, secondary series, next steps (``build_view``).

Read by ``tracker.progress.page_data`` (the progress page, the consult screen, the patient's own view) and by the
PDF report, each in its own audited transaction, for the patient ``tracker.access.patient_lookup`` resolved:
a patient account reaches only its own record, checked there, not in the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select

from db import models
from tracker.access.patient_lookup import PatientBasics
from tracker.course.calendar_months import age_on, months_between
from tracker.course.milestones import Progress, assess
from tracker.course.patient_wording import patient_sentence
from tracker.course.scales import stages_for
from tracker.course.vocabulary import ASSESSED, MilestoneStatus
from tracker.course.wording import PATIENT, STAFF, NextStep, milestone_sentence, what_comes_next
from tracker.database import AnyRow, Reads, read_connection
from tracker.progress.chart_data import ProgressChart, TherapyRecord, build_chart
from tracker.progress.patient_progress import load_records, read_measurements


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
    """Shaft diameter, terminal %, anagen % per site and scale scores over time, where measured."""

    title: str
    unit: str
    by_site: dict[str, tuple[SeriesPoint, ...]]


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
_THERAPIES = (
    select(_therapy.c.name, _therapy.c.start, _therapy.c.stop, _therapy.c.dose)
    .where(_therapy.c.patient_id == bindparam("patient_id"), _therapy.c.deleted_at.is_(None))
    .order_by(_therapy.c.start, _therapy.c.id)
)


def _secondary(reads: Connection, patient_id: int, day0: date | None,
               measurements: list[AnyRow]) -> tuple[SecondarySeries, ...]:
    """``measurements``: the patient's rows of ``patient_progress.read_measurements`` (oldest first)."""

    month_of: dict[date, float | None] = {}

    def months(day: date) -> float | None:
        if day not in month_of:
            month_of[day] = round(months_between(day0, day), 4) if day0 else None
        return month_of[day]

    metrics = (("Shaft diameter", "µm"), ("Terminal hairs", "%"), ("Anagen hairs", "%"))
    by_metric: list[dict[str, list[SeriesPoint]]] = [{} for _ in metrics]
    for day, site, _density, *values in measurements:  # read_measurements' columns, in that order
        for by_site, value in zip(by_metric, values, strict=True):
            if value is not None:
                by_site.setdefault(site, []).append(SeriesPoint(day, months(day), value))
    series = [SecondarySeries(title, unit, {k: tuple(v) for k, v in by_site.items()})
              for (title, unit), by_site in zip(metrics, by_metric, strict=True) if by_site]
    scores = reads.execute(_SCALE_SCORES, {"patient_id": patient_id}).all()
    salt = tuple(SeriesPoint(r.date, months(r.date), r.salt_score) for r in scores
                 if r.scale == "salt" and r.salt_score is not None)
    if salt:
        series.append(SecondarySeries("SALT score", "points (0–100)", {"scalp": salt}))
    for name, title in (("norwood", "Norwood–Hamilton stage"), ("ludwig", "Ludwig stage"),
                        ("sinclair", "Sinclair stage")):
        staged = tuple(SeriesPoint(r.date, months(r.date), _stage_rank(name, r.stage), r.stage or "")
                       for r in scores if r.scale == name and r.stage)
        if staged:
            series.append(SecondarySeries(title, "stage", {"scalp": staged}))
    return tuple(series)


def _stage_rank(scale: str, stage: str) -> float:
    """A stage's place on its scale (1 = mildest), so stages can be drawn over time."""
    stages = stages_for(scale)
    return float(stages.index(stage) + 1) if stage in stages else 0.0


def build_view(session: Reads, patient: PatientBasics, as_of: date) -> ProgressView:
    reads = read_connection(session)
    rows = read_measurements(session, patient.id)
    sessions, measurements = load_records(session, patient.id, rows)
    protocol = patient.protocol
    progress = assess(sessions, measurements, protocol, as_of)
    therapies = [
        TherapyRecord(name, start, stop, dose or "")
        for name, start, stop, dose in reads.execute(_THERAPIES, {"patient_id": patient.id}).all()
    ]
    cards = tuple(
        MilestoneCard(site.site, m.name, m.status, milestone_sentence(m), patient_sentence(m, as_of))
        for site in progress.sites for m in site.milestones
    )
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
        chart=build_chart(progress, protocol, sessions, therapies),
        cards=cards,
        secondary=_secondary(reads, patient.id, progress.day0, rows),
        next_steps=tuple(what_comes_next(progress, as_of, STAFF)),
        patient_steps=tuple(what_comes_next(progress, as_of, PATIENT)),
    )
