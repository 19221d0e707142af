"""Fitting two photos into one frame (same pixel size, letterboxed, never stretched), fading one into the other,
and the plain warnings when the two were not taken the same way (DESIGN.md §4: comparisons are fair only under
the same capture conditions). Pure: images and visits in, images and warnings out; the before/after service is
``tracker.photos.before_after``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from db import models
from tracker.clinic_dates import show_date

# Long side of the before/after frame: each half of a side-by-side pair fills a wide screen column, and the
# fade view fills the page, without sending the full 2048 px display copies through the browser twice.
FRAME_LONG_SIDE = 1280
# Letterbox bars: a neutral dark grey that cannot be mistaken for scalp or hair.
LETTERBOX = (38, 38, 38)
COMPARISON_QUALITY = 88
# Shapes (width/height) more than 5% apart mean a different crop or camera mode: the scalp then fills the
# frame differently and an apparent change in coverage may be framing alone.
ASPECT_TOLERANCE = 0.05
# A photo with under half the linear resolution of the other (a quarter of its pixels) is enlarged more
# than twice to fill the frame: strands blur into the scalp and the hair looks sparser than it is.
MAX_PIXEL_RATIO = 4.0

# Capture checklist keys recorded on a visit (``tracker.records.visit_form.CAPTURE_CHECKS``) and the words used when
# they show that a photo was taken differently. "same_*" boxes mean "the same as at the previous visit".
_SAME_AS_LAST_TIME = {"same_distance": "camera distance", "same_lighting": "lighting", "same_parting": "parting"}
# Conditions recorded as values (e.g. ``"distance": "30 cm"``, ``"device": "iPhone 15"``) compare directly.
_RECORDED_VALUES = {"distance": "camera distance", "lighting": "lighting", "parting": "parting", "device": "camera"}
# Wet hair clumps into strands and shows more scalp than dry hair.
_DRY_HAIR = "dry_hair"


@dataclass(frozen=True)
class FramingWarning:
    """One way the two photos differ: ``what`` names it ("lighting"), ``detail`` says how."""

    what: str
    detail: str


def caution_sentence(warnings: tuple[FramingWarning, ...] | list[FramingWarning]) -> str | None:
    """
    >>> caution_sentence([FramingWarning("shape", ""), FramingWarning("lighting", "")])
    'These two photos were not taken the same way (shape and lighting differ): compare with care.'
    >>> caution_sentence([FramingWarning("parting", "")])
    'These two photos were not taken the same way (parting differs): compare with care.'
    >>> caution_sentence([]) is None
    True
    """
    names = list(dict.fromkeys(w.what for w in warnings))
    if not names:
        return None
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "differs" if len(names) == 1 else "differ"
    return f"These two photos were not taken the same way ({listed} {verb}): compare with care."


def frame_size(reference: tuple[int, int], other: tuple[int, int],
               long_side: int = FRAME_LONG_SIDE) -> tuple[int, int]:
    """The shared frame: the reference (first) photo's shape, its long side the larger photo's long side
    capped at ``long_side`` (a comparison never enlarges both photos beyond what either holds).

    >>> frame_size((960, 720), (1600, 900))
    (1280, 960)
    >>> frame_size((300, 400), (240, 320))
    (300, 400)
    """
    width, height = reference
    side = min(long_side, max(*reference, *other))
    if width >= height:
        return side, max(1, round(side * height / width))
    return max(1, round(side * width / height)), side


def fit_pair(first: Image.Image, second: Image.Image,
             long_side: int = FRAME_LONG_SIDE) -> tuple[Image.Image, Image.Image]:
    """Both photos scaled (aspect kept) and centred in the same frame, letterboxed with neutral bars."""
    size = frame_size(first.size, second.size, long_side)

    def fitted(image: Image.Image) -> Image.Image:
        return ImageOps.pad(image.convert("RGB"), size, method=Image.Resampling.LANCZOS, color=LETTERBOX)

    return fitted(first), fitted(second)


def blend_pair(first: Image.Image, second: Image.Image, percent: int) -> Image.Image:
    """``percent`` 0 shows the first photo only, 100 the second only (same frame size required)."""
    return Image.blend(first, second, percent / 100)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=COMPARISON_QUALITY)
    return out.getvalue()


def shape_and_size_warnings(first: tuple[int, int], second: tuple[int, int]) -> list[FramingWarning]:
    """
    >>> [w.what for w in shape_and_size_warnings((4032, 3024), (2560, 1440))]
    ['shape']
    >>> [w.what for w in shape_and_size_warnings((4032, 3024), (1600, 1200))]
    ['image size']
    >>> shape_and_size_warnings((4032, 3024), (4000, 3000))
    []
    """
    warnings = []
    aspects = sorted((first[0] / first[1], second[0] / second[1]))
    sizes = f"{first[0]}×{first[1]} against {second[0]}×{second[1]} pixels"
    if aspects[1] / aspects[0] - 1 > ASPECT_TOLERANCE:
        warnings.append(FramingWarning("shape", f"the photos are cropped differently ({sizes})"))
    pixels = sorted((first[0] * first[1], second[0] * second[1]))
    if pixels[1] / pixels[0] > MAX_PIXEL_RATIO:
        warnings.append(FramingWarning(
            "image size", f"one photo has far fewer pixels and is enlarged to fill the frame ({sizes})"))
    return warnings


def condition_warnings(first: models.Visit, second: models.Visit,
                       since_first: list[models.Visit]) -> list[FramingWarning]:
    """Differences the capture checklists record. ``since_first``: the visits after the earlier of the two,
    up to and including the later one: a "same as last time" box left unticked at any of them breaks the
    chain that would make the two photos comparable."""
    warnings: list[FramingWarning] = []
    earlier, later = sorted((first, second), key=lambda v: (v.date, v.id))
    for key, what in _SAME_AS_LAST_TIME.items():
        broken = [v for v in since_first if (v.capture_conditions or {}).get(key) is False]
        if broken:
            days = ", ".join(show_date(v.date) for v in broken)
            warnings.append(FramingWarning(what, f'"same {what}" was not ticked at the visit of {days}'))
    conditions = (earlier.capture_conditions or {}, later.capture_conditions or {})
    for key, what in _RECORDED_VALUES.items():
        before, after = (c.get(key) for c in conditions)
        if not (isinstance(before, str) and before.strip() and isinstance(after, str) and after.strip()):
            continue  # recorded at one visit only, or not at all: nothing to compare
        before, after = before.strip(), after.strip()
        if before.lower() != after.lower():
            detail = f"{before} on {show_date(earlier.date)}, {after} on {show_date(later.date)}"
            warnings.append(FramingWarning(what, detail))
    wet = [v for v in (earlier, later) if (v.capture_conditions or {}).get(_DRY_HAIR) is False]
    if wet:
        days = ", ".join(show_date(v.date) for v in wet)
        warnings.append(FramingWarning("hair dryness", f"the hair was not dry at the visit of {days}"))
    first_per_aspect: dict[str, FramingWarning] = {}
    for warning in warnings:
        first_per_aspect.setdefault(warning.what, warning)
    return list(first_per_aspect.values())
