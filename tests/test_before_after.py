"""Before/after (``tracker.photos.before_after``): the default pair fitted into one frame, fading, framing
warnings and the choices that are refused (on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import date

import pytest
from PIL import Image

from tests.scalp_samples import CLINICIAN, make_photo_patient, mean_difference, opened
from tracker.errors import NotFound, ValidationError
from tracker.photos.before_after import SiteDensity, before_after
from tracker.photos.framing import LETTERBOX


def test_default_pair_is_baseline_and_latest_fitted_into_one_frame(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    result = before_after(CLINICIAN, "P-1", "vertex", fade=50, url=clinic)
    assert result.views == ("frontal", "vertex", "closeup")
    assert [v.id for v in result.visits] == [made.visits[n] for n in ("pre", "baseline", "month6", "month12")]
    # baseline: the latest visit with a vertex photo on or before day 0 (2025-01-15), not the first one
    assert (result.first.visit_id, result.second.visit_id) == (made.visits["baseline"], made.visits["month12"])
    assert (result.first.date, result.second.date) == (date(2025, 1, 15), date(2026, 1, 20))
    assert result.first.densities == (SiteDensity("vertex", 150.0),)
    assert result.second.densities == (SiteDensity("vertex", 200.0),)
    assert result.first.months == 0.0 and result.second.months == pytest.approx(370 / 30.4375, abs=0.01)

    before, after, blended = opened(result.first.image), opened(result.second.image), opened(result.blended)
    # the baseline's 4:3 shape at the larger photo's long side (1280 px), the same for both and the blend
    assert before.size == after.size == blended.size == result.frame == (1280, 960)
    # the 16:9 photo is letterboxed, not stretched: 720 rows of picture, 120 rows of bar above and below
    assert all(abs(a - b) <= 6 for a, b in zip(after.getpixel((640, 50)), LETTERBOX, strict=True))
    assert all(abs(a - b) <= 6 for a, b in zip(after.getpixel((640, 909)), LETTERBOX, strict=True))
    assert mean_difference(after.crop((0, 130, 1280, 830)), Image.new("RGB", (1280, 700), LETTERBOX)) > 100
    assert mean_difference(before.crop((0, 0, 1280, 120)), Image.new("RGB", (1280, 120), LETTERBOX)) > 100
    # the blend is neither photo, and sits halfway between them (up to JPEG noise on the fine strands)
    from_before, from_after = mean_difference(blended, before), mean_difference(blended, after)
    assert from_before > 20 and from_after > 20
    assert mean_difference(blended, Image.blend(before, after, 0.5)) < min(from_before, from_after) / 5


def test_fade_ends_are_the_photos_and_no_fade_means_no_blend(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    v = made.visits
    start = before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["month6"], fade=0, url=clinic)
    end = before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["month6"], fade=100, url=clinic)
    assert mean_difference(opened(start.blended), opened(start.first.image)) < 2
    assert mean_difference(opened(end.blended), opened(end.second.image)) < 2
    assert mean_difference(opened(start.first.image), opened(start.second.image)) > 1  # more hair at 6 months
    assert before_after(CLINICIAN, "P-1", "vertex", url=clinic).blended is None


def test_photos_taken_the_same_way_carry_no_warning(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    result = before_after(CLINICIAN, "P-1", "vertex", made.visits["baseline"], made.visits["month6"], url=clinic)
    assert result.framing_warnings == () and result.caution is None


def test_framing_differences_are_said_plainly(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    result = before_after(CLINICIAN, "P-1", "vertex", url=clinic)  # baseline 4:3 against month 12 at 16:9
    assert [w.what for w in result.framing_warnings] == ["shape", "camera distance"]
    assert result.caution == (
        "These two photos were not taken the same way (shape and camera distance differ): compare with care.")
    assert "960×720 against 1280×720" in result.framing_warnings[0].detail
    assert "2026-01-20" in result.framing_warnings[1].detail
    tiny = before_after(CLINICIAN, "P-1", "vertex", made.visits["pre"], made.visits["baseline"], url=clinic)
    assert [w.what for w in tiny.framing_warnings] == ["image size"]  # 400×300 against 960×720


def test_view_choice_and_impossible_choices(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    other = make_photo_patient(clinic, "P-2", "Bea Other", seed=2)
    v = made.visits
    assert before_after(CLINICIAN, "P-1", url=clinic).view == "frontal"  # first view with two visits
    closeup = before_after(CLINICIAN, "P-1", "closeup", url=clinic)  # one visit only: shown alone
    assert closeup.first.visit_id == v["baseline"] and closeup.second is None and closeup.blended is None
    with pytest.raises(ValidationError):
        before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["baseline"], url=clinic)
    with pytest.raises(ValidationError):
        before_after(CLINICIAN, "P-1", "crown", url=clinic)
    with pytest.raises(ValidationError):
        before_after(CLINICIAN, "P-1", "vertex", fade=101, url=clinic)
    with pytest.raises(NotFound):  # no vertex photo at the 3-month visit
        before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["month3"], url=clinic)
    with pytest.raises(NotFound):  # another patient's visit is not one of this patient's
        before_after(CLINICIAN, "P-1", "vertex", v["baseline"], other.visits["month6"], url=clinic)
