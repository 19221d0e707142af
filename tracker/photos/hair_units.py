"""Hairs of one follicular unit lying over each other near their opening: how many shafts leave each root found.

The hairs of a unit (1–4) leave one opening a few degrees apart (about 8–20° between neighbours) and lie over
each other for the first tenths of a mm, so following shafts (``tracker.photos.hair_tracing``) often finds fewer
hairs at an opening than it has. Around each root found, this looks at circles of growing radius: a hair
leaving the opening crosses each circle at about the same angle (it points away from the centre), a shaft
passing by crosses them at angles that drift with the radius. Where the circles show more shafts leaving than
roots found there, the others are added at the same opening. A shaft passing by shows on the outer circles only,
or crosses them where it did not cross the inner ones: only runs of the mask that come out from the opening
circle by circle count. Hairs still lying side by side where they cross a circle make one run of the hair mask
wider than a shaft: a run counts as many shafts as the photo's typical shaft widths it spans. Near
the frame's edge the circles are cut: what lies outside counts as skin.

Weak points: a neighbour's shaft lying the same way close by the opening can pass for one of its hairs, and a
shaft much wider than the photo's typical one for two (overcounts); hairs lying exactly over each other out to
the last circle are one, and a thin pale hair beside a wide one adds too little width to show (undercounts).

Units: positions in pixels (row, column of the working image); radii and widths in pixels unless named _um.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

FloatImage = NDArray[Any]
Mask = NDArray[np.bool_]

# Roots found closer than this belong to one opening: the openings of two units are ≥ 0.25 mm apart.
SAME_OPENING_UM = 160.0
# The circles: from just past the opening's halo out to where the shortest vellus shafts still reach.
INNER_UM, OUTER_UM, STEP_UM = 140.0, 420.0, 60.0
# A hair leaving the opening keeps its angle within this from one circle to the next; a passing shaft drifts.
KEEP_DEG = 7.0
# A unit's hairs lie within this of their common way (a unit of 4 fans up to about 30° each side of it, and
# shafts bend): a shaft crossing the circles on the far side passes over the opening instead.
FAN_DEG = 80.0
MAX_UNIT = 4  # follicular units hold 1–4 hairs


def shafts_per_opening(roots: list[tuple[float, float]], spans: list[float], mask: Mask,
                       um_per_px: float) -> list[int]:
    """For each root (row, column), how many hairs the opening there has beyond the roots already found at it
    (0 when none more show). ``spans``: the width in the mask (pixels) of each root's shaft, measured where it
    lies alone; a run leaving the opening is counted in widths of its widest one (a unit's shafts differ, and a
    run as wide as its widest shaft may be that one alone). Roots within ``SAME_OPENING_UM`` of each other share
    one opening: the extra hairs are given to its first root."""
    near = SAME_OPENING_UM / um_per_px
    extra = [0] * len(roots)
    taken = [False] * len(roots)
    for index, (row, col) in enumerate(roots):
        if taken[index]:
            continue
        group = [other for other in range(index, len(roots))
                 if not taken[other] and np.hypot(roots[other][0] - row, roots[other][1] - col) <= near]
        for other in group:
            taken[other] = True
        centre_row = float(np.mean([roots[other][0] for other in group]))
        centre_col = float(np.mean([roots[other][1] for other in group]))
        widest = max(spans[other] for other in group)
        leaving = hairs_leaving(mask, centre_row, centre_col, widest, um_per_px)
        extra[index] = max(0, leaving - len(group))
    return extra


def hairs_leaving(mask: Mask, row: float, col: float, shaft_px: float, um_per_px: float) -> int:
    """How many hairs (0–4) are seen leaving (row, col): the most on any one circle, counting only the runs of
    the mask that come out from the opening (each circle's run lies where a run of the circle before it lay, back
    to the first), that keep their way on the next circle out and lie within ``FAN_DEG`` of the unit's way; each
    run as many shaft widths (``shaft_px``, pixels) as it spans, rounded, at least one."""
    radii = np.arange(INNER_UM, OUTER_UM + 1, STEP_UM) / um_per_px
    crossings = [_crossings(mask, row, col, radius) for radius in radii]
    every = [angle for ring in crossings for angle, _ in ring]
    if not every:
        return 0
    way = _common_way(every)
    best = 0
    linked = crossings[0]
    for index, (radius, ring, following) in enumerate(zip(radii[:-1], crossings[:-1], crossings[1:], strict=True)):
        if index:
            # A shaft passing by reaches the outer circles without having crossed the inner ones where it lies.
            inner = radii[index - 1]
            linked = [(angle, length) for angle, length in ring
                      if any(_apart(angle, before) <= KEEP_DEG + np.degrees(span / 2 / inner)
                             for before, span in linked)]
        kept = [length for angle, length in linked
                if _apart(angle, way) <= FAN_DEG and any(_apart(angle, other) <= KEEP_DEG for other, _ in following)]
        # A run is measured in whole samples of the circle (about a pixel each): one sample more or less is the
        # sampling's, not a shaft's, so it is taken off before counting widths.
        sample = 2 * np.pi * radius / _samples(radius)
        best = max(best, sum(max(1, round((length - sample) / shaft_px)) for length in kept))
    return min(MAX_UNIT, best)


def _crossings(mask: Mask, row: float, col: float, radius: float) -> list[tuple[float, float]]:
    """The runs of ``mask`` along the circle: the angle of each one's middle (degrees, 0 = right, 90 = down) and
    its length along the circle (pixels)."""
    steps = _samples(radius)
    angles = np.arange(steps) * (360.0 / steps)
    rows = (row + radius * np.sin(np.radians(angles))).astype(np.float32)
    cols = (col + radius * np.cos(np.radians(angles))).astype(np.float32)
    on = cv2.remap(mask.astype(np.float32), cols[None, :], rows[None, :], cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)[0] >= 0.5
    if on.all() or not on.any():
        return []
    # Start the walk round the circle off a run, so that no run is cut in two at angle 0.
    shift = int(np.argmin(on))
    on = np.roll(on, -shift)
    # ... and close the last run at the end of the walk.
    edges = np.flatnonzero(np.diff(np.append(on, False).astype(np.int8)))
    starts, stops = edges[0::2] + 1, edges[1::2] + 1
    arc = 2 * np.pi * radius / steps
    return [(float(((start + stop - 1) / 2 + shift) % steps * 360.0 / steps), float((stop - start) * arc))
            for start, stop in zip(starts, stops, strict=True)]


def _samples(radius: float) -> int:
    """How many points a circle of ``radius`` pixels is sampled at: about one per pixel of arc."""
    return max(90, int(2 * np.pi * radius))


def _common_way(angles: list[float]) -> float:
    """The mean direction of ``angles`` (degrees), each weighted alike."""
    radians = np.radians(angles)
    return float(np.degrees(np.arctan2(np.sin(radians).sum(), np.cos(radians).sum())))


def _apart(first: float, second: float) -> float:
    """How far apart two directions are, 0–180°."""
    return abs((first - second + 180.0) % 360.0 - 180.0)
