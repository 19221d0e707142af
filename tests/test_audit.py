"""The audit trail: hash-chained, tamper-evident, admin-only browsing, spreadsheet-safe export,
and intact when several processes append at once (anchors: test_audit_anchor.py)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import delete, func, select, update

from db import models
from tests.conftest import ROOT
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import PermissionDenied

ADMIN = Actor("root.admin", "admin", address="10.0.0.5")


def _append(url: str, count: int, who: str = "dr.lee") -> None:
    with transaction(url) as session:
        patient = session.scalar(select(models.Patient).limit(1))
        for n in range(count):
            audit.record(session, Actor(who, "clinician", address="127.0.0.1"), "view",
                         patient_id=patient.id if patient else None, detail=f"entry {n}")


def _verify(url: str) -> audit.Verification:
    with transaction(url) as session:
        return audit.verify(session)


def test_edited_and_removed_entries_are_detected(clinic):
    _append(clinic, 6)
    assert _verify(clinic).ok and _verify(clinic).entries == 6
    with transaction(clinic) as session:
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == 3).values(detail="nothing to see"))
    result = _verify(clinic)
    assert not result.ok and any("entry 3" in p and "edited" in p for p in result.problems)
    with transaction(clinic) as session:
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == 3).values(detail="entry 2"))
    assert _verify(clinic).ok
    with transaction(clinic) as session:
        session.execute(delete(models.AuditEntry).where(models.AuditEntry.id == 4))
    result = _verify(clinic)
    assert not result.ok and any("entry 5" in p and "removed" in p for p in result.problems)


def test_cli_audit_verify_reports_tampering(clinic):
    _append(clinic, 3)
    env = {**os.environ}
    ok = subprocess.run([sys.executable, "-m", "tracker", "audit", "verify"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "intact: 3 entries" in ok.stdout
    with transaction(clinic) as session:
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == 2).values(username="someone.else"))
    bad = subprocess.run([sys.executable, "-m", "tracker", "audit", "verify"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "TAMPERED" in bad.stdout and "entry 2" in bad.stdout


def test_browse_and_export_are_admin_only_filtered_and_neutralised(clinic):
    with transaction(clinic) as session:
        session.add(models.Patient(mrn="P-9", full_name='=HYPERLINK("http://evil","x")', sex="male",
                                   birth_date=date(1990, 1, 1), condition="other"))
    _append(clinic, 2, who="dr.lee")
    _append(clinic, 1, who="dr.kim")
    for actor in (None, Actor("dr.lee", "clinician"), Actor("pat", "patient", patient_id=1)):
        with pytest.raises(PermissionDenied):
            audit.browse(actor, url=clinic)
        with pytest.raises(PermissionDenied):
            audit.export_csv(actor, url=clinic)
    rows = audit.browse(ADMIN, username="dr.lee", url=clinic).rows
    assert [r.username for r in rows] == ["dr.lee", "dr.lee"] and rows[0].patient_mrn == "P-9"
    with transaction(clinic) as session:
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == 1)
                        .values(detail='=HYPERLINK("http://evil","click")'))
    data = b"".join(audit.export_csv(ADMIN, url=clinic).chunks).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(data)) for cell in row]
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert "'=HYPERLINK(\"http://evil\",\"click\")" in cells
    with transaction(clinic) as session:
        actions = session.scalars(select(models.AuditEntry.action)
                                  .where(models.AuditEntry.username == "root.admin")).all()
    assert "export" in actions and "view" in actions  # browsing and exporting are themselves recorded


# Every other entry on a plain connection (``read_transaction``, as the progress page writes its entry),
# the rest in an ORM session: both must queue for the chain's head.
WRITER = """
import sys
from tracker.access.actors import Actor
from tracker.database import read_transaction, transaction
from tracker.access import audit
for n in range(int(sys.argv[1])):
    with (read_transaction() if n % 2 else transaction()) as session:
        audit.record(session, Actor(sys.argv[2], "clinician"), "view", detail=f"{sys.argv[2]} {n}")
"""


def test_concurrent_writers_keep_one_unbroken_chain(clinic, figure):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, "25", f"writer{i}"], cwd=ROOT, env={**os.environ},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    with transaction(clinic) as session:
        assert session.scalar(select(func.count(models.AuditEntry.id))) == 100
    result = _verify(clinic)
    assert result.ok, result.problems
    # The writer that wrote entry 100 anchored the head after its commit, before its process ended.
    trail = audit.verify_trail(url=clinic)
    assert trail.ok and trail.anchors.latest.last_id == 100 and trail.anchors.latest.entries == 100, trail
    figure(f"audit chain ({clinic.split(':')[0]}): 4 concurrent writers x 25 entries, {result.entries} entries "
           f"verified intact, anchored at entry {trail.anchors.latest.last_id}")
