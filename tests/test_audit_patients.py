"""Audit entries about many patients (issue #13): the count and digest in the hashed entry, one ``audit_patient``
row per patient, tampering with those rows detected; "who viewed patient X" through the browse filter; the trail
paged in the database and its filters served by indexes; the CSV export streamed and unchanged."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, delete, insert, select, text, update

from db import models
from db.engine import normalize_url
from tests.conftest import ROOT
from tests.patient_samples import seed
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NotFound
from tracker.safe_csv import spreadsheet_safe

ADMIN = Actor("root.admin", "admin", address="10.0.0.5")
DR = Actor("dr.lee", "clinician", address="10.0.0.7")


def _patients(url: str, count: int) -> list[int]:
    return [seed(url, f"AP-{n}", f"Patient {n}") for n in range(count)]


def _rows_of(url: str, entry_id: int) -> list[int]:
    with transaction(url) as session:
        return list(session.scalars(select(models.AuditPatient.patient_id)
                                    .where(models.AuditPatient.entry_id == entry_id)
                                    .order_by(models.AuditPatient.patient_id)))


def _verify(url: str) -> audit.Verification:
    with transaction(url) as session:
        return audit.verify(session)


def _newest(url: str) -> models.AuditEntry:
    with transaction(url) as session:
        return session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id.desc()).limit(1)).one()


def test_an_entry_about_many_patients_records_count_digest_and_rows(clinic, monkeypatch):
    monkeypatch.setattr(audit, "_ROWS_AT_ONCE", 3)  # verified in several steps
    ids = _patients(clinic, 7)
    with transaction(clinic) as session:
        audit.record(session, DR, "view", detail="schedule: 7 shown", patient_ids=list(reversed(ids)) + ids[:2])
    entry = _newest(clinic)
    # sha256 of "1,2,3,4,5,6,7" (the ids, sorted, once each), worked out here independently of the code.
    digest = hashlib.sha256(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()
    assert entry.detail == f"schedule: 7 shown; 7 patients (sha256 of their sorted ids: {digest})"
    assert entry.patient_id is None
    assert _rows_of(clinic, entry.id) == sorted(ids)
    with transaction(clinic) as session:  # one patient, and none: the same form
        audit.record(session, DR, "view", patient_ids=[ids[0]])
        audit.record(session, DR, "view", detail="empty list", patient_ids=[])
    assert _newest(clinic).detail == ("empty list; 0 patients (sha256 of their sorted ids: "
                                      f"{hashlib.sha256(b'').hexdigest()})")
    result = _verify(clinic)
    assert result.ok and result.entries == 3, result.problems


def test_patient_rows_removed_added_or_changed_are_detected(clinic):
    ids = _patients(clinic, 4)
    with transaction(clinic) as session:
        audit.record(session, DR, "view", detail="patient list", patient_ids=ids[:3])
        audit.record(session, DR, "view", patient_id=ids[3], detail="patient record")
    listed, single = _newest(clinic).id - 1, _newest(clinic).id
    assert _verify(clinic).ok
    cases = [
        ("removed", delete(models.AuditPatient).where(models.AuditPatient.patient_id == ids[1])),
        ("changed", update(models.AuditPatient).where(models.AuditPatient.patient_id == ids[2])
         .values(patient_id=ids[3])),
    ]
    for what, tamper in cases:
        with transaction(clinic) as session:
            session.execute(tamper)
        result = _verify(clinic)
        assert [p for p in result.problems if f"entry {listed}:" in p and "do not match" in p], (what, result)
        with transaction(clinic) as session:  # put the three rows back
            session.execute(delete(models.AuditPatient))
            session.execute(insert(models.AuditPatient), [{"entry_id": listed, "patient_id": i} for i in ids[:3]])
        assert _verify(clinic).ok, what
    # A row added to an entry about one patient: that entry lists no patients at all.
    with transaction(clinic) as session:
        session.execute(insert(models.AuditPatient), [{"entry_id": single, "patient_id": ids[0]}])
    result = _verify(clinic)
    assert result.problems == (f"entry {single}: 1 patient rows that the entry does not list (added)",)
    # Rewriting the digest in the detail to match the tampered rows breaks the entry's own hash, and the rows
    # still differ from the entry's hashed ``patient_count``.
    with transaction(clinic) as session:
        session.execute(delete(models.AuditPatient).where(models.AuditPatient.entry_id == single))
        session.execute(delete(models.AuditPatient).where(models.AuditPatient.patient_id == ids[0]))
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == listed)
                        .values(detail=f"patient list; {audit.patients_note(ids[1:3])}"))
    result = _verify(clinic)
    assert result.problems == (f"entry {listed}: content does not match its hash (edited)",
                               f"entry {listed}: its patient rows (2) do not match the count and digest it records "
                               f"(rows added, removed or changed)")


def test_who_viewed_a_patient_finds_entries_about_them_alone_and_in_lists(clinic):
    x, y, z = _patients(clinic, 3)
    with transaction(clinic) as session:
        audit.record(session, DR, "view", patient_id=x, detail="patient record")            # about X alone
        audit.record(session, DR, "view", detail="patient list", patient_ids=[y, z])        # not X
        audit.record(session, Actor("dr.kim", "clinician"), "view", detail="schedule", patient_ids=[x, y, z])
        audit.record(session, DR, "view", patient_id=y, detail="patient record")            # not X
        audit.record(session, DR, "export", detail="lot CSV export", patient_ids=[x])
    found = audit.browse(ADMIN, mrn="ap-0", url=clinic)  # any capitals, as staff type MRNs
    assert [(r.username, r.action, r.detail.split(";")[0]) for r in found] == [
        ("dr.lee", "export", "lot CSV export"),
        ("dr.kim", "view", "schedule"),
        ("dr.lee", "view", "patient record"),
    ]
    assert found.total == 3 and [r.patient_mrn for r in found] == [None, None, "AP-0"]
    # With the other filters: dr.lee's entries about X; the views of X only.
    assert [r.action for r in audit.browse(ADMIN, mrn="AP-0", username="dr.lee", url=clinic)] == ["export", "view"]
    assert [r.username for r in audit.browse(ADMIN, mrn="AP-0", action="view", url=clinic)] == ["dr.kim", "dr.lee"]
    with pytest.raises(NotFound, match="No patient has the MRN 'AP-404'"):
        audit.browse(ADMIN, mrn="AP-404", url=clinic)


def test_the_trail_is_paged_in_the_database_newest_first(clinic):
    with transaction(clinic) as session:
        for n in range(7):
            audit.record(session, DR, "view", detail=f"entry {n}")
    first = audit.browse(ADMIN, username="dr.lee", page_size=3, url=clinic)
    assert [r.detail for r in first] == ["entry 6", "entry 5", "entry 4"]
    assert (first.total, first.number, first.pages, first.showing()) == (7, 1, 3, "Showing 1–3 of 7")
    last = audit.browse(ADMIN, username="dr.lee", page=3, page_size=3, url=clinic)
    assert [r.detail for r in last] == ["entry 0"] and last.showing() == "Showing 7–7 of 7"
    # A page past the last shows the last; the browsing entries (root.admin's) are not dr.lee's.
    assert [r.detail for r in audit.browse(ADMIN, username="dr.lee", page=9, page_size=3, url=clinic)] == ["entry 0"]
    assert audit.browse(ADMIN, username="nobody", url=clinic).total == 0


def test_a_commands_name_finds_every_os_user_it_ran_as(clinic):
    with transaction(clinic) as session:
        for name in ("cli:backup (root)", "cli:backup (ops)", "cli:backupx (root)", "cli:backup", "dr.lee"):
            audit.record(session, None, "view", username=name, detail=name)
    found = {r.username for r in audit.browse(ADMIN, username="CLI:Backup", url=clinic)}
    assert found == {"cli:backup (root)", "cli:backup (ops)", "cli:backup"}
    assert {r.username for r in audit.browse(ADMIN, username="dr.lee", url=clinic)} == {"dr.lee"}


def _old_export(url: str) -> bytes:
    """The audit CSV as the export wrote it before streaming (the whole trail read, then written at once)."""
    with transaction(url) as session:
        rows = session.execute(select(models.AuditEntry, models.Patient.mrn)
                               .outerjoin(models.Patient, models.Patient.id == models.AuditEntry.patient_id)
                               .order_by(models.AuditEntry.id.desc())).all()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(audit.AUDIT_COLUMNS)
        for e, mrn in rows:
            writer.writerow(["" if v is None else spreadsheet_safe(v) for v in (
                e.id, e.at.strftime("%Y-%m-%d %H:%M:%S"), e.username, e.role, mrn, e.action, e.detail, e.address)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def test_the_streamed_csv_is_the_old_export_and_counts_what_it_holds(clinic):
    x, y = _patients(clinic, 2)
    with transaction(clinic) as session:
        audit.record(session, DR, "view", patient_id=x, detail='=HYPERLINK("http://evil","x")')
        audit.record(session, DR, "view", detail="list; -2+3", patient_ids=[x, y])
        audit.record(session, None, "sign_in_failed", username="@someone", detail="wrong password")
    expected = _old_export(clinic)
    export = audit.export_csv(ADMIN, url=clinic)
    # Audited before a row is read, counting the entries the file holds (not its own entry).
    assert _newest(clinic).detail == "audit trail CSV, 3 entries" and export.entries == 3
    data = b"".join(export.chunks)
    assert data == expected
    cells = [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]
    assert "'=HYPERLINK(\"http://evil\",\"x\")" in cells and "'@someone" in cells
    # Filtered by patient: the entry about X alone and the list that names X.
    only_x = list(csv.DictReader(io.StringIO(b"".join(audit.export_csv(ADMIN, mrn="AP-0", url=clinic).chunks)
                                             .decode("utf-8-sig"))))
    assert [r["detail"].split(";")[0] for r in only_x] == ["list", "'=HYPERLINK(\"http://evil\",\"x\")"]


def _bulk_entries(url: str, count: int) -> None:
    """``count`` entries for the planner (no valid chain: only plans are looked at), spread over 400 users and
    500 patients, mostly views with a restore every 1,000th, and every 50th entry about many patients."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with transaction(url) as session:
        session.execute(insert(models.AuditEntry), [
            {"at": start + timedelta(minutes=n), "username": f"user{n % 400}", "role": "clinician",
             "patient_id": n % 500 + 1, "action": "view" if n % 1000 else "restore", "detail": "x", "address": None,
             "previous_hash": "0" * 64, "entry_hash": f"{n:064x}"} for n in range(count)])
        ids = session.scalars(select(models.AuditEntry.id).where(models.AuditEntry.id % 50 == 0)).all()
        session.execute(insert(models.AuditPatient), [
            {"entry_id": entry, "patient_id": patient} for entry in ids for patient in range(1, 501, 7)])
        if url.startswith("postgresql"):
            session.execute(text("ANALYZE audit_entry"))
            session.execute(text("ANALYZE audit_patient"))
        else:
            session.execute(text("ANALYZE"))


