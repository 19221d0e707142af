"""The SALT calculator and stage scales, against hand-computed scores."""

from __future__ import annotations

import math

import pytest

from tracker.course.scales import (
    ScaleEntry,
    parse_percentage,
    parse_scale_entry,
    salt_score,
    scale_choices,
    stages,
)
from tracker.errors import ValidationError

# (vertex, posterior, left, right) → SALT, each worked by hand: 0.40 v + 0.24 p + 0.18 l + 0.18 r.
HAND_COMPUTED = [
    ((0, 0, 0, 0), 0.0),
    ((100, 100, 100, 100), 100.0),
    ((100, 0, 0, 0), 40.0),
    ((0, 100, 0, 0), 24.0),
    ((0, 0, 100, 0), 18.0),
    ((0, 0, 0, 100), 18.0),
    ((50, 50, 50, 50), 50.0),
    ((25, 0, 0, 0), 10.0),  # a quarter of the vertex bald: 10% of the scalp
    ((10, 20, 30, 40), 21.4),  # 4 + 4.8 + 5.4 + 7.2
    ((80, 60, 40, 20), 57.2),  # 32 + 14.4 + 7.2 + 3.6
    ((33.3, 12.5, 0, 7), 17.6),  # 13.32 + 3.00 + 0 + 1.26 = 17.58, one decimal
]


@pytest.mark.parametrize(("regions", "expected"), HAND_COMPUTED)
def test_salt_score_matches_hand_computed_values(regions, expected):
    assert salt_score(*regions) == pytest.approx(expected, abs=1e-9)


def test_salt_twenty_is_the_usual_success_threshold_boundary():
    # Half the vertex lost is exactly SALT 20 (DESIGN.md §2: SALT ≤ 20 is the usual success threshold).
    assert salt_score(50, 0, 0, 0) == 20.0


def test_salt_accepts_typed_text():
    assert salt_score(" 50 ", "0", "0", "0") == 20.0


@pytest.mark.parametrize("bad", [-0.1, 100.5, math.nan, math.inf, "abc", True])
def test_salt_refuses_values_outside_zero_to_hundred(bad):
    with pytest.raises(ValidationError) as error:
        salt_score(bad, 0, 0, 0)
    assert len(error.value.problems) == 1
    assert "vertex" in error.value.problems[0]


def test_salt_lists_every_problem_at_once():
    with pytest.raises(ValidationError) as error:
        salt_score(120, None, -5, "x")
    problems = error.value.problems
    assert len(problems) == 4
    assert "vertex" in problems[0] and "120" in problems[0]
    assert "posterior" in problems[1] and "required" in problems[1]
    assert "left side" in problems[2]
    assert "right side" in problems[3]


def test_parse_percentage_bounds_are_inclusive():
    assert parse_percentage(0, "x") == 0.0
    assert parse_percentage(100, "x") == 100.0
    assert parse_percentage("", "x") is None
    with pytest.raises(ValidationError, match="out of range"):
        parse_percentage(100.01, "anagen %")


def test_stages_and_unknown_scale():
    assert stages("norwood")[0] == "I" and stages("norwood")[-1] == "VII"
    assert stages("sinclair") == ("1", "2", "3", "4", "5")
    with pytest.raises(ValidationError):
        stages("hamilton")


@pytest.mark.parametrize(
    ("condition", "sex", "baseline", "first"),
    [
        ("alopecia_areata", "male", None, "salt"),
        ("androgenetic_alopecia", "male", None, "norwood"),
        ("androgenetic_alopecia", "female", None, "ludwig"),
        ("androgenetic_alopecia", "female", "sinclair", "sinclair"),
        ("telogen_effluvium", "other", None, "norwood"),
    ],
)
def test_scales_for_puts_the_fitting_scale_first(condition, sex, baseline, first):
    choices = scale_choices(condition, sex, baseline)
    assert choices[0] == first
    assert sorted(choices) == sorted(("norwood", "ludwig", "sinclair", "salt"))


def test_parse_scale_entry_salt_keeps_regional_inputs():
    score = parse_scale_entry(ScaleEntry("salt", vertex_pct=10, posterior_pct=20, left_pct=30, right_pct=40))
    assert (score.salt_score, score.vertex_pct, score.posterior_pct, score.left_pct, score.right_pct) == (
        21.4, 10, 20, 30, 40,
    )
    assert score.stage is None


def test_parse_scale_entry_refuses_a_stage_of_another_scale():
    with pytest.raises(ValidationError, match="Ludwig stage 'IIIA'"):
        parse_scale_entry(ScaleEntry("ludwig", stage="IIIA"))
    with pytest.raises(ValidationError, match="required"):
        parse_scale_entry(ScaleEntry("norwood"))


def test_blank_scale_entry():
    assert ScaleEntry("salt").is_blank
    assert ScaleEntry("norwood", stage="").is_blank
    assert not ScaleEntry("salt", vertex_pct=0).is_blank
    assert not ScaleEntry("norwood", stage="II").is_blank
