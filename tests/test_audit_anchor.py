"""Audit anchors: the trail's head kept, signed, outside the database, so that `audit verify` reports the
tampering a valid chain hides (newest entries deleted, an entry rewritten with the chain recomputed, the table
emptied) and a forged anchor; anchors written every 100 committed entries, 0600 whatever the umask, whole
lines when several processes append at once. Through the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from db import models
from tests import forked_python
from tests.conftest import ROOT
from tracker.access import audit, audit_anchor
from tracker.access.actors import Actor
from tracker.access.signing import SigningKey, signing_key
from tracker.config import settings
from tracker.database import read_transaction, transaction

CLINICIAN = Actor("dr.lee", "clinician", address="127.0.0.1")
HEAD_LINE = re.compile(r"^entries=(\d+) last_id=(\d+) last_hash=([0-9a-f]{64}|-) at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _cli(*args: str, umask: int | None = None) -> subprocess.CompletedProcess:
    """``python -m tracker audit ARGS`` in a process of its own (tests/forked_python.py)."""
    return forked_python.run(["-m", "tracker", "audit", *args], env={**os.environ}, timeout=120, umask=umask)


def _append(url: str, count: int) -> None:
    with transaction(url) as session:
        for n in range(count):
            audit.record(session, CLINICIAN, "view", detail=f"entry {n}")


def _anchor_now() -> str:
    run = _cli("anchor")
    assert run.returncode == 0 and HEAD_LINE.match(run.stdout.strip()), run
    return run.stdout.strip()


def _rows(url: str) -> list[dict]:
    with transaction(url) as session:
        return [dict(row._mapping) for row in session.execute(select(models.AuditEntry.__table__)
                                                             .order_by(models.AuditEntry.id))]


def _put_back(url: str, rows: list[dict], anchors: bytes) -> None:
    with transaction(url) as session:
        session.execute(delete(models.AuditEntry))
        session.execute(insert(models.Base.metadata.tables[models.AuditEntry.__tablename__]), rows)
    audit_anchor.anchor_file().write_bytes(anchors)


# Ways to tamper: each takes the database URL and the anchor file, and names what `audit verify` must say.

def _delete_newest(url: str, _anchors: Path) -> None:
    with transaction(url) as session:
        session.execute(delete(models.AuditEntry).where(models.AuditEntry.id > 12))


def _rewrite_and_recompute(url: str, _anchors: Path) -> None:
    """Entry 7 says something else, and every hash from it on is recomputed: the chain alone looks intact."""
    with transaction(url) as session:
        session.execute(update(models.AuditEntry).where(models.AuditEntry.id == 7).values(detail="nothing to see"))
        previous = audit.GENESIS
        for entry in session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id)):
            at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
            entry.previous_hash = previous
            entry.entry_hash = audit._entry_hash(previous, at, entry.username, entry.role, entry.patient_id,
                                                 entry.action, entry.detail, entry.address)
            previous = entry.entry_hash
    with transaction(url) as session:
        assert audit.verify(session).ok  # what the chain check alone says


def _empty_table(url: str, _anchors: Path) -> None:
    with transaction(url) as session:
        session.execute(delete(models.AuditEntry))


def _delete_newest_and_refill(url: str, _anchors: Path) -> None:
    """The newest entries deleted, and as many new ones appended: count and chain look right."""
    _delete_newest(url, _anchors)
    _append(url, 5)


def _edit_anchor_line(_url: str, anchors: Path) -> None:
    lines = anchors.read_text().splitlines()
    fields = json.loads(lines[1])
    fields["entries"], fields["last_id"] = 3, 3  # signature kept
    lines[1] = json.dumps(fields)
    anchors.write_text("\n".join(lines) + "\n")


def _forge_anchor_line(_url: str, anchors: Path) -> None:
    forged = audit_anchor.Anchor(2, 2, "0" * 64, datetime.now(UTC), "command")
    audit_anchor._append(anchors, forged, SigningKey(b"not the installation's key, 32+ chars", "forger"))


TAMPERING = [
    ("newest entries deleted", _delete_newest, "newest entries deleted: the last entry is 12"),
    ("entry rewritten, chain recomputed", _rewrite_and_recompute, "chain rewritten between entries 6 and 10"),
    ("table emptied", _empty_table, "audit trail emptied"),
    ("newest deleted, as many appended", _delete_newest_and_refill, "entry 15"),
    ("anchor line edited", _edit_anchor_line, "anchor line 2 of"),
    ("anchor line signed with another key", _forge_anchor_line, "anchor line 4 of"),
]


def test_every_kind_of_tampering_is_reported(clinic, figure):
    for anchored in (5, 10, 15):  # anchors up to entries 5, 10 and 15; entries 16 and 17 after the last one
        _append(clinic, anchored - (_rows(clinic)[-1]["id"] if _rows(clinic) else 0))
        line = _anchor_now()
    assert line.startswith("entries=15 last_id=15 ")
    _append(clinic, 2)
    intact = _cli("verify")
    assert intact.returncode == 0, intact.stdout
    assert "intact: 17 entries" in intact.stdout and "checked against 3 anchor(s)" in intact.stdout
    rows, anchors = _rows(clinic), audit_anchor.anchor_file().read_bytes()
    detected = []
    for name, tamper, expected in TAMPERING:
        _put_back(clinic, rows, anchors)
        assert _cli("verify").returncode == 0, name
        tamper(clinic, audit_anchor.anchor_file())
        run = _cli("verify")
        assert run.returncode == 1 and "TAMPERED" in run.stdout, (name, run.stdout)
        assert expected in run.stdout, (name, run.stdout)
        problems = [line for line in run.stdout.splitlines() if line.startswith("  - ")]
        assert 1 <= len(problems) <= 2, (name, run.stdout)  # one line per problem, not one per anchor
        detected.append(name)

    # What stays hidden (README): entries after the latest anchor.
    _put_back(clinic, rows, anchors)
    with transaction(clinic) as session:
        session.execute(delete(models.AuditEntry).where(models.AuditEntry.id > 15))
    assert _cli("verify").returncode == 0
    # ... unless the head line was kept elsewhere, and the anchor file goes too.
    _put_back(clinic, rows, anchors)
    _delete_newest(clinic, audit_anchor.anchor_file())
    audit_anchor.anchor_file().unlink()
    assert "No anchors yet" in _cli("verify").stdout
    kept_elsewhere = _cli("verify", "--head", line)
    assert kept_elsewhere.returncode == 1 and "newest entries deleted" in kept_elsewhere.stdout
    detected.append("anchor file removed, newest deleted (head line kept elsewhere)")
    figure(f"audit anchors ({clinic.split(':')[0]}): {len(detected)}/{len(TAMPERING) + 1} tamper cases detected "
           f"through `audit verify` ({'; '.join(detected)}); entries after the latest anchor stay undetectable "
           f"(documented)")


def test_an_anchor_every_100_committed_entries(clinic):
    for n in range(99):
        with (read_transaction(clinic) if n % 2 else transaction(clinic)) as connection:
            audit.record(connection, CLINICIAN, "view", detail=f"page {n}")
    # entry 100 is written, then its use case fails and rolls back
    with pytest.raises(RuntimeError), transaction(clinic) as session:
        audit.record(session, CLINICIAN, "view", detail="rolled back")
        raise RuntimeError("the use case failed")
    audit_anchor.wait_for_automatic_anchors()
    for n in range(150):
        with (read_transaction(clinic) if n % 2 else transaction(clinic)) as connection:
            audit.record(connection, CLINICIAN, "view", detail=f"page {99 + n}")
    audit_anchor.wait_for_automatic_anchors()

    path = audit_anchor.anchor_file()
    anchors, problems = audit_anchor.read_anchors(path, signing_key(create=False))
    assert not problems and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(a.reason == "every 100 entries" for a in anchors)
    # Only committed state: the rolled-back entry 100 was never anchored, the 99 before it were.
    assert (anchors[0].entries, anchors[0].last_id) == (99, 99)
    # Then one anchor per hundred committed entries (ids 100 and 200, or 101 and 200 where PostgreSQL's
    # sequence skipped the rolled-back id).
    assert [a.last_id // 100 for a in anchors[1:]] == [1, 2]
    hashes = {row["id"]: row["entry_hash"] for row in _rows(clinic)}
    for anchor in anchors:
        assert hashes[anchor.last_id] == anchor.last_hash
        assert len([i for i in hashes if i <= anchor.last_id]) == anchor.entries
    run = _cli("verify")
    assert run.returncode == 0 and "intact: 249 entries" in run.stdout and "3 anchor(s)" in run.stdout, run.stdout


@pytest.mark.parametrize("umask", [0o000, 0o277])
def test_anchor_file_is_0600_whatever_the_umask(clinic, umask):
    _append(clinic, 3)
    run = _cli("anchor", umask=umask)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("entries=3 last_id=3 ")
    assert stat.S_IMODE(audit_anchor.anchor_file().stat().st_mode) == 0o600
    assert "new signing key" in run.stderr  # created with the first anchor, and said so once
    assert _cli("anchor").stderr == ""


ANCHOR_WRITER = """
import sys
from tracker.access import audit_anchor
for _ in range(int(sys.argv[1])):
    audit_anchor.write_anchor(reason="backup")
