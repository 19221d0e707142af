"""The assisted hair count (tracker.photos.hair_count) on drawn close-ups whose hairs are known.

Field 10 × 7.5 mm over 1280 × 960 pixels: 7.8125 µm per pixel, 128 pixels per mm; area 0.75 cm², so one hair is
1 / 0.75 = 1.33 hairs/cm².
"""

from __future__ import annotations

import math

import pytest

from tracker.errors import ValidationError
from tracker.operations.demo_closeups import FollicularUnit, Shaft, draw_closeup, draw_units
from tracker.photos.hair_count import HairMark, count_hairs, fitted_field, recount

FIELD = (10.0, 7.5)


def _near(mark: HairMark, x_mm: float, y_mm: float, within_px: float = 10) -> bool:
    return math.hypot(mark.x - x_mm * 128, mark.y - y_mm * 128) <= within_px


@pytest.mark.parametrize("tone", [0, 3])
def test_an_empty_scalp_counts_0(tone):
    found = count_hairs(draw_units([], seed=5, tone=tone).image, FIELD)
    assert (found.count, found.density_per_cm2, found.terminal, found.vellus) == (0, 0.0, 0, 0)


def test_one_hair_entering_from_outside_counts_0():
    # Rooted 0.4 mm left of the frame, lying rightwards 1.2 mm: 0.8 mm of shaft inside, its tip in the field.
    outside = FollicularUnit(-0.4, 3.0, (Shaft(0, 1.2, 70),))
    drawn = draw_units([outside])
    assert drawn.count == 0 and drawn.crossing == 1
    assert count_hairs(drawn.image, FIELD).count == 0


def test_one_hair_leaving_the_frame_counts_1_at_its_root():
    # Rooted 0.4 mm inside the right edge, lying rightwards 1.2 mm: the tip is outside, the root inside.
    inside = FollicularUnit(9.6, 3.0, (Shaft(0, 1.2, 70),))
    found = count_hairs(draw_units([inside]).image, FIELD)
    assert found.count == 1 and _near(found.marks[0], 9.6, 3.0)


def test_a_follicular_unit_of_3_counts_3_with_their_widths():
    unit = FollicularUnit(5.0, 3.5, (Shaft(20, 1.0, 70), Shaft(35, 1.0, 60), Shaft(50, 0.9, 25)))
    found = count_hairs(draw_units([unit]).image, FIELD)
    assert found.count == 3 and all(_near(mark, 5.0, 3.5) for mark in found.marks)
    # 3 hairs over 0.75 cm² = 4 hairs/cm²; widths measured within 10 µm of those drawn.
    assert found.density_per_cm2 == pytest.approx(4.0)
    assert sorted(mark.width_um or 0 for mark in found.marks) == pytest.approx([25, 60, 70], abs=10)
    assert (found.terminal, found.vellus) == (2, 1)


@pytest.mark.xfail(strict=True, reason="known weakness: a unit's opening under another shaft shows no ring (README)")
def test_a_shaft_lying_over_a_root_does_not_take_its_hairs_away():
    # A single hair's shaft passes over the opening of a unit of 2 (at 1.5 mm along it): 3 hairs, 2 roots.
    single = FollicularUnit(3.0, 4.0, (Shaft(-10, 1.6, 80),))
    crossed = FollicularUnit(3.0 + 1.5 * math.cos(math.radians(-10)), 4.0 + 1.5 * math.sin(math.radians(-10)),
                             (Shaft(-80, 1.0, 70), Shaft(-100, 1.0, 65)))
    found = count_hairs(draw_units([single, crossed]).image, FIELD)
    # Counted where they emerge: today the count is 3, but the unit's two marks sit at one of its hairs' tips.
    assert found.count == 3 and sum(_near(mark, crossed.x_mm, crossed.y_mm) for mark in found.marks) == 2


def test_no_two_marks_share_a_spot_so_each_can_be_clicked_away():
    # The hairs of one opening are all rooted at its centre; their marks are spread around it, 60 µm (7.7 px)
    # apart. On the same spot, a click on the stack would reach only one of them.
    found = count_hairs(draw_closeup(150, seed=3).image, FIELD)
    assert found.count > 100
    closest = min(math.hypot(a.x - b.x, a.y - b.y) for i, a in enumerate(found.marks) for b in found.marks[i + 1:])
    assert closest >= 0.03 * 128  # 0.03 mm in pixels


def test_a_field_covered_by_hair_is_refused_rather_than_counted_0():
    # 800 hairs/cm² clipped: the shafts cover 43% of the field, beyond the 40% a count is made on (it was 0).
    with pytest.raises(ValidationError, match="^The hairs cover most of the field, so the skin between them "):
        count_hairs(draw_closeup(800, seed=1).image, FIELD)


