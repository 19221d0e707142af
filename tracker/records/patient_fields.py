"""The patient's own fields, checked as typed: baseline staging against condition and sex, target areas,
notes and short texts. Pure functions, shared by the intake, the corrections and the concurrent therapies.

Baseline staging follows the condition (DESIGN.md §2): Norwood–Hamilton for men with androgenetic
alopecia, Ludwig or Sinclair for women, SALT (0–100) for alopecia areata; telogen effluvium and other
conditions have no staging scale here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

from tracker.course.clinical import SCALP_VIEWS
from tracker.course.decimals import required_decimal
from tracker.course.scales import SCALE_LABELS, scales_for, stages_for
from tracker.course.vocabulary import condition_words
from tracker.errors import ValidationError
from tracker.validation import parse_sex, parse_site

SALT_RANGE = (0.0, 100.0)

# Sites offered for the target areas (the standard views, DESIGN.md §4, less the close-up); any other
# site name may be typed.
TARGET_AREA_CHOICES = tuple(view for view in SCALP_VIEWS if view != "closeup")
TARGET_AREAS_MAX = 200
# Concurrent therapies the clinic sees most (DESIGN.md §5); any other name may be typed.
COMMON_THERAPIES = ("minoxidil", "finasteride", "Viviscal")
THERAPY_NAME_MAX = 120
DOSE_MAX = 120
NOTES_MAX = 5000
# The one-letter codes clinics' spreadsheets use for sex (those of HL7 v2 administrative sex).
SEX_CODES = {"f": "female", "m": "male", "o": "other", "u": "unknown"}


def _describe_fit(condition: str, sex: str) -> str:
    return f"{condition_words(condition).lower()} in a {sex} patient"


def parse_sex_as_written(value: object, label: str = "sex") -> str:
    """The sex code (``tracker.course.clinical.SEXES``) from a letter or a word, in any capitals.

    >>> [parse_sex_as_written(value) for value in ("F", " m ", "Female", "U", "o")]
    ['female', 'male', 'female', 'unknown', 'other']
    """
    letter = value.strip().lower() if isinstance(value, str) else ""
    return parse_sex(SEX_CODES.get(letter, value), label)


def parse_baseline(condition: str, sex: str, scale: object, stage: object) -> tuple[str | None, str | None]:
    """The baseline (scale, stage) after checking that the scale fits the condition and sex.

    A SALT score is kept as its number written plainly.

    >>> parse_baseline("androgenetic_alopecia", "male", "", "iiia")
    ('norwood', 'IIIA')
    >>> parse_baseline("alopecia_areata", "female", None, "35.50"), parse_baseline("alopecia_areata", "male", 0, "35,5")
    (('salt', '35.5'), ('salt', '35.5'))
    >>> parse_baseline("telogen_effluvium", "female", None, None)
    (None, None)
    """
    allowed = scales_for(condition, sex)
    scale_text = str(scale or "").strip().lower() or None
    stage_text = typed_stage(stage)
    if not allowed:
        if scale_text or stage_text:
            raise ValidationError(
                f"{condition_words(condition)} has no staging scale here: "
                "leave the baseline stage empty"
            )
        return None, None
    names = " or ".join(SCALE_LABELS[s] for s in allowed)
    if scale_text is None:
        if len(allowed) > 1:
            raise ValidationError(f"baseline scale is required: {names} for {_describe_fit(condition, sex)}")
        scale_text = allowed[0]
    if scale_text not in allowed:
        label = SCALE_LABELS.get(scale_text, scale_text)
        raise ValidationError(
            f"the {label} scale does not fit {_describe_fit(condition, sex)}: use {names}"
        )
    label = SCALE_LABELS[scale_text]
    if not stage_text:
        raise ValidationError(f"baseline stage is required on the {label} scale")
    if scale_text == "salt":
        return scale_text, _salt_stage(stage_text)
    return scale_text, _named_stage(scale_text, label, stage_text)


def _salt_stage(stage_text: str) -> str:
    """A baseline SALT score (0–100) written plainly: "35.50" is "35.5"."""
    try:
        score = required_decimal(stage_text)  # "35,5" typed with a decimal comma is 35.5
    except ValueError:
        raise ValidationError(f"baseline SALT score {stage_text!r} is not a number from 0 to 100") from None
    if not SALT_RANGE[0] <= score <= SALT_RANGE[1]:
        raise ValidationError(f"baseline SALT score {score:g} is out of range: it must be from 0 to 100")
    return f"{score:g}"


def _named_stage(scale: str, label: str, stage_text: str) -> str:
    """The stage of ``scale`` that ``stage_text`` names, as the scale spells it ("iiia" is "IIIA")."""
    by_upper = {s.upper(): s for s in stages_for(scale)}
    stage_clean = by_upper.get(" ".join(stage_text.split()).upper())
    if stage_clean is None:
        raise ValidationError(
            f"baseline stage {stage_text!r} is not a {label} stage: one of {', '.join(stages_for(scale))}"
        )
    return stage_clean


def typed_stage(stage: object) -> str:
    """A stage as typed (a SALT score may come as a number), for comparing and parsing."""
    if stage is None or isinstance(stage, bool):
        return ""
    if isinstance(stage, float):
        return f"{stage:g}"
    return str(stage).strip()


def parse_target_areas(value: object, label: str = "target areas") -> str:
    """The areas measured at every visit, stored comma-separated; at least one.

    >>> parse_target_areas(" Vertex, frontal ,vertex")
    'vertex,frontal'
    >>> parse_target_areas(["vertex", "left_temporal"])
    'vertex,left_temporal'
    """
    if isinstance(value, str):
        items = value.replace(";", ",").split(",")
    elif isinstance(value, Sequence):
        items = [str(v) for v in value]
    else:
        items = []
    sites: list[str] = []
    for item in items:
        if item.strip():
            site = parse_site(item.strip(), label="target area")
            if site not in sites:
                sites.append(site)
    if not sites:
        raise ValidationError(f"{label}: choose at least one area to measure (for example vertex)")
    stored = ",".join(sites)
    if len(stored) > TARGET_AREAS_MAX:
        raise ValidationError(f"{label} are too long together: at most {TARGET_AREAS_MAX} characters")
    return stored


def short_text(value: object, label: str, limit: int, required: bool) -> str | None:
    """One line of typed text with its spaces tidied; empty is None (or refused when ``required``)."""
    text = " ".join(str(value or "").split())
    if not text:
        if required:
            raise ValidationError(f"{label} is required")
        return None
    if len(text) > limit:
        raise ValidationError(f"{label} is too long: at most {limit} characters (it has {len(text)})")
    return text


def parse_notes(value: object, label: str = "notes") -> str | None:
    """Free text; line breaks are kept, other control characters refused; empty is None."""
    text = str(value or "").strip()
    if not text:
        return None
    if len(text) > NOTES_MAX:
        raise ValidationError(f"{label} are too long: at most {NOTES_MAX} characters (they have {len(text)})")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text):
        raise ValidationError(f"{label} contain a control character; retype them")
    return text


Parsed = TypeVar("Parsed")


def collect(problems: list[str], parser: Callable[..., Parsed], *args: object) -> Parsed | None:
    """``parser(*args)``, or None with its problems added to ``problems``: a form reports every mistake at
    once instead of the first."""
    try:
        return parser(*args)
    except ValidationError as error:
        problems.extend(error.problems)
        return None