def _plan(url: str, statement) -> str:
    with transaction(url) as session:
        connection = session.connection()
        sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN " if url.startswith("postgresql") else "EXPLAIN QUERY PLAN "
        return "\n".join(" ".join(str(c) for c in row) for row in connection.exec_driver_sql(prefix + sql))


def test_the_browse_filters_use_the_trails_indexes(clinic):
    seed(clinic, "PL-1", "Planned Patient")  # patient 1
    _bulk_entries(clinic, 20_000)
    with transaction(clinic) as session:
        connection = session.connection()
        plans = {
            "user": audit._rows(audit._conditions(connection, username="user7", mrn="", action="", since=None,
                                                  until=None)).limit(100),
            "action": audit._rows(audit._conditions(connection, username="", mrn="", action="restore", since=None,
                                                    until=None)).limit(100),
            "patient": audit._rows(audit._conditions(connection, username="", mrn="PL-1", action="", since=None,
                                                     until=None)).limit(100),
        }
    for name, statement in plans.items():
        plan = _plan(clinic, statement)
        index = {"user": "ix_audit_entry_username", "action": "ix_audit_entry_action", "patient": None}[name]
        if index:
            assert index in plan, (name, plan)
        else:  # the union of the two patient indexes
            assert "ix_audit_entry_patient_id" in plan and "ix_audit_patient_patient_id" in plan, plan


