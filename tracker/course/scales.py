"""Stage scales scored at a visit: Norwood–Hamilton, Ludwig, Sinclair, and the SALT score.

SALT (Severity of Alopecia Tool, DESIGN.md §2) scores alopecia areata: the percentage of hair lost in each
of four scalp regions, weighted by the share of the scalp that region covers (``SALT_WEIGHTS``: vertex
40%, posterior 24%, each side 18%). The result runs from 0 (no loss) to 100 (total loss).

>>> salt_score(50, 0, 0, 0)
20.0
>>> salt_score(100, 100, 100, 100)
100.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import SupportsFloat

from tracker.course.clinical import (
    LUDWIG_STAGES,
    NORWOOD_STAGES,
    SALT_WEIGHTS,
    SINCLAIR_STAGES,
    STAGE_SCALES,
)
from tracker.course.decimals import required_decimal
from tracker.errors import ValidationError

NORWOOD, LUDWIG, SINCLAIR, SALT = "norwood", "ludwig", "sinclair", "salt"
SCALE_LABELS = {
    NORWOOD: "Norwood–Hamilton",
    LUDWIG: "Ludwig",
    SINCLAIR: "Sinclair",
    SALT: "SALT (0–100)",
}
_STAGES = {NORWOOD: NORWOOD_STAGES, LUDWIG: LUDWIG_STAGES, SINCLAIR: SINCLAIR_STAGES, SALT: ()}

# The four SALT regions in the order the form asks for them, with the words a clinician reads.
SALT_REGIONS = (
    ("vertex", "Vertex (top)"),
    ("posterior", "Posterior (back)"),
    ("left_side", "Left side"),
    ("right_side", "Right side"),
)


def stages(scale: str) -> tuple[str, ...]:
    """The stages a scale offers, mildest first; SALT is a score, not a stage, so it has none.

    >>> stages("ludwig")
    ('I', 'II', 'III')
    >>> stages("salt")
    ()
    """
    if scale not in _STAGES:
        raise ValidationError(f"Unknown scale {scale!r}. Choose one of: {', '.join(STAGE_SCALES)}.")
    return _STAGES[scale]


def scales_for(condition: str, sex: str) -> tuple[str, ...]:
    """The staging scales that fit a condition in a patient of this sex.

    >>> scales_for("androgenetic_alopecia", "male"), scales_for("androgenetic_alopecia", "female")
    (('norwood',), ('ludwig', 'sinclair'))
    >>> scales_for("alopecia_areata", "female"), scales_for("telogen_effluvium", "male")
    (('salt',), ())
    """
    if condition == "androgenetic_alopecia":
        return {"male": ("norwood",), "female": ("ludwig", "sinclair")}.get(sex, ("norwood", "ludwig", "sinclair"))
    if condition == "alopecia_areata":
        return ("salt",)
    return ()


def stages_for(scale: str | None) -> tuple[str, ...]:
    """The stages of a staged scale; empty for SALT (a score 0–100) and for no scale.

    >>> stages_for("ludwig")
    ('I', 'II', 'III')
    """
    return _STAGES.get(scale or "", ())


def scale_choices(condition: str | None, sex: str | None, baseline_scale: str | None = None) -> tuple[str, ...]:
    """Every scale, the one that fits the patient first.

    The patient's own baseline scale wins (scores are only comparable on one scale); otherwise alopecia
    areata is scored with SALT, androgenetic alopecia in men with Norwood–Hamilton and in women with
    Ludwig (Sinclair second).

    >>> scale_choices("alopecia_areata", "female")
    ('salt', 'norwood', 'ludwig', 'sinclair')
    >>> scale_choices("androgenetic_alopecia", "female")
    ('ludwig', 'sinclair', 'norwood', 'salt')
    >>> scale_choices("androgenetic_alopecia", "male", baseline_scale="sinclair")[0]
    'sinclair'
    """
    if condition == "alopecia_areata":
        preferred: tuple[str, ...] = (SALT,)
    elif sex == "female":
        preferred = (LUDWIG, SINCLAIR)
    else:
        preferred = (NORWOOD,)
    if baseline_scale in STAGE_SCALES:
        preferred = (baseline_scale, *preferred)
    ordered = [*preferred, *STAGE_SCALES]
    return tuple(dict.fromkeys(ordered))


def parse_percentage(value: object, label: str) -> float | None:
    """An optional percentage: blank is None, otherwise a number from 0 to 100 (both included).

    >>> parse_percentage(" 12.5 ", "anagen %"), parse_percentage(None, "anagen %")
    (12.5, None)
    >>> parse_percentage("45.5%", "salt")  # as a spreadsheet shows a percent-formatted cell when saved as text
    45.5
    >>> parse_percentage("12,5", "terminal %")  # a decimal comma, as typed on a European keyboard
    12.5
    >>> parse_percentage(120, "terminal %")
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: terminal % 120 is out of range: a percentage runs from 0 to 100
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{label} {value!r} is not a number (a percentage from 0 to 100)")
    try:
        # Any number type (int, Decimal, numpy) converts; anything else is not a number, refused below.
        if not isinstance(value, (str, SupportsFloat)):
            raise TypeError
        number = float(value) if not isinstance(value, str) else required_decimal(value.strip().removesuffix("%"))
    except (TypeError, ValueError):
        raise ValidationError(f"{label} {str(value).strip()!r} is not a number (a percentage from 0 to 100)") from None
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise ValidationError(f"{label} {number:g} is out of range: a percentage runs from 0 to 100")
    return number


