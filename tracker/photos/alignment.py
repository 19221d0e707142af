"""Automatic alignment of a before/after pair: where the later photo's pixels lie in the earlier one's frame.

Two photos of the same view taken months apart differ in framing (distance, angle, where the patient sat), in
lighting, and in the hair itself, which is what the clinic wants to see. ``align`` finds the similarity
transform (rotation, one scale, shift) that maps the AFTER photo onto the BEFORE photo from features both share
(skin marks, the parting, the hairline, the head's outline), and says how well the two then line up:

1. both photos become grey working copies of at most ``WORK_LONG_SIDE`` px, their contrast evened out locally
   (CLAHE), so that a brighter or darker exposure, or light from a different side, matters less;
2. AKAZE features (corners and blobs found in a non-linear scale space, which keeps the edges of strands and
   marks sharp) are matched both ways and kept when clearly better than the second-best match (Lowe's ratio
   test);
3. a similarity transform is fitted to the matches robustly (RANSAC, then least squares on the inliers);
4. the score adds two halves, each capped: how many matches agree with the fit (RANSAC inliers), and how well
   the two working copies' structure correlates where they overlap once warped, weighted by how much of BEFORE
   the AFTER photo covers. Either alone cannot pass the threshold: many agreeing matches with no resemblance is
   a repeating pattern matched to itself, resemblance with few agreeing matches a coincidence.

A similarity, not a homography: a scalp photo's perspective changes little between visits, and the four extra
degrees of freedom of a homography let RANSAC bend a pair that does not match into a false fit.

>>> from PIL import Image
>>> plain = Image.new("RGB", (64, 48), (200, 160, 140))
>>> result = align(plain, plain)
>>> result.aligned, result.reason
(False, 'The photos have too few details in common to line them up (0 found; at least 12 needed).')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
IDENTITY: Matrix = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))

# Changed whenever a change to this module can change a result: aligned copies stored under an older version
# (``tracker.photos.aligned_pairs``) are then computed again rather than reused.
ALGORITHM_VERSION = "similarity-akaze-1"

# Long side of the grey working copies, px. At 640 px the marks, the parting and the hairline of a 2048 px
# display copy remain (the bench's median corner error is about 0.15% of the width) and AKAZE on two such
# images takes a few tenths of a second; SIFT at 1024 px was twice as accurate but took over 1 s a pair.
WORK_LONG_SIDE = 640
# Lowe's ratio test: a match is kept when its distance is under 0.8 of the second-best's (Lowe 2004: this
# rejects 90% of false matches while losing under 5% of true ones). Mutual best matches only, in addition.
RATIO = 0.8
# RANSAC inlier distance in working-copy pixels (3 px ≈ 0.5% of the working width).
RANSAC_PIXELS = 3.0
# Fewer matches than this cannot tell a true fit from chance.
MIN_MATCHES = 12
MIN_INLIERS = 12
# A later photo of the same view taken per the clinic's protocol is within this of the earlier one's scale
# and rotation; a fit beyond them is a false match (or a different view).
SCALE_RANGE = (0.5, 2.0)
MAX_ROTATION_DEGREES = 45.0
# The score's halves. Agreeing matches: FULL_SUPPORT or more count in full (true pairs of the demo generator,
# 640 px working copies, have 90–230; a pair of two patients 2–5, which MIN_INLIERS already refuses).
FULL_SUPPORT = 50
# Structure: the working copy minus its blur at this sigma (working px, about 3% of the width): locks of hair,
# the parting, the hairline and marks, rather than the lighting's slow gradient, which a lighting change alters,
# or single strands, which lie differently at every visit (two visits of one demo patient, aligned, correlate
# 0.42–0.50 at this scale and only 0.33–0.43 at sigma 6). Correlations from FULL_CORRELATION up count in full.
DETAIL_SIGMA = 20.0
FULL_CORRELATION = 0.4
# The correlation is weighted by the covered share of BEFORE; shares above this count in full (a shift of 10%
# and a 10° turn leave about 75% of the frame covered).
FULL_COVER = 0.6
# The threshold for "aligned": more than either half alone can give (0.5). Measured (the bench and
# tests/test_alignment.py): pairs of one view of one patient, turned ±10°, scaled 0.9–1.1, shifted ±10% and
# relit, and consecutive visits of demo patients score 0.9–1.0; pairs of two patients never reach a fit.
ALIGNED_AT = 0.6


@dataclass(frozen=True)
class Alignment:
    """Where AFTER lies in BEFORE's frame, and how well the two line up there.

    ``transform``: 3×3 matrix (rows) mapping a pixel coordinate of AFTER, (x, y, 1) with x to the right, y
    down, origin at the top-left corner and in AFTER's own upright pixels, onto BEFORE's pixels (same
    convention). The identity when no transform was found.
    ``score``: 0…1, half from the matches that agree with the fit (capped at ``FULL_SUPPORT``), half from the
    correlation of the two photos' structure where they overlap once aligned (capped at ``FULL_CORRELATION``,
    weighted by the share of BEFORE covered); 0 when no transform was found.
    ``aligned``: ``score >= ALIGNED_AT``.
    ``reason``: when not aligned, why, in plain words for the clinician; "" when aligned.
    """

    transform: Matrix
    score: float
    aligned: bool
    reason: str = ""

    def maps(self, x: float, y: float) -> tuple[float, float]:
        """Where AFTER's pixel coordinate (x, y) lies in BEFORE (pixels, homogeneous division included).

        >>> Alignment(((2.0, 0.0, 1.0), (0.0, 2.0, -1.0), (0.0, 0.0, 1.0)), 1.0, True).maps(3, 4)
        (7.0, 7.0)
        """
        (a, b, c), (d, e, f), (g, h, i) = self.transform
        w = g * x + h * y + i
        return ((a * x + b * y + c) / w, (d * x + e * y + f) / w)


@dataclass(frozen=True)
class _Working:
    """A grey, contrast-evened working copy of one photo and its size ratio (working px per photo px)."""

    grey: NDArray[np.uint8]
    ratio: float


# The smallest side either photo may have to be lined up: AKAZE's descriptors need a patch of about 30 pixels
# round each feature, and a photo this small has no features worth matching anyway.
MIN_SIDE_PX = 32


def align(before: Image.Image, after: Image.Image) -> Alignment:
    """Register ``after`` onto ``before`` (both upright, any size or mode); never raises for any photo pair.

    Returns an ``Alignment`` whose transform maps AFTER's pixels onto BEFORE's. When the pair cannot be lined
    up (different views or patients, a blank or blurred photo), ``aligned`` is False, ``reason`` says why and
    the transform is the best found (the identity when none).
    """
    if min(*before.size, *after.size) < MIN_SIDE_PX:
        # Features need room: a few pixels a side hold none, and OpenCV's descriptors fail on them.
        return Alignment(IDENTITY, 0.0, False, (
            f"A photo is too small to line up ({before.width}×{before.height} and {after.width}×{after.height} "
            f"pixels; at least {MIN_SIDE_PX} a side)."))
    first, second = _working(before), _working(after)
    found = _fit(first.grey, second.grey)
    if isinstance(found, str):
        return Alignment(IDENTITY, 0.0, False, found)
    matrix, inliers = found
    score = _score(first.grey, second.grey, matrix, inliers)
    # Back from working copies to the photos' own pixels: photo_before = S_b⁻¹ · M · S_a · photo_after.
    to_photo = np.diag([1 / first.ratio, 1 / first.ratio, 1.0])
    from_photo = np.diag([second.ratio, second.ratio, 1.0])
    transform = as_matrix(to_photo @ matrix @ from_photo)
    if score >= ALIGNED_AT:
        return Alignment(transform, score, True)
    return Alignment(transform, score, False, (
        f"The photos line up poorly (score {score:.2f}, {ALIGNED_AT:.2f} needed): they may show different "
        "views, or the framing, focus or lighting differs too much."
    ))


def aligned_copy(before: Image.Image, after: Image.Image, alignment: Alignment) -> Image.Image:
    """``after`` warped into ``before``'s frame and size (RGB); uncovered parts are black.

    The original photos are untouched: this is derived data, recomputable from them and the alignment.
    """
    source = np.asarray(after.convert("RGB"))
    matrix = np.array(alignment.transform, dtype=np.float64)
    warped = cv2.warpPerspective(source, matrix, before.size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return Image.fromarray(warped)


def _working(photo: Image.Image) -> _Working:
    grey = photo.convert("L")
    ratio = min(1.0, WORK_LONG_SIDE / max(grey.size))
    if ratio < 1.0:
        grey = grey.resize((max(1, round(grey.width * ratio)), max(1, round(grey.height * ratio))),
                           Image.Resampling.BOX)
        ratio = grey.width / photo.width
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return _Working(np.asarray(clahe.apply(np.asarray(grey, dtype=np.uint8)), dtype=np.uint8), ratio)


def _fit(before: NDArray[np.uint8], after: NDArray[np.uint8]) -> tuple[NDArray[np.float64], int] | str:
    """The 3×3 similarity mapping ``after``'s working pixels onto ``before``'s and how many matches agree with
    it, or why there is none."""
    detector = cv2.AKAZE.create()
    points_b, descriptors_b = detector.detectAndCompute(before, None)
    points_a, descriptors_a = detector.detectAndCompute(after, None)
    pairs = _matches(descriptors_a, descriptors_b)
    if len(pairs) < MIN_MATCHES:
        return (f"The photos have too few details in common to line them up ({len(pairs)} found; at least "
                f"{MIN_MATCHES} needed).")
    source = np.array([points_a[a].pt for a, _ in pairs], dtype=np.float32).reshape(-1, 1, 2)
    target = np.array([points_b[b].pt for _, b in pairs], dtype=np.float32).reshape(-1, 1, 2)
    estimate, inliers = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS, maxIters=4000,
        confidence=0.999, refineIters=20,
    )
    kept = 0 if inliers is None else int(inliers.sum())
    if estimate is None or kept < MIN_INLIERS:
        return (f"The photos have too few details in common to line them up ({kept} agree; at least "
                f"{MIN_INLIERS} needed).")
    scale = math.hypot(float(estimate[0, 0]), float(estimate[1, 0]))
    rotation = math.degrees(math.atan2(float(estimate[1, 0]), float(estimate[0, 0])))
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] or abs(rotation) > MAX_ROTATION_DEGREES:
        return (f"The best fit would turn the later photo by {rotation:.0f}° and scale it by {scale:.2f}: "
                "more than between two photos of the same view, so they were not lined up.")
    return np.vstack([estimate.astype(np.float64), [0.0, 0.0, 1.0]]), kept


def _matches(after: cv2.typing.MatLike | None, before: cv2.typing.MatLike | None) -> list[tuple[int, int]]:
    """(after index, before index) pairs passing the ratio test that are also each other's best match."""
    if after is None or before is None or len(after) < 2 or len(before) < 2:
        return []
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)  # AKAZE descriptors are bit strings
    forward = matcher.knnMatch(after, before, k=2)
    backward = {m.queryIdx: m.trainIdx for m in matcher.match(before, after)}
    return [
        (best.queryIdx, best.trainIdx)
        for best, second in (pair for pair in forward if len(pair) == 2)
        if best.distance < RATIO * second.distance and backward.get(best.trainIdx) == best.queryIdx
    ]


