"""Framing warnings from the capture checklists (``tracker.photos.framing``), without a database.
"""

from __future__ import annotations

from datetime import date

from db import models
from tests.scalp_samples import ALL_TICKED
from tracker.photos.framing import FramingWarning, condition_warnings


def visit(day: date, conditions: dict | None, id_: int) -> models.Visit:
    return models.Visit(id=id_, patient_id=1, date=day, capture_conditions=conditions)


def test_capture_checklists_between_the_two_visits_are_followed():
    first = visit(date(2025, 1, 15), ALL_TICKED | {"distance": "30 cm"}, 1)
    middle = visit(date(2025, 4, 14), ALL_TICKED | {"same_lighting": False}, 2)
    unrecorded = visit(date(2025, 5, 1), None, 3)
    last = visit(date(2025, 7, 15), ALL_TICKED | {"distance": "45 cm", "dry_hair": False, "device": "clinic camera"}, 4)
    warnings = condition_warnings(first, last, [middle, unrecorded, last])
    assert [w.what for w in warnings] == ["lighting", "camera distance", "hair dryness"]
    assert warnings[0] == FramingWarning("lighting", '"same lighting" was not ticked at the visit of 2025-04-14')
    assert warnings[1].detail == "30 cm on 2025-01-15, 45 cm on 2025-07-15"
    # the device is the same whatever its capitals; nothing unrecorded is counted as a difference
    assert condition_warnings(first, unrecorded, [middle, unrecorded])[0].what == "lighting"
    assert condition_warnings(middle, unrecorded, [unrecorded]) == []
