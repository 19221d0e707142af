"""Assisted hair count on a trichoscopy close-up: where each hair emerges, its shaft width, hairs/cm².

A trichoscopic density count counts each hair once, where it emerges from the scalp inside the field: a shaft
lying in the frame whose root is outside does not count, and each hair of a follicular unit (1–4 hairs from one
opening) counts separately. ``count_hairs`` finds the hairs (``tracker.photos.hair_tracing``: dark ridges, their
skeleton, shafts followed straight through crossings, roots told from tips by the opening around them) and
measures each shaft's width; the clinician then adds the hairs it missed and removes its false marks, and
``recount`` gives the corrected count. The page and ``python -m tracker photo count`` call the same functions.

Units: positions in pixels of the upright image (x right, y down, origin top-left); field in mm (width along
the image's x); shaft width in µm; density in hairs/cm² (count / field area, 1 cm² = 100 mm²).

>>> from tracker.operations.demo_closeups import FollicularUnit, Shaft, draw_units
>>> unit = FollicularUnit(5.0, 3.5, (Shaft(20, 1.0, 70), Shaft(30, 1.0, 60), Shaft(40, 0.9, 25)))
>>> found = count_hairs(draw_units([unit]).image, (10.0, 7.5))
>>> found.count, found.terminal, found.vellus, round(found.density_per_cm2, 2)
(3, 2, 1, 4.0)
>>> corrected = recount(found, added=[(100.0, 200.0)], removed=[0])
>>> corrected.count, corrected.marks[-1].added, corrected.marks[-1].kind
(3, True, None)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tracker.errors import ValidationError
from tracker.photos.hair_tracing import trace_hairs
from tracker.photos.intake import prepare_photo

# Terminal hairs are wider than 40 µm (DESIGN.md §2, the usual trichoscopic cut-off); thinner ones are vellus.
TERMINAL_MIN_UM = 40.0
# Widths are told apart only when a 40 µm shaft spans at least 3 pixels (any photo COUNT_MAX_UM_PER_PX lets
# through does; kept so that the rule stands should that limit ever be raised).
KIND_MAX_UM_PER_PX = 40.0 / 3
# The count is given up to 10 µm per pixel (1000 pixels across a 10 mm field), and a field of at least 100 × 100
# pixels. Coarser, thin shafts and the halo of openings blur into the skin and the count falls short: on
# draw_closeup(150) downscaled, the error was −3%, −8% and +2% at 10 µm/px on seeds 3–5 (+3%, −7%, −2% at
# 7.8), −3% to −18% at 11.7, −11% to −28% (−25% typical) at 14.6, and about −70% at 19.5–24.4 µm/px, where the
# limit once stood (25): a count that wrong must not be printed or saved.
COUNT_MAX_UM_PER_PX = 10.0
MIN_SIDE_PX = 100
# Trichoscopes and dermatoscopes show between about 2 mm (high magnification) and a few cm.
MAX_FIELD_MM = 100.0
# Below 1 mm a side a close-up shows a few shafts at most: a field in the wrong unit or a misplaced decimal point.
MIN_FIELD_MM = 1.0
# Photos much finer than this are counted on a reduced copy: hairs stay ≥ 3 pixels wide, the count is faster.
WORK_UM_PER_PX = 5.0


@dataclass(frozen=True)
class HairMark:
    """One hair: where it emerges from the scalp, (``x``, ``y``) in pixels of the upright image; its shaft
    width ``width_um`` (µm; None when not measured: a mark the clinician added); ``kind`` "terminal" (> 40 µm)
    or "vellus", None when the photo's resolution does not allow telling them apart; ``added``: placed by the
    clinician rather than found."""

    x: float
    y: float
    width_um: float | None
    kind: str | None
    added: bool = False


@dataclass(frozen=True)
class HairCount:
    """The hairs of one close-up. ``field_mm``: (width, height) in mm of the whole frame, width along the
    image's x; ``count``: len(marks); ``density_per_cm2``: count / (width × height / 100) in hairs/cm²;
    ``terminal``/``vellus``: counts by kind, None when the resolution does not allow it (then for every mark)
    or, after corrections, when a mark of unknown kind was added (its kind cannot be told)."""

    marks: tuple[HairMark, ...]
    field_mm: tuple[float, float]
    count: int
    density_per_cm2: float
    terminal: int | None
    vellus: int | None


def count_hairs(image: Image.Image, field_mm: tuple[float, float]) -> HairCount:
    """Find the hairs emerging inside a close-up ``image`` (upright, EXIF orientation already applied) whose
    whole frame covers ``field_mm`` = (width, height) in mm.

    A field given across the other way (a portrait photo from a landscape device) is turned to the photo.
    Raises ValidationError for a field that is not a size (≤ 0, > 100 mm, not a number), a field whose shape
    is not the photo's, a photo too small or too coarse to show hairs, or one whose hairs cover most of the
    field (unclipped: too little skin shows between them).
    """
    field = fitted_field(field_mm, image.size)
    um_per_px = field[0] * 1000 / image.width
    if min(image.size) < MIN_SIDE_PX:
        raise ValidationError(
            f"The photo is {image.width}×{image.height} pixels: too small to count hairs (at least "
            f"{MIN_SIDE_PX} pixels on each side). Upload the close-up at its full size.")
    if um_per_px > COUNT_MAX_UM_PER_PX:
        raise ValidationError(
            f"The photo is {image.width}×{image.height} pixels for a field of {_mm(field)}: "
            f"{um_per_px:.1f} µm per pixel, too coarse to see hair shafts (at most {COUNT_MAX_UM_PER_PX:g} µm "
            f"per pixel, e.g. {round(field[0] * 1000 / COUNT_MAX_UM_PER_PX)} pixels across). Upload the close-up "
            "at its full size, or check the device's field size.")
    gray, shrink = _working_gray(image, um_per_px)
    traced = trace_hairs(gray, um_per_px * shrink)
    resolved = um_per_px <= KIND_MAX_UM_PER_PX
    marks = tuple(
        HairMark(hair.x * shrink, hair.y * shrink, round(hair.width_um, 1),
                 _kind(hair.width_um) if resolved else None)
        for hair in traced
    )
    return _tallied(marks, field, resolved)


def count_upload(data: bytes, field_mm: tuple[float, float], file_name: str | None = None) -> HairCount:
    """``count_hairs`` on a close-up file's bytes, as the app keeps it: checked and decoded by the photo intake
    (any format it accepts, refused with its messages), upright (EXIF orientation applied), at most 2048
    pixels on its long side (``tracker.photos.intake``'s display copy). Marks are in that copy's pixels.
    Raises ValidationError as ``prepare_photo`` and ``count_hairs`` do."""
    prepared = prepare_photo(data, file_name)
    with Image.open(io.BytesIO(prepared.display_jpeg)) as display:
        return count_hairs(display.convert("RGB"), field_mm)


def recount(found: HairCount, added: Sequence[tuple[float, float]], removed: Sequence[int]) -> HairCount:
    """``found`` corrected by the clinician: the marks at indexes ``removed`` (into ``found.marks``) taken out,
    one mark per (x, y) in ``added`` (pixels) put in (width and kind unknown). Raises ValidationError for an
    index that is not a mark of ``found`` or a point that is not a number."""
    wrong = sorted({index for index in removed if not 0 <= index < len(found.marks)})
    if wrong:
        raise ValidationError(
            f"There is no mark number {', '.join(str(index) for index in wrong)} to remove "
            f"(this count has {len(found.marks)} marks).")
    gone = set(removed)
    kept = tuple(mark for index, mark in enumerate(found.marks) if index not in gone)
    new = []
    for point in added:
        try:
            x, y = float(point[0]), float(point[1])
        except (TypeError, ValueError, IndexError):
            raise ValidationError(f"An added mark must be a point (x, y) in pixels, not {point!r}.") from None
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValidationError(f"An added mark must be a point (x, y) in pixels, not {point!r}.")
        new.append(HairMark(x, y, None, None, added=True))
    return _tallied(kept + tuple(new), found.field_mm, found.terminal is not None)


def fitted_field(field_mm: tuple[float, float], size_px: tuple[int, int]) -> tuple[float, float]:
    """The field (width, height) in mm along the photo's x and y: ``field_mm`` checked, turned a quarter when
    the photo is the other way round (a device's field is set once, photos may be portrait or landscape).

    >>> fitted_field((10, 7.5), (960, 1280))
    (7.5, 10.0)
    """
    try:
        width, height = (float(value) for value in field_mm)
    except (TypeError, ValueError):
        raise ValidationError(f"The field of view must be two sizes in mm (width, height), not {field_mm!r}.") from None
    for value in (width, height):
        if not np.isfinite(value) or value < MIN_FIELD_MM or value > MAX_FIELD_MM:
            raise ValidationError(
                f"A field of view of {_mm((width, height))} is not possible: each side must be at least "
                f"{MIN_FIELD_MM:g} and at most {MAX_FIELD_MM:g} mm. Check the device's field size.")
    if (width > height) != (size_px[0] > size_px[1]) and width != height and size_px[0] != size_px[1]:
        width, height = height, width
    field_shape, photo_shape = width / height, size_px[0] / size_px[1]
    if abs(field_shape / photo_shape - 1) > 0.1:
        raise ValidationError(
            f"The field of view {_mm((width, height))} does not have the photo's shape ({size_px[0]}×{size_px[1]} "
            "pixels): the photo is cropped, or this is not the device's field size. Upload the close-up as the "
            "device took it, or correct the device's field size.")
    return width, height


def _working_gray(image: Image.Image, um_per_px: float) -> tuple[np.ndarray, float]:
    """The photo's luminance (0–1, float32) and by how much it was reduced (1 when not)."""
    shrink = max(1.0, WORK_UM_PER_PX / um_per_px)
    gray = image.convert("L")
    if shrink > 1.0:
        gray = gray.resize((max(1, round(image.width / shrink)), max(1, round(image.height / shrink))),
                           Image.Resampling.BOX)
        shrink = image.width / gray.width
    return np.asarray(gray, dtype=np.float32) / 255.0, shrink


def _kind(width_um: float) -> str:
    return "terminal" if width_um > TERMINAL_MIN_UM else "vellus"


def _tallied(marks: tuple[HairMark, ...], field: tuple[float, float], resolved: bool) -> HairCount:
    count = len(marks)
    known = resolved and all(mark.kind is not None for mark in marks)
    terminal = sum(mark.kind == "terminal" for mark in marks) if known else None
    vellus = sum(mark.kind == "vellus" for mark in marks) if known else None
    return HairCount(marks, field, count, count / (field[0] * field[1] / 100), terminal, vellus)


def _mm(field: tuple[float, float]) -> str:
    return f"{field[0]:g} × {field[1]:g} mm"

