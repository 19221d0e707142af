"""Backup and restore (``tracker.operations.restore``) through the command line, on SQLite and PostgreSQL: a clinic
with photos, a batch document, accounts, sign-in attempts and its audit trail comes back with every row and every
file hash identical, into a new installation (no data dir yet, or one just made by ``init``); an installation in
use is replaced only with ``--force``; the signing key is made once and needed to restore. Tampering:
test_backup_verify.py; kills: test_restore_atomic.py.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

from db import models
from tests.backup_samples import (
    Installation,
    _run_on,
    assert_restored,
    cli,
    make_clinic,
    no_traceback,
    rows_of,
    state_of,
)
from tracker.photos.aligned_pairs import pair_key


def test_restore_into_a_new_installation_brings_back_every_row_and_file(clinic, tmp_path, new_installation):
    make_clinic(clinic)
    source = Installation(tmp_path / "data", clinic)
    expected = state_of(source)
    assert expected.rows["photo"] and expected.rows["batch_document"] and expected.rows["sign_in_attempt"]
    assert any(path.startswith("documents/") for path in expected.files)
    written = cli(source, "backup", str(tmp_path / "backup"))
    assert written.returncode == 0, written.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert set(manifest["rows"]) == {table.name for table in models.Base.metadata.sorted_tables}
    assert {entry["path"] for entry in manifest["files"]} == (
        {f"tables/{name}.jsonl" for name in manifest["rows"]} | {f"files/{path}" for path in expected.files})

    missing = new_installation("missing")  # no data dir, no database yet
    assert not missing.data_dir.exists()
    restored = cli(missing, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    assert_restored(missing, expected)

    initialised = new_installation("initialised")  # `init` seeded the default protocol and the SALT one
    assert cli(initialised, "init").returncode == 0
    assert [row[1] for row in rows_of(initialised.url)["protocol"]] == ["Exosome (default)", "Alopecia areata (SALT)"]
    restored = cli(initialised, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    assert_restored(initialised, expected)

    # Now the installation holds records: refused, naming them, and nothing changes; --force replaces it.
    before = state_of(initialised)
    again = cli(initialised, "restore", str(tmp_path / "backup"))
    assert again.returncode == 1
    no_traceback(again)
    assert "already holds records (3 patients," in again.stderr and "--force" in again.stderr
    assert state_of(initialised) == before
    forced = cli(initialised, "restore", str(tmp_path / "backup"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert_restored(initialised, expected)


def test_force_replaces_an_installation_in_use(clinic, tmp_path, new_installation, monkeypatch):
    make_clinic(clinic)
    source = Installation(tmp_path / "data", clinic)
    expected = state_of(source)
    assert cli(source, "backup", str(tmp_path / "backup")).returncode == 0

    other = new_installation("other")  # another clinic: one more patient and photos the backup lacks
    monkeypatch.setenv("TRACKER_DATA_DIR", str(other.data_dir))
    monkeypatch.setenv("DATABASE_URL", other.url)
    assert cli(other, "init").returncode == 0
    make_clinic(other.url, limit=4)
    assert cli(other, "backup", str(tmp_path / "other-backup")).returncode == 0  # anchors its audit trail
    before = state_of(other)
    assert set(before.files) - set(expected.files)

    refused = cli(other, "restore", str(tmp_path / "backup"))
    assert refused.returncode == 1
    no_traceback(refused)
    assert "4 patients" in refused.stderr and "1 account" in refused.stderr and "audit-trail entries" in refused.stderr
    assert state_of(other) == before

    # Another application's table in the same schema (or SQLite file) is none of the restore's business.
    _run_on(other.url, "CREATE TABLE other_app_notes (id integer primary key, note varchar(40))",
            "INSERT INTO other_app_notes VALUES (1, 'keep me')")
    (other.data_dir / "demo-accounts.txt").write_text("demo.admin  stale-password-of-replaced-accounts\n")
    if other.url.startswith("sqlite"):  # the app holds the write lock: one line, stop the app first
        holder = sqlite3.connect(other.url.split("///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy = cli(other, "restore", str(tmp_path / "backup"), "--force", TRACKER_BUSY_TIMEOUT_SECONDS="0.5")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        no_traceback(busy)
        assert busy.returncode == 1 and "database is busy" in busy.stderr and "Stop the app first" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1, busy.stderr
        assert state_of(other) == before and not (other.data_dir / "restore-journal.json").exists()

    # Aligned before/after copies (derived data) of the other clinic's photos would outlive their photos.
    restored_shas = {row[0] for row in _run_on(clinic, "SELECT sha256 FROM photo")}
    other_shas = sorted({row[0] for row in _run_on(other.url, "SELECT sha256 FROM photo")} - restored_shas)
    kept_pair = sorted(restored_shas)[:2]
    derived = other.data_dir / "derived"
    for earlier, later in ((other_shas[0], other_shas[1]), (kept_pair[0], kept_pair[1])):
        copy = derived / pair_key(earlier, later, "jpg")
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(b"aligned copy")

    forced = cli(other, "restore", str(tmp_path / "backup"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert_restored(other, expected)  # the other clinic's extra photos are gone, its anchors set aside
    assert sorted(path.relative_to(derived).as_posix() for path in derived.rglob("*.jpg")) == [
        pair_key(kept_pair[0], kept_pair[1], "jpg")]
    assert list(other.data_dir.glob("audit-anchors.replaced-*.jsonl"))
    assert _run_on(other.url, "SELECT note FROM other_app_notes") == [("keep me",)]
    assert not (other.data_dir / "demo-accounts.txt").exists()  # its passwords were the replaced accounts'


def test_the_signing_key_is_made_once_and_needed_to_restore(sqlite_clinic, tmp_path):
    make_clinic(sqlite_clinic, limit=1)
    source = Installation(tmp_path / "data", sqlite_clinic)
    first = cli(source, "backup", str(tmp_path / "b1"), key=None)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "data" / "backup.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "A new signing key was created" in first.stdout
    second = cli(source, "backup", str(tmp_path / "b2"), key=None)
    assert second.returncode == 0 and "signing key" not in second.stdout

    # The key file lost while its anchors remain: no new key replaces it (older anchors would read as
    # forged, older backups could not be restored); one line says to put it back.
    key_file.rename(tmp_path / "kept-apart.key")
    for command in (["backup", str(tmp_path / "b3")], ["audit", "anchor"]):
        refused = cli(source, *command, key=None)
        no_traceback(refused)
        assert refused.returncode == 1, (command, refused.stdout)
        assert "is missing but this installation has signed anchors: put the old key back" in refused.stderr
        assert not key_file.exists() and not (tmp_path / "b3").exists()
    (tmp_path / "kept-apart.key").rename(key_file)

    new_server = Installation(tmp_path / "new", f"sqlite:///{tmp_path / 'new' / 'tracker.db'}")
    refused = cli(new_server, "restore", str(tmp_path / "b2"), key=None)
    assert refused.returncode == 1
    no_traceback(refused)
    assert "No signing key" in refused.stderr and "TRACKER_BACKUP_KEY" in refused.stderr
    assert not new_server.data_dir.exists()  # refused before anything was written
    new_server.data_dir.mkdir()
    shutil.copy(key_file, new_server.data_dir / "backup.key")
    restored = cli(new_server, "restore", str(tmp_path / "b2"), key=None)
    assert restored.returncode == 0, restored.stderr


def test_a_backup_made_before_the_last_upgrade_restores(clinic, tmp_path, new_installation):
    """Found by review: the restore wrote the rows through today's models, whose defaults named columns a later
    migration added, so a backup made before an upgrade could not be restored ("table patient_outlook has no column
    named mrn"; the same for 0007 backups and ``density_measurement.method``). This backup is made as release 0008
    made them (the columns and the table migration 0009 added taken out, signed again with the key): it restores,
    every row comes back, and the lists are complete once the installation has started (its outlook and list tally
    rebuilt for this release)."""
    import hashlib

    from tests.backup_samples import KEY
    from tracker.access.signing import SigningKey
    from tracker.operations.backup_format import _canonical

    make_clinic(clinic)
    source = Installation(tmp_path / "data", clinic)
    assert cli(source, "backup", str(tmp_path / "backup")).returncode == 0
    folder = tmp_path / "backup"
    manifest = json.loads((folder / "manifest.json").read_text())
    added_by_0009 = {"patient_outlook": {"mrn"}, "outlook_span": {"target_soon", "opens_soon"}}
    for table in ("patient_outlook", "outlook_span", "maintenance_state"):
        path = folder / "tables" / f"{table}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows = [{k: v for k, v in row.items() if k not in added_by_0009.get(table, set())} for row in rows
                if row.get("name") != "outlook tally"]
        for row in rows:
            if "engine_version" in row:
                row["engine_version"] = 3  # the outlook as release 0008 computed it
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        manifest["rows"][table] = len(rows)
    (folder / "tables" / "outlook_tally.jsonl").unlink()
    del manifest["rows"]["outlook_tally"]
    manifest["files"] = [entry for entry in manifest["files"] if entry["path"] != "tables/outlook_tally.jsonl"]
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert manifest["schema_revision"] >= "0009"  # the head, past 0008
    manifest["schema_revision"] = "0008"
    manifest["signature"]["value"] = SigningKey(KEY.encode(), "test").sign(_canonical(manifest))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    expected = state_of(source)

    target = new_installation("older")
    restored = cli(target, "restore", str(folder))
    assert restored.returncode == 0, restored.stderr
    no_traceback(restored)
    assert "Warning" not in restored.stderr, restored.stderr  # SQLAlchemy's, on reading the tables back
    after = state_of(target)
    derived = {"patient_outlook", "outlook_span", "outlook_tally", "maintenance_state", "audit_entry",
               "audit_patient"}
    assert {t: r for t, r in after.rows.items() if t not in derived} == {
        t: r for t, r in expected.rows.items() if t not in derived}
    checked = cli(target, "check")  # starts as every command does: rebuilds the outlook, counts the tally
    assert checked.returncode == 0 and not any(line.startswith("Whole-clinic lists:")
                                               for line in checked.stdout.splitlines()), checked.stdout
    patients = rows_of(target.url)["patient"]
    outlooks = rows_of(target.url)["patient_outlook"]
    assert len(outlooks) == len(patients) and all(row[2] for row in outlooks)  # every MRN filled in again
