"""A backup proves its own integrity: each way of tampering with one is refused through the command line,
naming what is wrong, before anything is written (the new installation stays as it was: no data dir, no
tables), on SQLite and PostgreSQL. The closing figure counts the cases detected against those tried."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, inspect

from db.engine import normalize_url
from tests.backup_samples import KEY, Installation, cli, make_clinic, no_traceback
from tracker.access.signing import SigningKey
from tracker.operations.backup_format import _canonical


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _save(folder: Path, manifest: dict, *, sign: bool) -> None:
    """Write the manifest back; ``sign``: with the right key, as only a key holder could."""
    if sign:
        manifest["signature"]["value"] = SigningKey(KEY.encode(), "test").sign(_canonical(manifest))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _a_photo(folder: Path) -> str:
    return next(entry["path"] for entry in _manifest(folder)["files"] if entry["path"].startswith("files/photos/"))


def changed(folder: Path) -> str:
    path = folder / _a_photo(folder)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte different
    path.write_bytes(bytes(data))
    return "was changed"


def added(folder: Path) -> str:
    (folder / "files" / "photos" / "originals" / "extra.jpg").write_bytes(b"not in the manifest")
    return "files/photos/originals/extra.jpg was added"


def missing(folder: Path) -> str:
    path = _a_photo(folder)
    (folder / path).unlink()
    return f"{path} is missing"


def truncated(folder: Path) -> str:
    path = folder / "tables" / "patient.jsonl"
    path.write_bytes(path.read_bytes()[:-40])
    return "tables/patient.jsonl is truncated"


def path_traversal(folder: Path) -> str:
    (folder.parent / "outside.txt").write_text("outside the backup")
    manifest = _manifest(folder)
    manifest["files"].append({"path": "../outside.txt", "size": 18,
                              "sha256": "0" * 64})
    _save(folder, manifest, sign=True)
    return "'../outside.txt', which leaves the backup folder"


def absolute_path(folder: Path) -> str:
    manifest = _manifest(folder)
    manifest["files"].append({"path": "/etc/hostname", "size": 1, "sha256": "0" * 64})
    _save(folder, manifest, sign=True)
    return "'/etc/hostname', which leaves the backup folder"


def symlink(folder: Path) -> str:
    path = folder / _a_photo(folder)
    elsewhere = folder.parent / "same-bytes.jpg"
    shutil.copy(path, elsewhere)  # the link's target has the very bytes the manifest names
    path.unlink()
    os.symlink(elsewhere, path)
    return "is a symbolic link"


def rehashed_table_edit(folder: Path) -> str:
    """An admin account added to the accounts table, every hash, size and count in the manifest recomputed."""
    import hashlib

    path = folder / "tables" / "user_account.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    intruder = dict(rows[0], id=max(r["id"] for r in rows) + 1, username="intruder", role="admin", patient_id=None)
    path.write_text("".join(json.dumps(row) + "\n" for row in [*rows, intruder]))
    data = path.read_bytes()
    manifest = _manifest(folder)
    for entry in manifest["files"]:
        if entry["path"] == "tables/user_account.jsonl":
            entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest["rows"]["user_account"] += 1
    _save(folder, manifest, sign=False)
    return "signature does not match"


def signature_removed(folder: Path) -> str:
    manifest = _manifest(folder)
    del manifest["signature"]
    _save(folder, manifest, sign=False)
    return "carries no signature"


def manifest_removed(folder: Path) -> str:
    (folder / "manifest.json").unlink()
    return "manifest.json is missing"


def nested_manifest(folder: Path) -> str:
    """A manifest nested a hundred thousand lists deep (the JSON parser's recursion)."""
    (folder / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    return "manifest.json is not a readable manifest"


def oversized_manifest(folder: Path) -> str:
    """A manifest of 300 MB (sparse: no disk used), refused by its size before it is read."""
    with (folder / "manifest.json").open("r+b") as manifest:
        manifest.truncate(300 * 1_048_576)
    return "manifest.json is 300 MB, more than a backup's manifest can be (64 MB)"


CASES = [changed, added, missing, truncated, path_traversal, absolute_path, symlink, rehashed_table_edit,
         signature_removed, manifest_removed, nested_manifest, oversized_manifest]


def _untouched(where: Installation) -> bool:
    if where.url.startswith("sqlite"):
        return not where.data_dir.exists()
    engine = create_engine(normalize_url(where.url))
    try:
        with engine.connect() as connection:
            return not inspect(connection).get_table_names() and not where.data_dir.exists()
    finally:
        engine.dispose()


def test_every_tampered_backup_is_refused_before_anything_is_written(clinic, tmp_path, new_installation, figure):
    make_clinic(clinic, limit=2)
    source = Installation(tmp_path / "data", clinic)
    assert cli(source, "backup", str(tmp_path / "backup")).returncode == 0
    target = new_installation("target")
    detected: list[str] = []
    tried: list[str] = []

    def refused(name: str, folder: Path, words: str, key: str | None = KEY) -> None:
        tried.append(name)
        result = cli(target, "restore", str(folder), key=key)
        no_traceback(result)
        assert result.returncode == 1, (name, result.stdout)
        assert words in result.stderr, (name, result.stderr)
        assert "error:" in result.stderr
        assert _untouched(target), name
        detected.append(name)

    for case in CASES:
        folder = tmp_path / case.__name__ / "backup"
        shutil.copytree(tmp_path / "backup", folder, symlinks=True)
        refused(case.__name__, folder, case(folder))
    refused("wrong_key", tmp_path / "backup", "signature does not match", key="another-installations-key-" + "9" * 32)
    refused("no_key", tmp_path / "backup", "No signing key", key=None)

    # The untouched backup restores, so every refusal above was the tampering's doing.
    assert cli(target, "restore", str(tmp_path / "backup")).returncode == 0
    dialect = "PostgreSQL" if clinic.startswith("postgresql") else "SQLite"
    figure(f"backup tamper cases detected on {dialect}: {len(detected)}/{len(tried)} ({', '.join(tried)})")
