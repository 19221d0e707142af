"""Demo accounts: created only together with the demo clinic, flagged ``is_demo``, never otherwise.

Their passwords are random per installation (a demo loaded on a clinic's server must not open it with a
published password). They are printed once, by the run that created them, and kept in
``<data dir>/demo-accounts.txt``, readable by its owner only; later runs only say where that file is.
``remove_demo_accounts`` removes every demo account and the file in one step.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import delete, select

from db import models
from tracker.access import audit
from tracker.access.accounts import create_user, keep_an_enabled_admin
from tracker.access.actors import ADMIN, CLINICIAN, PATIENT, Actor, command_line_actor, require_role
from tracker.config import settings
from tracker.database import transaction

DEMO_PATIENT_MRN = "DEMO-0001"
DEMO_ACCOUNTS = (("demo.admin", ADMIN, None), ("demo.clinician", CLINICIAN, None),
                 ("demo.patient", PATIENT, DEMO_PATIENT_MRN))
HEADER = "# DEMO accounts of the fictional demo clinic (random passwords for this installation)"


def credentials_file() -> Path:
    return settings().data_dir / "demo-accounts.txt"


def _read_saved() -> dict[str, str]:
    path = credentials_file()
    if not path.exists():
        return {}
    saved = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith("#"):
            saved[parts[0]] = parts[2]
    return saved


def _write_owner_only(path: Path, text: str) -> None:
    """Write through a new file that is 0600 from its creation (never readable by others, not even briefly),
    then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)  # whatever the umask did
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def ensure_demo_accounts(url: str | None = None) -> list[tuple[str, str, str]]:
    """Create the missing demo accounts; returns (username, role, password) of those created now only.

    The demo patient's account needs the demo patient (``DEMO-0001``); without it, it is not created.
    """
    saved = _read_saved()
    with transaction(url) as session:
        existing = set(session.scalars(select(models.User.username)))
        has_demo_patient = session.scalar(select(models.Patient.id).where(models.Patient.mrn == DEMO_PATIENT_MRN))
    created = []
    for username, role, mrn in DEMO_ACCOUNTS:
        if username in existing or (mrn and not has_demo_patient):
            continue
        password = "demo-" + secrets.token_urlsafe(9)
        create_user(command_line_actor("demo"), username=username, password=password, role=role,
                    patient_mrn=mrn, is_demo=True, url=url)
        saved[username] = password
        created.append((username, role, password))
    if created:
        lines = [HEADER] + [f"{name} {role} {saved[name]}" for name, role, _ in DEMO_ACCOUNTS if name in saved]
        _write_owner_only(credentials_file(), "\n".join(lines) + "\n")
    return created


def demo_accounts_banner(created: list[tuple[str, str, str]]) -> str:
    """The passwords of the accounts created by this run; otherwise where they are kept (or nothing)."""
    if created:
        rows = [f"  {name:<16} {role:<10} password: {password}" for name, role, password in created]
        return ("DEMO accounts (fictional demo clinic only; remove them before real use: "
                "python -m tracker user remove-demo):\n" + "\n".join(rows)
                + f"\nThese passwords are shown once; they are kept in {credentials_file()} (owner-only).")
    return demo_accounts_note()


def demo_accounts_note() -> str:
    """Where the demo passwords are, for runs that did not create them; empty when there are none."""
    if not credentials_file().exists():
        return ""
    return (f"DEMO accounts: their passwords are in {credentials_file()} (owner-only). Remove them before real "
            "use: python -m tracker user remove-demo")


def remove_demo_accounts(actor: Actor, url: str | None = None) -> list[str]:
    """Remove every demo account (and the file of their passwords) in one step; returns their usernames.

    Refused when a demo admin is the clinic's last enabled admin: create a real one first.
    """
    require_role(actor, ADMIN)
    with transaction(url) as session:
        demo = dict(session.execute(
            select(models.User.id, models.User.username).where(models.User.is_demo.is_(True))
            .order_by(models.User.username)
        ).all())
        if demo:
            keep_an_enabled_admin(session, leaving=set(demo))
            session.execute(delete(models.User).where(models.User.id.in_(demo)))
            audit.record(session, actor, "account", detail="removed the demo accounts " + ", ".join(demo.values()))
    credentials_file().unlink(missing_ok=True)
    return list(demo.values())
