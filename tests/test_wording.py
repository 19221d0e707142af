"""Words for each reader (issue #11): the staff card and the patient's sentence say the same judgement, each in
its reader's words, and every dated sentence turns to the past tense once its date has passed.

All sentences below are written out by hand. The course: one session on 15 January 2025 (day 0) with a vertex
baseline of 150 hairs/cm² that day, so the noise is 15 (10%). Its dates, in calendar months from day 0
(DESIGN.md §1): NSAIDs avoided 12 January – 5 February 2025 (3 days before, 3 weeks after); the 3-month window
15 March – 15 April 2025 (target 15 April); the 6-month window 15 June – 15 August 2025 (target 15 July); a repeat
session 15 April – 15 July 2025; the effect lasting until about 15 July – 15 September 2025.
"""

from __future__ import annotations

from datetime import date

import pytest

from tracker.course.milestones import DensityRecord, MilestoneResult, SessionRecord, assess, classify
from tracker.course.patient_wording import patient_sentence
from tracker.course.wording import PATIENT, STAFF, milestone_sentence, what_comes_next

DAY0 = date(2025, 1, 15)
VISIT = date(2025, 4, 15)


def _progress(as_of: date, *visits: tuple[date, float]):
    return assess([SessionRecord(DAY0)], [DensityRecord(DAY0, "vertex", 150.0),
                                         *(DensityRecord(day, "vertex", density) for day, density in visits)],
                  as_of=as_of)


def _milestone(as_of: date, name: str = "early_response") -> MilestoneResult:
    return next(m for m in _progress(as_of).sites[0].milestones if m.name == name)


def _judged(change: float, low: float, high: float, noise: float, baseline: float = 150.0) -> MilestoneResult:
    status = classify(change, low, high, noise)
    return MilestoneResult("early_response", date(2025, 3, 15), VISIT, VISIT, status, VISIT, baseline + change,
                           3.0, change, change / baseline * 100, low, high, noise)


# --- milestones by dates alone: the window's dates on either side of as_of ------------------------------------

@pytest.mark.parametrize(("as_of", "status", "staff", "patient"), [
    (date(2025, 3, 14), "upcoming",
     "3 months: not yet due — the 3-month check-up is due between 2025-03-15 and 2025-04-15.",
     "Your 3-month check-up is due between 2025-03-15 and 2025-04-15."),
    (date(2025, 3, 15), "due",
     "3 months: due now — the 3-month check-up is due between 2025-03-15 and 2025-04-15.",
     "Your 3-month check-up is due now, between 2025-03-15 and 2025-04-15; please book it."),
    (date(2025, 4, 15), "due",  # the window's last day is still inside it
     "3 months: due now — the 3-month check-up is due between 2025-03-15 and 2025-04-15.",
     "Your 3-month check-up is due now, between 2025-03-15 and 2025-04-15; please book it."),
    (date(2025, 4, 16), "missed",
     "3 months: missed — the 3-month check-up was due between 2025-03-15 and 2025-04-15; there was no visit "
     "in that window.",
     "Your 3-month check-up was due between 2025-03-15 and 2025-04-15, and no visit took place then, so this "
     "stage could not be measured."),
])
def test_a_window_is_spoken_of_in_its_tense(as_of, status, staff, patient):
    m = _milestone(as_of)
    assert m.status == status
    assert milestone_sentence(m) == staff
    assert patient_sentence(m, as_of) == patient


@pytest.mark.parametrize(("as_of", "patient"), [
    (date(2025, 7, 15), "Your 6-month check-up is due now, between 2025-06-15 and 2025-08-15; please book it."),
    (date(2025, 7, 16), "Your 6-month check-up was due on 2025-07-15; please book it by 2025-08-15."),
])
def test_a_due_visit_past_its_target_date_was_due(as_of, patient):
    m = _milestone(as_of, "noticeable_growth")
    assert m.status == "due" and m.target == date(2025, 7, 15)
    assert patient_sentence(m, as_of) == patient


# --- judged milestones: the same judgement in both readers' words ---------------------------------------------

