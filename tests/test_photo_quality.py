"""The capture checks (``tracker.photos.quality``) on hand-made images whose measures are worked out by hand, and on
demo photos spoilt the ways real photos are (``tests/quality_samples.py``)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.quality_samples import SPOILINGS, spoil
from tracker.operations.demo_photos import draw_scalp_photo
from tracker.photos.quality import MIN_FRAMING_SCORE, check_quality, problems_of


def grey(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels.astype(np.uint8), "L")


def checks(image: Image.Image, previous: Image.Image | None = None) -> set[str]:
    return {problem.check for problem in check_quality(image, previous).problems}


def test_dots_every_other_pixel_have_the_same_second_difference_in_every_direction():
    # 100 everywhere, 140 where x and y are both even. Across columns, an even row reads 100 − 2·140 + 100 = −80 at
    # the bright pixels and 140 − 2·100 + 140 = +80 between them, an odd row 0: variance ½ · 80² = 3200. Rows and
    # both diagonals see the same (on a diagonal the (odd, odd) pixels read +80, the mixed ones 0). Every tile of the
    # 64 px image (8 × 8 tiles of 8 px) is alike, so the 90th percentile is 3200 too.
    y, x = np.mgrid[0:64, 0:64]
    dots = 100 + 40 * ((x % 2 == 0) & (y % 2 == 0))
    assert check_quality(grey(dots)).sharpness == pytest.approx(3200)


def test_stripes_have_detail_across_them_only_and_read_as_a_shaken_photo():
    # Columns alternate 100 and 140: across the columns the second difference is ±80 (variance 6400), along them 0.
    # A motion blur leaves exactly this (detail in one direction): the weakest direction counts, so sharpness 0.
    y, x = np.mgrid[0:720, 0:960]
    stripes = 100 + 40 * (x % 2)
    quality = check_quality(grey(stripes))
    assert quality.sharpness == pytest.approx(0)
    assert [p.check for p in quality.problems] == ["focus"]
    assert quality.problems[0].message.startswith("out of focus: sharpness 0.0 (a sharp photo measures at least 15)")


def test_the_dark_and_bright_shares_count_the_middle_of_the_photo_only():
    # 100 × 100: the middle is rows and columns 25–74 (2500 pixels). Black in columns 0–59 covers columns 25–59 of
    # the middle, 35 of 50: 70% dark, over the 50% allowed.
    pixels = np.full((100, 100), 128)
    pixels[:, :60] = 0
    quality = check_quality(grey(pixels), original_size=(1000, 1000))
    assert quality.dark_share == pytest.approx(0.70)
    assert "too dark: 70% of the middle of the photo is in the darkest shades (at most 50%)" in \
        quality.problems[0].message
    # Black in columns 0–44 is 20 of the middle's 50 columns: 40%, allowed (a black cape at the edge, dense hair).
    pixels[:, 45:] = 128
    assert check_quality(grey(pixels), original_size=(1000, 1000)).dark_share == pytest.approx(0.40)
    assert "dark" not in checks(grey(pixels))
    # White in rows 0–39 covers rows 25–39 of the middle, 15 of 50: 30% burnt, over the 25% allowed.
    pixels = np.full((100, 100), 128)
    pixels[:40, :] = 255
    quality = check_quality(grey(pixels))
    assert quality.bright_share == pytest.approx(0.30)
    assert any(p.message.startswith("too bright: 30% of the middle") for p in quality.problems)


@pytest.mark.parametrize(("size", "small"), [((639, 479), True), ((640, 480), False), ((480, 640), False)])
def test_a_photo_is_too_small_when_its_long_side_is_under_640_pixels(size, small):
    photo = Image.open(io.BytesIO(draw_scalp_photo(150, "vertex", 3, size)))
    assert ("small" in checks(photo)) is small


def test_the_original_size_is_judged_not_the_shrunk_copy():
    photo = Image.open(io.BytesIO(draw_scalp_photo(150, "vertex", 3, (480, 360))))
    assert "small" in checks(photo)
    assert "small" not in {p.check for p in check_quality(photo, original_size=(4032, 3024)).problems}


@pytest.mark.parametrize("spoiling", SPOILINGS, ids=[s.name for s in SPOILINGS])
def test_each_spoiling_fires_its_own_check_and_no_other(spoiling):
    photo = Image.open(io.BytesIO(draw_scalp_photo(150, "occipital", 1, (960, 720))))
    spoilt = Image.open(io.BytesIO(spoil(photo, spoiling, 7)))
    assert checks(spoilt) == set(spoiling.expected)


def test_framing_against_the_previous_visit_uses_the_alignment_score():
    before = Image.open(io.BytesIO(draw_scalp_photo(150, "closeup", 4, (960, 720))))
    same = check_quality(before, before)
    assert same.framing_score is not None and same.framing_score >= MIN_FRAMING_SCORE
    assert "framing" not in {p.check for p in same.problems}
    other = Image.open(io.BytesIO(draw_scalp_photo(150, "vertex", 9, (960, 720))))
    unlike = check_quality(other, before)
    assert unlike.framing_score is not None and unlike.framing_score < MIN_FRAMING_SCORE
    message = next(p.message for p in unlike.problems if p.check == "framing")
    assert message.startswith("framed unlike the previous visit's photo of this view: alignment score")
    assert check_quality(before).framing_score is None  # no previous photo: not checked


def test_the_stored_record_says_whether_a_photo_with_problems_was_kept():
    flat = Image.new("RGB", (800, 600), (200, 160, 140))
    record = check_quality(flat).record(kept=True)
    assert record["kept_anyway"] is True
    assert problems_of(record) == (record["problems"][0]["message"],)
    assert record["problems"][0]["check"] == "focus"
    photo = Image.open(io.BytesIO(draw_scalp_photo(150, "vertex", 3, (960, 720))))
    fine = check_quality(photo).record(kept=True)
    assert fine["problems"] == [] and fine["kept_anyway"] is False  # nothing to keep anyway
