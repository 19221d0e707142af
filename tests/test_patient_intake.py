"""A new patient (``tracker.records.patient_intake``): saved and audited, protocols, every problem at once.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.patient_samples import DR, TODAY, count, new_patient, patient_actor
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.records.patient_intake import create_patient, proposed_protocol, protocol_names
from tracker.records.patient_record import patient_record


def test_create_patient_is_saved_and_audited(clinic):
    mrn = create_patient(DR, new_patient(mrn=" RT-0001 ", full_name="  Ana   Souza "), today=TODAY)
    assert mrn == "RT-0001"
    record = patient_record(DR, "RT-0001", today=TODAY)
    details = record.details
    assert (details.full_name, details.sex, details.birth_date, details.age) == (
        "Ana Souza", "female", date(1980, 5, 17), 45)
    assert (details.baseline_scale, details.baseline_stage) == ("ludwig", "II")
    assert details.target_areas == ("vertex", "frontal")
    assert details.protocol == "Exosome (default)"
    assert details.version == 1
    with transaction(clinic) as session:
        patient = session.scalar(select(models.Patient))
        assert patient.created_by == "dr.lee"
        actions = [a for a, in session.execute(
            select(models.AuditEntry.action).where(models.AuditEntry.patient_id == patient.id))]
    assert actions == ["create", "view"]


def test_alopecia_areata_is_proposed_the_seeded_salt_protocol(clinic):
    names = protocol_names(DR)
    assert proposed_protocol("alopecia_areata", names) == "Alopecia areata (SALT)"
    assert proposed_protocol("telogen_effluvium", names) == "Exosome (default)"


def test_protocol_names_default_first(clinic):
    with transaction(clinic) as session:
        session.add(models.Protocol(name="A PRP course", band=[{"month": 0, "low": -10, "high": 5}], windows=[]))
    assert protocol_names(DR) == ["Exosome (default)", "A PRP course", "Alopecia areata (SALT)"]
    with pytest.raises(PermissionDenied):
        protocol_names(patient_actor(1))


def test_create_with_a_chosen_protocol_and_salt(clinic):
    with transaction(clinic) as session:
        session.add(models.Protocol(name="PRP", band=[{"month": 0, "low": -10, "high": 5}], windows=[]))
    create_patient(DR, new_patient(condition="alopecia_areata", baseline_scale=None, baseline_stage=42.5,
                                   protocol="PRP", target_areas="vertex, occipital"), today=TODAY)
    details = patient_record(DR, "RT-0001", today=TODAY).details
    assert (details.baseline_scale, details.baseline_stage, details.protocol) == ("salt", "42.5", "PRP")
    assert details.target_areas == ("vertex", "occipital")


def test_duplicate_mrn_is_refused_in_any_capitals(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    with pytest.raises(ValidationError) as refused:
        create_patient(DR, new_patient(mrn="rt-0001", full_name="Someone Else"), today=TODAY)
    assert "MRN rt-0001 is already used by another patient" in refused.value.problems[0]
    assert count(clinic, models.Patient) == 1


@pytest.mark.parametrize("overrides, message", [
    ({"full_name": "   "}, "full name is required"),
    ({"mrn": "RT 01"}, "may contain only letters, digits"),
    ({"mrn": ""}, "MRN is required"),
    ({"birth_date": date(2025, 6, 2)}, "is in the future"),
    ({"birth_date": None}, "birth date is required"),
    ({"birth_date": "1890-01-01"}, "more than 120 years ago"),
    ({"sex": ""}, "sex is required"),
    ({"condition": "baldness"}, "is not one of"),
    ({"baseline_scale": "norwood"}, "the Norwood–Hamilton scale does not fit androgenetic alopecia in a female"),
    ({"baseline_stage": "IV"}, "'IV' is not a Ludwig stage"),
    ({"baseline_stage": ""}, "baseline stage is required on the Ludwig scale"),
    ({"baseline_scale": None}, "baseline scale is required: Ludwig or Sinclair"),
    ({"condition": "alopecia_areata", "baseline_scale": "salt", "baseline_stage": "130"},
     "SALT score 130 is out of range"),
    ({"condition": "telogen_effluvium"}, "has no staging scale here"),
    ({"target_areas": []}, "choose at least one area"),
    ({"target_areas": "vertex, top of head"}, "may contain only letters"),
    ({"protocol": "Unknown course"}, "protocol 'Unknown course' does not exist"),
    ({"notes": "bad\x00byte"}, "control character"),
])
def test_bad_input_is_refused_and_nothing_written(clinic, overrides, message):
    with pytest.raises(ValidationError) as refused:
        create_patient(DR, new_patient(**overrides), today=TODAY)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert count(clinic, models.Patient) == 0


def test_every_problem_is_listed_at_once(clinic):
    with pytest.raises(ValidationError) as refused:
        create_patient(DR, new_patient(mrn="bad mrn", full_name="", birth_date=date(2030, 1, 1), target_areas=""),
                       today=TODAY)
    assert len(refused.value.problems) == 4


def test_norwood_for_men_and_any_scale_for_other_sex(clinic):
    create_patient(DR, new_patient(mrn="M1", sex="male", baseline_scale=None, baseline_stage="iii vertex"), today=TODAY)
    create_patient(DR, new_patient(mrn="O1", sex="other", baseline_scale="sinclair", baseline_stage="3"), today=TODAY)
    assert patient_record(DR, "M1", today=TODAY).details.baseline_stage == "III vertex"
    assert patient_record(DR, "O1", today=TODAY).details.baseline_scale == "sinclair"


@pytest.mark.parametrize("actor", [None, Actor(username="p", role="patient", patient_id=1), "dr.lee"])
def test_only_staff_create_patients(clinic, actor):
    with pytest.raises(PermissionDenied):
        create_patient(actor, new_patient(), today=TODAY)
    assert count(clinic, models.Patient) == 0