def _score(before: NDArray[np.uint8], after: NDArray[np.uint8], transform: NDArray[np.float64], inliers: int
           ) -> float:
    """Half for the agreeing matches, half for the structure's correlation where warped ``after`` covers
    ``before`` (times the covered share); each half capped."""
    support = 0.5 * min(1.0, inliers / FULL_SUPPORT)
    height, width = before.shape
    warped = np.asarray(cv2.warpPerspective(after, transform, (width, height), flags=cv2.INTER_LINEAR), np.uint8)
    footprint = cv2.warpPerspective(np.full(after.shape, 255, np.uint8), transform, (width, height),
                                    flags=cv2.INTER_NEAREST)
    covered = np.asarray(cv2.erode(footprint, np.ones((9, 9), np.uint8))) > 0  # off the warped edge's blur
    share = float(covered.mean())
    if share == 0.0:
        return round(support, 3)
    detail_b = _detail(before)[covered]
    detail_a = _detail(warped)[covered]
    detail_b -= detail_b.mean()
    detail_a -= detail_a.mean()
    spread = float(np.sqrt((detail_b * detail_b).sum() * (detail_a * detail_a).sum()))
    if spread == 0.0:
        return round(support, 3)
    correlation = float((detail_b * detail_a).sum()) / spread
    resemblance = 0.5 * min(1.0, max(0.0, correlation) / FULL_CORRELATION) * min(1.0, share / FULL_COVER)
    return round(support + resemblance, 3)


def _detail(grey: NDArray[np.uint8]) -> NDArray[np.float32]:
    image = grey.astype(np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), DETAIL_SIGMA)


def as_matrix(values: NDArray[np.float64] | list[list[float]]) -> Matrix:
    """A 3×3 array or nested list as a ``Matrix`` of floats, scaled so that its last entry is 1.

    >>> as_matrix([[2, 0, 4], [0, 2, 6], [0, 0, 2]])
    ((1.0, 0.0, 2.0), (0.0, 1.0, 3.0), (0.0, 0.0, 1.0))
    """
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.shape != (3, 3):
        raise ValueError(f"a transform is 3×3, not {matrix.shape}")
    normalised = matrix / matrix[2, 2]
    rows = [tuple(float(value) for value in row) for row in normalised]
    return (
        (rows[0][0], rows[0][1], rows[0][2]),
        (rows[1][0], rows[1][1], rows[1][2]),
        (rows[2][0], rows[2][1], rows[2][2]),
    )
