"""Sentences for milestone cards and the "what comes next" panel, for the reader the page speaks to.

Staff pages speak to staff ("The 12-month check-up is due between … and …"); the patient's own view and the
consult screen speak to the patient (``tracker.course.patient_wording`` for a judged milestone). Neither ever
promises an outcome (DESIGN.md §3). Every sentence with a date is in the past tense once that date has passed.

>>> signed(18.04)
'+18'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from tracker.clinic_dates import show_date
from tracker.course.followup import outlook
from tracker.course.milestones import (
    AHEAD,
    BEHIND,
    DUE,
    MISSED,
    NO_BASELINE,
    UPCOMING,
    MilestoneResult,
    Progress,
    classify,
    inside_band,
)
from tracker.course.vocabulary import milestone_short, milestone_visit

# Who a page speaks to: staff (the clinic's own pages) or the patient (their own view, the consult screen).
Audience = Literal["staff", "patient"]
STAFF: Audience = "staff"
PATIENT: Audience = "patient"

def count(number: int, noun: str) -> str:
    """A number with its noun, singular or plural.

    >>> count(1, "session"), count(2, "patient")
    ('1 session', '2 patients')
    """
    return f"{number} {noun}{'' if number == 1 else 's'}"


def signed(value: float) -> str:
    """Whole hairs/cm² with a sign; a change that rounds to nothing is "+0", never "-0".

    >>> signed(-0.4)
    '+0'
    """
    return f"{round(value) or 0:+d}"


def milestone_sentence(m: MilestoneResult, title: str | None = None) -> str:
    """One card: where the point lies and why it is judged so (``judgement``), in one sentence. ``title``: what
    the sentence opens with (the milestone's short name by default; the patient record's milestone strip gives
    the site and the visit date, one sentence per site).

    >>> from tracker.course.milestones import MilestoneResult
    >>> m = MilestoneResult("early_response", date(2025, 3, 15), date(2025, 4, 15), date(2025, 4, 15),
    ...                     "on_track", date(2025, 4, 15), 122.0, 3.0, -8.0, -6.2, 4.0, 19.0, 13.0)
    >>> for part in milestone_sentence(m).split("; "):
    ...     print(part)
    3 months: −8 hairs/cm² (−6%). The expected range is +4 to +19
    the difference is within the measurement noise (±13), so this is consistent with the expected course.
    """
    title = milestone_short(m.name) if title is None else title
    # The three statuses by dates alone follow from ``as_of``: upcoming and due windows have not closed (present
    # tense), a missed one has (past tense).
    window = f"between {show_date(m.window_start)} and {show_date(m.window_end)}"
    if m.status == UPCOMING:
        return f"{title}: not yet due — the {milestone_visit(m.name)} is due {window}."
    if m.status == DUE:
        return f"{title}: due now — the {milestone_visit(m.name)} is due {window}."
    if m.status == MISSED:
        return f"{title}: missed — the {milestone_visit(m.name)} was due {window}; there was no visit in that window."
    if m.visit_date is None:  # only the three statuses above are without a visit
        raise ValueError(f"milestone {m.name}: status {m.status!r} has no visit")
    if m.status == NO_BASELINE or m.change is None:
        return (f"{title}: {m.density:.0f} hairs/cm² measured on {show_date(m.visit_date)}, but there is no "
                f"baseline measurement from before the first session, so the change cannot be judged.")
    pct = f" ({_minus(f'{m.change_pct:+.0f}')}%)" if m.change_pct is not None else ""
    if m.expected_low is None or m.expected_high is None:
        return f"{title}: {_minus(signed(m.change))} hairs/cm²{pct}."
    places = card_places(m)
    return (f"{title}: {card_figure(m.change, places)} hairs/cm²{pct}. The expected range is "
            f"{card_figure(m.expected_low, places)} to {card_figure(m.expected_high, places)}; "
            f"{judgement(m, places=places)}.")


def card_places(m: MilestoneResult) -> int:
    """Decimals for a card's figures (the SALT card's too, ``tracker.course.salt``): whole units unless
    rounding them would make the sentence's own arithmetic disagree with the status (a change of −7.50
    against +4.35 − 11.81 = −7.46 is behind, but "−8 against +4 − 12" would read as on the edge); then 1 or 2
    decimals, as the engine compares at 0.01.

    >>> from tracker.course.milestones import MilestoneResult
    >>> def at(change, low, noise, status):
    ...     return card_places(MilestoneResult("x", date(2025, 3, 15), date(2025, 4, 15), date(2025, 4, 15), status,
    ...                    date(2025, 4, 15), 110.6, 3.0, change, None, low, low + 15, noise))
    >>> at(-8, 4, 13, "on_track"), at(-7.5, 4.35, 11.81, "behind")
    (0, 2)
    """
    if m.change is None or m.expected_low is None or m.expected_high is None:
        return 0
    noise = m.noise or 0.0
    for places in (0, 1):
        shown = [round(v, places) for v in (m.change, m.expected_low, m.expected_high, noise)]
        if (classify(*shown) == m.status
                and inside_band(*shown[:3]) == inside_band(m.change, m.expected_low, m.expected_high)):
            return places
    return 2


def card_figure(value: float, places: int) -> str:
    """A signed figure with a true minus; whole numbers as ``signed`` gives them ("+0", never "-0")."""
    return _minus(signed(value) if places == 0 else f"{value:+.{places}f}")


def judgement(m: MilestoneResult, band: str = "it", places: int | None = None) -> str:
    """Why a judged milestone has its status, from the engine's own rule (``milestones.classify``): the card
    and the PDF's status column both say it in these words. ``band``: how the expected range is referred to
    ("it" after a sentence that named the range); ``places``: decimals of the noise (``_places`` by default).

    >>> from tracker.course.milestones import MilestoneResult
    >>> def at(change, status):
    ...     return judgement(MilestoneResult("x", date(2025, 3, 15), date(2025, 4, 15), date(2025, 4, 15), status,
    ...                      date(2025, 4, 15), 130.0, 3.0, change, None, 4.0, 19.0, 13.0))
    >>> at(10, "on_track")
    'the change is within it, so this is consistent with the expected course'
    >>> at(-10, "behind")
    'the change is below it by more than the measurement noise (±13), so this is behind the expected course'
    >>> at(33, "ahead")
    'the change is above it by more than the measurement noise (±13), so this is ahead of the expected course'
    """
    if m.change is None or m.expected_low is None or m.expected_high is None:
        raise ValueError(f"milestone {m.name}: status {m.status!r} was not judged against a band")
    places = card_places(m) if places is None else places
    noise = f"the measurement noise (±{m.noise or 0:.{places}f})"
    if m.status == BEHIND:
        return f"the change is below {band} by more than {noise}, so this is behind the expected course"
    if m.status == AHEAD:
        return f"the change is above {band} by more than {noise}, so this is ahead of the expected course"
    if inside_band(m.change, m.expected_low, m.expected_high):
        return f"the change is within {band}, so this is consistent with the expected course"
    # Outside the band, but by no more than the noise: the measurement cannot tell it from the band.
    return f"the difference is within {noise}, so this is consistent with the expected course"


def _minus(text: str) -> str:
    """A true minus sign (−) for a negative number, as printed in the clinic's letters.

    >>> _minus("-8"), _minus("+4")
    ('−8', '+4')
    """
    return text.replace("-", "−")


@dataclass(frozen=True)
class NextStep:
    topic: str
    text: str


def what_comes_next(progress: Progress, today: date, audience: Audience = STAFF) -> list[NextStep]:
    """The "what comes next" panel on ``today``: NSAID-free span, next follow-up visit, repeat-session window,
    how long the effect lasts; each in the present tense while its date is ahead or today, in the past tense
    once it has passed. ``audience``: ``STAFF`` words ("The 6-month check-up is due …") or ``PATIENT`` words
    ("Your 6-month check-up is due …", with what to do)."""
    steps = [_medication(progress, today, audience), _follow_up(progress, audience),
             _repeat_session(progress, today, audience), _effect(progress, today, audience)]
    return [step for step in steps if step is not None]


def _medication(progress: Progress, today: date, audience: Audience) -> NextStep | None:
    """DESIGN.md §1: NSAIDs are avoided from 3 days before to 3 weeks after each session (the latest here)."""
    if not progress.nsaid_free:
        return None
    span = progress.nsaid_free[-1]
    yours = "your" if audience == PATIENT else "the"
    if today > span.end:
        return NextStep("Medication", (
            f"The time to avoid aspirin and ibuprofen (NSAIDs) around {yours} latest session "
            f"({show_date(span.session_date)}) ended on {show_date(span.end)}."))
    if audience == PATIENT:
        return NextStep("Medication", (
            f"Avoid aspirin and ibuprofen (NSAIDs) until {show_date(span.end)}: they can weaken the treatment. "
            "Paracetamol is usually fine; ask us if unsure."))
    return NextStep("Medication", (
        f"No NSAIDs (aspirin, ibuprofen) from {show_date(span.start)} to {show_date(span.end)}: 3 days before to "
        f"3 weeks after the session of {show_date(span.session_date)}."))


def _follow_up(progress: Progress, audience: Audience) -> NextStep | None:
    """The next milestone visit (upcoming or due), else the latest window missed; "Your …" to the patient."""
    ahead = outlook(progress)
    patient = audience == PATIENT
    owner = "Your" if patient else "The"
    if ahead.next_name and ahead.next_window_start and ahead.next_window_end and ahead.next_due:
        visit = f"{owner} {milestone_visit(ahead.next_name)}"
        window = f"between {show_date(ahead.next_window_start)} and {show_date(ahead.next_window_end)}"
        if ahead.next_status != DUE:
            text = f"{visit} is due {window}."
        elif progress.as_of > ahead.next_due:  # the target date has passed, the window is still open
            text = (f"{visit} was due on {show_date(ahead.next_due)}; "
                    + ("please book it by" if patient else "its window stays open until")
                    + f" {show_date(ahead.next_window_end)}.")
        else:
            text = f"{visit} is due now, {window}" + (" — please book it." if patient else ".")
        return NextStep("Next follow-up visit", text)
    missed = ahead.missed
    if missed is not None:
        text = (f"{owner} {milestone_visit(missed.name)} was due between {show_date(missed.window_start)} and "
                f"{show_date(missed.window_end)}, and no visit took place then"
                + (" — please book a visit so that we can see how your hair is doing." if patient else "."))
        return NextStep("Next follow-up visit", text)
    return None


def _repeat_session(progress: Progress, today: date, audience: Audience) -> NextStep | None:
    """DESIGN.md §1: a repeat session is considered 3–6 months after the latest one."""
    window = progress.next_session_window
    if window is None:
        return None
    dates = f"{show_date(window.start)} to {show_date(window.end)}"
    if today > window.end:
        advice = ("ask the clinic whether another session is planned" if audience == PATIENT
                  else "no further session has been recorded")
        return NextStep("Repeat session", f"The usual window for a repeat session ({dates}) has passed; {advice}.")
    text = (f"A repeat session can be considered between {show_date(window.start)} and {show_date(window.end)}"
            + (" (the window is open now)." if today >= window.start else "."))
    if audience == PATIENT:
        text += (" Avoid NSAIDs for 3 days before it; drink plenty of water the day before and have breakfast "
                 "that morning.")
    return NextStep("Repeat session", text)


def _effect(progress: Progress, today: date, audience: Audience) -> NextStep | None:
    """DESIGN.md §1: the product's effect usually lasts about 6–8 months after a session."""
    span = progress.active_until
    if span is None:
        return None
    verb = "lasted" if today > span.end else "lasts"
    yours = "your" if audience == PATIENT else "the"
    return NextStep("How long it works", (
        f"The effect of {yours} latest session usually {verb} until between {show_date(span.start)} and "
        f"{show_date(span.end)}."))