def test_backup_and_restore_keep_the_patient_rows_and_verify_checks_them(clinic, tmp_path, new_installation):
    from tests.backup_samples import Installation, cli, rows_of

    ids = _patients(clinic, 3)
    with transaction(clinic) as session:
        audit.record(session, DR, "view", detail="patient list", patient_ids=ids)
    source = Installation(tmp_path / "data", clinic)
    assert cli(source, "backup", str(tmp_path / "backup")).returncode == 0
    restored = new_installation("restored")
    done = cli(restored, "restore", str(tmp_path / "backup"))
    assert done.returncode == 0, done.stderr
    assert rows_of(restored.url)["audit_patient"] == rows_of(clinic)["audit_patient"] != []
    verified = cli(restored, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout + verified.stderr
    engine = create_engine(normalize_url(restored.url))
    with engine.begin() as connection:
        connection.execute(delete(models.AuditPatient).where(models.AuditPatient.patient_id == ids[1]))
    engine.dispose()
    tampered = cli(restored, "audit", "verify")
    assert tampered.returncode == 1 and "TAMPERED" in tampered.stdout and "do not match" in tampered.stdout


def test_the_command_line_export_writes_the_file_as_rows_stream(clinic, tmp_path):
    x, y = _patients(clinic, 2)
    with transaction(clinic) as session:
        audit.record(session, DR, "view", patient_id=x, detail="+cmd|' /C calc'!A0")
        audit.record(session, DR, "view", detail="schedule", patient_ids=[x, y])
    expected = _old_export(clinic)
    target = tmp_path / "trail.csv"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tracker", "audit", "export", *args], cwd=ROOT,
                              env={**os.environ}, capture_output=True, text=True, timeout=300)

    done = run(str(target))
    assert done.returncode == 0 and "Audit trail written to" in done.stdout and ": 2 entries," in done.stdout
    assert target.read_bytes() == expected and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*partial"))
    for args, message in (([str(target)], "already exists"), ([str(tmp_path / "b.csv"), "--mrn", "AP-404"],
                                                             "No patient has the MRN 'AP-404'"),
                          ([str(tmp_path / "c.csv"), "--action", "peek"], "'peek' is not an action of the trail")):
        refused = run(*args)
        assert refused.returncode == 1 and message in refused.stderr and "Traceback" not in refused.stderr, args
    assert target.read_bytes() == expected and not (tmp_path / "b.csv").exists()
    by_patient = tmp_path / "y.csv"
    assert run(str(by_patient), "--mrn", "ap-1").returncode == 0
    assert [r["detail"].split(";")[0] for r in csv.DictReader(io.StringIO(by_patient.read_text("utf-8-sig")))] == [
        "schedule"]


