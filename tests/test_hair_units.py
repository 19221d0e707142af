"""How many shafts leave a root (tracker.photos.hair_units), on hand-drawn hair masks.

7.8125 µm per pixel (the drawn close-ups' 10 mm over 1280 pixels): the circles lie 18–54 pixels from the root.
Shafts are straight lines 7 pixels (55 µm) wide from the root at (row 100, column 100), 90 pixels (0.7 mm) long.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracker.photos.hair_units import shafts_per_opening

UM_PER_PX = 7.8125
ROOT = (100.0, 100.0)


def _mask(angles_deg: tuple[float, ...], passing_row: int | None = None):
    canvas = np.zeros((200, 200), np.uint8)
    for angle in angles_deg:
        tip = (round(100 + 90 * np.cos(np.radians(angle))), round(100 + 90 * np.sin(np.radians(angle))))
        cv2.line(canvas, (100, 100), tip, 1, 7)
    if passing_row is not None:  # a shaft lying across the field, not from the root
        cv2.line(canvas, (10, passing_row), (190, passing_row), 1, 7)
    return canvas.astype(bool)


@pytest.mark.parametrize(("angles", "extra"), [
    ((), 0),  # no hair at all: nothing more
    ((30,), 0),  # a single hair, found: nothing more
    ((0, 25, 50), 2),  # 3 hairs 25° apart (one pointing right, along angle 0), 1 found: 2 more
    ((-20, 0, 20, 40, 60), 3),  # 5 shafts: a unit holds at most 4 hairs, 1 found: 3 more
])
def test_the_hairs_leaving_one_root_are_counted(angles, extra):
    assert shafts_per_opening([ROOT], _mask(angles), UM_PER_PX) == [extra]


def test_roots_found_at_one_opening_share_its_hairs():
    # 3 hairs, 2 of them found 2 pixels apart (16 µm, one opening): one more, given to the first root.
    assert shafts_per_opening([ROOT, (102.0, 101.0)], _mask((0, 25, 50)), UM_PER_PX) == [1, 0]


def test_a_shaft_passing_by_is_not_a_hair_of_the_unit():
    # A shaft lying across, 40 pixels (0.3 mm) above the root: it crosses the circles at angles that drift.
    assert shafts_per_opening([ROOT], _mask((0, 25, 50), passing_row=60), UM_PER_PX) == [2]
    assert shafts_per_opening([ROOT], _mask((), passing_row=60), UM_PER_PX) == [0]
