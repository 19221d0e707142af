"""Follicular openings in a close-up: the darker disc around where a unit's hairs emerge (the peripilar halo).

An opening's halo is a small round patch of skin darkened towards the hair's colour, about 0.1–0.15 mm across
its radius, from which 1–4 shafts leave. Other dark things off the shafts are either wider and smoother (the
skin's mottling, the lens's uneven light, already flattened by the ridge filter) or long and thin (the faint
edges of shafts). So the halo is measured as a centre-surround contrast on the skin between the shafts: the mean
ridge value on a disc of ``DISC_UM`` around a point, minus the mean on a ring two to three times as far out,
both over skin only (the shafts and the blur at their edges left out). A halo stands out on the disc and has
faded by the ring; mottling is about as dark on both.

Openings are the local maxima of that contrast above a share of a pigmented shaft's contrast: half of what a
halo shows (it darkens the skin by about a fifth of the way to the hair's colour at its centre, so its disc
mean stands 0.13–0.17 of a shaft's contrast over the ring's), one per ``SAME_OPENING_UM``: two units' openings
are never that close.

Units: positions in pixels (row, column of the working image); contrasts in the ridge image's units (luminance).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

FloatImage = NDArray[Any]
Mask = NDArray[np.bool_]

DISC_UM = 60.0  # the disc on which the halo is measured: inside a small (vellus) unit's halo
# An opening's centre-surround contrast, as a share of a pigmented shaft's contrast: half of what a halo shows.
OPENING_SHARE = 0.08
# Peaks closer than this are one opening: the openings of two units are ≥ 0.25 mm apart.
SAME_OPENING_UM = 160.0
# A shaft's end or junction this near an opening's centre lies in it: inside its halo (0.1–0.15 mm in radius).
OPENING_REACH_UM = 80.0


def halo_contrast(ridges: FloatImage, mask: Mask, shaft_px: float, um_per_px: float) -> FloatImage:
    """At each pixel, how much darker the skin between the shafts is on a disc around it than on a ring two to
    three disc radii out (ridge units; 0 where too little skin shows to tell). ``shaft_px``: the photo's typical
    shaft width (pixels)."""
    # Off the shafts and the blur at their edges (2 pixels: the optics blur by about a pixel at any resolution).
    skin = (~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)).astype(np.float32)
    # On a coarse photo the disc still reaches a pixel of skin past a shaft leaving the opening and its blurred
    # edge: otherwise the shafts would cover it all.
    radius = max(2, round(DISC_UM / um_per_px), round(shaft_px / 2) + 3)
    reach = 3 * radius
    rows, cols = np.mgrid[-reach: reach + 1, -reach: reach + 1]
    distance = np.hypot(rows, cols)
    disc = (distance <= radius).astype(np.float32)
    ring = ((distance >= 2 * radius) & (distance <= reach)).astype(np.float32)
    darker = ridges.astype(np.float32) * skin
    means = []
    for kernel in (disc, ring):
        total = cv2.filter2D(darker, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        seen = cv2.filter2D(skin, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        # Beyond the frame nothing is seen (a halo cut by the edge is not mirrored into a whole one). Under a sixth
        # of the kernel on skin: the shafts cover it, nothing to tell (the mean counts as 0).
        means.append(np.where(seen >= kernel.sum() / 6, total / np.maximum(seen, 1.0), 0.0))
    contrast: FloatImage = means[0] - means[1]
    return contrast


def find_openings(contrast: FloatImage, level: float, um_per_px: float) -> list[tuple[int, int]]:
    """The openings (row, column): the highest points of ``contrast`` at or above ``level``, one within
    ``SAME_OPENING_UM``, strongest first. A peak on the frame's edge is an opening outside it, cut by the edge."""
    apart = max(3, round(SAME_OPENING_UM / um_per_px))
    highest = cv2.dilate(contrast.astype(np.float32),
                         cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * apart + 1,) * 2))
    rows, cols = np.nonzero((contrast >= highest) & (contrast >= level) & (contrast > 0))
    height, width = contrast.shape
    order = np.argsort(-contrast[rows, cols], kind="stable")
    kept: list[tuple[int, int]] = []
    for row, col in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if min(row, col) < 2 or row >= height - 2 or col >= width - 2:
            continue
        # A flat top gives several equal maxima: the first stands for them all.
        if all((row - r) ** 2 + (col - c) ** 2 > apart**2 for r, c in kept):
            kept.append((row, col))
    return kept


def in_openings(contrast: FloatImage, openings: list[tuple[int, int]], level: float, um_per_px: float) -> FloatImage:
    """``contrast`` within ``OPENING_REACH_UM`` of the ``openings`` (at least ``level`` there), 0 elsewhere: the
    map the roots are looked for on, so that only an opening found makes a root."""
    spots = np.zeros(contrast.shape, np.uint8)
    for row, col in openings:
        spots[row, col] = 1
    reach = max(1, round(OPENING_REACH_UM / um_per_px))
    near = cv2.dilate(spots, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)).astype(bool)
    inside: FloatImage = np.where(near, np.maximum(contrast, level), 0.0)
    return inside
