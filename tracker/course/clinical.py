"""Constants with a clinical meaning, in one place, each with the source of its value.

Every number here comes from ``shared/DESIGN.md`` (the team's domain reference). A clinic changes the
band and windows per protocol in the database; these are only the defaults seeded on first run.
"""

from __future__ import annotations

from dataclasses import dataclass

# DESIGN.md §3: months are converted from days with the mean Gregorian month, so that a band given
# "at month 3" means the same day count whatever month the course started in.
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class BandPoint:
    """One point of an expected band: change from baseline in hairs/cm² at ``month`` after day 0."""

    month: float
    low: float
    high: float


@dataclass(frozen=True)
class MilestoneWindow:
    """A milestone's window in calendar months after day 0; ``target_month`` picks the visit used."""

    name: str
    start_month: int
    end_month: int
    target_month: int


# DESIGN.md §3, "Default expected band (change from baseline, hairs/cm²)".
DEFAULT_BAND: tuple[BandPoint, ...] = (
    BandPoint(0, -10, 5),  # early shedding is normal
    BandPoint(2, -10, 5),  # still inside the shedding phase
    BandPoint(3, 5, 20),  # minoxidil 5%: about +21 at 3 months (TrichoScan study, 2005)
    BandPoint(6, 10, 35),  # minoxidil foam about +21 at 16 weeks; PRP pooled about +26
    BandPoint(12, 15, 35),  # exosome open-label series about +35 at 12 months (n = 16, limited evidence)
)

# DESIGN.md §1 and the core issue: first results at 2–3 months, noticeable growth around 6 months,
# continued improvement up to 12 months.
DEFAULT_WINDOWS: tuple[MilestoneWindow, ...] = (
    MilestoneWindow("early_response", 2, 3, 3),
    MilestoneWindow("noticeable_growth", 5, 7, 6),
    MilestoneWindow("continued_improvement", 11, 13, 12),
)

DEFAULT_PROTOCOL_NAME = "Exosome (default)"
DEFAULT_EVIDENCE_NOTE = (
    "Exosome evidence is limited: a handful of small studies, the largest an open-label series of 16 "
    "patients (about +35 hairs/cm² at 12 months). Bands borrow from minoxidil (about +21 at 3 months, "
    "TrichoScan 2005) and pooled PRP data (about +26). The band is a guide, never a promised outcome."
)

# DESIGN.md §2: alopecia areata is followed on SALT (0–100, lower is better). The endpoints are those of the
# JAK-inhibitor trials (baricitinib BRAVE-AA, ritlecitinib ALLEGRO): SALT ≤ 20 is a response, SALT50/75/90 a
# 50/75/90% improvement from baseline. They are reported at every milestone visit, never judged against.
SALT_RESPONSE_MAX = 20.0
SALT_IMPROVEMENT_ENDPOINTS = (50.0, 75.0, 90.0)
SALT_MAX = 100.0

SALT_PROTOCOL_NAME = "Alopecia areata (SALT)"
# % improvement of the SALT score from baseline ((baseline − score) / baseline × 100). There is NO established
# exosome band for SALT (DESIGN.md §2): these are the clinic's own starting values, to be edited. Month 0
# allows −20% (alopecia areata relapses and shedding in the first weeks are common); by month 3 a course
# that works should at least hold (0 to +30%); around month 6 the trials' SALT50 becomes reachable for good
# responders (+20 to +50%); by month 12 the upper edge reaches SALT75 (+30 to +75%).
SALT_BAND: tuple[BandPoint, ...] = (
    BandPoint(0, -20, 10),
    BandPoint(3, 0, 30),
    BandPoint(6, 20, 50),
    BandPoint(12, 30, 75),
)
# A SALT protocol's noise is in percentage points of improvement (equivalently baseline × noise / 100 SALT
# points): a clinic starting value, the same 10 as the density default, not a published repeatability figure.
SALT_NOISE_PCT = 10.0
SALT_EVIDENCE_NOTE = (
    "There is no established exosome evidence for alopecia areata measured with SALT: this band (the % "
    "improvement of the SALT score from baseline) is the clinic's own starting value, not a published course. "
    "The endpoints reported at each milestone follow the JAK-inhibitor trials' conventions: SALT ≤ 20 is a "
    "response, SALT50/75/90 a 50/75/90% improvement from baseline. The band is a guide, never a promised outcome."
)

