"""Demo accounts: created only together with the demo clinic, flagged ``is_demo``, never otherwise.

Their passwords are random per installation (a demo loaded on a clinic's server must not open it with a
published password) and kept in ``<data dir>/demo-accounts.txt`` (owner-only) so ``make run`` can show
them again on every start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import select

from db import models
from tracker.access import ADMIN, CLINICIAN, PATIENT, command_line_actor
from tracker.accounts import create_user
from tracker.config import settings
from tracker.database import transaction

DEMO_PATIENT_MRN = "DEMO-0001"
DEMO_ACCOUNTS = (("demo.admin", ADMIN, None), ("demo.clinician", CLINICIAN, None),
                 ("demo.patient", PATIENT, DEMO_PATIENT_MRN))


def _credentials_file() -> Path:
    return settings().data_dir / "demo-accounts.txt"


def _read_saved() -> dict[str, str]:
    path = _credentials_file()
    if not path.exists():
        return {}
    saved = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith("#"):
            saved[parts[0]] = parts[2]
    return saved


def ensure_demo_accounts(url: str | None = None) -> list[tuple[str, str, str | None]]:
    """Create the missing demo accounts; returns (username, role, password or None if unknown)."""
    saved = _read_saved()
    with transaction(url) as session:
        existing = set(session.scalars(select(models.User.username)))
        has_demo_patient = session.scalar(select(models.Patient.id).where(models.Patient.mrn == DEMO_PATIENT_MRN))
    for username, role, mrn in DEMO_ACCOUNTS:
        if username in existing or (mrn and not has_demo_patient):
            continue
        password = "demo-" + secrets.token_urlsafe(9)
        create_user(command_line_actor("demo"), username=username, password=password, role=role,
                    patient_mrn=mrn, is_demo=True, url=url)
        saved[username] = password
    path = _credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# DEMO accounts of the fictional demo clinic (random passwords for this installation)"]
    lines += [f"{name} {role} {saved.get(name, '?')}" for name, role, _ in DEMO_ACCOUNTS if name in saved]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return [(name, role, saved.get(name)) for name, role, _ in DEMO_ACCOUNTS]


def demo_accounts_banner(accounts: list[tuple[str, str, str | None]]) -> str:
    rows = [f"  {name:<16} {role:<10} password: {password or '(set before; see demo-accounts.txt)'}"
            for name, role, password in accounts]
    return "DEMO accounts (fictional demo clinic only; remove or disable them before real use):\n" + "\n".join(rows)
