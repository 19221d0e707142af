"""The clinic outcomes page's figures: one patient's outcome (from the milestone engine) and a cohort's summary.

Pure functions over plain data; ``tracker.progress.outcomes`` reads the records, runs the engine and calls these.
Nothing here judges a measurement: every status, change and noise comes from ``tracker.course.milestones.assess``
(and the SALT endpoints from ``tracker.course.salt.endpoints``); this module only counts.

Definitions (README "Clinic outcomes"):

- A patient's status at a milestone is the least good status of the sites judged there (behind before on track
  before ahead, as the follow-up lists' "latest change" picks it, ``tracker.course.followup``); with no site
  judged, ``no_baseline`` when a visit fell in the window without a baseline, else the status by the dates
  (``upcoming``, ``due``, ``missed``).
- Milestone attainment: of the patients whose milestone window has opened (status not ``upcoming``), the share
  with a judged visit (ahead, on track or behind); of those judged, the shares ahead / on track / behind.
- Responder at 6 (12) months: judged at the protocol's milestone whose target is month 6 (12), and, density: every
  site judged there gained more than the measurement noise (change > baseline × the protocol's noise % / 100,
  compared in hundredths as the engine does); SALT: the SALT score there is ≤ 20 (the trials' "response"
  endpoint, DESIGN.md §2); SALT50 is counted beside it.
- Change from baseline over months: every measured visit after day 0 with a baseline, at month
  round(days / 30.4375); the patient's value there is the mean change over its sites (hairs/cm², or % SALT
  improvement), the latest visit of the month when there are several. Median and quartiles across patients
  (linear interpolation between order statistics, ``statistics.quantiles(method="inclusive")``; one value is
  all three): ``tracker.progress.outcome_columns`` counts a cohort.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from tracker.course.calendar_months import months_between
from tracker.course.milestones import (
    AHEAD,
    BEHIND,
    NO_BASELINE,
    ON_TRACK,
    MilestoneResult,
    Progress,
    Protocol,
    outcome_change,
)
from tracker.course.salt import endpoints

JUDGED = (BEHIND, ON_TRACK, AHEAD)  # least good first
RESPONDER_MONTHS = (6, 12)  # DESIGN.md §1: the main judgement point and the final assessment


@dataclass(frozen=True, slots=True)
class LotUse:
    """One lot given to one patient: ``key`` is the lot as matched (lower case, trimmed, as the lot lookup
    matches it), ``shown`` as the patient's first session of it spells it (a lot spelt several ways is shown by
    the first spelling in sort order); ``sessions`` and ``with_adverse_events`` count that patient's
    sessions of the lot."""

    key: str
    shown: str
    sessions: int
    with_adverse_events: int


@dataclass(frozen=True, slots=True)
class MilestoneOutcome:
    """One patient at one milestone: ``status`` (a ``MilestoneStatus`` code, patient level, see the module);
    ``responder``: None when not judged, else whether it counts as a response (density: every judged site beyond
    the noise; SALT: SALT ≤ 20); ``salt50``: SALT only, an improvement of at least 50%."""

    name: str
    status: str
    responder: bool | None = None
    salt50: bool | None = None


@dataclass(frozen=True, slots=True)
class PatientOutcome:
    """What the outcomes page counts of one patient on one day: ``day0`` (first session, None: untreated),
    ``sessions`` and ``with_adverse_events`` (live sessions up to the day), ``lots``, one ``MilestoneOutcome``
    per protocol window (window order), and the mean change from baseline (hairs/cm², or % SALT improvement) at
    each measured month after day 0: ``change_months[i]`` months, ``change_values[i]`` (written at once into the
    numpy columns of ``tracker.progress.outcome_columns``, which is what a process keeps)."""

    patient_id: int
    day0: date | None
    sessions: int
    with_adverse_events: int
    lots: tuple[LotUse, ...]
    milestones: tuple[MilestoneOutcome, ...]
    change_months: tuple[int, ...]
    change_values: array[float]


def _hundredths(value: float) -> int:
    return round(round(value, 2) * 100)


def _patient_status(results: Sequence[MilestoneResult]) -> MilestoneOutcome:
    """The patient-level outcome of one milestone from its per-site ``results`` (same window on every site)."""
    judged = [r for r in results if r.status in JUDGED and r.change is not None]
    name = results[0].name
    if not judged:
        status = NO_BASELINE if any(r.status == NO_BASELINE for r in results) else results[0].status
        return MilestoneOutcome(name, str(status))
    worst = min(judged, key=lambda r: JUDGED.index(r.status))
    return MilestoneOutcome(name, str(worst.status),
                            responder=all(_hundredths(r.change or 0.0) > _hundredths(r.noise or 0.0) for r in judged))


def _salt_status(result: MilestoneResult) -> MilestoneOutcome:
    """A SALT course's milestone (one site): responder = the "response" endpoint, SALT ≤ 20."""
    if result.status not in JUDGED or result.density is None:
        return MilestoneOutcome(result.name, str(result.status))
    reached = endpoints(result.density, result.change)
    return MilestoneOutcome(result.name, str(result.status), responder=reached.response, salt50=reached.salt50)


