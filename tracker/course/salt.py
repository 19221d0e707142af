"""Alopecia areata followed on SALT: the series the engine judges, the trials' endpoints and the card sentence.

A SALT protocol (``Protocol.outcome == "salt"``) is judged by the same engine as density (``assess``): the
patient's SALT scores are given to it as the series of one site, ``SALT_SITE`` ("scalp"), so that the schedule,
the patient list's "Behind expected" filter, the follow-up outlook and the cards work unchanged. The engine then
reads a milestone's ``change`` as the % improvement from baseline (``milestones.outcome_change``).

Rules (DESIGN.md §2, issue #11):

- SALT scores are the ``scale_score`` rows of scale "salt" (0–100, lower is better) at live visits.
- baseline: the latest SALT score on or before day 0. The SALT value typed at intake (``baseline_stage``) is not
  used: it has no date, so it cannot be told apart from a score taken months before the course.
- improvement % = (baseline − score) / baseline × 100, positive = better; a baseline of 0 (no hair loss) leaves
  nothing to improve on and cannot be judged (status ``no_baseline``).
- status: the band (in % improvement) and the noise (the protocol's ``noise_pct`` in percentage points of
  improvement, equivalently baseline × noise_pct / 100 SALT points) with ``milestones.classify``.
- endpoints at every milestone visit, reported, never judged against: ``response`` SALT ≤ 20, ``salt50``,
  ``salt75``, ``salt90`` an improvement of at least 50/75/90% (values compared rounded to 0.01).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from tracker.clinic_dates import show_date
from tracker.course.clinical import SALT_IMPROVEMENT_ENDPOINTS, SALT_RESPONSE_MAX
from tracker.course.milestones import (
    AHEAD,
    BEHIND,
    NO_BASELINE,
    Baseline,
    DensityRecord,
    MilestoneResult,
    Progress,
    Protocol,
    inside_band,
)
from tracker.course.vocabulary import milestone_short
from tracker.course.wording import card_figure, card_places, milestone_sentence

# The one "site" a SALT course has: SALT scores the whole scalp (DESIGN.md §2 regional weights).
SALT_SITE = "scalp"


class SaltRecord(NamedTuple):
    """One SALT score (0–100, % of scalp without hair, lower is better) recorded at a visit on ``date``."""

    date: date
    score: float


def outcome_records(protocol: Protocol, densities: Iterable[DensityRecord],
                    salt_scores: Iterable[SaltRecord]) -> list[DensityRecord]:
    """The series ``assess`` judges for a patient on ``protocol``: the density measurements for a density
    protocol, the SALT scores as the one site ``SALT_SITE`` for a SALT protocol. Every caller that runs the
    engine for a patient goes through here (directly, or via ``progress.patient_progress.load_records``).

    >>> from tracker.course.milestones import DEFAULT_PROTOCOL
    >>> from dataclasses import replace
    >>> salt = replace(DEFAULT_PROTOCOL, outcome="salt")
    >>> outcome_records(salt, [DensityRecord(date(2025, 1, 2), "vertex", 120)], [SaltRecord(date(2025, 1, 2), 40)])
    [DensityRecord(date=datetime.date(2025, 1, 2), site='scalp', density=40)]
    >>> [r.site for r in outcome_records(DEFAULT_PROTOCOL, [DensityRecord(date(2025, 1, 2), "vertex", 120)], [])]
    ['vertex']
    """
    if protocol.judged_on_salt:
        return [DensityRecord(record.date, SALT_SITE, record.score) for record in salt_scores]
    return list(densities)


def _hundredths(value: float) -> int:
    return round(round(value, 2) * 100)


@dataclass(frozen=True)
class SaltEndpoints:
    """The JAK-inhibitor trials' endpoints at one visit: ``response`` SALT ≤ 20; ``salt50``/``salt75``/``salt90``
    an improvement of at least 50/75/90% from baseline (all False without a judged improvement)."""

    response: bool
    salt50: bool
    salt75: bool
    salt90: bool

    def reached(self) -> tuple[str, ...]:
        """The endpoints reached, in the words the cards and the PDF use."""
        names = (f"Response (SALT ≤ {SALT_RESPONSE_MAX:g})", "SALT50", "SALT75", "SALT90")
        flags = (self.response, self.salt50, self.salt75, self.salt90)
        return tuple(name for name, flag in zip(names, flags, strict=True) if flag)


def endpoints(score: float, improvement_pct: float | None) -> SaltEndpoints:
    """The endpoints for a SALT ``score`` and its % improvement from baseline (``None``: not judged).

    >>> endpoints(20, 50)
    SaltEndpoints(response=True, salt50=True, salt75=False, salt90=False)
    >>> endpoints(20.01, 49.99), endpoints(4, 90).salt90, endpoints(4, None).salt50
    (SaltEndpoints(response=False, salt50=False, salt75=False, salt90=False), True, False)
    """
    improvement = None if improvement_pct is None else _hundredths(improvement_pct)
    salt50, salt75, salt90 = (improvement is not None and improvement >= _hundredths(threshold)
                              for threshold in SALT_IMPROVEMENT_ENDPOINTS)
    return SaltEndpoints(_hundredths(score) <= _hundredths(SALT_RESPONSE_MAX), salt50, salt75, salt90)


@dataclass(frozen=True)
class SaltMilestone:
    """One milestone of a SALT course: the engine's result (``score`` = its ``density``, ``improvement_pct`` =
    its ``change``) and the endpoints at its visit (``None`` when no visit falls in the window)."""

    result: MilestoneResult
    endpoints: SaltEndpoints | None

    @property
    def score(self) -> float | None:
        return self.result.density

    @property
    def improvement_pct(self) -> float | None:
        return self.result.change


@dataclass(frozen=True)
class SaltCourse:
    """A patient's SALT course as ``assess`` judged it (``progress`` fed by ``outcome_records``).

    ``baseline``: date and SALT score (``Baseline.density`` holds the score), ``None`` with no score on or
    before day 0; ``scores``: every SALT score up to ``as_of``, oldest first; ``milestones``: one per window.
    """

    baseline: Baseline | None
    scores: tuple[SaltRecord, ...]
    milestones: tuple[SaltMilestone, ...]


def salt_course(progress: Progress) -> SaltCourse:
    """The SALT course out of a progress the engine made from SALT scores (``outcome_records``)."""
    site = next((s for s in progress.sites if s.site == SALT_SITE), None)
    if site is None:
        return SaltCourse(None, (), tuple(SaltMilestone(m, None) for m in progress.unmeasured))
    return SaltCourse(
        site.baseline,
        tuple(SaltRecord(m.date, m.density) for m in site.measurements),
        tuple(SaltMilestone(m, None if m.density is None else endpoints(m.density, m.change))
              for m in site.milestones),
    )


def score_text(score: float) -> str:
    """A SALT score as printed: at most one decimal, no trailing zero.

    >>> score_text(18.0), score_text(27.64), score_text(0)
    ('18', '27.6', '0')
    """
    return f"{score:.1f}".removesuffix(".0")


def _joined(words: tuple[str, ...]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _judgement(m: MilestoneResult, places: int) -> str:
    if m.change is None or m.expected_low is None or m.expected_high is None:
        raise ValueError(f"milestone {m.name}: status {m.status!r} was not judged against a band")
    noise = f"the measurement noise (±{m.noise or 0:.{places}f} points)"
    if m.status == BEHIND:
        return f"this is below the range by more than {noise}, so it is behind the clinic's expected course"
    if m.status == AHEAD:
        return f"this is above the range by more than {noise}, so it is ahead of the clinic's expected course"
    if inside_band(m.change, m.expected_low, m.expected_high):
        return "this is within the range, so it is consistent with the clinic's expected course"
    return f"the difference is within {noise}, so this is consistent with the clinic's expected course"


def salt_sentence(milestone: SaltMilestone, baseline: Baseline | None, title: str | None = None) -> str:
    """One SALT card: score, baseline, improvement, endpoints reached, and why it is judged so, e.g.

    >>> m = MilestoneResult("noticeable_growth", date(2025, 7, 1), date(2025, 9, 1), date(2025, 8, 1), "ahead",
    ...                     date(2025, 8, 1), 18.0, 6.0, 55.0, 55.0, 20.0, 44.0, 10.0)
    >>> print(salt_sentence(SaltMilestone(m, endpoints(18, 55)), Baseline(date(2025, 2, 1), 40)))
    6 months: SALT 18 (baseline 40), an improvement of 55%. Response (SALT ≤ 20) and SALT50 reached. \
