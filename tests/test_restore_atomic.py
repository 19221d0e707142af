"""Restore is all or nothing: killed with SIGKILL at every stage (``TRACKER_TEST_KILL_AT``, the test hook in
tracker/operations/restore.py), the installation is either untouched or completely restored, ``check`` does not call it
broken, and running the same restore again finishes it, on SQLite and PostgreSQL.

The kill points run as one chain over one installation: two backups, A and B (B has a patient, photos, a
document and an account A lacks), restored in turn, so each point starts from the state the previous one
left: a new installation first (no --force; its interrupted restore is finished without --force too), then
clinics in use replaced with --force, files added (A → B) and removed (B → A).
"""

from __future__ import annotations

import json
import signal

from tests.backup_samples import (
    Installation,
    State,
    assert_restored,
    cli,
    make_clinic,
    no_traceback,
    restored_from,
    state_of,
)
from tracker.access import audit
from tracker.access.actors import command_line_actor
from tracker.database import transaction


def _files_in(folder) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    return sum(entry["path"].startswith("files/") for entry in manifest["files"])


def test_a_killed_restore_leaves_the_old_or_the_new_installation(clinic, tmp_path, new_installation, figure):
    source = Installation(tmp_path / "data", clinic)
    make_clinic(clinic, limit=3)
    backups: dict[str, tuple] = {}
    for name, limit in (("A", 3), ("B", 4)):
        if limit == 4:
            make_clinic(clinic, limit=4)
        state = state_of(source)
        written = cli(source, "backup", str(tmp_path / name))
        assert written.returncode == 0, written.stderr
        backups[name] = (tmp_path / name, state)
    assert set(backups["B"][1].files) > set(backups["A"][1].files)

    half = _files_in(backups["B"][0]) // 2
    chain = [("A", "committed"), ("B", "verified"), ("A", "journal"), ("B", "files:1"), ("A", f"files:{half}"),
             ("B", f"files:{half}"), ("A", "anchors"), ("B", "database:1"), ("A", "database:8"), ("B", "commit"),
             ("A", "cleanup:1"), ("B", "committed")]
    if clinic.startswith("postgresql"):
        # Every point on SQLite; on PostgreSQL (each restore there takes seconds) the first restore, half the
        # files, inside the row transaction, just before the commit, the clean-up and just after the commit,
        # ending on B as the full chain does (the journal check below restores A over it).
        chain = [chain[0], ("B", f"files:{half}"), ("A", "database:8"), ("B", "commit"), ("A", "cleanup:1"),
                 ("B", "committed")]
    target = new_installation("target")
    assert cli(target, "init").returncode == 0
    survived = []
    for step, (name, point) in enumerate(chain):
        folder, expected = backups[name]
        force = ["--force"] if step else []  # the first restore is into the new installation
        before = state_of(target)
        anchors_before = _anchors(target)
        killed = cli(target, "restore", str(folder), *force, TRACKER_TEST_KILL_AT=point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr)

        after = state_of(target)
        untouched = after.rows == before.rows and all(after.files.get(p) == h for p, h in before.files.items())
        assert untouched or restored_from(after, expected), (point, _tables_differing(after, before, expected))
        if untouched:  # the old trail keeps its anchors until the restore has committed
            assert _anchors(target) == anchors_before, point
        _check_explains_the_kill(target, folder, point)

        again = cli(target, "restore", str(folder), *force)
        assert again.returncode == 0, (point, again.stderr)
        assert_restored(target, expected)
        survived.append(f"{point} ({'untouched' if untouched else 'restored'})")

    dialect = "PostgreSQL" if clinic.startswith("postgresql") else "SQLite"
    figure(f"restore kill points survived on {dialect}: {len(survived)}/{len(chain)}: {', '.join(survived)}")

    # A leftover journal is no licence: `check --repair` removes it with the restore's markers ...
    folder, expected = backups["A"]
    before = state_of(target)
    assert cli(target, "restore", str(folder), "--force", TRACKER_TEST_KILL_AT="files:1").returncode == -signal.SIGKILL
    repaired = cli(target, "check", "--repair")
    assert "UNFINISHED RESTORE" in repaired.stdout and repaired.returncode == 0, repaired.stdout
    assert not (target.data_dir / "restore-journal.json").exists() and _clinic_rows(target) == _clinic_rows(before)
    assert "RESTORE LEFTOVERS" not in repaired.stdout.split("After repair:")[1]
    # ... and once the installation has changed since the kill (weeks of use), the same restore needs --force.
    assert cli(target, "restore", str(folder), "--force", TRACKER_TEST_KILL_AT="files:1").returncode == -signal.SIGKILL
    with transaction(target.url) as session:
        audit.record(session, command_line_actor("clinic"), "view", detail="weeks later")
    changed = state_of(target)
    refused = cli(target, "restore", str(folder))
    no_traceback(refused)
    assert refused.returncode == 1 and "has changed since it started" in refused.stderr and "--force" in refused.stderr
    assert state_of(target).rows == changed.rows
    checked = cli(target, "check")
    assert checked.returncode == 1 and f"UNFINISHED RESTORE: a restore of backup {folder}" in checked.stdout
    forced = cli(target, "restore", str(folder), "--force")
    assert forced.returncode == 0, forced.stderr
    assert_restored(target, expected)


def _clinic_rows(where: Installation | State) -> dict[str, list[tuple]]:
    """Every table's rows but the check's own bookkeeping (where it left off: ``maintenance_state``)."""
    rows = (where if isinstance(where, State) else state_of(where)).rows
    return {table: found for table, found in rows.items() if table != "maintenance_state"}


def _anchors(where: Installation) -> bytes | None:
    path = where.data_dir / "audit-anchors.jsonl"
    return path.read_bytes() if path.exists() else None


def _check_explains_the_kill(where: Installation, folder, point: str) -> None:
    """`check` after a kill: an interrupted restore is one line naming the backup (exit 1: it needs finishing),
    its markers one line per store; never an upload "still running", an orphan or a missing file."""
    checked = cli(where, "check")
    lines = checked.stdout.splitlines()
    assert not [line for line in lines if line.startswith(("IN PROGRESS", "INTERRUPTED", "ORPHAN", "MISSING",
                                                           "ALTERED"))], (point, checked.stdout)
    assert len([line for line in lines if line.startswith("RESTORE LEFTOVERS")]) <= 2, (point, checked.stdout)
    if (where.data_dir / "restore-journal.json").exists():
        assert checked.returncode == 1, (point, checked.stdout)
        assert [line for line in lines if line.startswith("UNFINISHED RESTORE")] == [
            next(line for line in lines if line.startswith(f"UNFINISHED RESTORE: a restore of backup {folder} "))]
    else:
        assert checked.returncode == 0, (point, checked.stdout)


def _tables_differing(after: State, before: State, expected: State) -> str:
    return (f"vs before: {[t for t in after.rows if after.rows[t] != before.rows.get(t)]}; "
            f"vs backup: {[t for t in expected.rows if after.rows.get(t) != expected.rows[t]]}")
