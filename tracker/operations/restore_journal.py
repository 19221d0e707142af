"""The restore journal and what it records of an installation: ``restore-journal.json`` in the data dir names the
backup being restored and the installation it started from (its records by table and the audit trail's head),
so that an interrupted restore is finished without ``--force`` only while the installation is still that one,
or already the backup's. ``check`` reads it too (``tracker.operations.consistency``), and tells a running restore
from an interrupted one by the data dir's lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select

from db import models
from db.engine import engine_for
from tracker.course.milestones import DEFAULT_PROTOCOL, SALT_PROTOCOL
from tracker.errors import ValidationError
from tracker.operations.backup_format import _HashingWriter, _sqlite_path
from tracker.progress.outlook_tally import STATE as TALLY_STATE

JOURNAL = "restore-journal.json"

# What an installation's tables hold, in the words of the refusal message (singular, plural); clinical
# records first. A table missing here is named as it is.
_RECORD_WORDS = {
    "patient": ("patient", "patients"), "visit": ("visit", "visits"),
    "treatment_session": ("treatment session", "treatment sessions"), "photo": ("photo", "photos"),
    "batch_document": ("batch document", "batch documents"),
    "density_measurement": ("density measurement", "density measurements"),
    "scale_score": ("scale score", "scale scores"),
    "concurrent_therapy": ("concurrent therapy", "concurrent therapies"),
    "change_record": ("correction", "corrections"), "user_account": ("account", "accounts"),
    "protocol": ("protocol besides the seeded ones", "protocols besides the seeded ones"),
    "audit_entry": ("audit-trail entry", "audit-trail entries"),
    "sign_in_attempt": ("sign-in attempt", "sign-in attempts"),
}


def installation_records(url: str) -> dict[str, int]:
    """What an installation holds besides what ``initialize`` seeds (the default and the SALT protocol,
    unedited), by table."""
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return {}
    counts: dict[str, int] = {}
    with engine_for(url).connect() as connection:
        existing = set(inspect(connection).get_table_names())
        for table in models.Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            query = select(func.count()).select_from(table)
            if table.name == "protocol":  # the seeded protocols are set-up, not the clinic's data
                seeded = (table.c.name.in_((DEFAULT_PROTOCOL.name, SALT_PROTOCOL.name))
                          & (table.c.created_by == "system") & (table.c.version == 1))
                query = query.where(~seeded)
            elif table.name == "maintenance_state":  # the list tally's version: set-up too (``outlook_tally``)
                query = query.where(table.c.name != TALLY_STATE)
            count = connection.execute(query).scalar() or 0
            if count:
                counts[table.name] = count
        connection.rollback()
    return counts


def _describe(records: dict[str, int]) -> str:
    """
    >>> _describe({"audit_entry": 1, "patient": 3, "address_throttle": 1})
    '3 patients, 1 audit-trail entry, 1 row of address_throttle'
    """
    order = list(_RECORD_WORDS)
    named = sorted(records, key=lambda name: (order.index(name) if name in order else len(order), name))
    words = {name: _RECORD_WORDS.get(name, (f"row of {name}", f"rows of {name}")) for name in named}
    return ", ".join(f"{records[name]} {words[name][records[name] != 1]}" for name in named)


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data``."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    out = _HashingWriter(partial)
    out.write(data)
    out.close()
    os.replace(partial, path)


def _restore_detail(digest: str, taken_at: str = "") -> str:
    return f"restored backup {digest[:12]} taken {taken_at}"


_audit_table = models.AuditEntry.__table__


def installation_state(url: str) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """What a restore journal records of the installation before the restore starts (its records by table and
    the audit trail's head), and the newest audit entry's (action, detail), or None."""
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return {"records": {}, "audit_head": None}, None
    with engine_for(url).connect() as connection:
        row = None
        if "audit_entry" in inspect(connection).get_table_names():
            row = connection.execute(select(_audit_table.c.id, _audit_table.c.entry_hash, _audit_table.c.action,
                                            _audit_table.c.detail).order_by(_audit_table.c.id.desc()).limit(1)).first()
        connection.rollback()
    fingerprint = {"records": installation_records(url), "audit_head": [row.id, row.entry_hash] if row else None}
    return fingerprint, ((row.action, row.detail or "") if row else None)


def restore_committed(newest: tuple[str, str] | None, digest: str) -> bool:
    """Whether the newest audit entry is the restore of the backup ``digest``: its transaction committed and
    nothing was written since (the installation is that backup's state)."""
    return newest is not None and newest[0] == "restore" and newest[1].startswith(_restore_detail(digest))


def read_journal(data_dir: Path) -> dict[str, Any] | None:
    """The unfinished restore's journal (backup digest, folder, start, the installation it saw), or None."""
    try:
        journal = json.loads((data_dir / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        return {}
    return journal if isinstance(journal, dict) else {}


def restore_running(data_dir: Path) -> bool:
    """Whether a restore is running on ``data_dir`` now (it holds the data dir's lock for its whole run)."""
    try:
        descriptor = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # releases a lock taken here


def _lock_data_dir(data_dir: Path) -> int:
    descriptor = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise ValidationError(f"Another restore is running on {data_dir}: wait for it to end.") from None
    return descriptor