def salt_score(vertex: object, posterior: object, left: object, right: object) -> float:
    """The SALT score from the percentage of hair lost in each region, rounded to one decimal.

    Every region is required and must lie between 0 and 100; all problems are reported together.

    >>> salt_score(100, 50, 0, 0)
    52.0
    >>> salt_score(10, 20, 30, 40)
    21.4
    >>> salt_score(0, 0, 0, 0)
    0.0
    >>> salt_score(101, -1, 0, 0)
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: The SALT score cannot be calculated.
    """
    values = dict(zip((key for key, _ in SALT_REGIONS), (vertex, posterior, left, right), strict=True))
    problems: list[str] = []
    parsed: dict[str, float] = {}
    for key, label in SALT_REGIONS:
        try:
            number = parse_percentage(values[key], f"SALT {label.lower()} % hair loss")
        except ValidationError as error:
            problems.append(str(error))
            continue
        if number is None:
            problems.append(f"SALT {label.lower()} % hair loss is required (0 to 100)")
        else:
            parsed[key] = number
    if problems:
        raise ValidationError("The SALT score cannot be calculated.", problems)
    return round(sum(parsed[key] * SALT_WEIGHTS[key] for key in parsed), 1)


@dataclass(frozen=True)
class ScaleEntry:
    """A scale score as typed on the visit form: a stage, or the four SALT regional percentages."""

    scale: str
    stage: str | None = None
    vertex_pct: float | str | None = None
    posterior_pct: float | str | None = None
    left_pct: float | str | None = None
    right_pct: float | str | None = None

    @property
    def is_blank(self) -> bool:
        """Nothing was scored (no stage chosen and no SALT region filled in)."""
        regions = (self.vertex_pct, self.posterior_pct, self.left_pct, self.right_pct)
        return not (self.stage or "").strip() and all(
            value is None or (isinstance(value, str) and not value.strip()) for value in regions
        )


@dataclass(frozen=True)
class ScaleScore:
    """A checked scale score, ready to be stored: ``stage`` for the stage scales, the rest for SALT."""

    scale: str
    stage: str | None = None
    salt_score: float | None = None
    vertex_pct: float | None = None
    posterior_pct: float | None = None
    left_pct: float | None = None
    right_pct: float | None = None


def parse_scale_entry(entry: ScaleEntry) -> ScaleScore:
    """Check a scale entry; raises ValidationError listing every problem.

    >>> parse_scale_entry(ScaleEntry("norwood", stage="IIIA")).stage
    'IIIA'
    >>> parse_scale_entry(ScaleEntry("salt", vertex_pct=50, posterior_pct=0, left_pct=0, right_pct=0)).salt_score
    20.0
    >>> parse_scale_entry(ScaleEntry("ludwig", stage="IV"))
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: Ludwig stage 'IV' is not one of I, II, III
    """
    if entry.scale not in STAGE_SCALES:
        raise ValidationError(f"Unknown scale {entry.scale!r}. Choose one of: {', '.join(STAGE_SCALES)}.")
    if entry.scale == SALT:
        regions = (entry.vertex_pct, entry.posterior_pct, entry.left_pct, entry.right_pct)
        score = salt_score(*regions)
        vertex, posterior, left, right = (parse_percentage(v, "SALT region") for v in regions)
        return ScaleScore(SALT, None, score, vertex, posterior, left, right)
    stage = (entry.stage or "").strip()
    label = SCALE_LABELS[entry.scale]
    if not stage:
        raise ValidationError(f"{label} stage is required: one of {', '.join(stages(entry.scale))}")
    if stage not in stages(entry.scale):
        raise ValidationError(f"{label} stage {stage!r} is not one of {', '.join(stages(entry.scale))}")
    return ScaleScore(entry.scale, stage)
