"""Follicular openings (tracker.photos.hair_openings) on hand-made ridge images.

7.8125 µm per pixel (the drawn close-ups' 10 mm over 1280 pixels): the disc is 8 pixels in radius, the ring 16–24
pixels out, and two openings are one within 20 pixels. Ridge values are in units of a shaft's contrast (1.0).
"""

from __future__ import annotations

import cv2
import numpy as np

from tracker.photos.hair_openings import OPENING_SHARE, find_openings, halo_contrast, in_openings

UM_PER_PX = 7.8125
SHAFT_PX = 10.0  # the width of the shafts drawn (cv2 draws thickness 7 as 9 pixels), as trace_hairs measures it


def _halo(ridges: np.ndarray, row: int, col: int, radius: float = 15.0, depth: float = 0.2) -> None:
    """An opening's halo as the generator draws it: darkest at the centre, fading to nothing at ``radius``."""
    rows, cols = np.mgrid[0: ridges.shape[0], 0: ridges.shape[1]]
    strength = np.clip(1 - np.hypot(rows - row, cols - col) / radius, 0, 1) ** 0.5
    np.maximum(ridges, depth * strength, out=ridges)


def _shaft(ridges: np.ndarray, start: tuple[int, int], stop: tuple[int, int]) -> None:
    cv2.line(ridges, start, stop, 1.0, 7)


def test_an_opening_is_found_at_its_halo_and_a_shaft_alone_makes_none():
    ridges = np.zeros((200, 300), np.float32)
    _halo(ridges, 100, 80)
    _shaft(ridges, (80, 100), (160, 30))  # its hair, leaving the opening up and right (x, y)
    _shaft(ridges, (200, 170), (280, 60))  # a shaft lying alone, its ends on plain skin
    mask = ridges >= 0.5
    contrast = halo_contrast(ridges, mask, SHAFT_PX, UM_PER_PX)
    [(row, col)] = find_openings(contrast, OPENING_SHARE, UM_PER_PX)
    assert abs(row - 100) <= 1 and abs(col - 80) <= 1  # the disc is darkest around the centre: within a pixel
    # The map the roots are looked for on: the opening's contrast within 80 µm (10 pixels), 0 elsewhere.
    inside = in_openings(contrast, [(row, col)], OPENING_SHARE, UM_PER_PX)
    assert inside[100, 85] >= OPENING_SHARE and inside[100, 95] == 0 and inside[150, 220] == 0


def test_a_halo_cut_by_the_frame_is_an_opening_outside_it():
    # Centred 6 pixels outside the left edge: what shows is darkest on the edge itself.
    ridges = np.zeros((200, 300), np.float32)
    _halo(ridges, 100, -6)
    contrast = halo_contrast(ridges, ridges >= 0.5, SHAFT_PX, UM_PER_PX)
    assert find_openings(contrast, OPENING_SHARE, UM_PER_PX) == []


def test_bare_skin_has_no_opening():
    ridges = np.random.default_rng(1).normal(0.0, 0.01, (200, 300)).astype(np.float32)
    contrast = halo_contrast(ridges, ridges >= 0.5, SHAFT_PX, UM_PER_PX)
    assert find_openings(contrast, OPENING_SHARE, UM_PER_PX) == []