@pytest.mark.parametrize(("change", "low", "high", "noise", "staff", "patient"), [
    # ahead: +40 > +20 + 15
    (40, 5, 20, 15,
     "3 months: +40 hairs/cm² (+27%). The expected range is +5 to +20; the change is above it by more than the "
     "measurement noise (±15), so this is ahead of the expected course.",
     "40 hairs per square centimetre higher than at the start (about 27%). That is more than people usually show "
     "at this stage, by more than the measurement itself varies."),
    # behind: −20 < +5 − 15
    (-20, 5, 20, 15,
     "3 months: −20 hairs/cm² (−13%). The expected range is +5 to +20; the change is below it by more than the "
     "measurement noise (±15), so this is behind the expected course.",
     "20 hairs per square centimetre lower than at the start (about 13%). That is less than people usually show "
     "at this stage, by more than the measurement itself varies. We will talk with you about what this may mean "
     "and what can be done."),
    # on track, inside the band
    (10, 5, 20, 15,
     "3 months: +10 hairs/cm² (+7%). The expected range is +5 to +20; the change is within it, so this is "
     "consistent with the expected course.",
     "10 hairs per square centimetre higher than at the start (about 7%). That is within the range people usually "
     "show at this stage."),
    # on track below the band by less than the noise, and a change no larger than the noise itself
    (-10, 5, 20, 15,  # exactly at +5 − 15: the edge is on track
     "3 months: −10 hairs/cm² (−7%). The expected range is +5 to +20; the difference is within the measurement "
     "noise (±15), so this is consistent with the expected course.",
     "10 hairs per square centimetre lower than at the start (about 7%). Changes this small are within what the "
     "measurement itself varies, so this fits the usual course."),
    # on track below the band by less than the noise, with a real gain (+12 > noise 10): "a little below"
    (12, 15, 35, 10,
     "3 months: +12 hairs/cm² (+8%). The expected range is +15 to +35; the difference is within the measurement "
     "noise (±10), so this is consistent with the expected course.",
     "12 hairs per square centimetre higher than at the start (about 8%). That is a little below the range people "
     "usually show at this stage, but by less than the measurement itself varies, so it fits the usual course."),
    # on track above the band by less than the noise: +35 = +20 + 15 (the edge)
    (35, 5, 20, 15,
     "3 months: +35 hairs/cm² (+23%). The expected range is +5 to +20; the difference is within the measurement "
     "noise (±15), so this is consistent with the expected course.",
     "35 hairs per square centimetre higher than at the start (about 23%). That is a little above the range "
     "people usually show at this stage, but by less than the measurement itself varies, so it fits the usual "
     "course."),
])
def test_staff_and_patient_say_the_same_judgement(change, low, high, noise, staff, patient):
    m = _judged(change, low, high, noise)
    assert milestone_sentence(m) == staff
    opening = "At your 3-month check-up on 2025-04-15, the hair count in this area was "
    assert patient_sentence(m, VISIT) == opening + patient


def test_just_beyond_the_noise_the_patient_hears_the_status_change():
    """0.01 beyond the edges: behind and ahead, as the staff card says."""
    behind, ahead = _judged(-10.01, 5, 20, 15), _judged(35.01, 5, 20, 15)
    assert (behind.status, ahead.status) == ("behind", "ahead")
    assert "less than people usually show" in patient_sentence(behind, VISIT)
    assert "more than people usually show" in patient_sentence(ahead, VISIT)
    assert "behind the expected course" in milestone_sentence(behind)


def test_no_change_and_no_baseline_in_plain_words():
    assert patient_sentence(_judged(0.4, 5, 20, 15), VISIT).endswith(
        "was about the same as at the start. Changes this small are within what the measurement itself varies, so "
        "this fits the usual course.")
    unjudged = MilestoneResult("early_response", date(2025, 3, 15), VISIT, VISIT, "no_baseline", date(2025, 4, 14),
                               150.0, 2.9)
    assert patient_sentence(unjudged, VISIT) == (
        "At your 3-month check-up on 2025-04-14, the hair count in this area was 150 hairs per square "
        "centimetre. There was no count before your first treatment to compare it with, so we cannot say how much "
        "it has changed.")


def test_patient_words_carry_no_staff_shorthand():
    for change in (-20, -10, 0, 10, 12, 35, 40):
        text = patient_sentence(_judged(change, 5, 20, 15), VISIT)
        assert not any(mark in text for mark in ("±", "hairs/cm²", "expected course", "noise", "+", "−"))


# --- what comes next: present on the day, past the day after ---------------------------------------------------

def _steps(as_of: date, audience=STAFF, *visits: tuple[date, float]) -> dict[str, str]:
    return {s.topic: s.text for s in what_comes_next(_progress(as_of, *visits), as_of, audience)}


