"""Restore is all or nothing: killed with SIGKILL at every stage (``TRACKER_TEST_KILL_AT``, the test hook in
tracker/backup.py), the installation is either untouched or completely restored, ``check`` does not call it
broken, and running the same restore again finishes it, on SQLite and PostgreSQL.

The kill points run as one chain over one installation: two backups, A and B (B has a patient, photos, a
document and an account A lacks), restored in turn, so each point starts from the state the previous one
left: a new installation first (no --force; its interrupted restore is finished without --force too), then
clinics in use replaced with --force, files added (A → B) and removed (B → A).
"""

from __future__ import annotations

import json
import signal

from tests.test_backup import (  # noqa: F401 (new_installation is a fixture)
    Installation,
    State,
    assert_restored,
    cli,
    make_clinic,
    new_installation,
    restored_from,
    state_of,
)


def _files_in(folder) -> int:
    return sum(entry["path"].startswith("files/") for entry in json.loads((folder / "manifest.json").read_text())["files"])


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
    target = new_installation("target")
    assert cli(target, "init").returncode == 0
    survived = []
    for step, (name, point) in enumerate(chain):
        folder, expected = backups[name]
        force = ["--force"] if step else []  # the first restore is into the new installation
        before = state_of(target)
        killed = cli(target, "restore", str(folder), *force, TRACKER_TEST_KILL_AT=point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr)

        after = state_of(target)
        untouched = after.rows == before.rows and all(after.files.get(p) == h for p, h in before.files.items())
        assert untouched or restored_from(after, expected), (point, _tables_differing(after, before, expected))
        checked = cli(target, "check")  # leftovers of the kill are explained, not reported as damage
        assert checked.returncode == 0, (point, checked.stdout)

        again = cli(target, "restore", str(folder), *force)
        assert again.returncode == 0, (point, again.stderr)
        assert_restored(target, expected)
        survived.append(f"{point} ({'untouched' if untouched else 'restored'})")

    dialect = "PostgreSQL" if clinic.startswith("postgresql") else "SQLite"
    figure(f"restore kill points survived on {dialect}: {len(survived)}/{len(chain)}: {', '.join(survived)}")


def _tables_differing(after: State, before: State, expected: State) -> str:
    return (f"vs before: {[t for t in after.rows if after.rows[t] != before.rows.get(t)]}; "
            f"vs backup: {[t for t in expected.rows if after.rows.get(t) != expected.rows[t]]}")
