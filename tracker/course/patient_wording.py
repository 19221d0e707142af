"""Words for the patient: their own view and the consult screen (issue #11, "Words for each reader").

The same judgement as the staff card (``wording.milestone_sentence``: the status from ``milestones.classify``
with the measurement noise, and whether the change lies inside the band), said in plain words: no codes, no
"±13", no protocol or study names, and never a promised outcome (DESIGN.md §3). Figures are whole hairs per
square centimetre and whole percent; the judgement itself comes from the status, not from the rounded figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tracker.clinic_dates import show_date
from tracker.course.milestones import (
    AHEAD,
    BEHIND,
    DUE,
    MISSED,
    NO_BASELINE,
    UPCOMING,
    MilestoneResult,
    inside_band,
)
from tracker.course.vocabulary import milestone_visit

# Instead of the staff's evidence note (study names, sample sizes): one line a patient can take home.
EXPECTATION_LINE = "Results vary from person to person; this range is a guide, not a promise."


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    meaning: str


def glossary(noise_pct: float, salt: bool = False) -> tuple[GlossaryEntry, ...]:
    """The few words the patient's view and the consult screen use, explained in plain words; ``noise_pct``:
    the protocol's measurement noise in % of the baseline (DESIGN.md §2), as the milestones were judged with;
    ``salt``: the patient's course is judged on the SALT score (alopecia areata), which is explained first.

    >>> [entry.term for entry in glossary(10, salt=True)][:2]
    ['SALT score', 'hairs/cm²']

    >>> [entry.term for entry in glossary(10)]
    ['hairs/cm²', 'Baseline', 'Expected range', 'Measurement noise']
    >>> glossary(10)[3].meaning.split(",")[0]
    'Two counts of the same scalp on the same day differ by up to about 10%'
    """
    salt_words = (
        GlossaryEntry("SALT score", "How much of the scalp has no hair, from 0 (none missing) to 100 (all of it), "
                                    "judged in four areas of the scalp. Lower is better; 20 or less is what "
                                    "treatment usually aims for."),
    ) if salt else ()
    return salt_words + (
        GlossaryEntry("hairs/cm²", "Hairs per square centimetre: how many hairs grow in a small square of scalp "
                                   "about the size of a fingertip. We count them in the same spot at every visit."),
        GlossaryEntry("Baseline", "Your hair count before your first treatment. Every later count is compared "
                                  "with it, so you are measured against yourself, not against other people."),
        GlossaryEntry("Expected range", "The change from your baseline that people usually show at that stage "
                                        "of treatment. " + EXPECTATION_LINE),
        GlossaryEntry("Measurement noise", f"Two counts of the same scalp on the same day differ by up to about "
                                           f"{noise_pct:.0f}%, even when nothing has changed. A change smaller "
                                           "than that cannot be told apart from no change."),
    )


def patient_sentence(m: MilestoneResult, as_of: date) -> str:
    """One milestone of one area, for the patient (the consult screen and the patient's own view).

    ``as_of``: the day the page speaks on; a due visit whose target date has passed is said in the past tense.
    The judgement is the engine's status (and, for on track, whether the change lies inside the band), so this
    sentence never says other than the staff card.

    >>> m = MilestoneResult("early_response", date(2025, 3, 15), date(2025, 4, 15), date(2025, 4, 15),
    ...                     "on_track", date(2025, 4, 14), 122.0, 3.0, -8.0, -6.2, 4.0, 19.0, 13.0)
    >>> print(patient_sentence(m, date(2025, 5, 1)))
    At your 3-month check-up on 2025-04-14, the hair count in this area was 8 hairs per square centimetre \
lower than at the start (about 6%). Changes this small are within what the measurement itself varies, so \
this fits the usual course.
    """
    visit = milestone_visit(m.name)
    window = f"between {show_date(m.window_start)} and {show_date(m.window_end)}"
    if m.status == UPCOMING:
        return f"Your {visit} is due {window}."
    if m.status == DUE:
        if as_of > m.target:
            return f"Your {visit} was due on {show_date(m.target)}; please book it by {show_date(m.window_end)}."
        return f"Your {visit} is due now, {window}; please book it."
    if m.status == MISSED:
        return (f"Your {visit} was due {window}, and no visit took place then, so this stage could not be "
                "measured.")
    if m.visit_date is None or m.density is None:  # only the three statuses above are without a visit
        raise ValueError(f"milestone {m.name}: status {m.status!r} has no visit")
    opening = f"At your {visit} on {show_date(m.visit_date)}, the hair count in this area was"
    if m.status == NO_BASELINE or m.change is None:
        return (f"{opening} {m.density:.0f} hairs per square centimetre. There was no count before your first "
                "treatment to compare it with, so we cannot say how much it has changed.")
    return f"{opening} {_change(m.change, m.change_pct)}.{_meaning(m)}"


def _change(change: float, change_pct: float | None) -> str:
    """The change from the baseline in words: "8 hairs per square centimetre lower than at the start (about 6%)".

    >>> _change(0.4, 0.3), _change(1, 0.7)
    ('about the same as at the start', '1 hair per square centimetre higher than at the start (about 1%)')
    """
    hairs = round(abs(change))
    if hairs == 0:
        return "about the same as at the start"
    direction = "higher" if change > 0 else "lower"
    pct = f" (about {abs(change_pct):.0f}%)" if change_pct is not None else ""
    return f"{hairs} hair{'' if hairs == 1 else 's'} per square centimetre {direction} than at the start{pct}"


def _meaning(m: MilestoneResult) -> str:
    """What the status means, after the figures (empty when there was no expected range to judge against)."""
    if m.change is None or m.expected_low is None or m.expected_high is None:
        return ""
    if m.status == AHEAD:
        return (" That is more than people usually show at this stage, by more than the measurement itself "
                "varies.")
    if m.status == BEHIND:
        return (" That is less than people usually show at this stage, by more than the measurement itself "
                "varies. We will talk with you about what this may mean and what can be done.")
    if inside_band(m.change, m.expected_low, m.expected_high):
        return " That is within the range people usually show at this stage."
    # On track outside the band: the measurement cannot tell the point from the band (milestones.classify).
    if abs(m.change) <= (m.noise or 0.0):
        return " Changes this small are within what the measurement itself varies, so this fits the usual course."
    side = "below" if m.change < m.expected_low else "above"
    return (f" That is a little {side} the range people usually show at this stage, but by less than the "
            "measurement itself varies, so it fits the usual course.")


def photo_date_words(day: date, months: float | None) -> str:
    """The caption under one photo of a before/after pair: its date and where it lies in the course.

    >>> photo_date_words(date(2025, 1, 10), -0.2), photo_date_words(date(2026, 1, 20), 12.2)
    ('2025-01-10, before the first treatment', '2026-01-20, about 12 months after the first treatment')
    >>> photo_date_words(date(2025, 1, 15), 0.0), photo_date_words(date(2025, 2, 1), 0.4)
    ('2025-01-15, the day of the first treatment', '2025-02-01, less than a month after the first treatment')
    """
    if months is None:
        return show_date(day)
    if months < 0:
        return f"{show_date(day)}, before the first treatment"
    if months == 0:
        return f"{show_date(day)}, the day of the first treatment"
    whole = round(months)
    if whole == 0:
        return f"{show_date(day)}, less than a month after the first treatment"
    return f"{show_date(day)}, about {whole} month{'' if whole == 1 else 's'} after the first treatment"


def salt_patient_sentence(m: MilestoneResult, baseline_score: float | None, as_of: date) -> str:
    """One SALT milestone (alopecia areata) for the patient: the score, the start's score and the same
    judgement as the staff card (``m.change``: % improvement of the SALT score, ``m.noise`` in points).

    >>> m = MilestoneResult("noticeable_growth", date(2025, 7, 1), date(2025, 9, 1), date(2025, 8, 1),
    ...                     "on_track", date(2025, 7, 15), 18.0, 6.0, 55.0, 55.0, 20.0, 50.0, 10.0)
    >>> print(salt_patient_sentence(m, 40.0, date(2025, 8, 1)))
    At your 6-month check-up on 2025-07-15, your SALT score was 18, down from 40 at the start: an improvement \
of 55%. That is a little above the range people usually show at this stage, but by less than the measurement \
itself varies, so it fits the usual course. A score of 20 or less is what treatment usually aims for, and you \
have reached it.
    """
    if m.visit_date is None or m.density is None:
        return patient_sentence(m, as_of)  # not yet due, due or missed: said from the dates alone
    opening = f"At your {milestone_visit(m.name)} on {show_date(m.visit_date)}, your SALT score was {m.density:g}"
    aim = " A score of 20 or less is what treatment usually aims for, and you have reached it." \
        if m.density <= 20 else ""
    if m.status == NO_BASELINE or m.change is None or baseline_score is None:
        return (f"{opening}. There was no score before your first treatment to compare it with, so we cannot say "
                f"how much it has changed.{aim}")
    improvement = round(m.change)
    if improvement > 0:
        change = f"down from {baseline_score:g} at the start: an improvement of {improvement}%"
    elif improvement < 0:
        change = f"up from {baseline_score:g} at the start: {-improvement}% more of the scalp without hair"
    else:
        change = f"about the same as at the start ({baseline_score:g})"
    return f"{opening}, {change}.{_meaning(m)}{aim}"
