"""How many shafts leave a root (tracker.photos.hair_units), on hand-drawn hair masks.

7.8125 µm per pixel (the drawn close-ups' 10 mm over 1280 pixels): the circles lie 18–54 pixels from the root.
Shafts are straight lines 9 pixels (70 µm) wide from the root at (row 100, column 100), 90 pixels (0.7 mm) long.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracker.photos.hair_units import shafts_per_opening

UM_PER_PX = 7.8125
# The shaft width in the mask as trace_hairs measures it (twice the median distance from the centre line to
# the skin): 10 pixels for these lines (cv2 draws thickness 7 as 9 pixels across).
SHAFT_PX = 10.0
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
    assert shafts_per_opening([ROOT], [SHAFT_PX], _mask(angles), UM_PER_PX) == [extra]


def test_roots_found_at_one_opening_share_its_hairs():
    # 3 hairs, 2 of them found 2 pixels apart (16 µm, one opening): one more, given to the first root.
    assert shafts_per_opening([ROOT, (102.0, 101.0)], [SHAFT_PX] * 2, _mask((0, 25, 50)), UM_PER_PX) == [1, 0]


def test_a_shaft_passing_by_is_not_a_hair_of_the_unit():
    # A shaft lying across, 40 pixels (0.3 mm) above the root: it crosses the circles at angles that drift.
    assert shafts_per_opening([ROOT], [SHAFT_PX], _mask((0, 25, 50), passing_row=60), UM_PER_PX) == [2]
    assert shafts_per_opening([ROOT], [SHAFT_PX], _mask((), passing_row=60), UM_PER_PX) == [0]


def test_hairs_lying_side_by_side_count_by_the_width_of_their_run():
    # 2 hairs 12° apart: on the circle 41 pixels out their centres are 41 × sin 12° = 8.5 pixels apart, one run of
    # about 9 + 8.5 = 18 pixels, 1.8 shaft widths: 2 hairs, 1 found, 1 more. A single shaft is one width (9 px).
    assert shafts_per_opening([ROOT], [SHAFT_PX], _mask((0, 12)), UM_PER_PX) == [1]
    assert shafts_per_opening([ROOT], [SHAFT_PX], _mask((0,)), UM_PER_PX) == [0]


def test_a_shaft_passing_over_the_opening_without_leaving_it_is_not_its_hair():
    # The unit's one hair points right (angle 0); a shaft lying 30 pixels below the root crosses only the outer
    # circles (from 36 pixels out), at angles near the unit's way: no hair of this opening.
    assert shafts_per_opening([ROOT], [SHAFT_PX], _mask((0,), passing_row=130), UM_PER_PX) == [0]
