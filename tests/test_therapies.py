"""Concurrent therapies (``tracker.records.therapies``): added and stopped with history, bad input refused.
"""

from __future__ import annotations

from datetime import date

import pytest

from db import models
from tests.patient_samples import DR, TODAY, changes_of, count
from tracker.errors import ConflictError, NotFound, ValidationError
from tracker.records.patient_record import patient_record
from tracker.records.therapies import add_therapy, stop_therapy


def test_add_and_stop_a_therapy(recorded):
    url, _ = recorded
    therapy_id = add_therapy(DR, "RT-7", "minoxidil", "5% foam twice daily", date(2024, 12, 1), today=TODAY)
    add_therapy(DR, "RT-7", "Viviscal", "", "2025-02-01", "2025-05-01", today=TODAY)
    therapies = patient_record(DR, "RT-7", today=TODAY).therapies
    assert [(t.name, t.dose, t.start, t.stop, t.active) for t in therapies] == [
        ("minoxidil", "5% foam twice daily", date(2024, 12, 1), None, True),
        ("Viviscal", "", date(2025, 2, 1), date(2025, 5, 1), False),
    ]
    stop_therapy(DR, therapy_id, date(2025, 5, 20), "scalp irritation", expected_version=1, today=TODAY)
    therapy = patient_record(DR, "RT-7", today=TODAY).therapies[0]
    assert (therapy.stop, therapy.active, therapy.version) == (date(2025, 5, 20), False, 2)
    assert changes_of(url) == [("concurrent_therapy", "stop", None, "2025-05-20", "scalp irritation", "dr.lee")]
    with pytest.raises(ConflictError):
        stop_therapy(DR, therapy_id, date(2025, 5, 21), "correction", expected_version=1, today=TODAY)


@pytest.mark.parametrize("args, message", [
    (("", "1 mg", date(2025, 1, 1), None), "therapy name is required"),
    (("finasteride", "1 mg", date(2025, 3, 1), date(2025, 2, 1)),
     "stop date 2025-02-01 is before the start date 2025-03-01"),
    (("finasteride", "1 mg", date(2025, 7, 1), None), "start date 2025-07-01 is in the future"),
    (("finasteride", "1 mg", None, None), "start date is required"),
    (("finasteride", "1 mg", "01/02/2025", None), "not written YYYY-MM-DD"),
    (("finasteride", "1 mg", date(1970, 1, 1), None), "before the patient's birth date"),
    (("finasteride", "x" * 121, date(2025, 1, 1), None), "dose is too long"),
])
def test_bad_therapies_are_refused(recorded, args, message):
    url, _ = recorded
    with pytest.raises(ValidationError) as refused:
        add_therapy(DR, "RT-7", *args, today=TODAY)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert count(url, models.ConcurrentTherapy) == 0


def test_bad_stops_are_refused(recorded):
    url, _ = recorded
    therapy_id = add_therapy(DR, "RT-7", "finasteride", "1 mg", date(2025, 3, 1), today=TODAY)
    for stop, reason, message in ((date(2025, 2, 1), "ended", "is before the start date"),
                                  (date(2025, 3, 2), "", "A reason is required"),
                                  (date(2025, 7, 1), "ended", "is in the future")):
        with pytest.raises(ValidationError) as refused:
            stop_therapy(DR, therapy_id, stop, reason, today=TODAY)
        assert any(message in p for p in refused.value.problems), refused.value.problems
    with pytest.raises(NotFound):
        stop_therapy(DR, 9999, date(2025, 3, 2), "ended", today=TODAY)
    assert changes_of(url) == []