def test_recount_removes_and_adds_marks():
    units = [FollicularUnit(2.0, 2.0, (Shaft(30, 1.0, 70),)), FollicularUnit(6.0, 5.0, (Shaft(200, 1.0, 30),))]
    found = count_hairs(draw_units(units).image, FIELD)
    assert found.count == 2 and (found.terminal, found.vellus) == (1, 1)
    vellus = next(index for index, mark in enumerate(found.marks) if mark.kind == "vellus")
    fewer = recount(found, added=[], removed=[vellus])
    assert (fewer.count, fewer.terminal, fewer.vellus) == (1, 1, 0)
    # 1 removed, 2 added: 3 hairs over 0.75 cm² = 4 hairs/cm²; an added mark has no known kind.
    corrected = recount(found, added=[(10.0, 20.0), (30.5, 40.0)], removed=[vellus])
    assert corrected.count == 3 and corrected.density_per_cm2 == pytest.approx(4.0)
    assert (corrected.terminal, corrected.vellus) == (None, None)
    assert corrected.marks[1:] == (HairMark(10.0, 20.0, None, None, True), HairMark(30.5, 40.0, None, None, True))
    with pytest.raises(ValidationError, match="no mark number 2"):
        recount(found, added=[], removed=[2])
    with pytest.raises(ValidationError, match="must be a point"):
        recount(found, added=[("a", 1)], removed=[])


@pytest.mark.parametrize(
    ("field", "message"),
    [((0, 7.5), "not possible"), ((-1, 7.5), "not possible"), ((150, 110), "not possible"),
     ((float("nan"), 7.5), "not possible"), (("ten", 7.5), "two sizes in mm"), ((10, 10), "shape")],
)
def test_impossible_fields_are_refused(field, message):
    with pytest.raises(ValidationError, match=message):
        count_hairs(draw_units([]).image, field)


def test_a_field_across_the_other_way_is_turned_to_the_photo():
    assert fitted_field((7.5, 10), (1280, 960)) == (10.0, 7.5)
    unit = FollicularUnit(5.0, 3.5, (Shaft(20, 1.0, 70),))
    assert count_hairs(draw_units([unit]).image, (7.5, 10)).field_mm == (10.0, 7.5)


def test_photos_too_small_or_too_coarse_are_refused():
    image = draw_units([]).image
    with pytest.raises(ValidationError, match="too small"):
        count_hairs(image.resize((80, 60)), FIELD)
    # 10 mm over 320 pixels is 31 µm per pixel: a hair would be a pixel wide at most.
    with pytest.raises(ValidationError, match="too coarse"):
        count_hairs(image.resize((320, 240)), FIELD)


@pytest.mark.parametrize(("width_px", "per_px"), [(990, 10.1), (685, 14.6), (410, 24.4)])
def test_photos_coarser_than_10_um_per_pixel_are_refused_naming_the_pixels_needed(width_px, per_px):
    # Counts there fell 25% (14.6 µm/px) to 70% (19.5–24.4) short on drawn close-ups: refused, not printed.
    # 10 mm at 10 µm per pixel is 1000 pixels across.
    image = draw_units([]).image.resize((width_px, round(width_px * 0.75)))
    with pytest.raises(ValidationError) as refused:
        count_hairs(image, FIELD)
    assert str(refused.value) == (
        f"The photo is {width_px}×{round(width_px * 0.75)} pixels for a field of 10 × 7.5 mm: {per_px:.1f} µm per "
        "pixel, too coarse to see hair shafts (at most 10 µm per pixel, e.g. 1000 pixels across). Upload the "
        "close-up at its full size, or check the device's field size.")


def test_a_photo_at_10_um_per_pixel_is_counted_with_kinds():
    # 10 mm over 1000 pixels: 10 µm per pixel, a 40 µm shaft spans 4 pixels: an 80 µm and a 25 µm shaft.
    unit = FollicularUnit(5.0, 3.5, (Shaft(20, 1.2, 80), Shaft(60, 1.0, 25)))
    found = count_hairs(draw_units([unit], size_px=(1000, 750)).image, FIELD)
    assert (found.count, found.terminal, found.vellus) == (2, 1, 1)


def test_the_generator_draws_the_density_asked_with_shafts_crossing_in():
    # 150 hairs/cm² over 0.75 cm² = 112.5 → 112 hairs rooted inside; units around the frame send shafts in.
    drawn = draw_closeup(150, seed=11)
    assert drawn.count == 112 and drawn.crossing > 0
    assert all(0 <= hair.x < 1280 and 0 <= hair.y < 960 for hair in drawn.hairs)
    assert {hair.terminal for hair in drawn.hairs} == {True, False}


@pytest.mark.parametrize(("density", "seed"), [(80, 31), (150, 32), (250, 33)])
def test_error_on_fixed_close_ups_stays_within_the_measured_bound(density, seed):
    # The bench (tests/bench/bench_hair_count.py, seeds 7000–7019) measured mean absolute errors of 6%, 5% and 5%
    # at 80, 150 and 250 hairs/cm² (README); on these three close-ups the count is 12% under, 2% under and 1% over.
    # These bounds catch a detector that got worse, or one that started to count shafts crossing in (over 10%
    # more than drawn).
    drawn = draw_closeup(density, seed=seed)
    found = count_hairs(drawn.image, FIELD)
    assert 0.85 * drawn.count <= found.count <= 1.1 * drawn.count
