"""Hairs in a close-up's luminance: dark ridges, their skeleton, shafts followed through crossings, roots.

The steps (``trace_hairs``):

1. Ridges: the black top-hat (closing minus image) keeps what is darker than the skin around it and narrower
   than ``RIDGE_WIDTH_UM``: hair shafts and follicular openings, without the uneven light of the lens.
2. Hair mask: hysteresis thresholds set from the photo itself, as shares of a pigmented shaft's contrast (the
   98th percentile of the ridges) and never under a few times the skin's own noise (median absolute deviation),
   so that an empty scalp gives an empty mask.
3. Skeleton (one pixel wide centre lines) cut into branches at the junctions where shafts cross or meet.
4. Shafts: from every free end (a tip, or a root standing alone), every end at the frame's edge and every blind
   end (a branch meeting a junction that nothing goes on from straight), follow the branches, continuing at
   each junction into the branch that goes on most straight (a crossing is passed straight through), or into a
   short trunk ending free (the common root of a follicular unit). A walk ends at a free end, the frame's edge,
   a junction in an opening, or a junction with no way on.
5. Openings: the follicular openings are found first, on their own, as darker discs of skin between the shafts
   (the peripilar halo; ``tracker.photos.hair_openings``).
6. Roots: a hair emerges where its shaft ends in an opening found, looked for at the walk's ends inside the
   frame and at the junctions it passed (a unit whose opening lies under another shaft joins it there); a tip
   lies on plain skin. Walking from a tip, the first opening met is the root, and the mark is put at the
   opening's centre. A shaft meeting no opening does not count by itself (a tip and an end at the frame's edge:
   it entered from outside; two free ends and junctions passed: its root may lie under another shaft), unless
   it lies whole and alone in the field (two free ends, touching no other shaft): then it emerged in it.
   Each tip belongs to one hair, so that a hair walked from both its ends counts once.
7. Width: full width at half the shaft's own contrast, across the shaft at points along it (µm).
8. Hairs of a unit lying over each other near their opening: around each opening, the shafts seen leaving it
   on circles of growing radius (``tracker.photos.hair_units``); more than the roots found there are added,
   also at an opening no traced shaft was found to leave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from skimage import morphology

from tracker.errors import ValidationError
from tracker.photos.hair_openings import OPENING_SHARE, SAME_OPENING_UM, find_openings, halo_contrast, in_openings
from tracker.photos.hair_units import hairs_leaving, shafts_per_opening

# OpenCV's hints type its images loosely (any number type); these name what each array holds.
FloatImage = NDArray[Any]
Labels = NDArray[Any]
Mask = NDArray[np.bool_]

# scikit-image's thinning (Zhang's, as in its docs) ships without type hints; this is the shape it is called with.
skeletonize: Callable[[Mask], Mask] = morphology.skeletonize

# Structures narrower than this count as ridges: the widest terminal shafts (~120 µm), an opening, and two
# shafts of a follicular unit lying side by side.
RIDGE_WIDTH_UM = 400.0
# Hysteresis thresholds as shares of a pigmented shaft's contrast: a pale vellus hair reaches the high one
# somewhere along it; the low one follows it out to its edges but not into the fainter halo of an opening.
HIGH_SHARE, LOW_SHARE = 0.4, 0.28
NOISE_FLOOR = 6.0  # thresholds at least this many times the skin's noise (robust standard deviation)
MIN_PIECE_UM2 = 150.0 * 15.0  # a piece of mask smaller than a 150 µm stub of the thinnest hair is noise
STRAIGHT_DEG = 35.0  # a shaft goes on through a junction only into a branch within this angle of its way
TRUNK_DEG = 75.0  # ... or into a short trunk ending free, the common root of a unit, within this one
MIN_SHAFT_UM = 150.0  # a shaft shorter than this is a stub of skeleton, not a hair
MATE_UM = 60.0  # a unit's added marks lie this far from its root: inside its opening, apart on the screen
# A field this much covered by dark ridges (share of its pixels above LOW_SHARE of the shaft's contrast) shows
# too little skin between the shafts: the skin's noise is measured on hair, nothing stands out and the count
# was 0 (800 hairs/cm² clipped: 0.43; 250 with shafts 4–8 mm long: 0.65; 200: 0.48), or shafts lying over the
# openings were counted twice (150 with long shafts: 0.40–0.43, +100%). Clipped shafts at up to 700 hairs/cm²
# cover 0.33–0.39 and were counted within 8%; 750 (0.41) is refused with them, beyond any scalp's density.
COVERED_MAX = 0.4
# ... judged only when the darkest ridges are shafts: bare skin's mottling stands 0.04–0.06 above the skin
# around it (98th percentile), a drawn vellus hair about 0.3, a pigmented shaft 0.5–0.65.
SHAFT_MIN_CONTRAST = 0.15


@dataclass(frozen=True)
class TracedHair:
    """A hair found: where it emerges (``x``, ``y``, pixels) and its shaft width (µm)."""

    x: float
    y: float
    width_um: float


@dataclass
class _End:
    """One end of a branch: a ``free`` end, at the ``border`` of the frame, or at junction ``node``; ``way``:
    the unit direction (dy, dx) the branch leaves by at this end."""

    pixel: tuple[int, int]
    kind: str
    node: int
    way: tuple[float, float]


@dataclass
class _Branch:
    pixels: NDArray[np.intp]  # (n, 2) rows and columns, in order from ends[0] to ends[1]
    ends: tuple[_End, _End]


def trace_hairs(gray: FloatImage, um_per_px: float) -> list[TracedHair]:
    """The hairs emerging inside ``gray`` (luminance 0–1, hair darker than skin) at ``um_per_px`` µm/pixel.
    Raises ValidationError when shafts cover more than ``COVERED_MAX`` of the field (unclipped or very dense
    hair: too little skin shows between them to count)."""
    ridges = _ridges(gray, um_per_px)
    if _covered(ridges) > COVERED_MAX:
        raise ValidationError(
            "The hairs cover most of the field, so the skin between them cannot be seen: clip the hair short over "
            "the site (trichoscopic counts are made on clipped hair) and take the close-up again.")
    shaft_contrast, noise = _levels(ridges)
    high = max(HIGH_SHARE * shaft_contrast, NOISE_FLOOR * noise)
    low = max(LOW_SHARE * shaft_contrast, NOISE_FLOOR * noise * LOW_SHARE / HIGH_SHARE)
    mask = _hysteresis(ridges, low, high, int(MIN_PIECE_UM2 / um_per_px**2))
    if not mask.any() or shaft_contrast == 0:
        return []  # nothing stands out as a shaft: bare skin, whose mottling the mask may still pick up
    skeleton = skeletonize(mask)
    half_width = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    typical_width = float(np.median(half_width[skeleton])) * 2
    branches, node_centres = _branches(skeleton, typical_width)
    contrast = halo_contrast(ridges, mask, typical_width, um_per_px)
    level = OPENING_SHARE * shaft_contrast
    openings = find_openings(contrast, level, um_per_px)
    halo = in_openings(contrast, openings, level, um_per_px)

    def opening(node: int) -> bool:
        row, col = node_centres[node]
        return bool(halo[round(row), round(col)] >= level)

    hairs = []
    spans = []  # each hair's width in the mask (pixels), as typical_width is measured: what its runs are compared to
    tips: set[tuple[int, int]] = set()  # each tip (or end at the frame's edge) belongs to one hair
    covered = np.zeros(mask.shape, bool)  # the shafts of the hairs found so far
    near = max(3, round(typical_width))
    # Walks from blind ends last: one whose first stretch is a hair found already is that hair again.
    walks = sorted(_walks(branches, typical_width, opening), key=lambda walk: walk[0].kind == "node")
    for start, stop, path, joints in walks:
        # A shaft cut short by the frame's edge is no stub: its root may lie just inside.
        if len(path) * um_per_px < MIN_SHAFT_UM and "border" not in (start.kind, stop.kind):
            continue
        if start.kind == "node" and covered[path[:near, 0], path[:near, 1]].mean() > 0.5:
            continue
        found = _rooted(start, stop, path, joints, halo[path[:, 0], path[:, 1]], level, typical_width,
                        contrast[path[:, 0], path[:, 1]])
        if found is None or found[1] in tips:
            continue
        root, tip = found
        tips.add(tip)
        covered[path[:, 0], path[:, 1]] = True
        # Measured on the tip's side: near the root, the hairs of a unit lie side by side.
        tip_side = path[root + (len(path) - root) * 2 // 5:] if root < len(path) // 2 else path[: root * 3 // 5]
        measured = tip_side if len(tip_side) >= 9 else path
        width = _width_px(ridges, measured) * um_per_px
        spans.append(float(np.median(half_width[measured[:, 0], measured[:, 1]])) * 2)
        row, col = _snapped((int(path[root][0]), int(path[root][1])), openings, SAME_OPENING_UM / um_per_px)
        hairs.append(TracedHair(float(col), float(row), width))
    return _spread(hairs + _unit_mates(hairs, spans, mask, um_per_px)
                   + _unrooted(openings, hairs, mask, typical_width, um_per_px), MATE_UM / um_per_px)


def _snapped(pixel: tuple[int, int], openings: list[tuple[int, int]], within: float) -> tuple[int, int]:
    """The centre of the opening nearest ``pixel`` when one lies ``within`` pixels, else ``pixel``."""
    if not openings:
        return pixel
    nearest = min(openings, key=lambda opening: (opening[0] - pixel[0]) ** 2 + (opening[1] - pixel[1]) ** 2)
    return nearest if np.hypot(nearest[0] - pixel[0], nearest[1] - pixel[1]) <= within else pixel


def _unrooted(openings: list[tuple[int, int]], hairs: list[TracedHair], mask: Mask, typical_width: float,
              um_per_px: float) -> list[TracedHair]:
    """The hairs of the openings no traced shaft was found to leave (its shafts lie over each other, or over
    another's): as many as the shafts seen leaving it (``tracker.photos.hair_units``), none when none show. Their
    width is not measured on them: the photo's typical shaft width stands for it."""
    near = SAME_OPENING_UM / um_per_px
    found = []
    for row, col in openings:
        if any(np.hypot(hair.y - row, hair.x - col) <= near for hair in hairs):
            continue
        width_um = typical_width * um_per_px
        found += [TracedHair(float(col), float(row), width_um)] * hairs_leaving(mask, row, col, typical_width,
                                                                                 um_per_px)
    return found


def _unit_mates(hairs: list[TracedHair], spans: list[float], mask: Mask, um_per_px: float) -> list[TracedHair]:
    """The hairs of the units found whose shafts lie over each other near their opening, one more mark each
    (``tracker.photos.hair_units``; ``spans``: each hair's width in the mask, pixels), with the width of the hair
    found there, at its root (``_spread`` then moves them apart)."""
    extra = shafts_per_opening([(hair.y, hair.x) for hair in hairs], spans, mask, um_per_px)
    return [hair for hair, more in zip(hairs, extra, strict=True) for _ in range(more)]


def _spread(hairs: list[TracedHair], away: float) -> list[TracedHair]:
    """``hairs`` with the marks on one spot (the hairs of one opening, all put at its centre) moved apart so that
    the clinician sees each mark and can click each one away: the first stays, the others lie ``away`` pixels
    from it (``MATE_UM``: inside the opening, apart on the screen), a third of a turn apart, or evenly around it
    when more than three share the spot (a circle of 60 µm holds twelve marks 30 µm apart)."""
    on_spot: dict[tuple[float, float], int] = {}
    for hair in hairs:
        on_spot[hair.x, hair.y] = on_spot.get((hair.x, hair.y), 0) + 1
    seen: dict[tuple[float, float], int] = {}
    spread = []
    for hair in hairs:
        number = seen.get((hair.x, hair.y), 0)
        seen[hair.x, hair.y] = number + 1
        turn = number * 2 * np.pi / max(3, on_spot[hair.x, hair.y] - 1)
        spread.append(hair if number == 0 else TracedHair(hair.x + away * float(np.cos(turn)),
                                                          hair.y + away * float(np.sin(turn)), hair.width_um))
    return spread


def _rooted(start: _End, stop: _End, path: NDArray[np.intp], joints: list[int], halo: FloatImage, level: float,
            typical_width: float, skin: FloatImage) -> tuple[int, tuple[int, int]] | None:
    """Where along ``path`` (an index) the hair walked from ``start`` emerges, and its tip's pixel; None when it
    emerged outside the frame, or its root cannot be told. ``halo``: the openings' map along the path; ``skin``:
    how much darker the skin around each point of the path is (``hair_openings.halo_contrast``).

    Walking from a tip, the root is the first opening met (a shaft lying over another unit's opening further
    on belongs to that other hair). When both ends are in openings, the darker ring is the root, so that the
    walks from either end find the same hair. Openings are looked for at the ends and at the junctions passed
    (where a unit's hairs join the shaft lying over their root), not along a plain shaft: the blur at its edges
    darkens a ring around it a little all along.
    """
    near = max(3, round(typical_width))
    looked_at = np.zeros(len(path), bool)
    # An end at the frame's edge is no root: that hair emerged outside (or on the edge, where a reader cannot tell).
    looked_at[:near] = start.kind != "border"
    looked_at[-near:] = stop.kind != "border"
    for joint in joints:
        looked_at[max(0, joint - 2 * near): joint + 2 * near] = True
    opening = (halo >= level) & looked_at
    if not opening.any():
        if start.kind == "free" and stop.kind == "free" and not joints:
            # A whole shaft lying alone in the field emerged in it even when no opening shows (the halo is not
            # seen on every scalp or with every device): at the end where the skin is darker, on a tie the first
            # in the image, so that either walk along it finds the same one. A shaft touching others is not: its
            # root may be where it meets them.
            first_end = (float(skin[0]), tuple(-value for value in start.pixel))
            last_end = (float(skin[-1]), tuple(-value for value in stop.pixel))
            return (0, stop.pixel) if first_end >= last_end else (len(path) - 1, start.pixel)
        return None
    first = int(np.argmax(opening))
    if first > near:
        return _centre(halo, first, 2 * near), start.pixel
    if opening[-near:].any() and stop.kind != "border" and halo[-near:].max() > halo[:near].max():
        return len(path) - 1 - int(np.argmax(halo[::-1][: 2 * near])), start.pixel
    return int(np.argmax(halo[: 2 * near])), stop.pixel


def _centre(halo: FloatImage, first: int, reach: int) -> int:
    """The opening's centre: the ring is darkest there, a little past where it first shows."""
    return first + int(np.argmax(halo[first: first + reach]))


def _ridges(gray: FloatImage, um_per_px: float) -> FloatImage:
    """Black top-hat: how much darker each pixel is than the closing with a disc ``RIDGE_WIDTH_UM`` across."""
    size = max(3, int(RIDGE_WIDTH_UM / um_per_px) | 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    smooth = cv2.GaussianBlur(gray, (0, 0), 0.7)
    return cv2.morphologyEx(smooth, cv2.MORPH_BLACKHAT, disc)


def _hysteresis(ridges: FloatImage, low: float, high: float, min_area: int) -> Mask:
    """The pieces above ``low`` that reach ``high`` somewhere and cover more than ``min_area`` pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((ridges > low).astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[ridges > high])] = True
    keep &= stats[:, cv2.CC_STAT_AREA] > min_area
    keep[0] = False  # the background
    mask: Mask = keep[labels]
    return mask


def _covered(ridges: FloatImage) -> float:
    """The share of the field (0–1) covered by shafts: ridges above ``LOW_SHARE`` of the darkest ones' contrast
    (98th percentile); 0 when those are no shafts (under ``SHAFT_MIN_CONTRAST``: bare skin)."""
    sample = ridges[::2, ::2]
    darkest = float(np.percentile(sample, 98))
    return float((sample > LOW_SHARE * darkest).mean()) if darkest >= SHAFT_MIN_CONTRAST else 0.0


def _levels(ridges: FloatImage) -> tuple[float, float]:
    """A pigmented shaft's contrast and the skin's noise (1.4826 × median absolute deviation).

    The shaft's contrast is the 90th percentile of the pixels standing clear of the noise, so that it does not
    depend on how much of the field is hair; 0 when nothing stands out (bare skin).
    """
    sample = ridges[::2, ::2]
    median = float(np.median(sample))
    noise = 1.4826 * float(np.median(np.abs(sample - median))) + 1e-4
    standing = sample[sample > median + NOISE_FLOOR * noise]
    if standing.size < 20:
        return 0.0, noise
    return float(np.percentile(standing, 90)), noise


def _branches(skeleton: Mask, typical_width: float) -> tuple[list[_Branch], dict[int, tuple[float, float]]]:
    """The skeleton cut at its junctions: ordered branches, and each junction's centre (row, column)."""
    neighbours = cv2.filter2D(skeleton.astype(np.uint8), -1, np.ones((3, 3), np.uint8),
                              borderType=cv2.BORDER_CONSTANT) - skeleton
    junctions = skeleton & (neighbours >= 3)
    # Junction pixels close together (two shafts crossing make two or three) form one node.
    reach = max(1, round(typical_width * 0.6))
    grown = cv2.dilate(junctions.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    _, nodes, _, centroids = cv2.connectedComponentsWithStats((grown.astype(bool) & skeleton).astype(np.uint8),
                                                              connectivity=8)
    centres = {node: (float(row), float(col)) for node, (col, row) in enumerate(centroids) if node}
    count, pieces, stats, _ = cv2.connectedComponentsWithStats((skeleton & (nodes == 0)).astype(np.uint8),
                                                               connectivity=8)
    branches = []
    for index in range(1, count):
        left, top, width, height = (int(value) for value in stats[index, :4])
        rows, cols = np.nonzero(pieces[top: top + height, left: left + width] == index)
        pixels = _ordered(rows + top, cols + left)
        if pixels is not None:
            branches.append(_Branch(pixels, (_end(pixels, nodes, typical_width, 0),
                                             _end(pixels, nodes, typical_width, -1))))
    return branches, centres


def _ordered(rows: NDArray[np.intp], cols: NDArray[np.intp]) -> NDArray[np.intp] | None:
    """A branch's pixels in order along it (None for a closed loop, which has no ends)."""
    members = set(zip(rows.tolist(), cols.tolist(), strict=True))
    if len(members) == 1:
        return np.array([[rows[0], cols[0]]])

    def around(pixel: tuple[int, int]) -> Iterator[tuple[int, int]]:
        row, col = pixel
        for d_row in (-1, 0, 1):
            for d_col in (-1, 0, 1):
                if (d_row or d_col) and (row + d_row, col + d_col) in members:
                    yield row + d_row, col + d_col

    ends = [pixel for pixel in members if sum(1 for _ in around(pixel)) <= 1]
    if not ends:
        return None
    path = [ends[0]]
    visited = {ends[0]}
    while True:
        # Prefer the four-connected step: a diagonal shortcut would skip a pixel of the line.
        following = sorted((p for p in around(path[-1]) if p not in visited),
                           key=lambda p: abs(p[0] - path[-1][0]) + abs(p[1] - path[-1][1]))
        if not following:
            break
        path.append(following[0])
        visited.add(following[0])
    return np.array(path)


def _end(pixels: NDArray[np.intp], nodes: Labels, typical_width: float, side: int) -> _End:
    """What one end of a branch touches, and the direction the branch leaves by there."""
    row, col = (int(value) for value in pixels[side])
    height, width = nodes.shape
    step = min(len(pixels) - 1, max(4, round(2 * typical_width)))
    inner = pixels[step] if side == 0 else pixels[-1 - step]
    d_row, d_col = float(row - inner[0]), float(col - inner[1])
    length = float(np.hypot(d_row, d_col)) or 1.0
    way = (d_row / length, d_col / length)
    touching = nodes[max(0, row - 1): row + 2, max(0, col - 1): col + 2]
    if touching.any():
        return _End((row, col), "node", int(touching.max()), way)
    if min(row, col) <= 2 or row >= height - 3 or col >= width - 3:
        return _End((row, col), "border", 0, way)
    return _End((row, col), "free", 0, way)


def _walks(branches: list[_Branch], typical_width: float,
           opening: Callable[[int], bool]) -> Iterator[tuple[_End, _End, NDArray[np.intp], list[int]]]:
    """Every shaft walked from a free end, an end at the frame's edge, or a blind end (a branch meeting a
    junction that no other branch goes on from straight: a tip touching another shaft, or a hair leaving its
    unit's root): (where it starts, where it stops, its pixels). A walk stops at a junction in a follicular
    ``opening``: a shaft lying over another hair's root does not go on into it."""
    at_node: dict[int, list[tuple[int, int]]] = {}
    for number, branch in enumerate(branches):
        for side, end in enumerate(branch.ends):
            if end.kind == "node":
                at_node.setdefault(end.node, []).append((number, side))
    spur = max(3.0, 0.6 * typical_width)
    for number, branch in enumerate(branches):
        for side, start in enumerate(branch.ends):
            if start.kind == "node" and _straightest(branches, at_node[start.node], {number}, start.way,
                                                     STRAIGHT_DEG, lambda other: True) is not None:
                continue  # a shaft going on through a junction: walked from its ends
            if len(branch.pixels) < spur and branch.ends[1 - side].kind == "node":
                continue  # a spur of a thick end is not where a shaft starts
            yield _walk(branches, at_node, number, side, start, opening, 4 * typical_width)


def _walk(branches: list[_Branch], at_node: dict[int, list[tuple[int, int]]], number: int, side: int,
          start: _End, opening: Callable[[int], bool], trunk: float) -> tuple[_End, _End, NDArray[np.intp], list[int]]:
    """One shaft from ``start`` (branch ``number``, its end ``side``), straight on through junctions; where
    none goes on straight, into a short trunk ending free (at most ``trunk`` pixels): the common root of a
    follicular unit whose hairs meet it at an angle. Also returns where along the pixels it passed junctions."""
    visited = {number}
    parts = [branches[number].pixels if side == 0 else branches[number].pixels[::-1]]
    joints: list[int] = []
    end = branches[number].ends[1 - side]
    while end.kind == "node" and not opening(end.node):
        here = at_node.get(end.node, [])
        best = _straightest(branches, here, visited, end.way, STRAIGHT_DEG, lambda branch: True)
        if best is None:
            best = _straightest(branches, here, visited, end.way, TRUNK_DEG,
                                lambda branch: len(branch.pixels) <= trunk and "free" in (e.kind for e in branch.ends))
        if best is None:
            break
        number, side = best
        visited.add(number)
        joints.append(sum(len(part) for part in parts))
        parts.append(branches[number].pixels if side == 0 else branches[number].pixels[::-1])
        end = branches[number].ends[1 - side]
    return start, end, np.concatenate(parts), joints


def _straightest(branches: list[_Branch], here: list[tuple[int, int]], visited: set[int], way: tuple[float, float],
                 within_deg: float, suits: Callable[[_Branch], bool]) -> tuple[int, int] | None:
    """The branch at a node (number, which end) whose way in is closest to ``way`` out, within ``within_deg``."""
    best, best_cos = None, float(np.cos(np.radians(within_deg)))
    for other, other_side in here:
        if other in visited or not suits(branches[other]):
            continue
        other_way = branches[other].ends[other_side].way
        alignment = -(way[0] * other_way[0] + way[1] * other_way[1])
        if alignment > best_cos:
            best, best_cos = (other, other_side), alignment
    return best


def _width_px(ridges: FloatImage, path: NDArray[np.intp]) -> float:
    """The shaft's full width at half its contrast (pixels), the median over points along its middle."""
    if len(path) < 9:
        return 0.0
    widths = []
    offsets = np.arange(-12.0, 12.25, 0.25)
    for index in range(4, len(path) - 4, 3):
        d_row, d_col = (path[index + 4] - path[index - 4]).astype(float)
        length = float(np.hypot(d_row, d_col)) or 1.0
        normal = (d_col / length, -d_row / length)
        rows = path[index][0] + offsets * normal[0]
        cols = path[index][1] + offsets * normal[1]
        profile = cv2.remap(ridges, cols.astype(np.float32)[None, :], rows.astype(np.float32)[None, :],
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
        centre = len(offsets) // 2
        peak = profile[centre - 4: centre + 5].max()
        if peak <= 0:
            continue
        above = profile >= peak / 2
        left = right = centre
        while left > 0 and above[left - 1]:
            left -= 1
        while right < len(offsets) - 1 and above[right + 1]:
            right += 1
        widths.append((right - left + 1) * 0.25)
    return float(np.median(widths)) if widths else 0.0
