"""Plain-language sentences for milestone cards and the patient's "what comes next" panel.

Said the way a clinician would say it to a patient, never promising an outcome (DESIGN.md §3).

>>> long_date(date(2025, 12, 14))
'14 December 2025'
>>> signed(18.04)
'+18'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tracker.course.clinical import NO_MEASURABLE_CHANGE_PCT
from tracker.course.followup import outlook
from tracker.course.milestones import (
    DUE,
    MISSED,
    NO_BASELINE,
    UPCOMING,
    MilestoneResult,
    Progress,
)
from tracker.course.vocabulary import milestone_short, status_words

# English month names whatever the server's locale (``%B`` follows it): the app's wording is English.
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def count(number: int, noun: str) -> str:
    """A number with its noun, singular or plural.

    >>> count(1, "session"), count(2, "patient")
    ('1 session', '2 patients')
    """
    return f"{number} {noun}{'' if number == 1 else 's'}"


def long_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def day_month(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


def signed(value: float) -> str:
    """Whole hairs/cm² with a sign; a change that rounds to nothing is "+0", never "-0".

    >>> signed(-0.4)
    '+0'
    """
    return f"{round(value) or 0:+d}"


def milestone_sentence(m: MilestoneResult) -> str:
    """One card, e.g. "6 months: +18 hairs/cm² (+12%), within the expected range (+10 to +35)."

    >>> from tracker.course.milestones import MilestoneResult
    >>> m = MilestoneResult("noticeable_growth", date(2025, 6, 15), date(2025, 8, 15), date(2025, 7, 15),
    ...                     "on_track", date(2025, 7, 15), 168.0, 6.0, 18.0, 12.0, 10.0, 35.0)
    >>> milestone_sentence(m)
    '6 months: +18 hairs/cm² (+12%), within the expected range (+10 to +35).'
    """
    title = milestone_short(m.name)
    if m.status == UPCOMING:
        return f"{title}: not yet due — the visit window opens on {long_date(m.window_start)}."
    if m.status == DUE:
        return (f"{title}: due now — a follow-up visit belongs between {long_date(m.window_start)} and "
                f"{long_date(m.window_end)}.")
    if m.status == MISSED:
        return (f"{title}: missed — there was no visit between {long_date(m.window_start)} and "
                f"{long_date(m.window_end)}.")
    if m.visit_date is None:  # only the three statuses above are without a visit
        raise ValueError(f"milestone {m.name}: status {m.status!r} has no visit")
    if m.status == NO_BASELINE or m.change is None:
        return (f"{title}: {m.density:.0f} hairs/cm² measured on {long_date(m.visit_date)}, but there is no "
                f"baseline measurement from before the first session, so the change cannot be judged.")
    pct = f" ({m.change_pct:+.0f}%)" if m.change_pct is not None else ""
    sentence = f"{title}: {signed(m.change)} hairs/cm²{pct}, {status_words(m.status).phrase}"
    if m.expected_low is not None and m.expected_high is not None:
        sentence += f" ({signed(m.expected_low)} to {signed(m.expected_high)})"
    sentence += "."
    if m.change_pct is not None and abs(m.change_pct) < NO_MEASURABLE_CHANGE_PCT:
        sentence += (f" A change within ±{NO_MEASURABLE_CHANGE_PCT:.0f}% is inside measurement noise: "
                     "no measurable change yet.")
    return sentence


@dataclass(frozen=True)
class NextStep:
    topic: str
    text: str


def what_comes_next(progress: Progress, today: date) -> list[NextStep]:
    """The patient's panel: NSAID-free span, next follow-up visit, repeat-session window, effect."""
    steps: list[NextStep] = []
    if progress.nsaid_free:
        latest = progress.nsaid_free[-1]
        if today <= latest.end:
            steps.append(NextStep("Medication", (
                f"Avoid aspirin and ibuprofen (NSAIDs) until {day_month(latest.end)}: they can weaken the "
                f"treatment. Paracetamol is usually fine; ask us if unsure.")))
    ahead = outlook(progress)
    if ahead.next_name and ahead.next_window_start and ahead.next_window_end:
        steps.append(NextStep("Next follow-up visit", (
            f"Your {milestone_short(ahead.next_name)} check-up is due between "
            f"{long_date(ahead.next_window_start)} and {long_date(ahead.next_window_end)}"
            + (" — please book it now." if ahead.next_status == DUE else ".")
        )))
    elif ahead.overdue:
        steps.append(NextStep("Next follow-up visit", "A follow-up visit is overdue — please book one."))
    if progress.next_session_window:
        window = progress.next_session_window
        if today > window.end:
            text = (f"The usual window for a repeat session ({long_date(window.start)} to {long_date(window.end)}) "
                    "has passed; ask the clinic whether another session is planned.")
        else:
            text = (f"A repeat session can be considered between {long_date(window.start)} and "
                    f"{long_date(window.end)}. Avoid NSAIDs for 3 days before it; drink plenty of water the day "
                    "before and have breakfast that morning.")
        steps.append(NextStep("Repeat session", text))
    if progress.active_until:
        steps.append(NextStep("How long it works", (
            f"The effect of the latest session usually lasts until about {long_date(progress.active_until.start)}"
            f"–{long_date(progress.active_until.end)}.")))
    return steps
