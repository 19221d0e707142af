"""Patients for the patient tests: the intake form's values, patients written directly with sessions and
visits, and a recorded patient with photos (the ``recorded`` fixture).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.records.patient_intake import NewPatient

TODAY = date(2025, 6, 1)
DR = Actor(username="dr.lee", role="clinician")
ADMIN = Actor(username="admin.kim", role="admin")


def new_patient(**overrides) -> NewPatient:
    values: dict[str, Any] = dict(
        mrn="RT-0001", full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 17),
        condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
        target_areas=["vertex", "frontal"], protocol=None, notes="")
    values.update(overrides)
    return NewPatient(**values)


def seed(url: str, mrn: str, name: str, *, sessions=(), visits=(), sex="male") -> int:
    """A patient with sessions (dates) and visits ((date, {site: density})), written directly."""
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=name, sex=sex, birth_date=date(1975, 1, 1),
                                 condition="androgenetic_alopecia", baseline_scale="norwood", baseline_stage="III",
                                 target_areas="vertex", created_by="test")
        session.add(patient)
        session.flush()
        for day in sessions:
            session.add(models.TreatmentSession(patient_id=patient.id, date=day, treatment="exosome",
                                                product="ExoHair", lot_number=f"LOT-{day:%m%d}", created_by="test"))
        for day, sites in visits:
            visit = models.Visit(patient_id=patient.id, date=day, created_by="test")
            session.add(visit)
            session.flush()
            for site, density in sites.items():
                session.add(models.DensityMeasurement(visit_id=visit.id, site=site, density_per_cm2=density,
                                                      created_by="test"))
        return patient.id


def patient_actor(patient_id: int) -> Actor:
    return Actor(username="patient.a", role="patient", patient_id=patient_id)


def count(url: str, model) -> int:
    with transaction(url) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def changes_of(url: str) -> list[tuple]:
    with transaction(url) as session:
        return [(c.table_name, c.field, c.old_value, c.new_value, c.reason, c.changed_by)
                for c in session.scalars(select(models.ChangeRecord).order_by(models.ChangeRecord.id))]
