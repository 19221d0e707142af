"""The plausibility questions at their edges: a change of exactly half is not asked, 50.01% is; a session exactly
120 days from a visit is not asked, 121 days is (README: "more than 120 days")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tracker.records.plausibility import RecordedDensity, change_percent, density_warnings, session_date_warnings

DAY = date(2026, 3, 1)


def previous(density: float) -> list[RecordedDensity]:
    return [RecordedDensity("frontal", date(2026, 1, 10), density)]


# (225.3 − 150.2) / 150.2 is 0.5000000000000001 in floating point, (150.3 − 100.2) / 100.2 too: exactly half.
@pytest.mark.parametrize(("before", "after"), [(150.2, 225.3), (100.2, 150.3), (92.8, 139.2), (120.0, 60.0),
                                                (100.2, 50.1)])
def test_a_change_of_exactly_half_is_not_asked(before, after):
    assert change_percent(after, before) in (50.0, -50.0)
    assert density_warnings(DAY, [("frontal", after)], previous(before)) == ()


def test_a_change_just_over_half_is_asked():
    # (150.01 − 100) / 100 = 50.01%; (49.99 − 100) / 100 = −50.01%.
    assert density_warnings(DAY, [("frontal", 150.01)], previous(100.0)) == (
        "Frontal density 150.01 hairs/cm² is 50.01% above the previous visit's 100 (2026-01-10): check the value",)
    assert density_warnings(DAY, [("frontal", 49.99)], previous(100.0)) == (
        "Frontal density 49.99 hairs/cm² is 50.01% below the previous visit's 100 (2026-01-10): check the value",)


def test_a_session_exactly_120_days_from_a_visit_is_not_asked_121_is():
    visit = date(2026, 1, 5)
    assert session_date_warnings(visit + timedelta(days=120), [visit]) == ()
    assert session_date_warnings(visit - timedelta(days=120), [visit]) == ()
    assert session_date_warnings(visit + timedelta(days=121), [visit]) == (
        "Session date 2026-05-06 is 121 days from the nearest visit (2026-01-05); no visit is within 120 days of it: "
        "check the date",)
