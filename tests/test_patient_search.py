"""Finding a patient as one types (tracker.records.patient_search), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import PermissionDenied
from tracker.records.patient_list import list_patients
from tracker.records.patient_search import find_patients

CLINICIAN = Actor(username="dr.lee", role="clinician")


def add_patient(url, mrn: str, full_name: str, *, deleted: bool = False) -> None:
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=full_name, sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia", created_by="test")
        session.add(patient)
        session.flush()
        if deleted:
            patient.deleted_at = patient.created_at


def test_find_patients_by_mrn_or_name(clinic):
    add_patient(clinic, "RT-0001", "Ana Souza")
    add_patient(clinic, "RT-0002", "Bruno Lima")
    add_patient(clinic, "XY_9", "100% Sure")
    assert [p.mrn for p in find_patients(CLINICIAN, "souza")] == ["RT-0001"]
    assert [p.mrn for p in find_patients(CLINICIAN, "rt-000")] == ["RT-0001", "RT-0002"]
    assert [p.mrn for p in find_patients(CLINICIAN, "%")] == ["XY_9"]  # wildcards are matched literally
    assert [p.mrn for p in find_patients(CLINICIAN, "lima rt")] == ["RT-0002"]  # every word must match
    assert len(find_patients(CLINICIAN, "")) == 3


def test_a_removed_patient_is_not_found_and_each_search_is_audited(clinic):
    add_patient(clinic, "RT-0001", "Ana Souza")
    add_patient(clinic, "RT-0003", "Ana Removed", deleted=True)
    (choice,) = find_patients(CLINICIAN, "ana")
    assert (choice.mrn, choice.full_name, choice.birth_date) == ("RT-0001", "Ana Souza", date(1980, 5, 1))
    with transaction(clinic) as session:
        entry = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id.desc())).first()
        found = session.scalars(select(models.AuditPatient.patient_id)
                                .where(models.AuditPatient.entry_id == entry.id)).all()
        ana = session.scalar(select(models.Patient.id).where(models.Patient.mrn == "RT-0001"))
    assert (entry.action, entry.username) == ("view", "dr.lee") and found == [ana]
    assert entry.detail.startswith("patient search; 1 patient (sha256 of their sorted ids: ")


@pytest.mark.parametrize("actor", [Actor(username="ana", role="patient", patient_id=1), None,
                                   Actor(username="x", role="superuser")])
def test_only_staff_may_search(clinic, actor):
    add_patient(clinic, "RT-0001", "Ana Souza")
    with pytest.raises(PermissionDenied):
        find_patients(actor, "")


def test_search_ignores_accents_both_ways(clinic):
    add_patient(clinic, "RT-0001", "Zoë Durand")
    add_patient(clinic, "RT-0002", "Zoe Martin")
    add_patient(clinic, "RT-0003", "Jose\u0301 Nu\u0301n\u0303ez")  # stored decomposed: e + combining acute
    add_patient(clinic, "RT-0004", "Łukasz Øvergård")
    # (sorted here: where "Zoë" sorts against "Zoe" is the database collation's business)
    assert sorted(p.mrn for p in find_patients(CLINICIAN, "Zoe")) == ["RT-0001", "RT-0002"]
    assert sorted(p.mrn for p in find_patients(CLINICIAN, "ZOË")) == ["RT-0001", "RT-0002"]
    assert [p.mrn for p in find_patients(CLINICIAN, "josé núñez")] == ["RT-0003"]
    assert [p.mrn for p in find_patients(CLINICIAN, "nunez")] == ["RT-0003"]
    assert [p.mrn for p in find_patients(CLINICIAN, "lukasz overgard")] == ["RT-0004"]
    assert [p.mrn for p in find_patients(CLINICIAN, "zoë durand")] == ["RT-0001"]
    assert find_patients(CLINICIAN, "zoo") == []


def test_the_patient_list_search_ignores_accents_too(clinic):
    add_patient(clinic, "RT-0001", "Zoë Durand")
    add_patient(clinic, "RT-0002", "Zoe Martin")
    assert sorted(p.mrn for p in list_patients(CLINICIAN, "zoe")) == ["RT-0001", "RT-0002"]
    assert [p.mrn for p in list_patients(CLINICIAN, "ZOË durand")] == ["RT-0001"]
