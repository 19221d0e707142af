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
5. Roots: a hair emerges where its shaft ends in a follicular opening, seen as a darker ring around it (the
   peripilar halo), looked for at the walk's ends inside the frame and at the junctions it passed (a unit
   whose opening lies under another shaft joins it there); a tip lies on plain skin. Walking from a tip, the
   first opening met is the root; a shaft with both ends free inside the frame emerged in it even when no
   opening shows. A shaft whose only end inside the frame is a tip entered from outside and does not count.
   Each tip belongs to one hair, so that a hair walked from both its ends counts once.
6. Width: full width at half the shaft's own contrast, across the shaft at points along it (µm).
7. Hairs of a unit lying over each other near their opening: around each root found, the shafts seen leaving it
   on circles of growing radius (``tracker.photos.hair_units``); more than the roots found there are added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from skimage import morphology

from tracker.photos.hair_units import shafts_per_opening

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
HALO_RING_UM = 50.0  # width of the ring around a shaft's end where an opening's halo is looked for
HALO_SHARE = 0.03  # a ring darker than this share of a shaft's contrast is a halo: the shaft's root
MIN_SHAFT_UM = 150.0  # a shaft shorter than this is a stub of skeleton, not a hair
MATE_UM = 60.0  # a unit's added marks lie this far from its root: inside its opening, apart on the screen


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
    """The hairs emerging inside ``gray`` (luminance 0–1, hair darker than skin) at ``um_per_px`` µm/pixel."""
    ridges = _ridges(gray, um_per_px)
    shaft_contrast, noise = _levels(ridges)
    high = max(HIGH_SHARE * shaft_contrast, NOISE_FLOOR * noise)
    low = max(LOW_SHARE * shaft_contrast, NOISE_FLOOR * noise * LOW_SHARE / HIGH_SHARE)
    mask = _hysteresis(ridges, low, high, int(MIN_PIECE_UM2 / um_per_px**2))
    if not mask.any():
        return []
    skeleton = skeletonize(mask)
    half_width = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    typical_width = float(np.median(half_width[skeleton])) * 2
    branches, node_centres = _branches(skeleton, typical_width)
    halo = _halo_map(ridges, mask, typical_width, um_per_px)
    level = max(HALO_SHARE * shaft_contrast, noise)

    def opening(node: int) -> bool:
        row, col = node_centres[node]
        return bool(halo[round(row), round(col)] >= level)

    hairs = []
    tips: set[tuple[int, int]] = set()  # each tip (or end at the frame's edge) belongs to one hair
    covered = np.zeros(mask.shape, bool)  # the shafts of the hairs found so far
    near = max(3, round(typical_width))
    # Walks from blind ends last: one whose first stretch is a hair found already is that hair again.
    walks = sorted(_walks(branches, typical_width, opening), key=lambda walk: walk[0].kind == "node")
    for start, stop, path, joints in walks:
        if len(path) * um_per_px < MIN_SHAFT_UM:
            continue
        if start.kind == "node" and covered[path[:near, 0], path[:near, 1]].mean() > 0.5:
            continue
        found = _rooted(start, stop, path, joints, halo[path[:, 0], path[:, 1]], level, typical_width)
        if found is None or found[1] in tips:
            continue
        root, tip = found
        tips.add(tip)
        covered[path[:, 0], path[:, 1]] = True
        # Measured on the tip's side: near the root, the hairs of a unit lie side by side.
        tip_side = path[root + (len(path) - root) * 2 // 5:] if root < len(path) // 2 else path[: root * 3 // 5]
        width = _width_px(ridges, tip_side if len(tip_side) >= 9 else path) * um_per_px
        hairs.append(TracedHair(float(path[root][1]), float(path[root][0]), width))
    return hairs + _unit_mates(hairs, mask, um_per_px)


def _unit_mates(hairs: list[TracedHair], mask: Mask, um_per_px: float) -> list[TracedHair]:
    """The hairs of the units found whose shafts lie over each other near their opening, one more mark each
    (``tracker.photos.hair_units``), with the width of the hair found there: around its root, ``MATE_UM`` from
    it a third of a turn apart, so that the clinician sees each mark and can click each one away."""
    extra = shafts_per_opening([(hair.y, hair.x) for hair in hairs], mask, um_per_px)
    away = MATE_UM / um_per_px
    return [TracedHair(hair.x + away * float(np.cos(number * 2 * np.pi / 3)),
                       hair.y + away * float(np.sin(number * 2 * np.pi / 3)), hair.width_um)
            for hair, more in zip(hairs, extra, strict=True) for number in range(1, more + 1)]


def _rooted(start: _End, stop: _End, path: NDArray[np.intp], joints: list[int], halo: FloatImage, level: float,
            typical_width: float) -> tuple[int, tuple[int, int]] | None:
    """Where along ``path`` (an index) the hair walked from ``start`` emerges, and its tip's pixel; None when it
    emerged outside the frame. ``halo``: the halo map's values along the path.

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
        if start.kind == "free" and stop.kind == "free":
            # A whole shaft lying in the field emerged in it, whether or not its opening shows: at the end with
            # the darker ring (either walk along it finds the same one).
            return (0, stop.pixel) if halo[0] >= halo[-1] else (len(path) - 1, start.pixel)
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


def _halo_map(ridges: FloatImage, mask: Mask, typical_width: float, um_per_px: float) -> FloatImage:
    """At each pixel, how much darker than the skin the ring just outside a typical shaft around it is (mean
    ridge value), off the shafts and off the blur at their edges: high around a shaft's end in a follicular
    opening, low around a tip."""
    skin = (~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)).astype(np.float32)
    inner = typical_width / 2 + 2
    outer = inner + max(3.0, HALO_RING_UM / um_per_px)
    reach = int(outer) + 1
    rows, cols = np.mgrid[-reach: reach + 1, -reach: reach + 1]
    distance = np.hypot(rows, cols)
    ring = ((distance >= inner) & (distance <= outer)).astype(np.float32)
    darker = cv2.filter2D(ridges.astype(np.float32) * skin, -1, ring, borderType=cv2.BORDER_REFLECT)
    seen = cv2.filter2D(skin, -1, ring, borderType=cv2.BORDER_REFLECT)
    # Fewer than a quarter of the ring's pixels on skin: too crowded to tell (counts as no opening).
    return np.where(seen >= ring.sum() / 4, darker / np.maximum(seen, 1.0), 0.0)


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