def patient_outcome(patient_id: int, progress: Progress, protocol: Protocol, sessions: int,
                    with_adverse_events: int, lots: Iterable[LotUse]) -> PatientOutcome:
    """One patient's outcome from the engine's ``progress`` (``assess`` on the day asked) and its sessions."""
    per_window: list[list[MilestoneResult]] = [[] for _ in protocol.windows]
    for site in progress.sites:
        for at, result in enumerate(site.milestones):
            per_window[at].append(result)
    for at, result in enumerate(progress.unmeasured):
        per_window[at].append(result)
    milestones = tuple((_salt_status(results[0]) if protocol.judged_on_salt else _patient_status(results))
                       for results in per_window if results)
    changes = _monthly_changes(progress, protocol)
    return PatientOutcome(patient_id, progress.day0, sessions, with_adverse_events, tuple(lots), milestones,
                          tuple(month for month, _ in changes), array("d", (value for _, value in changes)))


def _monthly_changes(progress: Progress, protocol: Protocol) -> tuple[tuple[int, float], ...]:
    """(month, mean change over the sites measured at the month's latest visit) for each month after day 0."""
    if progress.day0 is None:
        return ()
    by_visit: dict[date, list[float]] = {}
    for site in progress.sites:
        if site.baseline is None:
            continue
        for m in site.measurements:
            changed = outcome_change(site.baseline.density, m.density, protocol) if m.date > progress.day0 else None
            if changed is not None:
                by_visit.setdefault(m.date, []).append(changed[0])
    by_month: dict[int, float] = {}
    for day in sorted(by_visit):  # the month's latest visit is written last
        values = by_visit[day]
        by_month[round(months_between(progress.day0, day))] = sum(values) / len(values)
    return tuple(sorted(by_month.items()))


# --- a cohort ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attainment:
    """One milestone across the cohort: ``reached`` patients whose window has opened, ``judged`` of them with a
    judged visit, split ``ahead`` / ``on_track`` / ``behind``; ``no_baseline``, ``due`` (window open, no visit
    yet) and ``missed`` (window closed, no visit) are the rest of ``reached``."""

    name: str
    reached: int
    judged: int
    ahead: int
    on_track: int
    behind: int
    no_baseline: int
    due: int
    missed: int

    @property
    def judged_share(self) -> float | None:
        """Judged / reached, a fraction 0–1 (None with no patient reached)."""
        return self.judged / self.reached if self.reached else None

    def share(self, status: str) -> float | None:
        """The fraction 0–1 of the judged patients with ``status`` (None with none judged)."""
        return getattr(self, status) / self.judged if self.judged else None


@dataclass(frozen=True)
class Responders:
    """Responders at ``month``: ``judged`` patients at that milestone, ``responders`` of them (and ``salt50``
    for a SALT protocol, else None); ``milestone`` is None when the protocol has no milestone targeting it."""

    month: int
    milestone: str | None
    judged: int
    responders: int
    salt50: int | None

    @property
    def share(self) -> float | None:
        return self.responders / self.judged if self.judged else None


@dataclass(frozen=True)
class ChangePoint:
    """Change from baseline at ``month`` after day 0 across ``patients`` measured then: median and quartiles
    (``q1``, ``q3``), hairs/cm² (density) or % improvement (SALT)."""

    month: int
    patients: int
    median: float
    q1: float
    q3: float


@dataclass(frozen=True)
class LotOutcome:
    """A lot given to the cohort: ``patients`` treated with it, ``sessions`` of it, those ``with_adverse_events``,
    and those patients' responders at 6 and 12 months (``Responders``)."""

    lot: str
    patients: int
    sessions: int
    with_adverse_events: int
    at_6: Responders
    at_12: Responders


def per_100(part: int, whole: int) -> float | None:
    """``part`` per 100 of ``whole`` (None when ``whole`` is 0).

    >>> per_100(1, 12)
    8.333333333333334
    """
    return part * 100 / whole if whole else None
