"""Values that are possible but unlikely: the form asks the clinician to confirm them, saying why, before saving.

Each check is plain data in, sentences out; the services (``tracker.records.visits.log_visit``,
``tracker.records.treatment_sessions.log_session``) read what the checks need from the record, and refuse with
``tracker.errors.NeedsConfirmation`` unless the clinician has acknowledged every sentence. A sentence names the
value it is about, so a value changed after the question is asked about afresh.

The slips these catch are the ones seen in clinics: a decimal comma dropped (``58,3`` saved as 583, ten times
the value), a digit missed or doubled, a date whose day and month were swapped or whose year was mistyped.

>>> density_warnings(date(2026, 8, 20), [("vertex", 210.0)], [RecordedDensity("vertex", date(2026, 5, 2), 120.0)])
("Vertex density 210 hairs/cm² is 75% above the previous visit's 120 (2026-05-02): check the value",)
>>> density_warnings(date(2026, 8, 20), [("vertex", 170.0)], [RecordedDensity("vertex", date(2026, 5, 2), 120.0)])
()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tracker.clinic_dates import show_date
from tracker.course.vocabulary import site_words

# Automated counts vary about 10% between repeat measurements of the same scalp (DESIGN.md §2), and the expected
# course gains at most about +35 hairs/cm² (≈ 25%) over a whole year (DESIGN.md §3). A change of more than half
# the previous value between two visits is beyond both several times over, while the typing slips are far beyond
# it: a dropped decimal comma is ×10, a missed digit ÷10, a doubled one ×10.
DENSITY_CHANGE_LIMIT = 0.50

# The baseline visit is measured shortly before the first session (DESIGN.md §1). A visit more than a year
# before it is no baseline of this course: most often the year was mistyped (2025 for 2026) or a date was read
# in another format (20/08/2026 became 2008-02-06).
VISIT_BEFORE_FIRST_SESSION_DAYS = 365

# Sessions are given 3–6 months apart and visits fall at 2–3, 6 and 12 months (DESIGN.md §1): between the two
# furthest-apart scheduled visits (6 and 12 months, 182 days) a session is at most about 91 days from one of
# them. 120 days (about 4 months) leaves a month for visits taken late in their window; a session further than
# that from every visit is most often a mistyped year (365 days off) or a day and month swapped.
SESSION_VISIT_DISTANCE_DAYS = 120


@dataclass(frozen=True)
class RecordedDensity:
    """A density already in the record: the site, the date of its visit, hairs/cm²."""

    site: str
    date: date
    density: float


def density_warnings(visit_date: date, measured: Sequence[tuple[str, float]],
                     recorded: Sequence[RecordedDensity]) -> tuple[str, ...]:
    """A sentence for each site whose new density (hairs/cm²) is more than ``DENSITY_CHANGE_LIMIT`` (50%) away from the
    same site's value at the previous visit (the latest on or before ``visit_date``), or at the next visit when
    none is earlier (a visit entered late). ``recorded`` must not hold the values being saved.

    >>> earlier = [RecordedDensity("frontal", date(2026, 1, 10), 150.0)]
    >>> density_warnings(date(2025, 12, 1), [("frontal", 60.0)], earlier)
    ("Frontal density 60 hairs/cm² is 60% below the next visit's 150 (2026-01-10): check the value",)
    >>> density_warnings(date(2026, 3, 1), [("frontal", 225.0), ("crown", 90.0)], earlier)  # exactly 50%: not asked
    ()
    """
    warnings: list[str] = []
    for site, density in measured:
        same_site = [r for r in recorded if r.site == site]
        before = [r for r in same_site if r.date <= visit_date]
        after = [r for r in same_site if r.date > visit_date]
        if before:
            other, which = max(before, key=lambda r: r.date), "previous"
        elif after:
            other, which = min(after, key=lambda r: r.date), "next"
        else:
            continue
        percent = change_percent(density, other.density)
        if percent is not None and abs(percent) > DENSITY_CHANGE_LIMIT * 100:
            direction = "above" if percent > 0 else "below"
            shown = f"{abs(percent):.0f}"
            if float(shown) <= DENSITY_CHANGE_LIMIT * 100:  # 50.01% is not shown as "50%": it is asked as more
                shown = f"{abs(percent):g}"
            warnings.append(
                f"{site_words(site)} density {density:g} hairs/cm² is {shown}% {direction} the "
                f"{which} visit's {other.density:g} ({show_date(other.date)}): check the value"
            )
    return tuple(warnings)


def change_percent(density: float, previous: float) -> float | None:
    """The change from ``previous`` to ``density`` in % of ``previous``, both read to 0.01 hairs/cm² as the milestone
    engine reads them, and the result to 0.01 % (so that a change of exactly half is 50.0, never 50.0000000001);
    None when ``previous`` is not more than 0.

    >>> change_percent(225.3, 150.2), change_percent(150.3, 100.2), change_percent(150.01, 100.0)
    (50.0, 50.0, 50.01)
    """
    before, after = round(previous, 2), round(density, 2)
    if before <= 0:
        return None
    return round((after - before) / before * 100, 2)


def visit_date_warnings(visit_date: date, first_session: date | None) -> tuple[str, ...]:
    """A sentence when the visit is more than ``VISIT_BEFORE_FIRST_SESSION_DAYS`` before the first session.

    >>> print(*visit_date_warnings(date(2008, 2, 6), date(2026, 8, 21)))  # doctest: +NORMALIZE_WHITESPACE
    Visit date 2008-02-06 is 6771 days before the first treatment session (2026-08-21), more than a year: a
    baseline is measured shortly before the first session; check the date
    >>> visit_date_warnings(date(2025, 8, 21), date(2026, 8, 21)), visit_date_warnings(date(2020, 1, 1), None)
    ((), ())
    """
    if first_session is None:
        return ()
    days = (first_session - visit_date).days
    if days <= VISIT_BEFORE_FIRST_SESSION_DAYS:
        return ()
    return (
        f"Visit date {show_date(visit_date)} is {days} days before the first treatment session "
        f"({show_date(first_session)}), more than a year: a baseline is measured shortly before the first "
        "session; check the date",
    )


def session_date_warnings(session_date: date, visit_dates: Sequence[date]) -> tuple[str, ...]:
    """A sentence when the patient has visits and every one is more than ``SESSION_VISIT_DISTANCE_DAYS`` (120) days
    from the session (a visit exactly 120 days away is near enough).

    A patient with no visit yet is not asked: there is nothing to measure the date against (the record says
    that the course has no baseline).

    >>> visits = [date(2025, 9, 1), date(2026, 1, 5)]
    >>> print(*session_date_warnings(date(2025, 1, 10), visits))  # doctest: +NORMALIZE_WHITESPACE
    Session date 2025-01-10 is 234 days from the nearest visit (2025-09-01); no visit is within 120 days of it:
    check the date
    >>> session_date_warnings(date(2025, 5, 5), [date(2025, 9, 1)]), session_date_warnings(date(2025, 5, 1), [])
    ((), ())
    """
    if not visit_dates:
        return ()
    nearest = min(visit_dates, key=lambda d: (abs((d - session_date).days), d))
    days = abs((nearest - session_date).days)
    if days <= SESSION_VISIT_DISTANCE_DAYS:
        return ()
    return (
        f"Session date {show_date(session_date)} is {days} days from the nearest visit ({show_date(nearest)}); "
        f"no visit is within {SESSION_VISIT_DISTANCE_DAYS} days of it: check the date",
    )


def unacknowledged(warnings: Sequence[str], acknowledged: Sequence[str] | frozenset[str]) -> tuple[str, ...]:
    """The warnings the clinician has not confirmed (a confirmation is for the sentence, and so the values, shown).

    >>> unacknowledged(["a", "b"], ["b"])
    ('a',)
    """
    seen = set(acknowledged)
    return tuple(w for w in warnings if w not in seen)