@pytest.mark.parametrize(("as_of", "staff", "patient"), [
    (date(2025, 2, 4),
     "No NSAIDs (aspirin, ibuprofen) from 2025-01-12 to 2025-02-05: 3 days before to 3 weeks after the "
     "session of 2025-01-15.",
     "Avoid aspirin and ibuprofen (NSAIDs) until 2025-02-05: they can weaken the treatment. Paracetamol is "
     "usually fine; ask us if unsure."),
    (date(2025, 2, 5),
     "No NSAIDs (aspirin, ibuprofen) from 2025-01-12 to 2025-02-05: 3 days before to 3 weeks after the "
     "session of 2025-01-15.",
     "Avoid aspirin and ibuprofen (NSAIDs) until 2025-02-05: they can weaken the treatment. Paracetamol is "
     "usually fine; ask us if unsure."),
    (date(2025, 2, 6),
     "The time to avoid aspirin and ibuprofen (NSAIDs) around the latest session (2025-01-15) ended on "
     "2025-02-05.",
     "The time to avoid aspirin and ibuprofen (NSAIDs) around your latest session (2025-01-15) ended on "
     "2025-02-05."),
])
def test_nsaid_span_in_its_tense(as_of, staff, patient):
    assert _steps(as_of)["Medication"] == staff
    assert _steps(as_of, PATIENT)["Medication"] == patient


@pytest.mark.parametrize(("as_of", "staff"), [
    (date(2025, 4, 14), "A repeat session can be considered between 2025-04-15 and 2025-07-15."),
    (date(2025, 4, 15), "A repeat session can be considered between 2025-04-15 and 2025-07-15 (the window is "
                        "open now)."),
    (date(2025, 7, 15), "A repeat session can be considered between 2025-04-15 and 2025-07-15 (the window is "
                        "open now)."),
    (date(2025, 7, 16), "The usual window for a repeat session (2025-04-15 to 2025-07-15) has passed; no "
                        "further session has been recorded."),
])
def test_repeat_session_window_in_its_tense(as_of, staff):
    assert _steps(as_of)["Repeat session"] == staff


def test_repeat_session_for_the_patient():
    assert _steps(date(2025, 4, 14), PATIENT)["Repeat session"] == (
        "A repeat session can be considered between 2025-04-15 and 2025-07-15. Avoid NSAIDs for 3 days before "
        "it; drink plenty of water the day before and have breakfast that morning.")
    assert _steps(date(2025, 7, 16), PATIENT)["Repeat session"] == (
        "The usual window for a repeat session (2025-04-15 to 2025-07-15) has passed; ask the clinic whether "
        "another session is planned.")


@pytest.mark.parametrize(("as_of", "verb"), [
    (date(2025, 9, 14), "lasts"), (date(2025, 9, 15), "lasts"), (date(2025, 9, 16), "lasted"),
])
def test_effect_in_its_tense(as_of, verb):
    text = f"usually {verb} until between 2025-07-15 and 2025-09-15."
    assert _steps(as_of)["How long it works"] == f"The effect of the latest session {text}"
    assert _steps(as_of, PATIENT)["How long it works"] == f"The effect of your latest session {text}"


@pytest.mark.parametrize(("as_of", "staff", "patient"), [
    (date(2025, 6, 14),  # measured at 3 months; the 6-month window opens tomorrow
     "The 6-month check-up is due between 2025-06-15 and 2025-08-15.",
     "Your 6-month check-up is due between 2025-06-15 and 2025-08-15."),
    (date(2025, 7, 15),  # the target date
     "The 6-month check-up is due now, between 2025-06-15 and 2025-08-15.",
     "Your 6-month check-up is due now, between 2025-06-15 and 2025-08-15 — please book it."),
    (date(2025, 7, 16),
     "The 6-month check-up was due on 2025-07-15; its window stays open until 2025-08-15.",
     "Your 6-month check-up was due on 2025-07-15; please book it by 2025-08-15."),
    (date(2025, 8, 16),  # the window closed without a visit; the 12-month one opens 15 December
     "The 12-month check-up is due between 2025-12-15 and 2026-02-15.",
     "Your 12-month check-up is due between 2025-12-15 and 2026-02-15."),
])
def test_next_follow_up_in_its_tense(as_of, staff, patient):
    three_months = (date(2025, 4, 14), 170.0)
    assert _steps(as_of, STAFF, three_months)["Next follow-up visit"] == staff
    assert _steps(as_of, PATIENT, three_months)["Next follow-up visit"] == patient


def test_a_missed_visit_with_nothing_ahead_was_due():
    as_of = date(2026, 2, 16)  # every window closed; the 12-month one without a visit
    visits = ((date(2025, 4, 14), 170.0), (date(2025, 7, 15), 175.0))
    assert _steps(as_of, STAFF, *visits)["Next follow-up visit"] == (
        "The 12-month check-up was due between 2025-12-15 and 2026-02-15, and no visit took place then.")
    assert _steps(as_of, PATIENT, *visits)["Next follow-up visit"] == (
        "Your 12-month check-up was due between 2025-12-15 and 2026-02-15, and no visit took place then "
        "— please book a visit so that we can see how your hair is doing.")
