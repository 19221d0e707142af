"""Concurrent use: several clinicians' processes saving visits at once lose nothing, and a conflicting
edit of the same record is refused with a clear message (optimistic version check), never overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import func, select

from db import models
from tests.conftest import ROOT
from tests.test_outlook import differences as outlook_differences
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import ConflictError
from tracker.records.patient_corrections import update_patient
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.patient_record import patient_record

CLINICIAN = Actor("dr.lee", "clinician")
WRITERS, VISITS_EACH = 4, 12

WRITER = """
import sys
from datetime import date, timedelta
from tracker.access.actors import Actor
from tracker.records.visit_form import SiteEntry, VisitEntry
from tracker.records.visits import log_visit
writer, count = int(sys.argv[1]), int(sys.argv[2])
actor = Actor(f"clinician{writer}", "clinician")
for n in range(count):
    # writers 0 and 1 share patient C-0 (same record); the others each have their own patient
    mrn = "C-0" if writer < 2 else f"C-{writer}"
    day = date(2025, 1, 1) + timedelta(days=writer * 40 + n)
    log_visit(actor, mrn, VisitEntry(date=day, sites=[SiteEntry("vertex", 100 + writer * 10 + n)]),
              today=date(2026, 1, 1))
print("done", writer)
"""


def _patient(url: str, mrn: str) -> None:
    create_patient(CLINICIAN, NewPatient(mrn=mrn, full_name=f"Concurrent {mrn}", sex="female",
                                         birth_date=date(1980, 1, 1), condition="androgenetic_alopecia",
                                         baseline_scale="ludwig", baseline_stage="I", target_areas="vertex"),
                   url=url)


def test_parallel_visit_writers_lose_nothing(clinic, figure):
    for mrn in ("C-0", "C-2", "C-3"):
        _patient(clinic, mrn)
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(VISITS_EACH)], cwd=ROOT, env={**os.environ},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(WRITERS)
    ]
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    with transaction(clinic) as session:
        visits = session.scalar(select(func.count(models.Visit.id)))
        measurements = session.scalars(select(models.DensityMeasurement.density_per_cm2)).all()
    expected = sorted(100 + w * 10 + n for w in range(WRITERS) for n in range(VISITS_EACH))
    assert visits == WRITERS * VISITS_EACH
    assert sorted(measurements) == expected  # every value written, none twice, none lost
    # Two writers refreshed C-0's outlook at the same moment, 12 times: one set of spans, the engine's.
    assert outlook_differences(clinic) == []
    figure(f"concurrency ({clinic.split(':')[0]}): {WRITERS} writer processes x {VISITS_EACH} visits = {visits} saved, "
           "0 lost")


def test_conflicting_edit_is_refused_not_overwritten(clinic):
    _patient(clinic, "C-9")
    opened = patient_record(CLINICIAN, "C-9", url=clinic)  # both clinicians open the same version
    version = opened.details.version
    update_patient(Actor("dr.kim", "clinician"), "C-9", {"full_name": "Concurrent Kim"}, "typo in name", version,
                   url=clinic)
    with pytest.raises(ConflictError) as refused:
        update_patient(CLINICIAN, "C-9", {"full_name": "Concurrent Lee"}, "typo in name", version, url=clinic)
    assert "changed" in str(refused.value).lower()
    assert patient_record(CLINICIAN, "C-9", url=clinic).details.full_name == "Concurrent Kim"