"""


def test_concurrent_anchor_writers_append_whole_lines(clinic):
    _append(clinic, 4)
    signing_key()  # made once here, not raced for by the writers
    writers = [subprocess.Popen([sys.executable, "-c", ANCHOR_WRITER, "20"], cwd=ROOT, env={**os.environ},
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    anchors, problems = audit_anchor.read_anchors(audit_anchor.anchor_file(), signing_key(create=False))
    assert not problems and len(anchors) == 80
    assert {(a.entries, a.last_id) for a in anchors} == {(4, 4)}


def test_write_anchor_returns_the_committed_head(clinic):
    _append(clinic, 2)
    anchor = audit_anchor.write_anchor(clinic)
    with transaction(clinic) as session:
        assert session.scalar(select(func.count(models.AuditEntry.id))) == anchor.entries == 2
    assert anchor.reason == "backup" and anchor.line().startswith("entries=2 last_id=2 last_hash=")
    assert audit_anchor.parse_line(anchor.line()) == audit_anchor.Anchor(2, 2, anchor.last_hash,
                                                                        anchor.at.replace(microsecond=0), "given")
    assert audit_anchor.anchor_file() == settings().data_dir / "audit-anchors.jsonl"
    for line in ("entries=two", "entries=-1 last_id=-5 last_hash=ab12 at=2026-01-05T09:30:00Z",
                 "entries=0 last_id=7 last_hash=ab12 at=2026-01-05T09:30:00Z"):
        bad = _cli("verify", "--head", line)
        assert bad.returncode == 1 and "is not a head line" in bad.stderr, (line, bad.stderr)


def test_anchors_without_their_key_are_a_problem_not_a_pass(clinic, monkeypatch):
    monkeypatch.delenv("TRACKER_BACKUP_KEY", raising=False)  # the key file, then, is the only key
    _append(clinic, 2)
    _anchor_now()
    assert _cli("verify").returncode == 0
    key_file = settings().data_dir / "backup.key"
    key_file.rename(key_file.with_suffix(".elsewhere"))
    run = _cli("verify")
    assert run.returncode == 1 and "the anchors cannot be checked: No signing key" in run.stdout, run.stdout
    assert "the key that signed this installation's audit anchors" in run.stdout
    assert "wrote the backup" not in run.stdout
    # No new key replaces the lost one while anchors signed with it remain: `audit anchor` refuses, in one line.
    anchored = _cli("anchor")
    assert anchored.returncode == 1 and "Traceback" not in anchored.stderr, anchored.stderr
    assert f"signing key {key_file} is missing but this installation has signed anchors" in anchored.stderr
    assert not key_file.exists()


def test_the_automatic_anchor_logs_one_line_when_the_key_is_lost(clinic, monkeypatch, caplog):
    monkeypatch.delenv("TRACKER_BACKUP_KEY", raising=False)
    _append(clinic, 2)
    _anchor_now()
    (settings().data_dir / "backup.key").unlink()
    engine = audit_anchor.engine_for(clinic)
    with engine.connect() as connection:
        pass
    with caplog.at_level("ERROR", logger="tracker.access.audit_anchor"):
        audit_anchor._anchor_committed(connection, engine, settings().data_dir)
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("ERROR", None)]
    assert "is missing but this installation has signed anchors" in caplog.records[0].getMessage()
    assert not (settings().data_dir / "backup.key").exists()
