"""``python -m tracker progress`` and the progress service, end to end on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.conftest import ROOT
from tracker.access.actors import command_line_actor, os_user
from tracker.database import transaction
from tracker.progress.patient_progress import progress_json

CLI = command_line_actor("test")


def _add_patient(url: str, mrn: str = "P-001", *, baseline: float | None = 150.0) -> None:
    """Day 0 on 2025-01-15 (exosome), baseline on day 0, visits at ~3, ~6 and ~12 months."""
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name="Ada Example", sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 1, 15), treatment="exosome",
                                            product="ExoHair", lot_number="EXO-1"))
        readings = [(date(2025, 4, 14), 185.0), (date(2025, 7, 15), 140.0), (date(2026, 1, 20), 200.0)]
        if baseline is not None:
            readings.insert(0, (date(2025, 1, 15), baseline))
        for day, density in readings:
            visit = models.Visit(patient_id=patient.id, date=day)
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density))


def test_progress_json_shape_and_hand_checked_values(clinic):
    _add_patient(clinic)
    report = progress_json(CLI, "P-001", date(2026, 2, 1), clinic)
    assert report["mrn"] == "P-001" and report["as_of"] == "2026-02-01" and report["day0"] == "2025-01-15"
    site = report["sites"][0]
    assert site["site"] == "vertex" and site["baseline"] == {"date": "2025-01-15", "density": 150.0}
    early, six, twelve = site["milestones"]
    # noise = baseline 150 × 10% = 15 hairs/cm² at every milestone
    assert [m["noise"] for m in (early, six, twelve)] == [15.0, 15.0, 15.0]
    # 2025-04-14 is 89 days after day 0 → 2.924 months → band low -10+0.924*15 = 3.86, high 5+0.924*15 = 18.86;
    # change +35 > 18.86 + 15 = 33.86 → ahead
    assert (early["window_start"], early["window_end"], early["target"]) == ("2025-03-15", "2025-04-15", "2025-04-15")
    assert early["visit_date"] == "2025-04-14" and early["change"] == 35.0 and early["change_pct"] == 23.33
    assert early["expected_low"] == pytest.approx(3.86, abs=0.01)
    assert early["expected_high"] == pytest.approx(18.86, abs=0.01)
    assert early["status"] == "ahead"
    # 2025-07-15 is 181 days → 5.947 months → low 5+2.947/3*5 = 9.91; change −10 < 9.91 − 15 = −5.09 → behind
    assert six["change"] == -10.0 and six["expected_low"] == pytest.approx(9.91, abs=0.01)
    assert six["status"] == "behind"
    # 2026-01-20 is 370 days → 12.156 months → flat after month 12: 15..35; change +50 = 35 + 15, the edge:
    # on track (only beyond high + noise is ahead)
    assert twelve["status"] == "on_track" and (twelve["expected_low"], twelve["expected_high"]) == (15.0, 35.0)
    assert twelve["change"] == 50.0
    assert report["next_session_window"] == {"start": "2025-04-15", "end": "2025-07-15"}
    assert report["nsaid_free"] == [{"session_date": "2025-01-15", "start": "2025-01-12", "end": "2025-02-05"}]
    assert report["active_until"] == {"earliest": "2025-07-15", "latest": "2025-09-15"}


def test_no_baseline_reports_no_baseline_and_null_changes(clinic):
    _add_patient(clinic, baseline=None)
    milestones = progress_json(CLI, "P-001", date(2026, 2, 1), clinic)["sites"][0]["milestones"]
    assert {m["status"] for m in milestones} == {"no_baseline"}
    assert all(m["change"] is None and m["change_pct"] is None and m["noise"] is None for m in milestones)
    assert progress_json(CLI, "P-001", date(2026, 2, 1), clinic)["sites"][0]["baseline"] is None


def _cli(*args: str, env_extra: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, input=stdin, timeout=120)


def test_cli_progress_json_and_unknown_mrn(clinic):
    _add_patient(clinic)
    result = _cli("progress", "P-001", "--as-of", "2026-02-01", "--json")
    assert result.returncode == 0, result.stderr
    milestones = json.loads(result.stdout)["sites"][0]["milestones"]
    # Through the command line too: each judged milestone carries its noise (hairs/cm², 2 decimals).
    assert [(m["status"], m["noise"]) for m in milestones] == [("ahead", 15.0), ("behind", 15.0), ("on_track", 15.0)]
    with transaction(clinic) as session:  # every view is audited, the command line's too, with its OS user
        patient_id = session.scalar(select(models.Patient.id).where(models.Patient.mrn == "P-001"))
        views = session.execute(select(models.AuditEntry.username, models.AuditEntry.patient_id)
                                .where(models.AuditEntry.action == "view")).all()
    assert views == [(f"cli:progress ({os_user()})", patient_id)]
    unknown = _cli("progress", "NOPE-9")
    assert unknown.returncode != 0
    assert unknown.stderr.strip().count("\n") == 0 and "NOPE-9" in unknown.stderr
    bad_date = _cli("progress", "P-001", "--as-of", "2026-02-30")
    assert bad_date.returncode != 0 and "YYYY-MM-DD" in bad_date.stderr


def test_cli_progress_for_a_person_reads_in_words(clinic):
    _add_patient(clinic)
    result = _cli("progress", "P-001", "--as-of", "2026-02-01")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "  Vertex: baseline 150.0 hairs/cm² on 2025-01-15"
    assert [line.split()[0:2] for line in lines[2:]] == [["Early", "response"], ["Noticeable", "growth"],
                                                         ["Continued", "improvement"]]
    assert lines[2].endswith("2025-03-15…2025-04-15  Ahead change +35.0 (+23.33%)")
    assert lines[3].rstrip().endswith("Behind change -10.0 (-6.67%)")
    assert lines[4].rstrip().endswith("On track change +50.0 (+33.33%)")
    for code in ("early_response", "on_track", "site vertex"):
        assert code not in result.stdout


def test_cli_init_is_idempotent_and_user_add(clinic):
    assert _cli("init").returncode == 0
    assert _cli("init").returncode == 0
    weak = _cli("user", "add", "--role", "admin", "--username", "boss", "--password-stdin", stdin="password\n")
    assert weak.returncode == 1 and "at least 10" in weak.stderr
    made = _cli("user", "add", "--role", "admin", "--username", "boss", "--password-stdin",
                stdin="long enough phrase 42\n")
    assert made.returncode == 0, made.stderr
    listed = _cli("user", "list")
    assert "boss" in listed.stdout and "admin" in listed.stdout
    verified = _cli("audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout
