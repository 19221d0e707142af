"""Quality at capture: whether a scalp photo is fit to compare with other visits, measured before it is saved.

``check_quality`` measures four things on the decoded, upright photo and says in plain words what is wrong,
each problem with its measured value and the threshold it missed:

- **focus**: the Laplacian's variance, read per direction (the Laplacian is the sum of the second differences
  across rows and columns; a motion blur smooths one direction only, so the weakest direction counts) on a grey
  copy whose long side is ``FOCUS_LONG_SIDE`` px (never enlarged), tile by tile, on the sharpest tenth of the
  photo: sharp strands and skin texture give strong second differences, a blurred photo weak ones;
- **exposure**: the share of the middle of the photo at either end of the brightness histogram (crushed to
  black, or burnt to white), where little hair or skin detail survives;
- **size**: the photo's long side in pixels;
- **framing**: with the same view's photo from the previous visit, the alignment score
  (``tracker.photos.alignment.align``): a photo that cannot be lined up with the last one was taken from
  another distance, angle or parting, and a comparison of the two would mislead.

Pure: images in, measures out (no database, no store); the visit form's check is
``tracker.records.capture_checks``. The thresholds come from ``tests/bench/bench_photo_quality.py``, which makes
sharp, blurred, dark, bright and small photos from the demo generator and prints the true and false alarms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
from PIL import Image

from tracker.photos.alignment import ALGORITHM_VERSION, ALIGNED_AT, align

Check = Literal["focus", "dark", "bright", "small", "framing"]

# Long side of the grey copy the focus is measured on, px. Second derivatives grow with the resolution they
# are measured at, so every photo is brought to one size first (a 12 MP phone photo and a 1280 px webcam frame
# are then judged alike); smaller photos are measured as they are, never enlarged (enlarging is itself a blur).
# 1024 px keeps single strands of a whole-view photo a pixel or two wide.
FOCUS_LONG_SIDE = 1024
# The focus is judged per tile of an 8 × 8 grid, on the sharpest tenth of the tiles (the 90th percentile): a
# sparse scalp or a trichoscope's black rim leaves many tiles without detail, while a photo in focus is sharp
# somewhere and a blurred one nowhere.
FOCUS_TILES = 8
FOCUS_PERCENTILE = 90
# Below this sharpness the photo is out of focus. Calibrated on the bench set (tests/bench/bench_photo_quality.py:
# demo photos of five views at 30–250 hairs/cm², two patients, with sensor noise and JPEG compression): sharp
# photos measure 68–556, a slight blur (sigma 0.6 px) 24–142, a third of a stop off 58–1021; a Gaussian blur of
# sigma 2 px or more 3.0–8.4, a 15 or 30 px motion blur 3.1–12.1. 15 sits above every blurred photo and under a
# quarter of the least sharp good one. (Two stops under reads 7–36: too little contrast; see ``_problems``.)
MIN_SHARPNESS = 15.0
# Histogram ends, on 0–255 grey levels: the darkest sixth and the brightest eighth, where a photo keeps little
# detail of hair or skin (JPEG noise keeps true clipping a few levels off 0 and 255, so the ends are wider).
BLACK_END = 40
WHITE_END = 224
# More than these shares of the middle of the photo (the middle half of its width and height, where the scalp
# is: a backdrop, a cape or a trichoscope's black rim at the edges does not count) at one end, and the photo is
# too dark or too bright. Bench (two patients): well-exposed demo photos have at most 13% in the dark end (dense
# dark hair is dark) and none in the bright end; a third of a stop under at most 33% in the dark end, a third of a
# stop over up to 35% in the bright end (the fair-skinned patient's bare scalp); two stops under puts 17–100% in
# the dark end (the fair-skinned patient's scalp stays above level 40: 11 of 80 such photos pass), 1.3 stops over
# 33–100% in the bright end. Half the middle for the dark end leaves room for dense black hair; a quarter for the
# bright end (4 of 520 photos that should pass are then called too bright: a third of a stop over, fair skin).
MAX_DARK_SHARE = 0.5
MAX_BRIGHT_SHARE = 0.25
# A photo whose long side is under this is too small: the before/after frame is 1280 px long
# (``tracker.photos.framing.FRAME_LONG_SIDE``), and a photo under half of it is enlarged more than twice
# there, which blurs strands into the scalp (the same reason as framing.MAX_PIXEL_RATIO).
MIN_LONG_SIDE = 640
# An alignment score under this means the two photos could not be lined up: taken from another distance, angle
# or parting (or another view). The alignment's own threshold, with its source (tracker/photos/alignment.py and its
# bench): the check says what the before/after page will say of the pair.
MIN_FRAMING_SCORE = ALIGNED_AT


@dataclass(frozen=True)
class QualityProblem:
    """One thing wrong with a photo: which check (``Check``), and the sentence a clinician reads, with the
    measured value and the threshold it missed."""

    check: Check
    message: str


@dataclass(frozen=True)
class PhotoQuality:
    """What the capture checks measured on one photo.

    ``sharpness``: the focus (``_sharpness``: variance of the second difference in its weakest direction, on the
    sharpest tenth of the photo at ``FOCUS_LONG_SIDE`` px; grey levels², higher is sharper).
    ``dark_share``/``bright_share``: share 0…1 of the middle of the photo at the dark/bright end of the histogram.
    ``width``/``height``: the upright photo's pixels. ``framing_score``: the alignment score 0…1 against the
    previous visit's photo of the view, None when there was none to compare with. ``problems``: what is wrong,
    in plain words (empty: nothing).
    """

    sharpness: float
    dark_share: float
    bright_share: float
    width: int
    height: int
    framing_score: float | None
    problems: tuple[QualityProblem, ...]

    def record(self, *, kept: bool) -> dict[str, Any]:
        """As stored in ``photo.quality`` (JSON): the measures, the problems' sentences and checks, and whether
        the clinician kept the photo although it had problems."""
        return {
            "sharpness": round(self.sharpness, 1), "dark_share": round(self.dark_share, 4),
            "bright_share": round(self.bright_share, 4), "width": self.width, "height": self.height,
            "framing_score": None if self.framing_score is None else round(self.framing_score, 3),
            "framing_method": None if self.framing_score is None else ALGORITHM_VERSION,
            "problems": [{"check": p.check, "message": p.message} for p in self.problems],
            "kept_anyway": bool(kept and self.problems),
        }


def check_quality(image: Image.Image, previous: Image.Image | None = None,
                  original_size: tuple[int, int] | None = None) -> PhotoQuality:
    """Measure ``image`` (upright; any mode) and list its problems.

    ``previous``: the same view's photo at the previous visit, for the framing check (None: not checked).
    ``original_size``: (width, height) of the upright original when ``image`` is a shrunk copy of it (the
    size check judges the original); default ``image.size``.

    >>> flat = Image.new("RGB", (800, 600), (200, 160, 140))
    >>> [p.message for p in check_quality(flat).problems]  # doctest: +NORMALIZE_WHITESPACE
    ['out of focus: sharpness 0.0 (a sharp photo measures at least 15); hold the camera still, let it focus on
    the scalp and take the photo again']
    """
    grey = np.asarray(image.convert("L"), dtype=np.uint8)
    width, height = original_size or image.size
    rows, columns = grey.shape
    middle = grey[rows // 4: rows - rows // 4, columns // 4: columns - columns // 4]
    dark = float(np.count_nonzero(middle <= BLACK_END)) / max(1, middle.size)
    bright = float(np.count_nonzero(middle >= WHITE_END)) / max(1, middle.size)
    alignment = align(previous, image) if previous is not None else None
    framing = alignment.score if alignment is not None else None
    sharpness = _sharpness(grey)
    problems = _problems(sharpness, dark, bright, (width, height), framing,
                         lined_up=alignment is None or alignment.aligned)
    return PhotoQuality(sharpness, dark, bright, width, height, framing, problems)


# Second differences along the four directions (across columns, rows and both diagonals): the Laplacian's
# one-direction parts. A motion blur smooths one direction only and leaves the Laplacian's other part strong,
# so the focus is read in each direction and the weakest one counts.
_DIRECTIONS = tuple(np.array(kernel, dtype=np.float64) for kernel in (
    [[0, 0, 0], [1, -2, 1], [0, 0, 0]], [[0, 1, 0], [0, -2, 0], [0, 1, 0]],
    [[1, 0, 0], [0, -2, 0], [0, 0, 1]], [[0, 0, 1], [0, -2, 0], [1, 0, 0]],
))


def _sharpness(grey: np.ndarray) -> float:
    """The focus of ``grey`` (0–255): brought to ``FOCUS_LONG_SIDE`` px (area averaging, never enlarged); per tile of
    a ``FOCUS_TILES``² grid, the variance of the second difference in its weakest direction (grey levels²); the
    ``FOCUS_PERCENTILE``th percentile of the tiles."""
    long_side = max(grey.shape)
    if long_side > FOCUS_LONG_SIDE:
        scale = FOCUS_LONG_SIDE / long_side
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    pixels = grey.astype(np.float64)
    differences = [cv2.filter2D(pixels, -1, kernel, borderType=cv2.BORDER_REFLECT_101) for kernel in _DIRECTIONS]
    rows, columns = pixels.shape
    tiles = min(FOCUS_TILES, rows, columns)
    weakest = []
    for i in range(tiles):
        for j in range(tiles):
            part = (slice(i * rows // tiles, (i + 1) * rows // tiles),
                    slice(j * columns // tiles, (j + 1) * columns // tiles))
            weakest.append(min(float(d[part].var()) for d in differences))
    return float(np.percentile(weakest, FOCUS_PERCENTILE))


def _problems(sharpness: float, dark: float, bright: float, size: tuple[int, int],
              framing: float | None, *, lined_up: bool = True) -> tuple[QualityProblem, ...]:
    problems: list[QualityProblem] = []
    too_dark, too_bright = dark > MAX_DARK_SHARE, bright > MAX_BRIGHT_SHARE
    # A dark or burnt photo has too little contrast left to read the focus from; its own message asks for a retake.
    if sharpness < MIN_SHARPNESS and not (too_dark or too_bright):
        problems.append(QualityProblem("focus", (
            f"out of focus: sharpness {sharpness:.1f} (a sharp photo measures at least {MIN_SHARPNESS:.0f}); "
            "hold the camera still, let it focus on the scalp and take the photo again")))
    if too_dark:
        problems.append(QualityProblem("dark", (
            f"too dark: {dark:.0%} of the middle of the photo is in the darkest shades (at most "
            f"{MAX_DARK_SHARE:.0%}); add light or turn the flash on")))
    if too_bright:
        problems.append(QualityProblem("bright", (
            f"too bright: {bright:.0%} of the middle of the photo is in the brightest shades, burnt white (at "
            f"most {MAX_BRIGHT_SHARE:.0%}); move away from the lamp or turn the flash off")))
    if max(size) < MIN_LONG_SIDE:
        problems.append(QualityProblem("small", (
            f"too small: {size[0]}×{size[1]} pixels (the long side needs at least {MIN_LONG_SIDE}); take it at "
            "the camera's full resolution")))
    if framing is not None and not lined_up:
        problems.append(QualityProblem("framing", (
            f"framed unlike the previous visit's photo of this view: alignment score {framing:.2f} (at least "
            f"{MIN_FRAMING_SCORE:.2f}); match its distance, angle and parting")))
    return tuple(problems)


def problems_of(record: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The problems' sentences of a stored ``photo.quality`` (none for a photo checked clean or never checked).

    >>> problems_of({"problems": [{"check": "dark", "message": "too dark: …"}]}), problems_of(None)
    (('too dark: …',), ())
    """
    if not record:
        return ()
    return tuple(str(problem.get("message", "")) for problem in record.get("problems") or ())