def test_a_refused_request_whose_mrn_looks_like_a_patients_note_verifies(clinic):
    """The MRN is typed by the user and ends the refused entry's detail: only an entry with a
    ``patient_count`` (written by ``record(patient_ids=...)``) has its detail's end read as a note."""
    from tracker.errors import PermissionDenied
    from tracker.progress.patient_progress import progress_json
    ids = _patients(clinic, 2)
    fake = f"1 patient (sha256 of their sorted ids: {'0' * 64})"
    # Long enough that the detail's cut at 500 characters drops the quote closing the MRN.
    mrn = "x" * (500 - len("progress: asked for MRN '") - len(fake)) + fake
    with pytest.raises(PermissionDenied):
        progress_json(Actor("pat.one", "patient", patient_id=ids[0]), mrn, url=clinic)
    refused = _newest(clinic)
    assert refused.action == "refused" and refused.detail.endswith(fake) and refused.patient_count is None
    assert _verify(clinic).ok, _verify(clinic).problems
    # Rows added to it are still reported.
    with transaction(clinic) as session:
        session.execute(insert(models.AuditPatient), [{"entry_id": refused.id, "patient_id": ids[1]}])
    assert _verify(clinic).problems == (f"entry {refused.id}: 1 patient rows that the entry does not list (added)",)


def test_a_changed_patient_count_breaks_the_hash_and_the_rows_check(clinic):
    ids = _patients(clinic, 3)
    with transaction(clinic) as session:
        audit.record(session, DR, "view", detail="patient list", patient_ids=ids)
    listed = _newest(clinic)
    assert listed.patient_count == 3 and _verify(clinic).ok
    with transaction(clinic) as session:
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == listed.id).values(patient_count=2))
    assert _verify(clinic).problems == (
        f"entry {listed.id}: content does not match its hash (edited)",
        f"entry {listed.id}: its patient rows (3) do not match the count and digest it records "
        f"(rows added, removed or changed)")
    with transaction(clinic) as session:  # a count removed: the hash breaks and the rows are unlisted
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == listed.id).values(patient_count=None))
    assert _verify(clinic).problems == (
        f"entry {listed.id}: content does not match its hash (edited)",
        f"entry {listed.id}: 3 patient rows that the entry does not list (added)")


def test_an_entry_hashed_before_the_patient_count_existed_verifies(clinic):
    """An entry without ``patient_count`` is hashed over the eight fields it always was (worked out here)."""
    at = datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)
    fields = [audit.GENESIS, "2026-01-05T09:30:00.123456", "dr.lee", "clinician", None, "view", "patient list",
              "10.0.0.7"]
    old_hash = hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()
    with transaction(clinic) as session:
        session.execute(insert(models.AuditEntry).values(
            at=at, username="dr.lee", role="clinician", patient_id=None, action="view", detail="patient list",
            address="10.0.0.7", previous_hash=audit.GENESIS, entry_hash=old_hash))
        audit.record(session, DR, "view", detail="next")
    result = _verify(clinic)
    assert result.ok and result.entries == 2, result.problems
