"""One word per idea: every code the engine and the records use, with the words a person reads for it.

Screens, the PDF report, the chart legend, the patient list and the schedule all take their words (and the
status colours) from here, so a status reads the same everywhere. Codes are ``StrEnum`` members: they compare
equal to, print as and serialise to the same strings the database and ``progress --json`` always held.

>>> MilestoneStatus.AHEAD == "ahead", f"{MilestoneStatus.ON_TRACK}"
(True, 'on_track')
>>> STATUS_WORDS[MilestoneStatus.BEHIND].explained, STATUS_WORDS[MilestoneStatus.BEHIND].hex
('Behind: below the expected range', '#c0392b')
>>> view_words("left_temporal"), view_words("crown_left"), site_words("primary")
('Left temporal', 'Crown left', 'Primary')
>>> condition_words("telogen_effluvium"), treatment_words("prp"), milestone_words("noticeable_growth")
('Telogen effluvium', 'PRP', 'Noticeable growth (about 6 months)')
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tracker.course.clinical import CONDITIONS, NSAID_DAYS_BEFORE, SCALP_VIEWS, TREATMENTS

RGB = tuple[int, int, int]


def _hex(rgb: RGB) -> str:
    """The colour as plotly takes it, from the RGB the PDF takes: one definition for both."""
    red, green, blue = rgb
    return f"#{red:02x}{green:02x}{blue:02x}"


def _spoken(code: str) -> str:
    """A code nobody gave words to (a site typed at a visit, a clinic's own milestone): underscores become
    spaces and the first letter a capital; the rest is kept as typed ("MRI_check" stays "MRI check")."""
    text = code.replace("_", " ")
    return text[:1].upper() + text[1:]


# --- milestone status -----------------------------------------------------------------------------------


class MilestoneStatus(StrEnum):
    """Where one milestone stands (``tracker.course.milestones.assess``)."""

    # The engine judges with the measurement noise (DESIGN.md §2): a point beyond the band by no more than
    # the noise cannot be told apart from the band, so it is on track.
    AHEAD = "ahead"  # change above the expected band's high edge + noise at the visit used
    ON_TRACK = "on_track"  # inside the band widened by the noise on both sides, edges included
    BEHIND = "behind"  # change below the band's low edge − noise
    UPCOMING = "upcoming"  # the window has not opened
    DUE = "due"  # the window is open and no visit falls in it yet
    MISSED = "missed"  # the window closed with no visit in it
    NO_BASELINE = "no_baseline"  # a visit in the window, but no measurement before day 0 to compare with


@dataclass(frozen=True)
class StatusWords:
    """How a status is shown.

    ``label``: the short word (badges, PDF, patient list filters); ``phrase``: the part of a sentence about a
    result ("+18 hairs/cm², consistent with the expected range"); ``explained``: the label with what it means, for
    a patient reading the report or a clinician reading a saved visit; ``legend``: the chart legend and
    hover text; ``badge``: the emoji on the milestone cards; ``rgb``: the colour (``hex`` derives from it);
    ``tone``: the kind of message box the patient record shows it in (success, warning, error or info); red
    (error) is for behind only (issue #11), a missed window is a warning.
    """

    label: str
    phrase: str
    explained: str
    legend: str
    badge: str
    rgb: RGB
    tone: str

    @property
    def hex(self) -> str:
        return _hex(self.rgb)


_S = MilestoneStatus
STATUS_WORDS: dict[MilestoneStatus, StatusWords] = {
    _S.AHEAD: StatusWords("Ahead", "above the expected range", "Ahead: above the expected range",
                          "ahead of expected", "🟢", (27, 127, 59), "success"),
    # "consistent with", not "within": an on-track point may lie just outside the band, inside the noise.
    _S.ON_TRACK: StatusWords("On track", "consistent with the expected range",
                             "On track: consistent with the expected range", "on track", "🔵", (47, 111, 143),
                             "success"),
    _S.BEHIND: StatusWords("Behind", "below the expected range", "Behind: below the expected range",
                           "behind expected", "🔴", (192, 57, 43), "error"),
    _S.UPCOMING: StatusWords("Not yet due", "not yet due", "Not yet due", "not yet due", "⚪", (105, 105, 105),
                             "info"),
    _S.DUE: StatusWords("Due now", "due now", "Due now: a visit is needed", "due now", "🟡", (183, 134, 11), "info"),
    _S.MISSED: StatusWords("Missed", "missed: no visit in the window", "Missed: no visit in the window",
                           "missed", "🟠", (211, 84, 0), "warning"),
    _S.NO_BASELINE: StatusWords("No baseline", "measured, but no baseline to compare with",
                                "No baseline: cannot be judged", "no baseline", "🟣", (142, 68, 173), "info"),
}
# The results that were measured at a visit (the others are about a window's dates only).
ASSESSED = (_S.AHEAD, _S.ON_TRACK, _S.BEHIND, _S.NO_BASELINE)


def status_words(status: str) -> StatusWords:
    """The words of a milestone status; raises ValueError for a code that is no status."""
    return STATUS_WORDS[MilestoneStatus(status)]


# --- outcome measures ---------------------------------------------------------------------------------


class OutcomeMeasure(StrEnum):
    """What a protocol judges milestones on (``db.models.Protocol.outcome_measure``, DESIGN.md §2)."""

    DENSITY = "density"  # change of density from baseline, hairs/cm² (androgenetic alopecia and most patients)
    SALT = "salt"  # % improvement of the SALT score from baseline, lower SALT is better (alopecia areata)


# One set of words per code: the Protocols page's choice and the progress page's captions.
OUTCOME_WORDS: dict[OutcomeMeasure, str] = {
    OutcomeMeasure.DENSITY: "Hair density (hairs/cm²)",
    OutcomeMeasure.SALT: "SALT score (alopecia areata)",
}


def outcome_words(outcome: str) -> str:
    """The words of an outcome measure; raises ValueError for a code that is no outcome measure.

    >>> outcome_words("salt")
    'SALT score (alopecia areata)'
    """
    return OUTCOME_WORDS[OutcomeMeasure(outcome)]


# --- chart points -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointStyle:
    legend: str
    rgb: RGB

    @property
    def hex(self) -> str:
        return _hex(self.rgb)


class PointKind(StrEnum):
    """Chart points that are no milestone result: the baseline itself and measurements before day 0."""

    BASELINE = "baseline"
    BEFORE_DAY0 = "before_day0"


POINT_STYLES: dict[str, PointStyle] = {
    PointKind.BASELINE: PointStyle("baseline", (85, 85, 85)),
    PointKind.BEFORE_DAY0: PointStyle("before treatment", (153, 153, 153)),
    **{status: PointStyle(words.legend, words.rgb) for status, words in STATUS_WORDS.items()},
}


# --- follow-ups (the schedule) ------------------------------------------------------------------------------


class FollowUpStatus(StrEnum):
    """A patient's next milestone visit on the schedule (``tracker.progress.schedule``)."""

    OVERDUE = "overdue"  # target date passed with no visit, or a window closed with none since
    DUE = "due"  # a window is open
    UPCOMING = "upcoming"  # a window opens within the horizon


# "Window open", not "Due now": the row's target date may be weeks away (issue #11, the follow-up lists).
FOLLOW_UP_WORDS: dict[FollowUpStatus, str] = {
    FollowUpStatus.OVERDUE: "Overdue",
    FollowUpStatus.DUE: "Window open",
    FollowUpStatus.UPCOMING: "Upcoming",
}


class RepeatWindow(StrEnum):
    """A repeat-session window that is open today or opens within the horizon."""

    OPEN = "open"
    OPENS = "opens"


def repeat_window_words(state: str, days_until_open: int) -> str:
    """The schedule's "Window" column.

    >>> repeat_window_words("open", 0), repeat_window_words("opens", 3)
    ('Open now', 'Opens in 3 days')
    """
    return "Open now" if state == RepeatWindow.OPEN else f"Opens in {days_until_open} days"


# "Target date within 7 days": the week a receptionist books from.
TARGET_SOON_DAYS = 7
# The schedule's look-ahead unless the clinician picks another: windows opening within two weeks.
DEFAULT_HORIZON_DAYS = 14


class PatientFilter(StrEnum):
    """Which patients a follow-up list shows (``tracker.course.followup.NextVisit.lists``). The patient list
    offers all but ``upcoming``; the schedule all but ``behind``. Each label says exactly what its filter
    tests, and the lists show the dates it tests (issue #11: "Due this week" listed open windows whose
    target dates were weeks away)."""

    WINDOW_OPEN = "window_open"  # the milestone's visit window contains today
    TARGET_SOON = "target_soon"  # the milestone's target date is today or within TARGET_SOON_DAYS
    OVERDUE = "overdue"  # target date passed with no visit, or a window closed with none since
    UPCOMING = "upcoming"  # the window opens after today, within the schedule's look-ahead
    BEHIND = "behind"  # latest assessed milestone ``behind`` (below the band by more than the noise) on any site


PATIENT_FILTER_WORDS: dict[PatientFilter, str] = {
    PatientFilter.WINDOW_OPEN: "Window open now",
    PatientFilter.TARGET_SOON: f"Target date within {TARGET_SOON_DAYS} days",
    PatientFilter.OVERDUE: "Overdue",
    PatientFilter.UPCOMING: "Upcoming",
    PatientFilter.BEHIND: "Behind expected",
}


def patient_filter_words(kind: str, horizon_days: int | None = None) -> str:
    """A filter's label; "Upcoming" names its look-ahead when one is given.

    >>> patient_filter_words("target_soon"), patient_filter_words("upcoming", 14)
    ('Target date within 7 days', 'Upcoming (window opens within 14 days)')
    """
    words = PATIENT_FILTER_WORDS[PatientFilter(kind)]
    if kind == PatientFilter.UPCOMING and horizon_days is not None:
        return f"{words} (window opens within {horizon_days} days)"
    return words


# --- views, sites, conditions, treatments, milestones ----------------------------------------------------

# DESIGN.md §4: the standard photographic views.
# One set of words per code: strict zips, so a new code without words fails at import.
VIEW_WORDS: dict[str, str] = dict(zip(SCALP_VIEWS, (
    "Frontal", "Vertex", "Left temporal", "Right temporal", "Occipital", "Close-up (trichoscopy)"), strict=True))
CONDITION_WORDS: dict[str, str] = dict(zip(CONDITIONS, (
    "Androgenetic alopecia", "Alopecia areata", "Telogen effluvium", "Other"), strict=True))
TREATMENT_WORDS: dict[str, str] = dict(zip(TREATMENTS, ("Exosome", "PRP", "Other"), strict=True))


@dataclass(frozen=True)
class MilestoneWords:
    """``label``: the full name (patient record, schedule, PDF table); ``short``: the chart and card title;
    ``visit``: the follow-up visit it is judged at, as staff and patients both say it ("the 3-month check-up")."""

    label: str
    short: str
    visit: str


# The default protocol's windows (tracker.course.clinical.DEFAULT_WINDOWS); a clinic's own windows are
# shown by their name.
MILESTONE_WORDS: dict[str, MilestoneWords] = {
    "early_response": MilestoneWords("Early response (2–3 months)", "3 months", "3-month check-up"),
    "noticeable_growth": MilestoneWords("Noticeable growth (about 6 months)", "6 months", "6-month check-up"),
    "continued_improvement": MilestoneWords("Continued improvement (up to 12 months)", "12 months",
                                            "12-month check-up"),
}


def view_words(view: str) -> str:
    return VIEW_WORDS.get(view) or _spoken(view)


def site_words(site: str) -> str:
    """A measured site: a standard view's words, else the typed name spoken ("crown-left" stays as is)."""
    return view_words(site)


def condition_words(condition: str) -> str:
    return CONDITION_WORDS.get(condition) or _spoken(condition)


def treatment_words(treatment: str) -> str:
    return TREATMENT_WORDS.get(treatment) or _spoken(treatment)


def milestone_words(name: str) -> str:
    words = MILESTONE_WORDS.get(name)
    return words.label if words else _spoken(name)


def milestone_short(name: str) -> str:
    words = MILESTONE_WORDS.get(name)
    return words.short if words else name.replace("_", " ")


def milestone_visit(name: str) -> str:
    """The follow-up visit a milestone is judged at, without an article.

    >>> milestone_visit("continued_improvement"), milestone_visit("MRI_check")
    ('12-month check-up', 'MRI check visit')
    """
    words = MILESTONE_WORDS.get(name)
    return words.visit if words else f"{_spoken(name)} visit"


# --- the global photographic assessment (DESIGN.md §2) -------------------------------------------------

# The 7-point scale a clinician scores a visit's standardised photos on, against the baseline photos:
# −3 … +3, recorded at a visit (``visit.global_assessment``), charted and printed with these words.
GLOBAL_ASSESSMENT_WORDS: dict[int, str] = {
    -3: "Greatly decreased",
    -2: "Moderately decreased",
    -1: "Slightly decreased",
    0: "No change",
    1: "Slightly increased",
    2: "Moderately increased",
    3: "Greatly increased",
}


def assessment_words(score: int) -> str:
    """A global photographic assessment with its score, as the form, the chart and the report show it.

    >>> assessment_words(-2), assessment_words(0), assessment_words(3)
    ('−2 Moderately decreased', '0 No change', '+3 Greatly increased')
    """
    sign = "+" if score > 0 else "−" if score < 0 else ""
    return f"{sign}{abs(score)} {GLOBAL_ASSESSMENT_WORDS[score]}"


# --- corrected fields (a record's history) --------------------------------------------------------------

# The fields a correction keeps, as the forms that correct them call them: a patient's details
# (tracker.records.patient_corrections.PATIENT_FIELDS), a therapy's stop date, and the fields of visits,
# measurements, scale scores, sessions and photos (tracker.records.*_corrections). The capture checklist's and the
# pre-session checklist's items are the forms' own words (tracker.records.visit_form.CAPTURE_CHECKS and
# treatment_sessions.PRE_SESSION_CHECKS; tests/test_record_corrections.py keeps them the same).
FIELD_WORDS: dict[str, str] = {
    "mrn": "MRN", "full_name": "Full name", "sex": "Sex", "birth_date": "Birth date", "condition": "Condition",
    "baseline_scale": "Baseline scale", "baseline_stage": "Baseline stage", "target_areas": "Target areas",
    "protocol": "Protocol", "notes": "Notes", "stop": "Stop date",
    # a visit
    "date": "Date", "device": "Camera or device", "global_assessment": "Global photographic assessment",
    "satisfaction": "Patient satisfaction (0–10)",
    "dry_hair": "Hair dry", "same_parting": "Same parting as last time", "same_distance": "Same camera distance",
    "same_lighting": "Same lighting",
    # a density measurement
    "site": "Site", "density_per_cm2": "Density (hairs/cm²)", "shaft_diameter_um": "Shaft diameter (µm)",
    "terminal_pct": "Terminal %", "anagen_pct": "Anagen %",
    # a scale score
    "stage": "Stage", "salt_score": "SALT score", "salt_vertex_pct": "SALT vertex % hair loss",
    "salt_posterior_pct": "SALT posterior % hair loss", "salt_left_pct": "SALT left side % hair loss",
    "salt_right_pct": "SALT right side % hair loss",
    # a treatment session
    "treatment": "Treatment", "product": "Product", "lot_number": "Lot number", "volume_ml": "Volume (ml)",
    "areas": "Areas treated", "adverse_events": "Adverse events",
    "hydrated": "Drank plenty of water the day before", "breakfast": "Ate breakfast this morning",
    "no_nsaids": f"No NSAIDs (aspirin, ibuprofen…) in the last {NSAID_DAYS_BEFORE} days",
    # a photo
    "view": "View",
}


def field_words(field: str) -> str:
    """A corrected field's label.

    >>> field_words("target_areas"), field_words("birth_date"), field_words("dose")
    ('Target areas', 'Birth date', 'Dose')
    """
    return FIELD_WORDS.get(field) or _spoken(field)


# --- how a density was measured (typed, or an assisted count on a close-up) ---------------------------------


class MeasurementMethod(StrEnum):
    """``density_measurement.method``: typed by the clinician (or imported), or counted on a close-up photo with
    the clinician's corrections (``tracker.records.counted_density``)."""

    TYPED = "typed"
    COUNTED = "counted"


METHOD_WORDS: dict[str, str] = {
    MeasurementMethod.TYPED: "typed value",
    MeasurementMethod.COUNTED: "assisted count",
}
# The chart's and the PDF's mark for a counted point (a diamond, where typed values are circles).
COUNTED_SYMBOL = "diamond"
COUNTED_NOTE = ("Diamonds are assisted counts: hairs counted on a close-up photo (detections checked and corrected "
                "by the clinician) over the device's field of view; circles are typed values.")


def method_words(method: str, hairs: int | None = None, field_mm: tuple[float, float] | None = None) -> str:
    """How a density was measured, with the count behind an assisted count.

    >>> method_words("typed"), method_words("counted", 112, (8.0, 6.0))
    ('typed value', 'assisted count (112 hairs in 8×6 mm)')
    """
    words = METHOD_WORDS.get(method) or _spoken(method)
    if method == MeasurementMethod.COUNTED and hairs is not None and field_mm is not None:
        words += f" ({hairs} hairs in {field_mm[0]:g}×{field_mm[1]:g} mm)"
    return words