# DESIGN.md §1: a repeat session is considered 3–6 months after the latest one.
REPEAT_SESSION_MONTHS = (3, 6)
# DESIGN.md §1: the product's effect lasts about 6–8 months after a session.
EFFECT_MONTHS = (6, 8)
# DESIGN.md §1: NSAIDs (aspirin, ibuprofen…) are avoided 3 days before to 3 weeks after each session,
# since they blunt the platelet/inflammatory signalling that PRP and exosomes rely on.
NSAID_DAYS_BEFORE = 3
NSAID_DAYS_AFTER = 21

# DESIGN.md §2: automated counts vary ~10% between repeat measurements of the same scalp, so a change
# inside ±10% of baseline is "no measurable change".
NO_MEASURABLE_CHANGE_PCT = 10.0
# DESIGN.md §2: a milestone is judged with that noise (noise = baseline × the protocol's noise % / 100, in
# hairs/cm²): ahead only above the band's high edge + noise, behind only below its low edge − noise. The
# default is the ~10% repeat-measurement variation of automated counts; a clinic sets its own per protocol
# (e.g. a device with a better repeatability), between 0 and MAX_NOISE_PCT.
DEFAULT_NOISE_PCT = NO_MEASURABLE_CHANGE_PCT
# Above half the baseline, a "noise" would swallow every band of DESIGN.md §3: a typing error, not a device.
MAX_NOISE_PCT = 50.0

# Plausible density range for input validation: healthy scalps are roughly 150–300 hairs/cm²
# (DESIGN.md §2); anything above 600 is a typing error, and a density must be positive.
MAX_DENSITY_PER_CM2 = 600.0

# Codes as stored; the words a person reads for them are in tracker.course.vocabulary.
CONDITIONS = ("androgenetic_alopecia", "alopecia_areata", "telogen_effluvium", "other")
TREATMENTS = ("exosome", "prp", "other")
# "unknown": not recorded (a spreadsheet's U; FHIR's administrative gender has the same four codes).
SEXES = ("female", "male", "other", "unknown")

# DESIGN.md §4: the standard photographic views (their words: tracker.course.vocabulary).
SCALP_VIEWS = ("frontal", "vertex", "left_temporal", "right_temporal", "occipital", "closeup")
# A measured site that is no view's code, but which one standard view shows (the before/after pair of a
# site on the consult screen): the names clinics type for the crown and the hairline.
_SITE_SHOWN_BY = {"crown": "vertex", "mid_scalp": "vertex", "hairline": "frontal", "front": "frontal",
                  "back": "occipital", "posterior": "occipital"}


def photo_view_for_site(site: str) -> str | None:
    """The standard photo view that shows a measured site (DESIGN.md §4): the view of the same code (a site
    measured at the vertex is photographed in the vertex view), else the view a common name points to; None
    when no standard view is known to show it. The close-up is never chosen: it shows a few cm², not the site.

    >>> photo_view_for_site("vertex"), photo_view_for_site("Crown"), photo_view_for_site("closeup")
    ('vertex', 'vertex', None)
    >>> photo_view_for_site("scar_left") is None
    True
    """
    code = site.strip().lower().replace(" ", "_").replace("-", "_")
    if code in SCALP_VIEWS and code != "closeup":
        return code
    return _SITE_SHOWN_BY.get(code)

# DESIGN.md §2: SALT regional weights (vertex 40%, posterior 24%, each side 18%).
SALT_WEIGHTS = {"vertex": 0.40, "posterior": 0.24, "left_side": 0.18, "right_side": 0.18}
# Stage scales by condition; alopecia areata is scored with SALT, androgenetic alopecia in men with
# Norwood–Hamilton and in women with Ludwig or Sinclair.
STAGE_SCALES = ("norwood", "ludwig", "sinclair", "salt")
NORWOOD_STAGES = ("I", "II", "IIA", "III", "IIIA", "III vertex", "IV", "IVA", "V", "VA", "VI", "VII")
LUDWIG_STAGES = ("I", "II", "III")
SINCLAIR_STAGES = ("1", "2", "3", "4", "5")
