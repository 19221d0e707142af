"""``python -m tracker user …`` and ``demo`` run as an admin runs them: in a subprocess, on the clinic's
database (SQLite and PostgreSQL), reading only what they print and their exit codes."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from db import models
from tests.conftest import ROOT
from tracker.accounts import sign_in
from tracker.database import transaction

BOSS, PHRASE = "boss", "long enough phrase 42"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env={**os.environ},
                          capture_output=True, text=True, input=stdin, timeout=300)


def add(username: str, role: str = "admin") -> None:
    made = cli("user", "add", "--role", role, "--username", username, "--password-stdin", stdin=PHRASE + "\n")
    assert made.returncode == 0, made.stderr


def audit_details(url: str) -> list[str]:
    with transaction(url) as session:
        return list(session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "account")))


def test_disable_enable_and_the_last_admin(clinic):
    add(BOSS)
    last = cli("user", "disable", BOSS)
    assert last.returncode == 1 and "last enabled administrator" in last.stderr
    assert last.stderr.count("\n") == 1  # one line
    add("dr.lee", "clinician")
    disabled = cli("user", "disable", "dr.lee")
    assert disabled.returncode == 0 and "Disabled 'dr.lee'" in disabled.stdout
    assert re.search(r"^dr\.lee\s+clinician\s+DISABLED$", cli("user", "list").stdout, re.M)
    assert cli("user", "disable", "dr.lee").returncode == 1  # already disabled: said, not repeated
    assert cli("user", "disable", "nobody").returncode == 1
    enabled = cli("user", "enable", "dr.lee")
    assert enabled.returncode == 0 and "Enabled 'dr.lee'" in enabled.stdout
    assert sign_in("dr.lee", PHRASE, url=clinic).username == "dr.lee"
    assert {"disabled dr.lee", "enabled dr.lee"} <= set(audit_details(clinic))


def test_reset_password_prints_a_temporary_password_once(clinic):
    add(BOSS)
    add("dr.lee", "clinician")
    reset = cli("user", "reset-password", "dr.lee")
    assert reset.returncode == 0, reset.stderr
    temporary = reset.stdout.strip().splitlines()[-1].strip()
    assert "shown once" in reset.stdout and len(temporary) >= 10
    assert sign_in("dr.lee", temporary, url=clinic).must_change_password
    assert "must-change-password" in cli("user", "list").stdout
    assert temporary not in " ".join(audit_details(clinic))


def test_demo_passwords_are_printed_only_by_the_run_that_made_them_and_removed_in_one_step(clinic):
    first = cli("demo", "--limit", "1", "--no-photos", "--if-empty")
    assert first.returncode == 0, first.stderr
    passwords = dict(re.findall(r"^\s+(demo\.\w+)\s+\w+\s+password: (\S+)", first.stdout, re.M))
    assert sorted(passwords) == ["demo.admin", "demo.clinician", "demo.patient"]
    credentials = Path(os.environ["TRACKER_DATA_DIR"]) / "demo-accounts.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600

    later = cli("demo", "--if-empty")  # what every later `make run` does
    assert later.returncode == 0, later.stderr
    assert not [p for p in passwords.values() if p in later.stdout]
    assert str(credentials) in later.stdout

    refused = cli("user", "remove-demo")  # demo.admin is the only admin: create a real one first
    assert refused.returncode == 1 and "last enabled administrator" in refused.stderr
    add(BOSS)
    removed = cli("user", "remove-demo")
    assert removed.returncode == 0, removed.stderr
    assert "demo.admin, demo.clinician, demo.patient" in removed.stdout
    assert not credentials.exists()
    with transaction(clinic) as session:
        assert list(session.scalars(select(models.User.username))) == [BOSS]
    quiet = cli("demo", "--if-empty")  # removed demo accounts stay removed; nothing to say
    assert quiet.returncode == 0 and quiet.stdout.strip() == ""
    with transaction(clinic) as session:
        assert list(session.scalars(select(models.User.username))) == [BOSS]
    assert any(d.startswith("removed the demo accounts") for d in audit_details(clinic))
    assert cli("user", "remove-demo").stdout.strip() == "There are no demo accounts."