The clinic's expected range is +20 to +44%; this is above the range by more than the measurement noise \
(±10 points), so it is ahead of the clinic's expected course.
    """
    m = milestone.result
    title = milestone_short(m.name) if title is None else title
    if m.visit_date is None or m.density is None:
        return milestone_sentence(m, title)  # not yet due, due now or missed: said from the dates alone
    reached = milestone.endpoints.reached() if milestone.endpoints else ()
    endpoint_text = f" {_joined(reached)} reached." if reached else " No endpoint reached yet."
    if m.status == NO_BASELINE or m.change is None or baseline is None:
        why = ("the baseline SALT score was 0 (no hair loss), so an improvement cannot be measured"
               if baseline is not None else "there is no SALT score from before the first session, so the "
               "improvement cannot be judged")
        return f"{title}: SALT {score_text(m.density)} on {show_date(m.visit_date)}, but {why}.{endpoint_text}"
    # The improvement is shown with as many decimals as the range and the noise, so that the sentence's own
    # arithmetic agrees with the status (40.4% against +20.0 to +30.0 ± 10.0 is ahead; "40%" would not be).
    places = card_places(m)
    change = (f"an improvement of {card_figure(m.change, places).lstrip('+')}%" if round(m.change, places) >= 0
              else f"{card_figure(-m.change, places).lstrip('+')}% worse than at baseline")
    opening = f"{title}: SALT {score_text(m.density)} (baseline {score_text(baseline.density)}), {change}."
    if m.expected_low is None or m.expected_high is None:
        return opening + endpoint_text
    return (f"{opening}{endpoint_text} The clinic's expected range is {card_figure(m.expected_low, places)} to "
            f"{card_figure(m.expected_high, places)}%; {_judgement(m, places)}.")
