"""Corrections (``tracker.records.patient_corrections``): previous values kept with who and why, conflicts.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.patient_samples import ADMIN, DR, TODAY, changes_of, count, new_patient, patient_actor
from tracker.database import transaction
from tracker.errors import ConflictError, PermissionDenied, ValidationError
from tracker.records.history import soft_delete
from tracker.records.patient_corrections import update_patient
from tracker.records.patient_intake import create_patient
from tracker.records.patient_record import patient_record
from tracker.records.therapies import add_therapy, stop_therapy


def test_update_keeps_previous_values_who_and_why(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    version = update_patient(DR, "RT-0001", {"full_name": "Ana Souza Lima", "birth_date": "1980-05-18",
                                             "sex": "female", "notes": ""},
                             reason="typo at intake", expected_version=1, today=TODAY)
    assert version == 2
    assert changes_of(clinic) == [
        ("patient", "full_name", "Ana Souza", "Ana Souza Lima", "typo at intake", "dr.lee"),
        ("patient", "birth_date", "1980-05-17", "1980-05-18", "typo at intake", "dr.lee"),
    ]
    record = patient_record(DR, "RT-0001", today=TODAY)
    assert (record.details.full_name, record.details.birth_date, record.details.version) == (
        "Ana Souza Lima", date(1980, 5, 18), 2)
    assert [(h.field, h.old_value, h.new_value, h.reason, h.by) for h in record.history] == [
        ("Full name", "Ana Souza", "Ana Souza Lima", "typo at intake", "dr.lee"),
        ("Birth date", "1980-05-17", "1980-05-18", "typo at intake", "dr.lee"),
    ]


def test_history_names_fields_and_target_areas_in_words(clinic):
    create_patient(DR, new_patient(), today=TODAY)  # target areas vertex, frontal
    update_patient(DR, "RT-0001", {"target_areas": "vertex, left_temporal"}, reason="added a side",
                   expected_version=1, today=TODAY)
    assert changes_of(clinic)[0][1:4] == ("target_areas", "vertex,frontal", "vertex,left_temporal")  # kept as codes
    record = patient_record(DR, "RT-0001", today=TODAY)
    assert [(h.field, h.old_value, h.new_value) for h in record.history] == [
        ("Target areas", "Vertex, Frontal", "Vertex, Left temporal")]


def test_stale_version_is_a_conflict_and_nothing_is_written(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    update_patient(ADMIN, "RT-0001", {"full_name": "Ana S."}, reason="short form", expected_version=1, today=TODAY)
    with pytest.raises(ConflictError) as conflict:
        update_patient(DR, "RT-0001", {"full_name": "Ana Souza Lima"}, reason="typo", expected_version=1, today=TODAY)
    assert "someone else changed this record since you opened it; reload and re-apply" in str(conflict.value).lower()
    assert patient_record(DR, "RT-0001", today=TODAY).details.full_name == "Ana S."
    assert len(changes_of(clinic)) == 1


@pytest.mark.parametrize("changes, reason, message", [
    ({"full_name": "Ana Lima"}, "  ", "A reason is required"),
    ({"full_name": ""}, "typo", "full name is required"),
    ({"birth_date": "2026-01-01"}, "typo", "is in the future"),
    ({"mrn": "RT 2"}, "typo", "may contain only letters"),
    ({"condition": "alopecia_areata"}, "diagnosis revised", "the Ludwig scale does not fit alopecia areata"),
    ({"sex": "male"}, "typo", "the Ludwig scale does not fit androgenetic alopecia in a male"),
    ({"full_name": "Ana Souza"}, "typo", "the values are the same as in the record"),
    ({"colour": "red"}, "typo", "'colour' is not a patient detail"),
    ({"protocol": "Nope"}, "typo", "protocol 'Nope' does not exist"),
    ({"birth_date": "2025-02-01"}, "typo",
     "first recorded visit or session 2025-01-05 is before the patient's birth date"),
])
def test_bad_corrections_are_refused(clinic, changes, reason, message):
    create_patient(DR, new_patient(), today=TODAY)
    with transaction(clinic) as session:
        patient = session.scalar(select(models.Patient))
        session.add(models.Visit(patient_id=patient.id, date=date(2025, 1, 5), created_by="test"))
    with pytest.raises(ValidationError) as refused:
        update_patient(DR, "RT-0001", changes, reason=reason, expected_version=1, today=TODAY)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert changes_of(clinic) == []
    assert patient_record(DR, "RT-0001", today=TODAY).details.version == 1


def test_diagnosis_change_with_its_new_stage(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    update_patient(DR, "RT-0001", {"condition": "alopecia_areata", "baseline_scale": "salt", "baseline_stage": "30"},
                   reason="diagnosis revised", expected_version=1, today=TODAY)
    assert [(f, old, new) for _, f, old, new, _, _ in changes_of(clinic)] == [
        ("condition", "androgenetic_alopecia", "alopecia_areata"),
        ("baseline_scale", "ludwig", "salt"),
        ("baseline_stage", "II", "30"),
    ]


def test_a_record_without_baseline_stage_can_have_its_name_corrected(clinic):
    """Imported records may lack a baseline stage; a form that sends the staging unchanged is not re-judged,
    while a real change of staging must be complete."""
    with transaction(clinic) as session:
        session.add(models.Patient(mrn="IMP-1", full_name="Imported Person", sex="male", birth_date=date(1970, 1, 1),
                                   condition="androgenetic_alopecia", created_by="cli:import"))
    form = {"full_name": "Imported Persson", "sex": "male", "condition": "androgenetic_alopecia",
            "baseline_scale": None, "baseline_stage": None}
    assert update_patient(DR, "IMP-1", form, reason="spelling", expected_version=1, today=TODAY) == 2
    with pytest.raises(ValidationError, match="baseline stage is required on the Norwood–Hamilton scale"):
        update_patient(DR, "IMP-1", {**form, "baseline_scale": "norwood"}, reason="staged", expected_version=2,
                       today=TODAY)
    update_patient(DR, "IMP-1", {**form, "baseline_stage": "V"}, reason="staged", expected_version=2, today=TODAY)
    assert patient_record(DR, "IMP-1", today=TODAY).details.baseline_stage == "V"


def test_mrn_correction_and_its_duplicate(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    create_patient(DR, new_patient(mrn="RT-0002", full_name="Other"), today=TODAY)
    with pytest.raises(ValidationError, match="Nothing was saved") as refused:
        update_patient(DR, "RT-0001", {"mrn": "rt-0002"}, reason="typo", expected_version=1, today=TODAY)
    assert "already used by another patient" in refused.value.problems[0]
    update_patient(DR, "RT-0001", {"mrn": "RT-0003"}, reason="typo", expected_version=1, today=TODAY)
    assert patient_record(DR, "RT-0003", today=TODAY).details.full_name == "Ana Souza"


def test_corrections_are_staff_only(recorded):
    url, patient_id = recorded
    for call in (
        lambda a: update_patient(a, "RT-7", {"full_name": "X"}, reason="r", expected_version=1, today=TODAY),
        lambda a: add_therapy(a, "RT-7", "minoxidil", "5%", date(2025, 1, 1), today=TODAY),
        lambda a: stop_therapy(a, 1, date(2025, 2, 1), "r", today=TODAY),
        lambda a: soft_delete(a, "visit", 1, "r"),
    ):
        for actor in (None, patient_actor(patient_id)):
            with pytest.raises(PermissionDenied):
                call(actor)
    assert changes_of(url) == []
    assert count(url, models.ConcurrentTherapy) == 0
